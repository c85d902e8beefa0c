package broker

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"github.com/go-kit/log"
	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/assert"
)

// Only a drained subscription's unsubscribe is quiet; a lost ack or a
// failed dead letter on a closed connection stays a warning.
func TestWatermillLoggerQuietsOnlyTheDrainsUnsubscribe(t *testing.T) {
	for _, c := range []struct {
		msg, level string
		err        error
	}{
		{"Cannot unsubscribe", "debug", nats.ErrConnectionClosed},
		{"Cannot send ack", "warn", fmt.Errorf("x: %w", nats.ErrConnectionClosed)},
		{"Handler returned error", "warn", errors.Join(errors.New("thing_done 1: db down"), fmt.Errorf("broker: dead letter: %w", nats.ErrConnectionClosed))},
	} {
		var buf bytes.Buffer
		watermillLogger{log.NewLogfmtLogger(&buf)}.Error(c.msg, c.err, nil)
		assert.Contains(t, buf.String(), "level="+c.level, "%s: %s", c.msg, buf.String())
	}
}
