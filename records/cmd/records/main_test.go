package main

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/shared/runtest"
)

// A sweep grace shorter than an upload may take would remove uploads in
// progress: the service refuses to start with one.
func TestSweepGraceShorterThanAnUploadIsRefused(t *testing.T) {
	dir := t.TempDir()
	err := run(context.Background(), []string{"-db-dsn", "sqlite:" + filepath.Join(dir, "r.db"), "-discovery-urls", "",
		"-blob-dir", filepath.Join(dir, "blobs"), "-sweep-grace", "30s"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "-sweep-grace")
}

// A start timeout of zero or less would fail every check of S3, leaving
// document content refused for good: the service refuses to start with one.
func TestS3StartTimeoutMustBePositive(t *testing.T) {
	dir := t.TempDir()
	err := run(context.Background(), []string{"-db-dsn", "sqlite:" + filepath.Join(dir, "r.db"), "-discovery-urls", "",
		"-blob-dir", filepath.Join(dir, "blobs"), "-s3-start-timeout", "0s"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "-s3-start-timeout")
}

// Presigned links name the public endpoint: one a client cannot open (no
// scheme, no host) is refused at start, naming the setting.
func TestS3PublicEndpointMustBeAnAbsoluteURL(t *testing.T) {
	for _, e := range []string{"minio.example.org:9000", "/s3", "ftp://minio.example.org"} {
		dir := t.TempDir()
		err := run(context.Background(), []string{"-db-dsn", "sqlite:" + filepath.Join(dir, "r.db"), "-discovery-urls", "",
			"-blob-store", "s3", "-s3-endpoint", "http://127.0.0.1:1", "-s3-public-endpoint", e})
		require.Error(t, err, e)
		assert.Contains(t, err.Error(), "-s3-public-endpoint", e)
	}
}

// A sweep interval of zero or less would panic the sweeper's ticker once
// the service serves: the service refuses to start with one, naming it.
func TestSweepEveryNotPositiveIsRefused(t *testing.T) {
	for _, every := range []string{"0s", "-1m"} {
		dir := t.TempDir()
		// A free address, so that a start that went on serving would not
		// take the service's port.
		err := run(context.Background(), []string{"-http-addr", runtest.FreeAddr(t), "-db-dsn", "sqlite:" + filepath.Join(dir, "r.db"),
			"-discovery-urls", "", "-blob-dir", filepath.Join(dir, "blobs"), "-sweep-every", every})
		require.Error(t, err, every)
		assert.Contains(t, err.Error(), "-sweep-every", every)
	}
}
