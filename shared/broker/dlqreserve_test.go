package broker_test

import (
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-kit/log"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/shared/broker"
	"github.com/medisync/medisync/shared/broker/brokertest"
	"github.com/medisync/medisync/shared/events"
	"github.com/medisync/medisync/shared/logging/logtest"
)

// smallJetStream starts a NATS server whose JetStream may use maxStore
// bytes of file storage: a server given max_file_store, or one whose store
// sits on a disk with little room (the default is 75% of what is free).
func smallJetStream(t *testing.T, maxStore int64) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	srv, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: port, JetStream: true,
		StoreDir: t.TempDir(), JetStreamMaxStore: maxStore, NoLog: true, NoSigs: true})
	require.NoError(t, err)
	go srv.Start()
	require.True(t, srv.ReadyForConnections(10*time.Second))
	t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
	return "nats://127.0.0.1:" + strconv.Itoa(port)
}

// JetStream reserves a stream's MaxBytes in its store when it creates the
// stream, and refuses one it has no room for. The dead-letter stream has no
// bound unless the URL sets one, so a JetStream with 512 MiB of file
// storage runs the consumers as it did before dead letters were kept until
// replayed.
func TestNATSConsumerRunsOnASmallJetStream(t *testing.T) {
	url := smallJetStream(t, 512<<20)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := broker.Open(ctx, url, broker.Options{})
	require.NoError(t, err)
	defer b.Close()
	producer, consumer := brokertest.Name("p"), brokertest.Name("c")
	var handled atomic.Int32
	cctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- b.Consume(cctx, broker.Consumer{Name: consumer, Types: []string{producer + ".thing_done"}, MaxAttempts: 1,
			Handler: func(context.Context, events.Event) error { handled.Add(1); return nil }})
	}()
	defer func() { stop(); <-done }()
	ev, err := events.New(producer+".thing_done", 1, "s1", map[string]string{"k": "v"}, time.Now())
	require.NoError(t, err)
	require.NoError(t, b.Publish(ctx, ev))
	ok := false
	for i := 0; i < 100 && !ok; i++ {
		ok = handled.Load() > 0
		time.Sleep(100 * time.Millisecond)
	}
	if !ok {
		nc, err := nats.Connect(url)
		require.NoError(t, err)
		defer nc.Close()
		js, _ := jetstream.New(nc)
		_, serr := js.CreateStream(ctx, jetstream.StreamConfig{Name: "PROBE_DLQ", Subjects: []string{"probe.>"},
			Storage: jetstream.FileStorage, MaxBytes: 1 << 30, Discard: jetstream.DiscardNew})
		t.Fatalf("the consumer applied nothing in 10 s on a JetStream with 512 MiB of store; a 1 GiB stream there: %v", serr)
	}
	assert.Equal(t, int64(-1), dlqInfo(t, url).Config.MaxBytes, "nothing reserved")
}

// oldDLQStream makes MEDISYNC_DLQ as the release before ADR 0025's
// retention did: the producers' 7 days, no bound, discarding the oldest.
func oldDLQStream(t *testing.T, url string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	nc, err := nats.Connect(url)
	require.NoError(t, err)
	defer nc.Close()
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	_, err = js.CreateStream(ctx, jetstream.StreamConfig{
		Name: "MEDISYNC_DLQ", Subjects: []string{"medisync.dlq.>", "medisync.replay.>"},
		Storage: jetstream.FileStorage, Retention: jetstream.LimitsPolicy,
		MaxAge: 7 * 24 * time.Hour, Duplicates: 2 * time.Minute, Replicas: 1,
	})
	require.NoError(t, err)
}

// The same on upgrade: a deployment whose MEDISYNC_DLQ was made by the
// previous version (7 days, no byte bound) on such a server.
func TestNATSExistingDLQStreamOnASmallJetStream(t *testing.T) {
	url := smallJetStream(t, 512<<20)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	oldDLQStream(t, url)
	b, err := broker.Open(ctx, url, broker.Options{})
	require.NoError(t, err)
	defer b.Close()
	_, err = b.DeadLetters(brokertest.Name("c")).List(ctx, 10)
	require.NoError(t, err, "the dead letters of an upgraded deployment can no longer be listed")
	assert.Zero(t, dlqInfo(t, url).Config.MaxAge)
}

// consumeBadAndGood runs a consumer on b that cannot apply the events of
// subject "bad" and applies the others, recording them.
func consumeBadAndGood(t *testing.T, ctx context.Context, b broker.Broker, consumer, producer string) *sync.Map {
	t.Helper()
	var applied sync.Map
	cctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- b.Consume(cctx, broker.Consumer{Name: consumer, Types: []string{producer + ".thing_done"}, MaxAttempts: 1,
			Handler: func(_ context.Context, ev events.Event) error {
				if ev.Subject == "bad" {
					return broker.Permanent(errors.New("cannot apply"))
				}
				applied.Store(ev.ID, true)
				return nil
			}})
	}()
	t.Cleanup(func() { stop(); <-done })
	return &applied
}

func publishSubject(t *testing.T, ctx context.Context, b broker.Broker, producer, subject string) events.Event {
	t.Helper()
	ev, err := events.New(producer+".thing_done", 1, subject, map[string]string{"k": "v"}, time.Now())
	require.NoError(t, err)
	require.NoError(t, b.Publish(ctx, ev))
	return ev
}

// A bound the server cannot reserve, set on a deployment whose stream
// exists: the stream keeps its own bound, with one warning however often it
// is checked, and dead letters go on into it; its age limit, which would
// delete them, is taken off all the same.
func TestNATSDeadLetterBoundRefusedKeepsTheStreamsBound(t *testing.T) {
	url := smallJetStream(t, 512<<20)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	oldDLQStream(t, url)
	var logs logtest.Buffer
	b, err := broker.Open(ctx, url+"?dlq_max_bytes=1073741824", broker.Options{Logger: log.NewLogfmtLogger(&logs)})
	require.NoError(t, err)
	defer b.Close()
	broker.SetConsumerCheck(b, 100*time.Millisecond)
	producer, consumer := brokertest.Name("p"), brokertest.Name("c")
	applied := consumeBadAndGood(t, ctx, b, consumer, producer)
	bad := publishSubject(t, ctx, b, producer, "bad")
	good := publishSubject(t, ctx, b, producer, "good")
	require.Eventually(t, func() bool { _, ok := applied.Load(good.ID); return ok }, 10*time.Second, 50*time.Millisecond,
		"the consumer runs")
	require.Eventually(t, func() bool {
		l, err := b.DeadLetters(consumer).List(ctx, 10)
		return err == nil && len(l) == 1 && l[0].ID == bad.ID
	}, 10*time.Second, 50*time.Millisecond, "dead letters go on into the stream as it is")
	time.Sleep(time.Second) // some checks
	info := dlqInfo(t, url)
	assert.Equal(t, int64(-1), info.Config.MaxBytes, "the stream keeps its own bound")
	assert.Zero(t, info.Config.MaxAge, "the dead letters are kept until replayed all the same")
	warnings := strings.Count(logs.String(), "dead-letter stream limits not applied")
	assert.Equal(t, 1, warnings, "one warning, not one per check:\n%s", logs.String())
	assert.Contains(t, logs.String(), "insufficient storage")
}

// A dead-letter stream missing that cannot be made (its bound has no room
// yet) stops dead letters, not the consumer: what applies is applied, what
// cannot stays on its stream, counted as refused. Once the stream can be
// made the consumer's next check makes it, and the event is dead-lettered
// and replayable.
func TestNATSConsumerRunsWithoutItsDeadLetterStream(t *testing.T) {
	url := smallJetStream(t, 512<<20)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	nc, err := nats.Connect(url)
	require.NoError(t, err)
	defer nc.Close()
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	// Another stream holds most of the store.
	_, err = js.CreateStream(ctx, jetstream.StreamConfig{Name: "BIG", Subjects: []string{"big.>"},
		Storage: jetstream.FileStorage, MaxBytes: 400 << 20})
	require.NoError(t, err)

	reg := prometheus.NewRegistry()
	b, err := broker.Open(ctx, url+"?dlq_max_bytes=209715200", broker.Options{Registerer: reg})
	require.NoError(t, err)
	defer b.Close()
	broker.SetConsumerCheck(b, 200*time.Millisecond)
	broker.SetRequeueDelay(b, 100*time.Millisecond)
	producer, consumer := brokertest.Name("p"), brokertest.Name("c")
	applied := consumeBadAndGood(t, ctx, b, consumer, producer)
	bad := publishSubject(t, ctx, b, producer, "bad")
	good := publishSubject(t, ctx, b, producer, "good")
	require.Eventually(t, func() bool { _, ok := applied.Load(good.ID); return ok }, 10*time.Second, 50*time.Millisecond,
		"the consumer runs without the dead-letter stream")
	require.Eventually(t, func() bool { return consumed(t, reg, consumer, "dead_letter_failed") >= 2 }, 10*time.Second, 50*time.Millisecond,
		"the event it cannot apply comes again, its dead letter refused")
	_, err = js.Stream(ctx, "MEDISYNC_DLQ")
	require.ErrorIs(t, err, jetstream.ErrStreamNotFound)

	require.NoError(t, js.DeleteStream(ctx, "BIG"))
	require.Eventually(t, func() bool {
		l, err := b.DeadLetters(consumer).List(ctx, 10)
		return err == nil && len(l) == 1 && l[0].ID == bad.ID
	}, 20*time.Second, 50*time.Millisecond, "once the stream can be made, the event is dead-lettered")
	assert.Equal(t, int64(209715200), dlqInfo(t, url).Config.MaxBytes)
	require.NoError(t, b.DeadLetters(consumer).Replay(ctx, bad.ID))
	require.Eventually(t, func() bool { return consumed(t, reg, consumer, "dead") == 2 }, 20*time.Second, 50*time.Millisecond,
		"the replay reaches the consumer, subscribed to its replays once the stream exists")
}
