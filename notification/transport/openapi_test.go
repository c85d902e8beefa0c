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
	"github.com/medisync/medisync/shared/openapitest"
)

// mountedByMain are the documented paths main mounts itself rather than
// Register: the broker's dead-letter routes (docs/adr/0025).
var mountedByMain = []string{
	"/api/v1/notifications/admin/dead-letters",
	"/api/v1/notifications/admin/dead-letters/{id}/replay",
}

// TestOpenAPIRoutes holds the router, as Register builds it, to the
// document: no route undocumented, no documented route missing.
func TestOpenAPIRoutes(t *testing.T) {
	a, err := app.New(context.Background(), app.Options{Name: "notification"}, nil, func(string) (string, bool) { return "", false }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	r := a.Router()
	transport.Register(r, endpoint.Set{}, nil)
	doc := openapitest.Load(t, transport.OpenAPI())
	for _, p := range mountedByMain {
		if doc.T.Paths.Value(p) == nil {
			t.Fatalf("the document lacks %s", p)
		}
		doc.T.Paths.Delete(p)
	}
	doc.CheckRoutes(t, r)
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
