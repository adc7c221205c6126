package sqlstore

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/castellan-iam/castellan"
)

// Moving an account from one organization to another (exclusion makes
// it standalone, an accepted invitation brings it into the inviter):
// the account's node and its projects change organization, and with
// them what belongs to them alone — the projects' service accounts,
// their grants on the moved nodes and resources and their access keys.
// What names the old organization's principals or policies stays
// behind and is deleted: its users' and groups' grants on the moved
// nodes and resources, its users' access keys in the moved projects
// and its custom control policies' attachments to the account.

// lockStructures takes lockStructure on both organizations, in the
// order of their IDs, so that two moves between the same organizations
// in opposite directions never wait on each other.
func lockStructures(ctx context.Context, tx *Tx, a, b string) error {
	first, second := min(a, b), max(a, b)
	if err := lockStructure(ctx, tx, first); err != nil {
		return err
	}
	return lockStructure(ctx, tx, second)
}

// movedAccount is what moveAccountAcross moved, left behind and
// deleted, for the audit summaries and the change-log rows of both
// organizations.
type movedAccount struct {
	accountID, name string
	projects        []string
	serviceAccounts []string
	// keptGrants moved with their service accounts; deletedGrants named
	// the old organization's users, groups or custom roles.
	keptGrants, deletedGrants []*castellan.Grant
	// movedKeys are the service accounts' keys (their tokens deleted);
	// deletedKeys the old organization's users' keys in the projects.
	movedKeys, deletedKeys []string
	// keptPolicies stayed attached to the account (system policies);
	// detachedPolicies were the old organization's custom ones.
	keptPolicies, detachedPolicies []string
}

// moveAccountAcross moves the account node (with its projects) of
// organization from under the root of organization to, in tx, which
// holds lockStructures on both. It leaves the accounts row's own
// columns (root user, addition type) to the caller, which records the
// changes (leftChanges, arrivedChanges). ECONFLICT (account.name_taken)
// when to has an account of the same name.
func moveAccountAcross(ctx context.Context, tx *Tx, from, to string, accountID string) (*movedAccount, error) {
	node, err := findNode(ctx, tx.queryRow, from, accountID)
	if err != nil {
		return nil, err
	}
	root, err := findNode(ctx, tx.queryRow, to, to)
	if err != nil {
		return nil, err
	}
	m := &movedAccount{accountID: accountID, name: node.Name}
	rows, err := tx.query(ctx, `SELECT id FROM nodes WHERE org_id = ? AND kind = 'project' AND path >= ? AND path < ? ORDER BY id`,
		from, node.path, subtreeUpper(node.path))
	if err != nil {
		return nil, err
	}
	if m.projects, err = collect(rows, scanString); err != nil {
		return nil, err
	}
	if err := m.moveGrants(ctx, tx, from, to); err != nil {
		return nil, err
	}
	if err := m.moveKeys(ctx, tx, from, to); err != nil {
		return nil, err
	}
	if err := m.movePolicies(ctx, tx, from, to); err != nil {
		return nil, err
	}
	// The subtree changes organization and path in one statement, then
	// the account hangs under the new root.
	newPath := nodePath(root.path, accountID)
	_, err = tx.exec(ctx, `UPDATE nodes SET org_id = ?, path = CAST(? AS TEXT) || SUBSTR(path, CAST(? AS INTEGER)), revision = ?
		WHERE org_id = ? AND path >= ? AND path < ?`,
		to, newPath, len(node.path)+1, tx.revision, from, node.path, subtreeUpper(node.path))
	if c := nodeConflict(err, castellan.NodeAccount, node.Name); c != nil {
		return nil, c
	}
	if err != nil {
		return nil, fmt.Errorf("move account's nodes: %w", err)
	}
	_, err = tx.exec(ctx, `UPDATE nodes SET parent_id = ?, updated_at = ?, updated_by = ? WHERE org_id = ? AND id = ?`,
		to, tx.now, tx.actorID(), to, accountID)
	if c := nodeConflict(err, castellan.NodeAccount, node.Name); c != nil {
		return nil, c
	}
	if err != nil {
		return nil, fmt.Errorf("move account: %w", err)
	}
	if _, err := tx.exec(ctx, `UPDATE accounts SET org_id = ? WHERE org_id = ? AND id = ?`, to, from, accountID); err != nil {
		return nil, fmt.Errorf("move account row: %w", err)
	}
	if len(m.serviceAccounts) > 0 {
		in, args := inList(m.serviceAccounts)
		_, err := tx.exec(ctx, `UPDATE service_accounts SET org_id = ?, revision = ? WHERE org_id = ? AND id IN `+in,
			append([]any{to, tx.revision, from}, args...)...)
		if err != nil {
			return nil, fmt.Errorf("move service accounts: %w", err)
		}
	}
	return m, nil
}

// movedScopes returns the SQL condition on a grant's scope that selects
// the moved nodes and the resources of the moved projects, and its
// arguments.
func (m *movedAccount) movedScopes() (string, []any) {
	scopes := []string{castellan.NodeScope(castellan.NodeAccount, m.accountID).String()}
	for _, p := range m.projects {
		scopes = append(scopes, castellan.ProjectScope(p).String())
	}
	in, args := inList(scopes)
	cond := `(scope IN ` + in
	for _, p := range m.projects {
		cond += ` OR (scope_kind = 'resource' AND scope LIKE ?)`
		args = append(args, "rn:%:"+p+":%")
	}
	return cond + `)`, args
}

// moveGrants moves the grants of the projects' service accounts that
// use built-in roles and deletes every other grant on the moved nodes
// and resources, and the service accounts' grants with the old
// organization's custom roles.
func (m *movedAccount) moveGrants(ctx context.Context, tx *Tx, from, to string) error {
	if len(m.projects) > 0 {
		in, args := inList(m.projects)
		rows, err := tx.query(ctx, `SELECT id FROM service_accounts WHERE org_id = ? AND project_id IN `+in+` ORDER BY id`+tx.db.dialect.lockDelete,
			append([]any{from}, args...)...)
		if err != nil {
			return err
		}
		if m.serviceAccounts, err = collect(rows, scanString); err != nil {
			return err
		}
	}
	scopes, scopeArgs := m.movedScopes()
	q := `SELECT ` + grantColumns + ` FROM grants WHERE org_id = ? AND (` + scopes
	args := append([]any{from}, scopeArgs...)
	if len(m.serviceAccounts) > 0 {
		in, saArgs := inList(m.serviceAccounts)
		q += ` OR (subject_type = 'serviceAccount' AND subject_id IN ` + in + `)`
		args = append(args, saArgs...)
	}
	rows, err := tx.query(ctx, q+`) ORDER BY id`, args...)
	if err != nil {
		return err
	}
	grants, err := collect(rows, scanGrant)
	if err != nil {
		return err
	}
	var kept, deleted []string
	for _, g := range grants {
		sa := g.Subject.Type == castellan.SubjectServiceAccount && slices.Contains(m.serviceAccounts, g.Subject.ID)
		if sa && tx.db.catalog.Role(g.RoleID) != nil && m.inside(g.Scope) {
			g.OrganizationID = to
			m.keptGrants, kept = append(m.keptGrants, g), append(kept, g.ID)
		} else {
			m.deletedGrants, deleted = append(m.deletedGrants, g), append(deleted, g.ID)
		}
	}
	if len(kept) > 0 {
		in, ids := inList(kept)
		if _, err := tx.exec(ctx, `UPDATE grants SET org_id = ? WHERE org_id = ? AND id IN `+in, append([]any{to, from}, ids...)...); err != nil {
			return fmt.Errorf("move grants: %w", err)
		}
	}
	if len(deleted) > 0 {
		in, ids := inList(deleted)
		if _, err := tx.exec(ctx, `DELETE FROM grants WHERE org_id = ? AND id IN `+in, append([]any{from}, ids...)...); err != nil {
			return fmt.Errorf("delete grants: %w", err)
		}
	}
	return nil
}

// inside reports whether a grant's scope is a moved node or a resource
// of a moved project.
func (m *movedAccount) inside(scope string) bool {
	if scope == castellan.NodeScope(castellan.NodeAccount, m.accountID).String() {
		return true
	}
	for _, p := range m.projects {
		if scope == castellan.ProjectScope(p).String() || strings.HasPrefix(scope, "rn:") && strings.Contains(scope, ":"+p+":") {
			return true
		}
	}
	return false
}

// moveKeys moves the service accounts' access keys, disabled and
// without their tokens (the new organization's administrators enable
// them), and deletes the old organization's users' keys in the
// moved projects, tokens and all.
func (m *movedAccount) moveKeys(ctx context.Context, tx *Tx, from, to string) error {
	if len(m.projects) == 0 {
		return nil
	}
	in, projects := inList(m.projects)
	var err error
	m.deletedKeys, err = deleteAccessKeysWhere(ctx, tx, `org_id = ? AND owner_type = 'user' AND project_id IN `+in, append([]any{from}, projects...)...)
	if err != nil {
		return err
	}
	// The keys arrive disabled: whoever held their secrets in the old
	// organization must not act in the new one until its administrators
	// enable them (or make new ones).
	rows, err := tx.query(ctx, `UPDATE access_keys SET org_id = ?, status = 'disabled', revision = ? WHERE org_id = ? AND owner_type = 'serviceAccount' AND project_id IN `+in+` RETURNING id`,
		append([]any{to, tx.revision, from}, projects...)...)
	if err != nil {
		return fmt.Errorf("move access keys: %w", err)
	}
	if m.movedKeys, err = collect(rows, scanString); err != nil {
		return fmt.Errorf("move access keys: %w", err)
	}
	slices.Sort(m.movedKeys)
	if len(m.movedKeys) > 0 {
		keys, args := inList(m.movedKeys)
		if _, err := tx.exec(ctx, `DELETE FROM access_key_tokens WHERE key_id IN `+keys, args...); err != nil {
			return fmt.Errorf("delete moved keys' tokens: %w", err)
		}
	}
	return nil
}

// movePolicies keeps the system policies attached to the account and
// detaches the old organization's custom ones; an account left with
// none gets FullAccess, as every node keeps one policy.
func (m *movedAccount) movePolicies(ctx context.Context, tx *Tx, from, to string) error {
	rows, err := tx.query(ctx, `SELECT policy_id FROM policy_attachments WHERE org_id = ? AND node_id = ? ORDER BY policy_id`, from, m.accountID)
	if err != nil {
		return err
	}
	attached, err := collect(rows, scanString)
	if err != nil {
		return err
	}
	for _, p := range attached {
		if castellan.SystemControlPolicy(p) != nil {
			m.keptPolicies = append(m.keptPolicies, p)
		} else {
			m.detachedPolicies = append(m.detachedPolicies, p)
		}
	}
	if _, err := tx.exec(ctx, `DELETE FROM policy_attachments WHERE org_id = ? AND node_id = ?`, from, m.accountID); err != nil {
		return fmt.Errorf("detach policies: %w", err)
	}
	if len(m.keptPolicies) == 0 {
		m.keptPolicies = []string{castellan.FullAccessPolicyID}
	}
	for _, p := range m.keptPolicies {
		if err := insertAttachment(ctx, tx, to, m.accountID, p); err != nil {
			return err
		}
	}
	return nil
}

// leftChanges are the change-log rows of the old organization: the
// account, its projects, service accounts, keys, grants and policy
// attachments are gone from it.
func (m *movedAccount) leftChanges() []changedEntity {
	return slices.Concat(m.nodeChanges("delete"),
		grantDeletions(slices.Concat(m.keptGrants, m.deletedGrants)),
		accessKeyDeletions(slices.Concat(m.movedKeys, m.deletedKeys)),
		m.attachmentChanges(slices.Concat(m.keptPolicies, m.detachedPolicies), "delete"))
}

// arrivedChanges are the change-log rows of the new organization: what
// moved into it.
func (m *movedAccount) arrivedChanges() []changedEntity {
	out := m.nodeChanges("create")
	for _, g := range m.keptGrants {
		out = append(out, changedEntity{"grant", g.ID, "create"})
	}
	for _, k := range m.movedKeys {
		out = append(out, changedEntity{"access_key", k, "create"})
	}
	return append(out, m.attachmentChanges(m.keptPolicies, "create")...)
}

// nodeChanges are the rows of the account, its projects and their
// service accounts, each with operation.
func (m *movedAccount) nodeChanges(operation string) []changedEntity {
	out := []changedEntity{{"node", m.accountID, operation}}
	for _, p := range m.projects {
		out = append(out, changedEntity{"project", p, operation})
	}
	for _, sa := range m.serviceAccounts {
		out = append(out, changedEntity{"service_account", sa, operation})
	}
	return out
}

// attachmentChanges are the rows of the account's attachments of the
// policies.
func (m *movedAccount) attachmentChanges(policies []string, operation string) []changedEntity {
	out := make([]changedEntity, len(policies))
	for i, p := range policies {
		out[i] = changedEntity{"policy_attachment", m.accountID + "/" + p, operation}
	}
	return out
}

// summary is the audit summary of the move, the same in both
// organizations' events.
func (m *movedAccount) summary(from, to string) map[string]any {
	return map[string]any{
		"accountId": m.accountID, "name": m.name, "from": from, "to": to,
		"projectIds": nonNilSlice(m.projects), "serviceAccountIds": nonNilSlice(m.serviceAccounts),
		"movedGrants": grantSummaries(m.keptGrants), "deletedGrants": grantSummaries(m.deletedGrants),
		"movedAccessKeyIds": nonNilSlice(m.movedKeys), "deletedAccessKeyIds": nonNilSlice(m.deletedKeys),
		"keptPolicyIds": m.keptPolicies, "detachedPolicyIds": nonNilSlice(m.detachedPolicies),
	}
}
