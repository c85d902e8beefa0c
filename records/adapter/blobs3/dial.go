package blobs3

import (
	"context"
	"fmt"
	"net"
)

// DialFunc dials a connection, as http.Transport.DialContext does.
type DialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// WithReceiveBuffer wraps dial so that every TCP connection it makes has a
// receive buffer of n bytes; n <= 0 returns dial as it is, leaving the
// kernel's default and its autotuning.
//
// Some S3-compatible servers (versitygw without --keep-alive) close the
// connection after every answer, so each GET starts on a fresh socket.
// Autotuning grows a fresh socket's buffer only as the reader keeps up, one
// round trip at a time, and the server waits on a small window for most of
// a 1 MB object; a buffer the size of the objects lets it send them at
// once. A fixed buffer turns autotuning off for the socket, and the kernel
// caps n at net.core.rmem_max (208 KiB on many hosts), which would slow a
// distant server's large objects: it is for nearby servers that close
// their connections, not a default. The kernel charges the memory only for
// bytes that arrive and are not yet read.
func WithReceiveBuffer(dial DialFunc, n int) DialFunc {
	if n <= 0 {
		return dial
	}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		if tc, ok := c.(*net.TCPConn); ok {
			if err := tc.SetReadBuffer(n); err != nil {
				_ = c.Close()
				return nil, fmt.Errorf("set receive buffer: %w", err)
			}
		}
		return c, nil
	}
}
