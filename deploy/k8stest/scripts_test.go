package k8stest

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// upScripts are the scripts that install, start and prepare a local server.
var upScripts = []string{"mariadb-up.sh", "postgres-up.sh", "nats-up.sh", "rabbitmq-up.sh", "redis-up.sh", "s3-up.sh"}

// TestUpScriptsTakeTheirLockFirst: CI, make run, the load scripts and every
// developer's test run call the scripts/*-up.sh, at times together; each
// takes its lock (flock) before it installs, builds or starts anything, so
// that a second run waits for the first.
func TestUpScriptsTakeTheirLockFirst(t *testing.T) {
	acts := []string{"apt-get ", "go build", "go install", "setsid ", "start-stop-daemon", "pg_ctl", "redis-server ", "rabbitmq-server ", "psql", "mysql "}
	for _, name := range upScripts {
		b, err := os.ReadFile(filepath.Join(root, "scripts", name))
		if err != nil {
			t.Fatal(err)
		}
		lock, first := -1, -1
		for i, line := range strings.Split(string(b), "\n") {
			line = strings.TrimSpace(line)
			if strings.HasPrefix(line, "#") {
				continue
			}
			if lock < 0 && strings.Contains(line, "flock -o ") {
				lock = i
			}
			for _, a := range acts {
				if first < 0 && strings.Contains(line, a) {
					first = i
				}
			}
		}
		switch {
		case lock < 0:
			t.Errorf("%s takes no lock (flock -o): two runs at once race", name)
		case first >= 0 && first < lock:
			t.Errorf("%s: line %d acts before the lock is taken on line %d", name, first+1, lock+1)
		}
	}
}

// TestPostgresUpIsSafeConcurrently: scripts/postgres-up.sh says "Safe to run
// again, and with the cluster already running: every step is idempotent",
// and CI, make run and every developer's test run call it. Run it three
// times at once against the already prepared server: every run must
// succeed (nothing is left to create, only grants to repeat).
func TestPostgresUpIsSafeConcurrently(t *testing.T) {
	if testing.Short() {
		t.Skip("runs scripts/postgres-up.sh four times (about 10 s)")
	}
	if os.Geteuid() != 0 {
		t.Skip("postgres-up.sh runs as root")
	}
	if c, err := net.DialTimeout("tcp", "127.0.0.1:5432", time.Second); err != nil {
		t.Skip("no PostgreSQL on 127.0.0.1:5432 (scripts/postgres-up.sh)")
	} else {
		c.Close()
	}
	// The script stops another cluster that holds the port: only the one
	// it runs itself may answer here.
	if _, err := os.Stat("/var/lib/medisync-postgres/data/postmaster.pid"); err != nil {
		t.Skip("the PostgreSQL on 127.0.0.1:5432 is not the one scripts/postgres-up.sh runs")
	}
	script := filepath.Join(root, "scripts", "postgres-up.sh")
	// Prepared once, alone.
	if out, err := exec.Command("bash", script).CombinedOutput(); err != nil {
		t.Fatalf("postgres-up.sh alone: %v\n%s", err, out)
	}
	var wg sync.WaitGroup
	errs := make([]string, 3)
	for i := range errs {
		wg.Go(func() {
			var out bytes.Buffer
			cmd := exec.Command("bash", script)
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Run(); err != nil {
				errs[i] = fmt.Sprintf("%v: %s", err, bytes.TrimSpace(out.Bytes()))
			}
		})
	}
	wg.Wait()
	for i, e := range errs {
		if e != "" {
			t.Errorf("run %d of 3 at once: postgres-up.sh failed: %s", i+1, e)
		}
	}
	// Run again, the script must not give back what the migrations took
	// from the serving roles on the append-only tables.
	for db, role := range map[string]string{"medisync_patient_db": "medisync_patient",
		"medisync_records_db": "medisync_records", "medisync_appointment_db": "medisync_appointment"} {
		q := `SELECT coalesce(string_agg(c.relname, ','), '') FROM pg_class c
			WHERE c.relname IN ('audit_events', 'history_revisions', 'encounter_revisions', 'encounter_addenda')
			AND c.relnamespace = 'public'::regnamespace
			AND (has_table_privilege('` + role + `', c.oid, 'UPDATE') OR has_table_privilege('` + role + `', c.oid, 'DELETE'))`
		out, err := exec.Command("runuser", "-u", "postgres", "--", "psql", "-X", "-At",
			"-h", "/var/lib/medisync-postgres/run", "-d", db, "-c", q).CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v: %s", db, err, out)
		}
		assert.Empty(t, string(bytes.TrimSpace(out)), "%s may change or delete rows of these append-only tables of %s", role, db)
	}
}
