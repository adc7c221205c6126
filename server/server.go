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
	"github.com/castellan-iam/castellan/compat/ncloud"
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
	// NcloudPrefix, when set, serves the sub-account API (package
	// compat/ncloud) under it; empty turns it off.
	NcloudPrefix string
	// Authorizer makes every decision of the surfaces and the guard:
	// castellan serve --authorizer index gives the index (package
	// index), kept current by its change feed. Nil means the reference
	// (authz.Authorizer), which reads Services on every decision.
	Authorizer castellan.Authorizer
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
	ncloudAPI := ncloudSurface(cfg, services)
	plumbing := web.New(web.Config{Tokens: services.Tokens, Sessions: services.Sessions, Logger: cfg.Logger,
		OperatorTokens: cfg.OperatorTokens, TrustedProxies: cfg.TrustedProxies, Collectors: cfg.Collectors,
		BodyReadTimeout: cfg.BodyReadTimeout,
		Anonymous: func(path string) bool {
			return anonymous(path) || ncloudAPI.Owns(path)
		},
		Errors: func(w http.ResponseWriter, r *http.Request, status int, err error) {
			if ncloudAPI.Owns(r.URL.Path) {
				ncloud.WriteError(w, r, status, err)
				return
			}
			api.WriteProblem(w, r, status, err)
		}})
	mux := http.NewServeMux()
	rest := api.New(mux, api.Config{Services: services, Decisions: guard.NewDecisions(raw, authorizer),
		Version: cfg.Version, DevMailbox: cfg.DevMailbox, Clock: cfg.Clock})
	console.New(console.Config{Services: services, Web: plumbing, SignIn: cfg.SignIn, SignInPerSource: cfg.SignInPerSource,
		Clock: cfg.Clock, SecureCookies: cfg.SecureCookies}).Register(mux)
	if ncloudAPI != nil {
		ncloudAPI.Register(mux)
		ncloudAPI.Document(rest.OpenAPI())
	}
	mux.Handle("GET /metrics", plumbing.MetricsHandler())
	mux.HandleFunc("GET /{$}", plumbing.FrontDoor(console.Path, frontDoorMessage))
	return plumbing.Handler(mux, rest.Idempotent)
}

// anonymous reports whether path needs no bearer token: the API's public
// paths, the console (its session cookie), the metrics and the front
// door. The compatibility APIs, which authenticate their requests
// themselves, are added by Handler.
func anonymous(path string) bool {
	return api.Anonymous(path) || console.Anonymous(path) || path == "/metrics" || path == "/"
}

// ncloudSurface is the sub-account API when cfg turns it on, nil
// otherwise.
func ncloudSurface(cfg Config, services castellan.Services) *ncloud.Server {
	if cfg.NcloudPrefix == "" {
		return nil
	}
	return ncloud.New(ncloud.Config{Services: services, Prefix: cfg.NcloudPrefix, Clock: cfg.Clock})
}
