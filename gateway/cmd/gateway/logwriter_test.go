package main

import (
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
