package sqlstore

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"time"

	"github.com/castellan-iam/castellan"
)

// SCIMTokenService implements castellan.SCIMTokenService.
type SCIMTokenService struct{ db *DB }

var _ castellan.SCIMTokenService = (*SCIMTokenService)(nil)

// SCIMTokens returns the SCIM token service of db.
func (db *DB) SCIMTokens() *SCIMTokenService { return &SCIMTokenService{db: db} }

const scimTokenColumns = `id, org_id, name, federation_id, actor_user_id, created_at, expires_at, revision`

// scanSCIMToken reads scimTokenColumns, then extra.
func scanSCIMToken(row scanner, extra ...any) (*castellan.SCIMToken, error) {
	var (
		t       castellan.SCIMToken
		expires time.Time
	)
	dest := []any{&t.ID, &t.OrganizationID, &t.Name, &t.FederationID, &t.ActorUserID, &t.CreatedAt, &expires, &t.Revision}
	if err := row.Scan(append(dest, extra...)...); err != nil {
		return nil, err
	}
	t.CreatedAt, expires = t.CreatedAt.UTC(), expires.UTC()
	t.ExpiresAt = &expires
	return &t, nil
}

// CreateSCIMToken implements castellan.SCIMTokenService.
func (s *SCIMTokenService) CreateSCIMToken(ctx context.Context, orgID string, c castellan.SCIMTokenCreate) (*castellan.NewSCIMToken, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	p, _ := castellan.PrincipalFrom(ctx)
	if p.Type != castellan.PrincipalUser || p.OrganizationID != orgID {
		return nil, castellan.Errorf(castellan.EINVALID, castellan.CodeSCIMTokenNeedsUser,
			"a SCIM token acts as the user who creates it: create it as a user of the organization")
	}
	days := c.ValidDays
	if days == 0 {
		days = castellan.MaxSCIMTokenDays
	}
	var out *castellan.NewSCIMToken
	err := s.db.update(ctx, func(tx *Tx) error {
		if err := lockActiveUser(ctx, tx, orgID, p.ID); err != nil {
			return err
		}
		if c.FederationID != "" {
			if _, err := findFederation(ctx, tx.queryRow, orgID, c.FederationID, tx.db.dialect.lockKey); err != nil {
				return err
			}
		}
		var b [32]byte
		rand.Read(b[:]) // never fails (crypto/rand documents it)
		secret := castellan.SCIMTokenPrefix + base64.RawURLEncoding.EncodeToString(b[:])
		expires := tx.now.Add(time.Duration(days) * 24 * time.Hour)
		t := &castellan.SCIMToken{ID: newID(), OrganizationID: orgID, Name: c.Name, FederationID: c.FederationID, ActorUserID: p.ID,
			CreatedAt: tx.now, ExpiresAt: &expires, Revision: tx.revision}
		_, err := tx.exec(ctx, `INSERT INTO scim_tokens (`+scimTokenColumns+`, secret_hash, created_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			t.ID, orgID, t.Name, t.FederationID, t.ActorUserID, t.CreatedAt, expires, t.Revision, HashToken(secret), tx.actorID())
		if err != nil {
			return fmt.Errorf("insert SCIM token: %w", err)
		}
		out = &castellan.NewSCIMToken{SCIMToken: t, Secret: secret}
		_, err = tx.record(ctx, change{
			orgID: orgID, action: castellan.ActionCreateSCIMToken,
			entityType: "scim_token", entityID: t.ID, entityName: t.Name, operation: "create",
			summary: map[string]any{"name": t.Name, "federationId": t.FederationID, "actorUserId": t.ActorUserID, "expiresAt": expires},
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// FindSCIMTokens implements castellan.SCIMTokenService.
func (s *SCIMTokenService) FindSCIMTokens(ctx context.Context, orgID string) ([]*castellan.SCIMToken, error) {
	rows, err := s.db.query(ctx, `SELECT `+scimTokenColumns+` FROM scim_tokens WHERE org_id = ? ORDER BY created_at DESC, id DESC`, orgID)
	if err != nil {
		return nil, err
	}
	return collect(rows, func(row scanner) (*castellan.SCIMToken, error) { return scanSCIMToken(row) })
}

// DeleteSCIMToken implements castellan.SCIMTokenService.
func (s *SCIMTokenService) DeleteSCIMToken(ctx context.Context, orgID, id string) (int64, error) {
	var rev int64
	err := s.db.update(ctx, func(tx *Tx) error {
		t, err := scanSCIMToken(tx.queryRow(ctx, `SELECT `+scimTokenColumns+` FROM scim_tokens WHERE org_id = ? AND id = ?`+tx.db.dialect.lockDelete, orgID, id))
		if isNoRows(err) {
			return notFound(castellan.CodeSCIMTokenNotFound, "SCIM token", id)
		}
		if err != nil {
			return err
		}
		if _, err := tx.exec(ctx, `DELETE FROM scim_tokens WHERE org_id = ? AND id = ?`, orgID, id); err != nil {
			return fmt.Errorf("delete SCIM token: %w", err)
		}
		rev, err = tx.record(ctx, change{
			orgID: orgID, action: castellan.ActionDeleteSCIMToken,
			entityType: "scim_token", entityID: id, entityName: t.Name, operation: "delete",
			summary: map[string]any{"name": t.Name},
		})
		return err
	})
	return rev, err
}

// AuthenticateSCIM implements castellan.SCIMTokenService. It reads and
// writes nothing else: a token is checked on every SCIM request. The
// token is its actor's API credential: the actor must be active with API
// access, and the request come from its API allow sources when it has
// them, as for the actor's own tokens.
func (s *SCIMTokenService) AuthenticateSCIM(ctx context.Context, secret string) (*castellan.SCIMToken, castellan.Principal, error) {
	if !castellan.ValidSCIMTokenSyntax(secret) {
		return nil, castellan.Principal{}, errUnauthenticated
	}
	var owner tokenOwner
	t, err := scanSCIMToken(s.db.queryRow(ctx, `SELECT t.id, t.org_id, t.name, t.federation_id, t.actor_user_id, t.created_at, t.expires_at,
		t.revision, `+tokenOwnerColumns+` FROM scim_tokens t LEFT JOIN users u ON u.org_id = t.org_id AND u.id = t.actor_user_id WHERE t.secret_hash = ?`,
		HashToken(secret)), owner.fields()...)
	switch {
	case isNoRows(err):
		return nil, castellan.Principal{}, errUnauthenticated
	case err != nil:
		return nil, castellan.Principal{}, err
	case !owner.usable() || !s.db.now().Before(*t.ExpiresAt):
		return nil, castellan.Principal{}, errUnauthenticated
	}
	sources, err := owner.allowSources()
	if err != nil {
		return nil, castellan.Principal{}, err
	}
	if sources != nil && !castellan.SourceAllowed(sources, castellan.RequestInfoFrom(ctx)) {
		return nil, castellan.Principal{}, castellan.SourceNotAllowed()
	}
	return t, castellan.Principal{Type: castellan.PrincipalUser, ID: t.ActorUserID, OrganizationID: t.OrganizationID, SCIMTokenID: t.ID}, nil
}
