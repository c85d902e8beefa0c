package email

import (
	"context"
	"fmt"
	"html/template"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/medisync/medisync/notification/service"
)

// Mailbox is the development mailbox: each mail becomes an .eml file
// under its folder, readable with any mail program or through Handler. It
// is a development shortcut, chosen by name (-mail dev-mailbox), never
// the production default.
type Mailbox struct {
	dir  string
	from string
}

// NewMailbox checks from and makes the folder if needed.
func NewMailbox(dir, from string) (*Mailbox, error) {
	if err := checkFrom(from); err != nil {
		return nil, fmt.Errorf("mailbox: %w", err)
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("mailbox %s: %w", dir, err)
	}
	return &Mailbox{dir: dir, from: from}, nil
}

// Dir is the mailbox folder.
func (b *Mailbox) Dir() string { return b.dir }

// Send writes m as <time>-<delivery id>.eml; a repeat overwrites the same file.
func (b *Mailbox) Send(_ context.Context, m service.Mail) error {
	msg, err := message(b.from, m)
	if err != nil {
		return err
	}
	name := m.Date.UTC().Format("20060102T150405Z") + "-" + m.ID + ".eml"
	tmp, err := os.CreateTemp(b.dir, ".tmp-*")
	if err != nil {
		return fmt.Errorf("mailbox: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := msg.WriteTo(tmp); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("mailbox: write: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("mailbox: write: %w", err)
	}
	if err := os.Rename(tmp.Name(), filepath.Join(b.dir, name)); err != nil {
		return fmt.Errorf("mailbox: %w", err)
	}
	return nil
}

// maxListed bounds the page: the newest mails only.
const maxListed = 200

var emlName = regexp.MustCompile(`^[0-9TZ]+-[0-9a-f-]{36}\.eml$`)

// Files lists the mailbox's .eml files, newest first, at most maxListed.
func (b *Mailbox) Files() ([]string, error) {
	entries, err := os.ReadDir(b.dir)
	if err != nil {
		return nil, fmt.Errorf("mailbox: %w", err)
	}
	var names []string
	for _, e := range entries {
		if e.Type().IsRegular() && emlName.MatchString(e.Name()) {
			names = append(names, e.Name())
		}
	}
	slices.Sort(names)
	slices.Reverse(names)
	return names[:min(len(names), maxListed)], nil
}

var listPage = template.Must(template.New("mail").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Development mailbox</title></head><body>
<h1>Development mailbox</h1>
<p>Mail the notification service sent, newest first; the files are in <code>{{.Dir}}</code>.</p>
<ul>{{range .Files}}<li><a href="/dev/mail/{{.}}">{{.}}</a></li>{{else}}<li>No mail yet.</li>{{end}}</ul>
</body></html>`))

// Handler serves GET /dev/mail (the list) and GET /dev/mail/{name} (one
// message as text). Only main mounts it, and only with the mailbox.
func (b *Mailbox) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		name := strings.TrimPrefix(strings.TrimPrefix(r.URL.Path, "/dev/mail"), "/")
		if name == "" {
			files, err := b.Files()
			if err != nil {
				http.Error(w, "the mailbox cannot be read", http.StatusServiceUnavailable)
				return
			}
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			_ = listPage.Execute(w, struct {
				Dir   string
				Files []string
			}{b.dir, files})
			return
		}
		if !emlName.MatchString(name) {
			http.NotFound(w, r)
			return
		}
		raw, err := os.ReadFile(filepath.Join(b.dir, name))
		if err != nil {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write(raw)
	})
}
