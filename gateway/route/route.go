// Package route holds the gateway's route table: which service serves a path,
// with which methods, whether a token is required, the upstream timeout and
// the rate-limit class. The table is configuration (a YAML or JSON file) with
// defaults built in, and matching a request allocates nothing.
package route

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/dustin/go-humanize"
	"go.yaml.in/yaml/v3"
)

// Auth values of a route.
const (
	AuthRequired = "required"
	AuthPublic   = "public"
)

// Rate-limit classes of a route.
const (
	ClassStrict  = "strict"
	ClassGeneral = "general"
	ClassNone    = "none"
)

// DefaultTimeout bounds an upstream call when a route names no timeout.
const DefaultTimeout = 15 * time.Second

// maxTimeout keeps a configured timeout below the server's write timeout.
const maxTimeout = 55 * time.Second

// maxBodyCeiling bounds a route's body limit, so that a typo ("60GiB" for
// "60MiB") cannot open the gateway to unbounded uploads.
const maxBodyCeiling = 1 << 30

// AllMethods is what a route without a methods list accepts.
var AllMethods = []string{
	http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut,
	http.MethodPatch, http.MethodDelete, http.MethodOptions,
}

// Spec is one route as written in the configuration file.
type Spec struct {
	// Path is an exact path or a pattern: "*" matches one segment and a
	// trailing "/**" matches the rest of the path, including nothing.
	Path string `yaml:"path" json:"path"`
	// Service is the service (or Eureka application) name, in any case.
	Service string   `yaml:"service" json:"service"`
	Methods []string `yaml:"methods,omitempty" json:"methods,omitempty"`
	// Auth is "required" (the default) or "public".
	Auth string `yaml:"auth,omitempty" json:"auth,omitempty"`
	// Timeout is a Go duration such as "10s"; empty means DefaultTimeout.
	Timeout string `yaml:"timeout,omitempty" json:"timeout,omitempty"`
	// RateLimit is "general" (the default), "strict" or "none".
	RateLimit string `yaml:"rateLimit,omitempty" json:"rateLimit,omitempty"`
	// MaxBody is the largest request body, in bytes or with a unit ("60MiB",
	// "512KiB", "10MB"); empty means the gateway's -max-body-bytes.
	MaxBody string `yaml:"maxBody,omitempty" json:"maxBody,omitempty"`
}

// File is the configuration file's shape.
type File struct {
	Routes []Spec `yaml:"routes" json:"routes"`
}

// Route is one validated route.
type Route struct {
	// ID indexes the route in Table.Routes, so callers can keep per-route
	// state in a slice.
	ID        int
	Pattern   string
	Service   string
	Methods   []string
	Public    bool
	Timeout   time.Duration
	RateLimit string
	// MaxBody is the route's request-body limit in bytes; 0 means the
	// gateway's own.
	MaxBody int64
}

// Defaults returns the built-in route table. Public routes are the ones a
// client uses before it has an access token; logout is public because it
// takes the refresh token itself and must work after the access token expired.
func Defaults() []Spec {
	post := []string{http.MethodPost}
	return []Spec{
		{Path: "/.well-known/jwks.json", Service: "auth", Methods: []string{http.MethodGet, http.MethodHead}, Auth: AuthPublic, Timeout: "5s"},
		{Path: "/api/v1/auth/register", Service: "auth", Methods: post, Auth: AuthPublic, RateLimit: ClassStrict},
		{Path: "/api/v1/auth/login", Service: "auth", Methods: post, Auth: AuthPublic, RateLimit: ClassStrict},
		{Path: "/api/v1/auth/refresh", Service: "auth", Methods: post, Auth: AuthPublic},
		{Path: "/api/v1/auth/logout", Service: "auth", Methods: post, Auth: AuthPublic},
		{Path: "/api/v1/auth/password/forgot", Service: "auth", Methods: post, Auth: AuthPublic, RateLimit: ClassStrict},
		{Path: "/api/v1/auth/password/reset", Service: "auth", Methods: post, Auth: AuthPublic, RateLimit: ClassStrict},
		{Path: "/api/v1/auth/**", Service: "auth"},
		{Path: "/api/v1/patients/**", Service: "patient"},
		{Path: "/api/v1/appointments/**", Service: "appointment"},
		{Path: "/api/v1/records/**", Service: "records"},
		// Document uploads and downloads stream whole files: the longest
		// timeout, and room for the records service's largest document
		// (50 MiB by default) where other routes take JSON of 1 MiB.
		{Path: "/api/v1/records/patients/*/documents/**", Service: "records", Timeout: "55s", MaxBody: "60MiB"},
		{Path: "/api/v1/notifications/**", Service: "notification"},
		{Path: "/api/v1/doctors/**", Service: "doctor"},
		{Path: "/api/v1/specializations/**", Service: "doctor"},
	}
}

// Load reads a route file (YAML, or JSON, which YAML reads too). Unknown
// fields are errors so that a typo does not silently make a route public.
func Load(path string) ([]Spec, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open route file: %w", err)
	}
	defer f.Close()
	return Parse(f)
}

// Parse decodes a route file.
func Parse(r io.Reader) ([]Spec, error) {
	dec := yaml.NewDecoder(r)
	dec.KnownFields(true)
	var file File
	if err := dec.Decode(&file); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("route file is empty")
		}
		return nil, fmt.Errorf("decode route file: %w", err)
	}
	if len(file.Routes) == 0 {
		return nil, errors.New("route file has no routes")
	}
	return file.Routes, nil
}

// segment kinds, ordered from least to most specific.
const (
	segRest    = iota // "**": the rest of the path
	segEnd            // the pattern ended here (only used to rank)
	segAny            // "*": one segment
	segLiteral        // a literal segment
)

type segment struct {
	kind int
	lit  string
}

// entry groups the routes sharing one pattern, one per method set.
type entry struct {
	pattern string
	segs    []segment
	routes  []*Route
	allow   string
}

// Table matches request paths and methods to routes.
type Table struct {
	// Routes in configuration order; Routes[i].ID == i.
	Routes  []*Route
	entries []*entry
}

// New validates specs and builds a table.
func New(specs []Spec) (*Table, error) {
	t := &Table{}
	byPattern := map[string]*entry{}
	var errs []error
	for i, s := range specs {
		r, err := compile(s)
		if err != nil {
			errs = append(errs, fmt.Errorf("route %d (%s): %w", i+1, s.Path, err))
			continue
		}
		e, ok := byPattern[r.Pattern]
		if !ok {
			segs, err := parsePattern(r.Pattern)
			if err != nil {
				errs = append(errs, fmt.Errorf("route %d (%s): %w", i+1, s.Path, err))
				continue
			}
			e = &entry{pattern: r.Pattern, segs: segs}
			byPattern[r.Pattern] = e
			t.entries = append(t.entries, e)
		}
		for _, m := range r.Methods {
			if e.route(m) != nil {
				errs = append(errs, fmt.Errorf("route %d (%s): method %s is already routed for this path", i+1, s.Path, m))
			}
		}
		r.ID = len(t.Routes)
		t.Routes = append(t.Routes, r)
		e.routes = append(e.routes, r)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if len(t.Routes) == 0 {
		return nil, errors.New("no routes")
	}
	for _, e := range t.entries {
		var ms []string
		for _, r := range e.routes {
			ms = append(ms, r.Methods...)
		}
		e.allow = strings.Join(ms, ", ")
	}
	sort.SliceStable(t.entries, func(i, j int) bool { return moreSpecific(t.entries[i].segs, t.entries[j].segs) })
	return t, nil
}

func compile(s Spec) (*Route, error) {
	// Service names are matched without regard to case: discovery holds
	// them in lower case, while Eureka clients register theirs upper case
	// (LEGACY-BILLING is the service legacy-billing).
	r := &Route{Pattern: s.Path, Service: strings.ToLower(strings.TrimSpace(s.Service)), Timeout: DefaultTimeout}
	if !strings.HasPrefix(s.Path, "/") {
		return nil, errors.New("path must start with /")
	}
	if r.Service == "" {
		return nil, errors.New("service is required")
	}
	switch s.Auth {
	case "", AuthRequired:
	case AuthPublic:
		r.Public = true
	default:
		return nil, fmt.Errorf("auth %q: want %q or %q", s.Auth, AuthRequired, AuthPublic)
	}
	if s.Timeout != "" {
		d, err := time.ParseDuration(s.Timeout)
		if err != nil {
			return nil, fmt.Errorf("timeout %q: %w", s.Timeout, err)
		}
		if d <= 0 || d > maxTimeout {
			return nil, fmt.Errorf("timeout %s: want more than 0 and at most %s", d, maxTimeout)
		}
		r.Timeout = d
	}
	if s.MaxBody != "" {
		n, err := humanize.ParseBytes(s.MaxBody)
		if err != nil {
			return nil, fmt.Errorf("maxBody %q: want bytes or a size such as 60MiB: %w", s.MaxBody, err)
		}
		if n == 0 || n > maxBodyCeiling {
			return nil, fmt.Errorf("maxBody %q: want more than 0 and at most 1GiB", s.MaxBody)
		}
		r.MaxBody = int64(n)
	}
	switch s.RateLimit {
	case "":
		r.RateLimit = ClassGeneral
	case ClassGeneral, ClassStrict, ClassNone:
		r.RateLimit = s.RateLimit
	default:
		return nil, fmt.Errorf("rateLimit %q: want %q, %q or %q", s.RateLimit, ClassGeneral, ClassStrict, ClassNone)
	}
	methods := s.Methods
	if len(methods) == 0 {
		methods = AllMethods
	}
	seen := map[string]bool{}
	for _, m := range methods {
		m = strings.ToUpper(strings.TrimSpace(m))
		if !validMethod(m) {
			return nil, fmt.Errorf("method %q is not an HTTP method", m)
		}
		if !seen[m] {
			seen[m] = true
			r.Methods = append(r.Methods, m)
		}
	}
	return r, nil
}

func validMethod(m string) bool {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut,
		http.MethodPatch, http.MethodDelete, http.MethodOptions:
		return true
	}
	return false
}

func parsePattern(p string) ([]segment, error) {
	parts := strings.Split(p[1:], "/")
	segs := make([]segment, 0, len(parts))
	for i, part := range parts {
		switch {
		case part == "**":
			if i != len(parts)-1 {
				return nil, errors.New(`"**" must be the last segment`)
			}
			segs = append(segs, segment{kind: segRest})
		case part == "*":
			segs = append(segs, segment{kind: segAny})
		case part == "" && i != len(parts)-1:
			return nil, errors.New("empty path segment")
		case strings.Contains(part, "*"):
			return nil, fmt.Errorf("segment %q: a wildcard must be a whole segment", part)
		case part == "." || part == "..":
			return nil, fmt.Errorf("segment %q is not allowed", part)
		default:
			segs = append(segs, segment{kind: segLiteral, lit: part})
		}
	}
	return segs, nil
}

// moreSpecific orders patterns so that the first match is the most specific:
// segment by segment, a literal beats "*", which beats the end of a pattern,
// which beats "**".
func moreSpecific(a, b []segment) bool {
	for i := 0; i < len(a) || i < len(b); i++ {
		ka, kb := rank(a, i), rank(b, i)
		if ka != kb {
			return ka > kb
		}
		if ka == segRest || ka == segEnd {
			return false
		}
	}
	return false
}

func rank(segs []segment, i int) int {
	if i >= len(segs) {
		return segEnd
	}
	return segs[i].kind
}

// match reports whether path (which starts with "/") fits the pattern.
func (e *entry) match(path string) bool {
	rest := path[1:]
	for i, s := range e.segs {
		if s.kind == segRest {
			return true
		}
		// Take the next segment of the path.
		seg, more := rest, false
		if j := strings.IndexByte(rest, '/'); j >= 0 {
			seg, rest, more = rest[:j], rest[j+1:], true
		} else {
			rest = ""
		}
		switch s.kind {
		case segLiteral:
			if seg != s.lit {
				return false
			}
		case segAny:
			if seg == "" {
				return false
			}
		}
		if !more {
			// The path ended: it matches if the pattern ends too, or goes
			// on with "**" alone.
			return i == len(e.segs)-1 || (i == len(e.segs)-2 && e.segs[i+1].kind == segRest)
		}
	}
	return false
}

func (e *entry) route(method string) *Route {
	for _, r := range e.routes {
		for _, m := range r.Methods {
			if m == method {
				return r
			}
		}
	}
	return nil
}

// Match finds the route for a request and the methods its path allows (the
// Allow header value). A known path with another method gives nil and the
// allowed methods; an unknown path gives nil and "".
func (t *Table) Match(method, path string) (r *Route, allow string) {
	if path == "" || path[0] != '/' {
		return nil, ""
	}
	for _, e := range t.entries {
		if e.match(path) {
			return e.route(method), e.allow
		}
	}
	return nil, ""
}

// Services lists the services the table routes to, sorted.
func (t *Table) Services() []string {
	set := map[string]bool{}
	for _, r := range t.Routes {
		set[r.Service] = true
	}
	out := make([]string, 0, len(set))
	for s := range set {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// CleanPath reports whether path is canonical: no empty, "." or ".."
// segments other than a single trailing slash. The gateway refuses other
// paths rather than guess how an upstream router would resolve them. A
// segment that is a dot segment once its ";" parameters are cut off
// ("..;", ".;jsessionid=1") counts as one: Java servlet containers, which
// Eureka clients may run on, cut them before resolving the path, so
// "/api/v1/patients/..;/..;/internal" would climb out of the route there.
func CleanPath(path string) bool {
	if path == "" || path[0] != '/' {
		return false
	}
	start := 1
	for i := 1; i <= len(path); i++ {
		if i < len(path) && path[i] != '/' {
			continue
		}
		seg := path[start:i]
		if j := strings.IndexByte(seg, ';'); j > 0 {
			seg = seg[:j]
		}
		switch seg {
		case ".", "..":
			return false
		case "":
			if i != len(path) {
				return false
			}
		}
		start = i + 1
	}
	return true
}
