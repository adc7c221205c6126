package cloudru

import (
	"bytes"
	"encoding/json"
	"net/http"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/web"
)

// gRPC status codes, the numbers the gateway puts in "code".
const (
	codeInvalidArgument    = 3
	codeNotFound           = 5
	codeAlreadyExists      = 6
	codePermissionDenied   = 7
	codeResourceExhausted  = 8
	codeFailedPrecondition = 9
	codeUnimplemented      = 12
	codeInternal           = 13
	codeUnavailable        = 14
	codeUnauthenticated    = 16
)

// grpcCodeOf maps error kinds to gRPC codes; a kind missing here is
// internal. A body over the size limit is what a gRPC server calls a
// message larger than its maximum: RESOURCE_EXHAUSTED.
var grpcCodeOf = map[castellan.Kind]int{
	castellan.EINVALID:         codeInvalidArgument,
	castellan.ENOTFOUND:        codeNotFound,
	castellan.ECONFLICT:        codeAlreadyExists,
	castellan.EFORBIDDEN:       codePermissionDenied,
	castellan.EPRECONDITION:    codeFailedPrecondition,
	castellan.ERATELIMITED:     codeResourceExhausted,
	castellan.ETOOLARGE:        codeResourceExhausted,
	castellan.EUNAUTHENTICATED: codeUnauthenticated,
	castellan.EUNAVAILABLE:     codeUnavailable,
}

// httpStatusOf is the HTTP status grpc-gateway answers each code with.
var httpStatusOf = map[int]int{
	codeInvalidArgument:    http.StatusBadRequest,
	codeNotFound:           http.StatusNotFound,
	codeAlreadyExists:      http.StatusConflict,
	codePermissionDenied:   http.StatusForbidden,
	codeResourceExhausted:  http.StatusTooManyRequests,
	codeFailedPrecondition: http.StatusBadRequest,
	codeUnimplemented:      http.StatusNotImplemented,
	codeInternal:           http.StatusInternalServerError,
	codeUnavailable:        http.StatusServiceUnavailable,
	codeUnauthenticated:    http.StatusUnauthorized,
}

// cloudruStatus is the gateway's error body: a google.rpc.Status.
type cloudruStatus struct {
	Code    int    `json:"code" doc:"gRPC status code: 3 invalid argument, 5 not found, 6 already exists, 7 permission denied, 8 resource exhausted, 9 failed precondition, 13 internal, 14 unavailable, 16 unauthenticated."`
	Message string `json:"message" doc:"What went wrong; validation errors name the request message and field: invalid AddUserRequest.Username: …"`
	// Details is always empty: the original sends no details either.
	Details []json.RawMessage `json:"details" nullable:"false"`
}

// WriteError renders err as the gateway's error body; status 405 (the
// plumbing's "method not allowed") replaces the one err's kind maps to.
// Internal errors are logged with the request ID and shown only as
// "internal error". It is a web.ErrorWriter, for the plumbing's errors on
// the adapter's paths.
func WriteError(w http.ResponseWriter, r *http.Request, status int, err error) {
	e := web.PublicError(r.Context(), err)
	web.NoteErrorCode(r.Context(), e.Code)
	code, ok := grpcCodeOf[e.Kind]
	if !ok {
		code = codeInternal
	}
	httpStatus := httpStatusOf[code]
	if status == http.StatusMethodNotAllowed {
		code, httpStatus = codeUnimplemented, status
	}
	writeJSON(w, httpStatus, cloudruStatus{Code: code, Message: e.Message, Details: []json.RawMessage{}})
}

// writeJSON writes body as the answer, as the gateway does: without
// HTML escaping and without a final newline.
func writeJSON(w http.ResponseWriter, status int, body any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(body); err != nil {
		panic(err) // the adapter's own types always encode
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
}
