package service

import (
	"context"
	"time"

	"github.com/go-kit/log"

	"github.com/medisync/medisync/auth/account"
	"github.com/medisync/medisync/shared/authn"
	"github.com/medisync/medisync/shared/logging"
	"github.com/medisync/medisync/shared/metrics"
	"github.com/medisync/medisync/shared/page"
)

// Middleware logs each call by the one rule of logging.Call and counts it
// with its latency by metrics.Method.Observe, so that only faults are
// errors and failures; it never logs arguments or results, which hold
// emails, passwords and tokens.
func Middleware(logger log.Logger, m metrics.Method) func(Service) Service {
	o := logging.Observer{Logger: logger, Metrics: m}
	return func(next Service) Service { return &observed{next: next, o: o} }
}

type observed struct {
	next Service
	o    logging.Observer
}

func (s *observed) Register(ctx context.Context, in RegisterInput) (err error) {
	defer s.o.Done(ctx, "Register", time.Now(), &err)
	return s.next.Register(ctx, in)
}

func (s *observed) Login(ctx context.Context, in LoginInput) (_ TokenPair, err error) {
	defer s.o.Done(ctx, "Login", time.Now(), &err)
	return s.next.Login(ctx, in)
}

func (s *observed) Refresh(ctx context.Context, tok string) (_ TokenPair, err error) {
	defer s.o.Done(ctx, "Refresh", time.Now(), &err)
	return s.next.Refresh(ctx, tok)
}

func (s *observed) Logout(ctx context.Context, tok string) (err error) {
	defer s.o.Done(ctx, "Logout", time.Now(), &err)
	return s.next.Logout(ctx, tok)
}

func (s *observed) Me(ctx context.Context, actor authn.Principal) (_ account.User, err error) {
	defer s.o.Done(ctx, "Me", time.Now(), &err)
	return s.next.Me(ctx, actor)
}

func (s *observed) ChangePassword(ctx context.Context, actor authn.Principal, in ChangePasswordInput) (_ TokenPair, err error) {
	defer s.o.Done(ctx, "ChangePassword", time.Now(), &err)
	return s.next.ChangePassword(ctx, actor, in)
}

func (s *observed) ForgotPassword(ctx context.Context, email string) (err error) {
	defer s.o.Done(ctx, "ForgotPassword", time.Now(), &err)
	return s.next.ForgotPassword(ctx, email)
}

func (s *observed) ResetPassword(ctx context.Context, tok, pw string) (err error) {
	defer s.o.Done(ctx, "ResetPassword", time.Now(), &err)
	return s.next.ResetPassword(ctx, tok, pw)
}

func (s *observed) CreateUser(ctx context.Context, actor authn.Principal, in CreateUserInput) (_ account.User, err error) {
	defer s.o.Done(ctx, "CreateUser", time.Now(), &err)
	return s.next.CreateUser(ctx, actor, in)
}

func (s *observed) ListUsers(ctx context.Context, actor authn.Principal, in ListUsersInput) (_ page.Page[account.User], err error) {
	defer s.o.Done(ctx, "ListUsers", time.Now(), &err)
	return s.next.ListUsers(ctx, actor, in)
}

func (s *observed) GetUser(ctx context.Context, actor authn.Principal, id string) (_ account.User, err error) {
	defer s.o.Done(ctx, "GetUser", time.Now(), &err)
	return s.next.GetUser(ctx, actor, id)
}

func (s *observed) UpdateUser(ctx context.Context, actor authn.Principal, in UpdateUserInput) (_ account.User, err error) {
	defer s.o.Done(ctx, "UpdateUser", time.Now(), &err)
	return s.next.UpdateUser(ctx, actor, in)
}

func (s *observed) AnnounceUsers(ctx context.Context, actor authn.Principal, in AnnounceUsersInput) (_ Announced, err error) {
	defer s.o.Done(ctx, "AnnounceUsers", time.Now(), &err)
	return s.next.AnnounceUsers(ctx, actor, in)
}
