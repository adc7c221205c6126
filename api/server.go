// Package api is Castellan's REST API: resource-oriented routes under /v1,
// problem+json errors, idempotency keys, and an OpenAPI 3.1 document
// generated from the Go types. Request IDs, logs, metrics, client
// addresses and bearer tokens are package web's.
package api

import (
	"cmp"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/web"
	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"
)

// Config is what a Server needs.
type Config struct {
	Services castellan.Services
	// Decisions answers the decision API (/v1/authorize): the guarded
	// service (guard.NewDecisions), which checks that the caller may ask.
	Decisions castellan.DecisionService
	// Version is reported in the OpenAPI document.
	Version string
	// DevMailbox, when set, serves GET /v1/dev/mailbox: the outbox's mails
	// rendered by it, for development without an SMTP server. Leave it
	// nil when mail is delivered.
	DevMailbox castellan.MailRenderer
	// ExchangePerKey and ExchangePerSource limit POST /v1/tokens per
	// access key ID and per client address; zero values take
	// DefaultExchangePerKey and DefaultExchangePerSource.
	ExchangePerKey, ExchangePerSource web.RateLimit
	// Clock drives the rate limits and the periods of the decision log
	// ("since 90d"); nil means castellan.SystemClock.
	Clock castellan.Clock
	// Revisions is how far this process has applied the change log (the
	// change feed): a decision reports the revision it reflects, and
	// waits for the minRevision its request names, at most
	// ConsistencyWait (zero means web.DefaultConsistencyWait). Required.
	Revisions       Revisions
	ConsistencyWait time.Duration
}

// Revisions is what the decision API needs of the change feed.
type Revisions interface {
	web.Revisions
	// Reflected returns the newest revision every in-memory derivative
	// of the store reflects: a decision made after the call reflects
	// every write up to it.
	Reflected() int64
}

// Default limits of POST /v1/tokens. A program exchanges its key once an
// hour; these leave room for many replicas of it and for retries, and stop
// a runaway client from turning the exchange, a write, into a flood.
var (
	DefaultExchangePerKey    = web.RateLimit{PerSecond: 1, Burst: 10}
	DefaultExchangePerSource = web.RateLimit{PerSecond: 20, Burst: 100}
)

// Server is the REST API, registered on a mux that web.Plumbing serves.
type Server struct {
	services        castellan.Services
	decisions       castellan.DecisionService
	revisions       Revisions
	consistencyWait time.Duration
	devMailbox      castellan.MailRenderer
	clock           castellan.Clock
	exchangePerKey  *web.Limiter
	exchangePerIP   *web.Limiter
	api             huma.API
}

// installHumaSettings replaces huma's error constructors and makes its
// validation match JSON keys exactly. huma (v2.37) has no per-API error
// constructor: NewError and NewErrorWithContext are package variables,
// and a per-API Transformer sees a body after its status is chosen (huma
// would answer 422 where the API says 400). So they are set once per
// process, and this package is the only user of huma in Castellan: the
// console and any other surface render their own errors without it, and
// so never inherit problem+json.
var installHumaSettings sync.Once

// New builds the API and registers every route of it on mux: /v1, the
// OpenAPI document, /healthz and /readyz. The caller serves mux behind
// web.Plumbing, with Idempotent around it, and serves GET /metrics, which
// the document describes.
func New(mux *http.ServeMux, cfg Config) *Server {
	s := &Server{services: cfg.Services, decisions: cfg.Decisions, devMailbox: cfg.DevMailbox, clock: cfg.Clock,
		revisions: cfg.Revisions, consistencyWait: cmp.Or(cfg.ConsistencyWait, web.DefaultConsistencyWait)}
	if s.clock == nil {
		s.clock = castellan.SystemClock
	}
	s.exchangePerKey = web.NewLimiter(cmp.Or(cfg.ExchangePerKey, DefaultExchangePerKey), cfg.Clock)
	s.exchangePerIP = web.NewLimiter(cmp.Or(cfg.ExchangePerSource, DefaultExchangePerSource), cfg.Clock)
	installHumaSettings.Do(func() {
		// Go's decoder matches keys case-insensitively, so {"NAME": …} and
		// {"name": …, "Name": …} would pass as name; refuse them instead.
		huma.ValidateStrictCasing = true
		huma.NewErrorWithContext = humaError
		huma.NewError = func(status int, msg string, errs ...error) huma.StatusError {
			return humaError(nil, status, msg, errs...)
		}
	})

	hcfg := huma.DefaultConfig("Castellan API", cfg.Version)
	hcfg.Info.Description = "Identity, access and organization service for cloud platforms. " +
		"Every call but the health and metrics endpoints needs an `Authorization: Bearer <token>` header. " +
		"Errors are RFC 9457 problem documents with a stable `code`. " +
		"An answer to a request whose write committed carries a `Consistency-Token` header (the write's revision); " +
		"send it back in the same header on any request, to any replica, to be answered only once that replica has applied the write " +
		"(bounded wait, else 503 `revision.not_applied` with Retry-After)."
	hcfg.Info.License = &huma.License{Name: "Apache-2.0", Identifier: "Apache-2.0"}
	hcfg.Info.Contact = &huma.Contact{Name: "Castellan", URL: "https://github.com/castellan-iam/castellan"}
	hcfg.Servers = []*huma.Server{{URL: "http://127.0.0.1:8080", Description: "The default address of `castellan serve`; use your deployment's URL."}}
	hcfg.Tags = apiTags
	hcfg.OpenAPIPath = "/v1/openapi"
	hcfg.DocsPath = ""
	hcfg.SchemasPath = ""
	hcfg.CreateHooks = nil // no $schema links in responses
	hcfg.RejectUnknownQueryParameters = true
	hcfg.Components.SecuritySchemes = map[string]*huma.SecurityScheme{
		"bearer": {Type: "http", Scheme: "bearer", Description: "An API token: from `castellan bootstrap`, or an operator token."},
	}
	hcfg.Security = []map[string][]string{{"bearer": {}}}
	hcfg.OnAddOperation = append(hcfg.OnAddOperation, documentErrors, documentIdempotency)
	s.api = humago.New(newCustomMethodMux(mux), hcfg)

	s.registerHealth()
	s.registerOrganizations()
	s.registerProjects()
	s.registerOrgUnits()
	s.registerHierarchy()
	s.registerAccounts()
	s.registerAudit()
	s.registerGroups()
	s.registerUsers()
	s.registerGrants()
	s.registerSubjectRoles()
	s.registerRoles()
	s.registerServiceAccounts()
	s.registerAccessKeys()
	s.registerMFA()
	s.registerSessions()
	s.registerAuthorize()
	s.registerLookups()
	s.registerSimulate()
	s.registerCatalog()
	s.registerMail()
	s.registerControlPolicies()
	s.registerAccountMemberships()
	s.registerRoleIdentities()
	s.registerFederations()
	s.registerSCIMTokens()
	s.registerImport()
	s.registerDecisionLog()
	s.registerDocs(mux)
	return s
}

// anonymousPaths answer without a token.
var anonymousPaths = map[string]bool{
	"/healthz": true, "/readyz": true,
	"/v1/openapi.json": true, "/v1/openapi.yaml": true, "/v1/openapi-3.0.json": true, "/v1/openapi-3.0.yaml": true,
	DocsPath: true,
	// The invitee has no token yet: the link's token is its credential.
	"/v1/invitations:accept": true,
	// The access key's ID and secret in the body are the credential.
	"/v1/tokens": true,
}

// Anonymous reports whether the API answers path without a bearer token
// (for web.Config.Anonymous); every other path of it needs one.
func Anonymous(path string) bool { return anonymousPaths[path] }

// apiTags are the groups of operations in the OpenAPI document; every
// op's tag is one of them.
var apiTags = []*huma.Tag{
	{Name: "Organizations", Description: "Tenants: each organization holds its projects, users, groups, roles and grants, isolated from every other."},
	{Name: "Projects", Description: "Projects of an organization, the usual scope of grants, access keys and service accounts."},
	{Name: "Organizational units", Description: "Organizational units: the levels (at most 5 below the root) that group OUs, accounts and projects under grants and control policies."},
	{Name: "Hierarchy", Description: "The organization's tree of root, OUs, accounts and projects: the hierarchy view, a node's details and its sub-items."},
	{Name: "Accounts", Description: "Accounts of an organization under its root or OUs, each with a root user, its projects, and the preconditions of its exclusion and deletion."},
	{Name: "Users", Description: "People of an organization: registration, invitations, passwords, console and API access."},
	{Name: "Groups", Description: "Named sets of users; a grant to a group applies to each member."},
	{Name: "Roles", Description: "Built-in and custom roles: sets of actions from the service catalogue."},
	{Name: "Grants", Description: "Bindings of a role to a user, group or service account on a scope (the organization root, an OU, an account, a project or a resource)."},
	{Name: "Federations", Description: "OpenID Connect identity providers the organization's federated users sign in with; a federation's ID is what users give at sign-in."},
	{Name: "SCIM tokens", Description: "Bearer tokens identity providers provision the organization's users and groups with over SCIM 2.0, at /scim/v2/organizations/{org}."},
	{Name: "Role identities", Description: "Assumable roles (principal type IamRole) of servers, federated users, cloud services and the organization's users, and their sessions with the source identity that assumed them."},
	{Name: "Service accounts", Description: "Non-human principals of a project, with access keys and grants."},
	{Name: "Access keys", Description: "Key IDs and secrets of users and service accounts, exchanged for API tokens (at most 2 per owner and project)."},
	{Name: "Tokens", Description: "Short-lived bearer tokens: exchange of an access key, revocation."},
	{Name: "Decisions", Description: "Authorization decisions for other services: may this principal do this action on this resource, and why."},
	{Name: "Control policies", Description: "Cedar guardrails attached to the root, OUs and accounts: an action below the root needs a permit and no forbid at every level from the root down."},
	{Name: "Catalogue", Description: "The service catalogue: services, their actions, resource types and built-in roles."},
	{Name: "Audit", Description: "The audit log of an organization: every change, who made it and from where."},
	{Name: "Mail", Description: "The outbox of mails the store sends (invitations, password resets), and the development mailbox."},
	{Name: "Operations", Description: "Health, readiness and metrics, for operators and their probes; no token needed."},
}

// OpenAPI returns the OpenAPI document of the API.
func (s *Server) OpenAPI() *huma.OpenAPI { return s.api.OpenAPI() }

// documentErrors makes the OpenAPI document say what the API does: invalid
// input is 400 (huma would document 422), and an operation with a body may
// also answer 413 (body over MaxBodyBytes) and 415 (body not JSON).
func documentErrors(_ *huma.OpenAPI, op *huma.Operation) {
	delete(op.Responses, "422")
	bad, ok := op.Responses["400"]
	if !ok || op.RequestBody == nil {
		return
	}
	for _, status := range []int{http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType} {
		op.Responses[strconv.Itoa(status)] = &huma.Response{Description: http.StatusText(status), Content: bad.Content}
	}
}
