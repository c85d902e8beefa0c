package transport

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/auth/account"
	"github.com/medisync/medisync/auth/password"
	"github.com/medisync/medisync/auth/service"
	"github.com/medisync/medisync/shared/problem"
)

func TestErrorRules(t *testing.T) {
	p := problem.From(fmt.Errorf("login: %w", &service.ThrottledError{RetryAfter: 1500 * time.Millisecond}), errorRules)
	assert.Equal(t, http.StatusTooManyRequests, p.Status)
	assert.Equal(t, "2", p.Headers.Get("Retry-After"), "rounded up")

	p = problem.From(fmt.Errorf("hash: %w", password.ErrBusy), errorRules)
	assert.Equal(t, http.StatusServiceUnavailable, p.Status, "a saturated hashing pool sheds load")
	assert.Equal(t, "1", p.Headers.Get("Retry-After"))
	assert.Equal(t, password.ErrBusy.Error(), p.Detail)

	for err, status := range map[error]int{
		account.ErrInvalidCredentials: 401,
		account.ErrRefreshReused:      401,
		account.ErrInvalidReset:       400,
		account.ErrDisabled:           403,
		account.ErrForbidden:          403,
		account.ErrNotFound:           404,
		account.ErrEmailTaken:         409,
		account.ErrSelfLockout:        409,
		account.ErrPreconditionFailed: 412,
		account.ErrVersionConflict:    409,
		account.ErrUnauthenticated:    401,
	} {
		p := problem.From(fmt.Errorf("wrapped: %w", err), errorRules)
		assert.Equal(t, status, p.Status, err)
		assert.Equal(t, err.Error(), p.Detail, "the domain message is the detail")
	}
	p = problem.From(fmt.Errorf("consume: %w", account.ErrInvalidReset), errorRules)
	assert.Equal(t, []problem.FieldError{{Field: "token", Message: "is invalid, expired or already used"}}, p.Errors)
	assert.Nil(t, errorRules(fmt.Errorf("database down")), "unknown errors become 500s elsewhere, without detail")
	assert.Nil(t, errorRules(account.ErrNotFound), "kinds need no rule")
}

func TestClientIP(t *testing.T) {
	c, err := NewClientIP([]string{"10.0.0.0/8", "127.0.0.1"})
	require.NoError(t, err)
	req := func(remote string, xff ...string) *http.Request {
		r := httptest.NewRequest("POST", "/", nil)
		r.RemoteAddr = remote
		for _, v := range xff {
			r.Header.Add("X-Forwarded-For", v)
		}
		return r
	}
	assert.Equal(t, "192.0.2.1", c.Of(req("192.0.2.1:5555", "203.0.113.9")), "untrusted peer: header ignored")
	assert.Equal(t, "203.0.113.9", c.Of(req("127.0.0.1:5555", "203.0.113.9")))
	assert.Equal(t, "203.0.113.9", c.Of(req("10.1.2.3:5555", "198.51.100.1, 203.0.113.9, 10.9.9.9")),
		"rightmost hop that is not a trusted proxy")
	assert.Equal(t, "198.51.100.1", c.Of(req("127.0.0.1:1", "198.51.100.1", "10.0.0.7")), "several header lines")
	assert.Equal(t, "127.0.0.1", c.Of(req("127.0.0.1:1", "not-an-ip")), "malformed hop: last believed address")
	assert.Equal(t, "127.0.0.1", c.Of(req("127.0.0.1:1")))

	// IPv6 clients count by /64, so a host cannot rotate through its
	// network's addresses to escape the throttle.
	assert.Equal(t, "2001:db8:1:2::/64", c.Of(req("[2001:db8:1:2::1]:5555")))
	assert.Equal(t, c.Of(req("[2001:db8:1:2::1]:1")), c.Of(req("[2001:db8:1:2:ffff:1:2:3]:1")))
	assert.NotEqual(t, c.Of(req("[2001:db8:1:2::1]:1")), c.Of(req("[2001:db8:1:3::1]:1")))
	assert.Equal(t, "2001:db8:9:9::/64", c.Of(req("127.0.0.1:1", "2001:db8:9:9::42")), "forwarded IPv6 hop")
	assert.Equal(t, "192.0.2.7", c.Of(req("[::ffff:192.0.2.7]:1")), "IPv4-mapped stays IPv4")

	_, err = NewClientIP([]string{"10.0.0.0/99"})
	assert.Error(t, err)
	_, err = NewClientIP([]string{"nonsense"})
	assert.Error(t, err)
}

// The feed holds a request at most MaxRevocationsWait, whatever wait asks
// for, and DefaultRevocationsWait when it asks for none.
func TestRevocationsWaitIsBounded(t *testing.T) {
	for q, want := range map[string]time.Duration{
		"":          DefaultRevocationsWait,
		"?wait=0s":  0,
		"?wait=45s": 45 * time.Second,
		"?wait=60s": MaxRevocationsWait,
		"?wait=10m": MaxRevocationsWait,
	} {
		_, wait, err := revocationsQuery(httptest.NewRequest("GET", RevocationsPath+q, nil))
		require.NoError(t, err, q)
		assert.Equal(t, want, wait, q)
	}
}
