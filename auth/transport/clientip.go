package transport

import (
	"fmt"
	"net/http"
	"net/netip"

	"github.com/medisync/medisync/shared/clientip"
)

// ClientIP finds the address a login comes from, for throttling. Behind the
// gateway every connection comes from the gateway, so X-Forwarded-For is
// read, but only when the peer is a trusted proxy: anyone else could write
// any address into it.
type ClientIP struct {
	resolver *clientip.Resolver
}

// NewClientIP parses trusted proxies as CIDRs or single addresses.
func NewClientIP(proxies []string) (*ClientIP, error) {
	r, err := clientip.New(proxies)
	if err != nil {
		return nil, fmt.Errorf("client address: %w", err)
	}
	return &ClientIP{resolver: r}, nil
}

// Of returns the client address of r: the peer, or when the peer is a
// trusted proxy the rightmost X-Forwarded-For hop that is not. An IPv6
// client is named by its /64 network: one subscriber commonly holds a whole
// /64, and counting each of its addresses apart would let it escape the
// per-address login throttle.
func (c *ClientIP) Of(r *http.Request) string {
	if c == nil {
		return network(clientip.Remote(r))
	}
	return network(c.resolver.Client(r))
}

func network(a netip.Addr) string {
	if a.Is6() {
		return netip.PrefixFrom(a.WithZone(""), 64).Masked().String()
	}
	return a.String()
}
