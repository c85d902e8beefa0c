package service_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/auth/adapter/sqlstore"
	"github.com/medisync/medisync/auth/service"
	"github.com/medisync/medisync/shared/authn"
	"github.com/medisync/medisync/shared/clock/clocktest"
	"github.com/medisync/medisync/shared/ids"
	"github.com/medisync/medisync/shared/sqldb/sqltest"
)

func TestFeedBoundsTheRequestsItHolds(t *testing.T) {
	ctx := context.Background()
	st := sqlstore.New(sqltest.SQLite(t, sqlstore.Migrations()))
	clk := clocktest.New(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	feed := service.NewFeed(st, clk, service.FeedOptions{MaxWaiting: 1, Poll: time.Hour})

	held := make(chan authn.RevocationPage, 1)
	go func() {
		p, err := feed.Page(ctx, 0, 10*time.Second)
		assert.NoError(t, err)
		held <- p
	}()
	time.Sleep(100 * time.Millisecond)
	start := time.Now()
	p, err := feed.Page(ctx, 0, 10*time.Second)
	require.NoError(t, err)
	assert.Less(t, time.Since(start), time.Second, "beyond the bound, answered at once")
	assert.Zero(t, p.Index)
	assert.Empty(t, p.Revocations)

	r := authn.Revocation{SessionID: ids.New(), NotBefore: clk.Now(), ExpiresAt: clk.Now().Add(time.Minute)}
	require.NoError(t, st.Revocations().Add(ctx, r))
	feed.Revoked([]authn.Revocation{r})
	select {
	case p := <-held:
		assert.Equal(t, []authn.Revocation{r}, p.Revocations, "woken by the revocation, not the hour-long poll")
	case <-time.After(2 * time.Second):
		t.Fatal("the held request was not woken")
	}
}

func TestFeedAnswersBeforeTheRequestDeadlineAndOnClose(t *testing.T) {
	st := sqlstore.New(sqltest.SQLite(t, sqlstore.Migrations()))
	now := time.Now()
	for range 7 { // the feed's index is 7: nothing is newer than 7
		require.NoError(t, st.Revocations().Add(context.Background(),
			authn.Revocation{SessionID: ids.New(), NotBefore: now, ExpiresAt: now.Add(time.Hour)}))
	}
	// Answered a whole second before the request's deadline: the check
	// below has that second to spare on a loaded machine (with a 100 ms
	// margin, a 100 ms stall made the answer look late).
	feed := service.NewFeed(st, nil, service.FeedOptions{Margin: time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	p, err := feed.Page(ctx, 7, time.Minute)
	require.NoError(t, err)
	assert.NoError(t, ctx.Err(), "ends with an answer inside the deadline")
	assert.Equal(t, uint64(7), p.Index)

	go func() {
		time.Sleep(100 * time.Millisecond)
		feed.Close()
	}()
	start := time.Now()
	_, err = feed.Page(context.Background(), 7, time.Minute)
	require.NoError(t, err)
	assert.Less(t, time.Since(start), 2*time.Second, "shutdown answers the held requests")
}

// An index above the feed's newest was never reached by its database (a
// restore, a new SQLite file): the request is answered at once with the
// newest index, below the one asked after, so that the follower starts over.
func TestFeedAskedAfterAnIndexAboveItsNewestAnswersTheNewestAtOnce(t *testing.T) {
	ctx := context.Background()
	st := sqlstore.New(sqltest.SQLite(t, sqlstore.Migrations()))
	now := time.Now()
	for range 3 {
		require.NoError(t, st.Revocations().Add(ctx, authn.Revocation{SessionID: ids.New(), NotBefore: now, ExpiresAt: now.Add(time.Hour)}))
	}
	feed := service.NewFeed(st, nil, service.FeedOptions{})
	start := time.Now()
	p, err := feed.Page(ctx, 9, time.Minute)
	require.NoError(t, err)
	assert.Less(t, time.Since(start), 5*time.Second, "not held")
	assert.Equal(t, uint64(3), p.Index)
	assert.Empty(t, p.Revocations)
}
