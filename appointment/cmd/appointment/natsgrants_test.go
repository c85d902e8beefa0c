package main

import (
	"testing"

	"github.com/medisync/medisync/appointment/service"
	"github.com/medisync/medisync/shared/broker/brokertest"
)

// Every event the service reads is granted to its NATS user in
// deploy/nats/permissions.conf: a durable left out would be refused by a
// server run with that file.
func TestNATSPermissionsGrantEveryTopicRead(t *testing.T) {
	brokertest.RequireConsumerGrants(t, consumerName, service.Topics)
}
