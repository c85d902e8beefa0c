package service_test

import (
	"context"
	"crypto/rand"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/auth/service"
	"github.com/medisync/medisync/shared/events"
	"github.com/medisync/medisync/shared/events/schematest"
	"github.com/medisync/medisync/shared/outbox/outboxtest"
	"github.com/medisync/medisync/shared/seal"
	"github.com/medisync/medisync/shared/sqldb"
)

// outboxEvents reads the events auth wrote, in order.
func outboxEvents(t *testing.T, db *sqldb.DB) []events.Event {
	t.Helper()
	return outboxtest.Events(t, db, "")
}

func TestRegistrationAndResetWriteTheirEvents(t *testing.T) {
	ctx := context.Background()
	deps, _, db := newDeps(t)
	raw := make([]byte, seal.KeySize)
	_, _ = rand.Read(raw)
	key, err := seal.NewKey(raw)
	require.NoError(t, err)
	deps.EventSeal, deps.ResetURL = &key, "https://clinic.example/reset-password"
	svc := service.New(deps, service.Config{})

	registerPat(t, svc)
	evs := outboxEvents(t, db)
	require.Len(t, evs, 1)
	assert.Equal(t, service.EventUserRegistered, evs[0].Type)
	schematest.Validate(t, evs[0])
	var reg struct{ UserID, Email, Role, Language string }
	require.NoError(t, evs[0].Decode(&reg))
	assert.Equal(t, evs[0].Subject, reg.UserID)
	assert.Equal(t, "pat@example.org", reg.Email)
	assert.Equal(t, "PATIENT", reg.Role)

	require.NoError(t, svc.ForgotPassword(ctx, "pat@example.org"))
	evs = outboxEvents(t, db)
	require.Len(t, evs, 2)
	reset := evs[1]
	assert.Equal(t, service.EventPasswordResetRequested, reset.Type)
	schematest.Validate(t, reset)
	var data struct{ SealedLink string }
	require.NoError(t, reset.Decode(&data))
	assert.NotContains(t, string(reset.Data), "token=", "the link never travels in clear")
	link, err := key.Open(data.SealedLink, []byte(reset.ID))
	require.NoError(t, err, "sealed to this event")
	assert.True(t, strings.HasPrefix(string(link), "https://clinic.example/reset-password?token="))
	token := strings.TrimPrefix(string(link), "https://clinic.example/reset-password?token=")
	require.NoError(t, svc.ResetPassword(ctx, token, "amber kettle horizon"), "the sealed link resets the password")

	require.NoError(t, svc.ForgotPassword(ctx, "ghost@example.org"))
	assert.Len(t, outboxEvents(t, db), 2, "no account, no event")
}

func TestWithoutASealKeyAResetWritesNoEvent(t *testing.T) {
	deps, _, db := newDeps(t)
	svc := service.New(deps, service.Config{})
	registerPat(t, svc)
	require.NoError(t, svc.ForgotPassword(context.Background(), "pat@example.org"))
	evs := outboxEvents(t, db)
	require.Len(t, evs, 1)
	assert.Equal(t, service.EventUserRegistered, evs[0].Type)
}
