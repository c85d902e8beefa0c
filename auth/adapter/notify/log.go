// Package notify delivers password reset links. The development adapter
// writes the link to the log, so that whoever runs the system locally can
// finish a reset; a mail adapter would implement the same port.
package notify

import (
	"context"
	"net/url"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"

	"github.com/medisync/medisync/auth/service"
	"github.com/medisync/medisync/shared/logging"
)

// Log writes reset links to a logger. It logs the link (which holds the
// single-use token, by design of this adapter), the user id and the expiry;
// never the email address or any password.
type Log struct {
	Logger log.Logger
	// BaseURL is the page that accepts the token, e.g.
	// http://localhost:8080/reset-password; the token goes in ?token=.
	BaseURL string
}

var _ service.Notifier = Log{}

// PasswordReset logs the reset link.
func (l Log) PasswordReset(ctx context.Context, r service.PasswordReset) error {
	link := l.BaseURL + "?token=" + url.QueryEscape(r.Token)
	return level.Info(logging.FromContext(ctx, l.Logger)).Log(
		"msg", "password reset link (development notifier)",
		"userId", r.UserID, "expiresAt", r.ExpiresAt.UTC().Format(time.RFC3339), "link", link)
}
