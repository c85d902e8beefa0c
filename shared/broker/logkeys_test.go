package broker_test

import (
	"bufio"
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/shared/broker"
	"github.com/medisync/medisync/shared/broker/brokertest"
	"github.com/medisync/medisync/shared/events"
	"github.com/medisync/medisync/shared/logging"
)

type lockedBuf struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

var goDuration = regexp.MustCompile(`^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$`)

// Watermill's own lines (a stopping consumer's timeout, watermill-nats'
// delay) carry their durations as <name>Ms numbers, as every line does
// (docs/logging.md), never as Go duration strings ("15s").
func TestBrokerLinesWriteDurationsAsMilliseconds(t *testing.T) {
	srv := brokertest.Embedded(t)
	var out lockedBuf
	logger, err := logging.New(&out, "widget", "json", "debug")
	require.NoError(t, err)
	ctx := context.Background()
	b, err := broker.Open(ctx, srv.URL(), broker.Options{Logger: logger})
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })
	require.Eventually(t, func() bool { return b.Ping(ctx) == nil }, 10*time.Second, 50*time.Millisecond)
	producer, consumer := brokertest.Name("p"), brokertest.Name("c")
	ev, err := events.New(producer+".thing_done", 1, "s1", map[string]string{"k": "v"}, time.Now())
	require.NoError(t, err)
	require.NoError(t, b.Publish(ctx, ev))

	cctx, cancel := context.WithCancel(ctx)
	handled := make(chan struct{}, 1)
	done := make(chan error, 1)
	go func() {
		done <- b.Consume(cctx, broker.Consumer{Name: consumer, Types: []string{producer + ".thing_done"},
			Handler: func(context.Context, events.Event) error {
				select {
				case handled <- struct{}{}:
				default:
				}
				return nil
			}})
	}()
	select {
	case <-handled:
	case <-time.After(30 * time.Second):
		t.Fatal("no event handled")
	}
	cancel()
	require.NoError(t, <-done)

	sc := bufio.NewScanner(strings.NewReader(out.String()))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var line map[string]any
		require.NoError(t, json.Unmarshal(sc.Bytes(), &line), sc.Text())
		for k, v := range line {
			if s, ok := v.(string); ok && goDuration.MatchString(s) {
				t.Errorf("%q line: %s=%q is a Go duration string, not a number of milliseconds (%sMs): %s", line["msg"], k, s, k, sc.Text())
			}
		}
	}
}
