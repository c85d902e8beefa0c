package clocktest_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/medisync/medisync/shared/clock"
	"github.com/medisync/medisync/shared/clock/clocktest"
)

func TestClock(t *testing.T) {
	t0 := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	var c clock.Clock = clocktest.New(t0)
	assert.Equal(t, t0, c.Now())
	c.(*clocktest.Clock).Advance(time.Hour)
	assert.Equal(t, t0.Add(time.Hour), c.Now())
	c.(*clocktest.Clock).Set(t0)
	assert.Equal(t, t0, c.Now())
}
