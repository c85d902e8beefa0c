package route

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func defaults(t *testing.T) *Table {
	t.Helper()
	tb, err := New(Defaults())
	require.NoError(t, err)
	return tb
}

func TestDefaultsRouteByPath(t *testing.T) {
	tb := defaults(t)
	cases := []struct {
		method, path, service, pattern string
		public                         bool
		class                          string
	}{
		{"POST", "/api/v1/auth/login", "auth", "/api/v1/auth/login", true, ClassStrict},
		{"POST", "/api/v1/auth/register", "auth", "/api/v1/auth/register", true, ClassStrict},
		{"POST", "/api/v1/auth/password/forgot", "auth", "/api/v1/auth/password/forgot", true, ClassStrict},
		{"POST", "/api/v1/auth/password/reset", "auth", "/api/v1/auth/password/reset", true, ClassStrict},
		{"POST", "/api/v1/auth/refresh", "auth", "/api/v1/auth/refresh", true, ClassGeneral},
		{"POST", "/api/v1/auth/logout", "auth", "/api/v1/auth/logout", true, ClassGeneral},
		{"POST", "/api/v1/auth/password/change", "auth", "/api/v1/auth/**", false, ClassGeneral},
		{"GET", "/api/v1/auth/me", "auth", "/api/v1/auth/**", false, ClassGeneral},
		{"PATCH", "/api/v1/auth/users/0190", "auth", "/api/v1/auth/**", false, ClassGeneral},
		{"GET", "/.well-known/jwks.json", "auth", "/.well-known/jwks.json", true, ClassGeneral},
		{"GET", "/api/v1/patients", "patient", "/api/v1/patients/**", false, ClassGeneral},
		{"GET", "/api/v1/patients/", "patient", "/api/v1/patients/**", false, ClassGeneral},
		{"PUT", "/api/v1/patients/abc/history/def", "patient", "/api/v1/patients/**", false, ClassGeneral},
		{"POST", "/api/v1/appointments", "appointment", "/api/v1/appointments/**", false, ClassGeneral},
		{"GET", "/api/v1/appointments/taken", "appointment", "/api/v1/appointments/**", false, ClassGeneral},
		{"POST", "/api/v1/appointments/abc/cancel", "appointment", "/api/v1/appointments/**", false, ClassGeneral},
		{"GET", "/api/v1/records/documents/abc/content", "records", "/api/v1/records/**", false, ClassGeneral},
		{"POST", "/api/v1/records/patients/p/documents", "records", "/api/v1/records/patients/*/documents/**", false, ClassGeneral},
		{"GET", "/api/v1/records/patients/p/encounters", "records", "/api/v1/records/**", false, ClassGeneral},
		{"POST", "/api/v1/notifications/me/abc/read", "notification", "/api/v1/notifications/**", false, ClassGeneral},
		{"GET", "/api/v1/doctors/abc/slots", "doctor", "/api/v1/doctors/**", false, ClassGeneral},
		{"DELETE", "/api/v1/specializations/x", "doctor", "/api/v1/specializations/**", false, ClassGeneral},
	}
	for _, c := range cases {
		r, allow := tb.Match(c.method, c.path)
		require.NotNil(t, r, "%s %s", c.method, c.path)
		assert.Contains(t, allow, c.method)
		assert.Equal(t, c.service, r.Service, c.path)
		assert.Equal(t, c.pattern, r.Pattern, c.path)
		assert.Equal(t, c.public, r.Public, c.path)
		assert.Equal(t, c.class, r.RateLimit, c.path)
		assert.Same(t, tb.Routes[r.ID], r)
	}
}

func TestRecordsDocumentsHaveTheLongestTimeoutAndLargestBody(t *testing.T) {
	tb := defaults(t)
	r, _ := tb.Match("POST", "/api/v1/records/patients/p/documents")
	require.NotNil(t, r)
	assert.Equal(t, maxTimeout, r.Timeout)
	assert.EqualValues(t, 60<<20, r.MaxBody)
	r, _ = tb.Match("GET", "/api/v1/records/patients/p/encounters")
	require.NotNil(t, r)
	assert.Equal(t, DefaultTimeout, r.Timeout)
	assert.Zero(t, r.MaxBody, "JSON routes keep the gateway's limit")
	for _, r := range tb.Routes {
		if r.Pattern != "/api/v1/records/patients/*/documents/**" {
			assert.Zero(t, r.MaxBody, r.Pattern)
		}
	}
}

func TestUnknownPathAndWrongMethod(t *testing.T) {
	tb := defaults(t)
	for _, p := range []string{"/", "/api", "/api/v1", "/api/v1/patientsx", "/api/v2/patients", "/.well-known/jwks.json/x", "", "api/v1/patients"} {
		r, allow := tb.Match("GET", p)
		assert.Nil(t, r, p)
		assert.Empty(t, allow, p)
	}
	r, allow := tb.Match("GET", "/api/v1/auth/login")
	assert.Nil(t, r)
	assert.Equal(t, "POST", allow)
	r, allow = tb.Match("DELETE", "/.well-known/jwks.json")
	assert.Nil(t, r)
	assert.Equal(t, "GET, HEAD", allow)
	r, allow = tb.Match("TRACE", "/api/v1/patients/1")
	assert.Nil(t, r)
	assert.Contains(t, allow, "PATCH")
}

func TestSpecificityAndMethodSplit(t *testing.T) {
	tb, err := New([]Spec{
		{Path: "/a/**", Service: "wide"},
		{Path: "/a/*/slots", Service: "slots", Methods: []string{"GET"}, Auth: AuthPublic},
		{Path: "/a/*/slots", Service: "slots-write", Methods: []string{"put"}},
		{Path: "/a/b/**", Service: "b"},
		{Path: "/a", Service: "root", Methods: []string{"GET"}},
	})
	require.NoError(t, err)
	check := func(method, path, service string) {
		t.Helper()
		r, _ := tb.Match(method, path)
		require.NotNil(t, r, path)
		assert.Equal(t, service, r.Service, path)
	}
	check("GET", "/a/x/slots", "slots")
	check("PUT", "/a/x/slots", "slots-write")
	check("GET", "/a/b/slots", "b") // the first differing segment decides: literal b beats *
	check("GET", "/a/b/c", "b")
	check("GET", "/a/x/y", "wide")
	check("GET", "/a", "root")
	check("GET", "/a/", "wide")
	r, allow := tb.Match("POST", "/a/x/slots")
	assert.Nil(t, r)
	assert.Equal(t, "GET, PUT", allow)
	r, _ = tb.Match("GET", "/a//slots")
	require.NotNil(t, r, "an empty segment does not fit *")
	assert.Equal(t, "wide", r.Service)
}

func TestSpecValidation(t *testing.T) {
	bad := []Spec{
		{Path: "a", Service: "x"},
		{Path: "/a", Service: ""},
		{Path: "/a/**/b", Service: "x"},
		{Path: "/a/b*", Service: "x"},
		{Path: "/a//b", Service: "x"},
		{Path: "/a/../b", Service: "x"},
		{Path: "/a", Service: "x", Auth: "maybe"},
		{Path: "/a", Service: "x", Timeout: "soon"},
		{Path: "/a", Service: "x", Timeout: "-1s"},
		{Path: "/a", Service: "x", Timeout: "10m"},
		{Path: "/a", Service: "x", RateLimit: "fast"},
		{Path: "/a", Service: "x", Methods: []string{"FETCH"}},
		{Path: "/a", Service: "x", MaxBody: "lots"},
		{Path: "/a", Service: "x", MaxBody: "0"},
		{Path: "/a", Service: "x", MaxBody: "-1MiB"},
		{Path: "/a", Service: "x", MaxBody: "2GiB"},
	}
	for _, s := range bad {
		_, err := New([]Spec{s})
		assert.Error(t, err, "%+v", s)
	}
	_, err := New([]Spec{{Path: "/a", Service: "x", MaxBody: "1073741825"}})
	assert.Error(t, err, "one byte over 1GiB")
	tb, err := New([]Spec{{Path: "/a", Service: "x", MaxBody: "1GiB"}, {Path: "/b", Service: "x", Timeout: "55s"}})
	require.NoError(t, err, "the ceilings themselves are allowed")
	assert.EqualValues(t, 1<<30, tb.Routes[0].MaxBody)
	assert.Equal(t, 55*time.Second, tb.Routes[1].Timeout)
	_, err = New([]Spec{{Path: "/a", Service: "x", Methods: []string{"GET"}}, {Path: "/a", Service: "y", Methods: []string{"GET", "POST"}}})
	assert.ErrorContains(t, err, "already routed")
	_, err = New(nil)
	assert.Error(t, err)
}

func TestParseFile(t *testing.T) {
	specs, err := Parse(strings.NewReader(`
routes:
  - path: /api/v1/auth/login
    service: auth
    methods: [POST]
    auth: public
    timeout: 3s
    rateLimit: strict
  - path: /api/v1/things/**
    service: things
  - path: /api/v1/things/*/files/**
    service: things
    maxBody: 60MiB
  - path: /api/v1/things/*/notes
    service: things
    maxBody: 65536
  - path: /api/v1/legacy/**
    service: LEGACY-BILLING
`))
	require.NoError(t, err)
	tb, err := New(specs)
	require.NoError(t, err)
	r, _ := tb.Match("POST", "/api/v1/auth/login")
	require.NotNil(t, r)
	assert.Equal(t, 3*time.Second, r.Timeout)
	assert.True(t, r.Public)
	assert.Equal(t, ClassStrict, r.RateLimit)
	r, _ = tb.Match("GET", "/api/v1/things/1")
	require.NotNil(t, r)
	assert.False(t, r.Public)
	assert.Equal(t, DefaultTimeout, r.Timeout)
	assert.Zero(t, r.MaxBody, "the gateway's own limit")
	r, _ = tb.Match("POST", "/api/v1/things/1/files/scan.pdf")
	require.NotNil(t, r)
	assert.EqualValues(t, 60<<20, r.MaxBody)
	r, _ = tb.Match("POST", "/api/v1/things/1/notes")
	require.NotNil(t, r)
	assert.EqualValues(t, 65536, r.MaxBody, "a plain number is bytes")
	r, _ = tb.Match("GET", "/api/v1/legacy/invoices/7")
	require.NotNil(t, r)
	assert.Equal(t, "legacy-billing", r.Service, "a Eureka application name, in any case")
	assert.Equal(t, []string{"auth", "legacy-billing", "things"}, tb.Services())

	// JSON is YAML too.
	specs, err = Parse(strings.NewReader(`{"routes": [{"path": "/x", "service": "x", "auth": "public"}]}`))
	require.NoError(t, err)
	assert.Equal(t, AuthPublic, specs[0].Auth)
	specs, err = Parse(strings.NewReader(`{"routes": [{"path": "/x", "service": "x", "maxBody": 2048}]}`))
	require.NoError(t, err)
	tb, err = New(specs)
	require.NoError(t, err)
	assert.EqualValues(t, 2048, tb.Routes[0].MaxBody)

	_, err = Parse(strings.NewReader("routes:\n  - path: /x\n    service: x\n    public: true\n"))
	assert.ErrorContains(t, err, "public", "an unknown field is an error")
	_, err = Parse(strings.NewReader(""))
	assert.Error(t, err)
	_, err = Parse(strings.NewReader("routes: []\n"))
	assert.Error(t, err)
}

func TestCleanPath(t *testing.T) {
	for _, p := range []string{"/", "/a", "/a/b", "/a/b/", "/a.b/c..d", "/a;v=1/b", "/a/b;..", "/a/;x/b", "/a/...;/b"} {
		assert.True(t, CleanPath(p), p)
	}
	for _, p := range []string{"", "a", "//", "/a//b", "/a/./b", "/a/../b", "/a/..", "/a/.", "/..",
		"/a/..;/b", "/a/.;jsessionid=1/b", "/a/..;", "/..;x=/a"} {
		assert.False(t, CleanPath(p), p)
	}
}

func BenchmarkMatch(b *testing.B) {
	tb, err := New(Defaults())
	require.NoError(b, err)
	b.ReportAllocs()
	for b.Loop() {
		if r, _ := tb.Match("GET", "/api/v1/specializations/0190aaaa-bbbb"); r == nil {
			b.Fatal("no route")
		}
	}
}
