// Package endpoint adapts the auth service to go-kit endpoints with the request and response types the transport uses.
package endpoint

import (
	"context"
	"time"

	kitendpoint "github.com/go-kit/kit/endpoint"

	"github.com/medisync/medisync/auth/account"
	"github.com/medisync/medisync/auth/service"
	"github.com/medisync/medisync/shared/authn"
	"github.com/medisync/medisync/shared/page"
)

// Set holds one endpoint per use case.
type Set struct {
	Register       kitendpoint.Endpoint
	Login          kitendpoint.Endpoint
	Refresh        kitendpoint.Endpoint
	Logout         kitendpoint.Endpoint
	Me             kitendpoint.Endpoint
	ChangePassword kitendpoint.Endpoint
	ForgotPassword kitendpoint.Endpoint
	ResetPassword  kitendpoint.Endpoint
	CreateUser     kitendpoint.Endpoint
	ListUsers      kitendpoint.Endpoint
	GetUser        kitendpoint.Endpoint
	UpdateUser     kitendpoint.Endpoint
	AnnounceUsers  kitendpoint.Endpoint
}

// New builds the endpoints of s. Endpoints acting for a caller refuse a
// context without a principal; the administrative ones also demand the
// ADMIN role in the token (the service checks it again against the
// database). The caller itself travels in the request's Actor, which the
// transport fills from the same context.
func New(s service.Service) Set {
	signedIn := authn.RequireRoles()
	admin := authn.RequireRoles(authn.RoleAdmin)
	return Set{
		Register:       makeRegister(s),
		Login:          makeLogin(s),
		Refresh:        makeRefresh(s),
		Logout:         makeLogout(s),
		Me:             signedIn(makeMe(s)),
		ChangePassword: signedIn(makeChangePassword(s)),
		ForgotPassword: makeForgot(s),
		ResetPassword:  makeReset(s),
		CreateUser:     admin(makeCreateUser(s)),
		ListUsers:      admin(makeListUsers(s)),
		GetUser:        admin(makeGetUser(s)),
		UpdateUser:     admin(makeUpdateUser(s)),
		AnnounceUsers:  admin(makeAnnounceUsers(s)),
	}
}

// User is the public shape of an account.
type User struct {
	ID        string    `json:"id"`
	Email     string    `json:"email"`
	FullName  string    `json:"fullName"`
	Roles     []string  `json:"roles"`
	Disabled  bool      `json:"disabled"`
	Version   int       `json:"version"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// NewUser converts an account for the wire; the password hash stays behind.
func NewUser(u account.User) User {
	roles := u.Roles
	if roles == nil {
		roles = []string{}
	}
	return User{
		ID: u.ID, Email: u.Email, FullName: u.FullName, Roles: roles, Disabled: u.Disabled,
		Version: u.Version, CreatedAt: u.CreatedAt.UTC(), UpdatedAt: u.UpdatedAt.UTC(),
	}
}

// UserResponse answers with one user; Created selects 201.
type UserResponse struct {
	User    User
	Created bool
}

// Tokens is the answer to login, refresh and password change.
type Tokens struct {
	AccessToken      string `json:"accessToken"`
	TokenType        string `json:"tokenType"`
	ExpiresIn        int64  `json:"expiresIn"`
	RefreshToken     string `json:"refreshToken"`
	RefreshExpiresIn int64  `json:"refreshExpiresIn"`
}

func newTokens(p service.TokenPair) Tokens {
	return Tokens{
		AccessToken: p.AccessToken, TokenType: "Bearer", ExpiresIn: int64(p.ExpiresIn / time.Second),
		RefreshToken: p.RefreshToken, RefreshExpiresIn: int64(p.RefreshExpiresIn / time.Second),
	}
}

// answer is ok when the use case succeeded, else the use case's error.
func answer(ok any, err error) (any, error) {
	if err != nil {
		return nil, err
	}
	return ok, nil
}

// tokens answers with the pair a use case issued, or its error.
func tokens(p service.TokenPair, err error) (any, error) {
	if err != nil {
		return nil, err
	}
	return newTokens(p), nil
}

// user answers with the account a use case returned, or its error.
func user(u account.User, err error) (any, error) {
	if err != nil {
		return nil, err
	}
	return UserResponse{User: NewUser(u)}, nil
}

// NoContent is the answer of endpoints with nothing to say (204).
type NoContent struct{}

// Accepted is the answer to a registration or a forgotten password (202),
// the same whatever the address.
type Accepted struct {
	Status string `json:"status"`
	Detail string `json:"detail"`
}

// RegisterRequest is a self-registration.
type RegisterRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
	FullName string `json:"fullName"`
}

func makeRegister(s service.Service) kitendpoint.Endpoint {
	return func(ctx context.Context, request any) (any, error) {
		req := request.(RegisterRequest)
		return answer(RegisterAccepted(), s.Register(ctx, service.RegisterInput{Email: req.Email, Password: req.Password, FullName: req.FullName}))
	}
}

// LoginRequest is a login; ClientIP is set by the transport.
type LoginRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
	ClientIP string `json:"-"`
}

func makeLogin(s service.Service) kitendpoint.Endpoint {
	return func(ctx context.Context, request any) (any, error) {
		req := request.(LoginRequest)
		return tokens(s.Login(ctx, service.LoginInput{Email: req.Email, Password: req.Password, ClientIP: req.ClientIP}))
	}
}

// RefreshTokenRequest carries a refresh token (refresh and logout).
type RefreshTokenRequest struct {
	RefreshToken string `json:"refreshToken"`
}

func makeRefresh(s service.Service) kitendpoint.Endpoint {
	return func(ctx context.Context, request any) (any, error) {
		return tokens(s.Refresh(ctx, request.(RefreshTokenRequest).RefreshToken))
	}
}

func makeLogout(s service.Service) kitendpoint.Endpoint {
	return func(ctx context.Context, request any) (any, error) {
		return answer(NoContent{}, s.Logout(ctx, request.(RefreshTokenRequest).RefreshToken))
	}
}

// MeRequest asks for the caller's account.
type MeRequest struct {
	Actor authn.Principal
}

func makeMe(s service.Service) kitendpoint.Endpoint {
	return func(ctx context.Context, request any) (any, error) {
		return user(s.Me(ctx, request.(MeRequest).Actor))
	}
}

// ChangePasswordRequest changes the caller's password.
type ChangePasswordRequest struct {
	CurrentPassword string          `json:"currentPassword"`
	NewPassword     string          `json:"newPassword"`
	ClientIP        string          `json:"-"`
	Actor           authn.Principal `json:"-"`
}

func makeChangePassword(s service.Service) kitendpoint.Endpoint {
	return func(ctx context.Context, request any) (any, error) {
		req := request.(ChangePasswordRequest)
		return tokens(s.ChangePassword(ctx, req.Actor, service.ChangePasswordInput{
			CurrentPassword: req.CurrentPassword, NewPassword: req.NewPassword, ClientIP: req.ClientIP,
		}))
	}
}

// RegisterAccepted is the one answer to a valid registration, whether the
// address was new or already had an account: telling them apart would tell
// anyone who has an account.
func RegisterAccepted() Accepted {
	return Accepted{
		Status: "accepted",
		Detail: "If this address can be registered, the account is ready: sign in. If you already have an account, sign in or reset your password.",
	}
}

// ForgotPasswordRequest asks for a reset link.
type ForgotPasswordRequest struct {
	Email string `json:"email"`
}

// ForgotAccepted is the one answer to a forgotten password.
func ForgotAccepted() Accepted {
	return Accepted{
		Status: "accepted",
		Detail: "If an account exists for this address, a password reset link has been sent.",
	}
}

func makeForgot(s service.Service) kitendpoint.Endpoint {
	return func(ctx context.Context, request any) (any, error) {
		return answer(ForgotAccepted(), s.ForgotPassword(ctx, request.(ForgotPasswordRequest).Email))
	}
}

// ResetPasswordRequest sets a new password with a reset token.
type ResetPasswordRequest struct {
	Token       string `json:"token"`
	NewPassword string `json:"newPassword"`
}

func makeReset(s service.Service) kitendpoint.Endpoint {
	return func(ctx context.Context, request any) (any, error) {
		req := request.(ResetPasswordRequest)
		return answer(NoContent{}, s.ResetPassword(ctx, req.Token, req.NewPassword))
	}
}

// CreateUserRequest is an account an administrator creates.
type CreateUserRequest struct {
	Email    string          `json:"email"`
	Password string          `json:"password"`
	FullName string          `json:"fullName"`
	Roles    []string        `json:"roles"`
	Actor    authn.Principal `json:"-"`
}

func makeCreateUser(s service.Service) kitendpoint.Endpoint {
	return func(ctx context.Context, request any) (any, error) {
		req := request.(CreateUserRequest)
		u, err := s.CreateUser(ctx, req.Actor, service.CreateUserInput{
			Email: req.Email, Password: req.Password, FullName: req.FullName, Roles: req.Roles,
		})
		if err != nil {
			return nil, err
		}
		return UserResponse{User: NewUser(u), Created: true}, nil
	}
}

// ListUsersRequest selects a page of users.
type ListUsersRequest struct {
	Role   string
	Cursor string
	Limit  int
	Actor  authn.Principal
}

func makeListUsers(s service.Service) kitendpoint.Endpoint {
	return func(ctx context.Context, request any) (any, error) {
		req := request.(ListUsersRequest)
		users, err := s.ListUsers(ctx, req.Actor, service.ListUsersInput{Role: req.Role, Cursor: req.Cursor, Limit: req.Limit})
		if err != nil {
			return nil, err
		}
		return page.Map(users, NewUser), nil
	}
}

// GetUserRequest names a user.
type GetUserRequest struct {
	ID    string
	Actor authn.Principal
}

func makeGetUser(s service.Service) kitendpoint.Endpoint {
	return func(ctx context.Context, request any) (any, error) {
		req := request.(GetUserRequest)
		return user(s.GetUser(ctx, req.Actor, req.ID))
	}
}

// UpdateUserRequest changes roles and/or the disabled flag.
type UpdateUserRequest struct {
	ID       string          `json:"-"`
	IfMatch  *int            `json:"-"`
	Actor    authn.Principal `json:"-"`
	Roles    *[]string       `json:"roles"`
	Disabled *bool           `json:"disabled"`
}

func makeUpdateUser(s service.Service) kitendpoint.Endpoint {
	return func(ctx context.Context, request any) (any, error) {
		req := request.(UpdateUserRequest)
		return user(s.UpdateUser(ctx, req.Actor, service.UpdateUserInput{
			ID: req.ID, Roles: req.Roles, Disabled: req.Disabled, IfMatch: req.IfMatch,
		}))
	}
}

// AnnounceUsersRequest selects the page of accounts to announce again; the
// body is optional, none is the first page at the default limit. Limit is
// nil when left out, so that a 0 sent is refused as ?limit=0 is.
type AnnounceUsersRequest struct {
	Cursor string          `json:"cursor"`
	Limit  *int            `json:"limit"`
	Actor  authn.Principal `json:"-"`
}

// Announcement is the answer to AnnounceUsers: how many accounts were
// announced, and the cursor to send next, null after the last page.
type Announcement struct {
	Announced  int     `json:"announced"`
	NextCursor *string `json:"nextCursor"`
}

func makeAnnounceUsers(s service.Service) kitendpoint.Endpoint {
	return func(ctx context.Context, request any) (any, error) {
		req := request.(AnnounceUsersRequest)
		in := service.AnnounceUsersInput{Cursor: req.Cursor}
		if req.Limit != nil {
			in.Limit = *req.Limit
		}
		a, err := s.AnnounceUsers(ctx, req.Actor, in)
		if err != nil {
			return nil, err
		}
		out := Announcement{Announced: a.Count}
		if a.NextCursor != "" {
			out.NextCursor = &a.NextCursor
		}
		return out, nil
	}
}
