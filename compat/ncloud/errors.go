package ncloud

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/web"
)

// ncloudErrorBody is the platform's error document, the body of every error
// answer of the sub-account API.
type ncloudErrorBody struct {
	Error ncloudErrorDetail `json:"error"`
}

// ncloudErrorDetail says what went wrong: errorCode is the platform's (stable,
// clients switch on it), message its fixed text, details for humans.
type ncloudErrorDetail struct {
	ErrorCode string `json:"errorCode" doc:"The platform's error code: 100 bad request, 120 duplicate ID, 9015 unsafe password, 30 nonexistent account, 200 authentication failed, 210 permission denied, 230 forbidden, 300 not found, 420 rate limited, 430 body too large, 500 endpoint error, 900 unexpected error." example:"120"`
	Message   string `json:"message" example:"Duplicate ID"`
	Details   string `json:"details" example:"You need to enter another ID"`
}

// apiError is one answer of the error table.
type apiError struct {
	status int
	code   string
	msg    string
}

// The error table: the platform's answers, by what they mean.
var (
	errBadRequest      = apiError{http.StatusBadRequest, "100", "Bad Request Exception"}
	errDuplicateID     = apiError{http.StatusBadRequest, "120", "Duplicate ID"}
	errUnsafePassword  = apiError{http.StatusBadRequest, "9015", "Unsafe password"}
	errNonexistent     = apiError{http.StatusUnauthorized, "30", "Nonexistent account"}
	errAuthentication  = apiError{http.StatusUnauthorized, "200", "Authentication Failed"}
	errPermission      = apiError{http.StatusUnauthorized, "210", "Permission Denied"}
	errForbidden       = apiError{http.StatusForbidden, "230", "Forbidden"}
	errNotFound        = apiError{http.StatusNotFound, "300", "Not Found Exception"}
	errRateLimited     = apiError{http.StatusTooManyRequests, "420", "Rate Limited"}
	errTooLarge        = apiError{http.StatusRequestEntityTooLarge, "430", "Request Entity Too Large"}
	errEndpoint        = apiError{http.StatusServiceUnavailable, "500", "Endpoint Error"}
	errUnexpected      = apiError{http.StatusInternalServerError, "900", "Unexpected Error"}
	authFailureDetails = "Invalid authentication information."
)

// documentedErrors are the answers the OpenAPI document lists for every
// operation, besides those of the operation itself.
var documentedErrors = []apiError{errBadRequest, errAuthentication, errForbidden, errRateLimited, errEndpoint, errUnexpected}

// write renders e with details.
func (e apiError) write(w http.ResponseWriter, r *http.Request, details string) {
	web.NoteErrorCode(r.Context(), "ncloud."+e.code)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(e.status)
	json.NewEncoder(w).Encode(ncloudErrorBody{Error: ncloudErrorDetail{ErrorCode: e.code, Message: e.msg, Details: details}})
}

// authFailed is the one answer to every authentication failure: which
// part was wrong is never said.
func authFailed(w http.ResponseWriter, r *http.Request) {
	errAuthentication.write(w, r, authFailureDetails)
}

// rateLimited answers 429 with Retry-After in whole seconds.
func rateLimited(w http.ResponseWriter, r *http.Request, wait time.Duration) {
	w.Header().Set("Retry-After", web.RetryAfter(wait))
	errRateLimited.write(w, r, "Too many requests; retry later.")
}

// writeError maps a castellan error to the platform's answer.
func writeError(w http.ResponseWriter, r *http.Request, err error) {
	e := web.PublicError(r.Context(), err)
	switch {
	case e.Code == castellan.CodeUserLoginIDTaken:
		errDuplicateID.write(w, r, "You need to enter another ID")
	case e.Code == castellan.CodeUnsafePassword:
		errUnsafePassword.write(w, r, fieldDetails(e))
	case e.Code == castellan.CodeSourceNotAllowed:
		errForbidden.write(w, r, e.Message)
	case e.Kind == castellan.EINVALID:
		errBadRequest.write(w, r, fieldDetails(e))
	case e.Kind == castellan.ECONFLICT || e.Kind == castellan.EPRECONDITION:
		errBadRequest.write(w, r, e.Message)
	case e.Kind == castellan.EFORBIDDEN:
		errPermission.write(w, r, e.Message)
	case e.Kind == castellan.EUNAUTHENTICATED:
		authFailed(w, r)
	case e.Kind == castellan.ENOTFOUND:
		errNotFound.write(w, r, e.Message)
	case e.Kind == castellan.ETOOLARGE:
		errTooLarge.write(w, r, e.Message)
	case e.Kind == castellan.ERATELIMITED:
		errRateLimited.write(w, r, e.Message)
	case e.Kind == castellan.EUNAVAILABLE:
		errEndpoint.write(w, r, "The service is unavailable for now; retry later.")
	default:
		errUnexpected.write(w, r, "Quote the request ID "+castellan.RequestInfoFrom(r.Context()).RequestID+" to the operator.")
	}
}

// WriteError renders the plumbing's own errors (no such route, a body
// refused before the handler, a panic) for paths under the prefix: a
// web.ErrorWriter. A status other than 0 replaces the one of err's kind:
// the plumbing gives 405 for a method the route does not serve.
func WriteError(w http.ResponseWriter, r *http.Request, status int, err error) {
	if status == http.StatusMethodNotAllowed {
		errNotFound.write(w, r, web.PublicError(r.Context(), err).Message)
		return
	}
	writeError(w, r, err)
}

// fieldDetails names each bad field and the rule it breaks, in the
// platform's field names: the domain's JSON names are the same, and the
// plumbing's (body.name) lose their location.
func fieldDetails(e *castellan.Error) string {
	if len(e.Fields) == 0 {
		return e.Message
	}
	parts := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		parts[i] = strings.TrimPrefix(f.Field, "body.") + ": " + f.Message + " (" + f.Rule + ")"
	}
	return strings.Join(parts, "; ")
}
