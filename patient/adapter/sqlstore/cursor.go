package sqlstore

import (
	"encoding/base64"
	"encoding/json"
)

// Cursors are the keyset of the last item on a page, as base64url JSON.
// They are opaque to clients; a tampered cursor can only select another
// page of the same query, never widen it.
func encodeCursor(keys []string) string {
	b, _ := json.Marshal(keys)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(c string, keys *[]string) error {
	if len(c) > 1024 {
		return errTooLong
	}
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, keys)
}

type cursorError string

func (e cursorError) Error() string { return string(e) }

const errTooLong = cursorError("cursor too long")
