package ncloud

import (
	"net/http"
	"strconv"
	"time"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/web"
)

// The gateway's authentication headers.
const (
	headerTimestamp = "x-ncp-apigw-timestamp"
	headerAccessKey = "x-ncp-iam-access-key"
	headerSignature = "x-ncp-apigw-signature-v2"
)

// MaxClockSkew is how far a request's timestamp may be from the server's
// clock, either way.
const MaxClockSkew = 5 * time.Minute

// stringToSign is what a client signs: the method, the request URI as
// sent (path and query), the timestamp and the access key, on three
// lines.
func stringToSign(method, requestURI, timestamp, accessKey string) string {
	return method + " " + requestURI + "\n" + timestamp + "\n" + accessKey
}

// timestampValid reports whether ts (milliseconds since the epoch) is
// within MaxClockSkew of now.
func timestampValid(ts string, now time.Time) bool {
	ms, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || ms < 0 {
		return false
	}
	skew := now.Sub(time.UnixMilli(ms))
	return skew <= MaxClockSkew && skew >= -MaxClockSkew
}

// authenticated verifies the signature of every request before next
// runs, with the key's owner as the principal of the request's context.
// Every failure is the same 401: which part was wrong is never said.
// Failures are counted per client address and per key and address; a
// caller over either limit gets 429 without a verification.
func (s *Server) authenticated(next func(w http.ResponseWriter, r *http.Request)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		source := web.SourceBucket(castellan.RequestInfoFrom(r.Context()).SourceIP)
		if blocked, wait := s.perSource.Blocked(source); blocked {
			rateLimited(w, r, wait)
			return
		}
		ts, key, sig := r.Header.Get(headerTimestamp), r.Header.Get(headerAccessKey), r.Header.Get(headerSignature)
		// A header that cannot be a key ID gets no bucket of its own: the
		// limiter would keep each one a stranger invents.
		if ts == "" || sig == "" || !castellan.ValidAccessKeyID(key) || !timestampValid(ts, s.now()) {
			s.perSource.Allow(source)
			authFailed(w, r)
			return
		}
		// Per key and address: key IDs are not secret, and a stranger's
		// failures must not spend the owner's allowance.
		keySource := key + " " + source
		if blocked, wait := s.perKey.Blocked(keySource); blocked {
			rateLimited(w, r, wait)
			return
		}
		message := stringToSign(r.Method, r.URL.RequestURI(), ts, key)
		principal, err := s.services.AccessKeys.VerifyAccessKeySignature(r.Context(), key, []byte(message), sig)
		if err != nil {
			if castellan.ErrorKind(err) == castellan.EUNAUTHENTICATED {
				s.perSource.Allow(source)
				s.perKey.Allow(keySource)
			}
			writeError(w, r, err)
			return
		}
		next(w, r.WithContext(castellan.WithPrincipal(r.Context(), principal)))
	})
}
