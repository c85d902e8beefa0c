package transport_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/patient/adapter/sqlstore"
	"github.com/medisync/medisync/shared/ids"
	"github.com/medisync/medisync/shared/sqldb/sqltest"
)

// TestPatientRoundTrip checks that what GET gives, with one field changed,
// is a valid PUT, and that a server-owned or restricted field sent with
// another value is a 400 naming it.
func TestPatientRoundTrip(t *testing.T) {
	h := newHarness(t, sqltest.SQLite(t, sqlstore.Migrations()))
	pat := h.user(roles.patient)
	admin := h.user(roles.admin)
	one := "/api/v1/patients/" + h.newPatientFor(pat)

	// read returns the current representation and its ETag.
	read := func(u user) (string, string) {
		t.Helper()
		r := h.do("GET", one, u.token, "")
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))
		return string(r.Body), r.Header.Get("ETag")
	}

	for _, u := range []user{pat, admin} {
		body, etag := read(u)
		r := h.do("PUT", one, u.token, set(body, "phone", `"+441234567899"`), "If-Match", etag)
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))
		assert.Equal(t, "+441234567899", r.JSON(t)["phone"])
		assert.Equal(t, pat.id, r.JSON(t)["userId"])
	}

	body, etag := read(pat)
	for field, value := range map[string]string{
		"id":        `"` + ids.New() + `"`,
		"version":   `1`,
		"createdAt": `"2020-01-01T00:00:00Z"`,
		"updatedAt": `"2020-01-01T00:00:00Z"`,
		"userId":    `"` + ids.New() + `"`,
		"active":    `false`,
	} {
		r := h.do("PUT", one, pat.token, set(set(body, "firstName", `"Augusta"`), field, value), "If-Match", etag)
		require.Equal(t, http.StatusBadRequest, r.Status, "%s: %s", field, string(r.Body))
		assert.Equal(t, []string{field}, r.Fields(t), field)
	}
	after, etagAfter := read(pat)
	assert.Equal(t, etag, etagAfter, "no refused PUT changed the record")
	assert.JSONEq(t, body, after)

	t.Run("an administrator changes what a patient may not", func(t *testing.T) {
		h.t = t
		r := h.do("PUT", one, admin.token, set(body, "active", `false`), "If-Match", etag)
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))
		assert.Equal(t, false, r.JSON(t)["active"])
		r = h.do("PUT", one, admin.token, set(string(r.Body), "createdAt", `"2020-01-01T00:00:00Z"`), "If-Match", r.Header.Get("ETag"))
		require.Equal(t, http.StatusBadRequest, r.Status, "not even an administrator rewrites the server's fields")
		assert.Equal(t, []string{"createdAt"}, r.Fields(t))
	})
}

// TestHistoryRoundTrip is TestPatientRoundTrip for history entries, before
// and after an amendment has set amendedBy and amendedAt.
func TestHistoryRoundTrip(t *testing.T) {
	h := newHarness(t, sqltest.SQLite(t, sqlstore.Migrations()))
	pid := h.newPatientFor(h.user(roles.patient))
	doc := h.user(roles.doctor)
	doc2 := h.user(roles.doctor)
	entry := "/api/v1/patients/" + pid + "/history/" + h.newEntry(doc, pid)

	read := func() (string, string) {
		t.Helper()
		r := h.do("GET", entry, doc.token, "")
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))
		return string(r.Body), r.Header.Get("ETag")
	}
	for i, u := range []user{doc2, doc} {
		body, etag := read()
		r := h.do("PUT", entry, u.token, set(body, "notes", `"revision `+string(rune('2'+i))+`"`), "If-Match", etag)
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))
		got := r.JSON(t)
		assert.Equal(t, doc.id, got["recordedBy"], "the original recorder stays")
		assert.Equal(t, u.id, got["amendedBy"])
	}

	body, etag := read()
	for field, value := range map[string]string{
		"id":         `"` + ids.New() + `"`,
		"patientId":  `"` + ids.New() + `"`,
		"recordedBy": `"` + doc2.id + `"`,
		"recordedAt": `"2020-01-01T00:00:00Z"`,
		"amendedBy":  `"` + doc2.id + `"`,
		"amendedAt":  `"2020-01-01T00:00:00Z"`,
		"version":    `1`,
	} {
		r := h.do("PUT", entry, doc.token, set(set(body, "notes", `"changed"`), field, value), "If-Match", etag)
		require.Equal(t, http.StatusBadRequest, r.Status, "%s: %s", field, string(r.Body))
		assert.Equal(t, []string{field}, r.Fields(t), field)
	}
	after, etagAfter := read()
	assert.Equal(t, etag, etagAfter, "no refused PUT changed the entry")
	assert.JSONEq(t, body, after)
}

// A malformed instant in a round-tripped body is a 400 naming its field,
// like any other wrong value (architecture.md, "Bodies").
func TestRoundTripWithBadInstantNamesTheField(t *testing.T) {
	h := newHarness(t, sqltest.SQLite(t, sqlstore.Migrations()))
	pat := h.user(roles.patient)
	doc := h.user(roles.doctor)
	pid := h.newPatientFor(pat)
	one := "/api/v1/patients/" + pid
	entry := one + "/history/" + h.newEntry(doc, pid)
	for _, c := range []struct {
		path, token string
		fields      []string
	}{
		{one, pat.token, []string{"createdAt", "updatedAt"}},
		{entry, doc.token, []string{"recordedAt", "amendedAt"}},
	} {
		r := h.do("GET", c.path, c.token, "")
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))
		for _, field := range c.fields {
			for _, value := range []string{`"yesterday"`, `"2026-13-01T00:00:00Z"`, `0`} {
				w := h.do("PUT", c.path, c.token, set(string(r.Body), field, value), "If-Match", r.Header.Get("ETag"))
				require.Equal(t, http.StatusBadRequest, w.Status, "%s %s: %s", field, value, string(w.Body))
				assert.Equal(t, []string{field}, w.Fields(t), "%s %s", field, value)
			}
		}
	}
}
