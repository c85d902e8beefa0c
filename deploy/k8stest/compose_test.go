package k8stest

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// poolSize is the most connections each service opens to MySQL/MariaDB
// (shared/sqldb/sqldb.go, openMySQL: db.SetMaxOpenConns(32), and as many
// kept idle for five minutes).
const poolSize = 32

// mariadbDefaultMaxConnections is MariaDB's max_connections when nothing
// sets it (the docker.io/library/mariadb image sets nothing).
const mariadbDefaultMaxConnections = 151

// TestComposeMariaDBTakesEveryServicesPool: every service of
// docker/docker-compose.yml with a MySQL DSN may hold poolSize connections
// at once; the MariaDB beside them must accept them all, or under load the
// last services to connect get "Error 1040: Too many connections" (503s).
func TestComposeMariaDBTakesEveryServicesPool(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(root, "docker", "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Services map[string]struct {
			Command     []string          `json:"command"`
			Environment map[string]string `json:"environment"`
		} `json:"services"`
	}
	if err := yaml.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	var users []string
	for name, s := range f.Services {
		if strings.HasPrefix(s.Environment["MEDISYNC_DB_DSN"], "mysql://") {
			users = append(users, name)
		}
	}
	maxConn := mariadbDefaultMaxConnections
	for _, arg := range f.Services["mariadb"].Command {
		for _, flag := range []string{"--max-connections=", "--max_connections="} {
			if v, ok := strings.CutPrefix(arg, flag); ok {
				if maxConn, err = strconv.Atoi(v); err != nil {
					t.Fatalf("mariadb %s: %v", arg, err)
				}
			}
		}
	}
	if need := len(users) * poolSize; need > maxConn {
		t.Errorf("%d services on MariaDB (%v) may hold %d connections; the compose MariaDB accepts %d (command %v)",
			len(users), users, need, maxConn, f.Services["mariadb"].Command)
	}
}

// TestComposeRequiresTheSiteValues: compose runs notification on a real mail
// server, so auth's reset page and notification's sender come from
// docker/.env like the secrets, compose refusing to start without them. The
// binaries' defaults (a reset page on localhost, a sender at .local) would
// mail users a link to their own machine, from an address no mail server
// lets the account send as.
func TestComposeRequiresTheSiteValues(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(root, "docker", "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Services map[string]struct {
			Environment map[string]string `json:"environment"`
		} `json:"services"`
	}
	if err := yaml.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	for _, v := range []struct{ service, env string }{
		{"auth", "MEDISYNC_RESET_URL"},
		{"notification", "MEDISYNC_MAIL_FROM"},
	} {
		got := f.Services[v.service].Environment[v.env]
		if !strings.HasPrefix(got, "${"+v.env+":?") {
			t.Errorf("%s: %s is %q, want ${%s:?message}, required from docker/.env", v.service, v.env, got, v.env)
		}
	}
}
