package e2e

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/http"
	"net/mail"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/medisync/medisync/shared/broker/brokertest"
)

// TestEventsReachTheNotificationService runs auth, notification and the
// gateway against a NATS server: a registration is applied by the
// notification service, and a reset request through the gateway becomes a
// mail whose link resets the password. The link appears in no service's
// log.
func TestEventsReachTheNotificationService(t *testing.T) {
	nats := brokertest.EmbeddedWithPermissions(t)
	s := &system{dataDir: t.TempDir()}
	s.disc = start(t, "discovery", "discovery", discoveryEnv())
	rawKey := make([]byte, 32)
	_, _ = rand.Read(rawKey)
	sealKey := base64.StdEncoding.EncodeToString(rawKey)
	const resetPage = "https://clinic.e2e.example/reset-password"

	authEnv := s.common("auth")
	authEnv["MEDISYNC_HASH_MEMORY_KIB"] = "1024"
	authEnv["MEDISYNC_HASH_ITERATIONS"] = "1"
	authEnv["MEDISYNC_BROKER_URL"] = nats.UserURL("auth")
	authEnv["MEDISYNC_EVENT_SEAL_KEY"] = sealKey
	authEnv["MEDISYNC_RESET_URL"] = resetPage
	s.auth = start(t, "auth", "auth", authEnv)

	mailDir := filepath.Join(s.dataDir, "mail")
	notifEnv := s.common("notification")
	notifEnv["MEDISYNC_BROKER_URL"] = nats.UserURL("notification")
	notifEnv["MEDISYNC_EVENT_SEAL_KEY"] = sealKey
	notifEnv["MEDISYNC_MAIL"] = "dev-mailbox"
	notifEnv["MEDISYNC_MAIL_DIR"] = mailDir
	notifEnv["MEDISYNC_MAIL_INTERVAL"] = "100ms"
	notif := start(t, "notification", "notification", notifEnv)

	gwEnv := s.common("gateway")
	gwEnv["MEDISYNC_METRICS_ADDR"] = ""
	s.gateway = start(t, "gateway", "gateway", gwEnv)
	procs := []*proc{s.disc, s.auth, notif, s.gateway}

	c := &client{t: t, base: s.gateway.url(""), hc: &http.Client{Timeout: 15 * time.Second}}
	waitFor(t, "gateway to reach auth", 20*time.Second, func() bool {
		return c.do(http.MethodGet, "/.well-known/jwks.json", "", nil).Status == http.StatusOK
	})

	const email, oldPassword, newPassword = "carol@e2e.example", "Carol-first-passw0rd!", "Carol-second-passw0rd!"
	register(t, c, email, oldPassword, "Carol Poe")
	waitFor(t, "the registration applied by notification", 20*time.Second, func() bool {
		return consumed(t, notif, "notification") >= 1
	})

	r := c.do(http.MethodPost, "/api/v1/auth/password/forgot", "", map[string]any{"email": email})
	expect(t, r, http.StatusAccepted, "forgot password")
	var body string
	waitFor(t, "the reset mail in the mailbox", 30*time.Second, func() bool {
		body = mailTo(t, mailDir, email)
		return body != ""
	})
	link := regexp.MustCompile(regexp.QuoteMeta(resetPage) + `\?token=[^\s"<>]+`).FindString(body)
	if link == "" {
		t.Fatalf("no reset link in the mail:\n%s", body)
	}
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	token := u.Query().Get("token")

	r = c.do(http.MethodPost, "/api/v1/auth/password/reset", "", map[string]any{"token": token, "newPassword": newPassword})
	if r.Status != http.StatusOK && r.Status != http.StatusNoContent {
		t.Fatalf("reset with the mailed link: status %d: %s", r.Status, r.Body)
	}
	login(t, c, email, newPassword)
	r = c.do(http.MethodPost, "/api/v1/auth/login", "", map[string]any{"email": email, "password": oldPassword})
	expect(t, r, http.StatusUnauthorized, "login with the old password")

	for _, p := range procs {
		// The gateway buffers its access log briefly.
		waitFor(t, p.name+" to log something, or the check below would prove nothing", 5*time.Second, func() bool {
			return p.out.String() != ""
		})
		out := p.out.String()
		for _, secret := range []string{token, url.QueryEscape(token), link} {
			if strings.Contains(out, secret) {
				t.Errorf("the reset link appears in the log of %s", p.name)
			}
		}
	}
}

// consumed reads how many events the consumer applied, from the metrics of
// the service p.
func consumed(t *testing.T, p *proc, consumer string) int {
	t.Helper()
	resp, err := http.Get(p.url("/metrics"))
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	m := regexp.MustCompile(`medisync_events_consumed_total\{consumer="` + regexp.QuoteMeta(consumer) + `",outcome="ok"\} (\d+)`).FindSubmatch(b)
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(string(m[1]))
	return n
}

// mailTo returns the decoded text of the first mail in dir addressed to
// rcpt, or "" when none has arrived.
func mailTo(t *testing.T, dir, rcpt string) string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*.eml"))
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		msg, err := mail.ReadMessage(bytes.NewReader(raw))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if !strings.Contains(msg.Header.Get("To"), rcpt) {
			continue
		}
		var text strings.Builder
		if err := decodePart(&text, msg.Header.Get("Content-Type"), msg.Header.Get("Content-Transfer-Encoding"), msg.Body); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		return text.String()
	}
	return ""
}

// decodePart appends the decoded text of a MIME part and its sub-parts.
func decodePart(w *strings.Builder, contentType, encoding string, body io.Reader) error {
	media, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		return fmt.Errorf("content type %q: %w", contentType, err)
	}
	if strings.HasPrefix(media, "multipart/") {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			p, err := mr.NextRawPart()
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
			if err := decodePart(w, p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"), p); err != nil {
				return err
			}
		}
	}
	switch strings.ToLower(encoding) {
	case "quoted-printable":
		body = quotedprintable.NewReader(body)
	case "base64":
		body = base64.NewDecoder(base64.StdEncoding, body)
	}
	b, err := io.ReadAll(body)
	w.Write(b)
	w.WriteString("\n")
	return err
}
