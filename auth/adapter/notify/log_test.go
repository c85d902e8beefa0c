package notify_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/go-kit/log"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/auth/adapter/notify"
	"github.com/medisync/medisync/auth/service"
)

const userID = "0190a4d2-0000-7000-8000-000000000001"

var reset = service.PasswordReset{
	UserID: userID, Email: "pat@example.org", FullName: "Pat Q",
	Token: "tok_en-123", ExpiresAt: time.Date(2030, 1, 1, 0, 30, 0, 0, time.UTC),
}

var exists = service.AccountExists{UserID: userID, Email: "pat@example.org", FullName: "Pat Q"}

func TestDefaultNotifierRevealsNoLink(t *testing.T) {
	var buf bytes.Buffer
	n, err := notify.New("", log.NewLogfmtLogger(&buf), "http://localhost:8080/reset-password")
	require.NoError(t, err)
	require.NoError(t, n.PasswordReset(context.Background(), reset))
	require.NoError(t, n.AccountExists(context.Background(), exists))
	out := buf.String()
	assert.Contains(t, out, "password reset requested")
	assert.Contains(t, out, "registration attempted for an existing account")
	assert.Contains(t, out, userID)
	for _, secret := range []string{"tok_en-123", "reset-password", "pat@example.org", "Pat Q"} {
		assert.NotContains(t, out, secret)
	}
}

func TestDevLogWritesTheLinkOnlyWhenChosenAndWarns(t *testing.T) {
	var buf bytes.Buffer
	n, err := notify.New("dev-log", log.NewLogfmtLogger(&buf), "http://localhost:8080/reset-password")
	require.NoError(t, err)
	assert.Contains(t, buf.String(), "level=warn", "choosing it is announced")
	assert.Contains(t, buf.String(), "DEVELOPMENT ONLY")
	buf.Reset()
	require.NoError(t, n.PasswordReset(context.Background(), reset))
	require.NoError(t, n.AccountExists(context.Background(), exists))
	out := buf.String()
	assert.Contains(t, out, "http://localhost:8080/reset-password?token=tok_en-123")
	assert.Contains(t, out, userID)
	assert.Contains(t, out, "2030-01-01T00:30:00Z")
	assert.NotContains(t, out, "pat@example.org", "no email address in the log")
	assert.NotContains(t, out, "Pat Q")
}

func TestUnknownNotifierIsRefused(t *testing.T) {
	_, err := notify.New("mail", log.NewNopLogger(), "")
	assert.ErrorContains(t, err, `unknown notifier "mail"`)
}
