package guard

import (
	"context"

	"github.com/castellan-iam/castellan"
)

// tokens guards the token service: checking a token authenticates by the
// token itself; creating organizations and tokens outside the access-key
// flow is the operator's.
type tokens struct {
	next castellan.TokenService
}

var _ castellan.TokenService = (*tokens)(nil)

func (s *tokens) BootstrapOrganization(ctx context.Context, b castellan.Bootstrap) (*castellan.BootstrapResult, error) {
	if err := requireOperator(ctx); err != nil {
		return nil, err
	}
	return s.next.BootstrapOrganization(ctx, b)
}

func (s *tokens) CreateOperatorToken(ctx context.Context) (*castellan.OperatorToken, error) {
	if err := requireOperator(ctx); err != nil {
		return nil, err
	}
	return s.next.CreateOperatorToken(ctx)
}

// CreateUserToken issues a token without any secret of the user's: no
// edge offers it (users exchange access keys), so only the operator may.
func (s *tokens) CreateUserToken(ctx context.Context, orgID, userID string) (string, error) {
	if err := requireOperator(ctx); err != nil {
		return "", err
	}
	return s.next.CreateUserToken(ctx, orgID, userID)
}

// Authenticate authenticates by the token.
func (s *tokens) Authenticate(ctx context.Context, token string) (castellan.Principal, error) {
	return s.next.Authenticate(ctx, token)
}

// FindCredential reads what the token given stands for.
func (s *tokens) FindCredential(ctx context.Context, token string) (*castellan.Credential, error) {
	return s.next.FindCredential(ctx, token)
}
