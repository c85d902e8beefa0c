package service_test

import (
	"bytes"
	"context"
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
	"github.com/medisync/medisync/shared/ids"
	"github.com/medisync/medisync/shared/sqldb/sqltest"
)

// peerDoctor is a doctor directory that behaves as the real peer adapter
// does: it heeds its context, answering ctx.Err() when it is done. Each
// check takes delay (or until the context is done); before answering a
// check, hook (when set) runs with the check's number and context.
type peerDoctor struct {
	mu     sync.Mutex
	doctor service.Doctor
	delay  time.Duration
	hook   func(ctx context.Context, n int, start time.Time)
	n      int
}

func (d *peerDoctor) CheckSlot(ctx context.Context, _ string, start, _ time.Time) (service.SlotCheck, error) {
	d.mu.Lock()
	d.n++
	n, hook, delay, doc := d.n, d.hook, d.delay, d.doctor
	d.mu.Unlock()
	if hook != nil {
		hook(ctx, n, start)
	}
	select {
	case <-time.After(delay):
		return service.SlotCheck{Doctor: doc, OnGrid: true}, nil
	case <-ctx.Done():
		return service.SlotCheck{}, ctx.Err()
	}
}

func (d *peerDoctor) Me(context.Context) (service.Doctor, error)          { return d.doctor, nil }
func (d *peerDoctor) Get(context.Context, string) (service.Doctor, error) { return d.doctor, nil }

func (d *peerDoctor) set(f func(d *peerDoctor)) {
	d.mu.Lock()
	defer d.mu.Unlock()
	f(d)
	d.n = 0
}

type slotFixture struct {
	svc     service.Service
	doctors *peerDoctor
	booker  authn.Principal
	waiter  authn.Principal
	doc     authn.Principal
	booked  string
	log     *bytes.Buffer
}

// newSlotFixture: a booking 2030-01-15 09:00-09:30 UTC and, when wait, a
// patient waiting for that day, on the SQLite store.
func newSlotFixture(t *testing.T, wait bool) slotFixture {
	t.Helper()
	ctx := context.Background()
	db := sqltest.SQLite(t, sqlstore.Migrations())
	doctors := &peerDoctor{doctor: service.Doctor{ID: ids.New(), UserID: ids.New(), Name: "Ada Lovelace", TimeZone: "UTC", Active: true}}
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
	if wait {
		_, err = svc.JoinWaitlist(authn.NewContext(ctx, waiter), waiter, service.WaitlistInput{DoctorID: doctors.doctor.ID, Date: "2030-01-15"})
		require.NoError(t, err)
	}
	doc := authn.Principal{UserID: doctors.doctor.UserID, Roles: []string{authn.RoleDoctor}}
	return slotFixture{svc: svc, doctors: doctors, booker: booker, waiter: waiter, doc: doc, booked: booked.Appointment.ID, log: &buf}
}

// TestARescheduleAsksOfItsNewAndOldTimeAtOnce: the new time's check and the
// old time's (may it go to the waitlist?) are asked together, so a doctor
// service answering in 300 ms makes a reschedule wait 300 ms, not 600.
func TestARescheduleAsksOfItsNewAndOldTimeAtOnce(t *testing.T) {
	f := newSlotFixture(t, true)
	f.doctors.set(func(d *peerDoctor) { d.delay = 300 * time.Millisecond })
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
	f := newSlotFixture(t, true)
	ctx, cancel := context.WithCancel(authn.NewContext(context.Background(), f.booker))
	defer cancel()
	f.doctors.set(func(d *peerDoctor) {
		d.delay = 10 * time.Second
		d.hook = func(context.Context, int, time.Time) { cancel() }
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
	f := newSlotFixture(t, true)
	f.doctors.set(func(d *peerDoctor) {
		d.delay = 10 * time.Second // slow: the budget cuts every check
		d.hook = func(_ context.Context, n int, _ time.Time) {
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
