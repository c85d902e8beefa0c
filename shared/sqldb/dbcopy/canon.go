package dbcopy

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"math/bits"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// kind is how a column's values are converted on their way to PostgreSQL
// and rendered for the checksums; it comes from the target column's type,
// so both sides of a comparison render the same way.
type kind int

const (
	kText kind = iota
	kChar      // character(n): PostgreSQL pads with spaces, MySQL strips them
	kBool
	kInt
	kFloat
	kNumeric
	kBytes
	kTime
	kDate
	kJSON
	kUUID
)

func kindOf(dataType, udt string) kind {
	switch dataType {
	case "boolean":
		return kBool
	case "smallint", "integer", "bigint":
		return kInt
	case "real", "double precision":
		return kFloat
	case "numeric":
		return kNumeric
	case "bytea":
		return kBytes
	case "timestamp with time zone", "timestamp without time zone":
		return kTime
	case "date":
		return kDate
	case "json", "jsonb":
		return kJSON
	case "uuid":
		return kUUID
	case "character":
		return kChar
	}
	_ = udt
	return kText
}

// timeLayouts are the text forms SQLite databases hold times in when the
// driver hands them back as text.
var timeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02 15:04:05.999999999-07:00",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02 15:04",
	"2006-01-02",
}

// normalize turns a value as any driver returns it into the value inserted
// into PostgreSQL and rendered for the checksums: the canonical Go value of
// the column's kind. See docs/moving-to-postgres.md for the rules.
func normalize(v any, k kind) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch k {
	case kBool:
		switch x := v.(type) {
		case bool:
			return x, nil
		case int64:
			return x != 0, nil
		case []byte:
			return parseBool(string(x))
		case string:
			return parseBool(x)
		}
	case kInt:
		switch x := v.(type) {
		case int64:
			return x, nil
		case int32:
			return int64(x), nil
		case uint64:
			if x > math.MaxInt64 {
				return nil, fmt.Errorf("%d does not fit a bigint", x)
			}
			return int64(x), nil
		case bool:
			if x {
				return int64(1), nil
			}
			return int64(0), nil
		case float64:
			if x != math.Trunc(x) {
				return nil, fmt.Errorf("%v is not an integer", x)
			}
			return int64(x), nil
		case []byte:
			return strconv.ParseInt(string(x), 10, 64)
		case string:
			return strconv.ParseInt(x, 10, 64)
		}
	case kFloat:
		switch x := v.(type) {
		case float64:
			return x, nil
		case float32:
			return float64(x), nil
		case int64:
			return float64(x), nil
		case []byte:
			return strconv.ParseFloat(string(x), 64)
		case string:
			return strconv.ParseFloat(x, 64)
		}
	case kNumeric:
		var s string
		switch x := v.(type) {
		case []byte:
			s = string(x)
		case string:
			s = x
		case int64:
			s = strconv.FormatInt(x, 10)
		case float64:
			s = strconv.FormatFloat(x, 'f', -1, 64)
		default:
			return nil, fmt.Errorf("a %T is not a number", v)
		}
		return canonicalDecimal(s)
	case kText, kChar:
		var s string
		switch x := v.(type) {
		case string:
			s = x
		case []byte:
			s = string(x)
		case int64:
			s = strconv.FormatInt(x, 10)
		case float64:
			s = strconv.FormatFloat(x, 'g', -1, 64)
		case bool:
			s = strconv.FormatBool(x)
		case time.Time:
			s = x.UTC().Format(time.RFC3339Nano)
		default:
			return nil, fmt.Errorf("a %T is not text", v)
		}
		if !utf8.ValidString(s) {
			return nil, fmt.Errorf("text is not valid UTF-8")
		}
		if strings.IndexByte(s, 0) >= 0 {
			return nil, fmt.Errorf("text holds a NUL character, which PostgreSQL text cannot")
		}
		if k == kChar {
			s = strings.TrimRight(s, " ")
		}
		return s, nil
	case kUUID:
		switch x := v.(type) {
		case string:
			return strings.ToLower(x), nil
		case []byte:
			if len(x) == 16 {
				return formatUUID(x), nil
			}
			return strings.ToLower(string(x)), nil
		case [16]byte:
			return formatUUID(x[:]), nil
		}
	case kBytes:
		switch x := v.(type) {
		case []byte:
			// A driver may hand an empty value as a nil slice, which pgx
			// would write as NULL.
			return append([]byte{}, x...), nil
		case string:
			return append([]byte{}, x...), nil
		}
	case kTime:
		t, err := asTime(v)
		if err != nil {
			return nil, err
		}
		// PostgreSQL keeps microseconds and would round finer digits;
		// truncating here makes the copy and the comparison agree.
		return t.UTC().Truncate(time.Microsecond), nil
	case kDate:
		t, err := asTime(v)
		if err != nil {
			return nil, err
		}
		return t.Format(time.DateOnly), nil
	case kJSON:
		var b []byte
		switch x := v.(type) {
		case []byte:
			b = x
		case string:
			b = []byte(x)
		default:
			return nil, fmt.Errorf("a %T is not JSON text", v)
		}
		if !json.Valid(b) {
			return nil, fmt.Errorf("text is not valid JSON")
		}
		return string(b), nil
	}
	return nil, fmt.Errorf("cannot convert a %T", v)
}

func parseBool(s string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "1", "t", "true":
		return true, nil
	case "0", "f", "false":
		return false, nil
	}
	return false, fmt.Errorf("%q is not a boolean", s)
}

func asTime(v any) (time.Time, error) {
	var s string
	switch x := v.(type) {
	case time.Time:
		return x, nil
	case []byte:
		s = string(x)
	case string:
		s = x
	default:
		return time.Time{}, fmt.Errorf("a %T is not a time", v)
	}
	for _, layout := range timeLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a time", s)
}

// canonicalDecimal drops a decimal's trailing fractional zeros, so 12.50
// from a DECIMAL(10,2) and 12.5 compare equal.
func canonicalDecimal(s string) (string, error) {
	s = strings.TrimSpace(s)
	if _, err := strconv.ParseFloat(s, 64); err != nil {
		return "", fmt.Errorf("%q is not a number", s)
	}
	if strings.Contains(s, ".") && !strings.ContainsAny(s, "eE") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	if s == "-0" || s == "" {
		s = "0"
	}
	return s, nil
}

func formatUUID(b []byte) string {
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// render is the canonical text of a normalized value; NULL has its own tag,
// so it never equals an empty string.
func render(v any, k kind) (string, error) {
	if v == nil {
		return "N", nil
	}
	switch x := v.(type) {
	case bool:
		return "b" + strconv.FormatBool(x), nil
	case int64:
		return "i" + strconv.FormatInt(x, 10), nil
	case float64:
		return "f" + strconv.FormatFloat(x, 'g', -1, 64), nil
	case []byte:
		return "x" + hex.EncodeToString(x), nil
	case time.Time:
		return "t" + x.UTC().Format("2006-01-02T15:04:05.000000Z"), nil
	case string:
		if k == kJSON {
			c, err := canonicalJSON(x)
			return "j" + c, err
		}
		return "s" + x, nil
	}
	return "", fmt.Errorf("cannot render a %T", v)
}

// canonicalJSON re-encodes JSON with sorted keys and no spaces, numbers
// kept as written: jsonb reorders keys and respaces what MySQL kept as text.
func canonicalJSON(s string) (string, error) {
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return "", fmt.Errorf("invalid JSON: %w", err)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("re-encode JSON: %w", err)
	}
	return string(b), nil
}

// rowHash hashes a row's rendered values, each with its column name and
// length so that no two rows render to the same bytes.
func rowHash(names, rendered []string) [32]byte {
	h := sha256.New()
	var n [4]byte
	for i := range names {
		for _, s := range []string{names[i], rendered[i]} {
			binary.BigEndian.PutUint32(n[:], uint32(len(s)))
			h.Write(n[:])
			h.Write([]byte(s))
		}
	}
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// Checksum is the sum modulo 2^256 of the SHA-256 of every row: it does not
// depend on the order rows are read in, and unlike XOR two equal rows do not
// cancel out.
type Checksum [4]uint64

func (c *Checksum) add(h [32]byte) {
	var carry uint64
	for i := 3; i >= 0; i-- {
		c[i], carry = bits.Add64(c[i], binary.BigEndian.Uint64(h[i*8:]), carry)
	}
}

// String is the checksum in hex.
func (c Checksum) String() string {
	var b [32]byte
	for i := range c {
		binary.BigEndian.PutUint64(b[i*8:], c[i])
	}
	return hex.EncodeToString(b[:])
}
