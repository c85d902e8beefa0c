package broker_test

import (
	"strings"
	"testing"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/medisync/medisync/shared/broker"
)

// An AMQP URL is one URL (openAMQP dials it whole), and a password may hold
// a comma (RFC 3986 sub-delims; amqp091 takes it): Redact must not split it as a
// list, which would print the password's tail.
func TestRedactHidesAnAMQPPasswordWithAComma(t *testing.T) {
	raw := "amqp://medisync:s3cr3t,broker-pass@rabbitmq/medisync"
	if u, err := amqp.ParseURI(raw); err != nil || u.Password != "s3cr3t,broker-pass" {
		t.Fatalf("amqp091 reads %q as %+v, %v", raw, u, err)
	}
	if got := broker.Redact(raw); strings.Contains(got, "broker-pass") {
		t.Errorf("Redact(%q) = %q: the password is logged", raw, got)
	}
}
