package api

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"runtime/debug"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/castellan-iam/castellan"
)

// requestIDPattern is what an incoming X-Request-Id must look like to be
// kept; anything else is replaced, so logs never carry caller junk.
var requestIDPattern = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,64}$`)

func newRequestID() string {
	var b [12]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// statusRecorder remembers the status of a response, and replaces the
// plain-text 404 and 405 answers of http.ServeMux with problems.
type statusRecorder struct {
	http.ResponseWriter
	r           *http.Request
	status      int
	swallowBody bool
}

func (w *statusRecorder) WriteHeader(status int) {
	if w.status != 0 {
		return
	}
	w.status = status
	if status == http.StatusServiceUnavailable && w.Header().Get("Retry-After") == "" {
		// The store is out (EUNAVAILABLE): every surface, API or console,
		// tells the client when to come back.
		w.Header().Set("Retry-After", retryAfter(storeRetryAfter))
	}
	if (status == http.StatusNotFound || status == http.StatusMethodNotAllowed) &&
		strings.HasPrefix(w.Header().Get("Content-Type"), "text/plain") {
		w.swallowBody = true
		w.Header().Del("X-Content-Type-Options")
		code, msg := castellan.CodeNotFound, "no such endpoint: "+w.r.Method+" "+w.r.URL.Path
		kind := castellan.ENOTFOUND
		if status == http.StatusMethodNotAllowed {
			code, msg = castellan.CodeMethodNotAllowed, "method "+w.r.Method+" is not allowed on "+w.r.URL.Path
		}
		p := problemFor(w.r.Context(), castellan.Errorf(kind, code, "%s", msg))
		p.Status, p.Title = status, http.StatusText(status)
		w.Header().Set("Content-Type", "application/problem+json")
		w.ResponseWriter.WriteHeader(status)
		json.NewEncoder(w.ResponseWriter).Encode(p)
		return
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *statusRecorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if w.swallowBody {
		return len(b), nil
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection.
func (w *statusRecorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// observe gives every request an ID and a logger, records it in the metrics
// and the log, and turns panics into 500 problems.
func (s *Server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get("X-Request-Id")
		if !requestIDPattern.MatchString(id) {
			id = newRequestID()
		}
		w.Header().Set("X-Request-Id", id)
		// Answers carry secrets (generated passwords, key secrets, tokens)
		// and per-caller views: no cache may keep them.
		w.Header().Set("Cache-Control", "no-store")
		logger := s.logger.With("request_id", id)
		info := s.requestSource(r)
		info.RequestID = id
		ctx := castellan.WithRequestInfo(r.Context(), info)
		route, code := new(string), new(string)
		ctx = context.WithValue(context.WithValue(ctx, loggerKey{}, logger), routeKey{}, route)
		ctx = context.WithValue(ctx, problemCodeKey{}, code)
		r = r.WithContext(ctx)
		rec := &statusRecorder{ResponseWriter: w, r: r}
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				logger.Error("panic", "panic", v, "stack", string(debug.Stack()))
				if rec.status == 0 {
					writeProblem(rec, r, fmt.Errorf("panic: %v", v))
				}
			}
			if *route == "" {
				// Refused before the mux ran (no token): name the route
				// it would have taken.
				_, *route = s.mux.Handler(r)
			}
			if *route == "" {
				*route = "unmatched"
			}
			if *code != "" {
				s.metrics.errors.WithLabelValues(*code).Inc()
			}
			elapsed := time.Since(start)
			method := metricMethod(r.Method)
			s.metrics.requests.WithLabelValues(method, *route, strconv.Itoa(rec.status)).Inc()
			s.metrics.duration.WithLabelValues(method, *route).Observe(elapsed.Seconds())
			level := slog.LevelInfo
			if rec.status >= 500 {
				level = slog.LevelError
			}
			logger.Log(r.Context(), level, "request", "method", r.Method, "path", r.URL.Path, "route", *route,
				"status", rec.status, "duration_ms", float64(elapsed.Microseconds())/1000, "source_ip", info.SourceIP)
		}()
		next.ServeHTTP(rec, r)
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
	})
}

// metricMethod maps a request method to a fixed set, so that clients
// cannot create metric series at will.
func metricMethod(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions:
		return m
	}
	return "OTHER"
}

type routeKey struct{}

// problemCodeKey holds a *string where newProblem notes the code of the
// answer, for the errors metric.
type problemCodeKey struct{}

// recordRoute runs the mux and notes the pattern it matched for observe;
// the mux sets it on the request it was given, which observe never sees.
func recordRoute(mux http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if route, ok := r.Context().Value(routeKey{}).(*string); ok {
				*route = r.Pattern
			}
		}()
		mux.ServeHTTP(w, r)
	})
}

// MaxBodyBytes is the largest request body the API reads.
const MaxBodyBytes = 1 << 20

// DefaultBodyReadTimeout is how long a client may take to send a request
// body when Config.BodyReadTimeout is zero.
const DefaultBodyReadTimeout = 30 * time.Second

// guardBody refuses bodies over MaxBodyBytes, bodies not sent within
// timeout, JSON bodies that name a key twice in one object, and bodies and
// query parameters that are not UTF-8 or hold NUL bytes, before any
// handler sees them. JSON must be UTF-8 (RFC 8259), Go's decoder would
// otherwise quietly turn bad bytes into U+FFFD, and PostgreSQL refuses
// them in text.
//
// The body's read deadline is lifted once the body is read: net/http
// keeps reading the connection while the handler runs, and a deadline
// passing then cancels the request's context, which would abort a
// commit in progress and close a keep-alive connection under the client.
func guardBody(timeout time.Duration, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for name, values := range r.URL.Query() {
			for _, v := range values {
				if !utf8.ValidString(name) || !utf8.ValidString(v) || strings.ContainsRune(v, 0) || strings.ContainsRune(name, 0) {
					writeProblem(w, r, &castellan.Error{
						Kind: castellan.EINVALID, Code: castellan.CodeInvalidUTF8, Message: "query parameters must be UTF-8 without NUL bytes",
						Fields: []castellan.FieldError{{Field: "query." + strings.ToValidUTF8(name, "?"), Rule: "utf8", Message: "must be UTF-8 without NUL bytes"}},
					})
					return
				}
			}
		}
		if r.Body == nil || r.Body == http.NoBody {
			next.ServeHTTP(w, r)
			return
		}
		rc := http.NewResponseController(w)
		// Servers without deadlines (httptest's recorder) refuse; the
		// body is then read without one.
		_ = rc.SetReadDeadline(time.Now().Add(timeout))
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
		_ = rc.SetReadDeadline(time.Time{})
		var tooLarge *http.MaxBytesError
		switch {
		case errors.As(err, &tooLarge):
			writeProblem(w, r, castellan.Errorf(castellan.ETOOLARGE, castellan.CodeBodyTooLarge,
				"request body is larger than %d bytes", MaxBodyBytes))
			return
		case err != nil:
			writeProblem(w, r, castellan.Errorf(castellan.EINVALID, castellan.CodeInvalidJSON, "request body could not be read"))
			return
		case !utf8.Valid(body):
			writeProblem(w, r, &castellan.Error{
				Kind: castellan.EINVALID, Code: castellan.CodeInvalidUTF8, Message: "request body is not valid UTF-8",
				Fields: []castellan.FieldError{{Field: "body", Rule: "utf8", Message: "must be UTF-8 encoded"}},
			})
			return
		}
		if isJSONBody(r) {
			if path := duplicateKey(body); path != "" {
				writeProblem(w, r, &castellan.Error{
					Kind: castellan.EINVALID, Code: castellan.CodeDuplicateKey, Message: path + " appears twice in one object",
					Fields: []castellan.FieldError{{Field: path, Rule: "duplicateKey", Message: "must appear once in its object"}},
				})
				return
			}
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		next.ServeHTTP(w, r)
	})
}

// publicPaths answer without a token.
var publicPaths = map[string]bool{
	"/healthz": true, "/readyz": true, "/metrics": true,
	"/v1/openapi.json": true, "/v1/openapi.yaml": true, "/v1/openapi-3.0.json": true, "/v1/openapi-3.0.yaml": true,
	// The invitee has no token yet: the link's token is its credential.
	"/v1/invitations:accept": true, "/invitations/accept": true,
	// The access key's ID and secret in the body are the credential.
	"/v1/tokens": true,
	// The front door: a browser is sent on to the console.
	"/": true,
}

// authenticate resolves the bearer token of every non-public request to a
// principal, or answers 401. Operator tokens from --operator-token-file are
// checked in constant time before the store is asked.
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The console authenticates by its session cookie itself.
		if publicPaths[r.URL.Path] || isConsolePath(r.URL.Path) {
			next.ServeHTTP(w, r)
			return
		}
		token, ok := castellan.BearerToken(r.Header.Get("Authorization"))
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="castellan"`)
			writeProblem(w, r, castellan.Errorf(castellan.EUNAUTHENTICATED, castellan.CodeUnauthenticated,
				"this endpoint needs an Authorization: Bearer <token> header"))
			return
		}
		principal, err := s.principalFor(r, token)
		if err != nil {
			if castellan.ErrorKind(err) == castellan.EUNAUTHENTICATED {
				w.Header().Set("WWW-Authenticate", `Bearer realm="castellan", error="invalid_token"`)
			}
			writeProblem(w, r, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(castellan.WithPrincipal(r.Context(), principal)))
	})
}

func (s *Server) principalFor(r *http.Request, token string) (castellan.Principal, error) {
	sum := sha256.Sum256([]byte(token))
	for i, h := range s.operatorHashes {
		if subtle.ConstantTimeCompare(sum[:], h[:]) == 1 {
			return castellan.Principal{Type: castellan.PrincipalOperator, ID: "operator-token-file-" + strconv.Itoa(i)}, nil
		}
	}
	return s.services.Tokens.Authenticate(r.Context(), token)
}
