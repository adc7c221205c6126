package sqlstore

import (
	"context"
	"database/sql"
	"errors"

	"github.com/castellan-iam/castellan"
)

// The Owner rule, written once: an organization that has an owner keeps
// one. An owner is an active user (not disabled, not invited and pending,
// not deleted) holding the built-in role organization.owner on the
// organization itself without expiry, through a grant to the user or to a
// group the user is a member of. A grant that expires does not make an
// owner even while it is live, since the sweep deletes it without asking.
//
// Every write that may take an owner away runs its writing part through
// keepAnOwner: revoking grants (DeleteGrants, RemoveRoles, SetRoles, and
// CreateGrants giving an owner grant an expiry), disabling a user
// (UpdateUser), deleting a user, removing members from a group and
// deleting a group. Bootstrap only makes an owner, and deleting the
// organization takes everything with it, so neither asks.

// isOwnerGrant reports whether g can make owners: organization.owner, to a
// user or a group, on the organization, without expiry. A write deleting
// or replacing none of these cannot take an owner away.
func isOwnerGrant(g *castellan.Grant) bool {
	return g.RoleID == castellan.OrganizationOwnerRoleID &&
		(g.Subject.Type == castellan.SubjectUser || g.Subject.Type == castellan.SubjectGroup) &&
		g.Scope == castellan.OrganizationScope(g.OrganizationID).String() && g.ExpiresAt == nil
}

// ownersQuery finds the owners of an organization (its arguments: the
// organization, the role and the organization's scope, twice), a user
// once per path that makes it one. It starts from the organization's few
// owner grants (grants_org_role), then reads their users, or their
// groups' members and those members.
const ownersQuery = `SELECT u.id FROM grants g
	JOIN users u ON u.org_id = g.org_id AND u.id = g.subject_id
	WHERE g.org_id = ? AND g.role_id = ? AND g.scope = ? AND g.subject_type = 'user' AND g.expires_at IS NULL
		AND u.status = 'active'
	UNION ALL SELECT u.id FROM grants g
	JOIN group_members m ON m.group_id = g.subject_id AND m.org_id = g.org_id
	JOIN users u ON u.org_id = m.org_id AND u.id = m.user_id
	WHERE g.org_id = ? AND g.role_id = ? AND g.scope = ? AND g.subject_type = 'group' AND g.expires_at IS NULL
		AND u.status = 'active'`

// anOwnerQuery finds one owner of an organization; its arguments are
// ownersQuery's.
const anOwnerQuery = ownersQuery + ` LIMIT 1`

// hasOwner reports whether the organization has an owner, as tx sees it.
func hasOwner(ctx context.Context, tx *Tx, orgID string) (bool, error) {
	role, scope := castellan.OrganizationOwnerRoleID, castellan.OrganizationScope(orgID).String()
	var id string
	err := tx.queryRow(ctx, anOwnerQuery, orgID, role, scope, orgID, role, scope).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// keepAnOwner runs write, the part of a transaction that may take an owner
// away, under the Owner rule: when the organization had an owner before
// write and has none after it, it returns EPRECONDITION (grant.last_owner)
// and the caller's transaction rolls back, so nothing changes. An
// organization that has no owner (one made by CreateOrganization, before
// any grant) is not held to the rule until it gets one. mayTakeOne is
// false when the caller knows write cannot take an owner away, from what
// no concurrent write can change (the grants it deletes are no owner
// grants, the user it writes stays active); write then runs alone,
// without the lock and the two reads. A group's grants and members can
// change beside a write, so the group paths always pass true.
//
// Concurrency: first it locks the organization's row for update (FOR NO
// KEY UPDATE on PostgreSQL, which writers holding lockKey on the row do
// not wait for; SQLite has one writer) until the transaction ends. So the
// owner-affecting parts of two transactions on one organization (revoke
// Owner A's grant, disable Owner B) run one after the other: the second
// counts, under PostgreSQL's READ COMMITTED, with a snapshot taken after
// the first committed, sees what it took away and refuses. A lock per
// organization was chosen over SERIALIZABLE with retries: it never fails
// a caller for a conflict the caller must retry, writes that cannot take
// an owner away never take it, and other organizations are not held up.
// (Every write also takes the revision counter first, in DB.update, which
// serializes all writers today and so rules out deadlocks between this
// lock and the rows locked before it; the rule does not rely on that.)
func keepAnOwner(ctx context.Context, tx *Tx, orgID string, mayTakeOne bool, write func() error) error {
	if !mayTakeOne {
		return write()
	}
	var id string
	err := tx.queryRow(ctx, `SELECT id FROM organizations WHERE id = ?`+tx.db.dialect.lockExclusive, orgID).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return notFound(castellan.CodeOrgNotFound, "organization", orgID)
	}
	if err != nil {
		return err
	}
	had, err := hasOwner(ctx, tx, orgID)
	if err != nil {
		return err
	}
	if err := write(); err != nil {
		return err
	}
	if !had {
		return nil
	}
	has, err := hasOwner(ctx, tx, orgID)
	if err != nil || has {
		return err
	}
	return castellan.Errorf(castellan.EPRECONDITION, castellan.CodeLastOwner,
		"the organization must keep at least one active user holding role %s on it without expiry, directly or through a group; make another user an owner first",
		castellan.OrganizationOwnerRoleID)
}
