package sqlstore

import (
	"context"
	"errors"
	"slices"

	"github.com/castellan-iam/castellan"
)

// grantChecker checks the items of a CreateGrants batch inside its
// transaction. It remembers what it looked up, since a batch often names
// the same role, project or subject many times, and locks what it found
// against deletion until the transaction ends.
type grantChecker struct {
	tx    *Tx
	orgID string
	roles map[string]*castellan.Role
	// found holds whether nodes ("project/<id>", "ou/<id>",
	// "account/<id>") and subjects
	// ("user/<id>", "group/<id>", "serviceAccount/<id>") exist in the
	// organization.
	found map[string]bool
	// accounts holds the service accounts checked, by ID.
	accounts map[string]*castellan.ServiceAccount
	// field names member (".roleId", ".scope", ".subject.id", …) of item i
	// in errors; nil means grants[i].member.
	field func(i int, member string) string
}

func newGrantChecker(tx *Tx, orgID string) *grantChecker {
	return &grantChecker{tx: tx, orgID: orgID, roles: map[string]*castellan.Role{}, found: map[string]bool{}}
}

// item checks item i and returns the grant to make for it.
func (c *grantChecker) item(ctx context.Context, i int, item castellan.GrantCreate) (*castellan.Grant, error) {
	field := func(member string) string { return itemField("grants", i, member) }
	if c.field != nil {
		field = func(member string) string { return c.field(i, member) }
	}
	invalid := func(member, rule, msg string) error {
		return castellan.Invalid([]castellan.FieldError{{Field: field(member), Rule: rule, Message: msg}})
	}
	if item.RoleID == "" {
		return nil, invalid(".roleId", "required", "must not be empty")
	}
	role, err := c.role(ctx, item.RoleID)
	if err != nil {
		return nil, err
	}
	if role == nil {
		return nil, itemError(castellan.ENOTFOUND, castellan.CodeRoleNotFound, field(".roleId"), "exists", "role %s not found", item.RoleID)
	}
	scope, err := castellan.ParseScope(field(".scope"), item.Scope)
	if err != nil {
		return nil, err
	}
	if err := c.scopeInOrganization(ctx, field(".scope"), scope); err != nil {
		return nil, err
	}
	if err := role.CanGrantOn(scope); err != nil {
		// The role was found: what is wrong is where it is granted.
		var e *castellan.Error
		if errors.As(err, &e) {
			return nil, itemError(e.Kind, e.Code, field(".scope"), "roleKind", "%s", e.Message)
		}
		return nil, err
	}
	if err := c.subject(ctx, field(".subject"), item.Subject); err != nil {
		return nil, err
	}
	if err := c.subjectMayHold(ctx, field(".scope"), item.Subject, scope); err != nil {
		return nil, err
	}
	expiresAt, err := futureExpiry(field(".expiresAt"), item.ExpiresAt, c.tx.now)
	if err != nil {
		return nil, err
	}
	return &castellan.Grant{
		OrganizationID: c.orgID, RoleID: role.ID, Scope: scope.String(), Subject: item.Subject, ExpiresAt: expiresAt,
	}, nil
}

// role returns the built-in role or the organization's custom role with
// the ID, or nil.
func (c *grantChecker) role(ctx context.Context, id string) (*castellan.Role, error) {
	if r := c.tx.db.catalog.Role(id); r != nil {
		return r, nil
	}
	if r, ok := c.roles[id]; ok {
		return r, nil
	}
	if !castellan.ValidID(id) {
		return nil, nil
	}
	r, err := scanRole(c.tx.queryRow(ctx, `SELECT `+roleColumns(c.tx.db.dialect)+` FROM roles WHERE org_id = ? AND id = ?`+c.tx.db.dialect.lockKey, c.orgID, id))
	if isNoRows(err) {
		r, err = nil, nil
	}
	if err != nil {
		return nil, err
	}
	c.roles[id] = r
	return r, nil
}

// scopeInOrganization checks that scope is the organization's root, one of
// its OUs, accounts or projects, or a resource in one of its projects:
// the node the scope names must be of the scope's kind.
func (c *grantChecker) scopeInOrganization(ctx context.Context, field string, scope castellan.Scope) error {
	if scope.Kind == castellan.ScopeOrganization {
		if scope.ID != c.orgID {
			return itemError(castellan.EINVALID, castellan.CodeInvalidScope, field, "organization",
				"%s is not this organization", scope)
		}
		return nil
	}
	kind := scope.NodeKind()
	ok, err := c.exists(ctx, string(kind)+"/"+scope.ID, `SELECT 1 FROM nodes WHERE org_id = ? AND kind = '`+string(kind)+`' AND id = ?`, scope.ID)
	if err != nil {
		return err
	}
	if !ok {
		e := castellan.NodeNotFound(kind, scope.ID)
		return itemError(e.Kind, e.Code, field, "exists", "%s", e.Message)
	}
	return nil
}

// subject checks that the subject of a grant exists in the organization.
func (c *grantChecker) subject(ctx context.Context, field string, sub castellan.Subject) error {
	var query, code string
	switch sub.Type {
	case castellan.SubjectUser:
		query, code = `SELECT 1 FROM users WHERE org_id = ? AND id = ? AND status <> 'deleted'`, castellan.CodeUserNotFound
	case castellan.SubjectGroup:
		query, code = `SELECT 1 FROM groups WHERE org_id = ? AND id = ?`, castellan.CodeGroupNotFound
	case castellan.SubjectServiceAccount:
		query, code = `SELECT 1 FROM service_accounts WHERE org_id = ? AND id = ?`, castellan.CodeServiceAccountNotFound
	default:
		return itemError(castellan.EINVALID, castellan.CodeInvalidField, field+".type", "enum", "must be user, group or serviceAccount")
	}
	if sub.ID == "" {
		return itemError(castellan.EINVALID, castellan.CodeInvalidField, field+".id", "required", "must not be empty")
	}
	ok := false
	if castellan.ValidID(sub.ID) {
		var err error
		if ok, err = c.exists(ctx, string(sub.Type)+"/"+sub.ID, query, sub.ID); err != nil {
			return err
		}
	}
	if !ok {
		return itemError(castellan.ENOTFOUND, code, field+".id", "exists", "%s %s not found", sub.Type, sub.ID)
	}
	return nil
}

// exists runs query (a SELECT 1 taking the organization and id) once per
// key, locking the row it finds.
func (c *grantChecker) exists(ctx context.Context, key, query, id string) (bool, error) {
	if ok, seen := c.found[key]; seen {
		return ok, nil
	}
	var one int
	err := c.tx.queryRow(ctx, query+c.tx.db.dialect.lockKey, c.orgID, id).Scan(&one)
	if isNoRows(err) {
		c.found[key] = false
		return false, nil
	}
	if err != nil {
		return false, err
	}
	c.found[key] = true
	return true, nil
}

// prefetch looks up, a few queries in all, whether the nodes the items'
// scopes name and their subjects exist, so that item finds them in found
// instead of running two queries per grant. Items it cannot read (bad
// scopes, subject types or IDs) are left to item, which refuses them.
func (c *grantChecker) prefetch(ctx context.Context, items []castellan.GrantCreate) error {
	wanted := map[lookup][]string{}
	for _, item := range items {
		if scope, err := castellan.ParseScope("scope", item.Scope); err == nil && scope.Kind != castellan.ScopeOrganization {
			c.want(wanted, lookup{table: "nodes", key: "kind || '/' || id"}, string(scope.NodeKind())+"/", scope.ID)
		}
		if table := subjectTables[item.Subject.Type]; table != "" && castellan.ValidID(item.Subject.ID) {
			prefix := string(item.Subject.Type) + "/"
			c.want(wanted, lookup{table: table, key: "'" + prefix + "' || id"}, prefix, item.Subject.ID)
		}
	}
	for l, ids := range wanted {
		for chunk := range slices.Chunk(ids, castellan.MaxFindNodes) {
			if err := c.find(ctx, l, chunk); err != nil {
				return err
			}
		}
	}
	return nil
}

// lookup is a table find reads and the SQL expression of the keys of
// found its rows give.
type lookup struct{ table, key string }

// subjectTables are the tables of the subjects grants are made to.
var subjectTables = map[castellan.SubjectType]string{
	castellan.SubjectUser:           "users",
	castellan.SubjectGroup:          "groups",
	castellan.SubjectServiceAccount: "service_accounts",
}

// want notes the key prefix+id for find, once; found gets false for it
// until find sees the row.
func (c *grantChecker) want(wanted map[lookup][]string, l lookup, prefix, id string) {
	if _, seen := c.found[prefix+id]; !seen {
		c.found[prefix+id] = false
		wanted[l] = append(wanted[l], id)
	}
}

// find reads which of ids are rows of l's table in the organization (a
// live user, for users), locking each row it finds as exists does.
func (c *grantChecker) find(ctx context.Context, l lookup, ids []string) error {
	where := ""
	if l.table == "users" {
		where = " AND status <> 'deleted'"
	}
	in, args := inList(ids)
	rows, err := c.tx.query(ctx, `SELECT `+l.key+` FROM `+l.table+` WHERE `+c.tx.db.dialect.byKey("org_id")+` = ? AND id IN `+in+where+c.tx.db.dialect.lockKey,
		append([]any{c.orgID}, args...)...)
	if err != nil {
		return err
	}
	keys, err := collect(rows, scanString)
	for _, k := range keys {
		c.found[k] = true
	}
	return err
}
