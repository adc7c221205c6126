package web

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

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
// plain-text 404 and 405 answers of http.ServeMux with errors rendered by
// the ErrorWriter.
type statusRecorder struct {
	http.ResponseWriter
	r           *http.Request
	errors      ErrorWriter
	status      int
	swallowBody bool
}

func (w *statusRecorder) WriteHeader(status int) {
	if w.status != 0 {
		return
	}
	w.status = status
	if rev := castellan.WrittenRevision(w.r.Context()); rev > 0 {
		// A write of this request committed: its revision is the
		// client's token to read it back on any replica.
		w.Header().Set(castellan.ConsistencyTokenHeader, strconv.FormatInt(rev, 10))
	}
	if status == http.StatusServiceUnavailable && w.Header().Get("Retry-After") == "" {
		// The store is out (EUNAVAILABLE): every surface, API or console,
		// tells the client when to come back.
		w.Header().Set("Retry-After", RetryAfter(storeRetryAfter))
	}
	if (status == http.StatusNotFound || status == http.StatusMethodNotAllowed) &&
		strings.HasPrefix(w.Header().Get("Content-Type"), "text/plain") {
		w.swallowBody = true
		w.Header().Del("X-Content-Type-Options")
		code, msg := castellan.CodeNotFound, "no such endpoint: "+w.r.Method+" "+w.r.URL.Path
		if status == http.StatusMethodNotAllowed {
			code, msg = castellan.CodeMethodNotAllowed, "method "+w.r.Method+" is not allowed on "+w.r.URL.Path
		}
		w.errors(w.ResponseWriter, w.r, status, castellan.Errorf(castellan.ENOTFOUND, code, "%s", msg))
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
// and the log, and turns panics into 500 errors. Requests refused before
// mux ran are counted under the route mux would have taken.
func (p *Plumbing) observe(mux *http.ServeMux, next http.Handler) http.Handler {
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
		logger := p.logger.With("request_id", id)
		info := p.requestSource(r)
		info.RequestID = id
		ctx := castellan.WithWriteRevisions(castellan.WithRequestInfo(r.Context(), info))
		route, code := new(string), new(string)
		ctx = context.WithValue(context.WithValue(ctx, loggerKey{}, logger), routeKey{}, route)
		ctx = context.WithValue(ctx, errorCodeKey{}, code)
		r = r.WithContext(ctx)
		rec := &statusRecorder{ResponseWriter: w, r: r, errors: p.errors}
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				logger.Error("panic", "panic", v, "stack", string(debug.Stack()))
				if rec.status == 0 {
					p.errors(rec, r, 0, fmt.Errorf("panic: %v", v))
				}
			}
			if *route == "" {
				// Refused before the mux ran (no token): name the route
				// it would have taken.
				_, *route = mux.Handler(r)
			}
			if *route == "" {
				*route = "unmatched"
			}
			if *code != "" {
				p.metrics.errors.WithLabelValues(*code).Inc()
			}
			elapsed := time.Since(start)
			method := metricMethod(r.Method)
			p.metrics.requests.WithLabelValues(method, *route, strconv.Itoa(rec.status)).Inc()
			p.metrics.duration.WithLabelValues(method, *route).Observe(elapsed.Seconds())
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

// errorCodeKey holds a *string where NoteErrorCode notes the code of the
// answer, for the errors metric.
type errorCodeKey struct{}

// NoteErrorCode records that the request of ctx is answered with the
// error code, for the errors metric (castellan_http_errors_total).
func NoteErrorCode(ctx context.Context, code string) {
	if noted, ok := ctx.Value(errorCodeKey{}).(*string); ok {
		*noted = code
	}
}

type loggerKey struct{}

// Logger returns the logger of the request of ctx, which names its
// request ID; slog.Default() outside a request.
func Logger(ctx context.Context) *slog.Logger {
	if l, ok := ctx.Value(loggerKey{}).(*slog.Logger); ok {
		return l
	}
	return slog.Default()
}

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
