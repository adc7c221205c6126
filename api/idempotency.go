package api

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/web"
	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"
)

// IdempotencyKeyHeader names the key a client gives a POST so that
// retrying it is safe.
const IdempotencyKeyHeader = "Idempotency-Key"

// idempotencyKeyPattern is what a key must look like: 1 to
// castellan.MaxIdempotencyKeyLength printable ASCII characters.
var idempotencyKeyPattern = regexp.MustCompile(fmt.Sprintf(`^[ -~]{1,%d}$`, castellan.MaxIdempotencyKeyLength))

// replayedAnswerHeaders are the headers of an answer that are stored and
// replayed with its status and body; the others are the server's and
// the new request's own (request ID, cache control).
var replayedAnswerHeaders = []string{"Content-Type", "Location"}

// anonymousCaller is the caller type of idempotency keys sent on POSTs
// that need no token (token exchange, invitation acceptance): their
// credential is in the body, so the body's hash stands for the caller.
const anonymousCaller castellan.PrincipalType = "anonymous"

// idempotentRequest is a POST with an Idempotency-Key.
type idempotentRequest struct {
	marker castellan.IdempotencyMarker
	// answerKey seals the stored answer. It is derived from the key,
	// which the store never sees, so the store holds no secret (a token,
	// an access key's secret, a generated password) in a form anybody
	// without the key could read.
	answerKey []byte
}

// newIdempotentRequest derives from the key and the request: the key's
// hash (the store's lookup), the request's hash (keyed by the key, so a
// hash of a body holding a password cannot be tested against guesses by
// whoever reads the store) and the key that seals the answer.
func newIdempotentRequest(ctx context.Context, key string, r *http.Request, body []byte) idempotentRequest {
	derive := func(label string) []byte {
		m := hmac.New(sha256.New, []byte(key))
		m.Write([]byte("castellan idempotency " + label))
		return m.Sum(nil)
	}
	mac := hmac.New(sha256.New, derive("request"))
	fmt.Fprintf(mac, "%s %s\n", r.Method, r.URL.RequestURI())
	mac.Write(body)
	requestHash := hex.EncodeToString(mac.Sum(nil))
	k := castellan.IdempotencyKey{CallerType: anonymousCaller, CallerID: requestHash, KeyHash: hex.EncodeToString(derive("lookup"))}
	if p, ok := castellan.PrincipalFrom(ctx); ok {
		k.OrganizationID, k.CallerType, k.CallerID = p.OrganizationID, p.Type, p.ID
	}
	return idempotentRequest{
		marker:    castellan.IdempotencyMarker{ID: uuid.Must(uuid.NewV7()).String(), Key: k, RequestHash: requestHash},
		answerKey: derive("answer"),
	}
}

// Idempotent makes every POST of the API that carries an Idempotency-Key
// safe to retry. Within castellan.IdempotencyWindow, a request whose key
// its caller used before gets the first answer again (status, body,
// Content-Type and Location, and Idempotent-Replayed: true) without
// running, if it is the same request (method, path and body), or a 422
// if it is not. A request whose key is new runs with a marker in its
// context: its write transaction records the key in the same commit, and
// its answer is stored afterwards.
//
// Only requests that committed a write are recorded: an answer that
// changed nothing (any refusal, a read such as /v1/authorize) is not
// stored, since running the request again is safe. A write that
// committed but whose answer was never stored (the server stopped in
// between) is not run again: its retries get 409
// idempotency.outcome_committed with its revision.
func (s *Server) Idempotent(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		keys, ok := r.Header[IdempotencyKeyHeader]
		if !ok || r.Method != http.MethodPost || !strings.HasPrefix(r.URL.Path, "/v1/") {
			next.ServeHTTP(w, r)
			return
		}
		if len(keys) != 1 || !idempotencyKeyPattern.MatchString(keys[0]) {
			writeProblem(w, r, &castellan.Error{
				Kind: castellan.EINVALID, Code: castellan.CodeInvalidField,
				Message: fmt.Sprintf("header.Idempotency-Key: must be one header of 1 to %d printable ASCII characters", castellan.MaxIdempotencyKeyLength),
				Fields: []castellan.FieldError{{Field: "header." + IdempotencyKeyHeader, Rule: "pattern",
					Message: fmt.Sprintf("must be one header of 1 to %d printable ASCII characters", castellan.MaxIdempotencyKeyLength)}},
			})
			return
		}
		var body []byte
		if r.Body != nil {
			var err error
			// web.Plumbing has read and bounded the body already.
			if body, err = io.ReadAll(r.Body); err != nil {
				writeProblem(w, r, castellan.Errorf(castellan.EINVALID, castellan.CodeInvalidJSON, "request body could not be read"))
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		req := newIdempotentRequest(r.Context(), keys[0], r, body)
		rec, err := s.services.Idempotency.FindIdempotencyRecord(r.Context(), req.marker.Key)
		switch {
		case err == nil:
			s.replay(w, r, req, rec)
			return
		case castellan.ErrorKind(err) != castellan.ENOTFOUND:
			writeProblem(w, r, err)
			return
		}
		captured := &capturedAnswer{w: w}
		next.ServeHTTP(captured, r.WithContext(castellan.WithIdempotency(r.Context(), req.marker)))
		s.keepAnswer(w, r, req, captured)
	})
}

// keepAnswer stores the answer of a request that committed its write,
// and sends it. When another request with the key committed first (the
// store then refused this one's write), the caller gets what a retry
// would get.
func (s *Server) keepAnswer(w http.ResponseWriter, r *http.Request, req idempotentRequest, captured *capturedAnswer) {
	ctx := context.WithoutCancel(r.Context()) // the write is done: store its answer even if the client left
	rec, err := s.services.Idempotency.FindIdempotencyRecord(ctx, req.marker.Key)
	switch {
	case castellan.ErrorKind(err) == castellan.ENOTFOUND:
		// Nothing was written: a retry may run again.
	case err != nil:
		web.Logger(ctx).Error("find idempotency record", "err", err)
	case rec.ID == req.marker.ID:
		sealed, err := sealAnswer(req.answerKey, captured.answer(w.Header()))
		if err == nil {
			_, err = s.services.Idempotency.SaveIdempotentAnswer(ctx, req.marker, sealed)
		}
		if err != nil {
			// The client still gets its answer; a retry gets
			// idempotency.outcome_committed.
			web.Logger(ctx).Error("save idempotent answer", "err", err)
		}
	case rec.RequestHash != req.marker.RequestHash || rec.Answer != "":
		s.replay(w, r, req, rec)
		return
	default:
		// The first request is storing its answer (the handler's
		// idempotency.in_progress): it is there in a moment.
		w.Header().Set("Retry-After", "1")
	}
	captured.send()
}

// replay answers a request whose key has a record.
func (s *Server) replay(w http.ResponseWriter, r *http.Request, req idempotentRequest, rec *castellan.IdempotencyRecord) {
	field := []castellan.FieldError{{Field: "header." + IdempotencyKeyHeader, Rule: "idempotency", Message: "was used for another request in the last 24 hours"}}
	if rec.RequestHash == req.marker.RequestHash {
		// The answer names the first request's write, as it did then.
		castellan.NoteWriteRevision(r.Context(), rec.Revision)
	}
	switch {
	case rec.RequestHash != req.marker.RequestHash:
		writeProblem(w, r, newProblem(r.Context(), http.StatusUnprocessableEntity, castellan.CodeIdempotencyKeyReused,
			"this Idempotency-Key was used in the last 24 hours for another request (method, path or body differ); use a new key for a new request", field))
		return
	case rec.Answer == "":
		w.Header().Set("Retry-After", "1")
		writeProblem(w, r, castellan.Errorf(castellan.ECONFLICT, castellan.CodeIdempotencyOutcomeCommitted,
			"the first request with this Idempotency-Key committed its write at revision %d, but its answer was not stored "+
				"(it is being stored now, or its server stopped first); the write is not run again: retry in a moment to get the answer, or read what it wrote",
			rec.Revision))
		return
	}
	a, err := openAnswer(req.answerKey, rec.Answer)
	if err != nil {
		writeProblem(w, r, err)
		return
	}
	for name, value := range a.Header {
		w.Header().Set(name, value)
	}
	w.Header().Set("Idempotent-Replayed", "true")
	w.WriteHeader(a.Status)
	w.Write(a.Body)
}

// storedAnswer is an answer as the store keeps it, sealed.
type storedAnswer struct {
	Status int               `json:"status"`
	Header map[string]string `json:"header,omitempty"`
	Body   []byte            `json:"body"`
}

// sealAnswer encrypts a with AES-256-GCM under key: nonce and sealed
// JSON, in base64.
func sealAnswer(key []byte, a storedAnswer) (string, error) {
	plain, err := json.Marshal(a)
	if err != nil {
		return "", err
	}
	aead, err := answerCipher(key)
	if err != nil {
		return "", err
	}
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plain)+aead.Overhead())
	rand.Read(nonce)
	return base64.StdEncoding.EncodeToString(aead.Seal(nonce, nonce, plain, nil)), nil
}

// openAnswer reverses sealAnswer.
func openAnswer(key []byte, sealed string) (storedAnswer, error) {
	var a storedAnswer
	raw, err := base64.StdEncoding.DecodeString(sealed)
	if err != nil {
		return a, fmt.Errorf("stored idempotent answer: %w", err)
	}
	aead, err := answerCipher(key)
	if err != nil {
		return a, err
	}
	if len(raw) < aead.NonceSize() {
		return a, errors.New("stored idempotent answer: too short")
	}
	plain, err := aead.Open(nil, raw[:aead.NonceSize()], raw[aead.NonceSize():], nil)
	if err != nil {
		return a, fmt.Errorf("stored idempotent answer: %w", err)
	}
	return a, json.Unmarshal(plain, &a)
}

func answerCipher(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// capturedAnswer holds a handler's answer back, so that it can be stored
// before the client sees it, or replaced by the first answer. Headers go
// to the real writer's map at once.
type capturedAnswer struct {
	w      http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (c *capturedAnswer) Header() http.Header { return c.w.Header() }

func (c *capturedAnswer) WriteHeader(status int) {
	if c.status == 0 {
		c.status = status
	}
}

func (c *capturedAnswer) Write(b []byte) (int, error) {
	c.WriteHeader(http.StatusOK)
	return c.body.Write(b)
}

// Unwrap lets http.ResponseController reach the connection (read
// deadlines).
func (c *capturedAnswer) Unwrap() http.ResponseWriter { return c.w }

// answer returns the captured answer as it is stored.
func (c *capturedAnswer) answer(header http.Header) storedAnswer {
	c.WriteHeader(http.StatusOK)
	a := storedAnswer{Status: c.status, Header: map[string]string{}, Body: c.body.Bytes()}
	for _, name := range replayedAnswerHeaders {
		if v := header.Get(name); v != "" {
			a.Header[name] = v
		}
	}
	return a
}

// send passes the captured answer on.
func (c *capturedAnswer) send() {
	c.WriteHeader(http.StatusOK)
	c.w.WriteHeader(c.status)
	c.w.Write(c.body.Bytes())
}

// documentIdempotency declares the Idempotency-Key header on every POST
// of the OpenAPI document, with the answers it adds: 409 for a key whose
// first request committed without a stored answer, 422 for a key used
// for another request.
func documentIdempotency(_ *huma.OpenAPI, op *huma.Operation) {
	if op.Method != http.MethodPost {
		return
	}
	minLength, maxLength := 1, castellan.MaxIdempotencyKeyLength
	op.Parameters = append(op.Parameters, &huma.Param{
		Name: IdempotencyKeyHeader, In: "header",
		Description: "Makes a retry safe: within 24 hours, the same key with the same request (method, path and body) gets the first answer again " +
			"(with Idempotent-Replayed: true) without writing again; with another request, 422 idempotency.key_reused. " +
			"Keys belong to the caller; use a random one (a UUID) per request.",
		Schema: &huma.Schema{Type: "string", MinLength: &minLength, MaxLength: &maxLength, Pattern: "^[ -~]+$"},
	})
	bad, ok := op.Responses["400"]
	if !ok {
		return
	}
	for _, status := range []int{http.StatusConflict, http.StatusUnprocessableEntity} {
		if _, ok := op.Responses[fmt.Sprint(status)]; !ok {
			op.Responses[fmt.Sprint(status)] = &huma.Response{Description: http.StatusText(status), Content: bad.Content}
		}
	}
}
