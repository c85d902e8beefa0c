package main

import (
	"bufio"
	"io"
	"sync"
	"time"
)

// logWriter batches log lines: the gateway writes an access-log line for
// every request, and one write system call per line costs a noticeable share
// of its time at thousands of requests per second. Lines are flushed every
// interval, when the buffer fills, and on Close, so a line is late by at most
// the interval, and a request never waits on a slow log reader for longer
// than one buffer flush.
type logWriter struct {
	mu   sync.Mutex
	buf  *bufio.Writer
	stop chan struct{}
	done chan struct{}
}

func newLogWriter(w io.Writer, size int, interval time.Duration) *logWriter {
	lw := &logWriter{buf: bufio.NewWriterSize(w, size), stop: make(chan struct{}), done: make(chan struct{})}
	go lw.loop(interval)
	return lw
}

func (lw *logWriter) loop(interval time.Duration) {
	defer close(lw.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-lw.stop:
			return
		case <-t.C:
			_ = lw.Flush()
		}
	}
}

// Write buffers p; a line larger than the buffer goes straight through.
func (lw *logWriter) Write(p []byte) (int, error) {
	lw.mu.Lock()
	defer lw.mu.Unlock()
	return lw.buf.Write(p)
}

// Flush writes the buffered lines.
func (lw *logWriter) Flush() error {
	lw.mu.Lock()
	defer lw.mu.Unlock()
	return lw.buf.Flush()
}

// Close stops the background flushing and flushes what is left.
func (lw *logWriter) Close() error {
	select {
	case <-lw.stop:
	default:
		close(lw.stop)
	}
	<-lw.done
	return lw.Flush()
}
