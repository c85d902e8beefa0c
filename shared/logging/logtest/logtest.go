// Package logtest holds a log sink that tests can read while a server writes to it.
package logtest

import (
	"bytes"
	"sync"
)

// Buffer is an io.Writer for loggers that is safe to read with String while
// other goroutines write to it.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
