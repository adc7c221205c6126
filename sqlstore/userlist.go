package sqlstore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/castellan-iam/castellan"
	"github.com/jackc/pgx/v5"
)

// userSort is one order of the user list: the column (with an index on
// (org_id, column, id)) and how a row's key reads and parses in a page
// token.
type userSort struct {
	column string
	key    func(u *castellan.User) string
	parse  func(s string) (any, bool)
}

var userSorts = map[string]userSort{
	castellan.SortRegisteredAt: {
		column: "u.created_at",
		key:    func(u *castellan.User) string { return u.CreatedAt.Format(time.RFC3339Nano) },
		parse: func(s string) (any, bool) {
			t, err := time.Parse(time.RFC3339Nano, s)
			return t.UTC(), err == nil
		},
	},
	castellan.SortLoginID: {
		column: "u.login_id_lower",
		key:    func(u *castellan.User) string { return strings.ToLower(u.LoginID) },
		parse:  func(s string) (any, bool) { return s, true },
	},
	castellan.SortName: {
		column: "u.name_lower",
		key:    func(u *castellan.User) string { return strings.ToLower(u.Name) },
		parse:  func(s string) (any, bool) { return s, true },
	},
}

// checkUserFilter validates f and fills in the default sort and order.
func checkUserFilter(f *castellan.UserFilter) error {
	var fields []castellan.FieldError
	if f.Sort == "" {
		f.Sort = castellan.SortRegisteredAt
	}
	if _, ok := userSorts[f.Sort]; !ok {
		fields = append(fields, castellan.FieldError{Field: "sort", Rule: "enum", Message: "must be registeredAt, loginId or name"})
	}
	if f.Order == "" {
		f.Order = castellan.OrderAsc
		if f.Sort == castellan.SortRegisteredAt {
			f.Order = castellan.OrderDesc // newest first
		}
	}
	if f.Order != castellan.OrderAsc && f.Order != castellan.OrderDesc {
		fields = append(fields, castellan.FieldError{Field: "order", Rule: "enum", Message: "must be asc or desc"})
	}
	if f.Status != nil {
		switch *f.Status {
		case castellan.UserActive, castellan.UserPendingInvitation, castellan.UserDisabled, castellan.UserDeleted:
		default:
			fields = append(fields, castellan.FieldError{Field: "status", Rule: "enum", Message: "must be active, pending_invitation, disabled or deleted"})
		}
	}
	if f.GroupID != nil && !castellan.ValidID(*f.GroupID) {
		fields = append(fields, castellan.FieldError{Field: "groupId", Rule: "format", Message: "must be a UUID"})
	}
	if f.Query != nil && len([]rune(*f.Query)) > castellan.MaxUserQueryLength {
		fields = append(fields, castellan.FieldError{Field: "q", Rule: "maxLength",
			Message: fmt.Sprintf("must have at most %d characters", castellan.MaxUserQueryLength)})
	}
	return castellan.Invalid(fields)
}

// FindUsers implements castellan.UserService. Pages are keyset pages on
// (sort column, id). Returns ENOTFOUND (group.not_found) for a group
// filter naming no group of the organization.
//
// A page costs about the same at any depth of a million users, whichever
// of two plans serves it. Without a selective filter, it walks the index
// of the sort from the page token on, skipping rows the filters refuse.
// A filter that matches few users (fewer than selectiveMatches: a rare
// status, a small group, most text searches) drives instead: its matches
// come from its own index and are sorted. A capped count of each
// filter's matches picks the plan, as neither backend can guess from its
// statistics how many users a prefix matches. The counts of roles and
// groups are taken for the page's rows only.
func (s *UserService) FindUsers(ctx context.Context, orgID string, f castellan.UserFilter) ([]*castellan.User, string, error) {
	if err := checkUserFilter(&f); err != nil {
		return nil, "", err
	}
	sort := userSorts[f.Sort]
	list := "users/" + f.Sort + "/" + f.Order
	cur, err := decodeCursor(f.PageToken, list, 2)
	if err != nil {
		return nil, "", err
	}
	if f.GroupID != nil {
		if err := s.groupExists(ctx, orgID, *f.GroupID); err != nil {
			return nil, "", err
		}
	}
	where, args, err := s.listConditions(ctx, orgID, f)
	if err != nil {
		return nil, "", err
	}
	cmp, dir := ">", " ASC"
	if f.Order == castellan.OrderDesc {
		cmp, dir = "<", " DESC"
	}
	if cur != nil {
		key, ok := sort.parse(cur.Key[0])
		if !ok || !castellan.ValidID(cur.Key[1]) {
			return nil, "", errBadPageToken()
		}
		where, args = where+` AND (`+sort.column+`, u.id) `+cmp+` (?, ?)`, append(args, key, cur.Key[1])
	}
	size := castellan.PageSize(f.PageSize)
	q := `SELECT ` + userColumns(s.db.dialect, "p", false) + `, ` + userCounts("p") + ` FROM (
		SELECT ` + s.columnsSQL + `, ` + sort.column + ` AS sort_key FROM users u WHERE ` + where + `
		ORDER BY ` + sort.column + dir + `, u.id` + dir + ` LIMIT ?) p
		ORDER BY p.sort_key` + dir + `, p.id` + dir
	rows, err := s.db.query(ctx, q, s.db.planEachTime(append(args, size+1))...)
	if err != nil {
		return nil, "", err
	}
	users, err := collect(rows, scanUser)
	if err != nil {
		return nil, "", err
	}
	users, next := pageOf(users, size, func(u *castellan.User) cursor {
		return cursor{List: list, Key: []string{sort.key(u), u.ID}}
	})
	return users, next, nil
}

// listConditions returns the WHERE clause of the user list's filters on
// alias u, the most selective filter driving.
func (s *UserService) listConditions(ctx context.Context, orgID string, f castellan.UserFilter) (string, []any, error) {
	where, args := `u.org_id = ?`, []any{orgID}
	if f.Status == nil || *f.Status != castellan.UserDeleted {
		// Also repeats the partial indexes' condition, so that SQLite
		// may use them.
		where += ` AND u.status <> 'deleted'`
	}
	filters := userFilters(orgID, f)
	driver, err := s.selectiveFilter(ctx, filters)
	if err != nil {
		return "", nil, err
	}
	for i, uf := range filters {
		if i == driver {
			where, args = where+` AND u.id IN (`+uf.ids+`)`, append(args, uf.idArgs...)
			continue
		}
		where, args = where+` AND `+uf.cond, append(args, uf.condArgs...)
	}
	return where, args, nil
}

// selectiveMatches is the number of matches below which a filter drives
// the user list. Sorting that many rows, or scanning the sort index until
// a page of a filter with more matches is found (about 100 × users /
// matches rows), each cost a few milliseconds at a million users.
const selectiveMatches = 5000

// userFilter is one filter of the user list: cond, a condition on alias
// u, and ids, a query of the IDs of the users it matches from its own
// index. A cond on an indexed column is written as an expression
// (status || ”), so that no planner picks that index over the sort's
// when the filter matches many users: that is what ids is for.
type userFilter struct {
	cond     string
	condArgs []any
	ids      string
	idArgs   []any
}

func userFilters(orgID string, f castellan.UserFilter) []userFilter {
	var filters []userFilter
	if f.Status != nil {
		filters = append(filters, userFilter{
			cond: `u.status || '' = ?`, condArgs: []any{*f.Status},
			ids: `SELECT id FROM users WHERE org_id = ? AND status = ?`, idArgs: []any{orgID, *f.Status},
		})
	}
	if f.GroupID != nil {
		members := `SELECT m.user_id FROM group_members m WHERE m.org_id = ? AND m.group_id = ?`
		filters = append(filters, userFilter{
			cond: `u.id || '' IN (` + members + `)`, condArgs: []any{orgID, *f.GroupID},
			ids: members, idArgs: []any{orgID, *f.GroupID},
		})
	}
	if f.Query != nil && *f.Query != "" {
		from := strings.ToLower(*f.Query)
		// Every string with the prefix sorts below prefix+U+10FFFF, in
		// the byte order both backends compare these columns in.
		to := from + "\U0010FFFF"
		filters = append(filters, userFilter{
			cond: `((u.login_id_lower >= ? AND u.login_id_lower < ?) OR (u.email_lower >= ? AND u.email_lower < ?)
				OR (u.name_lower >= ? AND u.name_lower < ?))`,
			condArgs: []any{from, to, from, to, from, to},
			ids: `SELECT id FROM users WHERE org_id = ? AND login_id_lower >= ? AND login_id_lower < ?
				UNION ALL SELECT id FROM users WHERE org_id = ? AND status <> 'deleted' AND email_lower <> '' AND email_lower >= ? AND email_lower < ?
				UNION ALL SELECT id FROM users WHERE org_id = ? AND name_lower >= ? AND name_lower < ?`,
			idArgs: []any{orgID, from, to, orgID, from, to, orgID, from, to},
		})
	}
	return filters
}

// selectiveFilter returns the index of the filter with the fewest
// matches, if it has fewer than selectiveMatches, or -1. One query counts
// every filter's matches, each up to the limit.
func (s *UserService) selectiveFilter(ctx context.Context, filters []userFilter) (int, error) {
	if len(filters) == 0 {
		return -1, nil
	}
	counts := make([]string, len(filters))
	var args []any
	for i, uf := range filters {
		counts[i] = `(SELECT COUNT(*) FROM (` + uf.ids + ` LIMIT ?) c)`
		args = append(append(args, uf.idArgs...), selectiveMatches)
	}
	n := make([]int, len(filters))
	dest := make([]any, len(filters))
	for i := range n {
		dest[i] = &n[i]
	}
	if err := s.db.queryRow(ctx, `SELECT `+strings.Join(counts, ", "), s.db.planEachTime(args)...).Scan(dest...); err != nil {
		return -1, err
	}
	best := -1
	for i, c := range n {
		if c < selectiveMatches && (best < 0 || c < n[best]) {
			best = i
		}
	}
	return best, nil
}

func (s *UserService) groupExists(ctx context.Context, orgID, groupID string) error {
	var one int
	err := s.db.queryRow(ctx, `SELECT 1 FROM groups WHERE org_id = ? AND id = ?`, orgID, groupID).Scan(&one)
	if isNoRows(err) {
		return notFound(castellan.CodeGroupNotFound, "group", groupID)
	}
	return err
}

// planEachTime prefixes the arguments of a query whose best plan depends
// on them with, for PostgreSQL, the pgx option that sends it as an
// unnamed statement: planned for these arguments each time, where a
// cached statement would after five runs switch to a generic plan that
// guesses how many users a status or a prefix matches.
func (db *DB) planEachTime(args []any) []any {
	if db.dialect.name != "postgres" {
		return args
	}
	return append([]any{pgx.QueryExecModeExec}, args...)
}
