package health_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/shared/health"
)

type report struct {
	Status string            `json:"status"`
	Checks map[string]string `json:"checks"`
}

func get(t *testing.T, h http.Handler, path string) (*httptest.ResponseRecorder, report) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	var rep report
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &rep), rec.Body.String())
	assert.Equal(t, "application/json", rec.Header().Get("Content-Type"))
	assert.Equal(t, "no-store", rec.Header().Get("Cache-Control"))
	return rec, rep
}

func ok(context.Context) error { return nil }

func TestLive(t *testing.T) {
	var c health.Checker
	c.Add("db", func(context.Context) error { return errors.New("down") })
	c.SetDraining()

	rec, rep := get(t, c.Live(), "/health/live")

	assert.Equal(t, http.StatusOK, rec.Code, "liveness ignores dependencies and draining")
	assert.Equal(t, "UP", rep.Status)
}

func TestReadyZeroValue(t *testing.T) {
	var c health.Checker

	rec, rep := get(t, c.Ready(), "/health/ready")

	assert.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, "UP", rep.Status)
}

func TestReadyRunsChecks(t *testing.T) {
	var c health.Checker
	var gotDeadline bool
	c.Add("db", func(ctx context.Context) error {
		_, gotDeadline = ctx.Deadline()
		return nil
	})
	c.Add("jwks", ok)

	rec, rep := get(t, c.Ready(), "/health/ready")

	assert.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, report{Status: "UP", Checks: map[string]string{"db": "UP", "jwks": "UP"}}, rep)
	assert.True(t, gotDeadline, "checks run under a deadline")
}

func TestReadyFailingCheckIs503WithoutLeaking(t *testing.T) {
	var c health.Checker
	c.Add("db", func(context.Context) error {
		return errors.New("dial tcp 10.1.2.3:3306: access denied for user medisync")
	})
	c.Add("cache", ok)

	rec, rep := get(t, c.Ready(), "/health/ready")

	assert.Equal(t, http.StatusServiceUnavailable, rec.Code)
	assert.Equal(t, report{Status: "DOWN", Checks: map[string]string{"db": "DOWN", "cache": "UP"}}, rep)
	assert.NotContains(t, rec.Body.String(), "10.1.2.3")
	assert.NotContains(t, rec.Body.String(), "denied")
}

func TestReadyRecovers(t *testing.T) {
	var c health.Checker
	var fail = true
	c.Add("db", func(context.Context) error {
		if fail {
			return errors.New("down")
		}
		return nil
	})

	rec, _ := get(t, c.Ready(), "/health/ready")
	assert.Equal(t, http.StatusServiceUnavailable, rec.Code)

	fail = false
	rec, _ = get(t, c.Ready(), "/health/ready")
	assert.Equal(t, http.StatusOK, rec.Code)
}

func TestReadyAfterSetDraining(t *testing.T) {
	var c health.Checker
	c.Add("db", ok)
	h := c.Ready()
	rec, _ := get(t, h, "/health/ready")
	require.Equal(t, http.StatusOK, rec.Code)

	c.SetDraining()

	rec, rep := get(t, h, "/health/ready")
	assert.Equal(t, http.StatusServiceUnavailable, rec.Code)
	assert.Equal(t, "DOWN", rep.Status)
	assert.Equal(t, "draining", rep.Checks["shutdown"])
	assert.Equal(t, "UP", rep.Checks["db"])
}

func TestAddReplacesCheckOfSameName(t *testing.T) {
	var c health.Checker
	c.Add("db", func(context.Context) error { return errors.New("down") })
	c.Add("db", ok)

	rec, rep := get(t, c.Ready(), "/health/ready")

	assert.Equal(t, http.StatusOK, rec.Code)
	assert.Len(t, rep.Checks, 1)
}

func TestReadyConcurrentWithAdd(t *testing.T) {
	var c health.Checker
	h := c.Ready()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 50; i++ {
			c.Add("db", ok)
		}
	}()
	for i := 0; i < 50; i++ {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/health/ready", nil))
		assert.Equal(t, http.StatusOK, rec.Code)
	}
	<-done
}
