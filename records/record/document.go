package record

import (
	"bytes"
	"mime"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/medisync/medisync/shared/domainerr"
)

// DocumentStatus follows FHIR DocumentReference.status.
type DocumentStatus string

// Document statuses: a new version makes the one it replaces superseded;
// a document filed by mistake is entered-in-error. Neither is ever deleted.
const (
	DocumentCurrent        DocumentStatus = "current"
	DocumentSuperseded     DocumentStatus = "superseded"
	DocumentEnteredInError DocumentStatus = "entered-in-error"
)

// Valid reports whether s is a known status.
func (s DocumentStatus) Valid() bool {
	return s == DocumentCurrent || s == DocumentSuperseded || s == DocumentEnteredInError
}

// The content types a document may have.
const (
	TypePDF   = "application/pdf"
	TypePNG   = "image/png"
	TypeJPEG  = "image/jpeg"
	TypeDICOM = "application/dicom"
	TypeText  = "text/plain; charset=utf-8"
)

// Limits of document metadata.
const (
	MaxTitleLen    = 200
	MaxTypeLen     = 100
	MaxCategoryLen = 100
	// SniffLen is how many leading bytes Sniff needs: DICOM's "DICM" sits
	// after a 128-byte preamble.
	SniffLen = 512
)

// Document is a file of a patient with its metadata, after FHIR
// DocumentReference. The bytes live in the blob store under BlobKey, which
// never leaves the service.
type Document struct {
	ID          string
	PatientID   string
	Status      DocumentStatus
	Type        string // e.g. a LOINC document type code or "lab-report"
	Category    string
	Title       string
	ContentType string
	Size        int64
	SHA256      string // hex
	AuthorID    string // the uploader's user id
	Date        time.Time
	EncounterID string
	Replaces    string // the document this version supersedes (relatesTo: replaces)
	BlobKey     string
	ErrorReason string
	Version     int64
}

// FileName is the name a client saves the content under: the document's id
// and its type's extension, the same whether the service or a presigned
// link of the store hands the content out, so that the saved file opens
// in the application its type calls for.
func (d Document) FileName() string {
	switch d.ContentType {
	case TypePDF:
		return d.ID + ".pdf"
	case TypePNG:
		return d.ID + ".png"
	case TypeJPEG:
		return d.ID + ".jpg"
	case TypeDICOM:
		return d.ID + ".dcm"
	case TypeText:
		return d.ID + ".txt"
	}
	return d.ID
}

// DocumentMeta is what a client gives with an upload.
type DocumentMeta struct {
	Type        string
	Category    string
	Title       string
	ContentType string
	EncounterID string
}

// Validate checks the metadata and normalises the content type, naming each
// bad field.
func (m *DocumentMeta) Validate() error {
	var fe domainerr.FieldErrors
	cleanText(&fe, "title", m.Title, MaxTitleLen, true, false)
	cleanText(&fe, "type", m.Type, MaxTypeLen, true, false)
	cleanText(&fe, "category", m.Category, MaxCategoryLen, false, false)
	if err := fe.Err(); err != nil {
		return err
	}
	ct, ok := NormalizeContentType(m.ContentType)
	if !ok {
		return ErrUnsupportedType
	}
	m.ContentType = ct
	return nil
}

// ErrUnsupportedType and ErrContentMismatch are 415s; the transport maps
// them, as no error kind says "unsupported media type".
var (
	ErrUnsupportedType = domainerr.New(domainerr.Invalid, "Content-Type must be one of application/pdf, image/png, image/jpeg, application/dicom, text/plain")
	ErrContentMismatch = domainerr.New(domainerr.Invalid, "the file's content does not match its declared Content-Type")
	ErrTooLarge        = domainerr.New(domainerr.Invalid, "the document exceeds the size limit")
	// ErrUploadCut is an upload whose body could not be read to its end:
	// the client sent less than its Content-Length, or its connection
	// broke. The client's doing, not the store's.
	ErrUploadCut = domainerr.New(domainerr.Invalid, "the upload ended before its declared length or could not be read; send it again")
	// ErrUploadTooSlow is an upload whose body had not arrived when the
	// server stopped waiting for it (its read deadline); the transport
	// answers 408.
	ErrUploadTooSlow = domainerr.New(domainerr.Invalid, "the upload did not arrive in time; send it again")
	// ErrTooManyUploads refuses an upload while the same user has the most
	// uploads in flight that one user may; the transport answers 429.
	ErrTooManyUploads = domainerr.New(domainerr.Conflict, "you have too many uploads in progress; wait for one to finish")
	// ErrEmpty refuses a body without a byte: no type's content is empty,
	// and an empty "document" would only clutter the record.
	ErrEmpty = domainerr.Field("content", "the document is empty")
)

// NormalizeContentType maps a declared Content-Type to one the service
// stores, or reports false. Text must be UTF-8 (or ASCII, a subset).
func NormalizeContentType(s string) (string, bool) {
	mt, params, err := mime.ParseMediaType(s)
	if err != nil {
		return "", false
	}
	switch mt {
	case "application/pdf", "image/png", "image/jpeg", "application/dicom":
		return mt, true
	case "text/plain":
		if cs := strings.ToLower(params["charset"]); cs != "" && cs != "utf-8" && cs != "us-ascii" {
			return "", false
		}
		return TypeText, true
	}
	return "", false
}

var (
	magicPDF  = []byte("%PDF-")
	magicPNG  = []byte("\x89PNG\r\n\x1a\n")
	magicJPEG = []byte{0xff, 0xd8, 0xff}
	magicDICM = []byte("DICM")
)

// Sniff reports whether head, the first SniffLen bytes of a file (fewer
// when the file is shorter), is of the normalised content type ct.
func Sniff(ct string, head []byte) bool {
	switch ct {
	case TypePDF:
		return bytes.HasPrefix(head, magicPDF)
	case TypePNG:
		return bytes.HasPrefix(head, magicPNG)
	case TypeJPEG:
		return bytes.HasPrefix(head, magicJPEG)
	case TypeDICOM:
		return len(head) >= 132 && bytes.Equal(head[128:132], magicDICM)
	case TypeText:
		return looksLikeText(head)
	}
	return false
}

// looksLikeText: valid UTF-8 (a sequence cut at the end of head allowed),
// no NUL and no other control character than whitespace, and not one of
// the binary formats in disguise.
func looksLikeText(head []byte) bool {
	if bytes.HasPrefix(head, magicPDF) || bytes.HasPrefix(head, magicPNG) || bytes.HasPrefix(head, magicJPEG) {
		return false
	}
	_, ok := textPrefix(head)
	return ok
}

// textPrefix checks b by the text rule (valid UTF-8, no control character
// but whitespace) and returns how many bytes of it are whole characters;
// the rest, when ok, is the start of a character cut at the end of b.
func textPrefix(b []byte) (n int, ok bool) {
	for n < len(b) {
		r, size := utf8.DecodeRune(b[n:])
		if r == utf8.RuneError && size <= 1 {
			if len(b)-n < utf8.UTFMax && !utf8.FullRune(b[n:]) {
				return n, true // cut in the middle of a character
			}
			return n, false
		}
		if r < 0x20 && r != '\n' && r != '\r' && r != '\t' && r != '\f' || r == 0x7f {
			return n, false
		}
		n += size
	}
	return n, true
}

// TextCheck holds a whole text upload to Sniff's text rule as it streams
// (Sniff sees its first SniffLen bytes only): each Write checks the next
// bytes, carrying a character cut between two writes, and Close refuses a
// text that ends inside one. Both answer ErrContentMismatch.
type TextCheck struct {
	cut  [utf8.UTFMax]byte // the start of a character the last write ended in
	ncut int
}

// Write checks p, the bytes that follow those already written.
func (c *TextCheck) Write(p []byte) (int, error) {
	rest := p
	if c.ncut > 0 {
		// Complete the cut character with p's first bytes.
		var joined [2 * utf8.UTFMax]byte
		k := copy(joined[copy(joined[:], c.cut[:c.ncut]):], p[:min(len(p), utf8.UTFMax)])
		n, ok := textPrefix(joined[:c.ncut+k])
		if !ok {
			return 0, ErrContentMismatch
		}
		if n == 0 { // p too short to finish it: carry all of it
			c.ncut = copy(c.cut[:], joined[:c.ncut+k])
			return len(p), nil
		}
		rest, c.ncut = p[n-c.ncut:], 0
	}
	n, ok := textPrefix(rest)
	if !ok {
		return 0, ErrContentMismatch
	}
	c.ncut = copy(c.cut[:], rest[n:])
	return len(p), nil
}

// Close reports a text that ended in the middle of a character.
func (c *TextCheck) Close() error {
	if c.ncut > 0 {
		return ErrContentMismatch
	}
	return nil
}

// DocumentQuery lists a patient's documents, newest first; no status means
// current documents only.
type DocumentQuery struct {
	PatientID string
	Statuses  []DocumentStatus
	Limit     int
	Cursor    string
}
