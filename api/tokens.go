package api

import (
	"context"
	"net/http"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/web"
)

type tokenExchangeBody struct {
	KeyID  string `json:"keyId" maxLength:"64" doc:"Access key ID." example:"CAKABCDEFGHIJKLMNOPQRST"`
	Secret string `json:"secret" maxLength:"128" doc:"The key's secret."`
}

type accessTokenOutput struct{ Body *castellan.AccessToken }

type introspectBody struct {
	Token string `json:"token" maxLength:"256" doc:"The token to describe."`
}

type introspectionOutput struct{ Body *castellan.TokenIntrospection }

func (s *Server) registerTokens() {
	const tag = "Tokens"
	register(s, op{
		id: "create-token", method: http.MethodPost, path: "/v1/tokens", tag: tag,
		action: castellan.ActionExchangeAccessKey, public: true, errors: []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusTooManyRequests},
		summary: "Exchange an access key for a bearer token (no token needed)",
		desc: "Returns an opaque token valid for 1 hour, bound to the key: deleting or disabling the key, or deleting or " +
			"disabling its owner, refuses it from the next request. Every failure is the same 401 auth.unauthenticated, " +
			"except a right secret presented from outside the owner's API allow sources: 403 auth.source_not_allowed. " +
			"Exchanges are rate limited per key ID and per client address: 429 request.rate_limited with Retry-After.",
	}, s.createToken)
	register(s, op{
		id: "introspect-token", method: http.MethodPost, path: "/v1/tokens:introspect", tag: tag,
		action:  castellan.ActionAuthorize,
		summary: "Describe a token (RFC 7662)",
		desc: "For other services: needs iam:Authorize on the caller's organization. A token that is unknown, expired, " +
			"refused or of another organization is {\"active\": false} and nothing else.",
	}, s.introspectToken)
}

func (s *Server) createToken(ctx context.Context, in *struct{ Body tokenExchangeBody }) (*accessTokenOutput, error) {
	source := web.SourceBucket(castellan.RequestInfoFrom(ctx).SourceIP)
	if ok, wait := s.exchangePerIP.Allow(source); !ok {
		return nil, rateLimited("from this address", wait)
	}
	// Per key and address: key IDs are not secret, and a stranger's
	// attempts with a wrong secret must not spend the owner's allowance.
	if ok, wait := s.exchangePerKey.Allow(in.Body.KeyID + " " + source); !ok {
		return nil, rateLimited("for this access key", wait)
	}
	t, err := s.services.AccessKeys.ExchangeAccessKey(ctx, in.Body.KeyID, in.Body.Secret)
	if err != nil {
		return nil, err
	}
	return &accessTokenOutput{Body: t}, nil
}

func (s *Server) introspectToken(ctx context.Context, in *struct{ Body introspectBody }) (*introspectionOutput, error) {
	info, err := s.services.AccessKeys.IntrospectToken(ctx, in.Body.Token)
	if err != nil {
		return nil, err
	}
	return &introspectionOutput{Body: info}, nil
}
