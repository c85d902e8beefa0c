package transport_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/medisync/medisync/doctor/adapter/sqlstore"
	"github.com/medisync/medisync/doctor/schedule"
	"github.com/medisync/medisync/doctor/transport"
	"github.com/medisync/medisync/shared/openapitest"
	"github.com/medisync/medisync/shared/sqldb/sqltest"
)

// fixedBookings is a booking system holding a few ranges, or down.
type fixedBookings struct {
	mu     sync.Mutex
	ranges []schedule.Range
	down   bool
}

func (b *fixedBookings) Taken(_ context.Context, _ string, from, to time.Time) ([]schedule.Range, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.down {
		return nil, errors.New("booking system down")
	}
	var out []schedule.Range
	for _, r := range b.ranges {
		if r.Start.Before(to) && r.End.After(from) {
			out = append(out, r)
		}
	}
	return out, nil
}

func (b *fixedBookings) set(down bool, rs ...schedule.Range) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.down, b.ranges = down, rs
}

// Over HTTP, a change leaving booked appointments outside the doctor's
// hours is a 409 problem naming strandBookings, which applies it; a booking
// system that cannot answer is a 503 with Retry-After.
func TestStrandingBookingsOverHTTP(t *testing.T) {
	b := &fixedBookings{}
	e := newEnvWith(t, sqltest.SQLite(t, sqlstore.Migrations()), b)
	d := e.createByAdmin(map[string]any{"timeZone": "America/New_York"})
	path := "/api/v1/doctors/" + d["id"].(string)
	avail := path + "/availability"
	monday := map[string]any{"slotMinutes": 30, "weekly": []map[string]string{{"day": "MONDAY", "start": "09:00", "end": "12:00"}}}
	e.mustDo(200, "PUT", avail, e.admin.Token, monday, "If-Match", e.etag(avail))
	// Monday 2026-02-02 09:00 in New York.
	booked := schedule.Range{Start: time.Date(2026, 2, 2, 14, 0, 0, 0, time.UTC), End: time.Date(2026, 2, 2, 14, 30, 0, 0, time.UTC)}
	tuesday := map[string]any{"slotMinutes": 30, "weekly": []map[string]string{{"day": "TUESDAY", "start": "09:00", "end": "12:00"}}}
	berlin := doctorBody(map[string]any{"timeZone": "Europe/Berlin"})

	b.set(false, booked)
	for _, r := range []response{
		e.do("PUT", avail, e.admin.Token, tuesday, "If-Match", e.etag(avail)),
		e.do("PUT", path, e.admin.Token, berlin, "If-Match", e.etag(path)),
		e.do("DELETE", path, e.admin.Token, nil),
	} {
		if assert.Equal(t, 409, r.Status, "%s", r.Body) {
			detail := r.Str(t, "detail")
			assert.Contains(t, detail, "2026-02-02T14:00:00Z")
			assert.Contains(t, detail, "strandBookings=true")
		}
	}
	e.mustDo(400, "DELETE", path+"?strandBookings=yes", e.admin.Token, nil)

	b.set(true)
	r := e.mustDo(503, "PUT", avail, e.admin.Token, tuesday, "If-Match", e.etag(avail))
	assert.NotEmpty(t, r.Header.Get("Retry-After"))
	e.mustDo(503, "DELETE", path, e.admin.Token, nil)

	b.set(false, booked)
	e.mustDo(200, "PUT", avail+"?strandBookings=true", e.admin.Token, tuesday, "If-Match", e.etag(avail))
	e.mustDo(200, "PUT", avail, e.admin.Token, monday, "If-Match", e.etag(avail))
	e.mustDo(200, "PUT", path+"?strandBookings=true", e.admin.Token, berlin, "If-Match", e.etag(path))
	e.mustDo(200, "PUT", path+"?strandBookings=false", e.admin.Token, doctorBody(map[string]any{"timeZone": "America/New_York"}), "If-Match", e.etag(path))
	e.mustDo(204, "DELETE", path+"?strandBookings=true", e.admin.Token, nil)
	assert.Equal(t, false, e.mustDo(200, "GET", path, e.pat.Token, nil).JSON(t)["active"])
}

// strandBookings is an administrator's, as the document's parameter says:
// the DOCTOR of the profile sending it gets the 403 the operation lists.
func TestStrandBookingsIsTheAdministrators(t *testing.T) {
	doc := openapitest.Load(t, transport.OpenAPI())
	assert.True(t, strings.HasPrefix(doc.T.Components.Parameters["StrandBookings"].Value.Description, "ADMIN only"))
	e := newEnv(t)
	own := e.createOwn(e.doctor, nil)
	avail := "/api/v1/doctors/" + own["id"].(string) + "/availability"
	tag := e.mustDo(200, http.MethodGet, avail, e.doctor.Token, nil).Header.Get("ETag")
	e.mustDo(http.StatusForbidden, http.MethodPut, avail+"?strandBookings=true", e.doctor.Token,
		map[string]any{"slotMinutes": 30, "weekly": []map[string]string{{"day": "MONDAY", "start": "09:00", "end": "12:00"}}},
		"If-Match", tag)
}
