//go:build unix

package runtest

import (
	"net"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
)

// RefusedAddr returns a local address that refuses every connection until
// the test ends. Its port stays bound by a socket that never listens, so a
// listener of a test running alongside cannot be given it: an address
// freed by closing a listener can be, and a "down" peer then answers.
func RefusedAddr(t testing.TB) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	require.NoError(t, err)
	t.Cleanup(func() { _ = syscall.Close(fd) })
	require.NoError(t, syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}))
	sa, err := syscall.Getsockname(fd)
	require.NoError(t, err)
	in4, ok := sa.(*syscall.SockaddrInet4)
	require.True(t, ok, "bound to an IPv4 address")
	return (&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: in4.Port}).String()
}
