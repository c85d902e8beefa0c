package transport_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/doctor/adapter/sqlstore"
	"github.com/medisync/medisync/doctor/profile"
	"github.com/medisync/medisync/doctor/schedule"
	"github.com/medisync/medisync/shared/page"
	"github.com/medisync/medisync/shared/sqldb"
	"github.com/medisync/medisync/shared/sqldb/sqltest"
)

func TestSearchOverHTTP(t *testing.T) {
	e := newEnv(t)
	card := e.mustDo(201, "POST", "/api/v1/specializations", e.admin.Token, map[string]any{"name": "Cardiology"}).JSON(t)["id"].(string)
	for i := range 7 {
		over := map[string]any{"firstName": fmt.Sprintf("Doc%d", i), "lastName": fmt.Sprintf("Smith%d", i)}
		if i%2 == 0 {
			over["specializationIds"] = []string{card}
			over["languages"] = []string{"fr"}
		}
		d := e.createByAdmin(over)
		if i == 3 {
			avail := "/api/v1/doctors/" + d["id"].(string) + "/availability"
			e.mustDo(200, "PUT", avail, e.admin.Token,
				map[string]any{"weekly": []map[string]string{{"day": "WEDNESDAY", "start": "09:00", "end": "10:00"}}}, "If-Match", e.etag(avail))
		}
	}
	e.createByAdmin(map[string]any{"firstName": "Zoe", "lastName": "Jones"})

	names := func(r response) []string {
		var p struct {
			Items []struct {
				FirstName string `json:"firstName"`
			} `json:"items"`
		}
		require.NoError(t, json.Unmarshal(r.Body, &p))
		out := []string{}
		for _, d := range p.Items {
			out = append(out, d.FirstName)
		}
		return out
	}
	var all []string
	next := "/api/v1/doctors?q=smi&limit=3"
	for pages := 0; next != "" && pages < 5; pages++ {
		r := e.mustDo(200, "GET", next, e.pat.Token, nil).JSON(t)
		for _, it := range r["items"].([]any) {
			all = append(all, it.(map[string]any)["firstName"].(string))
		}
		next = ""
		if c, ok := r["nextCursor"].(string); ok {
			next = "/api/v1/doctors?q=smi&limit=3&cursor=" + c
		}
	}
	assert.Equal(t, []string{"Doc0", "Doc1", "Doc2", "Doc3", "Doc4", "Doc5", "Doc6"}, all)

	last := e.mustDo(200, "GET", "/api/v1/doctors?q=jo", e.pat.Token, nil).JSON(t)
	assert.Nil(t, last["nextCursor"])
	assert.Equal(t, []string{"Doc0", "Doc2", "Doc4", "Doc6"}, names(e.mustDo(200, "GET", "/api/v1/doctors?specialization="+card, e.pat.Token, nil)))
	assert.Equal(t, []string{"Doc0", "Doc2", "Doc4", "Doc6"}, names(e.mustDo(200, "GET", "/api/v1/doctors?language=FR", e.pat.Token, nil)))
	assert.Equal(t, []string{"Doc3"}, names(e.mustDo(200, "GET", "/api/v1/doctors?availableOn=2026-02-04", e.pat.Token, nil)))
	assert.Equal(t, []string{"Zoe"}, names(e.mustDo(200, "GET", "/api/v1/doctors?q=zoe%20jon", e.pat.Token, nil)))
	assert.Empty(t, names(e.mustDo(200, "GET", "/api/v1/doctors?q=%25", e.pat.Token, nil)))
}

// allTaken is an appointment service where every slot is booked.
type allTaken struct{}

func (allTaken) Taken(_ context.Context, _ string, from, to time.Time) ([]schedule.Range, error) {
	return []schedule.Range{{Start: from, End: to}}, nil
}

// availableOn filters on working hours, as the document says: a doctor
// whose every slot that day is booked or already past is still listed, and
// the slots endpoint is the one that says none is free.
func TestAvailableOnListsWorkingHoursWhateverIsFree(t *testing.T) {
	check := func(t *testing.T, e *env, day string) {
		d := e.createByAdmin(map[string]any{"timeZone": "UTC"})
		id := d["id"].(string)
		avail := "/api/v1/doctors/" + id + "/availability"
		e.mustDo(200, http.MethodPut, avail, e.admin.Token, map[string]any{"slotMinutes": 30, "weekly": []map[string]string{
			{"day": "MONDAY", "start": "08:00", "end": "10:00"}, {"day": "THURSDAY", "start": "08:00", "end": "10:00"},
		}}, "If-Match", e.etag(avail))

		slots := slotStarts(t, e.mustDo(200, http.MethodGet, "/api/v1/doctors/"+id+"/slots?from="+day+"&to="+day, e.pat.Token, nil))
		require.Empty(t, slots, "no free slot on %s", day)

		page := e.mustDo(200, http.MethodGet, "/api/v1/doctors?availableOn="+day, e.pat.Token, nil).JSON(t)
		var listed []string
		for _, it := range page["items"].([]any) {
			listed = append(listed, it.(map[string]any)["id"].(string))
		}
		assert.Contains(t, listed, id, "working hours on %s list the doctor, free slots or not", day)

		page = e.mustDo(200, http.MethodGet, "/api/v1/doctors?availableOn=2026-01-20", e.pat.Token, nil).JSON(t)
		assert.Empty(t, page["items"], "no working hours on a Tuesday")
	}
	t.Run("every slot booked", func(t *testing.T) {
		e := newEnvWith(t, sqltest.SQLite(t, sqlstore.Migrations()), allTaken{})
		check(t, e, "2026-01-19") // a Monday after the clock's today
	})
	t.Run("every slot already past", func(t *testing.T) {
		e := newEnv(t) // the clock reads Thursday 2026-01-15 12:00 UTC
		check(t, e, "2026-01-15")
	})
}

// A page ending on a doctor with the longest names, of characters that
// take the most bytes in a cursor, gets a nextCursor the service takes
// back: the list pages past every doctor.
func TestSearchPagesPastTheLongestNames(t *testing.T) {
	e := newEnv(t)
	var want []string
	for _, r := range []string{`"`, "&", "<", "\U0001D538"} {
		name := strings.Repeat(r, profile.MaxNameLength)
		for range 2 {
			want = append(want, e.createByAdmin(map[string]any{"firstName": name, "lastName": name})["id"].(string))
		}
	}
	var got []string
	next := "/api/v1/doctors?limit=1"
	for pages := 0; next != "" && pages < 10; pages++ {
		r := e.mustDo(200, http.MethodGet, next, e.pat.Token, nil).JSON(t)
		for _, it := range r["items"].([]any) {
			got = append(got, it.(map[string]any)["id"].(string))
		}
		next = ""
		if c, ok := r["nextCursor"].(string); ok {
			assert.LessOrEqual(t, len(c), page.MaxCursorLen)
			next = "/api/v1/doctors?limit=1&cursor=" + c
		}
	}
	assert.ElementsMatch(t, want, got)
}

// q is bounded in characters, as the document's maxLength counts them: a
// whole name of 100 characters in a script of three-byte characters is
// searched on every database, and one character more is a 400 naming q.
func TestSearchQIsBoundedInCharacters(t *testing.T) {
	sqltest.Each(t, sqlstore.Migrations(), func(t *testing.T, db *sqldb.DB) {
		e := newEnvOn(t, db)
		name := strings.Repeat("山", profile.MaxSearchLength)
		e.createByAdmin(map[string]any{"lastName": name})
		r := e.mustDo(200, "GET", "/api/v1/doctors?q="+url.QueryEscape(name), e.pat.Token, nil)
		if items := r.JSON(t)["items"].([]any); assert.Len(t, items, 1) {
			assert.Equal(t, name, items[0].(map[string]any)["lastName"])
		}
		r = e.do("GET", "/api/v1/doctors?q="+url.QueryEscape(name+"山"), e.pat.Token, nil)
		if assert.Equal(t, 400, r.Status, "%s", r.Body) {
			assert.Equal(t, []string{"q"}, r.Fields(t))
		}
	})
}

// q holds at most four words, each applied: a fifth is a 400 naming q,
// never dropped to list doctors it does not match.
func TestSearchQOfMoreThanFourWordsIsRefused(t *testing.T) {
	sqltest.Each(t, sqlstore.Migrations(), func(t *testing.T, db *sqldb.DB) {
		e := newEnvOn(t, db)
		e.createByAdmin(map[string]any{"firstName": "Ada Mary", "lastName": "Lovelace King"})
		r := e.mustDo(200, "GET", "/api/v1/doctors?q="+url.QueryEscape("ada mar lov kin"), e.pat.Token, nil)
		assert.Len(t, r.JSON(t)["items"], 1, "four words, each beginning a word of the names")
		r = e.do("GET", "/api/v1/doctors?q="+url.QueryEscape("ada mar lov kin zzzz"), e.pat.Token, nil)
		if assert.Equal(t, 400, r.Status, "%s", r.Body) {
			assert.Equal(t, []string{"q"}, r.Fields(t))
		}
	})
}
