package k8stest

import (
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

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

// exampleEnv reads docker/.env.example, the file a deployer copies to
// docker/.env before `docker compose up`: name to value.
func exampleEnv(t *testing.T) map[string]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "docker", ".env.example"))
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if k, v, ok := strings.Cut(line, "="); ok {
			vars[k] = strings.Trim(v, `"`)
		}
	}
	return vars
}

// fromEnv is the value of a compose setting: ${VAR:?...} or ${VAR:-...}
// read from docker/.env.example, anything else as written.
func fromEnv(t *testing.T, v string) string {
	t.Helper()
	m := regexp.MustCompile(`^\$\{([A-Z0-9_]+)(:[?-][^}]*)?\}$`).FindStringSubmatch(v)
	if m == nil {
		return v
	}
	got, ok := exampleEnv(t)[m[1]]
	if !ok {
		t.Fatalf("%s is not in docker/.env.example", m[1])
	}
	return got
}

// TestComposeDocumentLinksReachClients: records answers a presigned S3 URL
// that the client follows itself, signed for MEDISYNC_S3_PUBLIC_ENDPOINT
// (else MEDISYNC_S3_ENDPOINT). The host it names must be one a client
// outside the compose network reaches: not a compose service's name, and
// on this host a port the object store publishes.
func TestComposeDocumentLinksReachClients(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(root, "docker", "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Services map[string]struct {
			Ports       []string          `json:"ports"`
			Environment map[string]string `json:"environment"`
		} `json:"services"`
	}
	if err := yaml.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	env := f.Services["records"].Environment
	if env["MEDISYNC_BLOB_STORE"] != "s3" {
		t.Skip("records does not use S3 in compose")
	}
	internal, err := url.Parse(fromEnv(t, env["MEDISYNC_S3_ENDPOINT"]))
	if err != nil || internal.Host == "" {
		t.Fatalf("records MEDISYNC_S3_ENDPOINT %q: %v", env["MEDISYNC_S3_ENDPOINT"], err)
	}
	signed := fromEnv(t, env["MEDISYNC_S3_PUBLIC_ENDPOINT"])
	if signed == "" {
		signed = internal.String()
	}
	u, err := url.Parse(signed)
	if err != nil || u.Host == "" {
		t.Fatalf("records signs links for %q: %v", signed, err)
	}
	if _, isService := f.Services[u.Hostname()]; isService {
		t.Fatalf("records signs document links for %s, a name only the compose network resolves: every link is dead for clients", u)
	}
	switch u.Hostname() {
	case "localhost", "127.0.0.1", "::1":
	default:
		return // a public name, served by whatever the operator runs there
	}
	s3svc, isService := f.Services[internal.Hostname()]
	if !isService {
		t.Fatalf("links name %s on this host, but the object store %s is no compose service", u, internal)
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	for _, p := range s3svc.Ports {
		parts := strings.Split(p, ":")
		if len(parts) == 3 && parts[1] == port && parts[2] == internal.Port() {
			return
		}
	}
	t.Errorf("records signs document links for %s, but %s publishes no host port %s to its S3 port %s (ports %v)",
		u, internal.Hostname(), port, internal.Port(), s3svc.Ports)
}

// secretVar names a variable of docker/.env.example that holds a secret.
var secretVar = regexp.MustCompile(`(PASSWORD|TOKEN|SECRET|KEY|USERNAME)S?$`)

// TestComposeExampleEnvHoldsNoSecret: docker/.env.example is published with
// the repository, so a working value in it (an administrator's password
// that passes the policy, a discovery token, a database password) would run
// a clinic on credentials anyone can read. Every secret is left empty, and
// compose requires each (${VAR:?}), so it refuses to start until all are
// set.
func TestComposeExampleEnvHoldsNoSecret(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(root, "docker", "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	compose := string(b)
	secrets := 0
	for name, v := range exampleEnv(t) {
		if !secretVar.MatchString(name) {
			continue
		}
		secrets++
		if v != "" {
			t.Errorf("docker/.env.example: %s=%s, want it empty: a value published with the repository is no secret", name, v)
		}
		if !strings.Contains(compose, "${"+name+":?") {
			t.Errorf("docker-compose.yml does not require %s as ${%s:?message}: an empty value would start", name, name)
		}
		for _, lax := range []string{"${" + name + "}", "${" + name + ":-", "${" + name + "-", "${" + name + "?"} {
			if strings.Contains(compose, lax) {
				t.Errorf("docker-compose.yml reads %s as %s...: an empty value would start", name, lax)
			}
		}
	}
	if secrets == 0 {
		t.Fatal("docker/.env.example lists no secret")
	}
}

// composeShutdown is the -shutdown-timeout of a medisync service that sets
// none (shared/config).
const composeShutdown = 15 * time.Second

// composeInfraStop is how long the servers beside the services need to
// stop cleanly, past Docker's 10 s: MariaDB writes its dirty pages out,
// NATS closes its JetStream stores.
var composeInfraStop = map[string]time.Duration{"mariadb": 30 * time.Second, "nats": 15 * time.Second}

// TestComposeStopOutlastsTheDrain: Docker kills a container 10 s after
// asking it to stop unless stop_grace_period says otherwise. Each medisync
// service drains for its -shutdown-timeout (15 s unless
// MEDISYNC_SHUTDOWN_TIMEOUT says otherwise), and the database and broker
// need their own time: each gets a grace longer than that, or it is killed
// in the middle of its drain.
func TestComposeStopOutlastsTheDrain(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(root, "docker", "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Services map[string]struct {
			Build *struct {
				Args map[string]string `json:"args"`
			} `json:"build"`
			StopGracePeriod string            `json:"stop_grace_period"`
			Environment     map[string]string `json:"environment"`
		} `json:"services"`
	}
	if err := yaml.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	services := 0
	for name, s := range f.Services {
		need, ok := composeInfraStop[name]
		if s.Build != nil && s.Build.Args["SERVICE"] != "" {
			services++
			need, ok = composeShutdown, true
			if v := s.Environment["MEDISYNC_SHUTDOWN_TIMEOUT"]; v != "" {
				if need, err = time.ParseDuration(v); err != nil {
					t.Fatalf("%s: MEDISYNC_SHUTDOWN_TIMEOUT %q: %v", name, v, err)
				}
			}
		}
		if !ok {
			continue
		}
		grace := 10 * time.Second // Docker's default
		if s.StopGracePeriod != "" {
			if grace, err = time.ParseDuration(s.StopGracePeriod); err != nil {
				t.Fatalf("%s: stop_grace_period %q: %v", name, s.StopGracePeriod, err)
			}
		}
		if grace <= need {
			t.Errorf("%s: stop_grace_period %s, not above the %s it needs to stop: Docker kills it mid-drain", name, grace, need)
		}
	}
	if services != len(servicesList(t)) {
		t.Errorf("%d medisync services built in docker-compose.yml, %d in services.txt", services, len(servicesList(t)))
	}
}
