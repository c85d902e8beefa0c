package templates_test

import (
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/medisync/medisync/notification/notice"
	"github.com/medisync/medisync/notification/templates"
)

// markup counts the characters that make HTML markup or end an attribute.
func markup(s string) [4]int {
	return [4]int{strings.Count(s, "<"), strings.Count(s, ">"), strings.Count(s, `"`), strings.Count(s, "'")}
}

// FuzzRender: every kind renders in every language a reader may have, for
// any doctor's name the service takes, any zone and cancellation code: the subject is one line
// with no character that could start another header, the HTML part holds
// the markup of the template alone (a name is text, never a tag or an
// attribute), and a language the service does not have falls back to one
// it has.
func FuzzRender(f *testing.F) {
	set, err := templates.Load()
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []struct {
		kind        uint8
		forDoctor   bool
		name, zone  string
		lang, why   string
		start, prev int64
	}{
		{0, false, "Ada Lovelace", "Europe/Berlin", "de-AT", "clinic", 1_800_000_000, 0},
		{1, false, `<script>alert("x")</script>`, "America/New_York", "en", "", 1_800_000_000, 0},
		{2, true, "Dr. O'Brien & Söhne", "Asia/Kolkata", "DE", "patient-request", 1_800_000_000, 1_799_000_000},
		{3, false, "Eve\r\nBcc: all@example.org", "Local", "xx-invalid-", "doctor-request", 1_800_000_000, 0},
		{4, false, "Eve\u2028Bcc: x@example.org\u0085x", "../../etc/passwd", "", "other", -62_135_596_800, 0},
		{5, true, "\x00\xff", "Factory", "zh-Hant-TW", "", 253_402_300_799, 1},
		{1, false, `"><img src=x onerror=alert(1)>`, "UTC", "i-klingon", "", 0, 0},
	} {
		f.Add(s.kind, s.forDoctor, s.name, s.zone, s.lang, s.why, s.start, s.prev)
	}
	f.Fuzz(func(t *testing.T, kind uint8, forDoctor bool, name, zone, lang, why string, start, prev int64) {
		if !utf8.ValidString(name) || strings.ContainsFunc(name, unicode.IsControl) {
			return // the service refuses such a name in the event that carries it
		}
		k := notice.Kinds[int(kind)%len(notice.Kinds)]
		at := func(sec int64) time.Time {
			// Years 1 to 9999, as a stored timestamp can be.
			const lo, hi = -62_135_596_800, 253_402_300_799
			return time.Unix(lo+(sec%(hi-lo)+(hi-lo))%(hi-lo), 0).UTC()
		}
		d := templates.Data{ForDoctor: forDoctor, DoctorName: name, TimeZone: zone, Start: at(start), Reason: why,
			Link: "https://medisync.example.org/reset?token=abc", ExpiresAt: at(start)}
		if prev != 0 {
			d.PreviousFrom = at(prev)
		}
		m, err := set.Render(k, lang, d)
		if err != nil {
			t.Fatalf("Render(%s, %q, %+v): %v", k, lang, d, err)
		}
		if m.Language != templates.Match(lang) || templates.Match(m.Language) != m.Language {
			t.Fatalf("Render(%s, %q) is in %q, which is not the language matched", k, lang, m.Language)
		}
		switch m.Language {
		case "en", "de":
		default:
			t.Fatalf("Render(%s, %q) is in %q, a language the service has no templates in", k, lang, m.Language)
		}
		if m.Subject == "" || m.Subject != strings.TrimSpace(m.Subject) || strings.ContainsFunc(m.Subject, func(r rune) bool {
			return r != ' ' && (unicode.IsControl(r) || unicode.IsSpace(r))
		}) {
			t.Fatalf("Render(%s) for name %q has the subject %q: not one clean line", k, name, m.Subject)
		}
		plain := d
		plain.DoctorName = "Ada Lovelace"
		want, err := set.Render(k, lang, plain)
		if err != nil {
			t.Fatal(err)
		}
		if got := markup(m.HTML); got != markup(want.HTML) {
			t.Fatalf("the name %q changes the markup of %s: %v, not %v:\n%s", name, k, got, markup(want.HTML), m.HTML)
		}
	})
}
