package k8stest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// checkCompose runs scripts/check-compose.sh (which .ci/run runs) on the
// compose file with from replaced by to, and answers its output and
// whether it passed.
func checkCompose(t *testing.T, from, to string) (string, bool) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "docker", "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), from) {
		t.Fatalf("docker-compose.yml no longer holds %s", from)
	}
	path := filepath.Join(t.TempDir(), "docker-compose.yml")
	if err := os.WriteFile(path, []byte(strings.Replace(string(b), from, to, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("bash", filepath.Join(abs, "scripts", "check-compose.sh"), path,
		filepath.Join(abs, "docker", ".env.example")).CombinedOutput()
	return string(out), err == nil
}

// TestCheckComposeCatchesAWrittenServiceToken: the check promises that every
// password, token or key, alone or inside a DSN, comes from the environment
// as ${VAR:?message}. That holds for lists too: discovery's per-service
// write tokens (MEDISYNC_DISCOVERY_SERVICE_TOKENS, auth=...,doctor=...)
// decide who may register as auth, and so receive logins; one written in
// the file fails the check, wherever it stands in the list.
func TestCheckComposeCatchesAWrittenServiceToken(t *testing.T) {
	for _, c := range []struct{ from, to string }{
		{`"auth=${MEDISYNC_AUTH_DISCOVERY_TOKEN:?set in docker/.env}`, `"auth=s3cr3t-written-in-git`},
		{`gateway=${MEDISYNC_GATEWAY_DISCOVERY_TOKEN:?set in docker/.env}"`, `gateway=s3cr3t-written-in-git"`},
		{`gateway=${MEDISYNC_GATEWAY_DISCOVERY_TOKEN:?set in docker/.env}"`, `gateway=${MEDISYNC_GATEWAY_DISCOVERY_TOKEN:-s3cr3t}"`},
	} {
		if out, ok := checkCompose(t, c.from, c.to); ok {
			t.Errorf("check-compose.sh passed a compose file with %s in MEDISYNC_DISCOVERY_SERVICE_TOKENS:\n%s", c.to, out)
		}
	}
	if out, ok := checkCompose(t, "MEDISYNC_LOG_FORMAT: json", "MEDISYNC_LOG_FORMAT: json"); !ok {
		t.Errorf("check-compose.sh refuses docker-compose.yml as it is:\n%s", out)
	}
}

// TestCheckComposeCatchesASecretInAURL: a webhook URL (which holds its
// token) and a broker URL carrying a NATS token (nats://<token>@nats:4222,
// as deploy/README documents) are secrets too, refused when written in.
func TestCheckComposeCatchesASecretInAURL(t *testing.T) {
	for _, c := range []struct{ from, to string }{
		{`MEDISYNC_ALERT_WEBHOOK_URL: ${MEDISYNC_ALERT_WEBHOOK_URL:?set the webhook that receives the alerts in docker/.env}`,
			`MEDISYNC_ALERT_WEBHOOK_URL: https://hooks.slack.com/services/T0000/B0000/s3cr3tWrittenInGit`},
		{`MEDISYNC_BROKER_URL: nats://nats:4222`, `MEDISYNC_BROKER_URL: nats://s3cr3t-written-in-git@nats:4222`},
	} {
		if out, ok := checkCompose(t, c.from, c.to); ok {
			t.Errorf("check-compose.sh passed a compose file with %s:\n%s", c.to, out)
		}
	}
}
