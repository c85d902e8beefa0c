package service

import (
	"context"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"

	"github.com/medisync/medisync/auth/account"
	"github.com/medisync/medisync/shared/logging"
)

// LoggingMiddleware logs every call with its outcome and duration. It logs
// user ids, never emails, passwords or tokens.
func LoggingMiddleware(logger log.Logger) func(Service) Service {
	return func(next Service) Service { return &loggingService{next: next, logger: logger} }
}

type loggingService struct {
	next   Service
	logger log.Logger
}

func (s *loggingService) log(ctx context.Context, method string, begin time.Time, err error, kv ...any) {
	kv = append([]any{"method", method}, kv...)
	kv = append(kv, "took", time.Since(begin), "err", err)
	lg := level.Debug
	if err != nil {
		lg = level.Info
	}
	_ = lg(logging.FromContext(ctx, s.logger)).Log(kv...)
}

func (s *loggingService) Register(ctx context.Context, in RegisterInput) (u account.User, err error) {
	defer func(b time.Time) { s.log(ctx, "Register", b, err, "userId", u.ID) }(time.Now())
	return s.next.Register(ctx, in)
}

func (s *loggingService) Login(ctx context.Context, in LoginInput) (p TokenPair, err error) {
	defer func(b time.Time) { s.log(ctx, "Login", b, err) }(time.Now())
	return s.next.Login(ctx, in)
}

func (s *loggingService) Refresh(ctx context.Context, tok string) (p TokenPair, err error) {
	defer func(b time.Time) { s.log(ctx, "Refresh", b, err) }(time.Now())
	return s.next.Refresh(ctx, tok)
}

func (s *loggingService) Logout(ctx context.Context, tok string) (err error) {
	defer func(b time.Time) { s.log(ctx, "Logout", b, err) }(time.Now())
	return s.next.Logout(ctx, tok)
}

func (s *loggingService) Me(ctx context.Context, userID string) (u account.User, err error) {
	defer func(b time.Time) { s.log(ctx, "Me", b, err, "userId", userID) }(time.Now())
	return s.next.Me(ctx, userID)
}

func (s *loggingService) ChangePassword(ctx context.Context, in ChangePasswordInput) (p TokenPair, err error) {
	defer func(b time.Time) { s.log(ctx, "ChangePassword", b, err, "userId", in.UserID) }(time.Now())
	return s.next.ChangePassword(ctx, in)
}

func (s *loggingService) ForgotPassword(ctx context.Context, email string) (err error) {
	defer func(b time.Time) { s.log(ctx, "ForgotPassword", b, err) }(time.Now())
	return s.next.ForgotPassword(ctx, email)
}

func (s *loggingService) ResetPassword(ctx context.Context, tok, pw string) (err error) {
	defer func(b time.Time) { s.log(ctx, "ResetPassword", b, err) }(time.Now())
	return s.next.ResetPassword(ctx, tok, pw)
}

func (s *loggingService) CreateUser(ctx context.Context, actorID string, in CreateUserInput) (u account.User, err error) {
	defer func(b time.Time) {
		s.log(ctx, "CreateUser", b, err, "actorId", actorID, "userId", u.ID, "roles", in.Roles)
	}(time.Now())
	return s.next.CreateUser(ctx, actorID, in)
}

func (s *loggingService) ListUsers(ctx context.Context, actorID string, in ListUsersInput) (p UserPage, err error) {
	defer func(b time.Time) { s.log(ctx, "ListUsers", b, err, "actorId", actorID, "count", len(p.Items)) }(time.Now())
	return s.next.ListUsers(ctx, actorID, in)
}

func (s *loggingService) GetUser(ctx context.Context, actorID, id string) (u account.User, err error) {
	defer func(b time.Time) { s.log(ctx, "GetUser", b, err, "actorId", actorID, "userId", id) }(time.Now())
	return s.next.GetUser(ctx, actorID, id)
}

func (s *loggingService) UpdateUser(ctx context.Context, actorID string, in UpdateUserInput) (u account.User, err error) {
	defer func(b time.Time) {
		s.log(ctx, "UpdateUser", b, err, "actorId", actorID, "userId", in.ID, "roles", u.Roles, "disabled", u.Disabled)
	}(time.Now())
	return s.next.UpdateUser(ctx, actorID, in)
}
