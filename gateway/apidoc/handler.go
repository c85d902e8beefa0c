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

// retryAfter is how long an incomplete or failed build is served (or its
// error returned) before the services are asked again: it spares a service
// that is down, and every service, a fetch per request.
const retryAfter = time.Second

// Source builds the merged document from the services' own, fetched at
// /openapi.yaml through the same upstream pools as the API, when it is
// asked for and the last one is older than TTL. A service that cannot be
// reached keeps its last document; one never fetched is left out until it
// answers. A set of documents the merge refuses leaves the last good ones
// and their merge in place. Once a merge exists it is served at once, and
// a due rebuild runs in the background, one at a time: a service that hangs
// holds its fetch, never the readers.
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

	triedAt  time.Time     // end of the last build that left a service out or failed; zero after a complete one
	err      error         // why the last build failed; nil after one that succeeded
	building chan struct{} // closed when the build under way ends; nil while none runs
}

// Document returns the merged document. When the last merge is older than
// TTL or left a service out, the services' documents are fetched again in
// the background while the last merge is served; before any merge, the
// caller waits for the first within ctx.
func (s *Source) Document(ctx context.Context) ([]byte, error) {
	s.mu.Lock()
	now := s.now()
	ttl := s.TTL
	if ttl <= 0 {
		ttl = DefaultTTL
	}
	fresh := s.merged != nil && now.Sub(s.builtAt) < ttl && s.missing == 0
	resting := !s.triedAt.IsZero() && now.Sub(s.triedAt) < retryAfter
	if fresh || resting {
		merged, err := s.merged, s.err
		s.mu.Unlock()
		if merged != nil {
			return merged, nil
		}
		return nil, err
	}
	done := s.building
	if done == nil {
		done = make(chan struct{})
		s.building = done
		// Not the caller's cancellation: others may wait for this build,
		// and each fetch has its own timeout.
		go s.build(context.WithoutCancel(ctx), done)
	}
	merged := s.merged
	s.mu.Unlock()
	if merged != nil {
		return merged, nil
	}
	select {
	case <-done:
	case <-ctx.Done():
		return nil, fmt.Errorf("wait for the first merge: %w", ctx.Err())
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.merged != nil {
		return s.merged, nil
	}
	return nil, s.err
}

// build fetches the services' documents and merges them with the last good
// ones of services that did not answer, then closes done. The fetched ones
// become the good ones only when the merge succeeds: a document the merge
// refuses never replaces the one that worked. The times it records are
// taken once the fetches are over, so that a build slowed by a service that
// hangs still rests a full retryAfter before the next.
func (s *Source) build(ctx context.Context, done chan struct{}) {
	defer close(done)
	s.mu.Lock()
	docs := make(map[string][]byte, len(s.docs))
	for svc, doc := range s.docs {
		docs[svc] = doc
	}
	s.mu.Unlock()
	for svc, doc := range s.fetchAll(ctx) {
		docs[svc] = doc
	}
	merged, err := []byte(nil), errors.New("no service document could be fetched")
	if len(docs) > 0 {
		merged, err = Merge(s.Table, docs)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	s.building = nil
	now := s.now()
	if err != nil {
		s.triedAt, s.err = now, err
		if s.merged != nil && s.Logger != nil {
			_ = level.Warn(s.Logger).Log("msg", "merged OpenAPI document not rebuilt; the last one is served", "err", err)
		}
		return
	}
	s.docs = docs
	s.merged, s.builtAt, s.err = merged, now, nil
	s.missing = len(s.Table.Services()) - len(docs)
	s.triedAt = time.Time{}
	if s.missing > 0 {
		s.triedAt = now
	}
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

// DocumentHandler serves the merged document; 503 until a first one could
// be built (no service answered, or their documents do not merge).
func (s *Source) DocumentHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		doc, err := s.Document(r.Context())
		if err != nil {
			if s.Logger != nil {
				_ = level.Warn(s.Logger).Log("msg", "merged OpenAPI document unavailable", "err", err)
			}
			problem.Write(w, r, problem.Unavailable("the API document cannot be built now"))
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
