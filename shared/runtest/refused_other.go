//go:build !unix

package runtest

import "testing"

// RefusedAddr returns a local address that nothing listens on now; unlike
// on Unix, its port is free for another listener to take.
func RefusedAddr(t testing.TB) string {
	t.Helper()
	return FreeAddr(t)
}
