package eureka_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// request makes one request with the token as basic password, as Eureka
// clients send it, and returns the answer with its body read.
func request(t *testing.T, method, url, tok string, body []byte, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	require.NoError(t, err)
	req.SetBasicAuth("x", tok)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, b
}

var jsonBody = map[string]string{"Content-Type": "application/json"}

// problemFields reads the fields a problem document names.
func problemFields(t *testing.T, body []byte) []string {
	t.Helper()
	var p struct {
		Errors []struct{ Field string } `json:"errors"`
	}
	require.NoError(t, json.Unmarshal(body, &p), "%s", body)
	var fields []string
	for _, e := range p.Errors {
		fields = append(fields, e.Field)
	}
	return fields
}

// eurekaDoc is an instance document of app BILLING with extra fields
// (a JSON fragment, with its leading comma) added.
func eurekaDoc(id, extra string) []byte {
	return []byte(fmt.Sprintf(`{"instance":{"instanceId":%q,"hostName":"10.0.0.9","app":"BILLING","ipAddr":"10.0.0.9",
"status":"UP","port":{"$":9000,"@enabled":"true"},"dataCenterInfo":{"@class":"x","name":"MyOwn"}%s}}`, id, extra))
}

// The data center's metadata is held to the metadata's rules: its keys are
// written as XML element names, so one like `a b="c"><x` would inject
// markup into every XML listing.
func TestDataCenterMetadataFollowsTheMetadataRules(t *testing.T) {
	_, srv := server(t)
	many := map[string]string{}
	for i := range 33 {
		many[fmt.Sprintf("k%d", i)] = "v"
	}
	manyJSON, _ := json.Marshal(many)
	for name, tc := range map[string]struct{ metadata, field string }{
		"markup in a key":   {`{"a b=\"c\"><x":"1"}`, "instance.dataCenterInfo.metadata"},
		"value too long":    {`{"k":"` + strings.Repeat("v", 513) + `"}`, "instance.dataCenterInfo.metadata.k"},
		"too many keys":     {string(manyJSON), "instance.dataCenterInfo.metadata"},
		"key starts with -": {`{"-k":"1"}`, "instance.dataCenterInfo.metadata"},
	} {
		t.Run(name, func(t *testing.T) {
			doc := `{"instance":{"instanceId":"b-1","hostName":"10.0.0.9","app":"BILLING","ipAddr":"10.0.0.9","status":"UP",
"port":{"$":9000,"@enabled":"true"},"dataCenterInfo":{"@class":"x","name":"MyOwn","metadata":` + tc.metadata + `}}}`
			resp, b := request(t, http.MethodPost, srv.URL+"/eureka/apps/BILLING", token, []byte(doc), jsonBody)
			require.Equal(t, http.StatusBadRequest, resp.StatusCode, "%s", b)
			assert.Contains(t, problemFields(t, b), tc.field)
		})
	}
	assert.Empty(t, ours(t, srv, "billing"))
}

// The strings of a document are kept with the instance and, for every
// replacement, in the change log for minutes: each is bounded, and all of
// them with the data center's metadata as the metadata is, so a writer
// cannot fill the server's memory through them.
func TestEurekaDocumentStringsAreBounded(t *testing.T) {
	_, srv := server(t)
	url := func(n int) string { return `"http://10.0.0.9/` + strings.Repeat("a", n) + `"` }
	for name, tc := range map[string]struct{ extra, field string }{
		"huge homePageUrl, gzipped": {`,"homePageUrl":` + url(60_000), "instance.homePageUrl"},
		"statusPageUrl over 2 KiB":  {`,"statusPageUrl":` + url(2048), "instance.statusPageUrl"},
		"healthCheckUrl over 2 KiB": {`,"healthCheckUrl":` + url(2048), "instance.healthCheckUrl"},
		"vipAddress over 255 bytes": {`,"vipAddress":"` + strings.Repeat("v", 256) + `"`, "instance.vipAddress"},
		"asgName over 255 bytes":    {`,"asgName":"` + strings.Repeat("a", 256) + `"`, "instance.asgName"},
		"hostName over 255 bytes":   {`,"hostName":"` + strings.Repeat("h", 256) + `"`, "instance.hostName"},
		"data center name over 255": {`,"dataCenterInfo":{"name":"` + strings.Repeat("n", 256) + `"}`, "instance.dataCenterInfo.name"},
		"strings together over 8 KiB": {`,"homePageUrl":` + url(2000) + `,"statusPageUrl":` + url(2000) + `,"healthCheckUrl":` + url(2000) +
			`,"secureHealthCheckUrl":` + url(2000) + `,"vipAddress":"` + strings.Repeat("v", 255) + `"`, "instance"},
	} {
		t.Run(name, func(t *testing.T) {
			body := eurekaDoc("b-1", tc.extra)
			hdr := jsonBody
			if strings.Contains(name, "gzip") {
				var zb bytes.Buffer
				zw := gzip.NewWriter(&zb)
				_, _ = zw.Write(body)
				require.NoError(t, zw.Close())
				body = zb.Bytes()
				hdr = map[string]string{"Content-Type": "application/json", "Content-Encoding": "gzip"}
			}
			resp, b := request(t, http.MethodPost, srv.URL+"/eureka/apps/BILLING", token, body, hdr)
			require.Equal(t, http.StatusBadRequest, resp.StatusCode, "%s", b)
			assert.Contains(t, problemFields(t, b), tc.field)
		})
	}
	assert.Empty(t, ours(t, srv, "billing"))

	// Within the bounds, a document registers.
	resp, b := request(t, http.MethodPost, srv.URL+"/eureka/apps/BILLING", token,
		eurekaDoc("b-1", `,"homePageUrl":`+url(2000)+`,"vipAddress":"`+strings.Repeat("v", 255)+`"`), jsonBody)
	require.Equal(t, http.StatusNoContent, resp.StatusCode, "%s", b)
	assert.Len(t, ours(t, srv, "billing"), 1)
}

// Every string of a document is served to every Eureka reader as it was
// sent, so each must be text a terminal, a log or a page can show: valid
// UTF-8 without control characters. ipAddr is served as the host to call,
// so one sent must be an address; a hostName that is none is the shown
// name of an instance reached at its ipAddr, so without one it is refused.
func TestEurekaDocumentStringsAreText(t *testing.T) {
	_, srv := server(t)
	doc := func(hostName, ipAddr, extra string) []byte {
		return []byte(`{"instance":{"instanceId":"b-1","hostName":"` + hostName + `","app":"BILLING","ipAddr":"` + ipAddr +
			`","port":{"$":9000,"@enabled":"true"},"dataCenterInfo":{"@class":"x","name":"MyOwn"}` + extra + `}}`)
	}
	for name, tc := range map[string]struct {
		body  []byte
		field string
	}{
		"hostName with NUL beside a valid ipAddr": {doc(`db\u0000\u001b[2J`, "10.0.0.9", ""), "instance.hostName"},
		"hostName not an address, alone":          {doc("billing_1", "", ""), "instance.hostName"},
		"ipAddr with a zone beside such a name":   {doc("billing_1", "fe80::1%eth0", ""), "instance.ipAddr"},
		"ipAddr with NUL beside a valid hostName": {doc("billing.local", `10.0.0.9\u0000`, ""), "instance.ipAddr"},
		"ipAddr not an address":                   {doc("billing.local", "ten.zero.0.9!", ""), "instance.ipAddr"},
		"ipAddr with a zone, alone":               {doc("", "fe80::1%eth0", ""), "instance.ipAddr"},
		"homePageUrl with a header in it":         {doc("10.0.0.9", "10.0.0.9", `,"homePageUrl":"http://x/\u0000\r\nSet-Cookie: a=b"`), "instance.homePageUrl"},
		"statusPageUrl with DEL":                  {doc("10.0.0.9", "10.0.0.9", `,"statusPageUrl":"http://x/\u007f"`), "instance.statusPageUrl"},
		"healthCheckUrl with a C1 control":        {doc("10.0.0.9", "10.0.0.9", `,"healthCheckUrl":"http://x/\u009b2J"`), "instance.healthCheckUrl"},
		"app with a tab":                          {doc("10.0.0.9", "10.0.0.9", `,"app":"BILL\tING"`), "instance.app"},
		"asgName with an escape":                  {doc("10.0.0.9", "10.0.0.9", `,"asgName":"\u001b[31m"`), "instance.asgName"},
		"data center's name with a newline":       {[]byte(strings.Replace(string(doc("10.0.0.9", "10.0.0.9", "")), `"name":"MyOwn"`, `"name":"My\nOwn"`, 1)), "instance.dataCenterInfo.name"},
		"data center's class with NUL":            {[]byte(strings.Replace(string(doc("10.0.0.9", "10.0.0.9", "")), `"@class":"x"`, `"@class":"x\u0000"`, 1)), "instance.dataCenterInfo.@class"},
	} {
		t.Run(name, func(t *testing.T) {
			resp, b := request(t, http.MethodPost, srv.URL+"/eureka/apps/BILLING", token, tc.body, jsonBody)
			require.Equal(t, http.StatusBadRequest, resp.StatusCode, "%s", b)
			assert.Equal(t, []string{tc.field}, problemFields(t, b))
		})
	}
	// A byte that is not UTF-8 is refused with the document, JSON or
	// XML, rather than kept as U+FFFD.
	for _, body := range [][]byte{
		doc("billing.local", "10.0.0.9", `,"homePageUrl":"http://x/`+"\xff"+`"`),
		[]byte("<instance><instanceId>b-1</instanceId><hostName>billing.local</hostName><app>BILLING</app><ipAddr>10.0.0.9</ipAddr>" +
			"<homePageUrl>http://x/\xff</homePageUrl><port enabled=\"true\">9000</port></instance>"),
	} {
		hdr := jsonBody
		if body[0] == '<' {
			hdr = map[string]string{"Content-Type": "application/xml"}
		}
		resp, b := request(t, http.MethodPost, srv.URL+"/eureka/apps/BILLING", token, body, hdr)
		require.Equal(t, http.StatusBadRequest, resp.StatusCode, "%s", b)
		assert.Equal(t, []string{"instance"}, problemFields(t, b))
	}
	assert.Empty(t, ours(t, srv, "billing"))

	// A host name with an address, either alone, or a link-local IPv6
	// address with its zone as a Java client reports it, registers.
	for i, hi := range [][2]string{{"billing.local", "10.0.0.9"}, {"billing.local", ""}, {"", "10.0.0.9"}, {"billing.local", "fe80::1%eth0"}} {
		body := strings.Replace(string(doc(hi[0], hi[1], "")), `"b-1"`, fmt.Sprintf(`"b-%d"`, i+2), 1)
		resp, b := request(t, http.MethodPost, srv.URL+"/eureka/apps/BILLING", token, []byte(body), jsonBody)
		require.Equal(t, http.StatusNoContent, resp.StatusCode, "hostName %q, ipAddr %q: %s", hi[0], hi[1], b)
	}
	assert.Len(t, ours(t, srv, "billing"), 4)
}

// A Spring client on a Docker Compose network sends the reverse-DNS name of
// its container as hostName, whose network part holds an underscore
// (billing-1.medisync_default), beside its ipAddr: the instance registers
// at ipAddr and is shown with the hostName it sent, so that such clients
// register again after discovery restarts.
func TestSpringDockerHostNameWithUnderscoreRegistersAtIPAddr(t *testing.T) {
	_, srv := server(t)
	for i, host := range []string{"billing-1.medisync_default", "medisync_billing_1.medisync_default"} {
		id := fmt.Sprintf("b-%d", i+1)
		doc := `{"instance":{"instanceId":"` + id + `","hostName":"` + host + `","app":"BILLING","ipAddr":"172.18.0.5",
"status":"UP","port":{"$":9000,"@enabled":"true"},"dataCenterInfo":{"@class":"com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo","name":"MyOwn"}}}`
		resp, b := request(t, http.MethodPost, srv.URL+"/eureka/apps/BILLING", token, []byte(doc), jsonBody)
		require.Equal(t, http.StatusNoContent, resp.StatusCode, "hostName %q: %s", host, b)

		resp, b = request(t, http.MethodGet, srv.URL+"/eureka/apps/BILLING/"+id, token, nil, map[string]string{"Accept": "application/json"})
		require.Equal(t, http.StatusOK, resp.StatusCode, "%s", b)
		var got struct {
			Instance struct{ HostName, IPAddr string }
		}
		require.NoError(t, json.Unmarshal(b, &got), "%s", b)
		assert.Equal(t, host, got.Instance.HostName)
		assert.Equal(t, "172.18.0.5", got.Instance.IPAddr)
	}
	for _, inst := range ours(t, srv, "billing") {
		assert.Equal(t, "172.18.0.5", inst["address"], "%v", inst)
	}
	assert.Len(t, ours(t, srv, "billing"), 2)
}

// Metadata values, the instance's and its data center's, are served to
// every reader as sent, as the document's other strings are: each is text
// without control characters, whether registered or set through PUT
// .../metadata. An instance whose metadata is text renews, reports a status
// and changes its metadata as before.
func TestMetadataValuesAreText(t *testing.T) {
	_, srv := server(t)
	for name, tc := range map[string]struct{ extra, field string }{
		"instance metadata":    {`,"metadata":{"note":"\u001b[2J\u001b]0;pwned\u0007"}`, "metadata.note"},
		"data center metadata": {`,"dataCenterInfo":{"@class":"x","name":"MyOwn","metadata":{"k":"a\r\nb"}}`, "instance.dataCenterInfo.metadata.k"},
	} {
		t.Run(name, func(t *testing.T) {
			resp, b := request(t, http.MethodPost, srv.URL+"/eureka/apps/BILLING", token, eurekaDoc("m-1", tc.extra), jsonBody)
			require.Equal(t, http.StatusBadRequest, resp.StatusCode, "%s", b)
			assert.Equal(t, []string{tc.field}, problemFields(t, b))
		})
	}
	assert.Empty(t, ours(t, srv, "billing"))

	resp, b := request(t, http.MethodPost, srv.URL+"/eureka/apps/BILLING", token,
		eurekaDoc("m-2", `,"metadata":{"note":"Zürich — rack 7"}`), jsonBody)
	require.Equal(t, http.StatusNoContent, resp.StatusCode, "%s", b)
	for _, q := range []string{"note=%1b%5b2J", "note=a%0d%0ab", "note=%ff"} {
		resp, b = request(t, http.MethodPut, srv.URL+"/eureka/apps/BILLING/m-2/metadata?"+q, token, nil, nil)
		require.Equal(t, http.StatusBadRequest, resp.StatusCode, "%s: %s", q, b)
		assert.Equal(t, []string{"metadata.note"}, problemFields(t, b))
	}
	for _, c := range []struct{ method, path string }{
		{http.MethodPut, "/eureka/apps/BILLING/m-2?status=DOWN"},
		{http.MethodPut, "/eureka/apps/BILLING/m-2?status=UP"},
		{http.MethodPut, "/eureka/apps/BILLING/m-2/metadata?zone=eu-1a"},
	} {
		resp, b = request(t, c.method, srv.URL+c.path, token, nil, nil)
		require.Equal(t, http.StatusOK, resp.StatusCode, "%s: %s", c.path, b)
	}
	insts := ours(t, srv, "billing")
	require.Len(t, insts, 1)
	assert.Equal(t, map[string]any{"note": "Zürich — rack 7", "zone": "eu-1a"}, insts[0]["metadata"])
}

// fullDoc is the fragment of a document as large as the bounds allow: four
// URLs of about 1.9 KiB and 3.5 KiB of metadata, all differing with i, so
// that every registration of it is a change.
func fullDoc(i int) string {
	url := func(c byte) string { return `"http://10.0.0.9/` + strings.Repeat(string(c), 1900) + `"` }
	var md strings.Builder
	md.WriteString(`{`)
	for k := range 7 {
		if k > 0 {
			md.WriteString(",")
		}
		fmt.Fprintf(&md, `"k%d":"%d%s"`, k, i, strings.Repeat("v", 500))
	}
	md.WriteString(`}`)
	return fmt.Sprintf(`,"homePageUrl":%s,"statusPageUrl":%s,"healthCheckUrl":%s,"secureHealthCheckUrl":%s,"metadata":%s`,
		url(byte('a'+i%26)), url('b'), url('c'), url('d'), md.String())
}

// An instance re-registered with a changed document, over and over, holds
// one change in the log (the delta shows each instance's last change
// only): a copy per change, kept 3 minutes, would grow past the pod's
// memory limit whatever the bounds on one document.
func TestChangeLogOfOneInstanceChangedOftenStaysSmall(t *testing.T) {
	s, _ := server(t)
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	register := func(i int) {
		req := httptest.NewRequest(http.MethodPost, "/eureka/apps/BILLING", bytes.NewReader(eurekaDoc("b-1", fullDoc(i))))
		req.SetBasicAuth("x", token)
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		s.Handler.ServeHTTP(rec, req)
		require.Equal(t, http.StatusNoContent, rec.Code, rec.Body.String())
	}
	register(0)
	const n = 4000
	before := heap()
	for i := 1; i <= n; i++ {
		register(i)
	}
	after := heap()
	require.Equal(t, 1, s.Registry.Size())
	changes, bytes := s.Registry.ChangeLogSize()
	assert.Equal(t, 1, changes)
	assert.Less(t, bytes, 1<<10)
	// A copy per change held 4000 × 12.8 KB = 51 MB here; the margin only
	// keeps the collector's noise out.
	grown := int64(after) - int64(before)
	assert.Less(t, grown, int64(8<<20), "heap grew by %d bytes over %d changes", grown, n)
}

// Instances registered with large documents and deleted under ever new
// names leave their documents in the log alone; it keeps within
// MaxChangeBytes.
func TestChangeLogOfDeletedDocumentsIsBoundedInBytes(t *testing.T) {
	s, srv := server(t)
	lim := s.Registry.Limits().MaxChangeBytes
	for i := range 1000 {
		id := fmt.Sprintf("b-%d", i)
		resp, b := request(t, http.MethodPost, srv.URL+"/eureka/apps/BILLING", token, eurekaDoc(id, fullDoc(i)), jsonBody)
		require.Equal(t, http.StatusNoContent, resp.StatusCode, "%s", b)
		resp, _ = request(t, http.MethodDelete, srv.URL+"/eureka/apps/BILLING/"+id, token, nil, nil)
		require.Equal(t, http.StatusOK, resp.StatusCode)
	}
	changes, bytes := s.Registry.ChangeLogSize()
	assert.LessOrEqual(t, bytes, lim)
	assert.Greater(t, bytes, lim/2, "the log is used, not emptied")
	assert.Less(t, changes, 1000, "the oldest deletions left")
}

// The document's strings have a budget of their own, not the metadata's
// 4 KiB: three long URLs, each within its bound, are an ordinary Spring
// registration.
func TestLongURLsWithinTheirBoundsRegister(t *testing.T) {
	_, srv := server(t)
	url := `"http://10.0.0.9/` + strings.Repeat("a", 1400) + `"`
	resp, b := request(t, http.MethodPost, srv.URL+"/eureka/apps/BILLING", token,
		eurekaDoc("b-1", `,"homePageUrl":`+url+`,"statusPageUrl":`+url+`,"healthCheckUrl":`+url), jsonBody)
	require.Equal(t, http.StatusNoContent, resp.StatusCode, "%s", b)
	assert.Len(t, ours(t, srv, "billing"), 1)
}

// Spring clients find a service by VIP address (http://auth/ reads
// /vips/auth): a VIP naming a service that has its own token is refused
// without that token, so the shared token cannot draw auth's traffic by
// another application's name.
func TestVIPOfAServiceWithItsOwnTokenNeedsThatToken(t *testing.T) {
	_, srv := server(t, "-discovery-service-tokens", "auth=auth-own-token,doctor=doctor-own-token")
	const authToken = "auth-own-token"
	resp, b := request(t, http.MethodPost, srv.URL+"/eureka/apps/AUTH", authToken,
		[]byte(`{"instance":{"instanceId":"auth-1","hostName":"10.0.0.1","app":"AUTH","ipAddr":"10.0.0.1","status":"UP",
"port":{"$":8081,"@enabled":"true"},"vipAddress":"auth,login","secureVipAddress":"auth","dataCenterInfo":{"@class":"x","name":"MyOwn"}}}`), jsonBody)
	require.Equal(t, http.StatusNoContent, resp.StatusCode, "auth claims its own VIP and a free one: %s", b)
	resp, b = request(t, http.MethodPost, srv.URL+"/eureka/apps/AUTH", authToken,
		[]byte(`{"instance":{"instanceId":"auth-2","hostName":"10.0.0.2","app":"AUTH","ipAddr":"10.0.0.2","status":"UP",
"port":{"$":8081,"@enabled":"true"},"vipAddress":"doctor","dataCenterInfo":{"@class":"x","name":"MyOwn"}}}`), jsonBody)
	require.Equal(t, http.StatusForbidden, resp.StatusCode, "one service's token does not claim another's VIP: %s", b)

	evil := func(vip, svip string) []byte {
		return []byte(fmt.Sprintf(`{"instance":{"instanceId":"evil-1","hostName":"6.6.6.6","app":"EVIL","ipAddr":"6.6.6.6","status":"UP",
"port":{"$":8081,"@enabled":"true"},"vipAddress":%q,"secureVipAddress":%q,"dataCenterInfo":{"@class":"x","name":"MyOwn"}}}`, vip, svip))
	}
	resp, _ = request(t, http.MethodPost, srv.URL+"/eureka/apps/AUTH", token, evil("auth", "auth"), jsonBody)
	require.Equal(t, http.StatusForbidden, resp.StatusCode, "the shared token may not write under AUTH")
	for _, tc := range []struct{ vip, svip, field string }{
		{"auth", "evil", "instance.vipAddress"},
		{"evil, AUTH ", "evil", "instance.vipAddress"},
		{"evil", "evil,auth", "instance.secureVipAddress"},
	} {
		resp, b = request(t, http.MethodPost, srv.URL+"/eureka/apps/EVIL", token, evil(tc.vip, tc.svip), jsonBody)
		require.Equal(t, http.StatusForbidden, resp.StatusCode, "VIP %q, secure VIP %q: %s", tc.vip, tc.svip, b)
		assert.Equal(t, []string{tc.field}, problemFields(t, b))
	}
	assert.Empty(t, ours(t, srv, "evil"))
	for _, path := range []string{"/eureka/vips/auth", "/eureka/svips/auth"} {
		resp, b = request(t, http.MethodGet, srv.URL+path, "", nil, map[string]string{"Accept": "application/json"})
		require.Equal(t, http.StatusOK, resp.StatusCode)
		var v struct {
			Applications struct {
				Application []struct{ Name string }
			}
		}
		require.NoError(t, json.Unmarshal(b, &v))
		require.Len(t, v.Applications.Application, 1, "%s", b)
		assert.Equal(t, "AUTH", v.Applications.Application[0].Name)
	}

	// A VIP naming no service with a token of its own is free, as
	// registering under that name is.
	resp, b = request(t, http.MethodPost, srv.URL+"/eureka/apps/EVIL", token, evil("evil,billing", "billing.internal"), jsonBody)
	require.Equal(t, http.StatusNoContent, resp.StatusCode, "%s", b)
}

// A VIP is matched case-insensitively by /vips and by Java clients
// (toUpperCase(Locale.ROOT)), where "recordſ" (long s) is "RECORDS" and
// "patıent" (dotless i) is "PATIENT", while lower-casing leaves them other
// names: such a VIP is refused as malformed, so the shared token cannot
// slip the VIP of a service guarded by its own token past the check.
func TestNonASCIIVIPIsRefused(t *testing.T) {
	_, srv := server(t, "-discovery-service-tokens", "records=records-own-token,patient=patient-own-token")
	doc := func(vip, svip string) []byte {
		return []byte(fmt.Sprintf(`{"instance":{"instanceId":"evil-1","hostName":"6.6.6.6","app":"EVIL","ipAddr":"6.6.6.6","status":"UP",
"port":{"$":8081,"@enabled":"true"},"vipAddress":%q,"secureVipAddress":%q,"dataCenterInfo":{"@class":"x","name":"MyOwn"}}}`, vip, svip))
	}
	for _, tc := range []struct{ vip, svip, field string }{
		{"record\u017f", "evil", "instance.vipAddress"},
		{"evil, RECORD\u017f", "evil", "instance.vipAddress"},
		{"evil", "pat\u0131ent", "instance.secureVipAddress"},
		{"pat\u0131ent", "evil", "instance.vipAddress"},
		{"evil,", "evil", "instance.vipAddress"},
	} {
		resp, b := request(t, http.MethodPost, srv.URL+"/eureka/apps/EVIL", token, doc(tc.vip, tc.svip), jsonBody)
		require.Equal(t, http.StatusBadRequest, resp.StatusCode, "VIP %q, secure VIP %q: %s", tc.vip, tc.svip, b)
		assert.Equal(t, []string{tc.field}, problemFields(t, b), "VIP %q, secure VIP %q", tc.vip, tc.svip)
	}
	assert.Empty(t, ours(t, srv, "evil"))
	for _, path := range []string{"/eureka/vips/records", "/eureka/svips/records", "/eureka/vips/patient", "/eureka/svips/patient"} {
		resp, b := request(t, http.MethodGet, srv.URL+path, "", nil, map[string]string{"Accept": "application/json"})
		require.Equal(t, http.StatusOK, resp.StatusCode)
		assert.NotContains(t, string(b), "EVIL", path)
	}

	// Ordinary VIPs, as Spring sets them or by hand, still register.
	resp, b := request(t, http.MethodPost, srv.URL+"/eureka/apps/EVIL", token, doc("Evil-Service, evil.internal", "evil_v2"), jsonBody)
	require.Equal(t, http.StatusNoContent, resp.StatusCode, "%s", b)
}

// A document without instanceId whose hostName is the (invalid) ID is
// refused naming hostName, the field the ID came from, not an instanceId it
// never sent, and only once although hostName is no address either.
func TestAnIDTakenFromHostNameIsRefusedUnderHostName(t *testing.T) {
	_, srv := server(t)
	resp, b := request(t, http.MethodPost, srv.URL+"/eureka/apps/BILLING", token, []byte(`{"instance":{
"hostName":"_billing","app":"BILLING","ipAddr":"10.0.0.9","port":{"$":9000,"@enabled":"true"},
"dataCenterInfo":{"@class":"com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo","name":"MyOwn"}}}`), jsonBody)
	require.Equal(t, http.StatusBadRequest, resp.StatusCode, "%s", b)
	assert.Equal(t, []string{"instance.hostName"}, problemFields(t, b))
}
