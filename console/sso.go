package console

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"regexp"
	"strings"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/sso"
	"github.com/castellan-iam/castellan/web"
)

// Single sign-on: the sign-in page's second form names a federation (its
// ID, or an email whose domain one federation allows); /console/sso/start
// sends the browser to the provider, and /console/sso/callback verifies
// what it brings back and starts a session as a password sign-in does.

const (
	// ssoCookie holds the flow between leaving for the provider and
	// coming back, signed with the sign-in key; SameSite=Lax lets the
	// provider's top-level redirect carry it back.
	ssoCookie = "castellan_sso"
	// ssoCallback is where providers send browsers back, followed by the
	// federation's ID: each federation has its own, so that a code one
	// provider issued never reaches another's flow (the mix-up attack).
	ssoCallback = consolePath + "/sso/callback/"
	// ssoRefusedText is the one message of every refused single sign-on.
	ssoRefusedText = "Sign-in through your identity provider failed. Try again, or ask your administrator " +
		"whether your account was added to the organization."
)

// ssoRedirect is the page that takes the browser to its provider: a
// redirect answering a form would break the page's CSP form-action
// 'self' in browsers that apply it to redirects.
type ssoRedirect struct{ URL string }

// ssoStart answers the sign-in page's second form (a POST with the
// page's token, so that no other site starts a sign-in in the browser):
// it keeps the flow in the cookie and takes the browser to the provider.
func (s *Console) ssoStart(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if _, ok := s.signInForm(w, r); !ok {
		return
	}
	ref := strings.TrimSpace(r.PostForm.Get("federation"))
	fc, err := s.services.Sessions.FindSignInFederation(ctx, ref)
	if castellan.ErrorCode(err) == castellan.CodeFederationNotFound {
		s.renderSignIn(w, r, http.StatusNotFound, "No identity provider matches “"+ref+"”. Give the federation ID your administrator sent you.")
		return
	}
	if err != nil {
		renderConsoleError(w, r, err)
		return
	}
	url, flow, err := s.sso.Begin(ctx, fc, s.callbackURL(fc.Federation.ID))
	if err != nil {
		s.refuseSSO(w, r, fc.Federation.ID, err)
		return
	}
	value, err := s.sealFlow(ctx, flow)
	if err != nil {
		renderConsoleError(w, r, err)
		return
	}
	s.setCookie(w, r, ssoCookie, value, false)
	renderConsole(ctx, w, http.StatusOK, "sso-redirect", consolePage{SSO: &ssoRedirect{URL: url}})
}

// callbackURL is the federation's redirect URI.
func (s *Console) callbackURL(federationID string) string {
	return s.publicURL + ssoCallback + federationID
}

func (s *Console) ssoCallback(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	s.setCookie(w, r, ssoCookie, "", true) // one use, whatever happens
	if !s.allowSignIn(w, r) {
		return
	}
	value, _ := s.cookie(r, ssoCookie)
	flow, ok := s.openFlow(ctx, value)
	if !ok {
		// No flow of this browser: nothing to audit it against.
		s.renderSignIn(w, r, http.StatusUnauthorized, ssoRefusedText)
		return
	}
	fc, err := s.services.Sessions.FindSignInFederation(ctx, flow.FederationID)
	if err != nil {
		s.renderSignIn(w, r, http.StatusUnauthorized, ssoRefusedText)
		return
	}
	q := r.URL.Query()
	// The answer must come back to the flow's federation's own URI, from
	// its issuer when the provider names itself (RFC 9207), with the
	// flow's state, before anything it says is believed.
	switch {
	case r.PathValue("federation") != flow.FederationID:
		s.refuseSSO(w, r, flow.FederationID, &sso.Refusal{Reason: castellan.SSOStateMismatch,
			Detail: "the answer came back to another federation's redirect URI"})
		return
	case q.Has("iss") && q.Get("iss") != fc.Federation.Issuer:
		s.refuseSSO(w, r, flow.FederationID, &sso.Refusal{Reason: castellan.SSOIssuerMismatch,
			Detail: "the answer names another issuer"})
		return
	case q.Get("error") != "" && sameToken(q.Get("state"), flow.State):
		s.refuseSSO(w, r, flow.FederationID, &sso.Refusal{Reason: castellan.SSOProviderError,
			Detail: "the provider answered " + errorCode(q.Get("error"))})
		return
	}
	id, err := s.sso.Finish(ctx, fc, s.callbackURL(fc.Federation.ID), flow, q.Get("state"), q.Get("code"))
	if err != nil {
		s.refuseSSO(w, r, flow.FederationID, err)
		return
	}
	id.Policy = s.signInPolicy
	user, err := s.services.Sessions.SignInFederated(ctx, id)
	var ns *castellan.NewSession
	var state castellan.SessionState
	if err == nil {
		// The provider vouched for the user: from here on it acts as
		// itself, as after a right password.
		ctx = castellan.WithPrincipal(ctx, castellan.Principal{Type: castellan.PrincipalUser, ID: user.ID, OrganizationID: user.OrganizationID,
			PasswordVerified: true})
		r = r.WithContext(ctx)
		state = castellan.SessionComplete
		if !fc.Federation.MFAByIdP {
			state, err = s.firstStep(r, user)
		}
		if err == nil {
			ns, err = s.services.Sessions.CreateSession(ctx, user.OrganizationID, user.ID, state, r.UserAgent(), s.signInPolicy)
		}
	}
	switch castellan.ErrorCode(err) {
	case "":
	case castellan.CodeSignInFailed:
		s.renderSignIn(w, r, http.StatusUnauthorized, ssoRefusedText)
		return
	default:
		renderConsoleError(w, r, err)
		return
	}
	s.setSession(w, r, ns.Token)
	seeOther(w, stepPath(state))
}

// errorCodePattern is an OAuth 2.0 error code (RFC 6749 §4.1.2.1).
var errorCodePattern = regexp.MustCompile(`^[a-z_]{1,64}$`)

// errorCode is the provider's error code for the audit log, or "an
// error" when it is not one: the browser carries it, so its text is not
// the provider's to vouch for.
func errorCode(code string) string {
	if errorCodePattern.MatchString(code) {
		return code
	}
	return "an error"
}

// refuseSSO audits a refused single sign-on of the federation (a
// Refusal's reason; any other error is the provider's) and shows the
// sign-in page.
func (s *Console) refuseSSO(w http.ResponseWriter, r *http.Request, federationID string, cause error) {
	var refusal *sso.Refusal
	if !errors.As(cause, &refusal) {
		refusal = &sso.Refusal{Reason: castellan.SSOProviderError, Detail: "the provider could not be used", Cause: cause}
	}
	// What the provider answered stays in the server's log: its text may
	// be a page of a host the organization named, not for the audit log.
	if refusal.Cause != nil {
		web.Logger(r.Context()).Warn("single sign-on refused", "federation", federationID, "reason", refusal.Reason, "err", refusal.Cause)
	}
	err := s.services.Sessions.RefuseFederatedSignIn(r.Context(), federationID, refusal.Reason, refusal.Detail)
	if err != nil && castellan.ErrorKind(err) != castellan.EUNAUTHENTICATED && castellan.ErrorKind(err) != castellan.ENOTFOUND {
		renderConsoleError(w, r, err)
		return
	}
	s.renderSignIn(w, r, http.StatusUnauthorized, ssoRefusedText)
}

// allowSignIn applies the per-address sign-in limit, answering 429 when
// it is spent.
func (s *Console) allowSignIn(w http.ResponseWriter, r *http.Request) bool {
	ok, wait := s.signInPerIP.Allow(web.SourceBucket(castellan.RequestInfoFrom(r.Context()).SourceIP))
	if !ok {
		w.Header().Set("Retry-After", web.RetryAfter(wait))
		s.renderSignIn(w, r, http.StatusTooManyRequests, "Too many sign-in attempts from this address. Wait a little and try again.")
	}
	return ok
}

// renderSignIn shows the sign-in page with a message.
func (s *Console) renderSignIn(w http.ResponseWriter, r *http.Request, status int, msg string) {
	token, err := s.signInToken(w, r)
	if err != nil {
		renderConsoleError(w, r, err)
		return
	}
	renderConsole(r.Context(), w, status, "sign-in", consolePage{CSRF: token, Error: msg})
}

// sealFlow encodes a flow for its cookie: JSON, base64url, and an HMAC
// under the sign-in key, so that only this server mints one.
func (s *Console) sealFlow(ctx context.Context, flow sso.Flow) (string, error) {
	b, err := json.Marshal(flow)
	if err != nil {
		return "", err
	}
	key, err := s.signInKey.get(ctx, s.services.Sessions)
	if err != nil {
		return "", err
	}
	payload := base64.RawURLEncoding.EncodeToString(b)
	return payload + "." + macToken(key, "castellan sso flow "+payload), nil
}

// openFlow checks a flow cookie's signature and decodes it.
func (s *Console) openFlow(ctx context.Context, value string) (sso.Flow, bool) {
	var flow sso.Flow
	payload, mac, ok := strings.Cut(value, ".")
	if !ok {
		return flow, false
	}
	key, err := s.signInKey.get(ctx, s.services.Sessions)
	if err != nil || !sameToken(mac, macToken(key, "castellan sso flow "+payload)) {
		return flow, false
	}
	b, err := base64.RawURLEncoding.DecodeString(payload)
	return flow, err == nil && json.Unmarshal(b, &flow) == nil
}
