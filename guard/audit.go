package guard

import (
	"context"

	"github.com/castellan-iam/castellan"
)

// audit guards the audit log: reading it is authorized on the
// organization.
type audit struct {
	g    *guard
	next castellan.AuditService
}

var _ castellan.AuditService = (*audit)(nil)

func (s *audit) FindAuditEvents(ctx context.Context, orgID string, filter castellan.AuditFilter) ([]*castellan.AuditEvent, string, error) {
	if err := s.g.allowOrg(ctx, orgID, castellan.ActionListAuditEvents); err != nil {
		return nil, "", err
	}
	return s.next.FindAuditEvents(ctx, orgID, filter)
}
