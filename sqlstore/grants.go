package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/castellan-iam/castellan"
)

// GrantService implements castellan.GrantService.
type GrantService struct{ db *DB }

var _ castellan.GrantService = (*GrantService)(nil)

// Grants returns the grant service of db.
func (db *DB) Grants() *GrantService { return &GrantService{db: db} }

const grantColumns = `id, org_id, role_id, scope, subject_type, subject_id, expires_at, created_at, created_by, revision`

func scanGrant(row scanner) (*castellan.Grant, error) {
	var (
		g         castellan.Grant
		expiresAt sql.NullTime
	)
	err := row.Scan(&g.ID, &g.OrganizationID, &g.RoleID, &g.Scope, &g.Subject.Type, &g.Subject.ID,
		&expiresAt, &g.CreatedAt, &g.CreatedBy, &g.Revision)
	if err != nil {
		return nil, err
	}
	g.CreatedAt = g.CreatedAt.UTC()
	if expiresAt.Valid {
		t := expiresAt.Time.UTC()
		g.ExpiresAt = &t
	}
	return &g, nil
}

// nullTime is the column value of an optional instant.
func nullTime(t *time.Time) any {
	if t == nil {
		return nil
	}
	return *t
}

// grantSummary is how a grant appears in audit summaries.
type grantSummary struct {
	ID        string            `json:"id"`
	RoleID    string            `json:"roleId"`
	Scope     string            `json:"scope"`
	Subject   castellan.Subject `json:"subject"`
	ExpiresAt *time.Time        `json:"expiresAt,omitempty"`
}

func grantSummaries(grants []*castellan.Grant) []grantSummary {
	out := make([]grantSummary, len(grants))
	for i, g := range grants {
		out[i] = grantSummary{ID: g.ID, RoleID: g.RoleID, Scope: g.Scope, Subject: g.Subject, ExpiresAt: g.ExpiresAt}
	}
	return out
}

// grantDeletions are the change-log rows of deleted grants.
func grantDeletions(grants []*castellan.Grant) []changedEntity {
	out := make([]changedEntity, len(grants))
	for i, g := range grants {
		out[i] = changedEntity{"grant", g.ID, "delete"}
	}
	return out
}

// deleteGrantsWhere deletes the grants matching where (a condition on the
// grants table) and returns them. Callers lock what the condition is about
// (the group, the role, the project) first, so that no matching grant is
// created until they commit.
func deleteGrantsWhere(ctx context.Context, tx *Tx, where string, args ...any) ([]*castellan.Grant, error) {
	rows, err := tx.query(ctx, `DELETE FROM grants WHERE `+where+` RETURNING `+grantColumns, args...)
	if err != nil {
		return nil, fmt.Errorf("delete grants: %w", err)
	}
	grants, err := collect(rows, scanGrant)
	if err != nil {
		return nil, fmt.Errorf("delete grants: %w", err)
	}
	return grants, nil
}

// FindGrants implements castellan.GrantService. Grants come in ID order,
// which is creation order.
func (s *GrantService) FindGrants(ctx context.Context, orgID string, f castellan.GrantFilter) ([]*castellan.Grant, string, error) {
	cur, err := decodeCursor(f.PageToken, "grants", 1)
	if err != nil {
		return nil, "", err
	}
	size := castellan.PageSize(f.PageSize)
	var cond string
	var condArgs []any
	if f.Scope != nil {
		cond, condArgs = cond+` AND scope = ?`, append(condArgs, *f.Scope)
	}
	if f.RoleID != nil {
		cond, condArgs = cond+` AND role_id = ?`, append(condArgs, *f.RoleID)
	}
	if cur != nil {
		cond, condArgs = cond+` AND id > ?`, append(condArgs, cur.Key[0])
	}
	q, args := `SELECT `+grantColumns+` FROM grants WHERE org_id = ?`, []any{orgID}
	byUser := f.Subject != nil && f.Subject.Type == castellan.SubjectUser
	switch {
	case byUser:
		// The user's own grants, then its groups' grants: each a search
		// of grants_org_subject. (One OR of the two made SQLite read every
		// grant of the organization.)
		q += ` AND subject_type = 'user' AND subject_id = ?` + cond + `
			UNION ALL SELECT ` + grantColumns + ` FROM grants WHERE org_id = ? AND subject_type = 'group' AND subject_id IN
			(SELECT group_id FROM group_members WHERE org_id = ? AND user_id = ?)`
		args = append(append(args, f.Subject.ID), condArgs...)
		args = append(args, orgID, orgID, f.Subject.ID)
	case f.Subject != nil:
		q, args = q+` AND subject_type = ? AND subject_id = ?`, append(args, string(f.Subject.Type), f.Subject.ID)
	}
	q, args = q+cond, append(args, condArgs...)
	rows, err := s.db.query(ctx, q+` ORDER BY id LIMIT ?`, append(args, size+1)...)
	if err != nil {
		return nil, "", err
	}
	grants, err := collect(rows, scanGrant)
	if err != nil {
		return nil, "", err
	}
	if byUser {
		for _, g := range grants {
			if g.Subject.Type == castellan.SubjectGroup {
				via := g.Subject
				g.Via = &via
			}
		}
	}
	grants, next := pageOf(grants, size, func(g *castellan.Grant) cursor {
		return cursor{List: "grants", Key: []string{g.ID}}
	})
	return grants, next, nil
}

// FindGrantsFor implements castellan.GrantService in one query: a UNION
// ALL of one lookup per subject type, each served by the (org_id,
// subject_type, subject_id, scope) index. (One query with an OR over the
// types made both backends scan every grant on the scopes instead.)
func (s *GrantService) FindGrantsFor(ctx context.Context, orgID string, subjects []castellan.Subject, scopes []string) ([]*castellan.Grant, error) {
	if len(subjects) == 0 || len(scopes) == 0 {
		return nil, nil
	}
	idsByType := map[castellan.SubjectType][]string{}
	var types []castellan.SubjectType
	for _, sub := range subjects {
		if _, ok := idsByType[sub.Type]; !ok {
			types = append(types, sub.Type)
		}
		idsByType[sub.Type] = append(idsByType[sub.Type], sub.ID)
	}
	scopeIn, scopeArgs := inList(scopes)
	var (
		selects []string
		args    []any
	)
	for _, t := range types {
		in, ids := inList(idsByType[t])
		selects = append(selects, `SELECT `+grantColumns+` FROM grants
			WHERE org_id = ? AND subject_type = ? AND subject_id IN `+in+` AND scope IN `+scopeIn)
		args = append(append(append(args, orgID, string(t)), ids...), scopeArgs...)
	}
	rows, err := s.db.query(ctx, strings.Join(selects, " UNION ALL ")+` ORDER BY id`, args...)
	if err != nil {
		return nil, err
	}
	return collect(rows, scanGrant)
}

// CreateGrants implements castellan.GrantService. Items are checked in
// order and the first bad one fails the batch. An item that exists already
// (same role, scope and subject), live and with the expiry asked for, is
// returned as it is; one that has expired or has another expiry is
// replaced by a new grant, so that granting again renews. When nothing is
// new, nothing is written and the store's current revision is returned.
func (s *GrantService) CreateGrants(ctx context.Context, orgID string, items []castellan.GrantCreate) ([]*castellan.Grant, int64, error) {
	if err := checkBatchSize("grants", len(items)); err != nil {
		return nil, 0, err
	}
	var (
		out []*castellan.Grant
		rev int64
	)
	err := s.db.update(ctx, func(tx *Tx) error {
		if err := lockOrganization(ctx, tx, orgID); err != nil {
			return err
		}
		check := newGrantChecker(tx, orgID)
		if err := check.prefetch(ctx, items); err != nil {
			return err
		}
		wanted := make([]*castellan.Grant, len(items))
		for i, item := range items {
			g, err := check.item(ctx, i, item)
			if err != nil {
				return err
			}
			wanted[i] = g
		}
		var err error
		out, rev, err = insertGrants(ctx, tx, orgID, wanted)
		return err
	})
	if err != nil {
		return nil, 0, err
	}
	return out, rev, nil
}

// grantKey is what makes two grants the same.
type grantKey struct {
	roleID, scope string
	subject       castellan.Subject
}

func keyOf(g *castellan.Grant) grantKey { return grantKey{g.RoleID, g.Scope, g.Subject} }

// needsRenewal reports whether granting again what existing grants,
// with expiresAt, replaces it: it has expired at now, or its expiry is
// not expiresAt (a permanent grant and an expiring one differ).
func needsRenewal(existing *castellan.Grant, expiresAt *time.Time, now time.Time) bool {
	if !existing.Active(now) {
		return true
	}
	if existing.ExpiresAt == nil || expiresAt == nil {
		return existing.ExpiresAt != expiresAt
	}
	return !existing.ExpiresAt.Equal(*expiresAt)
}

// insertGrants makes the checked grants: one that exists and needs no
// renewal stands as it is, one that needs renewal is replaced, the others
// are inserted. It returns, in input order, the grant standing for each.
// The first of repeated items decides the expiry.
func insertGrants(ctx context.Context, tx *Tx, orgID string, wanted []*castellan.Grant) ([]*castellan.Grant, int64, error) {
	out, c, err := writeGrants(ctx, tx, orgID, wanted)
	if err != nil {
		return nil, 0, err
	}
	if c == nil {
		return out, tx.unchangedRevision(), nil
	}
	rev, err := tx.record(ctx, *c)
	return out, rev, err
}

// writeGrants is insertGrants without recording: it returns the change,
// nil when there was nothing to do.
func writeGrants(ctx context.Context, tx *Tx, orgID string, wanted []*castellan.Grant) ([]*castellan.Grant, *change, error) {
	add, err := addGrants(ctx, tx, wanted)
	if err != nil {
		return nil, nil, err
	}
	renewed, err := renewGrants(ctx, tx, orgID, add.stale, add.renewed, add.byKey)
	if err != nil {
		return nil, nil, err
	}
	return add.standing(wanted), grantChange(orgID, append(add.created, renewed...), add.stale), nil
}

// addition is what addGrants did, and what it left to renewGrants.
type addition struct {
	// byKey holds the grant standing for each key wanted: one created,
	// one that stood already, or one of renewed.
	byKey map[grantKey]*castellan.Grant
	// created were inserted; renewed are to take the place of stale, the
	// existing grants they renew.
	created, renewed, stale []*castellan.Grant
}

// standing returns, in the order of wanted, the grant standing for each.
func (a *addition) standing(wanted []*castellan.Grant) []*castellan.Grant {
	out := make([]*castellan.Grant, len(wanted))
	for i, g := range wanted {
		out[i] = a.byKey[keyOf(g)]
	}
	return out
}

// addGrants inserts the checked grants that do not exist, many per
// statement, and sorts out those that do: one that needs no renewal
// stands as it is, one that does is left in renewed (with the grant it
// replaces in stale) for renewGrants, the only step that can refuse
// (under the Owner rule). The first of repeated items decides the
// expiry.
func addGrants(ctx context.Context, tx *Tx, wanted []*castellan.Grant) (*addition, error) {
	a := &addition{byKey: make(map[grantKey]*castellan.Grant, len(wanted))}
	var fresh []*castellan.Grant
	for _, g := range wanted {
		if k := keyOf(g); a.byKey[k] == nil {
			a.byKey[k] = g
			fresh = append(fresh, g)
		}
	}
	var err error
	if a.created, err = insertNewGrants(ctx, tx, fresh, a.byKey); err != nil {
		return nil, err
	}
	for _, g := range fresh {
		k := keyOf(g)
		if existing := a.byKey[k]; existing != g && needsRenewal(existing, g.ExpiresAt, tx.now) {
			a.stale, a.renewed = append(a.stale, existing), append(a.renewed, g)
			a.byKey[k] = g
		}
	}
	return a, nil
}

// replaceGrants deletes stale grants, which the transaction read, and
// inserts fresh ones, some of which take the place of stale ones with the
// same role, scope and subject (hence deleting first), as one
// iam:SetGrants change. It refuses under the Owner rule, and returns
// the revision, unchanged when there was nothing to do.
func replaceGrants(ctx context.Context, tx *Tx, orgID string, stale, fresh []*castellan.Grant, byKey map[grantKey]*castellan.Grant) (int64, error) {
	created, err := renewGrants(ctx, tx, orgID, stale, fresh, byKey)
	if err != nil {
		return 0, err
	}
	if c := grantChange(orgID, created, stale); c != nil {
		return tx.record(ctx, *c)
	}
	return tx.unchangedRevision(), nil
}

// renewGrants deletes stale grants and inserts fresh ones, refusing
// under the Owner rule, and returns those it inserted.
func renewGrants(ctx context.Context, tx *Tx, orgID string, stale, fresh []*castellan.Grant, byKey map[grantKey]*castellan.Grant) ([]*castellan.Grant, error) {
	var created []*castellan.Grant
	err := keepAnOwner(ctx, tx, orgID, slices.ContainsFunc(stale, isOwnerGrant), func() error {
		if err := deleteGrants(ctx, tx, orgID, stale); err != nil {
			return err
		}
		var err error
		created, err = insertNewGrants(ctx, tx, fresh, byKey)
		return err
	})
	return created, err
}

// grantChange is the change of an iam:SetGrants write, nil when it
// neither created nor deleted a grant.
func grantChange(orgID string, created, deleted []*castellan.Grant) *change {
	if len(created) == 0 && len(deleted) == 0 {
		return nil
	}
	also := grantDeletions(deleted)
	for _, g := range created {
		also = append(also, changedEntity{"grant", g.ID, "create"})
	}
	summary := map[string]any{}
	if len(created) > 0 {
		summary["created"] = grantSummaries(created)
	}
	if len(deleted) > 0 {
		summary["deleted"] = grantSummaries(deleted)
	}
	return &change{orgID: orgID, action: castellan.ActionSetGrants, entityType: "organization", entityID: orgID, summary: summary, also: also}
}

// insertNewGrants inserts grants, many per statement, and returns those
// it inserted. One whose role, scope and subject a grant has already
// (from before, or created meanwhile by a concurrent transaction) is not
// inserted: that grant takes its place in byKey.
func insertNewGrants(ctx context.Context, tx *Tx, fresh []*castellan.Grant, byKey map[grantKey]*castellan.Grant) ([]*castellan.Grant, error) {
	rev := tx.revision
	rows := make([][]any, len(fresh))
	for i, g := range fresh {
		g.ID, g.CreatedAt, g.CreatedBy, g.Revision = newID(), tx.now, tx.actorID(), rev
		rows[i] = []any{g.ID, g.OrganizationID, g.RoleID, g.Scope, string(g.Subject.Type), g.Subject.ID, nullTime(g.ExpiresAt),
			g.CreatedAt, g.CreatedBy, g.Revision, scopeKindOf(g.Scope)}
	}
	ids, err := tx.insertRowsReturning(ctx, `INSERT INTO grants (`+grantColumns+`, scope_kind) VALUES `,
		` ON CONFLICT (org_id, role_id, scope, subject_type, subject_id) DO NOTHING RETURNING id`, rows)
	if err != nil {
		return nil, fmt.Errorf("insert grants: %w", err)
	}
	inserted := make(map[string]bool, len(ids))
	for _, id := range ids {
		inserted[id] = true
	}
	created := make([]*castellan.Grant, 0, len(ids))
	for _, g := range fresh {
		if inserted[g.ID] {
			created = append(created, g)
			continue
		}
		existing, err := findGrantByKey(ctx, tx, g)
		if err != nil || existing == nil {
			return nil, fmt.Errorf("grant %s vanished after a conflicting insert: %v", g.ID, err)
		}
		byKey[keyOf(g)] = existing
	}
	return created, nil
}

// scopeKindOf returns the kind of a scope string that ParseScope accepted.
func scopeKindOf(scope string) string {
	if strings.HasPrefix(scope, "rn:") {
		return string(castellan.ScopeResource)
	}
	kind, _, _ := strings.Cut(scope, "/")
	return kind
}

// findGrantByKey returns the grant with g's role, scope and subject, or nil.
func findGrantByKey(ctx context.Context, tx *Tx, g *castellan.Grant) (*castellan.Grant, error) {
	existing, err := scanGrant(tx.queryRow(ctx, `SELECT `+grantColumns+` FROM grants
		WHERE org_id = ? AND role_id = ? AND scope = ? AND subject_type = ? AND subject_id = ?`,
		g.OrganizationID, g.RoleID, g.Scope, string(g.Subject.Type), g.Subject.ID))
	if isNoRows(err) {
		return nil, nil
	}
	return existing, err
}

// FindGrantsByID implements castellan.GrantService. An unknown ID is
// named as item i of grantIds, the list callers take IDs from.
func (s *GrantService) FindGrantsByID(ctx context.Context, orgID string, ids []string) ([]*castellan.Grant, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	in, args := inList(unique(ids))
	rows, err := s.db.query(ctx, `SELECT `+grantColumns+` FROM grants WHERE `+s.db.dialect.byKey("org_id")+` = ? AND id IN `+in, append([]any{orgID}, args...)...)
	if err != nil {
		return nil, err
	}
	grants, err := collect(rows, scanGrant)
	if err != nil {
		return nil, err
	}
	return inOrder(grants, ids)
}

// inOrder returns grants in the order of ids (repeats included), or
// ENOTFOUND (grant.not_found) naming the first ID not among them.
func inOrder(grants []*castellan.Grant, ids []string) ([]*castellan.Grant, error) {
	byID := make(map[string]*castellan.Grant, len(grants))
	for _, g := range grants {
		byID[g.ID] = g
	}
	out := make([]*castellan.Grant, len(ids))
	for i, id := range ids {
		if out[i] = byID[id]; out[i] == nil {
			return nil, itemError(castellan.ENOTFOUND, castellan.CodeGrantNotFound, itemField("grantIds", i, ""), "exists",
				"grant %s not found", id)
		}
	}
	return out, nil
}

// DeleteGrants implements castellan.GrantService.
func (s *GrantService) DeleteGrants(ctx context.Context, orgID string, ids []string) (int64, error) {
	if err := checkBatchSize("grantIds", len(ids)); err != nil {
		return 0, err
	}
	var rev int64
	err := s.db.update(ctx, func(tx *Tx) error {
		in, args := inList(unique(ids))
		rows, err := tx.query(ctx, `SELECT `+grantColumns+` FROM grants WHERE `+tx.db.dialect.byKey("org_id")+` = ? AND id IN `+in, append([]any{orgID}, args...)...)
		if err != nil {
			return err
		}
		grants, err := collect(rows, scanGrant)
		if err != nil {
			return err
		}
		if _, err := inOrder(grants, ids); err != nil {
			return err
		}
		var deleted []*castellan.Grant
		err = keepAnOwner(ctx, tx, orgID, slices.ContainsFunc(grants, isOwnerGrant), func() (err error) {
			deleted, err = deleteGrantsWhere(ctx, tx, tx.db.dialect.byKey("org_id")+` = ? AND id IN `+in, append([]any{orgID}, args...)...)
			return err
		})
		if err != nil {
			return err
		}
		if len(deleted) != len(grants) {
			// A concurrent transaction deleted one of them first.
			return castellan.Errorf(castellan.ENOTFOUND, castellan.CodeGrantNotFound, "a grant of the batch was deleted meanwhile")
		}
		rev, err = tx.record(ctx, *grantChange(orgID, nil, deleted))
		return err
	})
	return rev, err
}

// DeleteExpiredGrants implements castellan.GrantService: one transaction,
// revision and audit event (by the system) per organization.
func (s *GrantService) DeleteExpiredGrants(ctx context.Context) (int, error) {
	now := s.db.now().UTC().Truncate(time.Microsecond)
	rows, err := s.db.query(ctx, `SELECT DISTINCT org_id FROM grants WHERE expires_at IS NOT NULL AND expires_at <= ? ORDER BY org_id`, now)
	if err != nil {
		return 0, err
	}
	orgs, err := collect(rows, scanString)
	if err != nil {
		return 0, err
	}
	total := 0
	for _, orgID := range orgs {
		n := 0
		err := s.db.update(ctx, func(tx *Tx) error {
			tx.actor = castellan.Principal{Type: castellan.PrincipalSystem, ID: "castellan"}
			deleted, err := deleteGrantsWhere(ctx, tx, `org_id = ? AND expires_at IS NOT NULL AND expires_at <= ?`, orgID, tx.now)
			if err != nil || len(deleted) == 0 {
				return err
			}
			_, err = tx.record(ctx, change{
				orgID: orgID, action: castellan.ActionDeleteExpiredGrants,
				entityType: "organization", entityID: orgID,
				summary: map[string]any{"deleted": grantSummaries(deleted)},
				also:    grantDeletions(deleted),
			})
			n = len(deleted)
			return err
		})
		if err != nil {
			return total, err
		}
		total += n
	}
	return total, nil
}
