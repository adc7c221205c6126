// Package cloudru serves the customer users / permissions API of seed 003
// (the JSON of a gRPC gateway: /api/v1/customers/{customerId}/users,
// …/users/reinvite, …/federations/{idpId}/users and /api/v1/permissions)
// under a prefix, over the guarded services it is given.
//
// It is a thin edge: it authenticates the bearer token with the shared
// plumbing, turns the wire's requests into the domain's inputs, and turns
// castellan errors into the gateway's body {"code", "message", "details"}
// with gRPC status numbers and protoc-gen-validate's wording. Every rule
// of the core (login IDs, names, emails, authorization, the hierarchy
// principle, grant expiry) is the core's: this package only checks what
// exists on this wire alone (UUID syntax of path IDs, its enums, idpId on a
// local user).
package cloudru

import (
	"net/http"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/web"
)

// DefaultPrefix is where castellan serve mounts the adapter unless told
// otherwise.
const DefaultPrefix = "/compat/cloudru"

// Config is what an Adapter needs.
type Config struct {
	// Services are the guarded services (guard.New): the adapter checks
	// no permission itself.
	Services castellan.Services
	// Web authenticates bearer tokens; the adapter's paths are anonymous
	// to the plumbing, which lets the adapter answer 401 in its shape.
	Web *web.Plumbing
	// Prefix is the path every route starts with, such as DefaultPrefix:
	// it starts with "/" and does not end with one.
	Prefix string
}

// Adapter is the customer users / permissions API.
type Adapter struct {
	services castellan.Services
	web      *web.Plumbing
	prefix   string
}

// New returns the adapter of cfg.
func New(cfg Config) *Adapter {
	return &Adapter{services: cfg.Services, web: cfg.Web, prefix: cfg.Prefix}
}

// Paths of the operations, below the prefix.
const (
	usersPath          = "/api/v1/customers/{customerId}/users"
	reinvitePath       = "/api/v1/customers/{customerId}/users/reinvite"
	federatedUsersPath = "/api/v1/customers/{customerId}/federations/{idpId}/users"
	permissionsPath    = "/api/v1/permissions"
)

// Register adds the adapter's routes to mux.
func (a *Adapter) Register(mux *http.ServeMux) {
	mux.Handle("POST "+a.prefix+usersPath, a.authenticated(a.addUser))
	mux.Handle("POST "+a.prefix+reinvitePath, a.authenticated(a.reinvite))
	mux.Handle("POST "+a.prefix+federatedUsersPath, a.authenticated(a.addFederatedUsers))
	mux.Handle("POST "+a.prefix+permissionsPath, a.authenticated(a.createPermission))
}

// authenticated resolves the bearer token to the caller, as the
// gateway's authentication does before any handler runs, and renders the
// handler's error.
func (a *Adapter) authenticated(h func(w http.ResponseWriter, r *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		principal, err := a.web.AuthenticateBearer(r)
		if err != nil {
			WriteError(w, r, 0, err)
			return
		}
		r = r.WithContext(castellan.WithPrincipal(r.Context(), principal))
		if err := h(w, r); err != nil {
			WriteError(w, r, 0, err)
		}
	})
}
