package broker_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/go-kit/log"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/shared/broker"
	"github.com/medisync/medisync/shared/logging/logtest"
)

// A refusal the server sends on its own, such as a permission violation,
// reaches the service's log as a structured line at error level.
func TestServerRefusalsAreLoggedByTheServicesLogger(t *testing.T) {
	s := startPermServer(t)
	var logs logtest.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b, err := broker.Open(ctx, s.url("appointment"), broker.Options{Logger: log.NewLogfmtLogger(&logs)})
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })
	require.Eventually(t, func() bool { return b.Ping(ctx) == nil }, 5*time.Second, 50*time.Millisecond)

	require.Error(t, b.Publish(ctx, permEvent(t, "auth.user_registered", "s1")))
	require.Eventually(t, func() bool {
		return strings.Contains(logs.String(), `level=error msg="broker error"`)
	}, 5*time.Second, 20*time.Millisecond, "logged: %s", logs.String())
	assert.Contains(t, logs.String(), `Permissions Violation for Publish to \"$JS.API.STREAM.CREATE.MEDISYNC_AUTH\"`)
}
