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
	"strings"
	"time"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/api"
	"github.com/castellan-iam/castellan/authz"
	"github.com/castellan-iam/castellan/compat/cloudru"
	"github.com/castellan-iam/castellan/compat/ncloud"
	"github.com/castellan-iam/castellan/console"
	"github.com/castellan-iam/castellan/decisionlog"
	"github.com/castellan-iam/castellan/guard"
	"github.com/castellan-iam/castellan/scim"
	"github.com/castellan-iam/castellan/sso"
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
	// PublicURL is where browsers and clients reach the server, for the
	// console's single sign-on redirect URIs (console.Config) and SCIM
	// resources' locations.
	PublicURL string
	// SSO is the console's single sign-on client; nil makes one.
	SSO *sso.Client
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
	// Revisions is how far this process has applied the change log (its
	// changefeed.Feed): a request with a Consistency-Token, or a decision
	// with minRevision, waits until it has applied that revision, at most
	// ConsistencyWait (zero means web.DefaultConsistencyWait); decisions
	// report the revision they reflect. Required.
	Revisions       api.Revisions
	ConsistencyWait time.Duration
	// DecisionLog, when set, records the Authorizer's decisions (those of
	// the decision API and of the guard's own checks); nil records none.
	DecisionLog *decisionlog.Log
	// CloudruPrefix, when set, serves the customer users / permissions
	// API there (package compat/cloudru); empty turns it off.
	CloudruPrefix string
}

// frontDoorMessage is what a client that is no browser reads at /.
const frontDoorMessage = "nothing here: the API is under /v1 (described at /v1/openapi.json, read at /docs), the console at /console"

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
	if cfg.DecisionLog != nil {
		authorizer = cfg.DecisionLog.Wrap(authorizer)
	}
	services := guard.New(raw, authorizer)
	compat := compatSurfaces(cfg)
	plumbing := web.New(web.Config{Tokens: services.Tokens, Sessions: services.Sessions, Logger: cfg.Logger,
		OperatorTokens: cfg.OperatorTokens, TrustedProxies: cfg.TrustedProxies, Collectors: cfg.Collectors,
		BodyReadTimeout: cfg.BodyReadTimeout, Anonymous: compat.anonymous(anonymous), StreamingBody: api.StreamingBody,
		Errors: compat.errors(api.WriteProblem), Revisions: cfg.Revisions, ConsistencyWait: cfg.ConsistencyWait})
	mux := http.NewServeMux()
	decisions := guard.NewDecisions(raw, authorizer)
	rest := api.New(mux, api.Config{Services: services, Decisions: decisions,
		Version: cfg.Version, DevMailbox: cfg.DevMailbox, Clock: cfg.Clock, Revisions: cfg.Revisions, ConsistencyWait: cfg.ConsistencyWait})
	console.New(console.Config{Services: services, Decisions: decisions, DevMailbox: cfg.DevMailbox, Web: plumbing, SignIn: cfg.SignIn, SignInPerSource: cfg.SignInPerSource,
		Clock: cfg.Clock, SecureCookies: cfg.SecureCookies, PublicURL: cfg.PublicURL, SSO: cfg.SSO}).Register(mux)
	if cfg.NcloudPrefix != "" {
		sub := ncloud.New(ncloud.Config{Services: services, Prefix: cfg.NcloudPrefix, Clock: cfg.Clock})
		sub.Register(mux)
		sub.Document(rest.OpenAPI())
	}
	if cfg.CloudruPrefix != "" {
		customers := cloudru.New(cloudru.Config{Services: services, Web: plumbing, Prefix: cfg.CloudruPrefix})
		customers.Register(mux)
		customers.Document(rest.OpenAPI())
	}
	scim.New(services, cfg.PublicURL).Register(mux)
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

// compatSurface is a compatibility API's hold on the paths under its
// prefix: they are anonymous to the plumbing (the API authenticates its
// callers and answers its own 401s) and the plumbing's own errors there
// (no such route, a refused body) take the API's error shape.
type compatSurface struct {
	prefix     string
	writeError web.ErrorWriter
}

type compatList []compatSurface

// compatSurfaces are the compatibility APIs cfg turns on.
func compatSurfaces(cfg Config) compatList {
	// SCIM is always on: its errors take the SCIM shape.
	cs := compatList{{scim.Prefix, scim.WriteError}}
	if cfg.NcloudPrefix != "" {
		cs = append(cs, compatSurface{cfg.NcloudPrefix, ncloud.WriteError})
	}
	if cfg.CloudruPrefix != "" {
		cs = append(cs, compatSurface{cfg.CloudruPrefix, cloudru.WriteError})
	}
	return cs
}

// owner returns the surface whose prefix path is under, if any.
func (cs compatList) owner(path string) (compatSurface, bool) {
	for _, c := range cs {
		if path == c.prefix || strings.HasPrefix(path, c.prefix+"/") {
			return c, true
		}
	}
	return compatSurface{}, false
}

// anonymous adds the surfaces' paths to base.
func (cs compatList) anonymous(base func(string) bool) func(string) bool {
	return func(path string) bool {
		_, owned := cs.owner(path)
		return owned || base(path)
	}
}

// errors renders the plumbing's errors on a surface's paths in its shape,
// elsewhere with base.
func (cs compatList) errors(base web.ErrorWriter) web.ErrorWriter {
	return func(w http.ResponseWriter, r *http.Request, status int, err error) {
		if c, owned := cs.owner(r.URL.Path); owned {
			c.writeError(w, r, status, err)
			return
		}
		base(w, r, status, err)
	}
}
