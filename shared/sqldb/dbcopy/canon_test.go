package dbcopy

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Values that differ only by how a driver hands them over render the same.
func TestCanonicalRenderingIgnoresDriverRepresentation(t *testing.T) {
	paris := time.FixedZone("CET", 3600)
	for _, tc := range []struct {
		name string
		k    kind
		same []any
	}{
		{"boolean", kBool, []any{true, int64(1), []byte("1"), "t"}},
		{"integer", kInt, []any{int64(42), []byte("42"), uint64(42), "42"}},
		{"time", kTime, []any{
			time.Date(2024, 1, 2, 3, 4, 5, 123456000, time.UTC),
			time.Date(2024, 1, 2, 4, 4, 5, 123456789, paris),
			"2024-01-02 04:04:05.123456+01:00",
			[]byte("2024-01-02T03:04:05.123456Z"),
		}},
		{"date", kDate, []any{time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC), "2024-02-29", []byte("2024-02-29")}},
		{"bytes", kBytes, []any{[]byte{0, 0xff}, string([]byte{0, 0xff})}},
		{"decimal", kNumeric, []any{"12.50", []byte("12.5"), "12.500"}},
		{"json", kJSON, []any{`{"b":1,"a":[1,2.50]}`, []byte(`{ "a": [1, 2.50], "b": 1 }`)}},
		{"char", kChar, []any{"ab  ", []byte("ab")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var want string
			for i, v := range tc.same {
				n, err := normalize(v, tc.k)
				require.NoError(t, err)
				got, err := render(n, tc.k)
				require.NoError(t, err)
				if i == 0 {
					want = got
				}
				assert.Equal(t, want, got, "%T %v", v, v)
			}
		})
	}
}

func TestCanonicalRenderingKeepsRealDifferences(t *testing.T) {
	for _, tc := range []struct {
		name string
		k    kind
		a, b any
	}{
		{"NULL and empty text", kText, nil, ""},
		{"NULL and empty bytes", kBytes, nil, []byte(nil)},
		{"a microsecond", kTime, time.Date(2024, 1, 2, 3, 4, 5, 1000, time.UTC), time.Date(2024, 1, 2, 3, 4, 5, 2000, time.UTC)},
		{"trailing space in text", kText, "ab ", "ab"},
		{"accent", kText, "Zoë", "Zoe"},
		{"JSON number", kJSON, `{"a":1}`, `{"a":1.0}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			na, err := normalize(tc.a, tc.k)
			require.NoError(t, err)
			nb, err := normalize(tc.b, tc.k)
			require.NoError(t, err)
			ra, _ := render(na, tc.k)
			rb, _ := render(nb, tc.k)
			assert.NotEqual(t, ra, rb)
		})
	}
}

func TestConversionErrorsDoNotQuoteTheValue(t *testing.T) {
	_, err := normalize("secret diagnosis", kTime)
	require.Error(t, err)
	assert.NotContains(t, redactValue(err).Error(), "secret")
	_, err = normalize([]byte("secret"), kInt)
	require.Error(t, err)
	assert.NotContains(t, redactValue(err).Error(), "secret")
}
