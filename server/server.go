// Package server puts every HTTP surface of Castellan on one mux: the
// shared plumbing (package web), the REST API, the console, the metrics and
// the front door. Each surface gets the guarded services, never the
// store's own: the guard sits between them and the store. castellan serve
// serves this handler, and the tests of the surfaces serve the same one.
package server

import (
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/api"
	"github.com/castellan-iam/castellan/authz"
	"github.com/castellan-iam/castellan/compat/cloudru"
	"github.com/castellan-iam/castellan/console"
	"github.com/castellan-iam/castellan/guard"
	"github.com/castellan-iam/castellan/web"
	"github.com/prometheus/client_golang/prometheus"
)

// Config is what the surfaces are built from.
type Config struct {
	// Services are the store's services (with Tokens checked by the token
	// cache); Handler puts the guard over them.
	Services castellan.Services
	Logger   *slog.Logger
	// Version is reported in the OpenAPI document.
	Version string
	// OperatorTokens, TrustedProxies, Collectors and BodyReadTimeout are
	// the plumbing's (web.Config).
	OperatorTokens  []string
	TrustedProxies  []netip.Prefix
	Collectors      []prometheus.Collector
	BodyReadTimeout time.Duration
	// DevMailbox, when set, serves the dev mailbox (api.Config).
	DevMailbox castellan.MailRenderer
	// SignIn, SignInPerSource and SecureCookies are the console's
	// (console.Config).
	SignIn          castellan.SignInPolicy
	SignInPerSource web.RateLimit
	SecureCookies   bool
	// Clock drives the authorizer and the rate limits; nil means
	// castellan.SystemClock.
	Clock castellan.Clock
	// Authorizer makes every decision of the surfaces and the guard:
	// castellan serve --authorizer index gives the index (package
	// index), kept current by its change feed. Nil means the reference
	// (authz.Authorizer), which reads Services on every decision.
	Authorizer castellan.Authorizer
	// CloudruPrefix, when set, serves the customer users / permissions
	// API there (package compat/cloudru); empty turns it off.
	CloudruPrefix string
}

// frontDoorMessage is what a client that is no browser reads at /.
const frontDoorMessage = "nothing here: the API is under /v1 (described at /v1/openapi.json), the console at /console"

// Handler puts every surface of cfg on one mux behind the shared
// plumbing. Errors outside any surface (no such route, a refused body, a
// missing token) are the API's problems.
func Handler(cfg Config) http.Handler {
	raw := cfg.Services
	if cfg.Clock == nil {
		cfg.Clock = castellan.SystemClock
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	authorizer := cfg.Authorizer
	if authorizer == nil {
		authorizer = &authz.Authorizer{
			Grants: raw.Grants, Groups: raw.Groups, Roles: raw.Roles, Nodes: raw.Nodes, Policies: raw.ControlPolicies,
			ServiceAccounts: raw.ServiceAccounts, Catalog: raw.Catalog, Now: cfg.Clock,
		}
	}
	services := guard.New(raw, authorizer)
	isAnonymous, writeError := anonymous, api.WriteProblem
	if cfg.CloudruPrefix != "" {
		isAnonymous, writeError = cloudruOwns(cfg.CloudruPrefix, isAnonymous, writeError)
	}
	plumbing := web.New(web.Config{Tokens: services.Tokens, Sessions: services.Sessions, Logger: cfg.Logger,
		OperatorTokens: cfg.OperatorTokens, TrustedProxies: cfg.TrustedProxies, Collectors: cfg.Collectors,
		BodyReadTimeout: cfg.BodyReadTimeout, Anonymous: isAnonymous, Errors: writeError})
	mux := http.NewServeMux()
	rest := api.New(mux, api.Config{Services: services, Decisions: guard.NewDecisions(raw, authorizer),
		Version: cfg.Version, DevMailbox: cfg.DevMailbox, Clock: cfg.Clock})
	console.New(console.Config{Services: services, Web: plumbing, SignIn: cfg.SignIn, SignInPerSource: cfg.SignInPerSource,
		Clock: cfg.Clock, SecureCookies: cfg.SecureCookies}).Register(mux)
	if cfg.CloudruPrefix != "" {
		compat := cloudru.New(cloudru.Config{Services: services, Web: plumbing, Prefix: cfg.CloudruPrefix})
		compat.Register(mux)
		compat.Document(rest.OpenAPI())
	}
	mux.Handle("GET /metrics", plumbing.MetricsHandler())
	mux.HandleFunc("GET /{$}", plumbing.FrontDoor(console.Path, frontDoorMessage))
	return plumbing.Handler(mux, rest.Idempotent)
}

// anonymous reports whether path needs no bearer token: the API's public
// paths, the console (its session cookie), the metrics and the front
// door.
func anonymous(path string) bool {
	return api.Anonymous(path) || console.Anonymous(path) || path == "/metrics" || path == "/"
}

// cloudruOwns hands the customer users API's paths to the adapter: they
// are anonymous to the plumbing (the adapter authenticates and answers its
// own 401s) and the plumbing's errors there take the adapter's shape.
func cloudruOwns(prefix string, anonymous func(string) bool, errors web.ErrorWriter) (func(string) bool, web.ErrorWriter) {
	return func(path string) bool { return cloudru.Owns(prefix, path) || anonymous(path) },
		func(w http.ResponseWriter, r *http.Request, status int, err error) {
			if cloudru.Owns(prefix, r.URL.Path) {
				cloudru.WriteError(w, r, status, err)
				return
			}
			errors(w, r, status, err)
		}
}
