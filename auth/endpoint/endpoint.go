// Package endpoint adapts the auth service to go-kit endpoints, with the
// request and response types the transport decodes and encodes.
package endpoint

import (
	"context"
	"time"

	"github.com/go-kit/kit/endpoint"

	"github.com/medisync/medisync/auth/account"
	"github.com/medisync/medisync/auth/service"
	"github.com/medisync/medisync/shared/authn"
)

// Set holds one endpoint per use case.
type Set struct {
	Register       endpoint.Endpoint
	Login          endpoint.Endpoint
	Refresh        endpoint.Endpoint
	Logout         endpoint.Endpoint
	Me             endpoint.Endpoint
	ChangePassword endpoint.Endpoint
	ForgotPassword endpoint.Endpoint
	ResetPassword  endpoint.Endpoint
	CreateUser     endpoint.Endpoint
	ListUsers      endpoint.Endpoint
	GetUser        endpoint.Endpoint
	UpdateUser     endpoint.Endpoint
}

// New builds the endpoints of s. Endpoints acting for a caller take the
// principal from the context and refuse without one; the administrative
// ones also demand the ADMIN role in the token (the service checks it again
// against the database).
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

// NoContent is the answer of endpoints with nothing to say (204).
type NoContent struct{}

// Accepted is the answer to a forgotten password (202), the same whatever
// the address.
type Accepted struct {
	Status string `json:"status"`
	Detail string `json:"detail"`
}

// UserPage is a page of users.
type UserPage struct {
	Items      []User `json:"items"`
	NextCursor string `json:"nextCursor"`
}

// RegisterRequest is a self-registration.
type RegisterRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
	FullName string `json:"fullName"`
}

func makeRegister(s service.Service) endpoint.Endpoint {
	return func(ctx context.Context, request any) (any, error) {
		req := request.(RegisterRequest)
		u, err := s.Register(ctx, service.RegisterInput{Email: req.Email, Password: req.Password, FullName: req.FullName})
		if err != nil {
			return nil, err
		}
		return UserResponse{User: NewUser(u), Created: true}, nil
	}
}

// LoginRequest is a login; ClientIP is set by the transport.
type LoginRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
	ClientIP string `json:"-"`
}

func makeLogin(s service.Service) endpoint.Endpoint {
	return func(ctx context.Context, request any) (any, error) {
		req := request.(LoginRequest)
		p, err := s.Login(ctx, service.LoginInput{Email: req.Email, Password: req.Password, ClientIP: req.ClientIP})
		if err != nil {
			return nil, err
		}
		return newTokens(p), nil
	}
}

// RefreshTokenRequest carries a refresh token (refresh and logout).
type RefreshTokenRequest struct {
	RefreshToken string `json:"refreshToken"`
}

func makeRefresh(s service.Service) endpoint.Endpoint {
	return func(ctx context.Context, request any) (any, error) {
		p, err := s.Refresh(ctx, request.(RefreshTokenRequest).RefreshToken)
		if err != nil {
			return nil, err
		}
		return newTokens(p), nil
	}
}

func makeLogout(s service.Service) endpoint.Endpoint {
	return func(ctx context.Context, request any) (any, error) {
		if err := s.Logout(ctx, request.(RefreshTokenRequest).RefreshToken); err != nil {
			return nil, err
		}
		return NoContent{}, nil
	}
}

// MeRequest asks for the caller's account.
type MeRequest struct{}

func makeMe(s service.Service) endpoint.Endpoint {
	return func(ctx context.Context, _ any) (any, error) {
		p, _ := authn.FromContext(ctx)
		u, err := s.Me(ctx, p.UserID)
		if err != nil {
			return nil, err
		}
		return UserResponse{User: NewUser(u)}, nil
	}
}

// ChangePasswordRequest changes the caller's password.
type ChangePasswordRequest struct {
	CurrentPassword string `json:"currentPassword"`
	NewPassword     string `json:"newPassword"`
	ClientIP        string `json:"-"`
}

func makeChangePassword(s service.Service) endpoint.Endpoint {
	return func(ctx context.Context, request any) (any, error) {
		req := request.(ChangePasswordRequest)
		p, _ := authn.FromContext(ctx)
		pair, err := s.ChangePassword(ctx, service.ChangePasswordInput{
			UserID: p.UserID, CurrentPassword: req.CurrentPassword, NewPassword: req.NewPassword, ClientIP: req.ClientIP,
		})
		if err != nil {
			return nil, err
		}
		return newTokens(pair), nil
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

func makeForgot(s service.Service) endpoint.Endpoint {
	return func(ctx context.Context, request any) (any, error) {
		if err := s.ForgotPassword(ctx, request.(ForgotPasswordRequest).Email); err != nil {
			return nil, err
		}
		return ForgotAccepted(), nil
	}
}

// ResetPasswordRequest sets a new password with a reset token.
type ResetPasswordRequest struct {
	Token       string `json:"token"`
	NewPassword string `json:"newPassword"`
}

func makeReset(s service.Service) endpoint.Endpoint {
	return func(ctx context.Context, request any) (any, error) {
		req := request.(ResetPasswordRequest)
		if err := s.ResetPassword(ctx, req.Token, req.NewPassword); err != nil {
			return nil, err
		}
		return NoContent{}, nil
	}
}

// CreateUserRequest is an account an administrator creates.
type CreateUserRequest struct {
	Email    string   `json:"email"`
	Password string   `json:"password"`
	FullName string   `json:"fullName"`
	Roles    []string `json:"roles"`
}

func makeCreateUser(s service.Service) endpoint.Endpoint {
	return func(ctx context.Context, request any) (any, error) {
		req := request.(CreateUserRequest)
		p, _ := authn.FromContext(ctx)
		u, err := s.CreateUser(ctx, p.UserID, service.CreateUserInput{
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
}

func makeListUsers(s service.Service) endpoint.Endpoint {
	return func(ctx context.Context, request any) (any, error) {
		req := request.(ListUsersRequest)
		p, _ := authn.FromContext(ctx)
		page, err := s.ListUsers(ctx, p.UserID, service.ListUsersInput{Role: req.Role, Cursor: req.Cursor, Limit: req.Limit})
		if err != nil {
			return nil, err
		}
		out := UserPage{Items: make([]User, 0, len(page.Items)), NextCursor: page.NextCursor}
		for _, u := range page.Items {
			out.Items = append(out.Items, NewUser(u))
		}
		return out, nil
	}
}

// GetUserRequest names a user.
type GetUserRequest struct {
	ID string
}

func makeGetUser(s service.Service) endpoint.Endpoint {
	return func(ctx context.Context, request any) (any, error) {
		p, _ := authn.FromContext(ctx)
		u, err := s.GetUser(ctx, p.UserID, request.(GetUserRequest).ID)
		if err != nil {
			return nil, err
		}
		return UserResponse{User: NewUser(u)}, nil
	}
}

// UpdateUserRequest changes roles and/or the disabled flag.
type UpdateUserRequest struct {
	ID       string    `json:"-"`
	IfMatch  *int      `json:"-"`
	Roles    *[]string `json:"roles"`
	Disabled *bool     `json:"disabled"`
}

func makeUpdateUser(s service.Service) endpoint.Endpoint {
	return func(ctx context.Context, request any) (any, error) {
		req := request.(UpdateUserRequest)
		p, _ := authn.FromContext(ctx)
		u, err := s.UpdateUser(ctx, p.UserID, service.UpdateUserInput{
			ID: req.ID, Roles: req.Roles, Disabled: req.Disabled, IfMatch: req.IfMatch,
		})
		if err != nil {
			return nil, err
		}
		return UserResponse{User: NewUser(u)}, nil
	}
}
