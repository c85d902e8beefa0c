package blobs3

import (
	"bytes"
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
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

// CrashedPut leaves what a Put of key leaves when its process dies between
// two parts: a multipart upload holding one part.
func (s *Store) CrashedPut(ctx context.Context, key string) error {
	created, err := s.c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: &s.cfg.Bucket, Key: &key})
	if err != nil {
		return err
	}
	part := bytes.Repeat([]byte("clinical "), 100)
	_, err = s.c.UploadPart(ctx, &s3.UploadPartInput{Bucket: &s.cfg.Bucket, Key: &key, UploadId: created.UploadId,
		PartNumber: aws.Int32(1), Body: bytes.NewReader(part), ContentLength: aws.Int64(int64(len(part)))})
	return err
}
