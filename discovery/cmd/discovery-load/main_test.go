package main

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestLoopbackOnly(t *testing.T) {
	for _, u := range []string{"http://127.0.0.1:8761", "http://localhost:1", "http://[::1]:8761", "http://127.5.0.1"} {
		assert.NoError(t, loopbackOnly(u), u)
	}
	for _, u := range []string{"http://10.0.0.1:8761", "http://192.168.1.2", "http://example.com", "http://0.0.0.0:1"} {
		assert.Error(t, loopbackOnly(u), u)
	}
}

func TestPercentile(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	assert.Equal(t, 50*time.Millisecond, pct(d, 50))
	assert.Equal(t, 99*time.Millisecond, pct(d, 99))
	assert.Equal(t, 100*time.Millisecond, pct(d, 100))
	assert.Equal(t, time.Duration(0), pct(nil, 99))
}
