package eureka_test

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
)

// FuzzRegister: whatever instance document a client posts, JSON or XML,
// it is registered (204) or refused with a problem naming a field (4xx),
// never a fault; and what is registered is served back in both encodings
// as well-formed documents that list it.
func FuzzRegister(f *testing.F) {
	spring, err := os.ReadFile("testdata/spring-register.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(bytes.ReplaceAll(spring, []byte("LEGACY-BILLING"), []byte("BILLING")), false)
	for _, s := range []struct {
		body  string
		isXML bool
	}{
		{`{"instance":{"instanceId":"b-1","hostName":"10.0.0.9","app":"BILLING","ipAddr":"10.0.0.9","port":{"$":"9000","@enabled":true},` +
			`"dataCenterInfo":{"@class":"x","name":"Amazon","metadata":{"instance-id":"i-1","a b=\"c\"><x":"1"}},"metadata":{"k":1.5,"@class":"y"}}}`, false},
		{`{"instance":{"hostName":"billing_1.local","ipAddr":"fe80::1%eth0","port":{"$":65536},"status":"up"}}`, false},
		{`{"instance":null}`, false},
		{"<instance><instanceId>b-1</instanceId><hostName>billing.local</hostName><app>BILLING</app><ipAddr>10.0.0.9</ipAddr>" +
			`<port enabled="true">9000</port><metadata><zone>a</zone><x:y xmlns:x="u">z</x:y></metadata></instance>`, true},
		{`<instance><hostName>10.0.0.9</hostName><port>1</port><dataCenterInfo class="c"><name>Amazon</name>` +
			`<metadata><instance-id>i-2</instance-id><a><b>nested</b></a></metadata></dataCenterInfo></instance>`, true},
		{`<instance><hostName>10.0.0.9</hostName><port>9000</port><metadata><k>&#1;</k></metadata></instance>`, true},
		{`<x><hostName>10.0.0.9</hostName><port>9000</port></x>`, true},
	} {
		f.Add([]byte(s.body), s.isXML)
	}
	_, srv := server(f)
	h := srv.Config.Handler
	do := func(method, path, ct, accept string, body []byte) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, path, bytes.NewReader(body))
		req.SetBasicAuth("x", token)
		if ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return w
	}
	f.Fuzz(func(t *testing.T, body []byte, isXML bool) {
		ct := "application/json"
		if isXML {
			ct = "application/xml"
		}
		w := do(http.MethodPost, "/eureka/apps/BILLING", ct, "", body)
		switch {
		case w.Code == http.StatusNoContent:
		case w.Code >= 400 && w.Code < 500:
			var p struct {
				Status int
				Errors []struct{ Field string }
			}
			if w.Header().Get("Content-Type") != "application/problem+json" || json.Unmarshal(w.Body.Bytes(), &p) != nil || p.Status != w.Code {
				t.Fatalf("%q: %d with %q: %s", body, w.Code, w.Header().Get("Content-Type"), w.Body)
			}
			if w.Code == http.StatusBadRequest && len(p.Errors) == 0 {
				t.Fatalf("%q: a 400 naming no field: %s", body, w.Body)
			}
			for _, e := range p.Errors {
				if e.Field == "" {
					t.Fatalf("%q: a 400 with an unnamed field: %s", body, w.Body)
				}
			}
			return
		default:
			t.Fatalf("%q: %d: %s", body, w.Code, w.Body)
		}

		js := do(http.MethodGet, "/eureka/apps/BILLING", "", "application/json", nil)
		var app struct {
			Application struct {
				Instance []struct {
					InstanceID string `json:"instanceId"`
				} `json:"instance"`
			} `json:"application"`
		}
		if js.Code != http.StatusOK || json.Unmarshal(js.Body.Bytes(), &app) != nil || len(app.Application.Instance) != 1 {
			t.Fatalf("%q registered, then listed as %d: %s", body, js.Code, js.Body)
		}
		xw := do(http.MethodGet, "/eureka/apps/BILLING", "", "application/xml", nil)
		if err := wellFormed(xw.Body.Bytes()); xw.Code != http.StatusOK || err != nil {
			t.Fatalf("%q registered, then listed as %d, XML %v: %s", body, xw.Code, err, xw.Body)
		}
		id := app.Application.Instance[0].InstanceID
		if d := do(http.MethodDelete, "/eureka/apps/BILLING/"+id, "", "", nil); d.Code != http.StatusOK {
			t.Fatalf("cancel %q: %d %s", id, d.Code, d.Body)
		}
	})
}

// wellFormed reads b as one XML document.
func wellFormed(b []byte) error {
	d := xml.NewDecoder(bytes.NewReader(b))
	depth, roots := 0, 0
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			if roots != 1 || depth != 0 {
				return errors.New("not one root element")
			}
			return nil
		}
		if err != nil {
			return err
		}
		switch tok.(type) {
		case xml.StartElement:
			if depth == 0 {
				roots++
			}
			depth++
		case xml.EndElement:
			depth--
		}
	}
}

// An XML document is an instance only under its root <instance>, as a JSON
// one is only under "instance".
func TestXMLInstanceNeedsItsRoot(t *testing.T) {
	_, srv := server(t)
	for root, want := range map[string]int{"instance": http.StatusNoContent, "application": http.StatusBadRequest, "x": http.StatusBadRequest} {
		body := "<" + root + "><instanceId>b-" + root + "</instanceId><hostName>10.0.0.9</hostName><port>9000</port></" + root + ">"
		resp, b := request(t, http.MethodPost, srv.URL+"/eureka/apps/BILLING", token, []byte(body), map[string]string{"Content-Type": "application/xml"})
		if resp.StatusCode != want {
			t.Fatalf("root <%s>: %d %s", root, resp.StatusCode, b)
		}
	}
}
