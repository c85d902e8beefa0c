package discovery

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// Advertised works out the address and port other services reach this
// instance at. advertise is "host:port" ("[v6]:port" for an IPv6 address),
// or a bare host or IPv6 address to keep the listening port; empty means
// 127.0.0.1 and the listening port, right for everything on one machine.
//
// An IPv6 address with a port glued on unbracketed ("fd00::2a:8081", what
// "$(POD_IP):8081" gives on an IPv6 pod) reads as another address: one that
// is no address, or that ends in the listening port, is refused rather than
// registered where nobody listens.
func Advertised(advertise string, listen net.Addr) (string, int, error) {
	_, lport, err := net.SplitHostPort(listen.String())
	if err != nil {
		return "", 0, fmt.Errorf("listening address %q: %w", listen, err)
	}
	port, err := strconv.Atoi(lport)
	if err != nil {
		return "", 0, fmt.Errorf("listening port %q: %w", lport, err)
	}
	advertise = strings.TrimSpace(advertise)
	if advertise == "" {
		return "127.0.0.1", port, nil
	}
	host, p, err := net.SplitHostPort(advertise)
	if err != nil {
		// A bare host (or IPv6 address, bracketed or not) keeps the
		// listening port.
		if strings.Count(advertise, ":") > 1 && !strings.HasPrefix(advertise, "[") {
			if err := bareIPv6(advertise, port); err != nil {
				return "", 0, err
			}
		}
		return strings.Trim(advertise, "[]"), port, nil
	}
	if p != "" {
		if port, err = strconv.Atoi(p); err != nil || port < 1 || port > 65535 {
			return "", 0, fmt.Errorf("advertised port %q: must be 1..65535", p)
		}
	}
	if host == "" {
		host = "127.0.0.1"
	}
	return host, port, nil
}

// bareIPv6 checks an unbracketed value with several colons, which can only
// be an IPv6 address: it must be one, and not one that may as well be an
// address with the listening port glued on.
func bareIPv6(advertise string, port int) error {
	addr, err := netip.ParseAddr(advertise)
	if err != nil || !addr.Is6() {
		return fmt.Errorf("advertised address %q is neither host:port nor an IPv6 address: write an IPv6 address with a port as [address]:port", advertise)
	}
	if last := advertise[strings.LastIndex(advertise, ":")+1:]; strings.Contains(advertise, "::") && last == strconv.Itoa(port) {
		return fmt.Errorf("advertised address %q is ambiguous: an IPv6 address, or one with the listening port %d glued on; write [address]:port, or the address alone to keep the listening port", advertise, port)
	}
	return nil
}

// InstanceID names an instance after its service and address, e.g.
// "auth-127.0.0.1-8081", so that a restarted instance replaces its old entry
// instead of adding a second one. Characters the registry does not accept
// become '-'.
func InstanceID(service, host string, port int) string {
	raw := service + "-" + host + "-" + strconv.Itoa(port)
	b := []byte(raw)
	for i, c := range b {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == ':' || c == '-'
		if !ok {
			b[i] = '-'
		}
	}
	if len(b) > 128 {
		b = b[:128]
	}
	return string(b)
}
