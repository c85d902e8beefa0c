// Package templates renders each message in plain text and HTML, in the
// reader's language where the service has it (English otherwise), from
// templates embedded in the binary.
package templates

import (
	"bytes"
	"embed"
	"fmt"
	htmltemplate "html/template"
	"strings"
	texttemplate "text/template"
	"time"
	_ "time/tzdata" // appointment times are shown in the doctor's zone, also where the system has no zone data

	"golang.org/x/text/language"

	"github.com/medisync/medisync/notification/notice"
	"github.com/medisync/medisync/shared/civil"
)

//go:embed en de
var files embed.FS

// Languages are the languages the templates exist in; the first is the default.
var Languages = []string{"en", "de"}

var matcher = language.NewMatcher([]language.Tag{language.English, language.German})

// Match returns the supported language closest to a BCP 47 tag ("de-AT" is
// "de"); English for an empty, unknown or malformed tag.
func Match(tag string) string {
	t, err := language.Parse(strings.TrimSpace(tag))
	if err != nil {
		return Languages[0]
	}
	_, i, conf := matcher.Match(t)
	if conf == language.No {
		return Languages[0]
	}
	return Languages[i]
}

// Data fills a template. Only what the reader may see goes in: never an
// appointment's reason.
type Data struct {
	ForDoctor    bool   // the message goes to the doctor, not the patient
	DoctorName   string // as the appointment shows it
	TimeZone     string // the doctor's IANA zone, in which times are shown; UTC when it is none (civil.ZoneOrUTC)
	Start        time.Time
	PreviousFrom time.Time // a rescheduled appointment's former start
	Reason       string    // a cancellation's code (patient-request, ...), shown as a phrase
	Link         string    // a password reset link
	ExpiresAt    time.Time // when the link expires
}

// Message is a rendered message.
type Message struct {
	Language string
	Subject  string
	Summary  string // one sentence for the in-app inbox
	Text     string
	HTML     string
}

// view is what the templates see: the times already formatted in the zone
// and language of the reader.
type view struct {
	ForDoctor    bool
	DoctorName   string
	TimeZone     string
	When         string
	PreviousWhen string
	Reason       string
	Link         string
	ExpiresAt    string
}

// Set holds every template, parsed once.
type Set struct {
	text map[string]*texttemplate.Template
	html map[string]*htmltemplate.Template
}

// Load parses the embedded templates; every kind must exist in every
// language, in both forms.
func Load() (*Set, error) {
	s := &Set{text: map[string]*texttemplate.Template{}, html: map[string]*htmltemplate.Template{}}
	for _, lang := range Languages {
		for _, k := range notice.Kinds {
			name := lang + "/" + string(k)
			t, err := texttemplate.New(string(k)+".txt").Option("missingkey=error").ParseFS(files, name+".txt")
			if err != nil {
				return nil, fmt.Errorf("templates: %s.txt: %w", name, err)
			}
			if t.Lookup("subject") == nil || t.Lookup("summary") == nil {
				return nil, fmt.Errorf("templates: %s.txt defines no subject or summary", name)
			}
			h, err := htmltemplate.New(string(k)+".html").Option("missingkey=error").ParseFS(files, name+".html")
			if err != nil {
				return nil, fmt.Errorf("templates: %s.html: %w", name, err)
			}
			s.text[name], s.html[name] = t, h
		}
	}
	return s, nil
}

// Render renders kind for a reader of language lang (any BCP 47 tag).
func (s *Set) Render(kind notice.Kind, lang string, d Data) (Message, error) {
	lang = Match(lang)
	name := lang + "/" + string(kind)
	t, ok := s.text[name]
	if !ok {
		return Message{}, fmt.Errorf("templates: no template %s", name)
	}
	// A zone that is no usable IANA zone (one stored before the rule, such
	// as "Local") writes the times in UTC, never in the host's zone.
	loc := civil.ZoneOrUTC(d.TimeZone)
	v := view{
		ForDoctor: d.ForDoctor, DoctorName: d.DoctorName, TimeZone: loc.String(), Link: d.Link,
		When: formatTime(lang, d.Start, loc), PreviousWhen: formatTime(lang, d.PreviousFrom, loc),
		Reason: reasons[lang][d.Reason], ExpiresAt: formatTime(lang, d.ExpiresAt, loc),
	}
	m := Message{Language: lang}
	var err error
	if m.Subject, err = execText(t, "subject", v); err != nil {
		return Message{}, fmt.Errorf("templates: %s subject: %w", name, err)
	}
	if m.Summary, err = execText(t, "summary", v); err != nil {
		return Message{}, fmt.Errorf("templates: %s summary: %w", name, err)
	}
	if m.Text, err = execText(t, t.Name(), v); err != nil {
		return Message{}, fmt.Errorf("templates: %s text: %w", name, err)
	}
	var b bytes.Buffer
	if err := s.html[name].Execute(&b, v); err != nil {
		return Message{}, fmt.Errorf("templates: %s html: %w", name, err)
	}
	m.HTML = b.String()
	// A subject is one line whatever a doctor's name holds.
	m.Subject = strings.Join(strings.Fields(m.Subject), " ")
	m.Text = strings.TrimLeft(m.Text, "\n")
	return m, nil
}

func execText(t *texttemplate.Template, name string, v view) (string, error) {
	var b bytes.Buffer
	if err := t.ExecuteTemplate(&b, name, v); err != nil {
		return "", err
	}
	return strings.TrimSpace(b.String()), nil
}

// reasons turn a cancellation code into words; "other" and unknown codes
// say nothing.
var reasons = map[string]map[string]string{
	"en": {"patient-request": "at the patient's request", "doctor-request": "at the doctor's request", "clinic": "by the practice"},
	"de": {"patient-request": "auf Wunsch des Patienten", "doctor-request": "auf Wunsch der Ärztin oder des Arztes", "clinic": "durch die Praxis"},
}

var (
	weekdaysDE = [...]string{"Sonntag", "Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag"}
	monthsDE   = [...]string{"Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September", "Oktober", "November", "Dezember"}
)

// formatTime writes an instant in loc the way a reader of lang expects it,
// with its offset from UTC unless loc is UTC; "" for the zero time. The
// offset tells apart the two passes of the hour the clocks repeat when they
// go back, which read the same on the wall clock; an abbreviation would not
// always (Go's zone data has numeric ones, and a zone may repeat an hour
// under one name).
func formatTime(lang string, t time.Time, loc *time.Location) string {
	if t.IsZero() {
		return ""
	}
	t = t.In(loc)
	var s string
	switch lang {
	case "de":
		s = fmt.Sprintf("%s, %d. %s %d, %s Uhr", weekdaysDE[t.Weekday()], t.Day(), monthsDE[t.Month()-1], t.Year(), t.Format("15:04"))
	default:
		s = t.Format("Monday, 2 January 2006, 15:04")
	}
	if loc == time.UTC {
		return s
	}
	return s + " (" + utcOffset(t) + ")"
}

// utcOffset writes t's offset from UTC as UTC+1, UTC-4, UTC+5:30 or UTC.
func utcOffset(t time.Time) string {
	_, off := t.Zone()
	if off == 0 {
		return "UTC"
	}
	sign := "+"
	if off < 0 {
		sign, off = "-", -off
	}
	h, m := off/3600, off%3600/60
	if m == 0 {
		return fmt.Sprintf("UTC%s%d", sign, h)
	}
	return fmt.Sprintf("UTC%s%d:%02d", sign, h, m)
}
