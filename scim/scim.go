// Package scim serves SCIM 2.0 (RFC 7643, RFC 7644) per organization at
// /scim/v2/organizations/{org}: the Users and Groups an identity provider
// provisions, and the discovery documents. Requests authenticate with a
// SCIM token of the organization (castellan.SCIMTokenService), which acts
// as its creator through the guarded services: the organization check,
// authorization and the hierarchy principle are theirs, as for the API
// and the console.
package scim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/web"
)

// Prefix is where SCIM is served.
const Prefix = "/scim/v2"

// Schema and message URNs (RFC 7643 §8.7, RFC 7644 §3.12).
const (
	schemaUser      = "urn:ietf:params:scim:schemas:core:2.0:User"
	schemaGroup     = "urn:ietf:params:scim:schemas:core:2.0:Group"
	schemaList      = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
	schemaError     = "urn:ietf:params:scim:api:messages:2.0:Error"
	schemaPatchOp   = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
	schemaSPConfig  = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
	schemaResType   = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
	schemaSchema    = "urn:ietf:params:scim:schemas:core:2.0:Schema"
	schemaEnterpris = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	contentType     = "application/scim+json"
)

// Limits of the endpoint: a list answers at most maxCount resources, a
// request body is at most maxBody bytes, a filter maxFilter.
const (
	maxCount  = 100
	maxBody   = 1 << 20
	maxFilter = 1024
)

// Server serves SCIM on the guarded services.
type Server struct {
	services  castellan.Services
	publicURL string
}

// New returns a Server. publicURL is where clients reach the server
// (serve --public-url): resources' locations start with it.
func New(services castellan.Services, publicURL string) *Server {
	return &Server{services: services, publicURL: strings.TrimSuffix(publicURL, "/")}
}

// Register serves the endpoint on mux.
func (s *Server) Register(mux *http.ServeMux) {
	base := Prefix + "/organizations/{org}"
	for pattern, h := range map[string]handler{
		"GET " + base + "/ServiceProviderConfig": s.serviceProviderConfig,
		"GET " + base + "/ResourceTypes":         s.resourceTypes,
		"GET " + base + "/ResourceTypes/{name}":  s.resourceType,
		"GET " + base + "/Schemas":               s.schemas,
		"GET " + base + "/Schemas/{id}":          s.schema,
		"GET " + base + "/Users":                 s.listUsers,
		"POST " + base + "/Users":                s.createUser,
		"GET " + base + "/Users/{id}":            s.getUser,
		"PUT " + base + "/Users/{id}":            s.replaceUser,
		"PATCH " + base + "/Users/{id}":          s.patchUser,
		"DELETE " + base + "/Users/{id}":         s.deleteUser,
		"GET " + base + "/Groups":                s.listGroups,
		"POST " + base + "/Groups":               s.createGroup,
		"GET " + base + "/Groups/{id}":           s.getGroup,
		"PUT " + base + "/Groups/{id}":           s.replaceGroup,
		"PATCH " + base + "/Groups/{id}":         s.patchGroup,
		"DELETE " + base + "/Groups/{id}":        s.deleteGroup,
	} {
		mux.Handle(pattern, s.authenticated(h))
	}
}

// request is one authenticated SCIM request.
type request struct {
	*http.Request
	org   string
	token *castellan.SCIMToken
	// base is the URL of the organization's endpoint, for locations.
	base string
}

type handler func(w http.ResponseWriter, r *request) error

// authenticated checks the SCIM token and that it is the organization's
// of the path (a token of another organization is refused as unknown),
// then runs h as the token's principal and renders its error.
func (s *Server) authenticated(h handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		secret, ok := castellan.BearerToken(r.Header.Get("Authorization"))
		var token *castellan.SCIMToken
		var principal castellan.Principal
		err := castellan.TokenRefused()
		if ok {
			token, principal, err = s.services.SCIMTokens.AuthenticateSCIM(r.Context(), secret)
		}
		if err == nil && token.OrganizationID != r.PathValue("org") {
			err = castellan.TokenRefused()
		}
		if err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="castellan-scim"`)
			WriteError(w, r, 0, err)
			return
		}
		r = r.WithContext(castellan.WithPrincipal(r.Context(), principal))
		req := &request{Request: r, org: token.OrganizationID, token: token, base: s.publicURL + Prefix + "/organizations/" + token.OrganizationID}
		if err := h(w, req); err != nil {
			WriteError(w, r, 0, err)
		}
	})
}

// scimError is the SCIM error body (RFC 7644 §3.12).
type scimError struct {
	Schemas  []string `json:"schemas"`
	Status   string   `json:"status"`
	ScimType string   `json:"scimType,omitempty"`
	Detail   string   `json:"detail"`
}

// Error is a SCIM error of the endpoint's own: a status and scimType.
type Error struct {
	Status   int
	ScimType string
	Detail   string
}

func (e *Error) Error() string { return e.Detail }

func badRequest(scimType, format string, args ...any) *Error {
	return &Error{Status: http.StatusBadRequest, ScimType: scimType, Detail: fmt.Sprintf(format, args...)}
}

// WriteError renders err as a SCIM error: the endpoint's own errors as
// they are, castellan's with the API's status of their kind (EINVALID
// 400 invalidValue, ECONFLICT 409 uniqueness, ENOTFOUND 404, EFORBIDDEN
// 403, EUNAUTHENTICATED 401, EPRECONDITION 412 such as the last owner's
// removal), with the message of the error, whose field names the
// attribute. status, when not 0, is the plumbing's (404 for no
// route, 405, 413).
func WriteError(w http.ResponseWriter, r *http.Request, status int, err error) {
	var own *Error
	if errors.As(err, &own) {
		writeSCIM(w, own.Status, scimError{Schemas: []string{schemaError}, Status: strconv.Itoa(own.Status), ScimType: own.ScimType, Detail: own.Detail})
		return
	}
	e := web.PublicError(r.Context(), err)
	web.NoteErrorCode(r.Context(), e.Code)
	code, scimType := web.Status(e.Kind), ""
	switch e.Kind {
	case castellan.EINVALID:
		scimType = "invalidValue"
	case castellan.ECONFLICT:
		scimType = "uniqueness"
	}
	if status != 0 && status != http.StatusUnauthorized {
		code = status
	}
	writeSCIM(w, code, scimError{Schemas: []string{schemaError}, Status: strconv.Itoa(code), ScimType: scimType, Detail: e.Message})
}

// writeSCIM writes body as application/scim+json.
func writeSCIM(w http.ResponseWriter, status int, body any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(body); err != nil {
		panic(err) // the endpoint's own types always encode
	}
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// decode reads a JSON body (application/scim+json or application/json)
// into v.
func decode(r *request, v any) error {
	b, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, maxBody))
	if err != nil {
		return &Error{Status: http.StatusRequestEntityTooLarge, Detail: fmt.Sprintf("the body is larger than %d bytes", maxBody)}
	}
	if err := json.Unmarshal(b, v); err != nil {
		return badRequest("invalidSyntax", "the body is not the JSON of a SCIM request: %v", err)
	}
	return nil
}

// meta is a resource's meta attribute.
type meta struct {
	ResourceType string    `json:"resourceType"`
	Created      time.Time `json:"created"`
	LastModified time.Time `json:"lastModified"`
	Location     string    `json:"location"`
	Version      string    `json:"version"`
}

func newMeta(kind string, created, modified time.Time, location string, revision int64) meta {
	return meta{ResourceType: kind, Created: created, LastModified: modified, Location: location, Version: `W/"` + strconv.FormatInt(revision, 10) + `"`}
}

// listResponse is a page of resources (RFC 7644 §3.4.2).
type listResponse struct {
	Schemas      []string `json:"schemas"`
	TotalResults int      `json:"totalResults"`
	StartIndex   int      `json:"startIndex"`
	ItemsPerPage int      `json:"itemsPerPage"`
	Resources    []any    `json:"Resources"`
}

// page is what a list request asks: startIndex (1-based) and count.
type page struct{ start, count int }

// pageOf reads startIndex and count: startIndex below 1 is 1, count is
// 0–100 (100 when absent).
func pageOf(r *request) (page, error) {
	p := page{start: 1, count: maxCount}
	for name, dst := range map[string]*int{"startIndex": &p.start, "count": &p.count} {
		if v := r.URL.Query().Get(name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil {
				return p, badRequest("invalidValue", "%s must be an integer", name)
			}
			*dst = n
		}
	}
	p.start = max(p.start, 1)
	p.count = min(max(p.count, 0), maxCount)
	return p, nil
}

// window is the part [from, to) of n results that page p shows.
func (p page) window(n int) (from, to int) {
	from = min(p.start-1, n)
	return from, min(from+p.count, n)
}

// writeList writes a page of resources out of total.
func writeList(w http.ResponseWriter, p page, total int, resources []any) {
	writeSCIM(w, http.StatusOK, listResponse{Schemas: []string{schemaList}, TotalResults: total, StartIndex: p.start,
		ItemsPerPage: len(resources), Resources: append([]any{}, resources...)})
}
