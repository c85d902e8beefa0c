// Package brokertest gives tests real brokers on 127.0.0.1: the NATS server
// scripts/nats-up.sh starts, the RabbitMQ server scripts/rabbitmq-up.sh
// starts, or a NATS server run in the test's own process that the test can
// stop and start again. Under CI (CI=true) a server that does not answer
// fails the test instead of skipping it.
package brokertest

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Default servers, unless MEDISYNC_TEST_NATS_URL or MEDISYNC_TEST_AMQP_URL
// name others. The RabbitMQ virtual host is the one scripts/rabbitmq-up.sh
// makes for tests, where unused queues expire: every test run names its
// queues afresh.
const (
	DefaultNATS = "nats://127.0.0.1:4222"
	DefaultAMQP = "amqp://guest:guest@127.0.0.1:5672/medisync-test"
)

// Each runs fn as a subtest "nats" and a subtest "amqp", each with the URL
// of a running server.
func Each(t *testing.T, fn func(t *testing.T, url string)) {
	t.Helper()
	t.Run("nats", func(t *testing.T) { fn(t, NATS(t)) })
	t.Run("amqp", func(t *testing.T) { fn(t, AMQP(t)) })
}

// NATS returns the URL of the shared NATS server (JetStream on).
func NATS(t testing.TB) string {
	t.Helper()
	return require(t, env("MEDISYNC_TEST_NATS_URL", DefaultNATS), "scripts/nats-up.sh")
}

// AMQP returns the URL of the shared RabbitMQ server.
func AMQP(t testing.TB) string {
	t.Helper()
	return require(t, env("MEDISYNC_TEST_AMQP_URL", DefaultAMQP), "scripts/rabbitmq-up.sh")
}

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// require skips (or fails under CI) when nothing listens at rawURL.
func require(t testing.TB, rawURL, script string) string {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatalf("invalid broker URL for tests")
	}
	c, err := net.DialTimeout("tcp", u.Host, 2*time.Second)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is required under CI but %s does not answer (run %s): %v", u.Scheme, u.Host, script, err)
		}
		t.Skipf("%s tests skipped: nothing answers at %s (run %s)", u.Scheme, u.Host, script)
	}
	_ = c.Close()
	return rawURL
}

// Name returns a fresh lower-case name for a producer or consumer, so tests
// sharing a server never see each other's streams and durables.
func Name(prefix string) string {
	var b [5]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// Server is a NATS server with JetStream inside the test process, on a
// port of its own, with its store in a temporary folder that outlives
// Stop, so Start brings back what it held.
type Server struct {
	t    testing.TB
	opts server.Options
	srv  *server.Server
	log  *violations // with the permissions file's users only
}

// Embedded starts a server that stops when the test ends.
func Embedded(t testing.TB) *Server {
	t.Helper()
	return embedded(t, nil, nil)
}

// EmbeddedWithPermissions starts a server as Embedded does, with the users
// of deploy/nats/permissions.conf and extra (UserURL), which fails the test
// at its end if it refused any of them anything: the services then run
// with exactly the rights the file gives them.
func EmbeddedWithPermissions(t *testing.T, extra ...*server.User) *Server {
	t.Helper()
	s := embedded(t, append(PermissionsFileUsers(t), extra...), &violations{})
	t.Cleanup(func() {
		if v := s.TakeViolations(); len(v) > 0 {
			t.Errorf("the NATS server refused what deploy/nats/permissions.conf does not allow:\n%s", strings.Join(v, "\n"))
		}
	})
	return s
}

func embedded(t testing.TB, users []*server.User, log *violations) *Server {
	t.Helper()
	s := &Server{t: t, log: log, opts: server.Options{
		// The server picks its port at its first start and keeps it.
		Host: "127.0.0.1", Port: server.RANDOM_PORT, JetStream: true, StoreDir: t.TempDir(),
		NoLog: true, NoSigs: true, Users: users,
	}}
	s.Start()
	t.Cleanup(s.Stop)
	return s
}

// UserURL is where the user of the permissions file connects.
func (s *Server) UserURL(user string) string {
	s.t.Helper()
	for _, u := range s.opts.Users {
		if u.Username == user {
			return "nats://" + url.UserPassword(user, u.Password).String() + "@" + net.JoinHostPort(s.opts.Host, strconv.Itoa(s.opts.Port))
		}
	}
	s.t.Fatalf("brokertest: no NATS user %s", user)
	return ""
}

// Violations returns the refusals of a server with the permissions file's
// users so far.
func (s *Server) Violations() []string {
	if s.log == nil {
		return nil
	}
	s.log.mu.Lock()
	defer s.log.mu.Unlock()
	return slices.Clone(s.log.lines)
}

// TakeViolations returns the refusals of a server with the permissions
// file's users so far, and forgets them: a test that expects some takes
// them before the test's end judges the rest.
func (s *Server) TakeViolations() []string {
	if s.log == nil {
		return nil
	}
	s.log.mu.Lock()
	defer s.log.mu.Unlock()
	v := s.log.lines
	s.log.lines = nil
	return v
}

// violations keeps the server's log lines that refuse a client something.
type violations struct {
	mu    sync.Mutex
	lines []string
}

func (v *violations) add(format string, args ...any) {
	line := fmt.Sprintf(format, args...)
	if strings.Contains(line, "Violation") {
		v.mu.Lock()
		v.lines = append(v.lines, line)
		v.mu.Unlock()
	}
}

func (v *violations) Noticef(format string, args ...any) { v.add(format, args...) }
func (v *violations) Warnf(format string, args ...any)   { v.add(format, args...) }
func (v *violations) Fatalf(format string, args ...any)  { v.add(format, args...) }
func (v *violations) Errorf(format string, args ...any)  { v.add(format, args...) }
func (v *violations) Debugf(string, ...any)              {}
func (v *violations) Tracef(string, ...any)              {}

// URL is where clients connect.
func (s *Server) URL() string {
	return "nats://" + net.JoinHostPort(s.opts.Host, strconv.Itoa(s.opts.Port))
}

// Start starts the server (again).
func (s *Server) Start() {
	s.t.Helper()
	opts := s.opts
	srv, err := server.NewServer(&opts)
	if err != nil {
		s.t.Fatalf("nats server: %v", err)
	}
	if s.log != nil {
		srv.SetLogger(s.log, false, false)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		s.t.Fatalf("nats server not ready")
	}
	if s.opts.Port == server.RANDOM_PORT {
		s.opts.Port = srv.Addr().(*net.TCPAddr).Port
	}
	s.srv = srv
}

// Stop shuts the server down; its store stays for Start.
func (s *Server) Stop() {
	if s.srv == nil {
		return
	}
	s.srv.Shutdown()
	s.srv.WaitForShutdown()
	s.srv = nil
}
