package main

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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
