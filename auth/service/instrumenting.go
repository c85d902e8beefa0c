package service

import (
	"context"
	"time"

	"github.com/medisync/medisync/auth/account"
	"github.com/medisync/medisync/shared/metrics"
)

// InstrumentingMiddleware counts calls and records their latency by method
// and outcome.
func InstrumentingMiddleware(m metrics.Method) func(Service) Service {
	return func(next Service) Service { return &instrumentingService{next: next, m: m} }
}

type instrumentingService struct {
	next Service
	m    metrics.Method
}

func (s *instrumentingService) observe(method string, begin time.Time, err error) {
	s.m.Observe(method, begin, err)
}

func (s *instrumentingService) Register(ctx context.Context, in RegisterInput) (u account.User, err error) {
	defer func(b time.Time) { s.observe("Register", b, err) }(time.Now())
	return s.next.Register(ctx, in)
}

func (s *instrumentingService) Login(ctx context.Context, in LoginInput) (p TokenPair, err error) {
	defer func(b time.Time) { s.observe("Login", b, err) }(time.Now())
	return s.next.Login(ctx, in)
}

func (s *instrumentingService) Refresh(ctx context.Context, tok string) (p TokenPair, err error) {
	defer func(b time.Time) { s.observe("Refresh", b, err) }(time.Now())
	return s.next.Refresh(ctx, tok)
}

func (s *instrumentingService) Logout(ctx context.Context, tok string) (err error) {
	defer func(b time.Time) { s.observe("Logout", b, err) }(time.Now())
	return s.next.Logout(ctx, tok)
}

func (s *instrumentingService) Me(ctx context.Context, userID string) (u account.User, err error) {
	defer func(b time.Time) { s.observe("Me", b, err) }(time.Now())
	return s.next.Me(ctx, userID)
}

func (s *instrumentingService) ChangePassword(ctx context.Context, in ChangePasswordInput) (p TokenPair, err error) {
	defer func(b time.Time) { s.observe("ChangePassword", b, err) }(time.Now())
	return s.next.ChangePassword(ctx, in)
}

func (s *instrumentingService) ForgotPassword(ctx context.Context, email string) (err error) {
	defer func(b time.Time) { s.observe("ForgotPassword", b, err) }(time.Now())
	return s.next.ForgotPassword(ctx, email)
}

func (s *instrumentingService) ResetPassword(ctx context.Context, tok, pw string) (err error) {
	defer func(b time.Time) { s.observe("ResetPassword", b, err) }(time.Now())
	return s.next.ResetPassword(ctx, tok, pw)
}

func (s *instrumentingService) CreateUser(ctx context.Context, actorID string, in CreateUserInput) (u account.User, err error) {
	defer func(b time.Time) { s.observe("CreateUser", b, err) }(time.Now())
	return s.next.CreateUser(ctx, actorID, in)
}

func (s *instrumentingService) ListUsers(ctx context.Context, actorID string, in ListUsersInput) (p UserPage, err error) {
	defer func(b time.Time) { s.observe("ListUsers", b, err) }(time.Now())
	return s.next.ListUsers(ctx, actorID, in)
}

func (s *instrumentingService) GetUser(ctx context.Context, actorID, id string) (u account.User, err error) {
	defer func(b time.Time) { s.observe("GetUser", b, err) }(time.Now())
	return s.next.GetUser(ctx, actorID, id)
}

func (s *instrumentingService) UpdateUser(ctx context.Context, actorID string, in UpdateUserInput) (u account.User, err error) {
	defer func(b time.Time) { s.observe("UpdateUser", b, err) }(time.Now())
	return s.next.UpdateUser(ctx, actorID, in)
}
