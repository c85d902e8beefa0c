package record_test

import (
	"errors"
	"testing"

	"github.com/medisync/medisync/records/record"
)

// A text is judged the same however it is cut into writes: a character
// split between two is whole, a bad sequence or a control byte is refused
// wherever it falls, and so is a text ending inside a character.
func TestTextCheckAcrossWrites(t *testing.T) {
	check := func(parts ...string) error {
		var c record.TextCheck
		for _, p := range parts {
			if _, err := c.Write([]byte(p)); err != nil {
				return err
			}
		}
		return c.Close()
	}
	for _, tc := range []struct {
		text string
		ok   bool
	}{
		{"é 体 😀\t\r\n\f", true},
		{"a\x00b", false},
		{"a\x1bb", false},
		{"a\x7fb", false},
		{"a\xe4\xbdb", false},    // a character broken off by another
		{"a\xf0\x9f\x98", false}, // cut at the end
		{"\xed\xa0\x80", false},  // a surrogate
		{"a\xc0\xafb", false},    // overlong
		{"\xef\xbb\xbfhi", true}, // a byte order mark
	} {
		for i := 0; i <= len(tc.text); i++ {
			for j := i; j <= len(tc.text); j++ {
				err := check(tc.text[:i], tc.text[i:j], tc.text[j:])
				if tc.ok != (err == nil) || err != nil && !errors.Is(err, record.ErrContentMismatch) {
					t.Fatalf("%q cut at %d and %d: %v", tc.text, i, j, err)
				}
			}
		}
	}
}

// A document's file name is its id with its type's extension, so that the
// saved file opens in the application its type calls for.
func TestFileNameIsTheIDWithTheTypesExtension(t *testing.T) {
	for ct, want := range map[string]string{
		record.TypePDF: "d.pdf", record.TypePNG: "d.png", record.TypeJPEG: "d.jpg",
		record.TypeDICOM: "d.dcm", record.TypeText: "d.txt",
	} {
		if got := (record.Document{ID: "d", ContentType: ct}).FileName(); got != want {
			t.Errorf("FileName of %s = %q, want %q", ct, got, want)
		}
	}
}
