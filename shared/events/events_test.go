package events_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/shared/events"
	"github.com/medisync/medisync/shared/ids"
)

func TestNew(t *testing.T) {
	now := time.Date(2027, 3, 15, 13, 0, 0, 123456789, time.FixedZone("x", 3600))
	ev, err := events.New("appointment.booked", 1, "a1", map[string]string{"doctorId": "d1"}, now)
	require.NoError(t, err)
	assert.True(t, ids.Valid(ev.ID))
	assert.Equal(t, "1.0", ev.SpecVersion)
	assert.Equal(t, "/medisync/appointment", ev.Source)
	assert.Equal(t, "docs/events/appointment.booked.v1.json", ev.DataSchema)
	assert.Equal(t, "medisync.appointment.booked", ev.Topic())
	assert.Equal(t, time.Date(2027, 3, 15, 12, 0, 0, 123000000, time.UTC), ev.Time)

	raw, err := json.Marshal(ev)
	require.NoError(t, err)
	var fields map[string]any
	require.NoError(t, json.Unmarshal(raw, &fields))
	for _, f := range []string{"specversion", "id", "type", "source", "subject", "time", "datacontenttype", "dataschema", "data"} {
		assert.Contains(t, fields, f)
	}
	var data struct{ DoctorID string }
	require.NoError(t, ev.Decode(&data))
	assert.Equal(t, "d1", data.DoctorID)
}

func TestNewRefusesBadTypes(t *testing.T) {
	for _, typ := range []string{"", "booked", "Appointment.booked", "appointment.", "a.b.c"} {
		_, err := events.New(typ, 1, "s", nil, time.Now())
		assert.Error(t, err, typ)
	}
	_, err := events.New("appointment.booked", 0, "s", nil, time.Now())
	assert.Error(t, err)
}
