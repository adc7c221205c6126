// Package sso is the relying party of OpenID Connect single sign-on: it
// sends a browser to a federation's identity provider with the
// authorization code flow (PKCE, state and nonce) and verifies what comes
// back. Discovery, key sets and ID token checks (signature, issuer,
// expiry) are github.com/coreos/go-oidc's; the code exchange is
// golang.org/x/oauth2's. Who the verified identity is, and whether it may
// sign in, is the store's business (castellan.SessionService).
package sso

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/castellan-iam/castellan"
)

// FlowLifetime is how long a browser has between leaving for its
// identity provider and coming back.
const FlowLifetime = 10 * time.Minute

// providerLifetime is how long a provider's discovery document is kept;
// its key set refreshes itself when a token names an unknown key.
const providerLifetime = time.Hour

// Client signs users in through their organization's identity
// providers. The zero value is not usable; call New.
type Client struct {
	http *http.Client
	now  func() time.Time

	mu        sync.Mutex
	providers map[string]cachedProvider // by issuer
}

type cachedProvider struct {
	p       *oidc.Provider
	fetched time.Time
}

// Options configure a Client.
type Options struct {
	// HTTP fetches discovery documents and key sets and exchanges codes;
	// nil means PublicClient(AllowPrivateNetworks).
	HTTP *http.Client
	// AllowPrivateNetworks lets the default client reach loopback,
	// private and link-local addresses (a provider on the same machine or
	// network, in development and tests).
	AllowPrivateNetworks bool
	// Now is the clock ID tokens' expiry is checked against; nil means
	// time.Now.
	Now func() time.Time
}

// New returns a Client.
func New(opts Options) *Client {
	if opts.HTTP == nil {
		opts.HTTP = PublicClient(opts.AllowPrivateNetworks)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Client{http: opts.HTTP, now: opts.Now, providers: map[string]cachedProvider{}}
}

// Flow is what a sign-in keeps between leaving for the provider and
// coming back: the browser holds it in a signed cookie.
type Flow struct {
	FederationID string    `json:"f"`
	State        string    `json:"s"`
	Nonce        string    `json:"n"`
	Verifier     string    `json:"v"`
	Expires      time.Time `json:"e"`
}

// Refusal is a sign-in the provider's answer does not allow; Reason is
// one of castellan's SSO* reasons, Detail what was wrong in words of
// Castellan's (for the audit log), Cause the error underneath, whose text
// may quote what a remote host answered (for the server's log only).
type Refusal struct {
	Reason string
	Detail string
	Cause  error
}

func (r *Refusal) Error() string {
	if r.Cause != nil {
		return r.Reason + ": " + r.Detail + ": " + r.Cause.Error()
	}
	return r.Reason + ": " + r.Detail
}

func (r *Refusal) Unwrap() error { return r.Cause }

func refuse(reason, format string, args ...any) *Refusal {
	return &Refusal{Reason: reason, Detail: fmt.Sprintf(format, args...)}
}

// failed is a Refusal for a step that failed with err.
func failed(reason, detail string, err error) *Refusal {
	return &Refusal{Reason: reason, Detail: detail, Cause: err}
}

// provider returns the federation's provider, from the cache when its
// discovery is fresh. A provider that cannot be reached is a Refusal
// (sso_provider_error).
func (c *Client) provider(ctx context.Context, issuer string) (*oidc.Provider, error) {
	c.mu.Lock()
	cp, ok := c.providers[issuer]
	c.mu.Unlock()
	if ok && c.now().Sub(cp.fetched) < providerLifetime {
		return cp.p, nil
	}
	// The key set fetches with this context later on: it must outlive
	// the request (go-oidc drops its cancellation).
	p, err := oidc.NewProvider(oidc.ClientContext(ctx, c.http), issuer)
	if err != nil {
		return nil, failed(castellan.SSOProviderError, "the provider's discovery document could not be read", err)
	}
	c.mu.Lock()
	c.providers[issuer] = cachedProvider{p: p, fetched: c.now()}
	c.mu.Unlock()
	return p, nil
}

func (c *Client) config(p *oidc.Provider, fc *castellan.FederationClient, redirectURL string) *oauth2.Config {
	return &oauth2.Config{
		ClientID: fc.Federation.ClientID, ClientSecret: fc.ClientSecret, Endpoint: p.Endpoint(),
		RedirectURL: redirectURL, Scopes: fc.Federation.Scopes,
	}
}

// Begin starts a sign-in with the federation: it returns where to send
// the browser and the flow to keep until it comes back to redirectURL.
func (c *Client) Begin(ctx context.Context, fc *castellan.FederationClient, redirectURL string) (string, Flow, error) {
	p, err := c.provider(ctx, fc.Federation.Issuer)
	if err != nil {
		return "", Flow{}, err
	}
	flow := Flow{FederationID: fc.Federation.ID, State: rand.Text(), Nonce: rand.Text(), Verifier: oauth2.GenerateVerifier(),
		Expires: c.now().Add(FlowLifetime)}
	auth := c.config(p, fc, redirectURL).AuthCodeURL(flow.State, oidc.Nonce(flow.Nonce), oauth2.S256ChallengeOption(flow.Verifier))
	// The browser is sent there: nothing but a web address will do.
	if u, err := url.Parse(auth); err != nil || u.Scheme != "https" && u.Scheme != "http" {
		return "", Flow{}, refuse(castellan.SSOProviderError, "the provider's authorization endpoint is not an http(s) URL")
	}
	return auth, flow, nil
}

// Finish checks the provider's answer to flow (the state it returned and
// its code), exchanges the code with the PKCE verifier and verifies the
// ID token: signature by the provider's keys, issuer, audience (the
// federation's client ID), expiry and nonce. Every failure is a Refusal
// naming its reason.
func (c *Client) Finish(ctx context.Context, fc *castellan.FederationClient, redirectURL string, flow Flow, state, code string) (castellan.FederatedIdentity, error) {
	var id castellan.FederatedIdentity
	switch {
	case flow.FederationID != fc.Federation.ID:
		return id, refuse(castellan.SSOStateMismatch, "the flow is of another federation")
	case subtle.ConstantTimeCompare([]byte(state), []byte(flow.State)) != 1 || flow.State == "":
		return id, refuse(castellan.SSOStateMismatch, "the state the provider returned is not the one this browser was sent with")
	case !c.now().Before(flow.Expires):
		return id, refuse(castellan.SSOStateMismatch, "the sign-in took longer than %s", FlowLifetime)
	case code == "":
		return id, refuse(castellan.SSOProviderError, "the provider returned no code")
	}
	p, err := c.provider(ctx, fc.Federation.Issuer)
	if err != nil {
		return id, err
	}
	token, err := c.config(p, fc, redirectURL).Exchange(oidc.ClientContext(ctx, c.http), code, oauth2.VerifierOption(flow.Verifier))
	if err != nil {
		return id, failed(castellan.SSOProviderError, "the provider refused the code exchange", err)
	}
	raw, ok := token.Extra("id_token").(string)
	if !ok {
		return id, refuse(castellan.SSOTokenInvalid, "the token response has no id_token")
	}
	// The audience is checked below, to name the reason; go-oidc checks
	// the rest.
	idToken, err := p.Verifier(&oidc.Config{SkipClientIDCheck: true, Now: c.now}).Verify(ctx, raw)
	var expired *oidc.TokenExpiredError
	switch {
	case errors.As(err, &expired):
		return id, refuse(castellan.SSOTokenExpired, "the ID token expired at %s", expired.Expiry.UTC().Format(time.RFC3339))
	case err != nil:
		return id, failed(castellan.SSOTokenInvalid, "the ID token failed verification (signature, issuer or keys)", err)
	case !slices.Contains(idToken.Audience, fc.Federation.ClientID):
		return id, refuse(castellan.SSOWrongAudience, "the ID token is not for client %q", fc.Federation.ClientID)

	case subtle.ConstantTimeCompare([]byte(idToken.Nonce), []byte(flow.Nonce)) != 1:
		return id, refuse(castellan.SSOWrongNonce, "the ID token's nonce is not the one this sign-in sent")
	case idToken.Subject == "":
		return id, refuse(castellan.SSOTokenInvalid, "the ID token has no subject")
	}
	var claims map[string]any
	if err := idToken.Claims(&claims); err != nil {
		return id, failed(castellan.SSOTokenInvalid, "the ID token's claims could not be read", err)
	}
	// A token for several audiences names the one it was issued to
	// (OIDC Core 3.1.3.7).
	if azp := stringClaim(claims, "azp"); len(idToken.Audience) > 1 && azp != fc.Federation.ClientID {
		return id, refuse(castellan.SSOWrongAudience, "the ID token has several audiences and was not issued to client %q", fc.Federation.ClientID)
	}
	f := fc.Federation
	if _, ok := claims[f.EmailClaim]; !ok && p.UserInfoEndpoint() != "" {
		if err := c.addUserInfo(ctx, p, token, idToken.Subject, claims); err != nil {
			return id, err
		}
	}
	id = castellan.FederatedIdentity{
		FederationID: f.ID, Subject: idToken.Subject, Email: stringClaim(claims, f.EmailClaim),
		EmailVerified: emailVerified(claims, f), Name: stringClaim(claims, f.NameClaim), Groups: listClaim(claims, f.GroupsClaim),
	}
	return id, nil
}

// addUserInfo adds to claims those of the provider's userinfo endpoint
// that the ID token lacks: many providers put the email there only. The
// answer must be about the token's subject.
func (c *Client) addUserInfo(ctx context.Context, p *oidc.Provider, token *oauth2.Token, subject string, claims map[string]any) error {
	info, err := p.UserInfo(oidc.ClientContext(ctx, c.http), oauth2.StaticTokenSource(token))
	if err != nil {
		return failed(castellan.SSOProviderError, "the provider's userinfo could not be read", err)
	}
	if info.Subject != subject {
		return refuse(castellan.SSOTokenInvalid, "the provider's userinfo is about another subject than the ID token")
	}
	var more map[string]any
	if err := info.Claims(&more); err != nil {
		return failed(castellan.SSOProviderError, "the provider's userinfo could not be read", err)
	}
	for k, v := range more {
		if _, ok := claims[k]; !ok {
			claims[k] = v
		}
	}
	return nil
}

// emailVerified reports whether the provider vouches for the email
// claim: email_verified true (or "true") when the claim is email, or the
// federation's trustEmail, which says the provider only issues emails
// it controls (Entra ID sends no email_verified).
func emailVerified(claims map[string]any, f *castellan.Federation) bool {
	if f.TrustEmail {
		return true
	}
	if f.EmailClaim != castellan.DefaultEmailClaim {
		return false
	}
	switch v := claims["email_verified"].(type) {
	case bool:
		return v
	case string:
		return strings.EqualFold(v, "true")
	}
	return false
}

func stringClaim(claims map[string]any, name string) string {
	s, _ := claims[name].(string)
	return s
}

// listClaim reads a claim of strings, or one string.
func listClaim(claims map[string]any, name string) []string {
	switch v := claims[name].(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, item := range v {
			if s, ok := item.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// PublicClient is an HTTP client for identity providers: an
// organization names the issuer, so without allowPrivate it connects only
// to public addresses, whatever a name resolves to or a redirect points
// at, so that no federation makes the server fetch from its own network
// (a cloud's metadata service, an internal admin page). It uses no proxy
// and gives up after 10 seconds.
func PublicClient(allowPrivate bool) *http.Client {
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	if !allowPrivate {
		dialer.Control = func(_, address string, _ syscall.RawConn) error {
			host, _, err := net.SplitHostPort(address)
			if err != nil {
				return err
			}
			if ip, err := netip.ParseAddr(host); err != nil || !publicAddr(ip) {
				return fmt.Errorf("the identity provider's address %s is not public", host)
			}
			return nil
		}
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.Proxy, transport.DialContext = nil, dialer.DialContext
	return &http.Client{Timeout: 10 * time.Second, Transport: transport}
}

// notPublic are ranges IsGlobalUnicast lets through that are not the
// public internet, or embed an IPv4 address that may not be: shared
// (carrier-grade NAT), "this network", benchmarking, reserved, IETF
// protocol assignments, and IPv6's NAT64, 6to4, Teredo, IPv4-compatible
// and site-local forms.
var notPublic = []netip.Prefix{
	netip.MustParsePrefix("100.64.0.0/10"), netip.MustParsePrefix("0.0.0.0/8"), netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("240.0.0.0/4"), netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("64:ff9b::/96"), netip.MustParsePrefix("64:ff9b:1::/48"), netip.MustParsePrefix("2002::/16"),
	netip.MustParsePrefix("2001::/32"), netip.MustParsePrefix("::/96"), netip.MustParsePrefix("fec0::/10"), netip.MustParsePrefix("100::/64"),
}

// publicAddr reports whether ip is a global unicast address outside the
// private, link-local and notPublic ranges.
func publicAddr(ip netip.Addr) bool {
	ip = ip.Unmap()
	if !ip.IsGlobalUnicast() || ip.IsPrivate() {
		return false
	}
	for _, p := range notPublic {
		if p.Contains(ip) {
			return false
		}
	}
	return true
}
