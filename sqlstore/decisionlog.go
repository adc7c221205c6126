package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/castellan-iam/castellan"
)

// DecisionLogService implements castellan.DecisionLogService.
type DecisionLogService struct{ db *DB }

var _ castellan.DecisionLogService = (*DecisionLogService)(nil)

// DecisionLog returns the decision log of db.
func (db *DB) DecisionLog() *DecisionLogService { return &DecisionLogService{db: db} }

// decisionRowsPerStatement bounds the rows of one multi-row upsert (ten
// parameters each, well under either backend's limit).
const decisionRowsPerStatement = 200

// RecordDecisions implements castellan.DecisionLogService. Records of an
// organization that no longer exists are left out.
func (s *DecisionLogService) RecordDecisions(ctx context.Context, rec castellan.DecisionRecorder, records []castellan.DecisionRecord) error {
	return s.db.bookkeeping(ctx, func(tx *Tx) error {
		_, err := tx.exec(ctx, `INSERT INTO decision_log_recorders (id, mode, sample_ppm, flush_interval_ms, started_at, seen_at)
			VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET seen_at = excluded.seen_at`,
			rec.ID, string(rec.Mode), int64(rec.SampleRate*1e6), rec.FlushInterval.Milliseconds(), rec.StartedAt.UTC(), rec.SeenAt.UTC())
		if err != nil {
			return fmt.Errorf("record decision recorder: %w", err)
		}
		kept, err := tx.recordsOfExistingOrganizations(ctx, records)
		if err != nil {
			return err
		}
		for len(kept) > 0 {
			n := min(len(kept), decisionRowsPerStatement)
			if err := tx.upsertDecisionRecords(ctx, kept[:n]); err != nil {
				return err
			}
			kept = kept[n:]
		}
		return nil
	})
}

// recordsOfExistingOrganizations drops the records of organizations
// deleted since their decisions.
func (tx *Tx) recordsOfExistingOrganizations(ctx context.Context, records []castellan.DecisionRecord) ([]castellan.DecisionRecord, error) {
	orgs := map[string]bool{}
	for _, r := range records {
		orgs[r.OrganizationID] = false
	}
	for id := range orgs {
		var found string
		err := tx.queryRow(ctx, `SELECT id FROM organizations WHERE id = ?`, id).Scan(&found)
		switch {
		case err == nil:
			orgs[id] = true
		case !isNoRows(err):
			return nil, fmt.Errorf("record decisions: %w", err)
		}
	}
	kept := records[:0:0]
	for _, r := range records {
		if orgs[r.OrganizationID] {
			kept = append(kept, r)
		}
	}
	return kept, nil
}

// upsertDecisionRecords merges records, of distinct keys, into the log.
func (tx *Tx) upsertDecisionRecords(ctx context.Context, records []castellan.DecisionRecord) error {
	values := make([]string, len(records))
	args := make([]any, 0, 10*len(records))
	for i, r := range records {
		values[i] = `(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
		var lastAllowed any
		if r.LastAllowed != nil {
			lastAllowed = r.LastAllowed.UTC()
		}
		args = append(args, r.OrganizationID, string(r.PrincipalType), r.PrincipalID, r.Action, r.Scope,
			r.Allowed, r.Denied, r.FirstSeen.UTC(), r.LastSeen.UTC(), lastAllowed)
	}
	_, err := tx.exec(ctx, `INSERT INTO decision_log (org_id, principal_type, principal_id, action, scope,
			allowed_count, denied_count, first_seen, last_seen, last_allowed_at)
		VALUES `+strings.Join(values, ", ")+`
		ON CONFLICT (org_id, principal_type, principal_id, action, scope) DO UPDATE SET
			allowed_count = decision_log.allowed_count + excluded.allowed_count,
			denied_count = decision_log.denied_count + excluded.denied_count,
			first_seen = CASE WHEN excluded.first_seen < decision_log.first_seen THEN excluded.first_seen ELSE decision_log.first_seen END,
			last_seen = CASE WHEN excluded.last_seen > decision_log.last_seen THEN excluded.last_seen ELSE decision_log.last_seen END,
			last_allowed_at = CASE WHEN decision_log.last_allowed_at IS NULL OR excluded.last_allowed_at > decision_log.last_allowed_at
				THEN excluded.last_allowed_at ELSE decision_log.last_allowed_at END`, args...)
	if err != nil {
		return fmt.Errorf("record decisions: %w", err)
	}
	return nil
}

const decisionRecordColumns = `org_id, principal_type, principal_id, action, scope, allowed_count, denied_count, first_seen, last_seen, last_allowed_at`

func scanDecisionRecord(row scanner) (*castellan.DecisionRecord, error) {
	var (
		r           castellan.DecisionRecord
		lastAllowed sql.NullTime
	)
	if err := row.Scan(&r.OrganizationID, &r.PrincipalType, &r.PrincipalID, &r.Action, &r.Scope,
		&r.Allowed, &r.Denied, &r.FirstSeen, &r.LastSeen, &lastAllowed); err != nil {
		return nil, err
	}
	r.Count = r.Allowed + r.Denied
	r.FirstSeen, r.LastSeen = r.FirstSeen.UTC(), r.LastSeen.UTC()
	if lastAllowed.Valid {
		t := lastAllowed.Time.UTC()
		r.LastAllowed = &t
	}
	return &r, nil
}

// FindDecisionRecords implements castellan.DecisionLogService.
func (s *DecisionLogService) FindDecisionRecords(ctx context.Context, orgID string, f castellan.DecisionLogFilter) (*castellan.DecisionLogPage, error) {
	records, next, err := s.findRecords(ctx, orgID, f)
	if err != nil {
		return nil, err
	}
	coverage, err := s.coverage(ctx)
	if err != nil {
		return nil, err
	}
	return &castellan.DecisionLogPage{Records: records, Next: next, Coverage: coverage}, nil
}

func (s *DecisionLogService) findRecords(ctx context.Context, orgID string, f castellan.DecisionLogFilter) ([]*castellan.DecisionRecord, string, error) {
	cur, err := decodeCursor(f.PageToken, "decisionLog", 4)
	if err != nil {
		return nil, "", err
	}
	size := castellan.PageSize(f.PageSize)
	q, args := `SELECT `+decisionRecordColumns+` FROM decision_log WHERE org_id = ?`, []any{orgID}
	if f.Principal != nil {
		q, args = q+` AND principal_type = ? AND principal_id = ?`, append(args, string(f.Principal.Type), f.Principal.ID)
	}
	if !f.Since.IsZero() {
		q, args = q+` AND last_seen >= ?`, append(args, f.Since.UTC())
	}
	if !f.AllowedSince.IsZero() {
		q, args = q+` AND last_allowed_at >= ?`, append(args, f.AllowedSince.UTC())
	}
	if cur != nil {
		// Row comparison: both backends order tuples lexicographically.
		q, args = q+` AND (principal_type, principal_id, action, scope) > (?, ?, ?, ?)`,
			append(args, cur.Key[0], cur.Key[1], cur.Key[2], cur.Key[3])
	}
	rows, err := s.db.query(ctx, q+` ORDER BY principal_type, principal_id, action, scope LIMIT ?`, append(args, size+1)...)
	if err != nil {
		return nil, "", err
	}
	records, err := collect(rows, scanDecisionRecord)
	if err != nil {
		return nil, "", err
	}
	records, next := pageOf(records, size, func(r *castellan.DecisionRecord) cursor {
		return cursor{List: "decisionLog", Key: []string{string(r.PrincipalType), r.PrincipalID, r.Action, r.Scope}}
	})
	return records, next, nil
}

// coverage merges the recorders into the log's coverage now. The
// recorders are few: one per process that recorded within the retention.
func (s *DecisionLogService) coverage(ctx context.Context) (castellan.DecisionLogCoverage, error) {
	rows, err := s.db.query(ctx, `SELECT id, mode, sample_ppm, flush_interval_ms, started_at, seen_at FROM decision_log_recorders`)
	if err != nil {
		return castellan.DecisionLogCoverage{}, err
	}
	recorders, err := collect(rows, func(row scanner) (castellan.DecisionRecorder, error) {
		var (
			r               castellan.DecisionRecorder
			ppm, intervalMS int64
		)
		err := row.Scan(&r.ID, &r.Mode, &ppm, &intervalMS, &r.StartedAt, &r.SeenAt)
		r.SampleRate, r.FlushInterval = float64(ppm)/1e6, time.Duration(intervalMS)*time.Millisecond
		return r, err
	})
	if err != nil {
		return castellan.DecisionLogCoverage{}, err
	}
	c := castellan.Coverage(recorders, s.db.now())
	if c.RecordingSince != nil {
		t := c.RecordingSince.UTC()
		c.RecordingSince = &t
	}
	return c, nil
}

// DeleteDecisionRecordsBefore implements castellan.DecisionLogService.
func (s *DecisionLogService) DeleteDecisionRecordsBefore(ctx context.Context, before time.Time) (int, error) {
	var n int64
	before = before.UTC()
	err := s.db.bookkeeping(ctx, func(tx *Tx) error {
		res, err := tx.exec(ctx, `DELETE FROM decision_log WHERE last_seen < ?`, before)
		if err != nil {
			return fmt.Errorf("prune decision log: %w", err)
		}
		if n, err = res.RowsAffected(); err != nil {
			return err
		}
		if _, err := tx.exec(ctx, `DELETE FROM decision_log_recorders WHERE seen_at < ?`, before); err != nil {
			return fmt.Errorf("prune decision recorders: %w", err)
		}
		// What was recorded before is gone: the log covers from here on.
		if _, err := tx.exec(ctx, `UPDATE decision_log_recorders SET started_at = ? WHERE started_at < ?`, before, before); err != nil {
			return fmt.Errorf("prune decision recorders: %w", err)
		}
		return nil
	})
	return int(n), err
}

// UnusedPermissions implements castellan.DecisionLogService.
func (s *DecisionLogService) UnusedPermissions(ctx context.Context, orgID string, subject castellan.Subject, since time.Time) (*castellan.UnusedPermissions, error) {
	switch subject.Type {
	case castellan.SubjectUser:
		if _, err := s.db.Users().FindUserByID(ctx, orgID, subject.ID, false); err != nil {
			return nil, err
		}
	case castellan.SubjectServiceAccount:
		if _, err := s.db.ServiceAccounts().FindServiceAccountByID(ctx, orgID, subject.ID); err != nil {
			return nil, err
		}
	default:
		return nil, castellan.Invalid([]castellan.FieldError{{Field: "principal.type", Rule: "enum", Message: "must be user or serviceAccount"}})
	}
	coverage, err := s.coverage(ctx)
	if err != nil {
		return nil, err
	}
	u := &castellan.UnusedPermissions{Principal: subject, Since: since.UTC(), Coverage: coverage, Grants: []castellan.UnusedGrant{}}
	u.SetCompleteness()
	grants, err := s.liveGrantsOf(ctx, orgID, subject)
	if err != nil {
		return nil, err
	}
	used, err := s.usedSince(ctx, orgID, subject, since)
	if err != nil {
		return nil, err
	}
	for _, g := range grants {
		role, err := s.db.Roles().FindRoleByID(ctx, orgID, g.RoleID)
		if err != nil {
			return nil, err
		}
		ug := castellan.UnusedGrant{GrantID: g.ID, RoleID: g.RoleID, Scope: g.Scope, Via: g.Via,
			UnusedActions: []string{}, UsedActions: []string{}}
		for _, action := range s.db.catalog.Expand(role.Actions) {
			if used.under(action, g.Scope) {
				ug.UsedActions = append(ug.UsedActions, action)
			} else {
				ug.UnusedActions = append(ug.UnusedActions, action)
			}
		}
		u.Grants = append(u.Grants, ug)
	}
	return u, nil
}

// liveGrantsOf returns the unexpired grants of subject (a user's through
// its groups too), by ID.
func (s *DecisionLogService) liveGrantsOf(ctx context.Context, orgID string, subject castellan.Subject) ([]*castellan.Grant, error) {
	now := s.db.now()
	var live []*castellan.Grant
	token := ""
	for {
		page, next, err := s.db.Grants().FindGrants(ctx, orgID, castellan.GrantFilter{Subject: &subject, PageSize: castellan.MaxPageSize, PageToken: token})
		if err != nil {
			return nil, err
		}
		for _, g := range page {
			if g.Active(now) {
				live = append(live, g)
			}
		}
		if next == "" {
			break
		}
		token = next
	}
	sort.Slice(live, func(i, j int) bool { return live[i].ID < live[j].ID })
	return live, nil
}

// usedActions maps each action the principal was allowed to do to the
// scopes that contain a resource it did it on: the resource itself, all
// of its type in its project, and every node above it.
type usedActions map[string]map[string]bool

func (u usedActions) under(action, scope string) bool { return u[action][scope] }

// usedSince reads the principal's allowed decisions since `since` and
// the ancestry of their scopes.
func (s *DecisionLogService) usedSince(ctx context.Context, orgID string, subject castellan.Subject, since time.Time) (usedActions, error) {
	used := usedActions{}
	containers := map[string][]string{} // scope -> scopes containing it
	token := ""
	for {
		page, next, err := s.findRecords(ctx, orgID, castellan.DecisionLogFilter{Principal: &subject, AllowedSince: since, PageSize: castellan.MaxPageSize, PageToken: token})
		if err != nil {
			return nil, err
		}
		for _, r := range page {
			scopes, ok := containers[r.Scope]
			if !ok {
				if scopes, err = s.containersOf(ctx, orgID, r.Scope); err != nil {
					return nil, err
				}
				containers[r.Scope] = scopes
			}
			if used[r.Action] == nil {
				used[r.Action] = map[string]bool{}
			}
			for _, c := range scopes {
				used[r.Action][c] = true
			}
		}
		if next == "" {
			return used, nil
		}
		token = next
	}
}

// containersOf returns scope and the scopes above it. A scope whose node
// is gone (or that does not parse) contains only itself.
func (s *DecisionLogService) containersOf(ctx context.Context, orgID, scope string) ([]string, error) {
	out := []string{scope}
	sc, err := castellan.ParseScope("scope", scope)
	if err != nil {
		return out, nil
	}
	if sc.Kind == castellan.ScopeResource {
		out = append(out, sc.Resource.AllOfType().String())
	}
	nodes, err := s.db.Nodes().FindAncestors(ctx, orgID, sc.ID)
	if castellan.ErrorKind(err) == castellan.ENOTFOUND {
		return out, nil
	}
	if err != nil {
		return nil, err
	}
	for _, n := range nodes {
		out = append(out, n.Scope().String())
	}
	return out, nil
}
