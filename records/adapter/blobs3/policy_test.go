package blobs3_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/medisync/medisync/records/adapter/blobs3"
	"github.com/medisync/medisync/records/service"
)

// The account scripts/s3-up.sh makes for these tests: an ordinary user of
// the S3 server, allowed nothing until a bucket policy says so.
func limitedCredentials() (access, secret string) {
	if a := os.Getenv("MEDISYNC_TEST_S3_LIMITED_ACCESS_KEY"); a != "" {
		return a, os.Getenv("MEDISYNC_TEST_S3_LIMITED_SECRET_KEY")
	}
	return "medisync-records", "medisync-records-secret"
}

// bucketPolicy turns records/s3-policy.json, the permissions an operator
// gives the service's credentials, into a policy of bucket, naming principal
// and allowing exactly the same actions on the same resources.
func bucketPolicy(t *testing.T, bucket, principal string) string {
	t.Helper()
	raw, err := os.ReadFile("../../s3-policy.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Version   string
		Statement []map[string]any
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("s3-policy.json: %v", err)
	}
	const arn = "arn:aws:s3:::medisync-records"
	for _, st := range doc.Statement {
		res, _ := st["Resource"].([]any)
		for i, r := range res {
			s, _ := r.(string)
			if !strings.HasPrefix(s, arn) {
				t.Fatalf("s3-policy.json names %q, outside the bucket %s", s, arn)
			}
			res[i] = "arn:aws:s3:::" + bucket + strings.TrimPrefix(s, arn)
		}
		st["Principal"] = map[string]any{"AWS": []string{principal}}
	}
	out, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// The permissions records/README.md tells operators to give the service
// (records/s3-policy.json) are enough for everything the store does, and
// the server does hold it to them: nothing before the policy, nothing
// outside the documents' prefix after it.
func TestLeastPrivilegePolicy(t *testing.T) {
	root := config(t)
	ctx := context.Background()
	admin := blobs3.New(root, &http.Client{Timeout: 30 * time.Second})
	if err := admin.EnsureBucket(ctx); err != nil {
		t.Fatal(err)
	}
	rawRoot := s3.New(s3.Options{
		Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider(root.AccessKey, root.SecretKey, ""),
		BaseEndpoint: aws.String(root.Endpoint), UsePathStyle: true,
	})
	t.Cleanup(func() {
		_, _ = rawRoot.DeleteBucketPolicy(ctx, &s3.DeleteBucketPolicyInput{Bucket: &root.Bucket})
		infos, _ := admin.List(ctx, "", "", 1000)
		for _, in := range infos {
			_ = admin.Delete(ctx, in.Key)
		}
		_ = admin.DeleteBucket(ctx)
	})

	limited := root
	limited.AccessKey, limited.SecretKey = limitedCredentials()
	limited.PartSize, limited.PartBuffers = 5<<20, 2
	s := blobs3.New(limited, &http.Client{Timeout: 30 * time.Second})

	// Before the policy the account may do nothing in the bucket.
	_, err := s.List(ctx, "documents/", "", 10)
	switch code := apiCode(err); {
	case code == "InvalidAccessKeyId":
		if os.Getenv("CI") == "true" {
			t.Fatalf("the S3 server has no account %s (run scripts/s3-up.sh): %v", limited.AccessKey, err)
		}
		t.Skipf("the S3 server has no account %s: restart it with scripts/s3-up.sh", limited.AccessKey)
	case code != "AccessDenied":
		t.Fatalf("listing without a policy = %v; want AccessDenied", err)
	}

	policy := bucketPolicy(t, root.Bucket, limited.AccessKey)
	if _, err := rawRoot.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: &root.Bucket, Policy: &policy}); err != nil {
		t.Fatalf("put bucket policy: %v", err)
	}

	// Start: the bucket is found (records makes it only when it is missing).
	if err := s.EnsureBucket(ctx); err != nil {
		t.Fatalf("EnsureBucket: %v", err)
	}
	// One part, then a multipart upload.
	small := []byte("%PDF-1.7 a discharge letter")
	if _, err := s.Put(ctx, "documents/small", bytes.NewReader(small), nil); err != nil {
		t.Fatalf("Put in one part: %v", err)
	}
	large := bytes.Repeat([]byte("x-ray "), (6<<20)/6)
	if _, err := s.Put(ctx, "documents/large", bytes.NewReader(large), nil); err != nil {
		t.Fatalf("Put in parts: %v", err)
	}
	// Streamed through the service, from the start and from an offset.
	b, err := s.Open(ctx, "documents/large")
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if _, err := b.Seek(5<<20, io.SeekStart); err != nil {
		t.Fatalf("Seek: %v", err)
	}
	got, err := io.ReadAll(b)
	_ = b.Close()
	if err != nil || !bytes.Equal(got, large[5<<20:]) {
		t.Fatalf("ranged read: %d bytes, %v", len(got), err)
	}
	// A link, then a plain GET of it.
	u, err := s.PresignGet(ctx, "documents/small", time.Minute, "application/pdf", "letter.pdf")
	if err != nil {
		t.Fatal(err)
	}
	res, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	_ = res.Body.Close()
	if res.StatusCode != http.StatusOK || !bytes.Equal(body, small) {
		t.Fatalf("presigned GET = %d %q", res.StatusCode, body)
	}
	// The sweeper: list, abort a crashed upload, remove an orphan.
	if err := s.CrashedPut(ctx, "documents/crashed"); err != nil {
		t.Fatalf("start a multipart upload: %v", err)
	}
	if n, err := s.AbortIncomplete(ctx, service.BlobPrefix, time.Now().Add(time.Minute)); err != nil || n != 1 {
		t.Fatalf("AbortIncomplete = %d, %v; want the crashed upload", n, err)
	}
	infos, err := s.List(ctx, service.BlobPrefix, "", 10)
	if err != nil || len(infos) != 2 {
		t.Fatalf("List = %+v, %v; want the two documents", infos, err)
	}
	if err := s.Delete(ctx, "documents/small"); err != nil {
		t.Fatalf("Delete: %v", err)
	}

	// Outside the documents' prefix nothing is written, read or removed,
	// nor anything done to the bucket itself beyond listing it.
	if _, err := s.Put(ctx, "other/x", bytes.NewReader(small), nil); apiCode(err) != "AccessDenied" {
		t.Errorf("Put outside documents/ = %v; want AccessDenied", err)
	}
	if _, err := admin.Put(ctx, "other/y", bytes.NewReader(small), nil); err != nil {
		t.Fatal(err)
	}
	if b, err := s.Open(ctx, "other/y"); apiCode(err) != "AccessDenied" {
		if b != nil {
			_ = b.Close()
		}
		t.Errorf("Open outside documents/ = %v; want AccessDenied", err)
	}
	if err := s.Delete(ctx, "other/y"); apiCode(err) != "AccessDenied" {
		t.Errorf("Delete outside documents/ = %v; want AccessDenied", err)
	}
	if err := s.DeleteBucket(ctx); apiCode(err) != "AccessDenied" {
		t.Errorf("DeleteBucket = %v; want AccessDenied", err)
	}
}
