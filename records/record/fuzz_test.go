package record_test

import (
	"bytes"
	"errors"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/medisync/medisync/records/record"
	"github.com/medisync/medisync/shared/domainerr"
)

// isText is the text rule as the API documents it: UTF-8 without control
// characters other than tab, line feed, carriage return and form feed.
func isText(b []byte) bool {
	if !utf8.Valid(b) {
		return false
	}
	for _, r := range string(b) {
		if r < 0x20 && r != '\t' && r != '\n' && r != '\r' && r != '\f' || r == 0x7f {
			return false
		}
	}
	return true
}

var binaryTypes = []string{record.TypePDF, record.TypePNG, record.TypeJPEG}

// FuzzContentCheck: an upload is accepted under a type only when its first
// bytes are of that type; one binary format is never accepted as another
// nor as text, a text is accepted as text, and the whole-text check gives
// the same answer however the upload is cut into writes.
func FuzzContentCheck(f *testing.F) {
	dicom := append(make([]byte, 128), "DICM\x02\x00"...)
	for _, s := range []struct{ data, cuts []byte }{
		{[]byte("%PDF-1.7\n%\xe2\xe3\xcf\xd3"), []byte{3}},
		{[]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), []byte{1, 1}},
		{[]byte("\xff\xd8\xff\xe0\x00\x10JFIF"), nil},
		{dicom, []byte{130}},
		{[]byte("Blood pressure 120/80\r\n\tBefund: unauffällig 😀"), []byte{36, 1, 1, 1}},
		{[]byte("a\xf0\x9f\x98"), []byte{2}},
		{[]byte("a\xed\xa0\x80b"), []byte{1, 1}},
		{[]byte("\xef\xbb\xbf%PDF-"), nil},
		{[]byte("text\x00"), []byte{4}},
		{append(bytes.Repeat([]byte("x"), record.SniffLen-1), "é"...), nil},
	} {
		f.Add(s.data, s.cuts)
	}
	f.Fuzz(func(t *testing.T, data, cuts []byte) {
		head := data[:min(len(data), record.SniffLen)]
		accepted := 0
		for _, ct := range binaryTypes {
			if record.Sniff(ct, head) {
				accepted++
			}
		}
		if accepted > 1 || accepted == 1 && record.Sniff(record.TypeText, head) {
			t.Fatalf("%q is accepted under more than one type", head)
		}
		text := isText(data)
		sniffed := record.Sniff(record.TypeText, head)
		if text && accepted == 0 && !sniffed {
			t.Fatalf("the text %q is refused as text", head)
		}
		if sniffed && !isText(head) && !isText(head[:utf8CutStart(head)]) {
			t.Fatalf("%q, not text, is accepted as text", head)
		}

		var c record.TextCheck
		var err error
		for rest := data; err == nil; {
			n := len(rest)
			if len(cuts) > 0 {
				n, cuts = min(n, int(cuts[0])), cuts[1:]
			}
			var w int
			w, err = c.Write(rest[:n])
			if err == nil && w != n {
				t.Fatalf("Write took %d of %d bytes without an error", w, n)
			}
			if rest = rest[n:]; len(rest) == 0 {
				break
			}
		}
		if err == nil {
			err = c.Close()
		}
		if err != nil && !errors.Is(err, record.ErrContentMismatch) {
			t.Fatalf("the text check failed with %v", err)
		}
		if text != (err == nil) {
			t.Fatalf("%q: text by the rule %v, by the check %v", data, text, err)
		}
	})
}

// utf8CutStart is where the character cut at the end of b begins, or
// len(b) when b ends on a whole one.
func utf8CutStart(b []byte) int {
	for k := 1; k < utf8.UTFMax && k <= len(b); k++ {
		if utf8.RuneStart(b[len(b)-k]) {
			if !utf8.FullRune(b[len(b)-k:]) {
				return len(b) - k
			}
			break
		}
	}
	return len(b)
}

// FuzzNormalizeContentType: a declared type is stored as one of the five
// the API names, and what is stored is accepted again as itself.
func FuzzNormalizeContentType(f *testing.F) {
	for _, s := range []string{"application/pdf", "Image/PNG", "text/plain; charset=UTF-8", "text/plain; charset=latin1",
		"image/jpeg;", "application/dicom; x=\"y\"", "text/html", "", "text/plain; charset=\"us-ascii\"; charset=utf-8"} {
		f.Add(s)
	}
	stored := map[string]bool{record.TypePDF: true, record.TypePNG: true, record.TypeJPEG: true, record.TypeDICOM: true, record.TypeText: true}
	f.Fuzz(func(t *testing.T, s string) {
		ct, ok := record.NormalizeContentType(s)
		if !ok {
			return
		}
		if !stored[ct] {
			t.Fatalf("NormalizeContentType(%q) = %q, a type the service does not store", s, ct)
		}
		if again, ok := record.NormalizeContentType(ct); !ok || again != ct {
			t.Fatalf("NormalizeContentType(%q) = %q, which normalises to %q, %v", s, ct, again, ok)
		}
	})
}

// storable reports whether s may be kept as a field of a note: UTF-8
// without C0 or C1 control characters nor DEL, but for line breaks and
// tabs in a multi-line field.
func storable(s string, multiLine bool) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if multiLine && (r == '\n' || r == '\r' || r == '\t') {
			continue
		}
		if r < 0x20 || 0x7f <= r && r <= 0x9f {
			return false
		}
	}
	return true
}

// FuzzClinicalValidate: what a doctor writes in an encounter is accepted
// only as text a store keeps and a reader is shown safely, with each code
// beside its system; refused, it names fields of the body.
func FuzzClinicalValidate(f *testing.F) {
	f.Add("", "cough\r\n\tsince Monday", "URTI", "J06.9", "http://hl7.org/fhir/sid/icd-10", "Amoxicillin", "500 mg", "3×/day\nwith food", uint8(1))
	f.Add("0190a0a0-0000-7000-8000-00000000a001", "", "", "J06.9", "", "x", "", "", uint8(2))
	f.Add("not-a-uuid", "a\x00b", "\u0085", "", "sys", " ", "\t", "\x1b[31m", uint8(3))
	f.Add("", "\xff", "ok", "  ", "  ", "Ibuprofen", "200\u00a0mg", "\u2028", uint8(200))
	f.Fuzz(func(t *testing.T, appt, note, display, code, system, medication, dosage, instructions string, n uint8) {
		c := record.Clinical{
			AppointmentID: appt,
			Note:          record.Note{Subjective: note, Objective: note, Assessment: display, Plan: instructions},
		}
		for range int(n) % (record.MaxCodedItems + 2) {
			c.Diagnoses = append(c.Diagnoses, record.Diagnosis{Code: code, CodeSystem: system, Display: display})
			c.Prescriptions = append(c.Prescriptions, record.Prescription{
				Medication: medication, Code: code, CodeSystem: system, Dosage: dosage, Instructions: instructions,
			})
		}
		err := c.Validate()
		if err != nil {
			var fe domainerr.FieldErrors
			if !errors.As(err, &fe) || len(fe) == 0 {
				t.Fatalf("refused with %v, naming no field", err)
			}
			for _, e := range fe {
				if !clinicalField.MatchString(e.Field) {
					t.Fatalf("refused naming %q, no field of the body: %v", e.Field, err)
				}
			}
			return
		}
		for _, s := range []string{note, display, instructions} {
			if !storable(s, true) {
				t.Fatalf("%q accepted in a note", s)
			}
		}
		if len(c.Diagnoses) == 0 {
			return
		}
		for _, s := range []string{display, code, system, medication, dosage} {
			if !storable(s, false) {
				t.Fatalf("%q accepted in a one-line field", s)
			}
		}
		if strings.TrimSpace(display) == "" || strings.TrimSpace(medication) == "" {
			t.Fatalf("a diagnosis %q or medication %q of blanks accepted", display, medication)
		}
		if (strings.TrimSpace(code) == "") != (strings.TrimSpace(system) == "") {
			t.Fatalf("code %q accepted with system %q", code, system)
		}
	})
}

var clinicalField = regexp.MustCompile(`^(appointmentId|note\.(subjective|objective|assessment|plan)|diagnoses|prescriptions|` +
	`diagnoses\[\d+\]\.(display|code|codeSystem)|prescriptions\[\d+\]\.(medication|code|codeSystem|dosage|instructions))$`)
