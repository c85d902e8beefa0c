package requestid_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/shared/requestid"
)

// recordingTransport keeps the last request it was given.
type recordingTransport struct{ got *http.Request }

func (rt *recordingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	rt.got = r
	return &http.Response{StatusCode: http.StatusNoContent, Body: http.NoBody, Request: r}, nil
}

func TestContext(t *testing.T) {
	assert.Empty(t, requestid.From(context.Background()))
	assert.Equal(t, "abc", requestid.From(requestid.With(context.Background(), "abc")))
}

func TestNewIsRandomHex(t *testing.T) {
	a, b := requestid.New(), requestid.New()
	assert.Regexp(t, `^[0-9a-f]{32}$`, a)
	assert.NotEqual(t, a, b)
}

func TestMiddleware(t *testing.T) {
	tests := []struct {
		name     string
		incoming string
		keep     bool
	}{
		{"absent", "", false},
		{"valid", "0193b5c2-7d4e-7a1b-9c3d-1f2e3a4b5c6d", true},
		{"128 characters", strings.Repeat("x", 128), true},
		{"129 characters", strings.Repeat("x", 129), false},
		{"space", "a b", false},
		{"newline", "a\nb", false},
		{"delete character", "a\x7fb", false},
		{"trace style", "req_01:abc.def-9", true},
		{"quote", `a"b`, false},
		{"markup", "<script>", false},
		{"sql", "x';--", false},
		{"comma", "a,b", false},
		{"non-ASCII", "é", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var ctxID, headerID string
			h := requestid.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				ctxID, headerID = requestid.From(r.Context()), r.Header.Get(requestid.Header)
			}))
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			if tc.incoming != "" {
				r.Header.Set(requestid.Header, tc.incoming)
			}
			rec := httptest.NewRecorder()

			h.ServeHTTP(rec, r)

			echoed := rec.Header().Get(requestid.Header)
			assert.Equal(t, echoed, ctxID)
			assert.Equal(t, echoed, headerID, "handlers that read the header see the same ID")
			if tc.keep {
				assert.Equal(t, tc.incoming, echoed)
			} else {
				assert.Regexp(t, `^[0-9a-f]{32}$`, echoed)
			}
		})
	}
}

func TestTransportSetsHeaderFromContext(t *testing.T) {
	rt := &recordingTransport{}
	client := &http.Client{Transport: requestid.Transport{Base: rt}}
	req, err := http.NewRequestWithContext(requestid.With(context.Background(), "rid-1"), http.MethodGet, "http://doctor/api/v1/doctors", nil)
	require.NoError(t, err)

	resp, err := client.Do(req)
	require.NoError(t, err)
	_ = resp.Body.Close()

	require.NotNil(t, rt.got)
	assert.Equal(t, "rid-1", rt.got.Header.Get(requestid.Header))
	assert.Empty(t, req.Header.Get(requestid.Header), "the caller's request is not changed")
}

func TestTransportKeepsExplicitHeader(t *testing.T) {
	rt := &recordingTransport{}
	req, err := http.NewRequestWithContext(requestid.With(context.Background(), "from-context"), http.MethodGet, "http://x/", nil)
	require.NoError(t, err)
	req.Header.Set(requestid.Header, "explicit")

	resp, err := requestid.Transport{Base: rt}.RoundTrip(req)
	require.NoError(t, err)
	_ = resp.Body.Close()

	assert.Equal(t, "explicit", rt.got.Header.Get(requestid.Header))
}

func TestTransportWithoutIDAddsNothing(t *testing.T) {
	rt := &recordingTransport{}
	req, err := http.NewRequest(http.MethodGet, "http://x/", nil)
	require.NoError(t, err)

	resp, err := requestid.Transport{Base: rt}.RoundTrip(req)
	require.NoError(t, err)
	_ = resp.Body.Close()

	_, present := rt.got.Header[requestid.Header]
	assert.False(t, present)
}

func TestTransportDefaultBase(t *testing.T) {
	var got string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Get(requestid.Header)
	}))
	defer srv.Close()
	req, err := http.NewRequestWithContext(requestid.With(context.Background(), "rid-2"), http.MethodGet, srv.URL, nil)
	require.NoError(t, err)

	resp, err := (&http.Client{Transport: requestid.Transport{}}).Do(req)
	require.NoError(t, err)
	_ = resp.Body.Close()

	assert.Equal(t, "rid-2", got)
}
