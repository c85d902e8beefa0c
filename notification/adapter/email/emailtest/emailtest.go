// Package emailtest runs an in-process SMTP server (emersion/go-smtp) with
// STARTTLS and PLAIN authentication that keeps what it receives, can go
// down and come back on the same address, and parses the MIME messages.
package emailtest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"mime"
	"mime/multipart"
	"net"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/notification/adapter/email"
)

// The account the server accepts.
const (
	Username = "mailer"
	Password = "s3cret-mail"
)

// Received is one message as it arrived.
type Received struct {
	From string
	To   []string
	Raw  []byte
}

// Server is the test SMTP server.
type Server struct {
	Addr string
	// ClientTLS trusts the server's certificate.
	ClientTLS *tls.Config

	t        testing.TB
	tls      *tls.Config
	implicit bool // TLS from the first byte (port 465), not STARTTLS
	mu       sync.Mutex
	srv      *smtp.Server
	msgs     []Received
	reject   bool
}

// NewServer starts a server on 127.0.0.1, stopped when the test ends.
func NewServer(t testing.TB) *Server { return newServer(t, false) }

// NewImplicitTLSServer starts a server that speaks TLS from the first byte.
func NewImplicitTLSServer(t testing.TB) *Server { return newServer(t, true) }

func newServer(t testing.TB, implicit bool) *Server {
	cert, pool := selfSigned(t)
	s := &Server{t: t, tls: &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, implicit: implicit,
		ClientTLS: &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s.Addr = ln.Addr().String()
	s.serve(ln)
	t.Cleanup(s.Down)
	return s
}

// Config is the mailer configuration for this server.
func (s *Server) Config() email.SMTPConfig {
	mode := email.StartTLS
	if s.implicit {
		mode = email.Implicit
	}
	return email.SMTPConfig{Addr: s.Addr, Username: Username, Password: Password, From: "MediSync <no-reply@medisync.test>",
		TLS: mode, TLSConfig: s.ClientTLS, Timeout: 5 * time.Second}
}

func (s *Server) serve(ln net.Listener) {
	if s.implicit {
		ln = tls.NewListener(ln, s.tls)
	}
	srv := smtp.NewServer(backend{s})
	srv.Domain = "127.0.0.1"
	srv.TLSConfig = s.tls
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	s.mu.Lock()
	s.srv = srv
	s.mu.Unlock()
	go func() { _ = srv.Serve(ln) }()
}

// Down stops the server: connections are refused.
func (s *Server) Down() {
	s.mu.Lock()
	srv := s.srv
	s.srv = nil
	s.mu.Unlock()
	if srv != nil {
		_ = srv.Close()
	}
}

// Up starts the server again on the same address.
func (s *Server) Up() {
	ln, err := net.Listen("tcp", s.Addr)
	require.NoError(s.t, err)
	s.serve(ln)
}

// Reject makes the server refuse every recipient with a 550.
func (s *Server) Reject(on bool) {
	s.mu.Lock()
	s.reject = on
	s.mu.Unlock()
}

// Messages returns what arrived so far.
func (s *Server) Messages() []Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Received(nil), s.msgs...)
}

type backend struct{ s *Server }

func (b backend) NewSession(*smtp.Conn) (smtp.Session, error) { return &session{s: b.s}, nil }

type session struct {
	s      *Server
	authed bool
	from   string
	to     []string
}

func (ss *session) AuthMechanisms() []string { return []string{sasl.Plain} }

func (ss *session) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, username, password string) error {
		if username != Username || password != Password {
			return errors.New("invalid credentials")
		}
		ss.authed = true
		return nil
	}), nil
}

func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	if !ss.authed {
		return smtp.ErrAuthRequired
	}
	ss.from = from
	return nil
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.s.mu.Lock()
	reject := ss.s.reject
	ss.s.mu.Unlock()
	if reject {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such mailbox"}
	}
	ss.to = append(ss.to, to)
	return nil
}

func (ss *session) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	ss.s.mu.Lock()
	ss.s.msgs = append(ss.s.msgs, Received{From: ss.from, To: ss.to, Raw: raw})
	ss.s.mu.Unlock()
	return nil
}

func (ss *session) Reset()        { ss.from, ss.to = "", nil }
func (ss *session) Logout() error { return nil }

func selfSigned(t testing.TB) (tls.Certificate, *x509.CertPool) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	leaf, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

// Parsed is a received message taken apart.
type Parsed struct {
	Subject   string
	To        string
	MessageID string
	MediaType string // of the whole message
	Text      string
	HTML      string
}

// Parse reads a MIME message with its plain and HTML alternatives.
func Parse(t testing.TB, raw []byte) Parsed {
	t.Helper()
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	require.NoError(t, err)
	dec := new(mime.WordDecoder)
	subject, err := dec.DecodeHeader(m.Header.Get("Subject"))
	require.NoError(t, err)
	p := Parsed{Subject: subject, To: m.Header.Get("To"), MessageID: m.Header.Get("Message-Id")}
	mt, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	require.NoError(t, err)
	p.MediaType = mt
	if !strings.HasPrefix(mt, "multipart/") {
		body, err := io.ReadAll(m.Body)
		require.NoError(t, err)
		p.Text = strings.ReplaceAll(string(body), "\r\n", "\n")
		return p
	}
	mr := multipart.NewReader(m.Body, params["boundary"])
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		body, err := io.ReadAll(part)
		require.NoError(t, err)
		pt, _, _ := mime.ParseMediaType(part.Header.Get("Content-Type"))
		// Mail lines end in CRLF on the wire; tests compare with "\n".
		text := strings.ReplaceAll(string(body), "\r\n", "\n")
		switch pt {
		case "text/plain":
			p.Text = text
		case "text/html":
			p.HTML = text
		}
	}
	return p
}
