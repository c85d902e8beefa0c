package broker_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/shared/broker"
	"github.com/medisync/medisync/shared/events"
)

// permissionsFile is the NATS users of deploy/README.md, "Who may publish
// what".
const permissionsFile = "../../deploy/nats/permissions.conf"

// The event types each consumer reads: appointment/service.Topics and
// notification/service.Topics, which this module cannot import.
var (
	appointmentTypes  = []string{"records.encounter_signed", "patient.deactivated", "patient.reactivated"}
	notificationTypes = []string{"auth.user_registered", "auth.password_reset_requested",
		"appointment.booked", "appointment.rescheduled", "appointment.cancelled", "appointment.status_changed",
		"appointment.slot_freed"}
)

// serverLog keeps what the NATS server logs.
type serverLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *serverLog) add(format string, v ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, fmt.Sprintf(format, v...))
}

func (l *serverLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

func (l *serverLog) Noticef(format string, v ...any) { l.add(format, v...) }
func (l *serverLog) Warnf(format string, v ...any)   { l.add(format, v...) }
func (l *serverLog) Fatalf(format string, v ...any)  { l.add(format, v...) }
func (l *serverLog) Errorf(format string, v ...any)  { l.add(format, v...) }
func (l *serverLog) Debugf(string, ...any)           {}
func (l *serverLog) Tracef(string, ...any)           {}

// permServer is a JetStream server on 127.0.0.1 with the users of
// permissionsFile, and a user of the test's own, "inspector", allowed
// everything, which reads the streams and durables.
type permServer struct {
	port int
	log  *serverLog
	// The inspector's: js reads streams, legacy the push consumers' state.
	js     jetstream.JetStream
	legacy nats.JetStreamContext
}

func startPermServer(t *testing.T) *permServer {
	t.Helper()
	for _, svc := range []string{"auth", "patient", "records", "appointment", "notification"} {
		t.Setenv(strings.ToUpper(svc)+"_BROKER_PASSWORD", svc+"-secret")
	}
	opts, err := server.ProcessConfigFile(permissionsFile)
	require.NoError(t, err)
	require.Len(t, opts.Users, 5, "one user per service")
	opts.Users = append(opts.Users, &server.User{Username: "inspector", Password: "inspector-secret"})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	opts.Host, opts.Port = "127.0.0.1", port
	opts.JetStream, opts.StoreDir = true, t.TempDir()
	opts.NoLog, opts.NoSigs = true, true
	srv, err := server.NewServer(opts)
	require.NoError(t, err)
	logs := &serverLog{}
	srv.SetLogger(logs, false, false)
	go srv.Start()
	require.True(t, srv.ReadyForConnections(10*time.Second))
	t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
	s := &permServer{port: port, log: logs}
	nc, err := nats.Connect(s.url("inspector"))
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	s.js, err = jetstream.New(nc)
	require.NoError(t, err)
	s.legacy, err = nc.JetStream()
	require.NoError(t, err)
	return s
}

// url is the broker URL of user, as its service's Secret would name it.
func (s *permServer) url(user string) string {
	return "nats://" + user + ":" + user + "-secret@127.0.0.1:" + strconv.Itoa(s.port)
}

// open connects as svc's user, as the service does.
func (s *permServer) open(t *testing.T, svc string) broker.Broker {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b, err := broker.Open(ctx, s.url(svc), broker.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })
	require.Eventually(t, func() bool { return b.Ping(ctx) == nil }, 5*time.Second, 50*time.Millisecond,
		"%s is ready: it may ask JetStream for the account's state", svc)
	return b
}

// streamMsgs is how many messages stream holds on subject.
func (s *permServer) streamMsgs(t *testing.T, stream, subject string) uint64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := s.js.Stream(ctx, stream)
	require.NoError(t, err)
	info, err := st.Info(ctx, jetstream.WithSubjectFilter(subject))
	require.NoError(t, err)
	return info.State.Subjects[subject]
}

type batcher interface {
	PublishBatch(ctx context.Context, evs []events.Event) (int, error)
}

func permEvent(t *testing.T, typ, subject string) events.Event {
	t.Helper()
	ev, err := events.New(typ, 1, subject, map[string]string{"k": "v"}, time.Now())
	require.NoError(t, err)
	return ev
}

// publishOwn publishes one event of each of types as svc's relay does,
// the first alone (Publish), the others in a batch (PublishBatch).
func publishOwn(t *testing.T, b broker.Broker, types []string) []events.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	evs := make([]events.Event, len(types))
	for i, typ := range types {
		evs[i] = permEvent(t, typ, "s1")
	}
	require.NoError(t, b.Publish(ctx, evs[0]), "%s", types[0])
	if len(evs) > 1 {
		n, err := b.(batcher).PublishBatch(ctx, evs[1:])
		require.NoError(t, err)
		require.Equal(t, len(evs)-1, n)
	}
	return evs
}

var errPermMalformed = errors.New("malformed event")

// permConsumer is a consuming service's handler: it applies every event
// but those of subject "bad", which it takes for malformed until they are
// accepted.
type permConsumer struct {
	mu       sync.Mutex
	seen     map[string]int
	accepted map[string]bool
}

func (c *permConsumer) handle(_ context.Context, ev events.Event) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ev.Subject == "bad" && !c.accepted[ev.ID] {
		return fmt.Errorf("%w: %s", errPermMalformed, ev.ID)
	}
	c.seen[ev.ID]++
	return nil
}

func (c *permConsumer) times(id string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.seen[id]
}

func (c *permConsumer) accept(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.accepted[id] = true
}

// consumeAs runs the consumer name on b through broker.Subscriber, as the
// appointment and notification services do, until the test ends.
func consumeAs(t *testing.T, b broker.Broker, name string, types []string) *permConsumer {
	t.Helper()
	c := &permConsumer{seen: map[string]int{}, accepted: map[string]bool{}}
	topics := make([]string, len(types))
	for i, typ := range types {
		topics[i] = "medisync." + typ
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		sub := broker.Subscriber{B: b, Concurrency: 2, Malformed: errPermMalformed}
		done <- sub.Subscribe(ctx, name, topics, c.handle)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			assert.NoError(t, err)
		case <-time.After(20 * time.Second):
			t.Errorf("consumer %s did not stop", name)
		}
	})
	return c
}

// assertAcknowledged waits until every durable of consumer has had its
// deliveries acknowledged, none pending or redelivered.
func (s *permServer) assertAcknowledged(t *testing.T, consumer string, types []string) {
	t.Helper()
	for _, typ := range types {
		stream := "MEDISYNC_" + strings.ToUpper(events.Producer(typ))
		durable := broker.DurableName(consumer, "medisync."+typ)
		var last string
		ok := assert.Eventually(t, func() bool {
			info, err := s.legacy.ConsumerInfo(stream, durable, nats.MaxWait(5*time.Second))
			if err != nil {
				last = err.Error()
				return false
			}
			last = fmt.Sprintf("delivered %d, ack floor %d, ack pending %d, redelivered %d",
				info.Delivered.Consumer, info.AckFloor.Consumer, info.NumAckPending, info.NumRedelivered)
			return info.Delivered.Consumer > 0 && info.AckFloor.Consumer == info.Delivered.Consumer &&
				info.NumAckPending == 0 && info.NumRedelivered == 0 && info.NumPending == 0
		}, 15*time.Second, 50*time.Millisecond, "durable %s acknowledges its deliveries", durable)
		if !ok {
			t.Fatalf("%s: %s", durable, last)
		}
	}
}

// The services, each with its own user of deploy/nats/permissions.conf, do
// all they do on the broker: auth, patient, records and appointment
// publish their events (creating their streams, or bringing a stream made
// with another configuration to theirs); appointment and notification
// receive them through their durables and acknowledge them, dead-letter
// what they cannot apply, and list and replay their dead letters.
func TestNATSPermissionsFileLetsEachServiceDoItsWork(t *testing.T) {
	s := startPermServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	// The publishers' streams exist, made with another age limit (as by a
	// release or a broker URL of another StreamMaxAge): the relay brings
	// them to its own.
	for _, svc := range []string{"auth", "patient", "records"} {
		stream := "MEDISYNC_" + strings.ToUpper(svc)
		_, err := s.js.CreateStream(ctx, jetstream.StreamConfig{Name: stream, Subjects: []string{"medisync." + svc + ".>"},
			Storage: jetstream.FileStorage, MaxAge: time.Hour, Duplicates: 2 * time.Minute})
		require.NoError(t, err)
	}
	brokers := map[string]broker.Broker{}
	for _, svc := range []string{"auth", "patient", "records", "appointment", "notification"} {
		brokers[svc] = s.open(t, svc)
	}

	published := map[string]events.Event{} // by id
	for svc, types := range map[string][]string{
		"auth":    {"auth.user_registered", "auth.password_reset_requested"},
		"patient": {"patient.deactivated", "patient.reactivated"},
		"records": {"records.encounter_signed"},
	} {
		for _, ev := range publishOwn(t, brokers[svc], types) {
			published[ev.ID] = ev
		}
		st, err := s.js.Stream(ctx, "MEDISYNC_"+strings.ToUpper(svc))
		require.NoError(t, err)
		assert.Equal(t, 7*24*time.Hour, st.CachedInfo().Config.MaxAge, "%s brings its stream to its configuration", svc)
	}

	appointment := consumeAs(t, brokers["appointment"], "appointment", appointmentTypes)
	notification := consumeAs(t, brokers["notification"], "notification", notificationTypes)
	for _, ev := range publishOwn(t, brokers["appointment"], notificationTypes[2:]) {
		published[ev.ID] = ev
	}
	consumerOf := func(typ string) *permConsumer {
		for _, t := range appointmentTypes {
			if t == typ {
				return appointment
			}
		}
		return notification
	}
	require.Len(t, published, len(appointmentTypes)+len(notificationTypes))
	for id, ev := range published {
		c := consumerOf(ev.Type)
		require.Eventually(t, func() bool { return c.times(id) > 0 }, 20*time.Second, 20*time.Millisecond,
			"%s reaches its consumer", ev.Type)
	}
	s.assertAcknowledged(t, "appointment", appointmentTypes)
	s.assertAcknowledged(t, "notification", notificationTypes)
	for id, ev := range published {
		assert.Equal(t, 1, consumerOf(ev.Type).times(id), "%s applied once", ev.Type)
	}

	// Dead letters and replays, each consumer with its own user.
	for _, tc := range []struct {
		consumer string
		c        *permConsumer
		producer broker.Broker
		typ      string
	}{
		{"appointment", appointment, brokers["patient"], "patient.deactivated"},
		{"notification", notification, brokers["appointment"], "appointment.booked"},
	} {
		bad := permEvent(t, tc.typ, "bad")
		require.NoError(t, tc.producer.Publish(ctx, bad))
		dlq := brokers[tc.consumer].DeadLetters(tc.consumer)
		require.Eventually(t, func() bool {
			l, err := dlq.List(ctx, 10)
			return err == nil && len(l) == 1 && l[0].ID == bad.ID
		}, 20*time.Second, 50*time.Millisecond, "%s dead-letters what it cannot apply", tc.consumer)
		tc.c.accept(bad.ID)
		require.NoError(t, dlq.Replay(ctx, bad.ID), "%s replays its dead letter", tc.consumer)
		require.Eventually(t, func() bool { return tc.c.times(bad.ID) == 1 }, 20*time.Second, 20*time.Millisecond,
			"%s receives its replay", tc.consumer)
		l, err := dlq.List(ctx, 10)
		require.NoError(t, err)
		assert.Empty(t, l, "the replayed dead letter is gone")
		replays := broker.ReplayTopic(tc.consumer)
		assert.Eventually(t, func() bool {
			info, err := s.legacy.ConsumerInfo("MEDISYNC_DLQ", broker.DurableName(tc.consumer, replays), nats.MaxWait(5*time.Second))
			return err == nil && info.NumAckPending == 0 && info.AckFloor.Consumer == 1
		}, 15*time.Second, 50*time.Millisecond, "%s acknowledges its replay", tc.consumer)
	}
}

// A service that publishes an event of another's type is refused by the
// server: the publish fails within its deadline (the outbox keeps the
// event), the server logs a violation, and the other service's stream
// does not hold the event.
func TestNATSPermissionsFileRefusesAnotherServicesEvents(t *testing.T) {
	s := startPermServer(t)
	brokers := map[string]broker.Broker{}
	for _, svc := range []string{"auth", "patient", "records", "appointment", "notification"} {
		brokers[svc] = s.open(t, svc)
	}
	// Each stream holds one event of its own service.
	publishOwn(t, brokers["auth"], []string{"auth.user_registered"})
	publishOwn(t, brokers["patient"], []string{"patient.deactivated"})
	publishOwn(t, brokers["appointment"], []string{"appointment.booked"})
	publishOwn(t, brokers["records"], []string{"records.encounter_signed"})

	for _, tc := range []struct {
		publisher, typ string
		batch          bool
		// violation is the subject the server refuses: the event's own,
		// or, for a service that may not create the other's stream, that
		// request to JetStream.
		violation string
	}{
		{"patient", "appointment.booked", false, "$JS.API.STREAM.CREATE.MEDISYNC_APPOINTMENT"},
		{"records", "patient.deactivated", true, "$JS.API.STREAM.CREATE.MEDISYNC_PATIENT"},
		{"auth", "records.encounter_signed", true, "$JS.API.STREAM.CREATE.MEDISYNC_RECORDS"},
		{"appointment", "patient.deactivated", true, "medisync.patient.deactivated"},
		{"appointment", "auth.user_registered", false, "medisync.auth.user_registered"},
		{"notification", "appointment.booked", true, "medisync.appointment.booked"},
	} {
		t.Run(tc.publisher+" publishes "+tc.typ, func(t *testing.T) {
			ev := permEvent(t, tc.typ, "s1")
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			start := time.Now()
			var err error
			if tc.batch {
				var n int
				n, err = brokers[tc.publisher].(batcher).PublishBatch(ctx, []events.Event{ev})
				assert.Zero(t, n, "nothing stored")
			} else {
				err = brokers[tc.publisher].Publish(ctx, ev)
			}
			require.Error(t, err)
			// Publish waits for JetStream's answer at most 5 s, whatever
			// its context.
			assert.Less(t, time.Since(start), 6*time.Second, "refused in bounded time: %v", err)
			stream := "MEDISYNC_" + strings.ToUpper(events.Producer(tc.typ))
			assert.Equal(t, uint64(1), s.streamMsgs(t, stream, ev.Topic()), "the refused event is not stored")
			assert.Contains(t, s.log.String(), fmt.Sprintf("Publish Violation - Subject %q", tc.violation))
		})
	}
}

// A publisher's user reads nothing: no subscription to the events, nor to
// the deliveries of the consumers' durables, nor a durable of its own on
// another service's stream.
func TestNATSPermissionsFileKeepsPublishersFromReading(t *testing.T) {
	s := startPermServer(t)
	publishOwn(t, s.open(t, "appointment"), []string{"appointment.booked"})
	nc, err := nats.Connect(s.url("patient"), nats.PermissionErrOnSubscribe(true))
	require.NoError(t, err)
	defer nc.Close()
	for _, subject := range []string{"medisync.appointment.>", "medisync.>", "_deliver.medisync.>"} {
		sub, err := nc.SubscribeSync(subject)
		require.NoError(t, err)
		_, err = sub.NextMsg(2 * time.Second)
		assert.ErrorIs(t, err, nats.ErrPermissionViolation, "patient subscribes to %s", subject)
	}
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, err = js.CreateOrUpdateConsumer(ctx, "MEDISYNC_APPOINTMENT", jetstream.ConsumerConfig{Durable: "patient_reads"})
	require.Error(t, err, "patient makes itself a durable on appointment's events")
	assert.Contains(t, s.log.String(), `Publish Violation - Subject "$JS.API.CONSUMER.CREATE.MEDISYNC_APPOINTMENT`)
}

// A publisher's user cannot read the answers JetStream sends another
// service's user: the dead letters notification lists come on its own
// inbox, _INBOX.notification, which no other user may subscribe to.
func TestNATSPermissionsFileKeepsPublishersFromOthersInboxes(t *testing.T) {
	s := startPermServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	appointment := s.open(t, "appointment")
	notification := s.open(t, "notification")
	consumeAs(t, notification, "notification", []string{"appointment.booked"})
	bad := permEvent(t, "appointment.booked", "bad")
	require.NoError(t, appointment.Publish(ctx, bad))
	dlq := notification.DeadLetters("notification")
	require.Eventually(t, func() bool {
		l, err := dlq.List(ctx, 10)
		return err == nil && len(l) == 1
	}, 20*time.Second, 50*time.Millisecond)

	nc, err := nats.Connect(s.url("patient"), nats.PermissionErrOnSubscribe(true))
	require.NoError(t, err)
	defer nc.Close()
	for _, subject := range []string{"_INBOX.>", "_INBOX.notification.>"} {
		sub, err := nc.SubscribeSync(subject)
		require.NoError(t, err)
		_, err = sub.NextMsg(2 * time.Second)
		assert.ErrorIs(t, err, nats.ErrPermissionViolation, "patient subscribes to %s", subject)
	}
	// The inspector, allowed everything, does see the dead letter go by on
	// an inbox: the subscriptions refused above are the ones that matter.
	spy, err := nats.Connect(s.url("inspector"))
	require.NoError(t, err)
	defer spy.Close()
	seen := make(chan *nats.Msg, 64)
	_, err = spy.ChanSubscribe("_INBOX.>", seen)
	require.NoError(t, err)
	require.NoError(t, spy.Flush())
	_, err = dlq.List(ctx, 10)
	require.NoError(t, err)
	deadline := time.After(10 * time.Second)
	for {
		select {
		case m := <-seen:
			if strings.Contains(string(m.Data), bad.ID) {
				return
			}
		case <-deadline:
			t.Fatal("the dead letter was not answered on an inbox")
		}
	}
}

// A URL naming a user and password gives its connections the inbox
// _INBOX.<user> that permissions.conf lets only that user read; a token,
// or a user that is no plain token of a subject, keeps the client's.
func TestNATSInboxPrefixOfTheURLsUser(t *testing.T) {
	for raw, want := range map[string]string{
		"nats://patient:pw@nats:4222":                      "_INBOX.patient",
		"nats://nats-1:4222,nats://patient:pw@nats-2:4222": "_INBOX.patient",
		"nats://notification:p%40ss@nats:4222?replicas=3":  "_INBOX.notification",
		"nats://nats:4222":                                 "",
		"nats://s3cr3t-token@nats:4222":                    "",
		"nats://a.b:pw@nats:4222":                          "",
		"nats://%3E:pw@nats:4222":                          "",
	} {
		got, err := broker.InboxPrefix(raw)
		require.NoError(t, err, raw)
		assert.Equal(t, want, got, raw)
	}
}
