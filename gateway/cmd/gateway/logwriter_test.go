package main

import (
	"bytes"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/shared/logging/logtest"
)

func TestLogWriterBatchesAndFlushes(t *testing.T) {
	var out logtest.Buffer
	lw := newLogWriter(&out, 1024, time.Hour)
	_, err := lw.Write([]byte("line 1\n"))
	require.NoError(t, err)
	assert.Empty(t, out.String(), "held until a flush")
	require.NoError(t, lw.Flush())
	assert.Equal(t, "line 1\n", out.String())

	big := strings.Repeat("x", 2048) + "\n"
	_, err = lw.Write([]byte(big))
	require.NoError(t, err)
	assert.Equal(t, "line 1\n"+big, out.String(), "a line larger than the buffer is not held")

	_, _ = lw.Write([]byte("last\n"))
	require.NoError(t, lw.Close())
	assert.True(t, strings.HasSuffix(out.String(), "last\n"), "Close flushes")
	require.NoError(t, lw.Close(), "twice is fine")
}

func TestLogWriterFlushesOnItsOwn(t *testing.T) {
	var out logtest.Buffer
	lw := newLogWriter(&out, 1024, 5*time.Millisecond)
	defer lw.Close()
	// The writers start together, behind a barrier, so that their lines do
	// race for the buffer.
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, _ = lw.Write([]byte(strings.Repeat(string(rune('a'+i)), 10) + "\n"))
		}()
	}
	close(start)
	wg.Wait()
	require.Eventually(t, func() bool { return strings.Count(out.String(), "\n") == 8 }, 2*time.Second, time.Millisecond)
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		assert.Len(t, line, 10, "lines are never interleaved")
	}
}

// flakyOut fails its first write (a full disk, an I/O error on the log
// file or pipe) and works again afterwards.
type flakyOut struct {
	mu     sync.Mutex
	failed bool
	got    bytes.Buffer
}

func (f *flakyOut) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.failed {
		f.failed = true
		return 0, errors.New("no space left on device")
	}
	return f.got.Write(p)
}

func (f *flakyOut) String() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.got.String()
}

// A failed write loses the lines held then, and only those: the lines
// written afterwards reach the log, without a restart.
func TestLogWriterRecoversFromAFailedWrite(t *testing.T) {
	out := &flakyOut{}
	lw := newLogWriter(out, 64<<10, time.Hour)
	defer lw.Close()

	_, _ = lw.Write([]byte("line lost to the fault\n"))
	require.Error(t, lw.Flush(), "the device fails once")
	_, err := lw.Write([]byte("line after the fault\n"))
	require.NoError(t, err)
	require.NoError(t, lw.Flush())
	assert.Equal(t, "line after the fault\n", out.String())

	// The same when the failing write is the one a full buffer makes.
	out = &flakyOut{}
	lw = newLogWriter(out, 16, time.Hour)
	defer lw.Close()
	_, _ = lw.Write([]byte("0123456789\n"))
	_, err = lw.Write([]byte("fills the buffer\n"))
	require.Error(t, err)
	_, err = lw.Write([]byte("later\n"))
	require.NoError(t, err)
	require.NoError(t, lw.Flush())
	assert.Equal(t, "later\n", out.String())
}

// halfOut writes only part of its first write, then fails (as os.File.Write
// does when the disk fills mid-write: n > 0 and ENOSPC), and works again.
type halfOut struct {
	mu     sync.Mutex
	failed bool
	got    bytes.Buffer
}

func (f *halfOut) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.failed {
		f.failed = true
		n := len(p) / 2
		f.got.Write(p[:n])
		return n, errors.New("no space left on device")
	}
	return f.got.Write(p)
}

func (f *halfOut) String() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.got.String()
}

// A write that failed part-way leaves a torn line in the log; the line
// written after the fault is still a line of its own, not glued onto the
// torn fragment.
func TestLogWriterStartsANewLineAfterAWriteTornPartWay(t *testing.T) {
	t.Run("a flush of the buffer", func(t *testing.T) {
		out := &halfOut{}
		lw := newLogWriter(out, 64<<10, time.Hour)
		defer lw.Close()

		_, _ = lw.Write([]byte("level=info msg=\"lost to the fault\"\n"))
		require.Error(t, lw.Flush(), "the device fails part-way")
		_, err := lw.Write([]byte("level=info msg=\"after the fault\"\n"))
		require.NoError(t, err)
		require.NoError(t, lw.Flush())
		assert.Contains(t, strings.Split(out.String(), "\n"), `level=info msg="after the fault"`,
			"the line after the fault is whole; log: %q", out.String())
		assert.True(t, strings.HasSuffix(out.String(), "\n"))
	})
	t.Run("a line too big for the buffer, written straight through", func(t *testing.T) {
		out := &halfOut{}
		lw := newLogWriter(out, 16, time.Hour)
		defer lw.Close()

		_, err := lw.Write([]byte(strings.Repeat("x", 40) + "\n"))
		require.Error(t, err, "the device fails part-way")
		_, err = lw.Write([]byte("after\n"))
		require.NoError(t, err)
		require.NoError(t, lw.Flush())
		assert.Equal(t, strings.Repeat("x", 20)+"\nafter\n", out.String())
	})
}
