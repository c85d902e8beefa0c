// Package clientip finds the address of the client behind a request. The
// X-Forwarded-For header is believed only when the connection comes from a
// configured trusted proxy; anyone else could write any address into it.
package clientip

import (
	"fmt"
	"net/http"
	"net/netip"
	"strings"
)

// Resolver knows which proxies are trusted.
type Resolver struct {
	trusted []netip.Prefix
}

// New parses trusted proxies given as CIDRs ("10.0.0.0/8") or single
// addresses ("192.0.2.7"). None means no proxy is trusted.
func New(proxies []string) (*Resolver, error) {
	r := &Resolver{}
	for _, p := range proxies {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		if strings.Contains(p, "/") {
			pfx, err := netip.ParsePrefix(p)
			if err != nil {
				return nil, fmt.Errorf("trusted proxy %q: %w", p, err)
			}
			r.trusted = append(r.trusted, pfx.Masked())
			continue
		}
		a, err := netip.ParseAddr(p)
		if err != nil {
			return nil, fmt.Errorf("trusted proxy %q: %w", p, err)
		}
		a = a.Unmap()
		r.trusted = append(r.trusted, netip.PrefixFrom(a, a.BitLen()))
	}
	return r, nil
}

// Trusted reports whether a is a trusted proxy.
func (r *Resolver) Trusted(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range r.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Remote returns the address of the connection's peer; the zero Addr if the
// request's RemoteAddr cannot be parsed.
func Remote(req *http.Request) netip.Addr {
	if ap, err := netip.ParseAddrPort(req.RemoteAddr); err == nil {
		return ap.Addr().Unmap()
	}
	a, _ := netip.ParseAddr(req.RemoteAddr)
	return a.Unmap()
}

// Client returns the client address: the peer when it is not a trusted
// proxy, else the rightmost X-Forwarded-For entry that is not a trusted
// proxy. A malformed entry stops the walk at the last hop believed.
func (r *Resolver) Client(req *http.Request) netip.Addr {
	addr := Remote(req)
	if len(r.trusted) == 0 || !r.Trusted(addr) {
		return addr
	}
	lines := req.Header["X-Forwarded-For"]
	for i := len(lines) - 1; i >= 0; i-- {
		line := lines[i]
		for line != "" {
			var entry string
			if j := strings.LastIndexByte(line, ','); j >= 0 {
				entry, line = line[j+1:], line[:j]
			} else {
				entry, line = line, ""
			}
			entry = strings.TrimSpace(entry)
			hop, err := netip.ParseAddr(entry)
			if err != nil {
				return addr
			}
			addr = hop.Unmap()
			if !r.Trusted(addr) {
				return addr
			}
		}
	}
	return addr
}

// ForwardedFor is the X-Forwarded-For value to send upstream: the chain
// received from a trusted proxy with the peer appended, or only the peer.
func (r *Resolver) ForwardedFor(req *http.Request) string {
	peer := Remote(req)
	if !peer.IsValid() {
		return ""
	}
	if lines := req.Header["X-Forwarded-For"]; len(lines) > 0 && r.Trusted(peer) {
		return strings.Join(lines, ", ") + ", " + peer.String()
	}
	return peer.String()
}
