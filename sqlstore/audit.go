package sqlstore

import (
	"context"
	"encoding/json"
	"strconv"

	"github.com/castellan-iam/castellan"
)

// AuditService implements castellan.AuditService.
type AuditService struct{ db *DB }

var _ castellan.AuditService = (*AuditService)(nil)

// Audit returns the audit-log service of db.
func (db *DB) Audit() *AuditService { return &AuditService{db: db} }

func scanAuditEvent(row scanner) (*castellan.AuditEvent, error) {
	var (
		e       castellan.AuditEvent
		summary string
	)
	err := row.Scan(&e.ID, &e.OrganizationID, &e.Revision, &e.OccurredAt, &e.Actor.Type, &e.Actor.ID, &e.Actor.OrganizationID,
		&e.Action, &e.Target.Type, &e.Target.ID, &e.Target.Name, &e.RequestID, &e.SourceIP, &summary)
	if err != nil {
		return nil, err
	}
	e.OccurredAt = e.OccurredAt.UTC()
	if err := json.Unmarshal([]byte(summary), &e.Summary); err != nil {
		return nil, err
	}
	return &e, nil
}

// FindAuditEvents implements castellan.AuditService. Events come newest
// first, by revision; revisions commit in order, so events written while a
// client pages through never shift the pages it has not read yet.
func (s *AuditService) FindAuditEvents(ctx context.Context, orgID string, f castellan.AuditFilter) ([]*castellan.AuditEvent, string, error) {
	cur, err := decodeCursor(f.PageToken, "auditEvents", 2)
	if err != nil {
		return nil, "", err
	}
	size := castellan.PageSize(f.PageSize)
	q := `SELECT id, org_id, revision, occurred_at, actor_type, actor_id, actor_org, action,
		target_type, target_id, target_name, request_id, source_ip, ` + s.db.dialect.jsonText("summary") + `
		FROM audit_events WHERE org_id = ?`
	args := []any{orgID}
	for _, cond := range []struct {
		column string
		value  *string
	}{{"actor_id", f.ActorID}, {"action", f.Action}, {"target_id", f.TargetID}, {"target_type", f.TargetType}} {
		if cond.value != nil {
			q, args = q+` AND `+cond.column+` = ?`, append(args, *cond.value)
		}
	}
	if f.Since != nil {
		q, args = q+` AND occurred_at >= ?`, append(args, f.Since.UTC())
	}
	if f.Until != nil {
		q, args = q+` AND occurred_at < ?`, append(args, f.Until.UTC())
	}
	if cur != nil {
		rev, err := strconv.ParseInt(cur.Key[0], 10, 64)
		if err != nil {
			return nil, "", errBadPageToken()
		}
		q, args = q+` AND (revision < ? OR (revision = ? AND id < ?))`, append(args, rev, rev, cur.Key[1])
	}
	rows, err := s.db.query(ctx, q+` ORDER BY revision DESC, id DESC LIMIT ?`, append(args, size+1)...)
	if err != nil {
		return nil, "", err
	}
	events, err := collect(rows, scanAuditEvent)
	if err != nil {
		return nil, "", err
	}
	events, next := pageOf(events, size, func(e *castellan.AuditEvent) cursor {
		return cursor{List: "auditEvents", Key: []string{strconv.FormatInt(e.Revision, 10), e.ID}}
	})
	return events, next, nil
}
