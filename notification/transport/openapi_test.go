package transport_test

import (
	"context"
	"fmt"
	"io"
	"slices"
	"testing"

	"github.com/medisync/medisync/notification/endpoint"
	"github.com/medisync/medisync/notification/notice"
	"github.com/medisync/medisync/notification/transport"
	"github.com/medisync/medisync/shared/app"
	"github.com/medisync/medisync/shared/broker/dlqhttp"
	"github.com/medisync/medisync/shared/openapitest"
)

// TestOpenAPIRoutes holds the router, as main builds it (Register and the
// broker's dead-letter routes, docs/adr/0025), to the document: no route
// undocumented, no documented route missing.
func TestOpenAPIRoutes(t *testing.T) {
	a, err := app.New(context.Background(), app.Options{Name: "notification"}, nil, func(string) (string, bool) { return "", false }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	r := a.Router()
	transport.Register(r, endpoint.Set{}, nil)
	dlqhttp.Register(r, "/api/v1/notifications/admin", nil, nil)
	openapitest.Load(t, transport.OpenAPI()).CheckRoutes(t, r)
}

// TestOpenAPINotificationKinds holds the document's kinds to the service's:
// a client that switches on the kind learns of every message it may meet.
func TestOpenAPINotificationKinds(t *testing.T) {
	doc := openapitest.Load(t, transport.OpenAPI())
	ref := doc.T.Components.Schemas["NotificationKind"]
	if ref == nil || ref.Value == nil {
		t.Fatal("the document lacks NotificationKind")
	}
	var documented, served []string
	for _, v := range ref.Value.Enum {
		documented = append(documented, fmt.Sprint(v))
	}
	for _, k := range notice.Kinds {
		served = append(served, string(k))
	}
	if !slices.Equal(documented, served) {
		t.Fatalf("NotificationKind is %v, the service's kinds are %v", documented, served)
	}
}
