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
	addr, _, _ := r.walk(req)
	return addr
}

// walk finds the client as Client describes, and where the believed part of
// the X-Forwarded-For lines starts: at byte off of line li, the client's
// entry; li is the number of lines when no entry is believed.
func (r *Resolver) walk(req *http.Request) (addr netip.Addr, li, off int) {
	addr = Remote(req)
	lines := req.Header["X-Forwarded-For"]
	li = len(lines)
	if len(r.trusted) == 0 || !r.Trusted(addr) {
		return addr, li, 0
	}
	for i := len(lines) - 1; i >= 0; i-- {
		line := lines[i]
		for end := len(line); end > 0; {
			start := strings.LastIndexByte(line[:end], ',') + 1
			hop, err := netip.ParseAddr(strings.TrimSpace(line[start:end]))
			if err != nil {
				return addr, li, off
			}
			addr, li, off = hop.Unmap(), i, start
			if !r.Trusted(addr) {
				return addr, li, off
			}
			end = start - 1
		}
	}
	return addr, li, off
}

// ForwardedFor is the X-Forwarded-For value to send upstream: the part of
// the chain received from a trusted proxy that Client believes (the client
// it picked and the proxies after it) with the peer appended, or only the
// peer. Entries left of the client are whatever the client wrote: a service
// that trusts this header (auth's login throttle behind the gateway) must
// not key on them.
func (r *Resolver) ForwardedFor(req *http.Request) string {
	peer := Remote(req)
	if !peer.IsValid() {
		return ""
	}
	_, li, off := r.walk(req)
	lines := req.Header["X-Forwarded-For"]
	if li == len(lines) {
		return peer.String()
	}
	chain := []string{strings.TrimLeft(lines[li][off:], " \t")}
	// The walk passes over an empty line; joined in, it would be an empty
	// entry, which stops the walk of the service upstream at a proxy.
	for _, line := range lines[li+1:] {
		if line != "" {
			chain = append(chain, line)
		}
	}
	return strings.Join(append(chain, peer.String()), ", ")
}
