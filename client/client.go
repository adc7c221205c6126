// Package client helps Go programs call the Castellan API with an access
// key: a KeyTokenSource exchanges the key's ID and secret for a bearer
// token (POST /v1/tokens) and renews it before it expires, and Transport
// puts the token on every request.
//
//	src := &client.KeyTokenSource{BaseURL: "https://iam.example.com", KeyID: id, Secret: secret}
//	hc := &http.Client{Transport: &client.Transport{Source: src}}
//	resp, err := hc.Get("https://iam.example.com/v1/organizations/" + org + "/users")
//
// Castellan's tokens are opaque and live an hour; a deleted or disabled
// key, or an owner who loses access, makes them fail at once with 401.
// Transport then exchanges the key again, once, so that a client survives
// a token revoked for reasons that do not also revoke the key.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"time"
)

// RenewBefore is how long before its expiry a token is replaced.
const RenewBefore = 5 * time.Minute

// KeyTokenSource exchanges an access key for tokens. It is safe for
// concurrent use: concurrent callers share one exchange.
type KeyTokenSource struct {
	// BaseURL is the API's root, such as https://iam.example.com.
	BaseURL string
	KeyID   string
	Secret  string
	// HTTPClient makes the exchange; nil means http.DefaultClient.
	HTTPClient *http.Client
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	mu      sync.Mutex
	token   string
	expires time.Time
}

// Error is a problem the API answered with.
type Error struct {
	Status int    `json:"status"`
	Code   string `json:"code"`
	Detail string `json:"detail"`
	// RetryAfter is the wait the API asked for on a 429, if any.
	RetryAfter time.Duration `json:"-"`
}

func (e *Error) Error() string {
	return fmt.Sprintf("castellan: %d %s: %s", e.Status, e.Code, e.Detail)
}

func (s *KeyTokenSource) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// Token returns a token valid for at least RenewBefore, exchanging the key
// when there is none.
func (s *KeyTokenSource) Token(ctx context.Context) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.token != "" && s.now().Add(RenewBefore).Before(s.expires) {
		return s.token, nil
	}
	return s.exchange(ctx)
}

// Invalidate drops token if it is the current one, so that the next Token
// call exchanges the key again.
func (s *KeyTokenSource) Invalidate(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.token == token {
		s.token = ""
	}
}

// origin returns the scheme and host of BaseURL, refusing plain HTTP to
// anything but the loopback: the secret and the tokens would cross the
// network in the clear.
func (s *KeyTokenSource) origin() (*url.URL, error) {
	u, err := url.Parse(s.BaseURL)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, fmt.Errorf("castellan: BaseURL %q: want https://host[:port]", s.BaseURL)
	}
	if u.Scheme == "http" {
		host := u.Hostname()
		if a, err := netip.ParseAddr(host); !(host == "localhost" || err == nil && a.IsLoopback()) {
			return nil, fmt.Errorf("castellan: BaseURL %q: plain http is allowed to the loopback only", s.BaseURL)
		}
	}
	return &url.URL{Scheme: u.Scheme, Host: u.Host}, nil
}

func (s *KeyTokenSource) exchange(ctx context.Context) (string, error) {
	if _, err := s.origin(); err != nil {
		return "", err
	}
	body, err := json.Marshal(map[string]string{"keyId": s.KeyID, "secret": s.Secret})
	if err != nil {
		return "", err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(s.BaseURL, "/")+"/v1/tokens", bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	hc := s.HTTPClient
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return "", fmt.Errorf("castellan: exchange access key: %w", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", fmt.Errorf("castellan: exchange access key: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", problemOf(resp, data)
	}
	var out struct {
		Token     string    `json:"token"`
		ExpiresAt time.Time `json:"expiresAt"`
	}
	if err := json.Unmarshal(data, &out); err != nil || out.Token == "" {
		return "", fmt.Errorf("castellan: exchange access key: malformed answer")
	}
	s.token, s.expires = out.Token, out.ExpiresAt
	return s.token, nil
}

// problemOf reads a problem+json answer into an *Error.
func problemOf(resp *http.Response, data []byte) error {
	e := &Error{Status: resp.StatusCode}
	if json.Unmarshal(data, e) != nil || e.Code == "" {
		e.Code, e.Detail = "unknown", http.StatusText(resp.StatusCode)
	}
	e.Status = resp.StatusCode
	if d, err := time.ParseDuration(resp.Header.Get("Retry-After") + "s"); err == nil {
		e.RetryAfter = d
	}
	return e
}

// Transport adds the source's bearer token to every request to the
// source's BaseURL (same scheme and host), and to no other: a redirect
// elsewhere, or a call to another service through the same client, goes
// out without it. On a 401 it drops the token and, when the request can be
// sent again (no body, or one with GetBody), retries once with a fresh
// one.
type Transport struct {
	Source *KeyTokenSource
	// Base sends the requests; nil means http.DefaultTransport.
	Base http.RoundTripper
}

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	base := t.Base
	if base == nil {
		base = http.DefaultTransport
	}
	origin, err := t.Source.origin()
	if err != nil {
		return nil, err
	}
	if req.URL.Scheme != origin.Scheme || req.URL.Host != origin.Host {
		return base.RoundTrip(req)
	}
	resp, token, err := t.send(base, req)
	if err != nil || resp.StatusCode != http.StatusUnauthorized {
		return resp, err
	}
	t.Source.Invalidate(token)
	if req.Body != nil && req.Body != http.NoBody && req.GetBody == nil {
		return resp, nil
	}
	retry := req.Clone(req.Context())
	if req.GetBody != nil {
		if retry.Body, err = req.GetBody(); err != nil {
			return resp, nil
		}
	}
	resp.Body.Close()
	resp, _, err = t.send(base, retry)
	return resp, err
}

func (t *Transport) send(base http.RoundTripper, req *http.Request) (*http.Response, string, error) {
	token, err := t.Source.Token(req.Context())
	if err != nil {
		var apiErr *Error
		if errors.As(err, &apiErr) && apiErr.Status == http.StatusUnauthorized {
			// The key itself is refused: say so as the API would.
			return nil, "", fmt.Errorf("castellan: access key %s refused: %w", t.Source.KeyID, err)
		}
		return nil, "", err
	}
	// RoundTrippers must not change the caller's request.
	out := req.Clone(req.Context())
	out.Header.Set("Authorization", "Bearer "+token)
	resp, err := base.RoundTrip(out)
	return resp, token, err
}
