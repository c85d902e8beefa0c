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
// the log itself, so there is nowhere else to keep or report them. A write
// that failed part-way leaves a torn line in the log; the next write starts
// with a newline, so the lines after it stay whole.
type logWriter struct {
	mu   sync.Mutex
	out  *tailWriter
	buf  *bufio.Writer
	stop chan struct{}
	done chan struct{}
}

// tailWriter passes writes on to w and remembers whether the output ends
// mid-line, as it does after a write that failed part-way.
type tailWriter struct {
	w    io.Writer
	torn bool
}

func (t *tailWriter) Write(p []byte) (int, error) {
	n, err := t.w.Write(p)
	if n > 0 {
		t.torn = p[n-1] != '\n'
	}
	return n, err
}

func newLogWriter(w io.Writer, size int, interval time.Duration) *logWriter {
	out := &tailWriter{w: w}
	lw := &logWriter{out: out, buf: bufio.NewWriterSize(out, size), stop: make(chan struct{}), done: make(chan struct{})}
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
// later write, which would silence the process for good. When the output was
// left mid-line, a newline goes first in the emptied buffer, so the next line
// is not glued onto the torn one.
func (lw *logWriter) dropOnError(err error) {
	if err != nil {
		lw.buf.Reset(lw.out)
		if lw.out.torn {
			_ = lw.buf.WriteByte('\n')
		}
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
