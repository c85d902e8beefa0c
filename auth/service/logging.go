package service

import (
	"context"
	"time"

	"github.com/go-kit/log"

	"github.com/medisync/medisync/auth/account"
	"github.com/medisync/medisync/shared/authn"
	"github.com/medisync/medisync/shared/logging"
	"github.com/medisync/medisync/shared/page"
)

// LoggingMiddleware logs every call by the rule of logging.Call: never its
// arguments or results, which hold emails, passwords and tokens.
func LoggingMiddleware(logger log.Logger) func(Service) Service {
	return func(next Service) Service { return &loggingService{next: next, logger: logger} }
}

type loggingService struct {
	next   Service
	logger log.Logger
}

func (s *loggingService) Register(ctx context.Context, in RegisterInput) (err error) {
	defer func(b time.Time) { logging.Call(ctx, s.logger, "Register", b, err) }(time.Now())
	return s.next.Register(ctx, in)
}

func (s *loggingService) Login(ctx context.Context, in LoginInput) (_ TokenPair, err error) {
	defer func(b time.Time) { logging.Call(ctx, s.logger, "Login", b, err) }(time.Now())
	return s.next.Login(ctx, in)
}

func (s *loggingService) Refresh(ctx context.Context, tok string) (_ TokenPair, err error) {
	defer func(b time.Time) { logging.Call(ctx, s.logger, "Refresh", b, err) }(time.Now())
	return s.next.Refresh(ctx, tok)
}

func (s *loggingService) Logout(ctx context.Context, tok string) (err error) {
	defer func(b time.Time) { logging.Call(ctx, s.logger, "Logout", b, err) }(time.Now())
	return s.next.Logout(ctx, tok)
}

func (s *loggingService) Me(ctx context.Context, actor authn.Principal) (_ account.User, err error) {
	defer func(b time.Time) { logging.Call(ctx, s.logger, "Me", b, err) }(time.Now())
	return s.next.Me(ctx, actor)
}

func (s *loggingService) ChangePassword(ctx context.Context, actor authn.Principal, in ChangePasswordInput) (_ TokenPair, err error) {
	defer func(b time.Time) { logging.Call(ctx, s.logger, "ChangePassword", b, err) }(time.Now())
	return s.next.ChangePassword(ctx, actor, in)
}

func (s *loggingService) ForgotPassword(ctx context.Context, email string) (err error) {
	defer func(b time.Time) { logging.Call(ctx, s.logger, "ForgotPassword", b, err) }(time.Now())
	return s.next.ForgotPassword(ctx, email)
}

func (s *loggingService) ResetPassword(ctx context.Context, tok, pw string) (err error) {
	defer func(b time.Time) { logging.Call(ctx, s.logger, "ResetPassword", b, err) }(time.Now())
	return s.next.ResetPassword(ctx, tok, pw)
}

func (s *loggingService) CreateUser(ctx context.Context, actor authn.Principal, in CreateUserInput) (_ account.User, err error) {
	defer func(b time.Time) { logging.Call(ctx, s.logger, "CreateUser", b, err) }(time.Now())
	return s.next.CreateUser(ctx, actor, in)
}

func (s *loggingService) ListUsers(ctx context.Context, actor authn.Principal, in ListUsersInput) (_ page.Page[account.User], err error) {
	defer func(b time.Time) { logging.Call(ctx, s.logger, "ListUsers", b, err) }(time.Now())
	return s.next.ListUsers(ctx, actor, in)
}

func (s *loggingService) GetUser(ctx context.Context, actor authn.Principal, id string) (_ account.User, err error) {
	defer func(b time.Time) { logging.Call(ctx, s.logger, "GetUser", b, err) }(time.Now())
	return s.next.GetUser(ctx, actor, id)
}

func (s *loggingService) UpdateUser(ctx context.Context, actor authn.Principal, in UpdateUserInput) (_ account.User, err error) {
	defer func(b time.Time) { logging.Call(ctx, s.logger, "UpdateUser", b, err) }(time.Now())
	return s.next.UpdateUser(ctx, actor, in)
}
