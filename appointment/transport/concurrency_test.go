package transport_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/medisync/medisync/appointment/adapter/sqlstore"
	"github.com/medisync/medisync/appointment/appointment"
	"github.com/medisync/medisync/appointment/endpoint"
	"github.com/medisync/medisync/appointment/service"
	"github.com/medisync/medisync/appointment/transport"
	"github.com/medisync/medisync/shared/events"
	"github.com/medisync/medisync/shared/httpmw"
	"github.com/medisync/medisync/shared/ids"
	"github.com/medisync/medisync/shared/openapitest"
	"github.com/medisync/medisync/shared/sqldb"
	"github.com/medisync/medisync/shared/sqldb/sqltest"
)

// TestRacesOverHTTPOnEveryDatabase: the whole stack, many clients at once.
func TestRacesOverHTTPOnEveryDatabase(t *testing.T) {
	sqltest.Each(t, sqlstore.Migrations(), func(t *testing.T, db *sqldb.DB) {
		e := newEnvOn(t, db)
		statuses := func(n int, fn func(i int) response) map[int]int {
			out := map[int]int{}
			var mu sync.Mutex
			var wg sync.WaitGroup
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					r := fn(i)
					mu.Lock()
					out[r.Status]++
					mu.Unlock()
				}()
			}
			wg.Wait()
			return out
		}
		// Fifty bookers, alternating two patients, for one slot.
		got := statuses(50, func(i int) response {
			tok := e.pat.Token
			if i%2 == 1 {
				tok = e.pat2.Token
			}
			return e.do("POST", "/api/v1/appointments", tok, e.booking(15, 10, 0, nil))
		})
		assert.Equal(t, map[int]int{201: 1, 409: 49}, got)
		assert.Equal(t, 1, e.count("appointments"))

		// One double click, eight requests with one key.
		got = statuses(8, func(int) response {
			return e.do("POST", "/api/v1/appointments", e.pat.Token, e.booking(15, 11, 0, nil), "Idempotency-Key", "click")
		})
		assert.Equal(t, map[int]int{201: 8}, got)
		assert.Equal(t, 2, e.count("appointments"))
	})
}

// interleaved is the store with other changes slipped in right before the
// writes of an appointment: what other requests committing between one
// request's read and its write do.
type interleaved struct {
	*sqlstore.Store
	slips  atomic.Int32 // writes still to be preceded by before
	inSlip atomic.Bool  // before's own writes are not preceded
	before func()
}

func (s *interleaved) slip() {
	if s.inSlip.Load() {
		return
	}
	for {
		n := s.slips.Load()
		if n <= 0 {
			return
		}
		if s.slips.CompareAndSwap(n, n-1) {
			break
		}
	}
	s.inSlip.Store(true)
	defer s.inSlip.Store(false)
	s.before()
}

func (s *interleaved) Update(ctx context.Context, a appointment.Appointment, v int64, au appointment.AuditEvent, evs ...events.Event) error {
	s.slip()
	return s.Store.Update(ctx, a, v, au, evs...)
}

func (s *interleaved) UpdateAndOffer(ctx context.Context, a appointment.Appointment, v int64, au appointment.AuditEvent,
	o service.Offer, evs ...events.Event) error {
	s.slip()
	return s.Store.UpdateAndOffer(ctx, a, v, au, o, evs...)
}

func (s *interleaved) Reschedule(ctx context.Context, a appointment.Appointment, v int64, o service.RescheduleOptions,
	evs ...events.Event) error {
	s.slip()
	return s.Store.Reschedule(ctx, a, v, o, evs...)
}

// newInterleavedEnv is newEnvOn db with its service on an interleaved store.
func newInterleavedEnv(t *testing.T, db *sqldb.DB) (*env, *interleaved) {
	e := newEnvOn(t, db)
	store := &interleaved{Store: sqlstore.New(db)}
	svc := service.New(store, doctorsPort{e.dir}, patientsPort{e.dir}, e.clock, ids.New, service.Options{})
	r := httpmw.NewRouter()
	transport.Register(r, endpoint.New(svc), e.issuer.Verifier(), nil)
	e.srv.Config.Handler = openapitest.Load(t, transport.OpenAPI()).Handler(t, httpmw.Stack(r, httpmw.Options{MaxBodyBytes: transport.MaxBodyBytes}))
	return e, store
}

// A change sent without If-Match asks for no precondition: when another
// change commits between the service's read and its write, it is not
// answered 412 but made on the appointment as it now is, its checks run
// again, as if it had come after the other; on the trail once. With
// If-Match the precondition holds: 412.
func TestChangeWithoutIfMatchIsMadeAfterAConcurrentChange(t *testing.T) {
	sqltest.Each(t, sqlstore.Migrations(), func(t *testing.T, db *sqldb.DB) {
		e, store := newInterleavedEnv(t, db)
		base := "/api/v1/appointments"
		moveTo := func(id string, h int) func() { // the doctor moves the visit
			return func() {
				s, en := slot(20, h, 0)
				e.mustDo(200, "POST", base+"/"+id+"/reschedule", e.doc.Token, map[string]any{"start": s, "end": en})
			}
		}
		trailOf := func(u user, id string) []step {
			var out []step
			for _, s := range e.trail(u) {
				if s.resourceID == id {
					out = append(out, s)
				}
			}
			return out
		}

		// A cancellation.
		id := e.mustDo(201, "POST", base, e.pat.Token, e.booking(20, 10, 0, nil)).Str(t, "id")
		store.before = moveTo(id, 11)
		store.slips.Store(1)
		e.mustDo(412, "POST", base+"/"+id+"/cancel", e.pat.Token, map[string]any{"cancellationReason": "patient-request"}, "If-Match", `"1"`)
		store.before = moveTo(id, 12)
		store.slips.Store(1)
		got := e.mustDo(200, "POST", base+"/"+id+"/cancel", e.pat.Token, map[string]any{"cancellationReason": "patient-request"}).JSON(t)
		assert.Equal(t, "cancelled", got["status"])
		assert.Equal(t, float64(4), got["version"], "after the two moves")
		s12, _ := slot(20, 12, 0)
		assert.Equal(t, s12, got["start"])
		assert.Equal(t, []step{
			{e.pat.ID, "PATIENT", "cancel", "appointment", id, "allowed"},
			{e.doc.ID, "DOCTOR", "reschedule", "appointment", id, "allowed"},
			{e.doc.ID, "DOCTOR", "reschedule", "appointment", id, "allowed"},
			{e.pat.ID, "PATIENT", "book", "appointment", id, "allowed"},
		}, trailOf(e.pat, id), "the cancellation once, the one refused for its If-Match not as a change")

		// A status change.
		e.clock.Set(time.Date(2030, 1, 21, 10, 5, 0, 0, time.UTC))
		id = e.mustDo(201, "POST", base, e.pat2.Token, e.booking(21, 11, 0, nil)).Str(t, "id")
		store.before = func() {
			e.mustDo(200, "POST", base+"/"+id+"/status", e.admin.Token, map[string]any{"status": "arrived"})
		}
		store.slips.Store(1)
		got = e.mustDo(200, "POST", base+"/"+id+"/status", e.doc.Token, map[string]any{"status": "checked-in"}).JSON(t)
		assert.Equal(t, "checked-in", got["status"])
		assert.Equal(t, float64(3), got["version"])
		assert.Equal(t, []step{
			{e.doc.ID, "DOCTOR", "change-status", "appointment", id, "allowed"},
			{e.admin.ID, "ADMIN", "change-status", "appointment", id, "allowed"},
			{e.pat2.ID, "PATIENT", "book", "appointment", id, "allowed"},
		}, trailOf(e.pat2, id))

		// A move whose checks refuse it once the other change is in: the
		// patient has arrived meanwhile.
		id = e.mustDo(201, "POST", base, e.pat2.Token, e.booking(23, 10, 0, nil)).Str(t, "id")
		store.before = func() {
			e.mustDo(200, "POST", base+"/"+id+"/status", e.admin.Token, map[string]any{"status": "arrived"})
		}
		store.slips.Store(1)
		s, en := slot(24, 10, 0)
		r := e.mustDo(409, "POST", base+"/"+id+"/reschedule", e.doc.Token, map[string]any{"start": s, "end": en})
		assert.Contains(t, string(r.Body), "cannot be rescheduled")
		for _, s := range trailOf(e.pat2, id) {
			assert.NotEqual(t, "reschedule", s.action, "no move was made")
		}
	})
}

// An appointment that changes under every attempt of a change sent without
// If-Match is answered 412 after a few, none of them on the trail.
func TestChangeWithoutIfMatchGivesUpOnAnAppointmentThatKeepsChanging(t *testing.T) {
	e, store := newInterleavedEnv(t, sqltest.SQLite(t, sqlstore.Migrations()))
	base := "/api/v1/appointments"
	id := e.mustDo(201, "POST", base, e.pat.Token, e.booking(20, 10, 0, nil)).Str(t, "id")
	var moves int
	store.before = func() {
		moves++
		s, en := slot(20, 10+moves%2, 0)
		e.mustDo(200, "POST", base+"/"+id+"/reschedule", e.doc.Token, map[string]any{"start": s, "end": en})
	}
	store.slips.Store(100)
	e.mustDo(412, "POST", base+"/"+id+"/cancel", e.pat.Token, map[string]any{"cancellationReason": "patient-request"})
	assert.Equal(t, 5, moves, "one concurrent change per attempt")
	for _, s := range e.trail(e.pat) {
		assert.NotEqual(t, "cancel", s.action)
	}
}
