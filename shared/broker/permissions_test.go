package broker_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
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
	"github.com/medisync/medisync/shared/broker/brokertest"
	"github.com/medisync/medisync/shared/events"
)

// The event types each consumer reads: appointment/service.Topics and
// notification/service.Topics, which this module cannot import.
var (
	appointmentTypes  = []string{"records.encounter_signed", "patient.deactivated", "patient.reactivated"}
	notificationTypes = []string{"auth.user_registered", "auth.password_reset_requested",
		"appointment.booked", "appointment.rescheduled", "appointment.cancelled", "appointment.status_changed",
		"appointment.slot_freed"}
)

// permServer is a JetStream server on 127.0.0.1 with the users of
// deploy/nats/permissions.conf, and a user of the test's own, "inspector",
// allowed everything, which reads the streams and durables.
type permServer struct {
	srv *brokertest.Server
	// The inspector's: js reads streams, legacy the push consumers' state.
	nc     *nats.Conn
	js     jetstream.JetStream
	legacy nats.JetStreamContext
}

func startPermServer(t *testing.T) *permServer {
	t.Helper()
	require.Len(t, brokertest.PermissionsFileUsers(t), 5, "one user per service")
	s := &permServer{srv: brokertest.EmbeddedWithPermissions(t, &server.User{Username: "inspector", Password: "inspector-secret"})}
	// These tests look for the refusals they provoke themselves, and for
	// none where none is due, in the server's log.
	t.Cleanup(func() { s.srv.TakeViolations() })
	nc, err := nats.Connect(s.url("inspector"))
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	s.nc = nc
	s.js, err = jetstream.New(nc)
	require.NoError(t, err)
	s.legacy, err = nc.JetStream()
	require.NoError(t, err)
	return s
}

// url is the broker URL of user, as its service's Secret would name it.
func (s *permServer) url(user string) string { return s.srv.UserURL(user) }

// log is the server's refusals so far, one a line.
func (s *permServer) log() string { return strings.Join(s.srv.Violations(), "\n") }

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
	// stop ends the consumer and waits until it has.
	stop func()
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
	var once sync.Once
	c.stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				assert.NoError(t, err)
			case <-time.After(20 * time.Second):
				t.Errorf("consumer %s did not stop", name)
			}
		})
	}
	t.Cleanup(c.stop)
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
// receive every event type they read through their durables and
// acknowledge them, dead-letter what they cannot apply, and list and
// replay their dead letters; then they start again, as after a deploy,
// finding their durables there (some made by an earlier release, which
// delivered elsewhere), the streams they read and the dead-letter stream
// with other limits, which they put back, and a second replay drops the
// replay applied before.
func TestNATSPermissionsFileLetsEachServiceDoItsWork(t *testing.T) {
	s := startPermServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
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
	publishRound := func() {
		for svc, types := range map[string][]string{
			"auth":    {"auth.user_registered", "auth.password_reset_requested"},
			"patient": {"patient.deactivated", "patient.reactivated"},
			"records": {"records.encounter_signed"},
		} {
			for _, ev := range publishOwn(t, brokers[svc], types) {
				published[ev.ID] = ev
			}
		}
	}
	publishRound()
	for _, svc := range []string{"auth", "patient", "records"} {
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
	// Every event reaches its consumer once and is acknowledged.
	allApplied := func() {
		t.Helper()
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
	}
	allApplied()

	// Dead letters and replays, each consumer with its own user; replays
	// is how many replays of the consumer the dead-letter stream holds
	// after, the one just made (those applied before are dropped).
	deadLetterAndReplay := func(consumer string, producer broker.Broker, typ string) {
		t.Helper()
		c := consumerOf(typ)
		bad := permEvent(t, typ, "bad")
		require.NoError(t, producer.Publish(ctx, bad))
		dlq := brokers[consumer].DeadLetters(consumer)
		require.Eventually(t, func() bool {
			l, err := dlq.List(ctx, 10)
			return err == nil && len(l) == 1 && l[0].ID == bad.ID
		}, 20*time.Second, 50*time.Millisecond, "%s dead-letters what it cannot apply", consumer)
		c.accept(bad.ID)
		require.NoError(t, dlq.Replay(ctx, bad.ID), "%s replays its dead letter", consumer)
		require.Eventually(t, func() bool { return c.times(bad.ID) == 1 }, 20*time.Second, 20*time.Millisecond,
			"%s receives its replay", consumer)
		l, err := dlq.List(ctx, 10)
		require.NoError(t, err)
		assert.Empty(t, l, "the replayed dead letter is gone")
		replays := broker.ReplayTopic(consumer)
		info, err := s.legacy.ConsumerInfo("MEDISYNC_DLQ", broker.DurableName(consumer, replays), nats.MaxWait(5*time.Second))
		require.NoError(t, err)
		acked := info.Delivered.Consumer
		assert.Eventually(t, func() bool {
			info, err := s.legacy.ConsumerInfo("MEDISYNC_DLQ", broker.DurableName(consumer, replays), nats.MaxWait(5*time.Second))
			return err == nil && info.NumAckPending == 0 && info.AckFloor.Consumer == acked
		}, 15*time.Second, 50*time.Millisecond, "%s acknowledges its replay", consumer)
		assert.Equal(t, uint64(1), s.streamMsgs(t, "MEDISYNC_DLQ", replays), "%s: the replays applied before are dropped", consumer)
	}
	deadLetterAndReplay("appointment", brokers["patient"], "patient.deactivated")
	deadLetterAndReplay("notification", brokers["appointment"], "appointment.booked")

	// The consumers stop, as for a deploy. Meanwhile an earlier release
	// set other limits on the streams they read and on the dead-letter
	// stream, and made some of their durables, delivering to
	// _deliver.medisync.<durable>.
	appointment.stop()
	notification.stop()
	for _, stream := range []string{"MEDISYNC_AUTH", "MEDISYNC_PATIENT", "MEDISYNC_RECORDS", "MEDISYNC_APPOINTMENT", "MEDISYNC_DLQ"} {
		st, err := s.js.Stream(ctx, stream)
		require.NoError(t, err)
		cfg := st.CachedInfo().Config
		cfg.MaxAge = time.Hour
		_, err = s.js.UpdateStream(ctx, cfg)
		require.NoError(t, err, stream)
	}
	earlier := map[string]string{} // durable: stream
	for _, d := range []struct{ consumer, stream, topic string }{
		{"appointment", "MEDISYNC_PATIENT", "medisync.patient.deactivated"},
		{"appointment", "MEDISYNC_DLQ", broker.ReplayTopic("appointment")},
		{"notification", "MEDISYNC_APPOINTMENT", "medisync.appointment.booked"},
		{"notification", "MEDISYNC_DLQ", broker.ReplayTopic("notification")},
	} {
		durable := broker.DurableName(d.consumer, d.topic)
		info, err := s.legacy.ConsumerInfo(d.stream, durable, nats.MaxWait(5*time.Second))
		require.NoError(t, err)
		cfg := info.Config
		cfg.DeliverSubject = "_deliver.medisync." + durable
		_, err = s.legacy.UpdateConsumer(d.stream, &cfg, nats.MaxWait(5*time.Second))
		require.NoError(t, err, durable)
		earlier[durable] = d.stream
	}

	// An instance of the earlier release is still bound to one of them.
	held := broker.DurableName("appointment", "medisync.patient.deactivated")
	hold, err := s.nc.QueueSubscribeSync("_deliver.medisync."+held, "appointment")
	require.NoError(t, err)
	require.NoError(t, s.nc.Flush())

	// They start again, each with a new broker (which knows no stream
	// yet), before any producer publishes.
	brokers["appointment"] = s.open(t, "appointment")
	brokers["notification"] = s.open(t, "notification")
	appointment = consumeAs(t, brokers["appointment"], "appointment", appointmentTypes)
	notification = consumeAs(t, brokers["notification"], "notification", notificationTypes)
	require.Eventually(t, func() bool {
		st, err := s.js.Stream(ctx, "MEDISYNC_DLQ")
		return err == nil && st.CachedInfo().Config.MaxAge == 0
	}, 20*time.Second, 50*time.Millisecond, "a consumer puts the dead-letter stream's limits back")
	// The streams of the producers are left as they are: their relays
	// bring them to their configuration (above), not their consumers.
	for _, stream := range []string{"MEDISYNC_AUTH", "MEDISYNC_PATIENT", "MEDISYNC_RECORDS", "MEDISYNC_APPOINTMENT"} {
		st, err := s.js.Stream(ctx, stream)
		require.NoError(t, err)
		assert.Equal(t, time.Hour, st.CachedInfo().Config.MaxAge, "a consumer leaves %s as it found it", stream)
	}
	// The durable the earlier instance is bound to is brought over once
	// that instance has gone.
	info, err := s.legacy.ConsumerInfo("MEDISYNC_PATIENT", held, nats.MaxWait(5*time.Second))
	require.NoError(t, err)
	assert.Equal(t, "_deliver.medisync."+held, info.Config.DeliverSubject, "left while an earlier instance is bound to it")
	require.NoError(t, hold.Unsubscribe())
	for durable, stream := range earlier {
		consumer, _, _ := strings.Cut(durable, "_")
		require.Eventually(t, func() bool {
			info, err := s.legacy.ConsumerInfo(stream, durable, nats.MaxWait(5*time.Second))
			return err == nil && info.Config.DeliverSubject == broker.DeliverSubject(consumer, durable)
		}, 20*time.Second, 50*time.Millisecond, "%s, of an earlier release, delivers under its consumer's subject", durable)
	}

	// What was applied before is not delivered again; new events are.
	before := published
	published = map[string]events.Event{}
	publishRound()
	for _, ev := range publishOwn(t, brokers["appointment"], notificationTypes[2:]) {
		published[ev.ID] = ev
	}
	allApplied()
	for id, ev := range before {
		assert.Zero(t, consumerOf(ev.Type).times(id), "%s, applied before, is not delivered again", ev.Type)
	}
	deadLetterAndReplay("appointment", brokers["records"], "records.encounter_signed")
	deadLetterAndReplay("notification", brokers["auth"], "auth.user_registered")
	for _, tc := range []struct {
		consumer string
		types    []string
	}{{"appointment", appointmentTypes}, {"notification", notificationTypes}} {
		for _, topic := range append(slices.Clone(tc.types), strings.TrimPrefix(broker.ReplayTopic(tc.consumer), "medisync.")) {
			stream := "MEDISYNC_" + strings.ToUpper(events.Producer(topic))
			if strings.HasPrefix(topic, "replay.") {
				stream = "MEDISYNC_DLQ"
			}
			durable := broker.DurableName(tc.consumer, "medisync."+topic)
			info, err := s.legacy.ConsumerInfo(stream, durable, nats.MaxWait(5*time.Second))
			require.NoError(t, err)
			assert.Equal(t, broker.DeliverSubject(tc.consumer, durable), info.Config.DeliverSubject)
		}
	}
	// Nothing was refused on the way, not even what the client sends
	// without waiting for an answer (the deletion of an ordered
	// consumer's previous consumer, an acknowledgement).
	assert.NotContains(t, s.log(), "Violation")
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
		{"appointment", "auth.user_registered", false, "$JS.API.STREAM.CREATE.MEDISYNC_AUTH"},
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
			assert.Contains(t, s.log(), fmt.Sprintf("Publish Violation - Subject %q", tc.violation))
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
	assert.Contains(t, s.log(), `Publish Violation - Subject "$JS.API.CONSUMER.CREATE.MEDISYNC_APPOINTMENT`)
}

// A consumer's user does on JetStream what its service does and no more:
// it may not delete or purge a stream, nor reconfigure one it does not
// read, make a durable on a stream it does not read or on events it does
// not consume, delete another's durable, read another's dead letters or
// replays, or receive the deliveries of the other's durables.
func TestNATSPermissionsFileKeepsConsumersToTheirOwn(t *testing.T) {
	s := startPermServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	brokers := map[string]broker.Broker{}
	for _, svc := range []string{"auth", "patient", "records", "appointment", "notification"} {
		brokers[svc] = s.open(t, svc)
	}
	publishOwn(t, brokers["auth"], []string{"auth.user_registered"})
	publishOwn(t, brokers["patient"], []string{"patient.deactivated"})
	publishOwn(t, brokers["records"], []string{"records.encounter_signed"})
	publishOwn(t, brokers["appointment"], []string{"appointment.booked"})
	consumeAs(t, brokers["appointment"], "appointment", appointmentTypes)
	consumeAs(t, brokers["notification"], "notification", notificationTypes)
	// Each has a dead letter.
	require.NoError(t, brokers["patient"].Publish(ctx, permEvent(t, "patient.deactivated", "bad")))
	require.NoError(t, brokers["appointment"].Publish(ctx, permEvent(t, "appointment.booked", "bad")))
	for _, c := range []string{"appointment", "notification"} {
		require.Eventually(t, func() bool {
			l, err := brokers[c].DeadLetters(c).List(ctx, 10)
			return err == nil && len(l) == 1
		}, 20*time.Second, 50*time.Millisecond, "%s has a dead letter", c)
	}

	conns := map[string]*nats.Conn{}
	for _, user := range []string{"appointment", "notification"} {
		nc, err := nats.Connect(s.url(user), nats.PermissionErrOnSubscribe(true), nats.CustomInboxPrefix("_INBOX."+user))
		require.NoError(t, err)
		defer nc.Close()
		conns[user] = nc
	}
	consumerCreate := func(stream, name, filter string) []byte {
		return []byte(fmt.Sprintf(`{"stream_name":%q,"config":{"name":%q,"durable_name":%q,"filter_subject":%q,"ack_policy":"none","deliver_policy":"all"}}`,
			stream, name, name, filter))
	}
	for _, tc := range []struct {
		user, subject, why string
		body               []byte
	}{
		{"appointment", "$JS.API.STREAM.DELETE.MEDISYNC_PATIENT", "deletes a stream it reads", nil},
		{"appointment", "$JS.API.STREAM.PURGE.MEDISYNC_PATIENT", "purges a stream it reads", nil},
		{"appointment", "$JS.API.STREAM.DELETE.MEDISYNC_DLQ", "deletes the dead-letter stream", nil},
		{"appointment", "$JS.API.STREAM.UPDATE.MEDISYNC_AUTH", "reconfigures a stream it does not read",
			[]byte(`{"name":"MEDISYNC_AUTH","subjects":["medisync.auth.>"],"max_age":1000000000}`)},
		// An update could source another stream into it, under its own
		// subjects, which appointment's durables would then deliver.
		{"appointment", "$JS.API.STREAM.UPDATE.MEDISYNC_PATIENT", "reconfigures a stream it reads",
			[]byte(`{"name":"MEDISYNC_PATIENT","subjects":["medisync.patient.>"],"sources":[{"name":"MEDISYNC_AUTH"}]}`)},
		{"notification", "$JS.API.STREAM.UPDATE.MEDISYNC_AUTH", "reconfigures a stream it reads",
			[]byte(`{"name":"MEDISYNC_AUTH","subjects":["medisync.auth.>"],"max_age":1000000000}`)},
		{"appointment", "$JS.API.STREAM.INFO.MEDISYNC_PATIENT", "reads a producer stream's state", nil},
		{"appointment", "$JS.API.STREAM.LIST", "lists the streams", nil},
		{"appointment", "$JS.API.CONSUMER.CREATE.MEDISYNC_AUTH.appointment_reads.medisync.auth.user_registered",
			"makes a durable on a stream it does not read",
			consumerCreate("MEDISYNC_AUTH", "appointment_reads", "medisync.auth.user_registered")},
		{"appointment", "$JS.API.CONSUMER.CREATE.MEDISYNC_PATIENT.appointment_all",
			"makes a durable on all of a stream it reads", consumerCreate("MEDISYNC_PATIENT", "appointment_all", "")},
		{"appointment", "$JS.API.CONSUMER.DURABLE.CREATE.MEDISYNC_PATIENT.appointment_all",
			"makes a durable through the older endpoint", consumerCreate("MEDISYNC_PATIENT", "appointment_all", "")},
		{"appointment", "$JS.API.CONSUMER.CREATE.MEDISYNC_DLQ.peek.medisync.dlq.notification",
			"reads notification's dead letters", consumerCreate("MEDISYNC_DLQ", "peek", "medisync.dlq.notification")},
		{"appointment", "$JS.API.STREAM.MSG.GET.MEDISYNC_DLQ", "reads a dead letter by its sequence", []byte(`{"seq":1}`)},
		{"appointment", "$JS.API.DIRECT.GET.MEDISYNC_DLQ", "reads a dead letter directly", []byte(`{"seq":1}`)},
		{"appointment", "$JS.API.CONSUMER.DELETE.MEDISYNC_APPOINTMENT.notification_medisync_appointment_booked",
			"deletes notification's durable on its own stream", nil},
		{"appointment", "$JS.API.CONSUMER.LIST.MEDISYNC_DLQ", "lists the dead-letter stream's consumers", nil},
		{"notification", "$JS.API.STREAM.DELETE.MEDISYNC_APPOINTMENT", "deletes a stream it reads", nil},
		{"notification", "$JS.API.STREAM.PURGE.MEDISYNC_AUTH", "purges a stream it reads", nil},
		{"notification", "$JS.API.STREAM.CREATE.MEDISYNC_PATIENT", "makes a stream it does not read",
			[]byte(`{"name":"MEDISYNC_PATIENT","subjects":["medisync.patient.>"]}`)},
		{"notification", "$JS.API.CONSUMER.CREATE.MEDISYNC_PATIENT.notification_reads.medisync.patient.deactivated",
			"makes a durable on a stream it does not read",
			consumerCreate("MEDISYNC_PATIENT", "notification_reads", "medisync.patient.deactivated")},
		{"notification", "$JS.API.CONSUMER.CREATE.MEDISYNC_DLQ.peek.medisync.replay.appointment",
			"reads appointment's replays", consumerCreate("MEDISYNC_DLQ", "peek", "medisync.replay.appointment")},
		{"notification", "$JS.API.CONSUMER.DELETE.MEDISYNC_PATIENT.appointment_medisync_patient_deactivated",
			"deletes appointment's durable", nil},
		{"notification", "$JS.API.CONSUMER.INFO.MEDISYNC_RECORDS.appointment_medisync_records_encounter_signed",
			"reads the state of appointment's durable", nil},
	} {
		t.Run(tc.user+" "+tc.why, func(t *testing.T) {
			_, err := conns[tc.user].Request(tc.subject, tc.body, 500*time.Millisecond)
			require.Error(t, err, "no answer")
			assert.Contains(t, s.log(), fmt.Sprintf("\"$G/user:%s\" - Publish Violation - Subject %q", tc.user, tc.subject))
		})
	}
	// The consumers' deliveries, each under its own subject, and the
	// single-token subjects of an earlier release.
	for _, tc := range []struct{ user, subject string }{
		{"appointment", "_deliver.medisync.notification.>"},
		{"appointment", "_deliver.medisync.>"},
		{"appointment", "_deliver.medisync.notification_medisync_auth_user_registered"},
		{"appointment", "_INBOX.notification.>"},
		{"notification", "_deliver.medisync.appointment.>"},
		{"notification", "_deliver.medisync.appointment_medisync_patient_deactivated"},
		{"notification", "_deliver.>"},
	} {
		t.Run(tc.user+" subscribes to "+tc.subject, func(t *testing.T) {
			sub, err := conns[tc.user].QueueSubscribeSync(tc.subject, "notification")
			require.NoError(t, err)
			_, err = sub.NextMsg(2 * time.Second)
			assert.ErrorIs(t, err, nats.ErrPermissionViolation)
			assert.Contains(t, s.log(), fmt.Sprintf("\"$G/user:%s\" - Subscription Violation - Subject %q", tc.user, tc.subject))
		})
	}

	// Nothing refused was done: the streams, the dead letters and the
	// durables are all there.
	for stream, subject := range map[string]string{
		"MEDISYNC_PATIENT": "medisync.patient.deactivated", "MEDISYNC_AUTH": "medisync.auth.user_registered",
		"MEDISYNC_APPOINTMENT": "medisync.appointment.booked", "MEDISYNC_DLQ": broker.DeadLetterTopic("notification"),
	} {
		assert.NotZero(t, s.streamMsgs(t, stream, subject), "%s keeps %s", stream, subject)
	}
	st, err := s.js.Stream(ctx, "MEDISYNC_AUTH")
	require.NoError(t, err)
	assert.Equal(t, 7*24*time.Hour, st.CachedInfo().Config.MaxAge)
	for _, d := range []struct{ stream, durable string }{
		{"MEDISYNC_APPOINTMENT", "notification_medisync_appointment_booked"},
		{"MEDISYNC_PATIENT", "appointment_medisync_patient_deactivated"},
	} {
		_, err := s.legacy.ConsumerInfo(d.stream, d.durable, nats.MaxWait(5*time.Second))
		assert.NoError(t, err, "%s is there", d.durable)
	}
	for _, d := range []struct{ stream, durable string }{
		{"MEDISYNC_AUTH", "appointment_reads"}, {"MEDISYNC_PATIENT", "appointment_all"},
		{"MEDISYNC_PATIENT", "notification_reads"}, {"MEDISYNC_DLQ", "peek"},
	} {
		_, err := s.legacy.ConsumerInfo(d.stream, d.durable, nats.MaxWait(5*time.Second))
		assert.ErrorIs(t, err, nats.ErrConsumerNotFound, "%s was not made", d.durable)
	}
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

// The grants broker.ConsumerGrants names for the consumers' topics are the
// file's (which the tests above run the broker's code against), so that a
// consuming service can check its own topics against the file.
func TestConsumerGrantsAreThoseOfThePermissionsFile(t *testing.T) {
	topics := func(types []string) []string {
		out := make([]string, len(types))
		for i, typ := range types {
			out[i] = "medisync." + typ
		}
		return out
	}
	brokertest.RequireConsumerGrants(t, "appointment", topics(appointmentTypes))
	brokertest.RequireConsumerGrants(t, "notification", topics(notificationTypes))
	brokertest.RequireConsumerGrants(t, "appointment", []string{broker.ReplayTopic("appointment")})
	brokertest.RequireConsumerGrants(t, "notification", []string{broker.ReplayTopic("notification")})
}
