package loadkit_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/shared/authn"
	"github.com/medisync/medisync/shared/loadkit"
)

func TestPercentile(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	assert.Equal(t, 50*time.Millisecond, loadkit.Percentile(d, 0.50))
	assert.Equal(t, 99*time.Millisecond, loadkit.Percentile(d, 0.99))
	assert.Equal(t, 100*time.Millisecond, loadkit.Percentile(d, 1))
	assert.Equal(t, time.Millisecond, loadkit.Percentile(d, 0.001))
	assert.Equal(t, time.Duration(0), loadkit.Percentile(nil, 0.99))
}

func TestRecorder(t *testing.T) {
	r := loadkit.NewRecorder()
	var wg sync.WaitGroup
	for c := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 1; i <= 25; i++ {
				var err error
				if c == 0 && i == 1 {
					err = errors.New("refused")
				}
				r.Observe(time.Duration(c*25+i)*time.Millisecond, err)
			}
		}()
	}
	wg.Wait()
	r.Merge([]time.Duration{time.Second}, 1, errors.New("later"))
	s := r.Summary()
	assert.Equal(t, 101, s.Requests)
	assert.EqualValues(t, 2, s.Errors)
	assert.EqualError(t, s.FirstErr, "refused")
	assert.Equal(t, 51*time.Millisecond, s.P50)
	assert.Equal(t, time.Second, s.Max)
	assert.Positive(t, s.RPS())

	var out strings.Builder
	s.Print(&out, "login")
	assert.Contains(t, out.String(), "login        101 requests     2 errors")
	assert.Contains(t, out.String(), "p50 51ms")
	assert.Contains(t, out.String(), "first error: refused")
}

func TestSummarizeLeavesInputAlone(t *testing.T) {
	lat := []time.Duration{3, 1, 2}
	s := loadkit.Summarize(lat, 0, 2*time.Second)
	assert.Equal(t, []time.Duration{3, 1, 2}, lat)
	assert.Equal(t, time.Duration(3), s.Max)
	assert.InDelta(t, 1.5, s.RPS(), 1e-9)
	assert.InDelta(t, 1.5, loadkit.Ms(1500*time.Microsecond), 1e-9)
}

func TestMinterTokensVerifyThroughServedJWKS(t *testing.T) {
	m, err := loadkit.NewMinter()
	require.NoError(t, err)
	url, stop, err := m.ServeJWKS()
	require.NoError(t, err)
	defer stop()
	assert.True(t, strings.HasPrefix(url, "http://127.0.0.1:"), url)

	res, err := http.Get(url)
	require.NoError(t, err)
	body, _ := io.ReadAll(res.Body)
	_ = res.Body.Close()
	assert.Equal(t, "application/json", res.Header.Get("Content-Type"))
	assert.Contains(t, string(body), m.KID)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	v, err := authn.NewJWKSVerifier(ctx, authn.JWKSOptions{URL: url}, authn.Config{})
	require.NoError(t, err)
	tok, err := m.Sign(loadkit.Claims{Roles: []string{authn.RoleDoctor}, Email: "d@example.org"})
	require.NoError(t, err)
	p, err := v.Verify(ctx, tok)
	require.NoError(t, err)
	assert.True(t, p.Has(authn.RoleDoctor))
	assert.NotEmpty(t, p.UserID)
}

// A token every verifier would refuse is not signed: a long run would see
// only 401s, with nothing to say why.
func TestMinterRefusesALifetimeVerifiersRefuse(t *testing.T) {
	m, err := loadkit.NewMinter()
	require.NoError(t, err)
	now := time.Now()
	_, err = m.Sign(loadkit.Claims{IssuedAt: now, ExpiresAt: now.Add(authn.DefaultMaxLifetime + time.Minute)})
	assert.ErrorContains(t, err, "lifetime")
	_, err = m.Sign(loadkit.Claims{IssuedAt: now, ExpiresAt: now.Add(authn.DefaultMaxLifetime)})
	assert.NoError(t, err)
}
