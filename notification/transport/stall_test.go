package transport_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/medisync/medisync/notification/adapter/sqlstore"
	"github.com/medisync/medisync/notification/endpoint"
	"github.com/medisync/medisync/notification/transport"
	"github.com/medisync/medisync/shared/authn"
	"github.com/medisync/medisync/shared/authn/authntest"
	"github.com/medisync/medisync/shared/httpmw"
	"github.com/medisync/medisync/shared/ids"
	"github.com/medisync/medisync/shared/sqldb/sqltest"
)

// A body that stops arriving (Content-Length larger than what is sent) is
// cut by the server's read deadline: the answer is a 408, as the gateway
// and records' uploads answer, never a 400 carrying the service's own
// socket addresses.
func TestStalledBodyIsATimeout(t *testing.T) {
	first, iss, svc := newNotif(t, sqltest.SQLite(t, sqlstore.Migrations()))
	first.Close()
	r := httpmw.NewRouter()
	transport.Register(r, endpoint.New(svc), iss.Verifier())
	srv := httptest.NewUnstartedServer(httpmw.Stack(r, httpmw.Options{MaxBodyBytes: transport.MaxBodyBytes}))
	srv.Config.ReadTimeout = time.Second // shared/server uses 30 s
	srv.Start()
	defer srv.Close()
	tok := iss.Token(t, authntest.Claims{UserID: ids.New(), Roles: []string{authn.RolePatient}})
	c, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "PUT /api/v1/notifications/me/preferences HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"+
		"If-Match: \"1\"\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"email\":", tok)
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusRequestTimeout || strings.Contains(string(b), "tcp ") {
		t.Errorf("stalled body answered %d %s", res.StatusCode, b)
	}
}
