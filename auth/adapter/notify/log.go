// Package notify holds the Notifier adapters that write to the log: the
// safe default, which records only that a notice was due, and a
// development-only one that writes reset links; a mail adapter would
// implement the same port.
package notify

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"

	"github.com/medisync/medisync/auth/service"
	"github.com/medisync/medisync/shared/logging"
)

// The names a notifier is chosen by (-notifier, MEDISYNC_NOTIFIER).
const (
	NameLog    = "log"
	NameDevLog = "dev-log"
)

// Names lists the notifiers New knows, the default first.
var Names = []string{NameLog, NameDevLog}

// New returns the notifier called name: "log" (also "") is Log, "dev-log"
// is DevLog, which logs a warning here because it puts live reset links in
// the log.
func New(name string, logger log.Logger, resetURL string) (service.Notifier, error) {
	switch name {
	case "", NameLog:
		return Log{Logger: logger}, nil
	case NameDevLog:
		_ = level.Warn(logger).Log("msg", "DEVELOPMENT ONLY notifier dev-log is on: password reset links, which take over accounts, are written to the log")
		return DevLog{Logger: logger, BaseURL: resetURL}, nil
	default:
		return nil, fmt.Errorf("unknown notifier %q (want %q or %q)", name, NameLog, NameDevLog)
	}
}

// Log records that a notice was due, for the user id only: no link, token,
// email address or name ever reaches the log. It delivers nothing, so with
// it nobody can finish a password reset; it is the default because a log
// is read by more people than a mailbox.
type Log struct {
	Logger log.Logger
}

var _ service.Notifier = Log{}

// PasswordReset records that a reset was requested.
func (l Log) PasswordReset(ctx context.Context, r service.PasswordReset) error {
	return level.Info(logging.FromContext(ctx, l.Logger)).Log(
		"msg", "password reset requested; no notifier delivers the link", "userId", r.UserID)
}

// AccountExists records that someone tried to register an existing address.
func (l Log) AccountExists(ctx context.Context, a service.AccountExists) error {
	return level.Info(logging.FromContext(ctx, l.Logger)).Log(
		"msg", "registration attempted for an existing account", "userId", a.UserID)
}

// DevLog is for development only: it writes reset links (which hold the
// single-use token) to the log, so that whoever runs the system locally can
// finish a reset. It logs the user id and expiry too; never the email
// address or any password.
type DevLog struct {
	Logger log.Logger
	// BaseURL is the page that accepts the token, e.g.
	// http://localhost:8080/reset-password; the token goes in ?token=.
	BaseURL string
}

var _ service.Notifier = DevLog{}

// PasswordReset logs the reset link.
func (l DevLog) PasswordReset(ctx context.Context, r service.PasswordReset) error {
	link := l.BaseURL + "?token=" + url.QueryEscape(r.Token)
	return level.Info(logging.FromContext(ctx, l.Logger)).Log(
		"msg", "password reset link (development-only notifier dev-log)",
		"userId", r.UserID, "expiresAt", r.ExpiresAt.UTC().Format(time.RFC3339), "link", link)
}

// AccountExists logs that someone tried to register an existing address.
func (l DevLog) AccountExists(ctx context.Context, a service.AccountExists) error {
	return Log{Logger: l.Logger}.AccountExists(ctx, a)
}
