// Package api is Castellan's REST API: resource-oriented routes under /v1,
// problem+json errors, bearer-token authentication, request IDs, logs and
// metrics, and an OpenAPI 3.1 document generated from the Go types.
package api

import (
	"cmp"
	"crypto/sha256"
	"log/slog"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/castellan-iam/castellan"
	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Config is what a Server needs.
type Config struct {
	Services castellan.Services
	// Decisions answers the decision API (/v1/authorize): the guarded
	// service (guard.NewDecisions), which checks that the caller may ask.
	Decisions castellan.DecisionService
	// Authorizer decides the checks that handlers not yet behind the guard
	// still make themselves (allow, holds); it goes when they are.
	Authorizer castellan.Authorizer
	Logger     *slog.Logger
	// OperatorTokens are operator tokens accepted besides those in the
	// store (read from --operator-token-file).
	OperatorTokens []string
	// Version is reported in the OpenAPI document.
	Version string
	// TrustedProxies are the peers whose X-Forwarded-For and gateway
	// headers (X-Castellan-Source-Vpc, X-Castellan-Source-Vpc-Server) are
	// believed (--trusted-proxies); from any other peer they are ignored.
	TrustedProxies []netip.Prefix
	// DevMailbox, when set, serves GET /v1/dev/mailbox: the outbox's mails
	// rendered by it, for development without an SMTP server. Leave it
	// nil when mail is delivered.
	DevMailbox castellan.MailRenderer
	// ExchangePerKey and ExchangePerSource limit POST /v1/tokens per
	// access key ID and per client address; zero values take
	// DefaultExchangePerKey and DefaultExchangePerSource.
	ExchangePerKey, ExchangePerSource RateLimit
	// SignInPerSource limits console sign-in attempts per client address,
	// across accounts (the lockout counts per account); zero takes
	// DefaultSignInPerSource.
	SignInPerSource RateLimit
	// Collectors are more metrics for /metrics, such as the token
	// cache's.
	Collectors []prometheus.Collector
	// Clock drives the rate limits; nil means castellan.SystemClock.
	Clock castellan.Clock
	// SignIn is the console's sign-in policy: session timeouts and
	// lockout; the zero value means castellan.DefaultSignInPolicy.
	SignIn castellan.SignInPolicy
	// BodyReadTimeout bounds the time a client may take to send a
	// request body; zero means DefaultBodyReadTimeout. It ends when the
	// body is read: a slow handler is never cut short by it. Leave
	// http.Server.ReadTimeout zero, which would not end there.
	BodyReadTimeout time.Duration
	// SecureCookies makes every console cookie Secure (and
	// __Secure-prefixed), as when users reach the server over https
	// through a TLS-terminating proxy (an https --public-url). Without
	// it, cookies are Secure on requests that came over TLS, or whose
	// trusted proxy says X-Forwarded-Proto: https.
	SecureCookies bool
}

// Server is the HTTP API. It is an http.Handler.
type Server struct {
	services       castellan.Services
	authorizer     castellan.Authorizer
	decisions      castellan.DecisionService
	logger         *slog.Logger
	operatorHashes [][sha256.Size]byte
	devMailbox     castellan.MailRenderer
	signInPolicy   castellan.SignInPolicy
	secureCookies  bool
	trustedProxies []netip.Prefix
	metrics        *metrics
	exchangePerKey *keyedLimiter
	exchangePerIP  *keyedLimiter
	signInPerIP    *keyedLimiter
	signInKey      signInKey
	api            huma.API
	// mux names the route of requests answered before it (401s).
	mux     *http.ServeMux
	handler http.Handler
}

// installHumaSettings replaces huma's error constructors and makes its
// validation match JSON keys exactly; these are package variables of
// huma, set once per process.
var installHumaSettings sync.Once

// New builds the API with every route registered.
func New(cfg Config) *Server {
	s := &Server{services: cfg.Services, authorizer: cfg.Authorizer, decisions: cfg.Decisions, logger: cfg.Logger, metrics: newMetrics(cfg.Collectors...), devMailbox: cfg.DevMailbox,
		trustedProxies: cfg.TrustedProxies, secureCookies: cfg.SecureCookies}
	if s.logger == nil {
		s.logger = slog.Default()
	}
	if cfg.Clock == nil {
		cfg.Clock = castellan.SystemClock
	}
	s.exchangePerKey = newKeyedLimiter(cmp.Or(cfg.ExchangePerKey, DefaultExchangePerKey), cfg.Clock)
	s.exchangePerIP = newKeyedLimiter(cmp.Or(cfg.ExchangePerSource, DefaultExchangePerSource), cfg.Clock)
	s.signInPerIP = newKeyedLimiter(cmp.Or(cfg.SignInPerSource, DefaultSignInPerSource), cfg.Clock)
	s.signInPolicy = cfg.SignIn
	if s.signInPolicy == (castellan.SignInPolicy{}) {
		s.signInPolicy = castellan.DefaultSignInPolicy
	}
	for _, t := range cfg.OperatorTokens {
		s.operatorHashes = append(s.operatorHashes, sha256.Sum256([]byte(t)))
	}
	installHumaSettings.Do(func() {
		// Go's decoder matches keys case-insensitively, so {"NAME": …} and
		// {"name": …, "Name": …} would pass as name; refuse them instead.
		huma.ValidateStrictCasing = true
		huma.NewErrorWithContext = humaError
		huma.NewError = func(status int, msg string, errs ...error) huma.StatusError {
			return humaError(nil, status, msg, errs...)
		}
	})

	mux := http.NewServeMux()
	hcfg := huma.DefaultConfig("Castellan API", cfg.Version)
	hcfg.Info.Description = "Identity, access and organization service for cloud platforms. " +
		"Every call but the health and metrics endpoints needs an `Authorization: Bearer <token>` header. " +
		"Errors are RFC 9457 problem documents with a stable `code`."
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
	s.api = humago.New(mux, hcfg)
	s.mux = mux

	s.registerHealth(mux)
	s.registerInvitationPage(mux)
	s.registerConsole(mux)
	s.registerOrganizations()
	s.registerProjects()
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
	s.registerCatalog()
	s.registerMail()

	// Authentication comes before the body is read: anonymous clients get
	// their 401 without making the server buffer anything.
	s.handler = s.observe(s.authenticate(guardBody(cmp.Or(cfg.BodyReadTimeout, DefaultBodyReadTimeout), s.idempotent(recordRoute(mux)))))
	return s
}

// apiTags are the groups of operations in the OpenAPI document; every
// op's tag is one of them.
var apiTags = []*huma.Tag{
	{Name: "Organizations", Description: "Tenants: each organization holds its projects, users, groups, roles and grants, isolated from every other."},
	{Name: "Projects", Description: "Projects of an organization, the usual scope of grants, access keys and service accounts."},
	{Name: "Users", Description: "People of an organization: registration, invitations, passwords, console and API access."},
	{Name: "Groups", Description: "Named sets of users; a grant to a group applies to each member."},
	{Name: "Roles", Description: "Built-in and custom roles: sets of actions from the service catalogue."},
	{Name: "Grants", Description: "Bindings of a role to a user, group or service account on a scope (organization, project or resource)."},
	{Name: "Service accounts", Description: "Non-human principals of a project, with access keys and grants."},
	{Name: "Access keys", Description: "Key IDs and secrets of users and service accounts, exchanged for API tokens (at most 2 per owner and project)."},
	{Name: "Tokens", Description: "Short-lived bearer tokens: exchange of an access key, revocation."},
	{Name: "Decisions", Description: "Authorization decisions for other services: may this principal do this action on this resource, and why."},
	{Name: "Catalogue", Description: "The service catalogue: services, their actions, resource types and built-in roles."},
	{Name: "Audit", Description: "The audit log of an organization: every change, who made it and from where."},
	{Name: "Mail", Description: "The outbox of mails the store sends (invitations, password resets), and the development mailbox."},
	{Name: "Operations", Description: "Health, readiness and metrics, for operators and their probes; no token needed."},
}

// ServeHTTP serves the API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

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

type metrics struct {
	registry *prometheus.Registry
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	errors   *prometheus.CounterVec
}

func newMetrics(more ...prometheus.Collector) *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "castellan_http_requests_total", Help: "HTTP requests by method, route pattern and status.",
		}, []string{"method", "route", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "castellan_http_request_duration_seconds", Help: "HTTP request latency by method and route pattern.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"method", "route"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "castellan_http_errors_total", Help: "Problem answers by stable error code.",
		}, []string{"code"}),
	}
	m.registry.MustRegister(m.requests, m.duration, m.errors,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.registry.MustRegister(more...)
	return m
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{})
}
