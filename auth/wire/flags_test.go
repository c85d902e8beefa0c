package wire_test

import (
	"flag"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/auth/wire"
)

func parseFlags(t *testing.T, args ...string) (wire.Config, error) {
	t.Helper()
	f := wire.NewFlags()
	fs := flag.NewFlagSet("auth", flag.ContinueOnError)
	f.Register(fs)
	require.NoError(t, fs.Parse(args))
	return f.Config()
}

// argon2id needs 8 KiB of memory per lane; hashes made with less are ones
// the parser refuses, so every login would fail. Such a setting stops the
// start instead.
func TestFlagsRefuseHashParametersTheParserRefuses(t *testing.T) {
	_, err := parseFlags(t, "-hash-memory-kib", "16", "-hash-iterations", "1", "-hash-parallelism", "4")
	assert.ErrorContains(t, err, "8 KiB per degree of parallelism")

	cfg, err := parseFlags(t, "-hash-memory-kib", "32", "-hash-iterations", "1", "-hash-parallelism", "4")
	require.NoError(t, err, "8 KiB per lane is enough")
	assert.Equal(t, uint32(32), cfg.Hash.Params.MemoryKiB)
}

// Reset links are the page with ?token= appended: a page address that is
// not absolute or has a query or fragment of its own stops the start
// rather than breaking every link mailed.
func TestFlagsRefuseAResetURLLinksCannotBeBuiltOn(t *testing.T) {
	for _, bad := range []string{"", "/reset", "ftp://clinic.example/reset", "https://clinic.example/reset?lang=en",
		"https://clinic.example/reset?", "https://clinic.example/reset#top", "https:///reset", "http://[::1"} {
		_, err := parseFlags(t, "-reset-url", bad)
		assert.ErrorContains(t, err, "reset-url", bad)
	}
	cfg, err := parseFlags(t, "-reset-url", "https://clinic.example/app/reset-password")
	require.NoError(t, err)
	assert.Equal(t, "https://clinic.example/app/reset-password", cfg.ResetURL)
}
