// Package ncloud serves the sub-account API of a public cloud's IAM
// (seeds 002 and 004): POST /sub-accounts and GET /users/{subAccountId}
// under a prefix, authenticated as that platform's API gateway does it
// (an access key and an HMAC-SHA256 signature of the request), with the
// platform's error bodies and codes.
//
// It is a thin adapter over the guarded services it is given: it
// translates the wire format in and castellan errors out, and holds no
// rule of the core. Its paths are anonymous to the plumbing
// (web.Config.Anonymous): it authenticates each request itself, so that
// a refusal has the platform's shape.
package ncloud

import (
	"cmp"
	"net/http"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/web"
)

// DefaultPrefix is where castellan serve mounts the API unless told
// otherwise.
const DefaultPrefix = "/compat/ncloud/api/v1"

// Config is what a Server needs.
type Config struct {
	// Services are the guarded services (guard.New): every decision is
	// theirs.
	Services castellan.Services
	// Prefix is the path the API is mounted under; empty means
	// DefaultPrefix.
	Prefix string
	// Clock is the server's clock, against which request timestamps are
	// checked; nil means castellan.SystemClock.
	Clock castellan.Clock
	// FailuresPerKey and FailuresPerSource limit failed authentications
	// per access key and client address, and per client address; zero
	// values take DefaultFailuresPerKey and DefaultFailuresPerSource.
	FailuresPerKey, FailuresPerSource web.RateLimit
}

// Default limits of failed authentications: those of the token exchange
// (api.DefaultExchangePerKey, api.DefaultExchangePerSource). Every signed
// request verifies, so a limit on all of them would cap a busy client;
// only failures count, which is what a guessing or flooding caller
// makes. Once over, every request of that key and address (or address)
// is refused with 429 until the bucket refills, without verifying.
var (
	DefaultFailuresPerKey    = web.RateLimit{PerSecond: 1, Burst: 10}
	DefaultFailuresPerSource = web.RateLimit{PerSecond: 20, Burst: 100}
)

// Server is the sub-account API.
type Server struct {
	services  castellan.Services
	prefix    string
	now       castellan.Clock
	perKey    *web.Limiter
	perSource *web.Limiter
}

// New builds the API of cfg.
func New(cfg Config) *Server {
	s := &Server{services: cfg.Services, prefix: cmp.Or(cfg.Prefix, DefaultPrefix), now: cfg.Clock}
	if s.now == nil {
		s.now = castellan.SystemClock
	}
	s.perKey = web.NewLimiter(cmp.Or(cfg.FailuresPerKey, DefaultFailuresPerKey), s.now)
	s.perSource = web.NewLimiter(cmp.Or(cfg.FailuresPerSource, DefaultFailuresPerSource), s.now)
	return s
}

// Register adds the API's routes to mux.
func (s *Server) Register(mux *http.ServeMux) {
	mux.Handle("POST "+s.prefix+"/sub-accounts", s.authenticated(s.createSubAccount))
	mux.Handle("GET "+s.prefix+"/users/{subAccountId}", s.authenticated(s.getUser))
}
