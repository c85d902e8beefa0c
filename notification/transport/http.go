// Package transport serves the notification endpoints over HTTP: the
// caller's inbox and preferences under /api/v1/notifications/me, the
// delivery report under /api/v1/notifications/admin, problem+json errors,
// and Cache-Control: no-store on every answer.
package transport

import (
	"context"
	_ "embed"
	"net/http"
	"time"

	kitendpoint "github.com/go-kit/kit/endpoint"
	kithttp "github.com/go-kit/kit/transport/http"
	"github.com/gorilla/mux"

	"github.com/medisync/medisync/notification/endpoint"
	"github.com/medisync/medisync/notification/notice"
	"github.com/medisync/medisync/notification/service"
	"github.com/medisync/medisync/shared/authn"
	"github.com/medisync/medisync/shared/domainerr"
	"github.com/medisync/medisync/shared/httpjson"
	"github.com/medisync/medisync/shared/page"
	"github.com/medisync/medisync/shared/problem"
	"github.com/medisync/medisync/shared/rest"
)

// MaxBodyBytes bounds a request body; preferences are a few fields.
const MaxBodyBytes = 4 << 10

//go:embed openapi.yaml
var openAPI []byte

// OpenAPI returns the service's OpenAPI document, served at /openapi.yaml.
func OpenAPI() []byte { return openAPI }

// errorRules maps what the error kinds cannot say: nothing, every error is kinded.
var errorRules = problem.Rules()

// Register adds the notification API to r. Every route requires a bearer
// token that verifier accepts; admin routes also the ADMIN role.
func Register(r *mux.Router, set endpoint.Set, verifier authn.Verifier) {
	opts := []kithttp.ServerOption{
		kithttp.ServerBefore(problem.PopulateInstance),
		kithttp.ServerErrorEncoder(problem.ErrorEncoder(errorRules)),
	}
	requireToken := authn.Middleware(verifier)
	handle := func(method, path string, ep kitendpoint.Endpoint, dec kithttp.DecodeRequestFunc) {
		r.Handle("/api/v1/notifications"+path, requireToken(kithttp.NewServer(ep, dec, encode, opts...))).Methods(method)
	}
	r.Handle("/openapi.yaml", rest.OpenAPI(openAPI)).Methods(http.MethodGet)
	handle(http.MethodGet, "/me", set.MyNotifications, decodeInbox)
	handle(http.MethodPost, "/me/read-all", set.MarkAllRead, decodeActor)
	handle(http.MethodGet, "/me/preferences", set.MyPreferences, decodeActor)
	handle(http.MethodPut, "/me/preferences", set.UpdatePreferences, decodeUpdatePreferences)
	handle(http.MethodPost, "/me/{id}/read", set.MarkRead, decodeMarkRead)
	admin := authn.RequireRoles(authn.RoleAdmin)
	handle(http.MethodGet, "/admin/deliveries", admin(set.Deliveries), decodeDeliveries)
	// The dead-letter routes (/api/v1/notifications/admin/dead-letters...)
	// are mounted by main (shared/broker/dlqhttp), with the same verifier
	// and the ADMIN role.
}

// --- decoding --------------------------------------------------------------

func actor(ctx context.Context) (authn.Principal, error) {
	p, ok := authn.FromContext(ctx)
	if !ok {
		return authn.Principal{}, problem.Unauthorized("a bearer token is required")
	}
	return p, nil
}

func decodeActor(ctx context.Context, _ *http.Request) (any, error) {
	a, err := actor(ctx)
	return endpoint.ActorRequest{Actor: a}, err
}

func decodeInbox(ctx context.Context, r *http.Request) (any, error) {
	a, err := actor(ctx)
	if err != nil {
		return nil, err
	}
	q := notice.InboxQuery{}
	if q.Limit, err = rest.Limit(r); err != nil {
		return nil, err
	}
	if q.Cursor, err = rest.Cursor(r); err != nil {
		return nil, err
	}
	unread, err := rest.Param(r, "unread")
	if err != nil {
		return nil, err
	}
	switch unread {
	case "", "false":
	case "true":
		q.UnreadOnly = true
	default:
		return nil, domainerr.Field("unread", "must be true or false")
	}
	return endpoint.InboxRequest{Actor: a, Query: q}, nil
}

func decodeMarkRead(ctx context.Context, r *http.Request) (any, error) {
	a, err := actor(ctx)
	if err != nil {
		return nil, err
	}
	id, err := rest.PathUUID(r, "id")
	return endpoint.MarkReadRequest{Actor: a, ID: id}, err
}

func decodeDeliveries(ctx context.Context, r *http.Request) (any, error) {
	a, err := actor(ctx)
	if err != nil {
		return nil, err
	}
	q := notice.DeliveryQuery{}
	if q.Limit, err = rest.Limit(r); err != nil {
		return nil, err
	}
	if q.Cursor, err = rest.Cursor(r); err != nil {
		return nil, err
	}
	s, err := rest.Param(r, "status")
	if err != nil {
		return nil, err
	}
	if s != "" {
		if !notice.ValidDeliveryStatus(s) {
			return nil, domainerr.Field("status", "must be queued, sending, sent or failed")
		}
		q.Status = notice.DeliveryStatus(s)
	}
	return endpoint.DeliveriesRequest{Actor: a, Query: q}, nil
}

// preferencesBody is the PUT body: the GET representation, whose read-only
// fields (userId, version, updatedAt) the use case accepts unchanged and
// refuses changed.
type preferencesBody struct {
	UserID    *string    `json:"userId"`
	Email     *bool      `json:"email"`
	InApp     *bool      `json:"inApp"`
	Reminders *bool      `json:"reminders"`
	Version   *int64     `json:"version"`
	UpdatedAt *time.Time `json:"updatedAt"`
}

func decodeUpdatePreferences(ctx context.Context, r *http.Request) (any, error) {
	a, err := actor(ctx)
	if err != nil {
		return nil, err
	}
	v, err := rest.IfMatch(r)
	if err != nil {
		return nil, err
	}
	var b preferencesBody
	if err := httpjson.Decode(r, &b, MaxBodyBytes); err != nil {
		return nil, err
	}
	var fe domainerr.FieldErrors
	req := func(name string, p *bool) bool {
		if p == nil {
			fe.Add(name, "is required")
			return false
		}
		return *p
	}
	in := service.PreferencesInput{Email: req("email", b.Email), InApp: req("inApp", b.InApp), Reminders: req("reminders", b.Reminders),
		UserID: b.UserID, Version: b.Version, UpdatedAt: b.UpdatedAt}
	if err := fe.Err(); err != nil {
		return nil, err
	}
	return endpoint.UpdatePreferencesRequest{Actor: a, IfMatch: v, In: in}, nil
}

// --- encoding --------------------------------------------------------------

type notificationJSON struct {
	ID        string     `json:"id"`
	Kind      string     `json:"kind"`
	Title     string     `json:"title"`
	Body      string     `json:"body"`
	Read      bool       `json:"read"`
	CreatedAt time.Time  `json:"createdAt"`
	ReadAt    *time.Time `json:"readAt"`
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func toNotificationJSON(n notice.Notification) notificationJSON {
	return notificationJSON{ID: n.ID, Kind: string(n.Kind), Title: n.Title, Body: n.Body, Read: n.Read(), CreatedAt: n.CreatedAt, ReadAt: optTime(n.ReadAt)}
}

type inboxJSON struct {
	Items       []notificationJSON `json:"items"`
	NextCursor  *string            `json:"nextCursor"`
	UnreadCount int                `json:"unreadCount"`
}

type preferencesJSON struct {
	UserID    string     `json:"userId"`
	Email     bool       `json:"email"`
	InApp     bool       `json:"inApp"`
	Reminders bool       `json:"reminders"`
	Version   int64      `json:"version"`
	UpdatedAt *time.Time `json:"updatedAt"`
}

type deliveryJSON struct {
	ID            string     `json:"id"`
	UserID        string     `json:"userId"`
	Kind          string     `json:"kind"`
	Recipient     string     `json:"recipient"`
	Status        string     `json:"status"`
	Attempts      int        `json:"attempts"`
	LastError     string     `json:"lastError,omitempty"`
	NextAttemptAt *time.Time `json:"nextAttemptAt"`
	CreatedAt     time.Time  `json:"createdAt"`
	UpdatedAt     time.Time  `json:"updatedAt"`
	SentAt        *time.Time `json:"sentAt"`
}

func toDeliveryJSON(d notice.Delivery) deliveryJSON {
	j := deliveryJSON{ID: d.ID, UserID: d.UserID, Kind: string(d.Kind), Recipient: d.Recipient, Status: string(d.Status),
		Attempts: d.Attempts, LastError: d.LastError, CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt, SentAt: optTime(d.SentAt)}
	if d.Status == notice.Queued {
		j.NextAttemptAt = optTime(d.NextAttemptAt)
	}
	return j
}

func encode(_ context.Context, w http.ResponseWriter, resp any) error {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	switch v := resp.(type) {
	case endpoint.InboxResponse:
		items := page.Map(v.Inbox.Page, toNotificationJSON)
		body := inboxJSON{Items: items.Items, UnreadCount: v.Inbox.Unread}
		if body.Items == nil {
			body.Items = []notificationJSON{}
		}
		if items.NextCursor != "" {
			body.NextCursor = &items.NextCursor
		}
		return httpjson.Write(w, http.StatusOK, body)
	case endpoint.NotificationResponse:
		return httpjson.Write(w, http.StatusOK, toNotificationJSON(v.Notification))
	case endpoint.MarkedResponse:
		return httpjson.Write(w, http.StatusOK, map[string]int{"marked": v.Marked})
	case endpoint.PreferencesResponse:
		p := v.Preferences
		h.Set("ETag", rest.ETag(p.Version))
		return httpjson.Write(w, http.StatusOK, preferencesJSON{UserID: p.UserID, Email: p.Email, InApp: p.InApp, Reminders: p.Reminders, Version: p.Version, UpdatedAt: optTime(p.UpdatedAt)})
	case endpoint.DeliveriesResponse:
		return httpjson.Write(w, http.StatusOK, page.Map(v.Page, toDeliveryJSON))
	}
	w.WriteHeader(http.StatusInternalServerError)
	return nil
}
