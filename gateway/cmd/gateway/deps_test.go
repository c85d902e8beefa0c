package main

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The gateway has no database: its binary must not carry the drivers and the
// migration tool the services link through shared/app/appdb.
func TestBinaryLinksNoDatabase(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	require.NoError(t, err, "go list -deps")
	deps := strings.Fields(string(out))
	require.Contains(t, deps, "github.com/medisync/medisync/shared/app", "the listing is the gateway's")
	for _, dep := range deps {
		for _, banned := range []string{
			"modernc.org/sqlite", "github.com/go-sql-driver/mysql", "github.com/jackc/pgx",
			"github.com/pressly/goose", "github.com/medisync/medisync/shared/sqldb",
		} {
			if dep == banned || strings.HasPrefix(dep, banned+"/") {
				t.Errorf("the gateway links %s", dep)
			}
		}
	}
}
