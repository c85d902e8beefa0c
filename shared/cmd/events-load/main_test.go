package main

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRunGoesThroughEveryPhase runs a small load on SQLite and a NATS
// server in this process: every event reaches the consumer in each run,
// the outage one included. Speed is what the script measures, not this.
func TestRunGoesThroughEveryPhase(t *testing.T) {
	var out strings.Builder
	err := run(context.Background(), []string{"-backlog", "300", "-rate", "100", "-latency-duration", "500ms",
		"-outage", "500ms", "-consumer-workers", "2"}, &out)
	require.NoError(t, err, out.String())
	assert.Contains(t, out.String(), "throughput: 300 events")
	assert.Contains(t, out.String(), "latency at 100 events/s")
	assert.Contains(t, out.String(), "drained to the consumer")
}

func TestRunRefusesBadFlags(t *testing.T) {
	for _, args := range [][]string{{"-rate", "x"}, {"-rate", "0"}, {"-backlog", "0"}, {"-consumer-workers", "0"}, {"-outage", "-1s"}} {
		assert.Error(t, run(context.Background(), args, &strings.Builder{}), "%v", args)
	}
}
