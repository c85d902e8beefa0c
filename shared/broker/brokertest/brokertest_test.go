package brokertest_test

import (
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/medisync/medisync/shared/broker/brokertest"
)

// A server with the permissions file's users lets each in with its URL and
// keeps what it refuses them, for the test's end to judge.
func TestEmbeddedWithPermissionsKeepsItsRefusals(t *testing.T) {
	s := brokertest.EmbeddedWithPermissions(t)
	nc, err := nats.Connect(s.UserURL("patient"), nats.ErrorHandler(func(*nats.Conn, *nats.Subscription, error) {}))
	if err != nil {
		t.Fatalf("patient's URL: %v", err)
	}
	defer nc.Close()
	if err := nc.Publish("medisync.auth.user_registered", []byte("{}")); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	var got []string
	for deadline := time.Now().Add(5 * time.Second); len(got) == 0 && time.Now().Before(deadline); {
		got = s.TakeViolations()
		time.Sleep(10 * time.Millisecond)
	}
	if len(got) != 1 || !strings.Contains(got[0], `Publish Violation - Subject "medisync.auth.user_registered"`) {
		t.Fatalf("refusals = %q", got)
	}
	if _, err := nats.Connect(strings.Replace(s.UserURL("patient"), "-secret", "-wrong", 1)); err == nil {
		t.Fatal("a wrong password let in")
	}
	s.TakeViolations() // an authorization failure is no violation, but is not judged here
}
