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
// than one buffer flush. A failed write (a full disk, a pipe reader that
// stalled) loses the lines held at the time, and only those: the lines are
// the log itself, so there is nowhere else to keep or report them.
type logWriter struct {
	mu   sync.Mutex
	out  io.Writer
	buf  *bufio.Writer
	stop chan struct{}
	done chan struct{}
}

func newLogWriter(w io.Writer, size int, interval time.Duration) *logWriter {
	lw := &logWriter{out: w, buf: bufio.NewWriterSize(w, size), stop: make(chan struct{}), done: make(chan struct{})}
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
	n, err := lw.buf.Write(p)
	lw.dropOnError(err)
	return n, err
}

// Flush writes the buffered lines.
func (lw *logWriter) Flush() error {
	lw.mu.Lock()
	defer lw.mu.Unlock()
	err := lw.buf.Flush()
	lw.dropOnError(err)
	return err
}

// dropOnError discards what a failed write left in the buffer, and the
// failure with it: a bufio.Writer keeps its first error and refuses every
// later write, which would silence the process for good.
func (lw *logWriter) dropOnError(err error) {
	if err != nil {
		lw.buf.Reset(lw.out)
	}
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
