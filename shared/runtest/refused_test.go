//go:build unix

package runtest_test

import (
	"errors"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/shared/runtest"
)

// A refused address refuses at once, and no listener is given its port
// while the test runs, however many ask for one.
func TestRefusedAddrRefusesForTheWholeTest(t *testing.T) {
	addr := runtest.RefusedAddr(t)
	for range 200 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		taken := ln.Addr().String()
		require.NoError(t, ln.Close())
		require.NotEqual(t, addr, taken, "the port was given to a listener")
	}
	_, err := net.Listen("tcp", addr)
	require.Error(t, err, "the port is bound")
	_, err = net.DialTimeout("tcp", addr, 2*time.Second)
	require.Error(t, err)
	assert.True(t, errors.Is(err, syscall.ECONNREFUSED), "refused, not timed out: %v", err)
}
