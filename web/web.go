// Package web is the HTTP plumbing every surface of Castellan shares:
// request IDs, logs and metrics of every request, the client's address
// behind trusted proxies, the request body's limits, rate limits, the
// security headers of server-rendered pages, and the authentication of
// bearer tokens and console sessions, which put the castellan.Principal
// and castellan.RequestInfo into the request's context.
//
// It knows no surface: the REST API (package api), the console (package
// console) and whatever comes next register their routes on one
// http.ServeMux that cmd/castellan wraps with Plumbing.Handler, and each
// surface renders its own errors. Errors of the plumbing itself (no such
// route, a refused body, a missing token, a panic) are rendered by the
// ErrorWriter it is given.
package web

import (
	"cmp"
	"crypto/sha256"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/castellan-iam/castellan"
	"github.com/prometheus/client_golang/prometheus"
)

// ErrorWriter renders err as an answer. A status other than 0 replaces
// the one err's kind maps to (405 has no kind of its own).
type ErrorWriter func(w http.ResponseWriter, r *http.Request, status int, err error)

// Config is what Plumbing needs.
type Config struct {
	// Tokens checks bearer tokens; Sessions checks console sessions.
	Tokens   castellan.TokenService
	Sessions castellan.SessionService
	Logger   *slog.Logger
	// OperatorTokens are operator tokens accepted besides those in the
	// store (read from --operator-token-file).
	OperatorTokens []string
	// TrustedProxies are the peers whose X-Forwarded-For,
	// X-Forwarded-Proto and gateway headers (X-Castellan-Source-Vpc,
	// X-Castellan-Source-Vpc-Server) are believed (--trusted-proxies);
	// from any other peer they are ignored.
	TrustedProxies []netip.Prefix
	// Collectors are more metrics for /metrics, such as the token
	// cache's.
	Collectors []prometheus.Collector
	// BodyReadTimeout bounds the time a client may take to send a
	// request body; zero means DefaultBodyReadTimeout. It ends when the
	// body is read: a slow handler is never cut short by it. Leave
	// http.Server.ReadTimeout zero, which would not end there.
	BodyReadTimeout time.Duration
	// Anonymous reports whether a request path is answered without a
	// bearer token: the surface authenticates it itself (a console page,
	// with its session cookie) or needs no caller (health, the token
	// exchange, whose credential is in the body).
	Anonymous func(path string) bool
	// Errors renders the plumbing's own errors.
	Errors ErrorWriter
	// Revisions is how far this process has applied the change log; an
	// authenticated request with a Consistency-Token waits until it has
	// applied the token's revision, at most ConsistencyWait (zero means
	// DefaultConsistencyWait). Required.
	Revisions       Revisions
	ConsistencyWait time.Duration
}

// Plumbing is the HTTP machinery every surface shares.
type Plumbing struct {
	tokens          castellan.TokenService
	sessions        castellan.SessionService
	logger          *slog.Logger
	operatorHashes  [][sha256.Size]byte
	trustedProxies  []netip.Prefix
	metrics         *metrics
	bodyReadTimeout time.Duration
	anonymous       func(string) bool
	errors          ErrorWriter
	revisions       Revisions
	consistencyWait time.Duration
}

// New builds the plumbing of cfg.
func New(cfg Config) *Plumbing {
	p := &Plumbing{tokens: cfg.Tokens, sessions: cfg.Sessions, logger: cfg.Logger, trustedProxies: cfg.TrustedProxies,
		metrics: newMetrics(cfg.Collectors...), bodyReadTimeout: cmp.Or(cfg.BodyReadTimeout, DefaultBodyReadTimeout),
		anonymous: cfg.Anonymous, errors: cfg.Errors,
		revisions: cfg.Revisions, consistencyWait: cmp.Or(cfg.ConsistencyWait, DefaultConsistencyWait)}
	if p.logger == nil {
		p.logger = slog.Default()
	}
	if p.anonymous == nil {
		p.anonymous = func(string) bool { return false }
	}
	for _, t := range cfg.OperatorTokens {
		p.operatorHashes = append(p.operatorHashes, sha256.Sum256([]byte(t)))
	}
	return p
}

// Handler serves mux behind the plumbing: every request gets an ID, a
// logger, its source and a line in the log and the metrics; requests for
// paths that are not anonymous need a bearer token, and get their
// principal, before their body is read, so that anonymous clients get
// their 401 without making the server buffer anything; then the body is
// read and checked. inner wraps the mux, innermost last (such as the
// API's idempotency keys, which need the principal and the body).
func (p *Plumbing) Handler(mux *http.ServeMux, inner ...func(http.Handler) http.Handler) http.Handler {
	var h http.Handler = recordRoute(mux)
	for i := len(inner) - 1; i >= 0; i-- {
		h = inner[i](h)
	}
	return p.observe(mux, p.authenticate(p.guardBody(h)))
}

// MetricsHandler serves the metrics in the Prometheus text format.
func (p *Plumbing) MetricsHandler() http.Handler { return p.metrics.handler() }

// FrontDoor answers the server's root: a browser (it accepts HTML) goes
// to browse; any other client gets a not-found error saying msg.
func (p *Plumbing) FrontDoor(browse, msg string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.Header.Get("Accept"), "text/html") {
			SeeOther(w, browse)
			return
		}
		p.errors(w, r, 0, castellan.Errorf(castellan.ENOTFOUND, castellan.CodeNotFound, "%s", msg))
	}
}

// SeeOther redirects a browser to path with 303.
func SeeOther(w http.ResponseWriter, path string) {
	w.Header().Set("Location", path)
	w.WriteHeader(http.StatusSeeOther)
}
