package buildinfo

import (
	"runtime/debug"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFillTakesTheVCSStampOnlyForWhatTheLinkerLeftEmpty(t *testing.T) {
	vcs := []debug.BuildSetting{
		{Key: "vcs.revision", Value: "0123456789abcdef0123"},
		{Key: "vcs.time", Value: "2027-03-01T10:00:00Z"},
		{Key: "vcs.modified", Value: "true"},
	}
	got := fill(Info{Version: "dev"}, vcs)
	assert.Equal(t, "0123456789abcdef0123", got.Commit)
	assert.Equal(t, "2027-03-01T10:00:00Z", got.Date)
	assert.True(t, got.Modified)
	assert.Equal(t, "0123456789ab", got.ShortCommit())

	set := fill(Info{Version: "1.4.0", Commit: "feedface", Date: "2027-04-01T00:00:00Z"}, vcs)
	assert.Equal(t, "feedface", set.Commit)
	assert.Equal(t, "2027-04-01T00:00:00Z", set.Date)
	assert.False(t, set.Modified, "a linker-set commit is not marked modified by the stamp")
}

func TestStringNamesEverything(t *testing.T) {
	s := Info{Version: "1.4.0", Commit: "abc", Date: "2027-04-01T00:00:00Z", GoVersion: "go1.26.0", Modified: true}.String("auth")
	assert.Equal(t, "auth 1.4.0 (commit abc+modified, built 2027-04-01T00:00:00Z, go1.26.0)", s)
}

func TestGetNeverLeavesAFieldEmpty(t *testing.T) {
	i := Get()
	for name, v := range map[string]string{"version": i.Version, "commit": i.Commit, "date": i.Date, "go": i.GoVersion} {
		assert.NotEmpty(t, v, name)
	}
}

func TestRegisterExportsOneSeries(t *testing.T) {
	reg := prometheus.NewRegistry()
	i := Info{Version: "1.4.0", Commit: "abc", Date: "d", GoVersion: "go1.26.0"}
	require.NoError(t, Register(reg, i))
	want := `
# HELP medisync_build_info The build of this binary: version, commit and build date as labels; always 1.
# TYPE medisync_build_info gauge
medisync_build_info{commit="abc",date="d",goversion="go1.26.0",version="1.4.0"} 1
`
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(want), "medisync_build_info"))
	assert.Error(t, Register(reg, i), "a second registration is refused")
}
