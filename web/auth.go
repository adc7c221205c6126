package web

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strconv"

	"github.com/castellan-iam/castellan"
)

// authenticate resolves the bearer token of every request for a path that
// is not anonymous to a principal, or answers 401. Operator tokens from
// --operator-token-file are checked in constant time before the store is
// asked.
func (p *Plumbing) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p.anonymous(r.URL.Path) {
			next.ServeHTTP(w, r)
			return
		}
		token, ok := castellan.BearerToken(r.Header.Get("Authorization"))
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="castellan"`)
			p.errors(w, r, 0, castellan.Errorf(castellan.EUNAUTHENTICATED, castellan.CodeUnauthenticated,
				"this endpoint needs an Authorization: Bearer <token> header"))
			return
		}
		principal, err := p.principalFor(r, token)
		if err != nil {
			if castellan.ErrorKind(err) == castellan.EUNAUTHENTICATED {
				w.Header().Set("WWW-Authenticate", `Bearer realm="castellan", error="invalid_token"`)
			}
			p.errors(w, r, 0, err)
			return
		}
		if err := p.awaitToken(r); err != nil {
			p.errors(w, r, 0, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(castellan.WithPrincipal(r.Context(), principal)))
	})
}

// AuthenticateBearer resolves the bearer token of r to its principal, as
// the plumbing does for every path that is not anonymous: for surfaces
// that answer their own 401s in their own shape (the compatibility APIs),
// whose paths are anonymous to the plumbing. It returns EUNAUTHENTICATED
// when the header is missing or the token refused.
func (p *Plumbing) AuthenticateBearer(r *http.Request) (castellan.Principal, error) {
	token, ok := castellan.BearerToken(r.Header.Get("Authorization"))
	if !ok {
		return castellan.Principal{}, castellan.Errorf(castellan.EUNAUTHENTICATED, castellan.CodeUnauthenticated,
			"this endpoint needs an Authorization: Bearer <token> header")
	}
	principal, err := p.principalFor(r, token)
	if err != nil {
		return principal, err
	}
	return principal, p.awaitToken(r)
}

func (p *Plumbing) principalFor(r *http.Request, token string) (castellan.Principal, error) {
	sum := sha256.Sum256([]byte(token))
	for i, h := range p.operatorHashes {
		if subtle.ConstantTimeCompare(sum[:], h[:]) == 1 {
			return castellan.Principal{Type: castellan.PrincipalOperator, ID: "operator-token-file-" + strconv.Itoa(i)}, nil
		}
	}
	return p.tokens.Authenticate(r.Context(), token)
}

// AuthenticateSession checks the secret of a console session (its
// cookie's value) and returns r with the session's user as its principal,
// the session and the user. It returns EUNAUTHENTICATED when the session
// is unknown, over or revoked, or its user may no longer use it.
func (p *Plumbing) AuthenticateSession(r *http.Request, secret string) (*http.Request, *castellan.Session, *castellan.User, error) {
	sess, user, err := p.sessions.AuthenticateSession(r.Context(), secret)
	if err != nil {
		return r, nil, nil, err
	}
	ctx := castellan.WithPrincipal(r.Context(), castellan.Principal{
		Type: castellan.PrincipalUser, ID: user.ID, OrganizationID: user.OrganizationID, SessionID: sess.ID,
	})
	return r.WithContext(ctx), sess, user, nil
}
