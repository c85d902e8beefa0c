package peer

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/appointment/adapter/sqlstore"
	"github.com/medisync/medisync/appointment/service"
	"github.com/medisync/medisync/shared/authn"
	"github.com/medisync/medisync/shared/clock/clocktest"
	"github.com/medisync/medisync/shared/ids"
	"github.com/medisync/medisync/shared/logging"
	"github.com/medisync/medisync/shared/logging/logtest"
	"github.com/medisync/medisync/shared/metrics"
	"github.com/medisync/medisync/shared/runtest"
	"github.com/medisync/medisync/shared/sqldb/sqltest"
)

// A booking made while the doctor service is down fails as a fault, whose
// cause is logged at error level without the query string of the slot
// check, which holds the doctor and the very times of the patient's visit
// (docs/logging.md, "What is never logged").
func TestAPeerFaultIsLoggedWithoutTheQueryString(t *testing.T) {
	// A doctor service that is down: a port that refuses connections.
	doctorURL := "http://" + runtest.RefusedAddr(t)

	patientID, userID := ids.New(), ids.New()
	patients := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"id":"` + patientID + `","userId":"` + userID + `","active":true,"version":1}`))
	}))
	defer patients.Close()

	var logs logtest.Buffer
	logger, err := logging.New(&logs, "appointment", "logfmt", "info")
	require.NoError(t, err)
	db := sqltest.SQLite(t, sqlstore.Migrations())
	now := time.Date(2030, 1, 14, 8, 0, 0, 0, time.UTC)
	var svc service.Service = service.New(sqlstore.New(db),
		NewDoctors(http.DefaultClient, Options{BaseURL: doctorURL}),
		NewPatients(patients.Client(), Options{BaseURL: patients.URL}),
		clocktest.New(now), ids.New, service.Options{})
	svc = service.Middleware(logger, metrics.NewMethod(prometheus.NewRegistry(), "appointment"))(svc)

	actor := authn.Principal{UserID: userID, Roles: []string{authn.RolePatient}}
	_, err = svc.Book(authn.WithToken(context.Background(), "tok"), actor, service.BookInput{
		DoctorID: ids.New(), Start: "2030-01-20T14:30:00Z", End: "2030-01-20T15:00:00Z", Reason: "follow-up",
	})
	require.Error(t, err, "the doctor service is down")

	out := logs.String()
	require.Contains(t, out, "method=Book", "the fault is logged")
	assert.NotContains(t, out, "slot-check?", "the log line holds the slot check's query string")
	assert.NotContains(t, out, "2030-01-20T14%3A30", "the log line holds the time of the patient's visit")
}
