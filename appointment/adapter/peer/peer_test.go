package peer

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/appointment/service"
	"github.com/medisync/medisync/shared/authn"
	"github.com/medisync/medisync/shared/domainerr"
)

func TestDoctorsAndPatientsOnTheCallersBehalf(t *testing.T) {
	var auth atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth.Store(r.Header.Get("Authorization"))
		switch r.URL.Path {
		case "/api/v1/doctors/d1/slot-check":
			assert.Equal(t, "2030-01-15T10:00:00Z", r.URL.Query().Get("start"))
			_, _ = w.Write([]byte(`{"doctorId":"d1","userId":"u1","firstName":"Greg","lastName":"House","timeZone":"America/New_York","active":true,"onGrid":true}`))
		case "/api/v1/patients/me":
			_, _ = w.Write([]byte(`{"id":"p1","userId":"u2","active":true,"firstName":"Alice","version":7}`))
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	defer srv.Close()
	ctx := authn.WithToken(context.Background(), "tok")
	docs := NewDoctors(srv.Client(), Options{BaseURL: srv.URL})
	start := time.Date(2030, 1, 15, 10, 0, 0, 0, time.UTC)
	c, err := docs.CheckSlot(ctx, "d1", start, start.Add(30*time.Minute))
	require.NoError(t, err)
	assert.Equal(t, service.SlotCheck{Doctor: service.Doctor{ID: "d1", UserID: "u1", Name: "Greg House",
		TimeZone: "America/New_York", Active: true}, OnGrid: true}, c)
	assert.Equal(t, "Bearer tok", auth.Load())
	// The doctor service compares the very instants the booking would store.
	var sent atomic.Value
	exact := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sent.Store(r.URL.Query().Get("start") + " " + r.URL.Query().Get("end"))
		_, _ = w.Write([]byte(`{"doctorId":"d1","active":true,"onGrid":false}`))
	}))
	defer exact.Close()
	_, err = NewDoctors(exact.Client(), Options{BaseURL: exact.URL}).CheckSlot(ctx, "d1",
		start.Add(500*time.Millisecond), start.Add(30*time.Minute+time.Nanosecond))
	require.NoError(t, err)
	assert.Equal(t, "2030-01-15T10:00:00.5Z 2030-01-15T10:30:00.000000001Z", sent.Load())
	_, err = docs.Get(ctx, "nobody")
	assert.ErrorIs(t, err, service.ErrUnknownDoctor)

	pats := NewPatients(srv.Client(), Options{BaseURL: srv.URL})
	p, err := pats.Me(ctx)
	require.NoError(t, err)
	assert.Equal(t, service.Patient{ID: "p1", UserID: "u2", Active: true, Version: 7}, p, "the version its events carry")
	_, err = pats.Get(ctx, "nobody")
	assert.ErrorIs(t, err, service.ErrUnknownPatient)
}

// A doctor whose stored time zone no longer loads gets a 409 from the doctor
// service's slot check; the booking passes it on, not a 500.
func TestAPeerRecordThatCannotBeUsedIsAConflict(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(http.StatusConflict)
		_, _ = w.Write([]byte(`{"status":409,"title":"Conflict"}`))
	}))
	defer srv.Close()
	start := time.Date(2030, 1, 15, 10, 0, 0, 0, time.UTC)
	_, err := NewDoctors(srv.Client(), Options{BaseURL: srv.URL}).CheckSlot(context.Background(), "d1", start, start.Add(30*time.Minute))
	assert.True(t, errors.Is(err, domainerr.Conflict), "%v", err)
}

func TestAPeerThatCannotAnswerIsUnavailable(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		calls.Add(1)
		w.WriteHeader(http.StatusBadGateway)
	}))
	defer srv.Close()
	docs := NewDoctors(srv.Client(), Options{BaseURL: srv.URL, Failures: 2, OpenTimeout: time.Hour})
	for range 5 {
		_, err := docs.Get(context.Background(), "d1")
		require.Error(t, err)
		assert.True(t, errors.Is(err, domainerr.Unavailable), "%v", err)
	}
	assert.EqualValues(t, 2, calls.Load(), "the open breaker stops calling")

	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}))
	defer slow.Close()
	_, err := NewPatients(slow.Client(), Options{BaseURL: slow.URL, Timeout: 50 * time.Millisecond}).Me(context.Background())
	assert.True(t, errors.Is(err, domainerr.Unavailable), "%v", err)
}

func TestCallersThatHangUpDoNotOpenTheBreaker(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(`{"id":"p1","userId":"u2","active":true}`))
	}))
	defer srv.Close()
	pats := NewPatients(srv.Client(), Options{BaseURL: srv.URL, Failures: 2, OpenTimeout: time.Hour})
	gone, cancel := context.WithCancel(context.Background())
	cancel()
	for range 5 {
		_, err := pats.Me(gone)
		require.Error(t, err)
	}
	p, err := pats.Me(context.Background())
	require.NoError(t, err, "callers that went away are no failure of the patient service")
	assert.Equal(t, "p1", p.ID)
}

func TestATokenThePeerRefusesIsUnauthenticated(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		calls.Add(1)
		w.WriteHeader(http.StatusUnauthorized)
	}))
	defer srv.Close()
	docs := NewDoctors(srv.Client(), Options{BaseURL: srv.URL, Failures: 2, OpenTimeout: time.Hour})
	for range 4 {
		_, err := docs.Me(context.Background())
		assert.True(t, errors.Is(err, domainerr.Unauthenticated), "%v", err)
	}
	assert.EqualValues(t, 4, calls.Load(), "a refused token is no failure of the doctor service")
}
