package email_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/notification/adapter/email"
	"github.com/medisync/medisync/notification/adapter/email/emailtest"
	"github.com/medisync/medisync/notification/service"
	"github.com/medisync/medisync/shared/ids"
)

func mail() service.Mail {
	return service.Mail{ID: ids.New(), To: "ada@example.org", Subject: "Ihr Termin bei Dr. Müller ist gebucht",
		Text: "Guten Tag,\nIhr Termin ist gebucht.", HTML: "<p>Guten Tag,</p><p>Ihr Termin ist <strong>gebucht</strong>.</p>",
		Date: time.Date(2027, 3, 1, 9, 0, 0, 0, time.UTC)}
}

func TestSMTPSendsMultipartOverSTARTTLSWithAuth(t *testing.T) {
	srv := emailtest.NewServer(t)
	m, err := email.NewSMTP(srv.Config())
	require.NoError(t, err)
	msg := mail()
	require.NoError(t, m.Send(context.Background(), msg))

	got := srv.Messages()
	require.Len(t, got, 1)
	assert.Equal(t, []string{"ada@example.org"}, got[0].To)
	assert.Equal(t, "no-reply@medisync.test", got[0].From)
	p := emailtest.Parse(t, got[0].Raw)
	assert.Equal(t, "multipart/alternative", p.MediaType)
	assert.Equal(t, msg.Subject, p.Subject, "a non-ASCII subject survives encoding")
	assert.Equal(t, "<"+msg.ID+"@medisync>", p.MessageID)
	assert.Equal(t, msg.Text, p.Text)
	assert.Equal(t, msg.HTML, p.HTML)
}

func TestSMTPSendsOverImplicitTLSWithAuth(t *testing.T) {
	srv := emailtest.NewImplicitTLSServer(t)
	m, err := email.NewSMTP(srv.Config())
	require.NoError(t, err)
	require.NoError(t, m.Send(context.Background(), mail()))
	assert.Len(t, srv.Messages(), 1)

	cfg := srv.Config()
	cfg.TLSConfig = nil // the system roots do not know the test certificate
	m, err = email.NewSMTP(cfg)
	require.NoError(t, err)
	assert.Error(t, m.Send(context.Background(), mail()))
	assert.Len(t, srv.Messages(), 1, "nothing goes out over an unverified connection")
}

// silentServer accepts connections and never says a word: a hung server,
// or a middlebox that swallows the traffic.
func silentServer(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	return ln.Addr().String()
}

func TestSMTPGivesUpOnASilentServerAfterItsTimeout(t *testing.T) {
	for _, mode := range []email.TLSMode{email.StartTLS, email.Implicit, email.NoTLS} {
		m, err := email.NewSMTP(email.SMTPConfig{Addr: silentServer(t), From: "a@example.org", TLS: mode, Timeout: 300 * time.Millisecond})
		require.NoError(t, err)
		start := time.Now()
		err = m.Send(context.Background(), mail())
		require.Error(t, err, mode)
		assert.NotErrorIs(t, err, service.ErrMailRejected, "worth another attempt")
		assert.Less(t, time.Since(start), 3*time.Second, "%s: the greeting is bounded by the timeout", mode)
	}
}

func TestSMTPStopsWaitingWhenItsContextEnds(t *testing.T) {
	m, err := email.NewSMTP(email.SMTPConfig{Addr: silentServer(t), From: "a@example.org", Timeout: time.Minute})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(200*time.Millisecond, cancel)
	start := time.Now()
	err = m.Send(ctx, mail())
	assert.ErrorIs(t, err, context.Canceled)
	assert.Less(t, time.Since(start), 3*time.Second, "a stopping worker is not held by the server")
}

func TestSMTPRefusesWrongCredentials(t *testing.T) {
	srv := emailtest.NewServer(t)
	cfg := srv.Config()
	cfg.Password = "wrong"
	m, err := email.NewSMTP(cfg)
	require.NoError(t, err)
	assert.Error(t, m.Send(context.Background(), mail()))
	assert.Empty(t, srv.Messages())
}

func TestSMTPNeedsTLSItTrusts(t *testing.T) {
	srv := emailtest.NewServer(t)
	cfg := srv.Config()
	cfg.TLSConfig = nil // the system roots do not know the test certificate
	m, err := email.NewSMTP(cfg)
	require.NoError(t, err)
	assert.Error(t, m.Send(context.Background(), mail()))
	assert.Empty(t, srv.Messages(), "nothing goes out over an unverified connection")
}

func TestSMTPErrors(t *testing.T) {
	srv := emailtest.NewServer(t)
	m, err := email.NewSMTP(srv.Config())
	require.NoError(t, err)

	srv.Reject(true)
	err = m.Send(context.Background(), mail())
	assert.ErrorIs(t, err, service.ErrMailRejected, "a 550 is permanent")

	srv.Reject(false)
	srv.Down()
	err = m.Send(context.Background(), mail())
	require.Error(t, err)
	assert.NotErrorIs(t, err, service.ErrMailRejected, "a server that is down is worth another attempt")
}

func TestSMTPRefusedMessageKeepsItsKind(t *testing.T) {
	for reply, rejected := range map[string]bool{"554 5.7.1 refused": true, "451 4.3.0 try later": false} {
		srv := emailtest.NewScripted(t, reply, nil)
		m, err := email.NewSMTP(srv.Config())
		require.NoError(t, err)
		err = m.Send(context.Background(), mail())
		require.Error(t, err, reply)
		assert.Equal(t, rejected, errors.Is(err, service.ErrMailRejected), "%s: %v", reply, err)
	}
}

// The server has the message once it answered the DATA with a 250: what
// happens to QUIT after that must not fail the send, or the mail would go
// out again.
func TestSMTPAcceptedMessageIsSentWhateverBecomesOfQUIT(t *testing.T) {
	srv := emailtest.NewScripted(t, "", func(net.Conn) {}) // hangs up, no 221
	m, err := email.NewSMTP(srv.Config())
	require.NoError(t, err)
	require.NoError(t, m.Send(context.Background(), mail()))
	assert.Equal(t, 1, srv.Accepted())

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv = emailtest.NewScripted(t, "", func(c net.Conn) {
		cancel() // the service stops between the 250 and the 221
		time.Sleep(200 * time.Millisecond)
		_, _ = c.Write([]byte("221 bye\r\n"))
	})
	m, err = email.NewSMTP(srv.Config())
	require.NoError(t, err)
	require.NoError(t, m.Send(ctx, mail()))
	assert.Equal(t, 1, srv.Accepted())
}

func TestNewSMTPChecksItsConfiguration(t *testing.T) {
	for name, cfg := range map[string]email.SMTPConfig{
		"no port":           {Addr: "mail.example.org", From: "a@example.org"},
		"no from":           {Addr: "mail.example.org:587"},
		"from no address":   {Addr: "mail.example.org:587", From: "MediSync no-reply@medisync.local"},
		"bad tls":           {Addr: "mail.example.org:587", From: "a@example.org", TLS: "maybe"},
		"password in clear": {Addr: "mail.example.org:25", From: "a@example.org", TLS: email.NoTLS, Username: "u", Password: "p"},
	} {
		_, err := email.NewSMTP(cfg)
		assert.Error(t, err, name)
	}
}

func TestNewMailboxRefusesAFromThatIsNoAddress(t *testing.T) {
	_, err := email.NewMailbox(filepath.Join(t.TempDir(), "mail"), "MediSync no-reply@medisync.local")
	assert.Error(t, err)
}

func TestMailboxWritesEMLFilesAndListsThem(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "mail")
	b, err := email.NewMailbox(dir, "MediSync <no-reply@medisync.local>")
	require.NoError(t, err)
	msg := mail()
	require.NoError(t, b.Send(context.Background(), msg))
	require.NoError(t, b.Send(context.Background(), msg), "a repeat overwrites the same file")

	files, err := b.Files()
	require.NoError(t, err)
	require.Len(t, files, 1)
	raw, err := os.ReadFile(filepath.Join(dir, files[0]))
	require.NoError(t, err)
	p := emailtest.Parse(t, raw)
	assert.Equal(t, msg.Subject, p.Subject)
	assert.Equal(t, msg.Text, p.Text)
	assert.Equal(t, msg.HTML, p.HTML)

	h := b.Handler()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/dev/mail", nil))
	assert.Equal(t, http.StatusOK, rec.Code)
	assert.Contains(t, rec.Body.String(), files[0])

	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/dev/mail/"+files[0], nil))
	assert.Equal(t, http.StatusOK, rec.Code)
	assert.Contains(t, rec.Body.String(), "multipart/alternative")

	for _, bad := range []string{"/dev/mail/..%2f..%2fetc%2fpasswd", "/dev/mail/x.eml"} {
		rec = httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, bad, nil))
		assert.Equal(t, http.StatusNotFound, rec.Code, bad)
	}
}
