package service_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-kit/log"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/appointment/adapter/sqlstore"
	"github.com/medisync/medisync/appointment/service"
	"github.com/medisync/medisync/shared/authn"
	"github.com/medisync/medisync/shared/clock/clocktest"
	"github.com/medisync/medisync/shared/domainerr"
	"github.com/medisync/medisync/shared/ids"
	"github.com/medisync/medisync/shared/outbox/outboxtest"
	"github.com/medisync/medisync/shared/sqldb"
	"github.com/medisync/medisync/shared/sqldb/sqltest"
)

// changingDoctor is a doctor directory whose answers about the doctor
// change as the doctor service's would: deactivated, new hours, down or
// hanging. It records the spans its slot check was asked about.
type changingDoctor struct {
	mu      sync.Mutex
	doctor  service.Doctor
	offGrid bool
	err     error
	// hang, when set, holds every slot check until it is closed, whatever
	// the caller's context says.
	hang chan struct{}
	// delay, when set, is how long each slot check takes, or until the
	// caller's context ends, as the peer adapter's call does.
	delay time.Duration
	// hook, when set, runs before the n-th check since the last change
	// answers.
	hook  func(n int)
	asked []service.Range
}

func (d *changingDoctor) CheckSlot(ctx context.Context, _ string, start, end time.Time) (service.SlotCheck, error) {
	d.mu.Lock()
	d.asked = append(d.asked, service.Range{Start: start, End: end})
	n, doc, onGrid, err, hang, delay, hook := len(d.asked), d.doctor, !d.offGrid, d.err, d.hang, d.delay, d.hook
	d.mu.Unlock()
	if hook != nil {
		hook(n)
	}
	if hang != nil {
		<-hang
	}
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			return service.SlotCheck{}, ctx.Err()
		}
	}
	if err != nil {
		return service.SlotCheck{}, err
	}
	return service.SlotCheck{Doctor: doc, OnGrid: onGrid}, nil
}

func (d *changingDoctor) Me(context.Context) (service.Doctor, error) {
	return d.Get(context.Background(), "")
}

func (d *changingDoctor) Get(context.Context, string) (service.Doctor, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.doctor, nil
}

func (d *changingDoctor) change(f func(d *changingDoctor)) {
	d.mu.Lock()
	defer d.mu.Unlock()
	f(d)
	d.asked = nil
}

func (d *changingDoctor) askedAbout() []service.Range {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]service.Range(nil), d.asked...)
}

// freedSlot is a patient's booking of 2030-01-15 09:00-09:30 UTC with a
// doctor, and another patient waiting for that day, on the SQLite store.
type freedSlot struct {
	svc     service.Service
	db      *sqldb.DB
	doctors *changingDoctor
	booker  authn.Principal
	waiter  authn.Principal
	doc     authn.Principal
	booked  string
	log     *bytes.Buffer
	clock   *clocktest.Clock
}

func newFreedSlot(t *testing.T) freedSlot {
	t.Helper()
	ctx := context.Background()
	db := sqltest.SQLite(t, sqlstore.Migrations())
	doctors := &changingDoctor{doctor: service.Doctor{ID: ids.New(), UserID: ids.New(), Name: "Ada Lovelace", TimeZone: "UTC", Active: true}}
	dir := &patientsByUser{all: map[string]*service.Patient{}}
	principal := func() authn.Principal {
		p := authn.Principal{UserID: ids.New(), Roles: []string{authn.RolePatient}}
		dir.all[p.UserID] = &service.Patient{ID: ids.New(), UserID: p.UserID, Active: true, Version: 1}
		return p
	}
	booker, waiter := principal(), principal()
	var buf bytes.Buffer
	clk := clocktest.New(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	svc := service.New(sqlstore.New(db), doctors, dir, clk, ids.New,
		service.Options{Logger: log.NewLogfmtLogger(log.NewSyncWriter(&buf))})
	booked, err := svc.Book(authn.NewContext(ctx, booker), booker, service.BookInput{DoctorID: doctors.doctor.ID,
		Start: "2030-01-15T09:00:00Z", End: "2030-01-15T09:30:00Z"})
	require.NoError(t, err)
	_, err = svc.JoinWaitlist(authn.NewContext(ctx, waiter), waiter, service.WaitlistInput{DoctorID: doctors.doctor.ID, Date: "2030-01-15"})
	require.NoError(t, err)
	doc := authn.Principal{UserID: doctors.doctor.UserID, Roles: []string{authn.RoleDoctor}}
	return freedSlot{svc: svc, db: db, doctors: doctors, booker: booker, waiter: waiter, doc: doc, booked: booked.Appointment.ID,
		log: &buf, clock: clk}
}

// cancel cancels the booking as its patient, returning how long it took.
func (f freedSlot) cancel(t *testing.T) time.Duration {
	t.Helper()
	began := time.Now()
	_, err := f.svc.Cancel(authn.NewContext(context.Background(), f.booker), f.booker, f.booked, 0, service.CancelInput{})
	took := time.Since(began)
	require.NoError(t, err)
	return took
}

// offeredTo lists the patient users the freed slot was offered to.
func (f freedSlot) offeredTo(t *testing.T) []string {
	t.Helper()
	return slotsOfferedTo(t, f.db)
}

// slotsOfferedTo lists the patient users freed slots were offered to, in
// the order of the offers.
func slotsOfferedTo(t *testing.T, db *sqldb.DB) []string {
	t.Helper()
	var out []string
	for _, ev := range outboxtest.Events(t, db, service.TypeSlotFreed) {
		var d service.SlotFreedData
		require.NoError(t, ev.Decode(&d))
		out = append(out, d.OfferedToPatientUserID)
	}
	return out
}

func (f freedSlot) waits(t *testing.T) int {
	t.Helper()
	mine, err := f.svc.MyWaitlist(authn.NewContext(context.Background(), f.waiter), f.waiter)
	require.NoError(t, err)
	return len(mine)
}

var freedTime = []service.Range{{Start: time.Date(2030, 1, 15, 9, 0, 0, 0, time.UTC), End: time.Date(2030, 1, 15, 9, 30, 0, 0, time.UTC)}}

// TestAFreedSlotNobodyCanBookIsOfferedToNobody: the clinic cancels a
// booking stranded by the doctor's deactivation or new hours (or the doctor
// is gone): the doctor service says the time cannot be booked, so no
// waiting patient is told of it and their wait stays for a real slot.
func TestAFreedSlotNobodyCanBookIsOfferedToNobody(t *testing.T) {
	for name, change := range map[string]func(d *changingDoctor){
		"doctor inactive": func(d *changingDoctor) { d.doctor.Active = false },
		"off the grid":    func(d *changingDoctor) { d.offGrid = true },
		"doctor unknown":  func(d *changingDoctor) { d.err = service.ErrUnknownDoctor },
		"record unusable": func(d *changingDoctor) {
			d.err = domainerr.New(domainerr.Conflict, "the doctor service cannot use its record as it stands")
		},
	} {
		t.Run(name, func(t *testing.T) {
			f := newFreedSlot(t)
			f.doctors.change(change)
			f.cancel(t)
			assert.Equal(t, freedTime, f.doctors.askedAbout(), "the doctor service is asked about the freed time")
			assert.Empty(t, f.offeredTo(t), "nobody is offered the slot")
			assert.Equal(t, 1, f.waits(t), "the wait stays on the list")
		})
	}
}

// TestAFreedSlotIsOfferedWhenTheDoctorServiceCannotSay: the doctor service
// fails, or hangs (a check that heeds no deadline): the slot is offered as
// it would be without the check, the cancellation answers within about
// the check's budget, and a warning names the appointment and no patient.
func TestAFreedSlotIsOfferedWhenTheDoctorServiceCannotSay(t *testing.T) {
	for name, change := range map[string]func(d *changingDoctor){
		"fails": func(d *changingDoctor) { d.err = errors.New("doctor service: status 503") },
		"hangs": func(d *changingDoctor) {
			release := make(chan struct{})
			t.Cleanup(func() { close(release) })
			d.hang = release
		},
	} {
		t.Run(name, func(t *testing.T) {
			f := newFreedSlot(t)
			f.doctors.change(change)
			took := f.cancel(t)
			assert.Less(t, took, time.Second, "the cancellation waits for the doctor service no longer than the budget")
			assert.Equal(t, freedTime, f.doctors.askedAbout())
			assert.Equal(t, []string{f.waiter.UserID}, f.offeredTo(t), "the waiting patient is offered the slot")
			assert.Zero(t, f.waits(t))
			line := f.log.String()
			assert.Contains(t, line, "level=warn")
			assert.Contains(t, line, "freed slot not checked")
			assert.Contains(t, line, "appointmentId="+f.booked)
			assert.NotContains(t, line, f.waiter.UserID)
			assert.NotContains(t, line, f.booker.UserID)
			assert.NotContains(t, line, "09:00")
		})
	}
}

// TestABookableFreedSlotIsOffered: the doctor service says the freed time
// can be booked: the first patient waiting is offered it, as ever, and
// nothing is logged.
func TestABookableFreedSlotIsOffered(t *testing.T) {
	f := newFreedSlot(t)
	f.doctors.change(func(*changingDoctor) {})
	f.cancel(t)
	assert.Equal(t, freedTime, f.doctors.askedAbout(), "the doctor service is asked about the freed time")
	assert.Equal(t, []string{f.waiter.UserID}, f.offeredTo(t))
	assert.Zero(t, f.waits(t), "the offered wait leaves the list")
	assert.NotContains(t, f.log.String(), "level=warn")
}

// TestATimeBegunIsNotChecked: a time that has begun is offered to nobody,
// so the doctor service is not asked about it.
func TestATimeBegunIsNotChecked(t *testing.T) {
	f := newFreedSlot(t)
	f.doctors.change(func(*changingDoctor) {})
	f.clock.Set(freedTime[0].Start.Add(time.Minute))
	dr := authn.Principal{UserID: f.doctors.doctor.UserID, Roles: []string{authn.RoleDoctor}}
	_, err := f.svc.Cancel(authn.NewContext(context.Background(), dr), dr, f.booked, 0, service.CancelInput{Reason: "doctor-request"})
	require.NoError(t, err)
	assert.Empty(t, f.doctors.askedAbout())
	assert.Empty(t, f.offeredTo(t))
}

// TestARescheduleAsksOfItsNewAndOldTimeAtOnce: the new time's check and the
// old time's (may it go to the waitlist?) are asked together, so a doctor
// service answering in 300 ms makes a reschedule wait 300 ms, not 600.
func TestARescheduleAsksOfItsNewAndOldTimeAtOnce(t *testing.T) {
	f := newFreedSlot(t)
	f.doctors.change(func(d *changingDoctor) { d.delay = 300 * time.Millisecond })
	began := time.Now()
	_, err := f.svc.Reschedule(authn.NewContext(context.Background(), f.booker), f.booker, f.booked, 0,
		service.RescheduleInput{Start: "2030-01-16T09:00:00Z", End: "2030-01-16T09:30:00Z"})
	took := time.Since(began)
	require.NoError(t, err)
	assert.Less(t, took, 500*time.Millisecond, "the new and the old time are checked at once")
}

// TestACallerWhoLeftLogsNoUncheckedSlot: a caller who leaves while the
// doctor service is asked abandons the cancellation; nothing is written or
// offered, and no line blames the doctor service.
func TestACallerWhoLeftLogsNoUncheckedSlot(t *testing.T) {
	f := newFreedSlot(t)
	ctx, cancel := context.WithCancel(authn.NewContext(context.Background(), f.booker))
	defer cancel()
	f.doctors.change(func(d *changingDoctor) {
		d.delay = 10 * time.Second
		d.hook = func(int) { cancel() }
	})
	_, err := f.svc.Cancel(ctx, f.booker, f.booked, 0, service.CancelInput{})
	require.Error(t, err, "the caller left: the cancellation is abandoned")
	assert.NotContains(t, f.log.String(), "freed slot not checked", "nothing was offered, and the doctor service was not at fault")
}

// TestACancelRunAgainAsksOfItsFreedTimeOnce: a cancellation sent without
// If-Match runs again when another change wins the race; the doctor
// service's word on the freed time, or its silence, is taken once: one
// wait of at most 500 ms, one warning.
func TestACancelRunAgainAsksOfItsFreedTimeOnce(t *testing.T) {
	f := newFreedSlot(t)
	f.doctors.change(func(d *changingDoctor) {
		d.delay = 10 * time.Second // slow: the budget cuts every check
		d.hook = func(n int) {
			if n == 1 {
				// Another change lands while the doctor service is asked:
				// the doctor marks the patient arrived.
				_, err := f.svc.ChangeStatus(authn.NewContext(context.Background(), f.doc), f.doc, f.booked, 0, "arrived")
				require.NoError(t, err)
			}
		}
	})
	began := time.Now()
	_, err := f.svc.Cancel(authn.NewContext(context.Background(), f.doc), f.doc, f.booked, 0, service.CancelInput{Reason: "clinic"})
	took := time.Since(began)
	require.NoError(t, err)
	assert.Less(t, took, 800*time.Millisecond, "the cancellation waits for the doctor service once, within its 500 ms budget")
	assert.Equal(t, 1, strings.Count(f.log.String(), "freed slot not checked"), "one freed slot, one warning:\n%s", f.log.String())
}
