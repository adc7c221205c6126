package web

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/castellan-iam/castellan"
)

// MaxBodyBytes is the largest request body the server reads.
const MaxBodyBytes = 1 << 20

// DefaultBodyReadTimeout is how long a client may take to send a request
// body when Config.BodyReadTimeout is zero.
const DefaultBodyReadTimeout = 30 * time.Second

// guardBody refuses bodies over MaxBodyBytes, bodies not sent within
// the body read timeout, JSON bodies that name a key twice in one object, and bodies and
// query parameters that are not UTF-8 or hold NUL bytes, before any
// handler sees them. JSON must be UTF-8 (RFC 8259), Go's decoder would
// otherwise quietly turn bad bytes into U+FFFD, and PostgreSQL refuses
// them in text.
//
// The body's read deadline is lifted once the body is read: net/http
// keeps reading the connection while the handler runs, and a deadline
// passing then cancels the request's context, which would abort a
// commit in progress and close a keep-alive connection under the client.
func (p *Plumbing) guardBody(next http.Handler) http.Handler {
	timeout := p.bodyReadTimeout
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for name, values := range r.URL.Query() {
			for _, v := range values {
				if !utf8.ValidString(name) || !utf8.ValidString(v) || strings.ContainsRune(v, 0) || strings.ContainsRune(name, 0) {
					p.errors(w, r, 0, &castellan.Error{
						Kind: castellan.EINVALID, Code: castellan.CodeInvalidUTF8, Message: "query parameters must be UTF-8 without NUL bytes",
						Fields: []castellan.FieldError{{Field: "query." + strings.ToValidUTF8(name, "?"), Rule: "utf8", Message: "must be UTF-8 without NUL bytes"}},
					})
					return
				}
			}
		}
		if r.Body == nil || r.Body == http.NoBody || p.streamingBody(r) {
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
			p.errors(w, r, 0, castellan.Errorf(castellan.ETOOLARGE, castellan.CodeBodyTooLarge,
				"request body is larger than %d bytes", MaxBodyBytes))
			return
		case err != nil:
			p.errors(w, r, 0, castellan.Errorf(castellan.EINVALID, castellan.CodeInvalidJSON, "request body could not be read"))
			return
		case !utf8.Valid(body):
			p.errors(w, r, 0, &castellan.Error{
				Kind: castellan.EINVALID, Code: castellan.CodeInvalidUTF8, Message: "request body is not valid UTF-8",
				Fields: []castellan.FieldError{{Field: "body", Rule: "utf8", Message: "must be UTF-8 encoded"}},
			})
			return
		}
		if isJSONBody(r) {
			if path := duplicateKey(body); path != "" {
				p.errors(w, r, 0, &castellan.Error{
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
