package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/castellan-iam/castellan"
)

// FederationService implements castellan.FederationService.
type FederationService struct{ db *DB }

var _ castellan.FederationService = (*FederationService)(nil)

// Federations returns the federation service of db.
func (db *DB) Federations() *FederationService { return &FederationService{db: db} }

const federationColumns = `id, org_id, name, description, issuer, client_id, secret_sealed IS NOT NULL, scopes, email_claim, name_claim,
	groups_claim, allowed_domains, auto_provision, mfa_by_idp, trust_email, group_mappings, created_at, created_by, updated_at, updated_by, revision`

// scanFederation reads federationColumns, then extra.
func scanFederation(row scanner, extra ...any) (*castellan.Federation, error) {
	var (
		f                         castellan.Federation
		scopes, domains, mappings string
	)
	dest := []any{&f.ID, &f.OrganizationID, &f.Name, &f.Description, &f.Issuer, &f.ClientID, &f.HasClientSecret, &scopes,
		&f.EmailClaim, &f.NameClaim, &f.GroupsClaim, &domains, &f.AutoProvision, &f.MFAByIdP, &f.TrustEmail, &mappings,
		&f.CreatedAt, &f.CreatedBy, &f.UpdatedAt, &f.UpdatedBy, &f.Revision}
	err := row.Scan(append(dest, extra...)...)
	if err != nil {
		return nil, err
	}
	for _, l := range []struct {
		text string
		into any
	}{{scopes, &f.Scopes}, {domains, &f.AllowedDomains}, {mappings, &f.GroupMappings}} {
		if err := json.Unmarshal([]byte(l.text), l.into); err != nil {
			return nil, fmt.Errorf("read federation %s: %w", f.ID, err)
		}
	}
	f.CreatedAt, f.UpdatedAt = f.CreatedAt.UTC(), f.UpdatedAt.UTC()
	return &f, nil
}

// federationLists are the JSON columns of f.
func federationLists(f *castellan.Federation) (scopes, domains, mappings string) {
	s, _ := json.Marshal(nonNilSlice(f.Scopes)) // strings always marshal
	d, _ := json.Marshal(nonNilSlice(f.AllowedDomains))
	m, _ := json.Marshal(nonNilSlice(f.GroupMappings))
	return string(s), string(d), string(m)
}

// findFederation reads a federation of the organization with lock (a
// dialect lock clause, or "").
func findFederation(ctx context.Context, queryRow func(context.Context, string, ...any) *sql.Row, orgID, id, lock string) (*castellan.Federation, error) {
	f, err := scanFederation(queryRow(ctx, `SELECT `+federationColumns+` FROM federations WHERE org_id = ? AND id = ?`+lock, orgID, id))
	if isNoRows(err) {
		return nil, notFound(castellan.CodeFederationNotFound, "federation", id)
	}
	return f, err
}

// FindFederationByID implements castellan.FederationService.
func (s *FederationService) FindFederationByID(ctx context.Context, orgID, id string) (*castellan.Federation, error) {
	return findFederation(ctx, s.db.queryRow, orgID, id, "")
}

// FindFederations implements castellan.FederationService; federations
// come by name, case-insensitively.
func (s *FederationService) FindFederations(ctx context.Context, orgID string, f castellan.FederationFilter) ([]*castellan.Federation, string, error) {
	cur, err := decodeCursor(f.PageToken, "federations", 1)
	if err != nil {
		return nil, "", err
	}
	size := castellan.PageSize(f.PageSize)
	q, args := `SELECT `+federationColumns+` FROM federations WHERE org_id = ?`, []any{orgID}
	if cur != nil {
		q, args = q+` AND name_lower > ?`, append(args, cur.Key[0])
	}
	rows, err := s.db.query(ctx, q+` ORDER BY name_lower LIMIT ?`, append(args, size+1)...)
	if err != nil {
		return nil, "", err
	}
	list, err := collect(rows, func(row scanner) (*castellan.Federation, error) { return scanFederation(row) })
	if err != nil {
		return nil, "", err
	}
	list, next := pageOf(list, size, func(f *castellan.Federation) cursor {
		return cursor{List: "federations", Key: []string{strings.ToLower(f.Name)}}
	})
	return list, next, nil
}

// sealClientSecret returns secret_sealed and secret_kek_id for a
// federation's client secret: NULLs for none, and EINVALID
// (federation.secret_not_sealable) when there is one and no sealer.
func (db *DB) sealClientSecret(federationID, secret string) (sealed, kekID any, err error) {
	if secret == "" {
		return nil, nil, nil
	}
	if db.sealer == nil {
		msg := "cannot be stored: the server has no key-encryption key (serve --secret-key-file) to seal it with"
		return nil, nil, &castellan.Error{Kind: castellan.EINVALID, Code: castellan.CodeFederationSecretNotSealable,
			Message: "clientSecret: " + msg, Fields: []castellan.FieldError{{Field: "clientSecret", Rule: "sealable", Message: msg}}}
	}
	id, b, err := db.sealer.Seal([]byte(secret), []byte(federationID))
	if err != nil {
		return nil, nil, fmt.Errorf("seal client secret: %w", err)
	}
	return b, id, nil
}

// checkMappedGroups refuses mappings to groups the organization does not
// have: ENOTFOUND (group.not_found) naming the mapping.
func checkMappedGroups(ctx context.Context, tx *Tx, orgID string, mappings []castellan.GroupMapping) error {
	for i, m := range mappings {
		if _, err := lockGroup(ctx, tx, orgID, m.GroupID, tx.db.dialect.lockKey); err != nil {
			if castellan.ErrorKind(err) == castellan.ENOTFOUND {
				return itemError(castellan.ENOTFOUND, castellan.CodeGroupNotFound, itemField("groupMappings", i, ".groupId"), "exists",
					"group %s is not a group of this organization", m.GroupID)
			}
			return err
		}
	}
	return nil
}

// CreateFederation implements castellan.FederationService.
func (s *FederationService) CreateFederation(ctx context.Context, orgID string, fc castellan.FederationCreate) (*castellan.Federation, error) {
	if err := fc.Validate(); err != nil {
		return nil, err
	}
	fc.Normalize()
	var f *castellan.Federation
	err := s.db.update(ctx, func(tx *Tx) error {
		if err := lockOrganization(ctx, tx, orgID); err != nil {
			return err
		}
		if err := checkMappedGroups(ctx, tx, orgID, fc.GroupMappings); err != nil {
			return err
		}
		f = &castellan.Federation{
			ID: newID(), OrganizationID: orgID, Name: fc.Name, Description: fc.Description, Issuer: fc.Issuer, ClientID: fc.ClientID,
			HasClientSecret: fc.ClientSecret != "", Scopes: fc.Scopes, EmailClaim: fc.EmailClaim, NameClaim: fc.NameClaim,
			GroupsClaim: fc.GroupsClaim, AllowedDomains: fc.AllowedDomains, AutoProvision: fc.AutoProvision, MFAByIdP: fc.MFAByIdP, TrustEmail: fc.TrustEmail,
			GroupMappings: nonNilSlice(fc.GroupMappings),
			CreatedAt:     tx.now, CreatedBy: tx.actorID(), UpdatedAt: tx.now, UpdatedBy: tx.actorID(), Revision: tx.revision,
		}
		sealed, kekID, err := tx.db.sealClientSecret(f.ID, fc.ClientSecret)
		if err != nil {
			return err
		}
		scopes, domains, mappings := federationLists(f)
		_, err = tx.exec(ctx, `INSERT INTO federations (id, org_id, name, name_lower, description, issuer, client_id, secret_sealed, secret_kek_id,
			scopes, email_claim, name_claim, groups_claim, allowed_domains, auto_provision, mfa_by_idp, trust_email, group_mappings,
			created_at, created_by, updated_at, updated_by, revision) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			f.ID, orgID, f.Name, strings.ToLower(f.Name), f.Description, f.Issuer, f.ClientID, sealed, kekID,
			scopes, f.EmailClaim, f.NameClaim, f.GroupsClaim, domains, f.AutoProvision, f.MFAByIdP, f.TrustEmail, mappings,
			f.CreatedAt, f.CreatedBy, f.UpdatedAt, f.UpdatedBy, f.Revision)
		if c := conflict(err, f.Name); c != nil {
			return c
		}
		if err != nil {
			return fmt.Errorf("insert federation: %w", err)
		}
		_, err = tx.record(ctx, change{
			orgID: orgID, action: castellan.ActionCreateFederation,
			entityType: "federation", entityID: f.ID, entityName: f.Name, operation: "create",
			summary: federationSummary(f),
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	return f, nil
}

// federationSummary is what the audit log keeps of a federation: every
// setting but the secret, of which only its presence.
func federationSummary(f *castellan.Federation) map[string]any {
	return map[string]any{
		"name": f.Name, "issuer": f.Issuer, "clientId": f.ClientID, "hasClientSecret": f.HasClientSecret, "scopes": f.Scopes,
		"emailClaim": f.EmailClaim, "nameClaim": f.NameClaim, "groupsClaim": f.GroupsClaim, "allowedDomains": f.AllowedDomains,
		"autoProvision": f.AutoProvision, "mfaByIdp": f.MFAByIdP, "trustEmail": f.TrustEmail, "groupMappings": f.GroupMappings,
	}
}

// UpdateFederation implements castellan.FederationService. The audit
// event carries the settings before and after.
func (s *FederationService) UpdateFederation(ctx context.Context, orgID, id string, upd castellan.FederationUpdate) (*castellan.Federation, error) {
	if err := upd.Validate(); err != nil {
		return nil, err
	}
	var f *castellan.Federation
	err := s.db.update(ctx, func(tx *Tx) error {
		var err error
		if f, err = findFederation(ctx, tx.queryRow, orgID, id, tx.db.dialect.lockExclusive); err != nil {
			return err
		}
		before := federationSummary(f)
		oldIssuer, oldClient := f.Issuer, f.ClientID
		if !upd.Apply(f) {
			return nil // nothing changes: no revision, no audit event
		}
		if err := f.Check(); err != nil {
			return err
		}
		newClient := f.Issuer != oldIssuer || f.ClientID != oldClient
		// The secret belongs to the client it was made for: it is never
		// sent to another provider's token endpoint.
		if newClient && f.HasClientSecret && upd.ClientSecret == nil {
			msg := "must be given again when the issuer or the client ID changes: the secret is the old client's"
			return &castellan.Error{Kind: castellan.EINVALID, Code: castellan.CodeInvalidField, Message: "clientSecret: " + msg,
				Fields: []castellan.FieldError{{Field: "clientSecret", Rule: "required", Message: msg}}}
		}
		if upd.GroupMappings != nil {
			if err := checkMappedGroups(ctx, tx, orgID, f.GroupMappings); err != nil {
				return err
			}
		}
		f.Revision, f.UpdatedAt, f.UpdatedBy = tx.revision, tx.now, tx.actorID()
		scopes, domains, mappings := federationLists(f)
		q := `UPDATE federations SET name = ?, name_lower = ?, description = ?, issuer = ?, client_id = ?, scopes = ?, email_claim = ?,
			name_claim = ?, groups_claim = ?, allowed_domains = ?, auto_provision = ?, mfa_by_idp = ?, trust_email = ?, group_mappings = ?,
			updated_at = ?, updated_by = ?, revision = ?`
		args := []any{f.Name, strings.ToLower(f.Name), f.Description, f.Issuer, f.ClientID, scopes, f.EmailClaim,
			f.NameClaim, f.GroupsClaim, domains, f.AutoProvision, f.MFAByIdP, f.TrustEmail, mappings, f.UpdatedAt, f.UpdatedBy, f.Revision}
		if upd.ClientSecret != nil {
			sealed, kekID, err := tx.db.sealClientSecret(id, *upd.ClientSecret)
			if err != nil {
				return err
			}
			q, args = q+`, secret_sealed = ?, secret_kek_id = ?`, append(args, sealed, kekID)
		}
		_, err = tx.exec(ctx, q+` WHERE org_id = ? AND id = ?`, append(args, orgID, id)...)
		if c := conflict(err, f.Name); c != nil {
			return c
		}
		if err != nil {
			return fmt.Errorf("update federation: %w", err)
		}
		summary := map[string]any{"before": before, "after": federationSummary(f)}
		// Subjects are the old provider's: users bind again, by their
		// email, at their next sign-in.
		if f.Issuer != oldIssuer {
			unbound, err := unbindFederatedUsers(ctx, tx, orgID, id)
			if err != nil {
				return err
			}
			summary["unboundUsers"] = unbound
		}
		if upd.ClientSecret != nil {
			summary["clientSecretChanged"] = true
		}
		_, err = tx.record(ctx, change{
			orgID: orgID, action: castellan.ActionUpdateFederation,
			entityType: "federation", entityID: id, entityName: f.Name, operation: "update", summary: summary,
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	return f, nil
}

// unbindFederatedUsers forgets the provider subjects of the federation's
// users in tx and returns how many were bound.
func unbindFederatedUsers(ctx context.Context, tx *Tx, orgID, federationID string) (int64, error) {
	res, err := tx.exec(ctx, `UPDATE users SET federation_subject = '' WHERE org_id = ? AND federation_id = ? AND federation_subject <> ''
		AND status <> 'deleted'`,
		orgID, federationID)
	if err != nil {
		return 0, fmt.Errorf("unbind federated users: %w", err)
	}
	return res.RowsAffected()
}

// DeleteFederation implements castellan.FederationService. The row is
// locked first, so that no user is registered into it meanwhile
// (registration holds lockKey on it).
func (s *FederationService) DeleteFederation(ctx context.Context, orgID, id string) (int64, error) {
	var rev int64
	err := s.db.update(ctx, func(tx *Tx) error {
		f, err := findFederation(ctx, tx.queryRow, orgID, id, tx.db.dialect.lockDelete)
		if err != nil {
			return err
		}
		var users, tokens int
		if err := tx.queryRow(ctx, `SELECT (SELECT COUNT(*) FROM users WHERE org_id = ? AND federation_id = ? AND status <> 'deleted'),
			(SELECT COUNT(*) FROM scim_tokens WHERE org_id = ? AND federation_id = ?)`, orgID, id, orgID, id).Scan(&users, &tokens); err != nil {
			return fmt.Errorf("count federated users: %w", err)
		}
		if users > 0 || tokens > 0 {
			return castellan.Errorf(castellan.EPRECONDITION, castellan.CodeFederationInUse,
				"federation %s still has %d users, who sign in only through it, and %d SCIM tokens provisioning into it: delete them first",
				f.Name, users, tokens)
		}
		if _, err := tx.exec(ctx, `DELETE FROM federations WHERE org_id = ? AND id = ?`, orgID, id); err != nil {
			return fmt.Errorf("delete federation: %w", err)
		}
		rev, err = tx.record(ctx, change{
			orgID: orgID, action: castellan.ActionDeleteFederation,
			entityType: "federation", entityID: id, entityName: f.Name, operation: "delete",
			summary: map[string]any{"name": f.Name, "issuer": f.Issuer},
		})
		return err
	})
	return rev, err
}

// checkFederations refuses registrations of federated users whose
// federation is not one of the organization's (ENOTFOUND
// federation.not_found) or does not allow their email's domain (EINVALID
// user.email_domain_not_allowed); it holds lockKey on each federation
// until tx ends, so that none is deleted beside the new users. prefix
// names item i's fields.
func checkFederations(ctx context.Context, tx *Tx, orgID string, regs []castellan.UserRegistration, prefix func(i int) string) error {
	seen := map[string]*castellan.Federation{}
	for i, r := range regs {
		if r.AccountType != castellan.AccountFederated {
			continue
		}
		f, ok := seen[r.FederationID]
		if !ok {
			var err error
			f, err = findFederation(ctx, tx.queryRow, orgID, r.FederationID, tx.db.dialect.lockKey)
			if castellan.ErrorKind(err) == castellan.ENOTFOUND {
				return itemError(castellan.ENOTFOUND, castellan.CodeFederationNotFound, prefix(i)+"federationId", "exists",
					"federation %s is not an identity federation of this organization", r.FederationID)
			}
			if err != nil {
				return err
			}
			seen[r.FederationID] = f
		}
		if !f.AllowsEmail(r.Email) {
			return itemError(castellan.EINVALID, castellan.CodeInvalidField, prefix(i)+"email", "domain",
				"must be at one of the domains federation %s allows: %s", f.Name, strings.Join(f.AllowedDomains, ", "))
		}
	}
	return nil
}
