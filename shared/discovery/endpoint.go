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
// An unbracketed value with several colons is taken as an IPv6 address
// alone: "$(POD_IP):8081" on an IPv6 pod gives one that is no address
// (refused at start) or another address, which no check can tell from a
// real one (a pod may well hold fd00::8081); so a port goes with brackets.
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
			if a, err := netip.ParseAddr(advertise); err != nil || !a.Is6() {
				return "", 0, fmt.Errorf("advertised address %q is neither host:port nor an IPv6 address: write an IPv6 address with a port as [address]:port", advertise)
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
