package main

import (
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/api"
	"github.com/castellan-iam/castellan/authz"
	"github.com/castellan-iam/castellan/console"
	"github.com/castellan-iam/castellan/guard"
	"github.com/castellan-iam/castellan/web"
	"github.com/prometheus/client_golang/prometheus"
)

// surfaces is what the HTTP surfaces are built from.
type surfaces struct {
	services       castellan.Services
	logger         *slog.Logger
	operatorTokens []string
	trustedProxies []netip.Prefix
	devMailbox     castellan.MailRenderer
	signIn         castellan.SignInPolicy
	collectors     []prometheus.Collector
	secureCookies  bool
	// bodyReadTimeout is --body-read-timeout (web.Config.BodyReadTimeout).
	bodyReadTimeout time.Duration
}

// frontDoorMessage is what a client that is no browser reads at /.
const frontDoorMessage = "nothing here: the API is under /v1 (described at /v1/openapi.json), the console at /console"

// handler puts every surface on one mux behind the shared plumbing: the
// REST API with the authorizer over its services, the console, the
// metrics, and the front door at / that sends browsers to the console.
// Errors outside any surface (no such route, a refused body, a missing
// token) are the API's problems.
func (cfg surfaces) handler() http.Handler {
	services := cfg.services
	plumbing := web.New(web.Config{Tokens: services.Tokens, Sessions: services.Sessions, Logger: cfg.logger,
		OperatorTokens: cfg.operatorTokens, TrustedProxies: cfg.trustedProxies, Collectors: cfg.collectors,
		BodyReadTimeout: cfg.bodyReadTimeout, Anonymous: anonymous, Errors: api.WriteProblem})
	mux := http.NewServeMux()
	authorizer := &authz.Authorizer{
		Grants: services.Grants, Groups: services.Groups, Roles: services.Roles, Projects: services.Projects,
		ServiceAccounts: services.ServiceAccounts, Catalog: services.Catalog, Now: castellan.SystemClock,
	}
	rest := api.New(mux, api.Config{Services: guard.New(services, authorizer), Decisions: guard.NewDecisions(authorizer), Version: version(), DevMailbox: cfg.devMailbox, Authorizer: authorizer})
	console.New(console.Config{Services: services, Web: plumbing, SignIn: cfg.signIn, SecureCookies: cfg.secureCookies}).Register(mux)
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
