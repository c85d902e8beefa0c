package transport

import (
	"fmt"
	"net/http"
	"net/netip"
	"strings"
)

// ClientIP finds the address a login comes from, for throttling. Behind the
// gateway every connection comes from the gateway, so X-Forwarded-For is
// read, but only when the peer is a trusted proxy: anyone else could write
// any address into it.
type ClientIP struct {
	trusted []netip.Prefix
}

// NewClientIP parses trusted proxies as CIDRs or single addresses.
func NewClientIP(proxies []string) (*ClientIP, error) {
	c := &ClientIP{}
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
			c.trusted = append(c.trusted, pfx.Masked())
			continue
		}
		a, err := netip.ParseAddr(p)
		if err != nil {
			return nil, fmt.Errorf("trusted proxy %q: %w", p, err)
		}
		a = a.Unmap()
		c.trusted = append(c.trusted, netip.PrefixFrom(a, a.BitLen()))
	}
	return c, nil
}

func (c *ClientIP) isTrusted(a netip.Addr) bool {
	for _, p := range c.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Of returns the client address of r: the peer, or when the peer is a
// trusted proxy the rightmost X-Forwarded-For hop that is not. An IPv6
// client is named by its /64 network: one subscriber commonly holds a whole
// /64, and counting each of its addresses apart would let it escape the
// per-address login throttle.
func (c *ClientIP) Of(r *http.Request) string {
	return network(c.of(r))
}

func network(a netip.Addr) string {
	if a.Is6() {
		return netip.PrefixFrom(a.WithZone(""), 64).Masked().String()
	}
	return a.String()
}

func (c *ClientIP) of(r *http.Request) netip.Addr {
	addr := peer(r)
	if c == nil || !addr.IsValid() || !c.isTrusted(addr) {
		return addr
	}
	lines := r.Header.Values("X-Forwarded-For")
	for i := len(lines) - 1; i >= 0; i-- {
		hops := strings.Split(lines[i], ",")
		for j := len(hops) - 1; j >= 0; j-- {
			hop, err := netip.ParseAddr(strings.TrimSpace(hops[j]))
			if err != nil {
				return addr
			}
			addr = hop.Unmap()
			if !c.isTrusted(addr) {
				return addr
			}
		}
	}
	return addr
}

func peer(r *http.Request) netip.Addr {
	if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		return ap.Addr().Unmap()
	}
	a, _ := netip.ParseAddr(r.RemoteAddr)
	return a.Unmap()
}
