package brokertest

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

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

// RequireConsumerGrants fails t unless the user consumer of the NATS
// permissions file is allowed every subject its broker publishes to for
// topics (broker.ConsumerGrants): a topic a service starts reading needs
// its durable granted there, or the server refuses it in production.
func RequireConsumerGrants(t testing.TB, consumer string, topics []string) {
	t.Helper()
	b, err := os.ReadFile(PermissionsFile(t))
	if err != nil {
		t.Fatalf("brokertest: %v", err)
	}
	conf := string(b)
	start := strings.Index(conf, "{ user: "+consumer+",")
	if start < 0 {
		t.Fatalf("%s has no user %s", PermissionsFile(t), consumer)
	}
	block := conf[start+1:]
	if end := strings.Index(block, "{ user: "); end >= 0 {
		block = block[:end]
	}
	for _, g := range broker.ConsumerGrants(consumer, topics) {
		if !strings.Contains(block, `"`+g+`"`) {
			t.Errorf("deploy/nats/permissions.conf does not allow user %s to publish to %s", consumer, g)
		}
	}
}
