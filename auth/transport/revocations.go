package transport

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/medisync/medisync/shared/authn"
	"github.com/medisync/medisync/shared/domainerr"
	"github.com/medisync/medisync/shared/httpjson"
	"github.com/medisync/medisync/shared/httpmw"
	"github.com/medisync/medisync/shared/problem"
	"github.com/medisync/medisync/shared/rest"
)

// RevocationsPath is where the revocation feed is served: outside /api/v1,
// which is all the gateway routes (with the JWKS), so that it stays
// internal. It must not be exposed to the internet.
const RevocationsPath = "/internal/revocations"

// Bounds of the feed's wait parameter.
const (
	DefaultRevocationsWait = 30 * time.Second
	MaxRevocationsWait     = 60 * time.Second
)

// RevocationFeed answers the feed's blocking query (service.Feed).
type RevocationFeed interface {
	Page(ctx context.Context, after uint64, wait time.Duration) (authn.RevocationPage, error)
}

// revocationsHandler serves GET ?after=N&wait=30s: the entries after index
// N (authn.RevocationPage), held up to wait when there is none.
func revocationsHandler(feed RevocationFeed) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		after, wait, err := revocationsQuery(r)
		if err != nil {
			problem.WriteError(w, r, err)
			return
		}
		if wait > 0 {
			httpmw.LongPoll(r.Context())
		}
		page, err := feed.Page(r.Context(), after, wait)
		if err != nil {
			problem.WriteError(w, r, err)
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		_ = httpjson.Write(w, http.StatusOK, page)
	})
}

func revocationsQuery(r *http.Request) (uint64, time.Duration, error) {
	q := rest.QueryOf(r)
	afterS, waitS := q.Get("after"), q.Get("wait")
	if err := q.Err(); err != nil {
		return 0, 0, err
	}
	var fe domainerr.FieldErrors
	var after uint64
	if afterS != "" {
		// 63 bits: both databases keep the index in a signed 64-bit column.
		n, err := strconv.ParseUint(afterS, 10, 63)
		if err != nil {
			fe.Add("after", "must be a feed index (a whole number, 0 or more)")
		}
		after = n
	}
	wait := DefaultRevocationsWait
	if waitS != "" {
		d, err := time.ParseDuration(waitS)
		if err != nil || d < 0 {
			fe.Add("wait", "must be a duration such as 30s")
		}
		wait = min(d, MaxRevocationsWait)
	}
	if len(fe) > 0 {
		return 0, 0, fe
	}
	return after, wait, nil
}
