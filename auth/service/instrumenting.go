package service

import (
	"context"
	"time"

	"github.com/medisync/medisync/auth/account"
	"github.com/medisync/medisync/shared/authn"
	"github.com/medisync/medisync/shared/metrics"
	"github.com/medisync/medisync/shared/page"
)

// InstrumentingMiddleware counts calls and records their latency by method
// and outcome (metrics.Method.Observe).
func InstrumentingMiddleware(m metrics.Method) func(Service) Service {
	return func(next Service) Service { return &instrumentingService{next: next, m: m} }
}

type instrumentingService struct {
	next Service
	m    metrics.Method
}

func (s *instrumentingService) Register(ctx context.Context, in RegisterInput) (err error) {
	defer func(b time.Time) { s.m.Observe("Register", b, err) }(time.Now())
	return s.next.Register(ctx, in)
}

func (s *instrumentingService) Login(ctx context.Context, in LoginInput) (_ TokenPair, err error) {
	defer func(b time.Time) { s.m.Observe("Login", b, err) }(time.Now())
	return s.next.Login(ctx, in)
}

func (s *instrumentingService) Refresh(ctx context.Context, tok string) (_ TokenPair, err error) {
	defer func(b time.Time) { s.m.Observe("Refresh", b, err) }(time.Now())
	return s.next.Refresh(ctx, tok)
}

func (s *instrumentingService) Logout(ctx context.Context, tok string) (err error) {
	defer func(b time.Time) { s.m.Observe("Logout", b, err) }(time.Now())
	return s.next.Logout(ctx, tok)
}

func (s *instrumentingService) Me(ctx context.Context, actor authn.Principal) (_ account.User, err error) {
	defer func(b time.Time) { s.m.Observe("Me", b, err) }(time.Now())
	return s.next.Me(ctx, actor)
}

func (s *instrumentingService) ChangePassword(ctx context.Context, actor authn.Principal, in ChangePasswordInput) (_ TokenPair, err error) {
	defer func(b time.Time) { s.m.Observe("ChangePassword", b, err) }(time.Now())
	return s.next.ChangePassword(ctx, actor, in)
}

func (s *instrumentingService) ForgotPassword(ctx context.Context, email string) (err error) {
	defer func(b time.Time) { s.m.Observe("ForgotPassword", b, err) }(time.Now())
	return s.next.ForgotPassword(ctx, email)
}

func (s *instrumentingService) ResetPassword(ctx context.Context, tok, pw string) (err error) {
	defer func(b time.Time) { s.m.Observe("ResetPassword", b, err) }(time.Now())
	return s.next.ResetPassword(ctx, tok, pw)
}

func (s *instrumentingService) CreateUser(ctx context.Context, actor authn.Principal, in CreateUserInput) (_ account.User, err error) {
	defer func(b time.Time) { s.m.Observe("CreateUser", b, err) }(time.Now())
	return s.next.CreateUser(ctx, actor, in)
}

func (s *instrumentingService) ListUsers(ctx context.Context, actor authn.Principal, in ListUsersInput) (_ page.Page[account.User], err error) {
	defer func(b time.Time) { s.m.Observe("ListUsers", b, err) }(time.Now())
	return s.next.ListUsers(ctx, actor, in)
}

func (s *instrumentingService) GetUser(ctx context.Context, actor authn.Principal, id string) (_ account.User, err error) {
	defer func(b time.Time) { s.m.Observe("GetUser", b, err) }(time.Now())
	return s.next.GetUser(ctx, actor, id)
}

func (s *instrumentingService) UpdateUser(ctx context.Context, actor authn.Principal, in UpdateUserInput) (_ account.User, err error) {
	defer func(b time.Time) { s.m.Observe("UpdateUser", b, err) }(time.Now())
	return s.next.UpdateUser(ctx, actor, in)
}
