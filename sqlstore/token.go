package sqlstore

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
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
	passwordHash, err := s.ownerPasswordHash(b.OwnerPassword)
	if err != nil {
		return nil, err
	}
	err = s.db.update(ctx, func(tx *Tx) error {
		org, err := createOrganization(ctx, tx, castellan.OrganizationCreate{Name: b.OrganizationName})
		if err != nil {
			return err
		}
		res.OrganizationID = org.ID
		owner := newUser(tx, org.ID, castellan.UserRegistration{LoginID: b.OwnerEmail, Email: b.OwnerEmail, ConsoleAccess: true, APIAccess: true})
		owner.ID, owner.Status = res.OwnerUserID, castellan.UserActive
		if err := insertUsers(ctx, tx, []userRow{{user: owner, passwordHash: passwordHash}}); err != nil {
			return fmt.Errorf("insert owner: %w", err)
		}
		also := []changedEntity{{"node", org.ID, "create"}, {"user", res.OwnerUserID, "create"}, {"api_token", tokenID, "create"}}
		if b.PasswordLink && passwordHash == "" {
			ids, tokens, err := inviteWithTokens(ctx, tx, org.Name, []*castellan.User{owner}, castellan.MailInvitation)
			if err != nil {
				return err
			}
			res.InvitationToken = tokens[owner.ID]
			also = append(also, changedEntity{"invitation", ids[owner.ID], "create"})
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
			orgID: org.ID, action: castellan.ActionBootstrapOrganization,
			entityType: "organization", entityID: org.ID, entityName: org.Name, operation: "create",
			summary: map[string]any{"name": org.Name, "ownerUserId": res.OwnerUserID, "ownerEmail": b.OwnerEmail,
				"tokenId": tokenID, "ownerGrantId": ownerGrantID, "ownerPassword": passwordHash != "", "passwordLink": res.InvitationToken != ""},
			also: append(also, changedEntity{"grant", ownerGrantID, "create"}),
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// ownerPasswordHash hashes the bootstrapped owner's password; "" when
// none is given.
func (s *TokenService) ownerPasswordHash(password string) (string, error) {
	if password == "" {
		return "", nil
	}
	if s.db.passwords == nil {
		return "", errors.New("bootstrap: the store was opened without a password hasher (Options.Passwords)")
	}
	hash, err := s.db.passwords.Hash(password)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return hash, nil
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
		if isNoRows(err) {
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
			orgID: orgID, action: castellan.ActionCreateUserToken,
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
			action: castellan.ActionCreateOperatorToken, entityType: "api_token", entityID: t.ID, operation: "create",
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
var errUnauthenticated = castellan.TokenRefused()

// Authenticate implements castellan.TokenService: FindCredential, checked
// against the store's clock and the request.
func (s *TokenService) Authenticate(ctx context.Context, token string) (castellan.Principal, error) {
	c, err := s.FindCredential(ctx, token)
	if err != nil {
		return castellan.Principal{}, err
	}
	if err := c.Check(s.db.now(), castellan.RequestInfoFrom(ctx)); err != nil {
		return castellan.Principal{}, err
	}
	return c.Principal, nil
}

// FindCredential implements castellan.TokenService. A bootstrap or
// operator token is looked up first, then a token issued for an access
// key.
func (s *TokenService) FindCredential(ctx context.Context, token string) (*castellan.Credential, error) {
	if !castellan.ValidTokenSyntax(token) {
		return nil, errUnauthenticated
	}
	var (
		id, kind      string
		orgID, userID sql.NullString
		expiresAt     sql.NullTime
		owner         tokenOwner
	)
	err := s.db.queryRow(ctx, `SELECT t.id, t.kind, t.org_id, t.user_id, t.expires_at, `+tokenOwnerColumns+`
		FROM api_tokens t LEFT JOIN users u ON u.id = t.user_id AND u.org_id = t.org_id
		WHERE t.secret_hash = ?`, HashToken(token)).Scan(append([]any{&id, &kind, &orgID, &userID, &expiresAt}, owner.fields()...)...)
	if isNoRows(err) {
		t, ok, err := s.db.AccessKeys().findKeyToken(ctx, HashToken(token))
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, errUnauthenticated
		}
		return t.credential()
	}
	if err != nil {
		return nil, err
	}
	c := &castellan.Credential{TokenID: id}
	if expiresAt.Valid {
		c.ExpiresAt = expiresAt.Time.UTC()
	}
	if kind == "operator" {
		c.Principal = castellan.Principal{Type: castellan.PrincipalOperator, ID: id}
		return c, nil
	}
	if !owner.usable() {
		return nil, errUnauthenticated
	}
	c.Principal = castellan.Principal{Type: castellan.PrincipalUser, ID: userID.String, OrganizationID: orgID.String}
	if c.AllowSources, err = owner.allowSources(); err != nil {
		return nil, err
	}
	return c, nil
}

// tokenOwnerColumns read, from the users row u joined to a token, what
// decides whether the user may use the API and from where; NULLs when
// there is no such user.
const tokenOwnerColumns = `u.status, u.api_access, u.use_api_allow_source, u.api_allow_sources`

// tokenOwner is a row of tokenOwnerColumns.
type tokenOwner struct {
	status            sql.NullString
	apiAccess, useAPI sql.NullBool
	sources           sql.NullString
}

func (o *tokenOwner) fields() []any { return []any{&o.status, &o.apiAccess, &o.useAPI, &o.sources} }

// usable reports whether the user is active and has API access.
func (o *tokenOwner) usable() bool {
	return o.status.String == castellan.UserActive && o.apiAccess.Bool
}

// allowSources returns the user's API allow sources when it uses them,
// nil otherwise.
func (o *tokenOwner) allowSources() ([]castellan.APIAllowSource, error) {
	if !o.useAPI.Bool {
		return nil, nil
	}
	sources := []castellan.APIAllowSource{}
	if err := json.Unmarshal([]byte(o.sources.String), &sources); err != nil {
		return nil, fmt.Errorf("api allow sources: %w", err)
	}
	return sources, nil
}
