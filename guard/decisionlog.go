package guard

import (
	"context"
	"time"

	"github.com/castellan-iam/castellan"
)

// decisionLog guards the decision log. Reading it is iam:ListDecisionLog
// on the organization; a user's unused permissions are
// iam:GetUnusedPermissions on the organization, where users are, and a
// service account's on its project. Recording and pruning are the
// background work of the flusher on the raw store: through the guard,
// only the operator does them.
type decisionLog struct {
	g    *guard
	next castellan.DecisionLogService
}

var _ castellan.DecisionLogService = (*decisionLog)(nil)

func (s *decisionLog) RecordDecisions(ctx context.Context, rec castellan.DecisionRecorder, records []castellan.DecisionRecord) error {
	if err := requireOperator(ctx); err != nil {
		return err
	}
	return s.next.RecordDecisions(ctx, rec, records)
}

func (s *decisionLog) DeleteDecisionRecordsBefore(ctx context.Context, before time.Time) (int, error) {
	if err := requireOperator(ctx); err != nil {
		return 0, err
	}
	return s.next.DeleteDecisionRecordsBefore(ctx, before)
}

func (s *decisionLog) FindDecisionRecords(ctx context.Context, orgID string, filter castellan.DecisionLogFilter) (*castellan.DecisionLogPage, error) {
	if err := s.g.allowOrg(ctx, orgID, castellan.ActionListDecisionLog); err != nil {
		return nil, err
	}
	return s.next.FindDecisionRecords(ctx, orgID, filter)
}

// UnusedPermissions of a service account are authorized on its project,
// read first.
func (s *decisionLog) UnusedPermissions(ctx context.Context, orgID string, subject castellan.Subject, since time.Time) (*castellan.UnusedPermissions, error) {
	if _, err := member(ctx, orgID); err != nil {
		return nil, err
	}
	switch subject.Type {
	case castellan.SubjectUser:
		if err := castellan.CheckID("userId", subject.ID); err != nil {
			return nil, err
		}
		if err := s.g.allowOrg(ctx, orgID, castellan.ActionGetUnusedPermissions); err != nil {
			return nil, err
		}
	case castellan.SubjectServiceAccount:
		if err := castellan.CheckID("serviceAccountId", subject.ID); err != nil {
			return nil, err
		}
		// Hidden as FindServiceAccountByID hides it from who may not
		// read it; refused to who may read it but not ask this.
		a, err := (&serviceAccounts{g: s.g, next: s.g.raw.ServiceAccounts}).FindServiceAccountByID(ctx, orgID, subject.ID)
		if err != nil {
			return nil, err
		}
		if err := s.g.allowProject(ctx, orgID, a.ProjectID, castellan.ActionGetUnusedPermissions); err != nil {
			return nil, err
		}
	}
	return s.next.UnusedPermissions(ctx, orgID, subject, since)
}
