package blobs3

import (
	"bytes"
	"context"
)

// PutSigned stores body with sum as the payload hash the request signs.
func (s *Store) PutSigned(ctx context.Context, key string, body []byte, sum string) error {
	in := s.putInput(key)
	in.Body = bytes.NewReader(body)
	_, err := s.c.PutObject(ctx, in, withPayloadHash(sum))
	return err
}

// Fill is fill, for tests of how an upload's reader ends.
var Fill = fill
