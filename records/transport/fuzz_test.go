package transport_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/medisync/medisync/records/record"
	"github.com/medisync/medisync/records/transport"
)

// blob is content held in memory, as a store opens it.
type blob struct{ *bytes.Reader }

func (blob) Close() error { return nil }

var (
	contentRange = regexp.MustCompile(`^bytes (\d+)-(\d+)/(\d+)$`)
	oneRange     = regexp.MustCompile(`^bytes=(\d+)-(\d*)$`)
	suffixRange  = regexp.MustCompile(`^bytes=-(\d+)$`)
)

// FuzzContentRange: whatever Range and If-Range a client sends, a download
// is the whole content (200), the one part it asked for with its true
// Content-Range (206), or a problem telling the content's length (416);
// never a multipart answer, never an error of the server. A single range
// written as RFC 9110 has it, that the content can satisfy, is served.
func FuzzContentRange(f *testing.F) {
	for _, s := range []struct {
		rng, ifRange string
		size         uint16
	}{
		{"bytes=0-0", "", 10}, {"bytes=-1", "", 10}, {"bytes=-0", "", 10}, {"bytes=5-2", "", 10},
		{"bytes=10-20", "", 10}, {"bytes=0-1,5-6", "", 100}, {"bytes=0-1,5-6", `"other"`, 100},
		{"bytes=2-", `"abc"`, 10}, {"bytes=0-99999999999999999999", "", 10}, {"bytes= 1 - 2 ", "", 10},
		{"BYTES=1-2", "", 10}, {"items=1-2", "", 10}, {"bytes=1-2", "Mon, 02 Jan 2006 15:04:05 GMT", 10},
		{"bytes=-9223372036854775808", "", 10}, {"bytes=9223372036854775807-", "", 10},
	} {
		f.Add(s.rng, s.ifRange, s.size)
	}
	date := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	f.Fuzz(func(t *testing.T, rng, ifRange string, size uint16) {
		n := int(size)%4096 + 1
		content := make([]byte, n)
		for i := range content {
			content[i] = byte(i*7 + i/256)
		}
		doc := record.Document{ID: "d", ContentType: record.TypePDF, SHA256: "abc", Size: int64(n), Date: date}
		req := httptest.NewRequest(http.MethodGet, "/content", nil)
		req.Header["Range"] = []string{rng}
		if ifRange != "" {
			req.Header["If-Range"] = []string{ifRange}
		}
		w := httptest.NewRecorder()
		if err := transport.ServeContent(w, req, doc, blob{bytes.NewReader(content)}); err != nil {
			t.Fatalf("Range %q: %v", rng, err)
		}
		body, h := w.Body.Bytes(), w.Header()
		switch w.Code {
		case http.StatusOK:
			if !bytes.Equal(body, content) || h.Get("Content-Range") != "" {
				t.Fatalf("Range %q: a 200 of %d bytes with Content-Range %q", rng, len(body), h.Get("Content-Range"))
			}
		case http.StatusPartialContent:
			m := contentRange.FindStringSubmatch(h.Get("Content-Range"))
			if m == nil || h.Get("Content-Type") != record.TypePDF {
				t.Fatalf("Range %q: a 206 of Content-Range %q, Content-Type %q", rng, h.Get("Content-Range"), h.Get("Content-Type"))
			}
			first, _ := strconv.Atoi(m[1])
			last, _ := strconv.Atoi(m[2])
			if m[3] != strconv.Itoa(n) || first > last || last >= n || !bytes.Equal(body, content[first:last+1]) {
				t.Fatalf("Range %q: a 206 of Content-Range %q and %d bytes of %d", rng, h.Get("Content-Range"), len(body), n)
			}
		case http.StatusRequestedRangeNotSatisfiable:
			var p struct{ Status int }
			if h.Get("Content-Type") != "application/problem+json" || json.Unmarshal(body, &p) != nil || p.Status != 416 ||
				h.Get("Content-Range") != fmt.Sprintf("bytes */%d", n) {
				t.Fatalf("Range %q: a 416 of %q, Content-Range %q: %s", rng, h.Get("Content-Type"), h.Get("Content-Range"), body)
			}
		default:
			t.Fatalf("Range %q, If-Range %q: status %d: %s", rng, ifRange, w.Code, body)
		}
		if ifRange != "" {
			return
		}
		first, last := -1, -1
		if m := oneRange.FindStringSubmatch(rng); m != nil {
			a, errA := strconv.ParseInt(m[1], 10, 64)
			b, errB := strconv.ParseInt(m[2], 10, 64)
			switch {
			case errA != nil || m[2] != "" && errB != nil || a >= int64(n) || m[2] != "" && b < a:
			case m[2] == "" || b >= int64(n):
				first, last = int(a), n-1
			default:
				first, last = int(a), int(b)
			}
		} else if m := suffixRange.FindStringSubmatch(rng); m != nil {
			if k, err := strconv.ParseInt(m[1], 10, 64); err == nil && k > 0 {
				first, last = max(0, n-int(min(k, int64(n)))), n-1
			}
		}
		if first >= 0 && (w.Code != http.StatusPartialContent || h.Get("Content-Range") != fmt.Sprintf("bytes %d-%d/%d", first, last, n)) {
			t.Fatalf("Range %q of %d bytes: %d with Content-Range %q, want bytes %d-%d", rng, n, w.Code, h.Get("Content-Range"), first, last)
		}
	})
}
