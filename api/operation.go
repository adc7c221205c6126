package api

import (
	"context"
	"github.com/castellan-iam/castellan"
	"net/http"
	"slices"

	"github.com/danielgtaylor/huma/v2"
)

// op describes one API operation for the OpenAPI document and for
// authorization.
type op struct {
	id, method, path string
	summary, desc    string
	tag              string
	// action is the service:Verb the operation performs; authorization
	// and the audit log name operations by it.
	action castellan.Action
	// status is the success status; 0 means 200.
	status int
	// errors lists the error statuses beyond 400, 401, 403, 500 and 503.
	errors []int
	// public operations need no token.
	public bool
	// storeless operations never reach the store, so never answer 503
	// store.unavailable as every other operation may.
	storeless bool
	// ndjsonBody operations read an NDJSON stream (StreamingBody) and
	// answer with one.
	ndjsonBody bool
}

// register adds an operation to the API.
func register[I, O any](s *Server, o op, handler func(context.Context, *I) (*O, error)) {
	errs := []int{http.StatusBadRequest}
	if !o.storeless {
		errs = append(errs, http.StatusServiceUnavailable)
	}
	if !o.public {
		errs = append(errs, http.StatusUnauthorized, http.StatusForbidden)
	}
	for _, status := range o.errors {
		if !slices.Contains(errs, status) {
			errs = append(errs, status)
		}
	}
	hop := huma.Operation{
		OperationID:   o.id,
		Method:        o.method,
		Path:          o.path,
		Summary:       o.summary,
		Description:   o.desc,
		Tags:          []string{o.tag},
		DefaultStatus: o.status,
		Errors:        errs,
		Metadata:      map[string]any{"action": string(o.action)},
		// web.Plumbing has read the body under its own deadline; huma's
		// (5 s by default) would stay on the connection while the
		// handler runs and cancel it. Negative means none.
		BodyReadTimeout: -1,
	}
	if o.public {
		hop.Security = []map[string][]string{}
	}
	if o.ndjsonBody {
		stream := map[string]*huma.MediaType{ndjson: {Schema: &huma.Schema{Type: "string", Description: "One JSON object per line."}}}
		hop.RequestBody = &huma.RequestBody{Required: true, Content: stream}
		hop.Responses = map[string]*huma.Response{"200": {Description: "Progress lines, then a result line.", Content: stream}}
	}
	huma.Register(s.api, hop, handler)
}

// PageParams are the pagination query parameters of every list.
type PageParams struct {
	PageSize  int    `query:"page_size" minimum:"0" maximum:"1000" doc:"Largest number of results to return (default 50, at most 1000)."`
	PageToken string `query:"page_token" doc:"nextPageToken of the previous page; omit for the first page."`
}

// revisionOutput answers a deletion.
type revisionOutput struct {
	Body struct {
		Revision int64 `json:"revision" doc:"Revision of the store at which the deletion took effect."`
	}
}

func revisionOf(rev int64) *revisionOutput {
	out := &revisionOutput{}
	out.Body.Revision = rev
	return out
}
