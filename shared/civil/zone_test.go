package civil

import (
	// Zones load the same with or without a system time zone database.
	_ "time/tzdata"

	"archive/zip"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLoadZone(t *testing.T) {
	for _, ok := range []string{"America/New_York", "Asia/Kolkata", "UTC", "Europe/Berlin", "Etc/GMT+5", "EST5EDT",
		"America/Argentina/Buenos_Aires", "America/Port-au-Prince", "Australia/Lord_Howe"} {
		_, err := LoadZone(ok)
		assert.NoError(t, err, ok)
	}
	for _, bad := range []string{"", "Local", "Nowhere/Town", "../etc/passwd", "/etc/localtime", "EST5EDT\\x",
		"localtime", "posixrules", "Factory", "right/Europe/Berlin", "posix/Europe/Berlin", "zone.tab", "Europe//Berlin",
		"Europe/Berlin/", "europe/berlin", "Europe/berlin"} {
		_, err := LoadZone(bad)
		assert.Error(t, err, bad)
	}
}

// Every zone of Go's copy of the time zone database, the one time/tzdata
// embeds, is of the form LoadZone accepts, but for the placeholder Factory.
func TestEveryDatabaseZoneHasTheForm(t *testing.T) {
	goroot, err := exec.Command("go", "env", "GOROOT").Output()
	require.NoError(t, err)
	zr, err := zip.OpenReader(filepath.Join(strings.TrimSpace(string(goroot)), "lib", "time", "zoneinfo.zip"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = zr.Close() })
	require.Greater(t, len(zr.File), 300)
	for _, f := range zr.File {
		if f.Name != "Factory" {
			assert.True(t, zoneName.MatchString(f.Name), f.Name)
		}
	}
}

// The zone to write times in is the zone LoadZone loads, else UTC: never
// the host's own.
func TestZoneOrUTC(t *testing.T) {
	assert.Equal(t, "Europe/Berlin", ZoneOrUTC("Europe/Berlin").String())
	for _, bad := range []string{"", "Local", "localtime", "Factory", "posixrules", "Mars/Olympus", "../etc/passwd"} {
		assert.Same(t, time.UTC, ZoneOrUTC(bad), bad)
	}
}
