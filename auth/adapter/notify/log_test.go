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

func TestLogWritesTheLinkOnly(t *testing.T) {
	var buf bytes.Buffer
	n := notify.Log{Logger: log.NewLogfmtLogger(&buf), BaseURL: "http://localhost:8080/reset-password"}
	err := n.PasswordReset(context.Background(), service.PasswordReset{
		UserID: "0190a4d2-0000-7000-8000-000000000001", Email: "pat@example.org", FullName: "Pat Q",
		Token: "tok_en-123", ExpiresAt: time.Date(2030, 1, 1, 0, 30, 0, 0, time.UTC),
	})
	require.NoError(t, err)
	out := buf.String()
	assert.Contains(t, out, "http://localhost:8080/reset-password?token=tok_en-123")
	assert.Contains(t, out, "0190a4d2-0000-7000-8000-000000000001")
	assert.Contains(t, out, "2030-01-01T00:30:00Z")
	assert.NotContains(t, out, "pat@example.org", "no email address in the log")
	assert.NotContains(t, out, "Pat Q")
}
