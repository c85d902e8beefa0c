package sqlstore

import (
	"encoding/base64"
	"encoding/json"

	"github.com/google/uuid"
)

// Cursors are the keyset of the last item on a page, as base64url JSON.
// They are opaque to clients; a tampered cursor can only select another
// page of the same query, never widen it.
func encodeCursor(keys []string) string {
	b, _ := json.Marshal(keys)
	return base64.RawURLEncoding.EncodeToString(b)
}

// decodeCursor reads a cursor of exactly n keys whose last one is a row id.
// The id must be a canonical UUID: MySQL refuses to compare the ASCII id
// columns with a value outside ASCII, which would turn a tampered cursor
// into a server error instead of a bad request.
func decodeCursor(c string, n int) ([]string, error) {
	if len(c) > 1024 {
		return nil, errTooLong
	}
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return nil, err
	}
	var keys []string
	if err := json.Unmarshal(b, &keys); err != nil {
		return nil, err
	}
	if len(keys) != n {
		return nil, errMalformed
	}
	if id := keys[n-1]; len(id) != 36 || uuid.Validate(id) != nil {
		return nil, errMalformed
	}
	return keys, nil
}

type cursorError string

func (e cursorError) Error() string { return string(e) }

const (
	errTooLong   = cursorError("cursor too long")
	errMalformed = cursorError("cursor malformed")
)
