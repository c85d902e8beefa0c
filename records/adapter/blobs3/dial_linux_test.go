package blobs3_test

import (
	"context"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/medisync/medisync/records/adapter/blobs3"
)

// receiveBuffer is the kernel's receive buffer of c.
func receiveBuffer(t *testing.T, c net.Conn) int {
	t.Helper()
	rc, err := c.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var n int
	var gerr error
	if err := rc.Control(func(fd uintptr) { n, gerr = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF) }); err != nil {
		t.Fatal(err)
	}
	if gerr != nil {
		t.Fatal(gerr)
	}
	return n
}

// Connections dialed through WithReceiveBuffer have the buffer asked for
// (the kernel doubles it for its bookkeeping, up to net.core.rmem_max);
// 0 leaves the kernel's default.
func TestWithReceiveBuffer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_ = c.Close() // only the dialing side is looked at
		}
	}()
	raw, err := os.ReadFile("/proc/sys/net/core/rmem_max")
	if err != nil {
		t.Fatal(err)
	}
	rmemMax, err := strconv.Atoi(strings.TrimSpace(string(raw)))
	if err != nil {
		t.Fatal(err)
	}
	var d net.Dialer
	dial := func(n int) int {
		c, err := blobs3.WithReceiveBuffer(d.DialContext, n)(context.Background(), "tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return receiveBuffer(t, c)
	}
	plain := dial(0)
	want := min(1<<20, rmemMax) * 2
	if got := dial(1 << 20); got != want {
		t.Fatalf("receive buffer %d, want %d (the kernel's default is %d)", got, want, plain)
	}
}
