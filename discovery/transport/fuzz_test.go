package transport

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/medisync/medisync/discovery/service"
	"github.com/medisync/medisync/shared/problem"
)

// FuzzParseQuery: a blocking query's parameters are read as the API
// documents them: a query blocks only with an index, for the wait asked
// (whole seconds or a duration), 30s without one, and never more than the
// cap nor less than nothing; anything else is refused naming the
// parameter.
func FuzzParseQuery(f *testing.F) {
	for _, s := range []string{
		"", "index=5", "index=5&wait=30s", "index=5&wait=90", "index=0&wait=0", "wait=10s", "index=-1",
		"index=18446744073709551616", "index=5&wait=-1s", "index=5&wait=-0", "index=5&wait=1h", "index=5&wait=9223372036854775807",
		"index=5&wait=99999999999999999999h", "index=1&index=2", "index=&wait=", "index=5&wait=1.5ms", "index=%zz",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		r := &http.Request{Method: http.MethodGet, URL: &url.URL{Path: "/", RawQuery: raw}}
		q, err := parseQuery(r)
		if err != nil {
			var fe problem.FieldErrors
			if !errors.As(err, &fe) || len(fe) == 0 {
				t.Fatalf("%q refused with %v, naming no parameter", raw, err)
			}
			for _, e := range fe {
				if e.Field != "index" && e.Field != "wait" {
					t.Fatalf("%q refused naming %q", raw, e.Field)
				}
			}
			return
		}
		vals := r.URL.Query()
		idx, wait := vals.Get("index"), vals.Get("wait")
		if idx == "" {
			if q.Wait != 0 {
				t.Fatalf("%q blocks for %v without an index", raw, q.Wait)
			}
			return
		}
		if n, err := strconv.ParseUint(idx, 10, 64); err != nil || n != q.Index {
			t.Fatalf("%q reads index %d", raw, q.Index)
		}
		want := service.DefaultWait
		if wait != "" {
			if n, err := strconv.ParseInt(wait, 10, 64); err == nil {
				want = time.Duration(min(n, int64(service.MaxWait/time.Second))) * time.Second
			} else if d, err := time.ParseDuration(wait); err == nil {
				want = min(d, service.MaxWait)
			} else {
				t.Fatalf("%q: the wait %q is accepted", raw, wait)
			}
		}
		if q.Wait != want || q.Wait < 0 || q.Wait > service.MaxWait {
			t.Fatalf("%q waits %v, want %v", raw, q.Wait, want)
		}
	})
}
