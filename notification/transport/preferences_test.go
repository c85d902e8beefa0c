package transport_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/notification/adapter/sqlstore"
	"github.com/medisync/medisync/shared/authn"
	"github.com/medisync/medisync/shared/authn/authntest"
	"github.com/medisync/medisync/shared/ids"
	"github.com/medisync/medisync/shared/sqldb/sqltest"
)

const preferencesPath = "/api/v1/notifications/me/preferences"

type answer struct {
	status int
	body   string
	etag   string
}

// call sends a request with tok and, when given, a body and If-Match.
func call(t *testing.T, url, method, tok, body, ifMatch string) answer {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+tok)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if ifMatch != "" {
		req.Header.Set("If-Match", ifMatch)
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return answer{res.StatusCode, string(b), res.Header.Get("ETag")}
}

// with returns the JSON object doc with field set to the raw JSON value.
func with(t *testing.T, doc, field, value string) string {
	t.Helper()
	var m map[string]json.RawMessage
	require.NoError(t, json.Unmarshal([]byte(doc), &m))
	m[field] = json.RawMessage(value)
	b, err := json.Marshal(m)
	require.NoError(t, err)
	return string(b)
}

// fields lists the fields a problem names.
func fields(t *testing.T, body string) []string {
	t.Helper()
	var p struct{ Errors []struct{ Field string } }
	require.NoError(t, json.Unmarshal([]byte(body), &p), body)
	var out []string
	for _, e := range p.Errors {
		out = append(out, e.Field)
	}
	return out
}

// architecture.md ("GET -> PUT round trip"): server-managed fields are
// accepted and ignored when equal to the current value, and another value
// is a 400 naming the field.
func TestPreferencesRefuseChangedServerFields(t *testing.T) {
	srv, iss, _ := newNotif(t, sqltest.SQLite(t, sqlstore.Migrations()))
	uid := ids.New()
	tok := iss.Token(t, authntest.Claims{UserID: uid, Roles: []string{authn.RolePatient}})
	body := `{"userId":"` + uid + `","email":true,"inApp":true,"reminders":false,"version":99,"updatedAt":"2000-01-01T00:00:00Z"}`
	req, _ := http.NewRequest("PUT", srv.URL+preferencesPath, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("If-Match", `"1"`)
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != 400 || !strings.Contains(string(b), `"version"`) {
		t.Errorf("version 99 (current 1) and updatedAt 2000 answered %d %s", res.StatusCode, b)
	}
}

// TestPreferencesRoundTrip checks that what GET gives, with one channel
// changed, is a valid PUT, the defaults (updatedAt null) as well as stored
// preferences; that the caller's id sent back in upper case is theirs; and
// that a read-only field sent with another value is a 400 naming it that
// changes nothing.
func TestPreferencesRoundTrip(t *testing.T) {
	srv, iss, _ := newNotif(t, sqltest.SQLite(t, sqlstore.Migrations()))
	uid := ids.New()
	tok := iss.Token(t, authntest.Claims{UserID: uid, Roles: []string{authn.RolePatient}})
	url := srv.URL + preferencesPath
	read := func() answer {
		t.Helper()
		a := call(t, url, "GET", tok, "", "")
		require.Equal(t, 200, a.status, a.body)
		return a
	}

	for i, reminders := range []string{"false", "true"} {
		cur := read()
		a := call(t, url, "PUT", tok, with(t, cur.body, "reminders", reminders), cur.etag)
		require.Equal(t, 200, a.status, a.body)
		var got map[string]any
		require.NoError(t, json.Unmarshal([]byte(a.body), &got))
		assert.Equal(t, reminders == "true", got["reminders"])
		assert.Equal(t, float64(i+2), got["version"])
		assert.NotNil(t, got["updatedAt"])
	}

	cur := read()
	a := call(t, url, "PUT", tok, with(t, with(t, cur.body, "email", "false"), "userId", `"`+strings.ToUpper(uid)+`"`), cur.etag)
	require.Equal(t, 200, a.status, "the caller's id in upper case: %s", a.body)

	cur = read()
	for field, value := range map[string]string{
		"userId":    `"` + ids.New() + `"`,
		"version":   `1`,
		"updatedAt": `"2020-01-01T00:00:00Z"`,
	} {
		a := call(t, url, "PUT", tok, with(t, with(t, cur.body, "inApp", "false"), field, value), cur.etag)
		require.Equal(t, 400, a.status, "%s: %s", field, a.body)
		assert.Equal(t, []string{field}, fields(t, a.body), field)
	}
	after := read()
	assert.Equal(t, cur.etag, after.etag, "no refused PUT changed the preferences")
	assert.JSONEq(t, cur.body, after.body)
}
