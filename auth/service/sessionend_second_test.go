package service_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/auth/adapter/sqlstore"
	"github.com/medisync/medisync/auth/service"
	"github.com/medisync/medisync/shared/clock/clocktest"
)

// A refresh that passes the max-age check just before the session's end,
// then waits (here 2 s, for the user's row another request holds) before it
// issues, answers 200 with a successor that expired before it was issued:
// refreshExpiresIn is negative and the token is refused at once. It should
// be a 401 like a refresh after the end, never a dead token.
func TestSecondARefreshAtTheSessionsEndNeverHandsOutADeadToken(t *testing.T) {
	ctx := context.Background()
	deps, _, db := newDeps(t)
	clk := deps.Clock.(*clocktest.Clock)
	store := &hookedStore{Store: sqlstore.New(db)}
	deps.Store = store
	svc := service.New(deps, service.Config{SessionMaxAge: 24 * time.Hour})
	registerPat(t, svc)
	pair, err := svc.Login(ctx, service.LoginInput{Email: "pat@example.org", Password: "violet tram cupboard", ClientIP: "192.0.2.1"})
	require.NoError(t, err)
	clk.Advance(24*time.Hour - time.Second) // one second of the session left
	store.before = func() { clk.Advance(2 * time.Second) }
	next, err := svc.Refresh(ctx, pair.RefreshToken)
	if err == nil {
		assert.Positive(t, next.RefreshExpiresIn, "a 200 whose refresh token is already expired")
	}
}
