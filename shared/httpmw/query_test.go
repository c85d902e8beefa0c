package httpmw_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/medisync/medisync/shared/httpmw"
	"github.com/medisync/medisync/shared/problem"
)

// A query string net/url cannot parse is a 400 naming the parameter at
// fault before any handler runs: r.URL.Query() would drop the parameter
// without a word and the handler answer as if it were absent.
func TestStackRefusesAMalformedQuery(t *testing.T) {
	reached := 0
	f := newFixture(t, http.HandlerFunc(func(http.ResponseWriter, *http.Request) { reached++ }), httpmw.Options{})
	for query, field := range map[string]string{
		"limit=5%zz":                     "limit",
		"cursor=abc&specialization=x%":   "specialization",
		"specialization=%2&limit=5":      "specialization",
		"status=sent;limit=5":            "status",
		"a;b=1":                          "query",
		"li%zzmit=5":                     "query",
		"=%":                             "query",
		"x=1" + strings.Repeat("&", 1e4): "query",
	} {
		rec := f.serve(httptest.NewRequest(http.MethodGet, "/api/v1/doctors?"+query, nil))
		if !assert.Equal(t, http.StatusBadRequest, rec.Code, query) {
			continue
		}
		body := problemBody(t, rec)
		assert.Equal(t, problem.TypeValidation, body["type"], query)
		errs, _ := body["errors"].([]any)
		if assert.Len(t, errs, 1, query) {
			assert.Equal(t, field, errs[0].(map[string]any)["field"], query)
		}
	}
	assert.Zero(t, reached, "no handler ran")

	for _, query := range []string{"", "limit=5", "q=50%25&from=2026-01-01T00%3A00%3A00%2B01%3A00", "a=&=b&&c", "x=1" + strings.Repeat("&", 2000)} {
		assert.Equal(t, http.StatusOK, f.serve(httptest.NewRequest(http.MethodGet, "/?"+query, nil)).Code, query)
	}
	assert.Equal(t, 5, reached)
}

func TestQueryProblemOfAPlainQueryCostsNothing(t *testing.T) {
	raw := "limit=20&cursor=eyJpZCI6IjEifQ&from=2026-01-01"
	assert.Zero(t, testing.AllocsPerRun(100, func() { _ = httpmw.QueryProblem(raw) }))
}

// The routes every service serves without parameters answer a malformed
// query as if it were absent: a liveness probe or a scrape refused for a
// stray query would take a healthy instance for a dead one.
func TestParameterlessRoutesIgnoreAMalformedQuery(t *testing.T) {
	f := newFixture(t, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}), httpmw.Options{})
	for _, path := range []string{"/openapi.yaml", "/health/live", "/health/ready", "/metrics"} {
		assert.Equal(t, http.StatusOK, f.serve(httptest.NewRequest(http.MethodGet, path+"?v=%zz", nil)).Code, path)
	}
	assert.Equal(t, http.StatusBadRequest, f.serve(httptest.NewRequest(http.MethodGet, "/metrics/x?v=%zz", nil)).Code)
}
