package transport_test

import (
	"context"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/patient/adapter/sqlstore"
	"github.com/medisync/medisync/patient/endpoint"
	"github.com/medisync/medisync/patient/patient"
	"github.com/medisync/medisync/patient/service"
	"github.com/medisync/medisync/patient/service/servicetest"
	"github.com/medisync/medisync/patient/transport"
	"github.com/medisync/medisync/shared/auditlog"
	"github.com/medisync/medisync/shared/authn/authntest"
	"github.com/medisync/medisync/shared/clock/clocktest"
	"github.com/medisync/medisync/shared/httpmw"
	"github.com/medisync/medisync/shared/logging"
	"github.com/medisync/medisync/shared/logging/logtest"
	"github.com/medisync/medisync/shared/metrics"
	"github.com/medisync/medisync/shared/sqldb/sqltest"
)

// TestLogsAndMetricsHoldNoPatientData wires the service as main does, with
// its logging and instrumenting middleware at debug level, and checks that
// neither logs nor metrics carry patient details or tokens.
func TestLogsAndMetricsHoldNoPatientData(t *testing.T) {
	db := sqltest.SQLite(t, sqlstore.Migrations())
	store := sqlstore.New(db)
	rec := auditlog.New[patient.AuditEvent](store, auditlog.Options{})
	t.Cleanup(func() { _ = rec.Close(context.Background()) })
	var logs logtest.Buffer
	logger, err := logging.New(&logs, "patient", "logfmt", "debug")
	require.NoError(t, err)
	reg := prometheus.NewRegistry()
	var svc service.Service = service.New(service.Deps{Patients: store, History: store, Audit: store, Recorder: rec,
		Clock: clocktest.New(now), Care: servicetest.EveryDoctor{}})
	svc = service.Middleware(logger, metrics.NewMethod(reg, "patient"))(svc)
	iss := authntest.NewIssuer(t)
	r := httpmw.NewRouter()
	transport.Register(r, endpoint.New(svc), iss.Verifier())
	h := &harness{t: t, issuer: iss, store: store,
		handler: httpmw.Stack(r, httpmw.Options{Logger: logger, Metrics: metrics.NewHTTP(reg)})}

	pat := h.user(roles.patient)
	pid := h.newPatientFor(pat)
	doc := h.user(roles.doctor)
	h.newEntry(doc, pid)
	h.do("GET", "/api/v1/patients/"+pid, doc.token, "")
	h.do("GET", "/api/v1/patients?q=Lovel&email=ada@example.org", doc.token, "")
	h.do("PUT", "/api/v1/patients/"+pid, pat.token, with("lastName", `"Byron"`), "If-Match", `"1"`)
	h.do("POST", "/api/v1/patients", pat.token, with("email", `"not-an-email"`))

	out := logs.String()
	require.Contains(t, out, "method=GetPatient", "the service calls are logged")
	for _, secret := range []string{"Lovelace", "Lovel", "Byron", "ada@example.org", "not-an-email", "1985-12-10",
		"+441234567890", "Penicillin", pat.token, doc.token} {
		assert.NotContains(t, out, secret)
	}
	count, err := testutil.GatherAndCount(reg, "medisync_patient_method_calls_total")
	require.NoError(t, err)
	assert.Positive(t, count)
	mfs, err := reg.Gather()
	require.NoError(t, err)
	var metricsText strings.Builder
	for _, mf := range mfs {
		metricsText.WriteString(mf.String())
	}
	assert.NotContains(t, metricsText.String(), "Lovelace")
	assert.NotContains(t, metricsText.String(), pid, "routes are labelled by template, not by id")
}
