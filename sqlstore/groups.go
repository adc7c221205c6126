package sqlstore

import (
	"context"
	"fmt"

	"github.com/castellan-iam/castellan"
)

// GroupService implements castellan.GroupService.
type GroupService struct{ db *DB }

var _ castellan.GroupService = (*GroupService)(nil)

// Groups returns the group service of db.
func (db *DB) Groups() *GroupService { return &GroupService{db: db} }

// groupColumns are the columns of groups (alias g) with their member and
// grant counts; both counts are index lookups (the members' primary key,
// grants by subject).
const groupColumns = `SELECT g.id, g.org_id, g.name, g.description, g.created_at, g.created_by, g.updated_at, g.updated_by, g.revision,
	(SELECT COUNT(*) FROM group_members m WHERE m.group_id = g.id),
	(SELECT COUNT(*) FROM grants r WHERE r.org_id = g.org_id AND r.subject_type = 'group' AND r.subject_id = g.id)`

// groupSelect reads groups with groupColumns.
const groupSelect = groupColumns + ` FROM groups g`

func scanGroup(row scanner) (*castellan.Group, error) {
	var g castellan.Group
	err := row.Scan(&g.ID, &g.OrganizationID, &g.Name, &g.Description, &g.CreatedAt, &g.CreatedBy, &g.UpdatedAt, &g.UpdatedBy,
		&g.Revision, &g.MemberCount, &g.GrantCount)
	if err != nil {
		return nil, err
	}
	g.CreatedAt, g.UpdatedAt = g.CreatedAt.UTC(), g.UpdatedAt.UTC()
	return &g, nil
}

// findGroup reads a group of the organization inside tx.
func findGroup(ctx context.Context, tx *Tx, orgID, id string) (*castellan.Group, error) {
	g, err := scanGroup(tx.queryRow(ctx, groupSelect+` WHERE g.org_id = ? AND g.id = ?`, orgID, id))
	if isNoRows(err) {
		return nil, notFound(castellan.CodeGroupNotFound, "group", id)
	}
	return g, err
}

// lockGroup returns the name of a group of the organization and locks the
// group's row with lock (a dialect lock clause) until tx ends.
func lockGroup(ctx context.Context, tx *Tx, orgID, id, lock string) (string, error) {
	var name string
	err := tx.queryRow(ctx, `SELECT name FROM groups WHERE org_id = ? AND id = ?`+lock, orgID, id).Scan(&name)
	if isNoRows(err) {
		return "", notFound(castellan.CodeGroupNotFound, "group", id)
	}
	return name, err
}

// FindGroupByID implements castellan.GroupService.
func (s *GroupService) FindGroupByID(ctx context.Context, orgID, id string) (*castellan.Group, error) {
	g, err := scanGroup(s.db.queryRow(ctx, groupSelect+` WHERE g.org_id = ? AND g.id = ?`, orgID, id))
	if isNoRows(err) {
		return nil, notFound(castellan.CodeGroupNotFound, "group", id)
	}
	return g, err
}

// FindGroups implements castellan.GroupService.
func (s *GroupService) FindGroups(ctx context.Context, orgID string, f castellan.GroupFilter) ([]*castellan.Group, string, error) {
	cur, err := decodeCursor(f.PageToken, "groups", 2)
	if err != nil {
		return nil, "", err
	}
	size := castellan.PageSize(f.PageSize)
	q, args := groupSelect+` WHERE g.org_id = ?`, []any{orgID}
	if cur != nil {
		q, args = q+` AND (g.name > ? OR (g.name = ? AND g.id > ?))`, append(args, cur.Key[0], cur.Key[0], cur.Key[1])
	}
	rows, err := s.db.query(ctx, q+` ORDER BY g.name, g.id LIMIT ?`, append(args, size+1)...)
	if err != nil {
		return nil, "", err
	}
	groups, err := collect(rows, scanGroup)
	if err != nil {
		return nil, "", err
	}
	groups, next := pageOf(groups, size, func(g *castellan.Group) cursor {
		return cursor{List: "groups", Key: []string{g.Name, g.ID}}
	})
	return groups, next, nil
}

// CreateGroup implements castellan.GroupService.
func (s *GroupService) CreateGroup(ctx context.Context, orgID string, gc castellan.GroupCreate) (*castellan.Group, error) {
	if err := gc.Validate(); err != nil {
		return nil, err
	}
	var g *castellan.Group
	err := s.db.update(ctx, func(tx *Tx) error {
		if err := lockOrganization(ctx, tx, orgID); err != nil {
			return err
		}
		var c change
		var err error
		if g, c, err = createGroup(ctx, tx, orgID, newID(), gc); err != nil {
			return err
		}
		if _, err = tx.record(ctx, c); err != nil || len(gc.MemberIDs) == 0 {
			return err
		}
		added, err := addGroupMembers(ctx, tx, orgID, g.ID, gc.MemberIDs, func(i int) string { return itemField("memberIds", i, "") })
		if err != nil {
			return err
		}
		g.MemberCount = len(unique(gc.MemberIDs))
		_, err = tx.record(ctx, *added)
		return err
	})
	if err != nil {
		return nil, err
	}
	return g, nil
}

// createGroup inserts a validated group with the given ID in tx, which
// holds the organization's lock, and returns it with its change.
func createGroup(ctx context.Context, tx *Tx, orgID, id string, gc castellan.GroupCreate) (*castellan.Group, change, error) {
	g := &castellan.Group{
		ID: id, OrganizationID: orgID, Name: gc.Name, Description: gc.Description,
		CreatedAt: tx.now, CreatedBy: tx.actorID(), UpdatedAt: tx.now, UpdatedBy: tx.actorID(), Revision: tx.revision,
	}
	_, err := tx.exec(ctx, `INSERT INTO groups (id, org_id, name, description, created_at, created_by, updated_at, updated_by, revision)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		g.ID, g.OrganizationID, g.Name, g.Description, g.CreatedAt, g.CreatedBy, g.UpdatedAt, g.UpdatedBy, g.Revision)
	if c := conflict(err, gc.Name); c != nil {
		return nil, change{}, c
	}
	if err != nil {
		return nil, change{}, fmt.Errorf("insert group: %w", err)
	}
	return g, change{
		orgID: orgID, action: castellan.ActionCreateGroup,
		entityType: "group", entityID: g.ID, entityName: g.Name, operation: "create",
		summary: map[string]any{"name": g.Name, "description": g.Description},
	}, nil
}

// UpdateGroup implements castellan.GroupService.
func (s *GroupService) UpdateGroup(ctx context.Context, orgID, id string, upd castellan.GroupUpdate) (*castellan.Group, error) {
	if err := upd.Validate(); err != nil {
		return nil, err
	}
	var g *castellan.Group
	err := s.db.update(ctx, func(tx *Tx) error {
		var err error
		if g, err = findGroup(ctx, tx, orgID, id); err != nil {
			return err
		}
		summary := map[string]any{}
		if upd.Name != nil && *upd.Name != g.Name {
			summary["name"], g.Name = diff{g.Name, *upd.Name}, *upd.Name
		}
		if upd.Description != nil && *upd.Description != g.Description {
			summary["description"], g.Description = diff{g.Description, *upd.Description}, *upd.Description
		}
		if len(summary) > 0 {
			g.Revision = tx.revision
			g.UpdatedAt, g.UpdatedBy = tx.now, tx.actorID()
			_, err = tx.exec(ctx, `UPDATE groups SET name = ?, description = ?, updated_at = ?, updated_by = ?, revision = ? WHERE org_id = ? AND id = ?`,
				g.Name, g.Description, g.UpdatedAt, g.UpdatedBy, g.Revision, orgID, id)
			if c := conflict(err, g.Name); c != nil {
				return c
			}
			if err != nil {
				return fmt.Errorf("update group: %w", err)
			}
			if _, err = tx.record(ctx, change{
				orgID: orgID, action: castellan.ActionUpdateGroup,
				entityType: "group", entityID: id, entityName: g.Name, operation: "update", summary: summary,
			}); err != nil {
				return err
			}
		}
		if err := updateMembers(ctx, tx, orgID, id, upd); err != nil {
			return err
		}
		if len(upd.AddMemberIDs)+len(upd.RemoveMemberIDs) > 0 || upd.SetMemberIDs != nil {
			g, err = findGroup(ctx, tx, orgID, id)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return g, nil
}

// updateMembers adds and removes the members an update names in tx,
// recording each change; removing a user that is not a member changes
// nothing.
func updateMembers(ctx context.Context, tx *Tx, orgID, groupID string, upd castellan.GroupUpdate) error {
	if upd.SetMemberIDs != nil {
		// The group's row is locked before its members are read, so that
		// other replacements and updates of the group wait for this one.
		if _, err := lockGroup(ctx, tx, orgID, groupID, tx.db.dialect.lockExclusive); err != nil {
			return err
		}
		current, err := memberIDs(ctx, tx, orgID, groupID)
		if err != nil {
			return err
		}
		want := map[string]bool{}
		for _, id := range *upd.SetMemberIDs {
			want[id] = true
		}
		have := map[string]bool{}
		for _, id := range current {
			have[id] = true
			if !want[id] {
				upd.RemoveMemberIDs = append(upd.RemoveMemberIDs, id)
			}
		}
		for _, id := range unique(*upd.SetMemberIDs) {
			if !have[id] {
				upd.AddMemberIDs = append(upd.AddMemberIDs, id)
			}
		}
	}
	if len(upd.AddMemberIDs) > 0 {
		c, err := addGroupMembers(ctx, tx, orgID, groupID, upd.AddMemberIDs, func(i int) string { return itemField("addMemberIds", i, "") })
		if err != nil {
			return err
		}
		if c != nil {
			if _, err := tx.record(ctx, *c); err != nil {
				return err
			}
		}
	}
	if len(upd.RemoveMemberIDs) == 0 {
		return nil
	}
	members, err := membersAmong(ctx, tx, orgID, groupID, unique(upd.RemoveMemberIDs))
	if err != nil {
		return err
	}
	var gone []string
	for _, id := range unique(upd.RemoveMemberIDs) {
		if members[id] {
			gone = append(gone, id)
		}
	}
	if len(gone) == 0 {
		return nil
	}
	_, err = removeGroupMembersTx(ctx, tx, orgID, groupID, gone, nil)
	return err
}

// DeleteGroup implements castellan.GroupService. Grants to the group and
// its memberships go in the same transaction, each with its change-log row,
// so that every replica revokes them at the group's revision; so do the
// tokens and sessions of the members it signs out.
func (s *GroupService) DeleteGroup(ctx context.Context, orgID, id string) (int64, error) {
	var rev int64
	err := s.db.update(ctx, func(tx *Tx) error {
		// Locked first, so that no member or grant is added beside the
		// ones this transaction deletes.
		name, err := lockGroup(ctx, tx, orgID, id, tx.db.dialect.lockDelete)
		if err != nil {
			return err
		}
		members, err := memberIDs(ctx, tx, orgID, id)
		if err != nil {
			return err
		}
		kept, err := membersWithOtherGroupGrants(ctx, tx, orgID, id)
		if err != nil {
			return err
		}
		var leaving []string
		for _, userID := range members {
			if !kept[userID] {
				leaving = append(leaving, userID)
			}
		}
		ended, err := signOut(ctx, tx, orgID, leaving)
		if err != nil {
			return err
		}
		var grants []*castellan.Grant
		err = keepAnOwner(ctx, tx, orgID, true, func() error {
			grants, err = deleteGrantsWhere(ctx, tx, `org_id = ? AND subject_type = 'group' AND subject_id = ?`, orgID, id)
			if err != nil {
				return err
			}
			// The memberships go with the group (ON DELETE CASCADE).
			if _, err := tx.exec(ctx, `DELETE FROM groups WHERE org_id = ? AND id = ?`, orgID, id); err != nil {
				return fmt.Errorf("delete group: %w", err)
			}
			return nil
		})
		if err != nil {
			return err
		}
		also := make([]changedEntity, 0, len(members)+len(grants))
		for _, userID := range members {
			also = append(also, changedEntity{"group_member", id + "/" + userID, "delete"})
		}
		also = append(also, grantDeletions(grants)...)
		rev, err = tx.record(ctx, change{
			orgID: orgID, action: castellan.ActionDeleteGroup,
			entityType: "group", entityID: id, entityName: name, operation: "delete",
			summary: map[string]any{"name": name, "memberCount": len(members), "deletedGrants": grantSummaries(grants),
				"signedOutUserIds": nonNilSlice(leaving), "revokedSessionIds": nonNilSlice(ended.sessions)},
			also: append(also, ended.changes()...),
		})
		return err
	})
	return rev, err
}

// membersWithOtherGroupGrants returns the members of a group who also
// belong to another group of the organization holding a grant that has not
// expired: seed 000 keeps their sessions when the group is deleted ("unless
// they have separately assigned group permissions"). A grant to the user
// alone does not count, nor one to a group without grants.
func membersWithOtherGroupGrants(ctx context.Context, tx *Tx, orgID, groupID string) (map[string]bool, error) {
	rows, err := tx.query(ctx, `SELECT DISTINCT o.user_id FROM group_members m
		JOIN group_members o ON o.org_id = m.org_id AND o.user_id = m.user_id AND o.group_id <> m.group_id
		WHERE m.org_id = ? AND m.group_id = ? AND EXISTS (SELECT 1 FROM grants r
			WHERE r.org_id = o.org_id AND r.subject_type = 'group' AND r.subject_id = o.group_id
			AND (r.expires_at IS NULL OR r.expires_at > ?))`, orgID, groupID, tx.now)
	if err != nil {
		return nil, err
	}
	ids, err := collect(rows, scanString)
	if err != nil {
		return nil, err
	}
	kept := make(map[string]bool, len(ids))
	for _, id := range ids {
		kept[id] = true
	}
	return kept, nil
}

// memberIDs returns the user IDs of a group's members.
func memberIDs(ctx context.Context, tx *Tx, orgID, groupID string) ([]string, error) {
	rows, err := tx.query(ctx, `SELECT user_id FROM group_members WHERE org_id = ? AND group_id = ? ORDER BY user_id`, orgID, groupID)
	if err != nil {
		return nil, err
	}
	return collect(rows, scanString)
}

// membersAmong returns which of userIDs are members of the group.
func membersAmong(ctx context.Context, tx *Tx, orgID, groupID string, userIDs []string) (map[string]bool, error) {
	in, args := inList(userIDs)
	rows, err := tx.query(ctx, `SELECT user_id FROM group_members WHERE org_id = ? AND group_id = ? AND user_id IN `+in,
		append([]any{orgID, groupID}, args...)...)
	if err != nil {
		return nil, err
	}
	ids, err := collect(rows, scanString)
	if err != nil {
		return nil, err
	}
	set := make(map[string]bool, len(ids))
	for _, id := range ids {
		set[id] = true
	}
	return set, nil
}

// AddGroupMembers implements castellan.GroupService. Adding only users who
// are members already changes nothing and returns the store's revision.
func (s *GroupService) AddGroupMembers(ctx context.Context, orgID, groupID string, userIDs []string) (int64, error) {
	if err := checkBatchSize("userIds", len(userIDs)); err != nil {
		return 0, err
	}
	var rev int64
	err := s.db.update(ctx, func(tx *Tx) error {
		c, err := addGroupMembers(ctx, tx, orgID, groupID, userIDs, func(i int) string { return itemField("userIds", i, "") })
		if err != nil || c == nil {
			rev = tx.unchangedRevision()
			return err
		}
		rev, err = tx.record(ctx, *c)
		return err
	})
	return rev, err
}

// addGroupMembers adds users to a group in tx and returns the change, nil
// when every user already was a member. field names user i in errors.
func addGroupMembers(ctx context.Context, tx *Tx, orgID, groupID string, userIDs []string, field func(i int) string) (*change, error) {
	name, err := lockGroup(ctx, tx, orgID, groupID, tx.db.dialect.lockKey)
	if err != nil {
		return nil, err
	}
	ids := unique(userIDs)
	registered, err := registeredUserIDs(ctx, tx, orgID, ids)
	if err != nil {
		return nil, err
	}
	for i, id := range userIDs {
		if !registered[id] {
			return nil, itemError(castellan.ENOTFOUND, castellan.CodeUserNotFound, field(i), "exists",
				"user %s is not a user of this organization", id)
		}
	}
	already, err := membersAmong(ctx, tx, orgID, groupID, ids)
	if err != nil {
		return nil, err
	}
	var added []string
	var rows [][]any
	for _, id := range ids {
		if !already[id] {
			added = append(added, id)
			rows = append(rows, []any{orgID, groupID, id, tx.now, tx.actorID()})
		}
	}
	if len(added) == 0 {
		return nil, nil
	}
	err = tx.insertRows(ctx, `INSERT INTO group_members (org_id, group_id, user_id, added_at, added_by) VALUES `, rows)
	if err != nil {
		return nil, fmt.Errorf("insert group members: %w", err)
	}
	also := make([]changedEntity, len(added))
	for i, id := range added {
		also[i] = changedEntity{"group_member", groupID + "/" + id, "create"}
	}
	return &change{
		orgID: orgID, action: castellan.ActionAddGroupMembers,
		entityType: "group", entityID: groupID, entityName: name,
		summary: map[string]any{"addedUserIds": added},
		also:    also,
	}, nil
}

// RemoveGroupMembers implements castellan.GroupService. The removed
// members are signed out in the same transaction.
func (s *GroupService) RemoveGroupMembers(ctx context.Context, orgID, groupID string, userIDs []string) (int64, error) {
	if err := checkBatchSize("userIds", len(userIDs)); err != nil {
		return 0, err
	}
	var rev int64
	err := s.db.update(ctx, func(tx *Tx) error {
		var err error
		rev, err = removeGroupMembersTx(ctx, tx, orgID, groupID, userIDs, nil)
		return err
	})
	return rev, err
}

// removeGroupMembersTx removes members from a group in tx, signs them
// out and records the change, with more entries in its summary.
func removeGroupMembersTx(ctx context.Context, tx *Tx, orgID, groupID string, userIDs []string, more map[string]any) (int64, error) {
	name, err := lockGroup(ctx, tx, orgID, groupID, tx.db.dialect.lockKey)
	if err != nil {
		return 0, err
	}
	ids := unique(userIDs)
	members, err := membersAmong(ctx, tx, orgID, groupID, ids)
	if err != nil {
		return 0, err
	}
	for i, id := range userIDs {
		if !members[id] {
			return 0, itemError(castellan.ENOTFOUND, castellan.CodeUserNotFound, itemField("userIds", i, ""), "exists",
				"user %s is not a member of this group", id)
		}
	}
	in, args := inList(ids)
	err = keepAnOwner(ctx, tx, orgID, true, func() error {
		_, err := tx.exec(ctx, `DELETE FROM group_members WHERE org_id = ? AND group_id = ? AND user_id IN `+in,
			append([]any{orgID, groupID}, args...)...)
		if err != nil {
			return fmt.Errorf("delete group members: %w", err)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	ended, err := signOut(ctx, tx, orgID, ids)
	if err != nil {
		return 0, err
	}
	also := make([]changedEntity, len(ids))
	for i, id := range ids {
		also[i] = changedEntity{"group_member", groupID + "/" + id, "delete"}
	}
	return tx.record(ctx, change{
		orgID: orgID, action: castellan.ActionRemoveGroupMembers,
		entityType: "group", entityID: groupID, entityName: name,
		summary: withEntries(map[string]any{"removedUserIds": ids, "revokedSessionIds": nonNilSlice(ended.sessions)}, more),
		also:    append(also, ended.changes()...),
	})
}

// FindGroupMembers implements castellan.GroupService. Returns ENOTFOUND
// (group.not_found) when the group is not one of the organization's.
func (s *GroupService) FindGroupMembers(ctx context.Context, orgID, groupID string, f castellan.GroupFilter) ([]*castellan.GroupMember, string, error) {
	cur, err := decodeCursor(f.PageToken, "groupMembers", 1)
	if err != nil {
		return nil, "", err
	}
	var one int
	err = s.db.queryRow(ctx, `SELECT 1 FROM groups WHERE org_id = ? AND id = ?`, orgID, groupID).Scan(&one)
	if isNoRows(err) {
		return nil, "", notFound(castellan.CodeGroupNotFound, "group", groupID)
	}
	if err != nil {
		return nil, "", err
	}
	size := castellan.PageSize(f.PageSize)
	q := `SELECT m.user_id, u.email, m.added_at, m.added_by FROM group_members m
		JOIN users u ON u.id = m.user_id AND u.org_id = m.org_id
		WHERE m.org_id = ? AND m.group_id = ?`
	args := []any{orgID, groupID}
	if cur != nil {
		q, args = q+` AND m.user_id > ?`, append(args, cur.Key[0])
	}
	rows, err := s.db.query(ctx, q+` ORDER BY m.user_id LIMIT ?`, append(args, size+1)...)
	if err != nil {
		return nil, "", err
	}
	members, err := collect(rows, func(row scanner) (*castellan.GroupMember, error) {
		var m castellan.GroupMember
		if err := row.Scan(&m.UserID, &m.Email, &m.AddedAt, &m.AddedBy); err != nil {
			return nil, err
		}
		m.AddedAt = m.AddedAt.UTC()
		return &m, nil
	})
	if err != nil {
		return nil, "", err
	}
	members, next := pageOf(members, size, func(m *castellan.GroupMember) cursor {
		return cursor{List: "groupMembers", Key: []string{m.UserID}}
	})
	return members, next, nil
}

// FindUserGroups implements castellan.GroupService. Returns ENOTFOUND
// (user.not_found) when the user is not one of the organization's.
func (s *GroupService) FindUserGroups(ctx context.Context, orgID, userID string) ([]*castellan.Group, error) {
	var one int
	err := s.db.queryRow(ctx, `SELECT 1 FROM users WHERE org_id = ? AND id = ? AND status <> 'deleted'`, orgID, userID).Scan(&one)
	if isNoRows(err) {
		return nil, notFound(castellan.CodeUserNotFound, "user", userID)
	}
	if err != nil {
		return nil, err
	}
	// The memberships lead: a user is in a few groups of thousands. Without
	// statistics SQLite would rather walk the organization's groups in
	// name order (groups_org_name) and test each for membership; CROSS
	// JOIN keeps the tables in the order written (PostgreSQL plans it as
	// any join).
	rows, err := s.db.query(ctx, groupColumns+` FROM group_members gm CROSS JOIN groups g
		WHERE gm.org_id = ? AND gm.user_id = ? AND g.id = gm.group_id AND g.org_id = ?
		ORDER BY g.name, g.id`, orgID, userID, orgID)
	if err != nil {
		return nil, err
	}
	return collect(rows, scanGroup)
}
