package sqlstore

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/castellan-iam/castellan"
)

// TokenService implements castellan.TokenService. Tokens are 32 random
// bytes; the store keeps their SHA-256 only, which is enough for secrets of
// that entropy and cheap to check on every request.
type TokenService struct{ db *DB }

var _ castellan.TokenService = (*TokenService)(nil)

// Tokens returns the token service of db.
func (db *DB) Tokens() *TokenService { return &TokenService{db: db} }

// newToken returns a fresh token and the hash to store for it.
func newToken() (token, hash string) {
	var b [32]byte
	rand.Read(b[:]) // never fails (crypto/rand documents it)
	token = castellan.TokenPrefix + base64.RawURLEncoding.EncodeToString(b[:])
	return token, HashToken(token)
}

// HashToken returns the stored form of a token: hex SHA-256.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// BootstrapOrganization implements castellan.TokenService.
func (s *TokenService) BootstrapOrganization(ctx context.Context, b castellan.Bootstrap) (*castellan.BootstrapResult, error) {
	if err := b.Validate(); err != nil {
		return nil, err
	}
	res := &castellan.BootstrapResult{OwnerUserID: newID()}
	tokenID := newID()
	err := s.db.update(ctx, func(tx *Tx) error {
		org, err := createOrganization(ctx, tx, castellan.OrganizationCreate{Name: b.OrganizationName})
		if err != nil {
			return err
		}
		res.OrganizationID = org.ID
		owner := newUser(tx, org.ID, castellan.UserRegistration{LoginID: b.OwnerEmail, Email: b.OwnerEmail, ConsoleAccess: true, APIAccess: true})
		owner.ID, owner.Status = res.OwnerUserID, castellan.UserActive
		if err := insertUsers(ctx, tx, []userRow{{user: owner}}); err != nil {
			return fmt.Errorf("insert owner: %w", err)
		}
		var hash string
		res.Token, hash = newToken()
		_, err = tx.exec(ctx, `INSERT INTO api_tokens (id, kind, org_id, user_id, secret_hash, created_at, created_by)
			VALUES (?, 'user', ?, ?, ?, ?, ?)`, tokenID, org.ID, res.OwnerUserID, hash, tx.now, tx.actorID())
		if err != nil {
			return fmt.Errorf("insert token: %w", err)
		}
		ownerGrantID, err := grantOwner(ctx, tx, org.ID, res.OwnerUserID)
		if err != nil {
			return err
		}
		res.Revision, err = tx.record(ctx, change{
			orgID: org.ID, action: "organizations:BootstrapOrganization",
			entityType: "organization", entityID: org.ID, entityName: org.Name, operation: "create",
			summary: map[string]any{"name": org.Name, "ownerUserId": res.OwnerUserID, "ownerEmail": b.OwnerEmail,
				"tokenId": tokenID, "ownerGrantId": ownerGrantID},
			also: []changedEntity{
				{"node", org.ID, "create"}, {"user", res.OwnerUserID, "create"}, {"api_token", tokenID, "create"},
				{"grant", ownerGrantID, "create"},
			},
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// grantOwner grants organization.owner on the organization to its first
// user, at the transaction's revision, and returns the grant's ID.
func grantOwner(ctx context.Context, tx *Tx, orgID, userID string) (string, error) {
	rev := tx.revision
	id := newID()
	_, err := tx.exec(ctx, `INSERT INTO grants (`+grantColumns+`, scope_kind) VALUES (?, ?, ?, ?, 'user', ?, NULL, ?, ?, ?, 'organization')`,
		id, orgID, castellan.OrganizationOwnerRoleID, castellan.OrganizationScope(orgID).String(), userID, tx.now, tx.actorID(), rev)
	if err != nil {
		return "", fmt.Errorf("insert owner grant: %w", err)
	}
	return id, nil
}

// CreateUserToken implements castellan.TokenService.
func (s *TokenService) CreateUserToken(ctx context.Context, orgID, userID string) (string, error) {
	var token string
	err := s.db.update(ctx, func(tx *Tx) error {
		var email string
		err := tx.queryRow(ctx, `SELECT email FROM users WHERE org_id = ? AND id = ? AND status = ?`+tx.db.dialect.lockKey,
			orgID, userID, castellan.UserActive).Scan(&email)
		if errors.Is(err, sql.ErrNoRows) {
			return notFound(castellan.CodeUserNotFound, "user", userID)
		}
		if err != nil {
			return err
		}
		tokenID := newID()
		var hash string
		token, hash = newToken()
		_, err = tx.exec(ctx, `INSERT INTO api_tokens (id, kind, org_id, user_id, secret_hash, created_at, created_by)
			VALUES (?, 'user', ?, ?, ?, ?, ?)`, tokenID, orgID, userID, hash, tx.now, tx.actorID())
		if err != nil {
			return fmt.Errorf("insert token: %w", err)
		}
		_, err = tx.record(ctx, change{
			orgID: orgID, action: "iam:CreateUserToken",
			entityType: "api_token", entityID: tokenID, operation: "create",
			summary: map[string]any{"userId": userID, "email": email},
		})
		return err
	})
	if err != nil {
		return "", err
	}
	return token, nil
}

// CreateOperatorToken implements castellan.TokenService.
func (s *TokenService) CreateOperatorToken(ctx context.Context) (*castellan.OperatorToken, error) {
	t := &castellan.OperatorToken{ID: newID()}
	err := s.db.update(ctx, func(tx *Tx) error {
		var hash string
		t.Token, hash = newToken()
		_, err := tx.exec(ctx, `INSERT INTO api_tokens (id, kind, org_id, user_id, secret_hash, created_at, created_by)
			VALUES (?, 'operator', NULL, NULL, ?, ?, ?)`, t.ID, hash, tx.now, tx.actorID())
		if err != nil {
			return fmt.Errorf("insert token: %w", err)
		}
		t.Revision, err = tx.record(ctx, change{
			action: "iam:CreateOperatorToken", entityType: "api_token", entityID: t.ID, operation: "create",
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	return t, nil
}

// errUnauthenticated is the one answer for every bad token, so that the
// response says nothing about why.
var errUnauthenticated = castellan.Errorf(castellan.EUNAUTHENTICATED, castellan.CodeUnauthenticated,
	"a valid bearer token is required")

// Authenticate implements castellan.TokenService.
func (s *TokenService) Authenticate(ctx context.Context, token string) (castellan.Principal, error) {
	if !castellan.ValidTokenSyntax(token) {
		return castellan.Principal{}, errUnauthenticated
	}
	var (
		id, kind      string
		orgID, userID sql.NullString
		status        sql.NullString
		expiresAt     sql.NullTime
	)
	err := s.db.queryRow(ctx, `SELECT t.id, t.kind, t.org_id, t.user_id, t.expires_at, u.status
		FROM api_tokens t LEFT JOIN users u ON u.id = t.user_id AND u.org_id = t.org_id
		WHERE t.secret_hash = ?`, HashToken(token)).Scan(&id, &kind, &orgID, &userID, &expiresAt, &status)
	if errors.Is(err, sql.ErrNoRows) {
		// Not a bootstrap token: perhaps one issued for an access key,
		// checked against its key and owner on every request.
		t, ok, err := s.db.AccessKeys().findKeyToken(ctx, HashToken(token))
		if err != nil {
			return castellan.Principal{}, err
		}
		if !ok {
			return castellan.Principal{}, errUnauthenticated
		}
		return t.principal(), nil
	}
	if err != nil {
		return castellan.Principal{}, err
	}
	if expiresAt.Valid && !s.db.now().Before(expiresAt.Time) {
		return castellan.Principal{}, errUnauthenticated
	}
	if kind == "operator" {
		return castellan.Principal{Type: castellan.PrincipalOperator, ID: id}, nil
	}
	if status.String != castellan.UserActive {
		return castellan.Principal{}, errUnauthenticated
	}
	return castellan.Principal{Type: castellan.PrincipalUser, ID: userID.String, OrganizationID: orgID.String}, nil
}
