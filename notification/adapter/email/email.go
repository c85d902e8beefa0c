// Package email sends the service's mail: over SMTP with STARTTLS (or
// implicit TLS) and authentication in production, or into a development
// mailbox of .eml files that a page lists.
package email

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"

	"github.com/medisync/medisync/notification/service"
)

// message builds the MIME message: multipart/alternative, plain text first
// and HTML second, with a Message-ID made of the delivery id so that a
// repeat attempt is recognisable as the same message.
func message(from string, m service.Mail) (*gomail.Msg, error) {
	msg := gomail.NewMsg()
	if err := msg.From(from); err != nil {
		return nil, fmt.Errorf("from address: %w", err)
	}
	if err := msg.To(m.To); err != nil {
		return nil, fmt.Errorf("%w: recipient address: %w", service.ErrMailRejected, err)
	}
	msg.Subject(m.Subject)
	msg.SetMessageIDWithValue(m.ID + "@medisync")
	if m.Date.IsZero() {
		msg.SetDate()
	} else {
		msg.SetDateWithValue(m.Date)
	}
	msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	msg.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
	return msg, nil
}

// checkFrom refuses at start a sender that message would refuse: found
// only at send time, it would fail every mail as a passing fault, each
// retried for days while the service reports ready.
func checkFrom(from string) error {
	if err := gomail.NewMsg().From(from); err != nil {
		return fmt.Errorf("from address %q: %w", from, err)
	}
	return nil
}

// TLSMode says how the SMTP connection is protected.
type TLSMode string

// The modes: STARTTLS required (the default), implicit TLS (port 465), or
// none, which must be asked for by name and never carries a password.
const (
	StartTLS TLSMode = "starttls"
	Implicit TLSMode = "tls"
	NoTLS    TLSMode = "none"
)

// SMTPConfig is the mail server.
type SMTPConfig struct {
	Addr     string // host:port
	Username string // empty: no authentication
	Password string
	From     string
	TLS      TLSMode
	// TLSConfig overrides the default (system roots, the host's name).
	TLSConfig *tls.Config
	Timeout   time.Duration
}

// SMTP is a Mailer over an SMTP server, one connection per message: mail
// volume is low, and a fresh connection notices a server that came back.
type SMTP struct {
	cfg  SMTPConfig
	host string
	port int
}

// NewSMTP checks cfg and returns the mailer.
func NewSMTP(cfg SMTPConfig) (*SMTP, error) {
	host, portStr, err := net.SplitHostPort(cfg.Addr)
	if err != nil || host == "" {
		return nil, fmt.Errorf("smtp address %q: want host:port", cfg.Addr)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 1 || port > 65535 {
		return nil, fmt.Errorf("smtp address %q: bad port", cfg.Addr)
	}
	if cfg.From == "" {
		return nil, errors.New("smtp: a From address is required")
	}
	if err := checkFrom(cfg.From); err != nil {
		return nil, fmt.Errorf("smtp: %w", err)
	}
	switch cfg.TLS {
	case "":
		cfg.TLS = StartTLS
	case StartTLS, Implicit:
	case NoTLS:
		if cfg.Username != "" {
			return nil, errors.New("smtp: refusing to send a password without TLS")
		}
	default:
		return nil, fmt.Errorf("smtp: TLS mode %q: want starttls, tls or none", cfg.TLS)
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 30 * time.Second
	}
	return &SMTP{cfg: cfg, host: host, port: port}, nil
}

// Send delivers m; a 5xx answer is service.ErrMailRejected. Once the
// server has accepted the message (its 250 after DATA), Send reports
// success whatever happens to the connection after: an error then would
// have the mail sent again.
func (s *SMTP) Send(ctx context.Context, m service.Mail) error {
	msg, err := message(s.cfg.From, m)
	if err != nil {
		return err
	}
	tlsConf := s.cfg.TLSConfig
	if tlsConf == nil {
		tlsConf = &tls.Config{ServerName: s.host, MinVersion: tls.VersionTLS12}
	}
	d := &dialer{ctx: ctx, timeout: s.cfg.Timeout}
	defer d.close()
	opts := []gomail.Option{gomail.WithPort(s.port), gomail.WithTimeout(s.cfg.Timeout), gomail.WithDialContextFunc(d.dial)}
	switch s.cfg.TLS {
	case StartTLS:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory), gomail.WithTLSConfig(tlsConf))
	case Implicit:
		// go-mail does the handshake only with its own dialer; ours does it.
		d.tls = tlsConf
		opts = append(opts, gomail.WithSSL(), gomail.WithTLSConfig(tlsConf))
	case NoTLS:
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	}
	if s.cfg.Username != "" {
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthPlain), gomail.WithUsername(s.cfg.Username), gomail.WithPassword(s.cfg.Password))
	}
	c, err := gomail.NewClient(s.host, opts...)
	if err != nil {
		return fmt.Errorf("smtp client: %w", err)
	}
	// Not DialAndSendWithContext: it fails the send when QUIT fails,
	// after the server took the message.
	sc, err := c.DialToSMTPClientWithContext(ctx)
	if err != nil {
		return s.failure(ctx, fmt.Errorf("dial failed: %w", err))
	}
	if err := c.SendWithSMTPClient(sc, msg); err != nil && !msg.IsDelivered() {
		_ = c.CloseWithSMTPClient(sc) // a courtesy QUIT; the attempt failed anyway
		return s.failure(ctx, fmt.Errorf("send failed: %w", err))
	}
	// Accepted (go-mail may still report the RSET that follows the 250):
	// a stop must no longer cut the connection, and QUIT is a courtesy
	// whose failure changes nothing. The deadline still bounds it.
	d.release()
	_ = c.CloseWithSMTPClient(sc)
	return nil
}

// failure classifies an attempt that failed before the server accepted
// the message: a permanent 5xx is service.ErrMailRejected, anything else
// is worth another attempt.
func (s *SMTP) failure(ctx context.Context, err error) error {
	var se *gomail.SendError
	if errors.As(err, &se) && !se.IsTemp() && se.ErrorCode() >= 500 {
		return fmt.Errorf("%w: %s", service.ErrMailRejected, oneLine(err))
	}
	if cerr := ctx.Err(); cerr != nil {
		// The connection was closed under go-mail: say why.
		return fmt.Errorf("smtp %s: %w: %s", s.cfg.Addr, cerr, oneLine(err))
	}
	return fmt.Errorf("smtp %s: %s", s.cfg.Addr, oneLine(err))
}

// dialer opens Send's connections so that no step of the dialogue waits
// for ever. go-mail 0.7.2 bounds only the TCP connect by its timeout and
// context: a server that accepts and then says nothing would hold the
// greeting, EHLO, STARTTLS or AUTH, and with it the mail worker and the
// service's shutdown, for good. So each connection gets a deadline of
// timeout at once (go-mail moves it to now+timeout before the message,
// which covers MAIL, RCPT, DATA and QUIT of one small mail), and is closed
// when Send's context ends before the server accepted the message. The
// context go-mail passes to dial is not that one: it is cancelled as soon
// as the dialogue's opening returns.
type dialer struct {
	ctx     context.Context
	timeout time.Duration
	tls     *tls.Config // implicit TLS; nil: plain TCP (STARTTLS or none)
	stops   []func() bool
	conns   []net.Conn
}

func (d *dialer) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	var nd net.Dialer
	conn, err := nd.DialContext(ctx, network, addr)
	if err != nil {
		return nil, fmt.Errorf("dial: %w", err)
	}
	if err := conn.SetDeadline(time.Now().Add(d.timeout)); err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("dial: set deadline: %w", err)
	}
	d.conns = append(d.conns, conn)
	d.stops = append(d.stops, context.AfterFunc(d.ctx, func() { _ = conn.Close() }))
	if d.tls == nil {
		return conn, nil
	}
	// A *tls.Conn itself, not a wrapper: go-mail's PLAIN authentication
	// looks for one to know the connection is encrypted.
	tc := tls.Client(conn, d.tls)
	if err := tc.HandshakeContext(ctx); err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("tls handshake: %w", err)
	}
	return tc, nil
}

// release drops the close-on-cancel of Send's connections: once the
// server has the message, a stop must not cut the QUIT.
func (d *dialer) release() {
	for _, stop := range d.stops {
		stop()
	}
	d.stops = nil
}

// close releases and closes Send's connections when it returns: go-mail
// leaves a connection open when the dialogue's opening or QUIT fails.
func (d *dialer) close() {
	d.release()
	for _, conn := range d.conns {
		_ = conn.Close()
	}
}

func oneLine(err error) string { return strings.Join(strings.Fields(err.Error()), " ") }
