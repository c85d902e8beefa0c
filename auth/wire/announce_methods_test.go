package wire_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/shared/sqldb"
	"github.com/medisync/medisync/shared/sqldb/sqltest"

	"github.com/medisync/medisync/auth/adapter/sqlstore"
)

// TestAnnouncingWithAnEmptyChunkedBodyIsTheFirstPage: the body is optional;
// one empty but framed as chunked, as an HTTP/1.1 client streaming from an
// empty reader sends it, is still no body and asks for the first page.
func TestAnnouncingWithAnEmptyChunkedBodyIsTheFirstPage(t *testing.T) {
	sqltest.Each(t, sqlstore.Migrations(), func(t *testing.T, db *sqldb.DB) {
		e := newEnv(t, db)
		tok := e.admin().Access
		conn, err := net.Dial("tcp", strings.TrimPrefix(e.srv.URL, "http://"))
		require.NoError(t, err)
		defer conn.Close()
		_, err = conn.Write([]byte("POST " + announcePath + " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + tok +
			"\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n0\r\n\r\n"))
		require.NoError(t, err)
		res, err := http.ReadResponse(bufio.NewReader(conn), nil)
		require.NoError(t, err)
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		assert.Equal(t, http.StatusOK, res.StatusCode, string(b))
	})
}

// TestAnnouncementsPathAnswersOtherMethodsWith405: a wrong method on a known
// path is a 405 with Allow (docs/architecture.md, "404 and 405"), not a GET
// or PATCH of a user whose id would be "announcements".
func TestAnnouncementsPathAnswersOtherMethodsWith405(t *testing.T) {
	e := newEnv(t, sqltest.SQLite(t, sqlstore.Migrations()))
	as := bearer(e.admin().Access)
	for _, m := range []string{http.MethodGet, http.MethodPatch, http.MethodDelete} {
		r := e.req(m, announcePath, nil, as...)
		assert.Equal(t, http.StatusMethodNotAllowed, r.Status, "%s: %s", m, r.Body)
		assert.Equal(t, "POST", r.Header.Get("Allow"), m)
	}
}
