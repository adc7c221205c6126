package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/castellan-iam/castellan"
)

var _ castellan.AuthzSource = (*DB)(nil)

// ReadAuthz implements castellan.AuthzSource: the reads run in one
// read-only transaction (a repeatable-read snapshot on PostgreSQL; a WAL
// read transaction on SQLite), so that they agree with each other and
// with Revision.
func (db *DB) ReadAuthz(ctx context.Context, read func(castellan.AuthzReader) error) error {
	opts := &sql.TxOptions{ReadOnly: true}
	if db.dialect.numbered {
		opts.Isolation = sql.LevelRepeatableRead
	}
	tx, err := db.read.BeginTx(ctx, opts)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	r := &authzReader{ctx: ctx, tx: tx, d: db.dialect}
	if err := tx.QueryRowContext(ctx, `SELECT value FROM revision_counter WHERE id = 1`).Scan(&r.revision); err != nil {
		return err
	}
	return read(r)
}

// authzReader implements castellan.AuthzReader in one transaction; it
// lives for one ReadAuthz call, whose context it keeps.
type authzReader struct {
	ctx      context.Context
	tx       *sql.Tx
	d        dialect
	revision int64
}

func (r *authzReader) Revision() int64 { return r.revision }

// idChunk bounds the IDs of one IN list.
const idChunk = 500

// stream runs query (with ? placeholders) and calls scan on every row.
// When ids is not nil, the query must end in a condition the list of
// column IN (…) completes: it runs once per chunk of ids.
func (r *authzReader) stream(query, column string, ids []string, args []any, scan func(scanner) error) error {
	if ids == nil {
		return r.rows(query, args, scan)
	}
	for len(ids) > 0 {
		n := min(len(ids), idChunk)
		chunkArgs := append(append([]any{}, args...), anys(ids[:n])...)
		q := query + ` AND ` + column + ` IN (` + strings.TrimSuffix(strings.Repeat("?, ", n), ", ") + `)`
		if err := r.rows(q, chunkArgs, scan); err != nil {
			return err
		}
		ids = ids[n:]
	}
	return nil
}

func (r *authzReader) rows(query string, args []any, scan func(scanner) error) error {
	rows, err := r.tx.QueryContext(r.ctx, r.d.rebind(query), args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

func anys(ids []string) []any {
	out := make([]any, len(ids))
	for i, id := range ids {
		out[i] = id
	}
	return out
}

// scanID scans a row of one text column and gives it to each.
func scanID(each func(string) error) func(scanner) error {
	return func(row scanner) error {
		var id string
		if err := row.Scan(&id); err != nil {
			return err
		}
		return each(id)
	}
}

func (r *authzReader) Organizations(each func(id string) error) error {
	return r.rows(`SELECT id FROM organizations`, nil, scanID(each))
}

func (r *authzReader) Nodes(orgID string, each func(castellan.AuthzNode) error) error {
	return r.rows(`SELECT id, COALESCE(parent_id, ''), kind, name FROM nodes WHERE org_id = ?`, []any{orgID}, func(row scanner) error {
		var n castellan.AuthzNode
		if err := row.Scan(&n.ID, &n.ParentID, &n.Kind, &n.Name); err != nil {
			return err
		}
		return each(n)
	})
}

func (r *authzReader) Users(orgID string, ids []string, each func(id string) error) error {
	return r.stream(`SELECT id FROM users WHERE `+r.d.byKey("org_id")+` = ? AND status <> ?`, "id", ids,
		[]any{orgID, castellan.UserDeleted}, scanID(each))
}

func (r *authzReader) Memberships(orgID string, userIDs []string, each func(userID, groupID string) error) error {
	return r.stream(`SELECT user_id, group_id FROM group_members WHERE org_id = ?`, "user_id", userIDs, []any{orgID}, func(row scanner) error {
		var user, group string
		if err := row.Scan(&user, &group); err != nil {
			return err
		}
		return each(user, group)
	})
}

func (r *authzReader) ServiceAccounts(orgID string, ids []string, each func(id string) error) error {
	return r.stream(`SELECT id FROM service_accounts WHERE `+r.d.byKey("org_id")+` = ?`, "id", ids, []any{orgID}, scanID(each))
}

func (r *authzReader) Roles(orgID string, each func(*castellan.Role) error) error {
	return r.rows(`SELECT `+roleColumns(r.d)+` FROM roles WHERE org_id = ?`, []any{orgID}, func(row scanner) error {
		role, err := scanRole(row)
		if err != nil {
			return err
		}
		return each(role)
	})
}

func (r *authzReader) Grants(orgID string, ids []string, each func(castellan.AuthzGrant) error) error {
	return r.stream(`SELECT id, role_id, scope, subject_type, subject_id, expires_at FROM grants WHERE `+r.d.byKey("org_id")+` = ?`, "id", ids, []any{orgID}, func(row scanner) error {
		var (
			g       castellan.AuthzGrant
			expires sql.NullTime
		)
		if err := row.Scan(&g.ID, &g.RoleID, &g.Scope, &g.Subject.Type, &g.Subject.ID, &expires); err != nil {
			return err
		}
		if expires.Valid {
			t := expires.Time.UTC()
			g.ExpiresAt = &t
		}
		return each(g)
	})
}

func (r *authzReader) Attachments(orgID string, each func(nodeID string, policy *castellan.ControlPolicy) error) error {
	return r.rows(`SELECT a.node_id, a.policy_id, COALESCE(p.name, ''), COALESCE(p.document, ''), p.id IS NOT NULL
		FROM policy_attachments a LEFT JOIN control_policies p ON p.id = a.policy_id AND p.org_id = a.org_id
		WHERE a.org_id = ? ORDER BY a.node_id, a.attached_at, a.policy_id`, []any{orgID}, func(row scanner) error {
		var (
			nodeID, id, name, doc string
			custom                bool
		)
		if err := row.Scan(&nodeID, &id, &name, &doc, &custom); err != nil {
			return err
		}
		p := systemPolicy(id)
		if p == nil {
			if !custom {
				return fmt.Errorf("attachment of %s to %s: no such policy", id, nodeID)
			}
			p = &castellan.ControlPolicy{ID: id, OrganizationID: orgID, Name: name, Type: castellan.ControlPolicyCustom, Document: doc}
		}
		return each(nodeID, p)
	})
}
