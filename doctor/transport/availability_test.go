package transport_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestConcurrentAvailabilityUpdatesOverHTTP(t *testing.T) {
	e := newEnv(t)
	d := e.createOwn(e.doctor, nil)
	avail := "/api/v1/doctors/" + d["id"].(string) + "/availability"
	tag := e.etag(avail)
	statuses := make([]int, 2)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range statuses {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			body := map[string]any{"slotMinutes": 15 + 15*i, "weekly": []map[string]string{{"day": "MONDAY", "start": "09:00", "end": "12:00"}}}
			statuses[i] = e.do("PUT", avail, e.doctor.Token, body, "If-Match", tag).Status
		}()
	}
	close(start)
	wg.Wait()
	assert.ElementsMatch(t, []int{200, 412}, statuses)
	got := e.mustDo(200, "GET", avail, e.pat.Token, nil).JSON(t)
	assert.Equal(t, float64(2), got["version"])
}

func TestAvailabilityRoundTrip(t *testing.T) {
	e := newEnv(t)
	d := e.createOwn(e.doctor, map[string]any{"appointmentMinutes": 20, "timeZone": "Europe/Berlin"})
	avail := "/api/v1/doctors/" + d["id"].(string) + "/availability"

	initial := e.mustDo(200, "GET", avail, e.pat.Token, nil).JSON(t)
	assert.Equal(t, float64(20), initial["slotMinutes"], "new doctors' slots last an appointment")
	assert.Equal(t, "Europe/Berlin", initial["timeZone"])

	body := `{"slotMinutes": 30, "bufferMinutes": 10,
		"weekly": [{"day": "MONDAY", "start": "13:00", "end": "17:00"}, {"day": "MONDAY", "start": "09:00", "end": "12:00"},
		           {"day": "SUNDAY", "start": "22:00", "end": "24:00"}],
		"exceptions": [{"date": "2027-12-31", "available": true, "intervals": [{"start": "09:00", "end": "11:00"}]},
		               {"date": "2027-12-24", "available": false}]}`
	r := e.mustDo(200, "PUT", avail, e.doctor.Token, body, "If-Match", e.etag(avail))
	var got map[string]any
	require.NoError(t, json.Unmarshal(r.Body, &got))
	want := map[string]any{
		"doctorId": d["id"], "timeZone": "Europe/Berlin", "slotMinutes": float64(30), "bufferMinutes": float64(10),
		"weekly": []any{
			map[string]any{"day": "MONDAY", "start": "09:00", "end": "12:00"},
			map[string]any{"day": "MONDAY", "start": "13:00", "end": "17:00"},
			map[string]any{"day": "SUNDAY", "start": "22:00", "end": "24:00"},
		},
		"exceptions": []any{
			map[string]any{"date": "2027-12-24", "available": false},
			map[string]any{"date": "2027-12-31", "available": true, "intervals": []any{map[string]any{"start": "09:00", "end": "11:00"}}},
		},
		"version": float64(2), "updatedAt": "2026-01-15T12:00:00Z",
	}
	assert.Equal(t, want, got)
	assert.Equal(t, want, e.mustDo(200, "GET", avail, e.other.Token, nil).JSON(t))
}

// TestAvailabilityGetPutRoundTrip checks that an availability read and
// written back whole, with one field changed, is accepted, and that the
// fields GET adds are refused by name only when changed.
func TestAvailabilityGetPutRoundTrip(t *testing.T) {
	e := newEnv(t)
	d := e.createOwn(e.doctor, map[string]any{"timeZone": "Europe/Berlin"})
	avail := "/api/v1/doctors/" + d["id"].(string) + "/availability"
	e.mustDo(200, "PUT", avail, e.doctor.Token, map[string]any{
		"weekly":     []map[string]string{{"day": "MONDAY", "start": "09:00", "end": "12:00"}},
		"exceptions": []map[string]any{{"date": "2027-12-24", "available": false}},
	}, "If-Match", e.etag(avail))
	read := func() (map[string]any, string) {
		r := e.mustDo(200, "GET", avail, e.doctor.Token, nil)
		return r.JSON(t), r.Header.Get("ETag")
	}

	body, etag := read()
	body["bufferMinutes"] = 5
	got := e.mustDo(200, "PUT", avail, e.doctor.Token, body, "If-Match", etag).JSON(t)
	assert.Equal(t, float64(5), got["bufferMinutes"])
	assert.Equal(t, float64(3), got["version"])
	assert.Equal(t, body["weekly"], got["weekly"])
	assert.Equal(t, body["exceptions"], got["exceptions"])

	for field, value := range map[string]any{
		"doctorId": "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", "timeZone": "Asia/Kolkata",
		"version": 1, "updatedAt": "2020-01-01T00:00:00Z",
	} {
		t.Run("changed "+field, func(t *testing.T) {
			body, etag := read()
			body[field] = value
			r := e.mustDo(400, "PUT", avail, e.doctor.Token, body, "If-Match", etag)
			assert.Equal(t, []string{field}, r.Fields(t))
		})
	}
}

// A body within the limit whose every interval is wrong, 1,000 exceptions
// of 48 empty intervals, is answered with at most problem.MaxFieldErrors
// field errors, the last saying how many more there were: the answer stays
// small whatever the body holds.
func TestAnAvailabilityOfManyBadIntervalsListsAtMostFiftyFieldErrors(t *testing.T) {
	e := newEnv(t)
	d := e.createOwn(e.doctor, nil)
	path := "/api/v1/doctors/" + d["id"].(string) + "/availability"
	ivs := "[" + strings.TrimSuffix(strings.Repeat(`{},`, 48), ",") + "]"
	var ex []string
	for i := range 1000 {
		ex = append(ex, fmt.Sprintf(`{"date":"2026-%02d-%02d","available":true,"intervals":%s}`, i%12+1, i%28+1, ivs))
	}
	body := `{"slotMinutes":30,"exceptions":[` + strings.Join(ex, ",") + `]}`
	r := e.do(http.MethodPut, path, e.doctor.Token, body, "If-Match", e.etag(path))
	require.Equal(t, http.StatusBadRequest, r.Status)
	assert.Less(t, len(r.Body), 16<<10, "a %d-byte body is answered with %d bytes", len(body), len(r.Body))
	var p struct {
		Errors []struct{ Field, Message string }
	}
	require.NoError(t, json.Unmarshal(r.Body, &p))
	require.Len(t, p.Errors, 50)
	assert.Equal(t, "exceptions[0].intervals[0].start", p.Errors[0].Field)
	assert.Contains(t, p.Errors[49].Message, "(and 95950 more errors, not listed)")
}
