package edge

import (
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/go-kit/log/level"

	"github.com/medisync/medisync/shared/logging"
)

// forward sends r to the route's upstream pool and copies the answer back.
// It does what httputil.ReverseProxy does for a plain request, without its
// copies: the request passed in is already the gateway's own shallow copy
// (ServeHTTP's WithContext), so its header map is edited in place instead of
// cloned, and the answer's header values are handed to the response as they
// are. Protocol upgrades, which need the connection hijacked, still go
// through httputil.ReverseProxy.
func (g *Gateway) forward(w http.ResponseWriter, r *http.Request, rh *routeHandler) {
	h := r.Header
	if _, ok := h["Upgrade"]; ok {
		rh.proxy.ServeHTTP(w, r)
		return
	}
	// Read from the client's headers before they are rebuilt.
	xff := g.clientIP.ForwardedFor(r)
	proto := g.forwardedProto(r)
	if hasHopHeaders(h) {
		// Rare (an HTTP/1.0 keep-alive, a TE header): the server still reads
		// the client's Connection header, so the edits go to a copy.
		h = h.Clone()
		te := strings.Contains(strings.ToLower(strings.Join(h["Te"], ",")), "trailers")
		removeHopHeaders(h)
		if te {
			h["Te"] = teTrailers
		}
		r.Header = h
	}
	stripImpersonation(h)
	// Trailers of a chunked body would carry any header past the stripping;
	// no service reads request trailers, so none is forwarded.
	r.Trailer = nil
	if xff != "" {
		h["X-Forwarded-For"] = []string{xff}
	}
	h["X-Forwarded-Proto"] = proto
	if _, ok := h["User-Agent"]; !ok {
		// Otherwise the client transport would add its own.
		h["User-Agent"] = emptyValue
	}
	// The pool puts the chosen instance's address in the URL.
	r.URL.Scheme = "http"
	r.URL.Host = rh.route.Service
	r.Host = ""
	r.RequestURI = ""
	r.Close = false
	if r.ContentLength == 0 {
		r.Body = nil
	}

	res, err := rh.up.RoundTrip(r)
	if err != nil {
		g.upstreamError(w, r, err)
		return
	}
	defer res.Body.Close()
	if res.StatusCode == http.StatusSwitchingProtocols {
		g.upstreamError(w, r, errors.New("the service switched protocols on a plain request"))
		return
	}
	removeHopHeaders(res.Header)
	_ = dropGatewayHeaders(res)
	dst := w.Header()
	for k, vv := range res.Header {
		if cur, ok := dst[k]; ok {
			dst[k] = append(cur, vv...)
		} else {
			dst[k] = vv
		}
	}
	announced := len(res.Trailer)
	if announced > 0 {
		names := make([]string, 0, announced)
		for k := range res.Trailer {
			names = append(names, k)
		}
		dst["Trailer"] = []string{strings.Join(names, ", ")}
	}
	w.WriteHeader(res.StatusCode)

	if err := copyBody(w, res.Body, res.ContentLength == -1); err != nil {
		if r.Context().Err() == nil {
			_ = level.Warn(logging.FromContext(r.Context(), g.logger)).Log(
				"msg", "copying the upstream answer failed", "host", r.URL.Host, "path", r.URL.Path, "err", err)
		}
		// The answer is cut short: the client must see a broken
		// connection, not a complete-looking body.
		panic(http.ErrAbortHandler)
	}
	if len(res.Trailer) > 0 {
		if announced == len(res.Trailer) {
			for k, vv := range res.Trailer {
				dst[k] = vv
			}
		} else {
			for k, vv := range res.Trailer {
				dst[http.TrailerPrefix+k] = vv
			}
		}
	}
}

// copyBody copies an upstream answer to the client with a pooled buffer,
// flushing after every write when the answer's length is unknown (a
// stream).
func copyBody(w http.ResponseWriter, body io.Reader, stream bool) error {
	buf := bufferPool.Get()
	defer bufferPool.Put(buf)
	flusher, _ := w.(http.Flusher)
	for {
		n, rerr := body.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return werr
			}
			if stream && flusher != nil {
				flusher.Flush()
			}
		}
		if rerr == io.EOF {
			return nil
		}
		if rerr != nil {
			return rerr
		}
	}
}

var (
	emptyValue = []string{""}
	teTrailers = []string{"trailers"}
)

// hopHeaders are meant for one connection only (RFC 9110, 7.6.1).
var hopHeaders = [...]string{
	"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
	"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade",
}

func hasHopHeaders(h http.Header) bool {
	for _, k := range hopHeaders {
		if _, ok := h[k]; ok {
			return true
		}
	}
	return false
}

// removeHopHeaders deletes the hop-by-hop headers and those the Connection
// header names.
func removeHopHeaders(h http.Header) {
	for _, f := range h["Connection"] {
		for _, sf := range strings.Split(f, ",") {
			if sf = strings.TrimSpace(sf); sf != "" {
				delete(h, http.CanonicalHeaderKey(sf))
			}
		}
	}
	for _, k := range hopHeaders {
		delete(h, k)
	}
}
