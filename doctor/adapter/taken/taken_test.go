package taken

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestNoneReportsNothing(t *testing.T) {
	got, err := None{}.Taken(context.Background(), "d", time.Now(), time.Now().Add(time.Hour))
	assert.NoError(t, err)
	assert.Empty(t, got)
}
