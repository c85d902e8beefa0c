package transport

import (
	"context"
	"net/http"

	"github.com/go-kit/log"

	"github.com/medisync/medisync/records/endpoint"
	"github.com/medisync/medisync/records/record"
	"github.com/medisync/medisync/records/service"
)

// TooManyUploads is the mapper of a user's upload past their limit.
var TooManyUploads = tooManyUploads

// ErrorStatus is the status the transport answers err with.
func ErrorStatus(err error) int {
	if p := tooManyUploads(err); p != nil {
		return p.Status
	}
	if p := errorRules(err); p != nil {
		return p.Status
	}
	return 0
}

// ServeContent answers r with the content of doc as a download of it is
// answered, without a store or a service behind it.
func ServeContent(w http.ResponseWriter, r *http.Request, doc record.Document, blob service.Blob) error {
	ctx := context.WithValue(r.Context(), requestKey{}, r)
	return contentEncoder(log.NewNopLogger())(ctx, w, endpoint.ContentResponse{Doc: doc, Blob: blob})
}
