package apidoc

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"

	"github.com/medisync/medisync/gateway/route"
	"github.com/medisync/medisync/shared/clock"
	"github.com/medisync/medisync/shared/logging"
	"github.com/medisync/medisync/shared/problem"
)

//go:embed assets/docs.html assets/redoc.standalone.js
var assets embed.FS

// Paths the gateway serves itself for the reference.
const (
	DocumentPath = "/openapi.yaml"
	PagePath     = "/docs"
	ScriptPath   = "/docs/redoc.standalone.js"
)

// DefaultTTL is how long a merged document is served before the services'
// documents are fetched again: they change only with a deployment.
const DefaultTTL = time.Minute

// maxDocumentBytes bounds one service's document.
const maxDocumentBytes = 4 << 20

// Source builds the merged document from the services' own, fetched at
// /openapi.yaml through the same upstream pools as the API, when it is
// asked for and the last one is older than TTL. A service that cannot be
// reached keeps its last document; one never fetched is left out until it
// answers.
type Source struct {
	Table     *route.Table
	Upstreams map[string]http.RoundTripper
	TTL       time.Duration
	Clock     clock.Clock
	Logger    log.Logger

	mu      sync.Mutex
	docs    map[string][]byte // last good document of each service
	merged  []byte
	builtAt time.Time
	missing int // services left out of merged
}

// Document returns the merged document, fetching the services' documents
// again when the last merge is older than TTL or left a service out.
func (s *Source) Document(ctx context.Context) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	ttl := s.TTL
	if ttl <= 0 {
		ttl = DefaultTTL
	}
	if s.merged != nil && now.Sub(s.builtAt) < ttl && s.missing == 0 {
		return s.merged, nil
	}
	if s.merged != nil && s.missing > 0 && now.Sub(s.builtAt) < time.Second {
		return s.merged, nil // do not hammer a service that is down
	}
	if s.docs == nil {
		s.docs = map[string][]byte{}
	}
	fetched := s.fetchAll(ctx)
	for svc, doc := range fetched {
		s.docs[svc] = doc
	}
	if len(s.docs) == 0 {
		return nil, errors.New("no service document could be fetched")
	}
	merged, err := Merge(s.Table, s.docs)
	if err != nil {
		return nil, err
	}
	s.merged, s.builtAt = merged, now
	s.missing = len(s.Table.Services()) - len(s.docs)
	return merged, nil
}

func (s *Source) now() time.Time {
	if s.Clock == nil {
		return time.Now()
	}
	return s.Clock.Now()
}

// fetchAll asks every routed service for its document at once.
func (s *Source) fetchAll(ctx context.Context) map[string][]byte {
	services := s.Table.Services()
	sort.Strings(services)
	var mu sync.Mutex
	var wg sync.WaitGroup
	out := map[string][]byte{}
	for _, svc := range services {
		up := s.Upstreams[svc]
		if up == nil {
			continue
		}
		wg.Go(func() {
			doc, err := fetch(ctx, up, svc)
			if err != nil {
				if s.Logger != nil {
					_ = level.Warn(s.Logger).Log("msg", "service OpenAPI document unavailable", logging.KeyPeer, svc, "err", err)
				}
				return
			}
			mu.Lock()
			out[svc] = doc
			mu.Unlock()
		})
	}
	wg.Wait()
	return out
}

func fetch(ctx context.Context, up http.RoundTripper, svc string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+svc+DocumentPath, nil)
	if err != nil {
		return nil, fmt.Errorf("request: %w", err)
	}
	res, err := up.RoundTrip(req)
	if err != nil {
		return nil, fmt.Errorf("fetch: %w", err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetch: status %d", res.StatusCode)
	}
	raw, err := io.ReadAll(io.LimitReader(res.Body, maxDocumentBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read: %w", err)
	}
	if len(raw) > maxDocumentBytes {
		return nil, fmt.Errorf("document larger than %d bytes", maxDocumentBytes)
	}
	return raw, nil
}

// DocumentHandler serves the merged document; 503 while no service's
// document could be fetched.
func (s *Source) DocumentHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		doc, err := s.Document(r.Context())
		if err != nil {
			if s.Logger != nil {
				_ = level.Warn(s.Logger).Log("msg", "merged OpenAPI document unavailable", "err", err)
			}
			problem.Write(w, r, problem.Unavailable("the API document cannot be built now: no service answered"))
			return
		}
		w.Header().Set("Content-Type", "application/yaml")
		w.Header().Set("Cache-Control", "public, max-age=60")
		_, _ = w.Write(doc)
	})
}

// pagePolicy lets the page load its own script and the document, and lets
// Redoc use inline styles, data: images and its blob: worker; nothing else.
const pagePolicy = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
	"font-src 'self' data:; connect-src 'self'; worker-src blob:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

// PageHandler serves the reference page at /docs.
func PageHandler() http.Handler {
	return asset("assets/docs.html", "text/html; charset=utf-8", "no-cache")
}

// ScriptHandler serves Redoc's standalone bundle, embedded in the binary.
func ScriptHandler() http.Handler {
	return asset("assets/redoc.standalone.js", "text/javascript; charset=utf-8", "public, max-age=86400")
}

func asset(name, contentType, cacheControl string) http.Handler {
	body, err := assets.ReadFile(name)
	if err != nil {
		panic("apidoc: embedded asset missing: " + name) // a build defect, caught by the tests
	}
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		h := w.Header()
		h.Set("Content-Type", contentType)
		h.Set("Cache-Control", cacheControl)
		h.Set("Content-Security-Policy", pagePolicy)
		_, _ = w.Write(body)
	})
}
