package edge

import (
	"strings"
)

// cors holds the allowed browser origins. Tokens travel in the
// Authorization header, never in cookies, so credentials are not allowed.
type cors struct {
	any     bool
	origins map[string]bool
}

func newCORS(origins []string) *cors {
	c := &cors{origins: map[string]bool{}}
	for _, o := range origins {
		o = strings.TrimRight(strings.TrimSpace(o), "/")
		switch o {
		case "":
		case "*":
			c.any = true
		default:
			c.origins[asciiLower(o)] = true
		}
	}
	if !c.any && len(c.origins) == 0 {
		return nil
	}
	return c
}

func (c *cors) allowed(origin string) bool {
	return c.any || c.origins[asciiLower(origin)]
}

// asciiLower folds the case of ASCII letters only. strings.ToLower would
// also fold "İ" to "i" and the Kelvin sign to "k", allowing, and echoing
// back, an origin that is not a configured one: an origin's scheme and
// host are ASCII, and only their ASCII letters have case.
func asciiLower(s string) string {
	i := strings.IndexFunc(s, func(r rune) bool { return 'A' <= r && r <= 'Z' })
	if i < 0 {
		return s
	}
	b := []byte(s)
	for ; i < len(b); i++ {
		if 'A' <= b[i] && b[i] <= 'Z' {
			b[i] += 'a' - 'A'
		}
	}
	return string(b)
}

func (c *cors) setOrigin(h map[string][]string, origin string) {
	if c.any {
		h["Access-Control-Allow-Origin"] = anyOrigin
		return
	}
	h["Access-Control-Allow-Origin"] = []string{origin}
}

// decorate adds the CORS answer headers of an actual (not preflight)
// request from an allowed origin.
func (c *cors) decorate(h map[string][]string, origin string) {
	if !c.allowed(origin) {
		h["Vary"] = varyOrigin
		return
	}
	c.setOrigin(h, origin)
	h["Vary"] = varyOrigin
	h["Access-Control-Expose-Headers"] = corsExposeHeaders
}

var (
	anyOrigin     = []string{"*"}
	varyOrigin    = []string{"Origin"}
	varyPreflight = []string{"Origin, Access-Control-Request-Method, Access-Control-Request-Headers"}
	// The request headers of the services' OpenAPI documents that a browser
	// does not send without asking: Idempotency-Key guards a booking against
	// a retried POST, Range and If-Range resume a document download, and
	// X-Access-Reason carries an ADMIN's break-glass reason.
	corsAllowHeaders = []string{"Authorization, Content-Type, Accept, Accept-Language, If-Match, If-None-Match, " +
		"If-Range, Range, Idempotency-Key, X-Access-Reason, X-Request-ID"}
	// The response headers of those documents that scripts cannot read
	// unless exposed (Last-Modified, Cache-Control and the like always are).
	corsExposeHeaders = []string{"ETag, Location, Retry-After, RateLimit, RateLimit-Policy, X-Request-ID, " +
		"Idempotent-Replayed, WWW-Authenticate, Accept-Ranges, Content-Range, Content-Disposition"}
	corsMaxAge = []string{"600"}
)
