package brokertest

import (
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/medisync/medisync/shared/broker"
)

// PermissionsFile is deploy/nats/permissions.conf of this repository.
func PermissionsFile(t testing.TB) string {
	t.Helper()
	_, here, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("brokertest: cannot locate its own source")
	}
	return filepath.Join(filepath.Dir(here), "..", "..", "..", "deploy", "nats", "permissions.conf")
}

// passwordVar is a password the file takes from the environment.
var passwordVar = regexp.MustCompile(`password:\s*\$(\w+)`)

// PermissionsFileUsers reads the users of the permissions file as the
// server does, each password variable set to "<variable>-secret".
func PermissionsFileUsers(t *testing.T) []*server.User {
	t.Helper()
	path := PermissionsFile(t)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("brokertest: %v", err)
	}
	for _, m := range passwordVar.FindAllStringSubmatch(string(b), -1) {
		t.Setenv(m[1], m[1]+"-secret")
	}
	opts, err := server.ProcessConfigFile(path)
	if err != nil {
		t.Fatalf("brokertest: %s: %v", path, err)
	}
	return opts.Users
}

// RequireConsumerGrants fails t unless the user consumer of the NATS
// permissions file may publish and subscribe to every subject its broker
// uses for topics (broker.ConsumerGrants): a topic a service starts
// reading needs its durable granted there, or a server run with the file
// refuses it.
func RequireConsumerGrants(t *testing.T, consumer string, topics []string) {
	t.Helper()
	var user *server.User
	for _, u := range PermissionsFileUsers(t) {
		if u.Username == consumer {
			user = u
		}
	}
	if user == nil || user.Permissions == nil {
		t.Fatalf("deploy/nats/permissions.conf has no user %s with permissions", consumer)
	}
	publish, subscribe := broker.ConsumerGrants(consumer, topics)
	for _, s := range publish {
		if !allowed(user.Permissions.Publish, s) {
			t.Errorf("deploy/nats/permissions.conf does not let user %s publish to %s", consumer, s)
		}
	}
	for _, s := range subscribe {
		if !allowed(user.Permissions.Subscribe, s) {
			t.Errorf("deploy/nats/permissions.conf does not let user %s subscribe to %s", consumer, s)
		}
	}
}

// allowed reports whether p lets subject through, as the server judges:
// some allow holds all of it, and no deny touches it. An entry naming a
// queue group ("subject group") is judged by the server against the
// subscription's group too, which this does not know: it lets nothing
// through, so that such a file is looked at rather than passed.
func allowed(p *server.SubjectPermission, subject string) bool {
	if p == nil {
		return true
	}
	for _, e := range append(slices.Clone(p.Allow), p.Deny...) {
		if strings.ContainsAny(e, " \t") {
			return false
		}
	}
	for _, d := range p.Deny {
		if server.SubjectsCollide(subject, d) {
			return false
		}
	}
	if len(p.Allow) == 0 {
		return true
	}
	for _, a := range p.Allow {
		if server.SubjectMatchesFilter(subject, a) {
			return true
		}
	}
	return false
}
