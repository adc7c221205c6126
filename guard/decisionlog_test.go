package guard_test

import (
	"context"
	"time"

	"github.com/castellan-iam/castellan"
)

func init() {
	rowSets = append(rowSets, []row{
		{op: "DecisionLog.RecordDecisions", allowed: []string{operator}, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			now := time.Now()
			return s.DecisionLog.RecordDecisions(ctx, castellan.DecisionRecorder{ID: f.unique("recorder"), Mode: castellan.DecisionLogAll, SampleRate: 1,
				FlushInterval: time.Second, StartedAt: now, SeenAt: now}, nil)
		}},
		{op: "DecisionLog.DeleteDecisionRecordsBefore", allowed: []string{operator}, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			_, err := s.DecisionLog.DeleteDecisionRecordsBefore(ctx, time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC))
			return err
		}},
		{op: "DecisionLog.FindDecisionRecords", allowed: orgReaders, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			_, err := s.DecisionLog.FindDecisionRecords(ctx, f.org, castellan.DecisionLogFilter{})
			return err
		}},
		{op: "DecisionLog.UnusedPermissions", variant: "user", allowed: orgReaders, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			_, err := s.DecisionLog.UnusedPermissions(ctx, f.org, castellan.Subject{Type: castellan.SubjectUser, ID: f.ids[projectMember]}, time.Now().Add(-time.Hour))
			return err
		}},
		// The guard hides an account of a project the caller may not
		// read as not found; the account exists, so that is the refusal.
		{op: "DecisionLog.UnusedPermissions", variant: "service account", allowed: orgReaders, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			_, err := s.DecisionLog.UnusedPermissions(ctx, f.org, castellan.Subject{Type: castellan.SubjectServiceAccount, ID: f.newServiceAccount().ID}, time.Now().Add(-time.Hour))
			if castellan.ErrorCode(err) == castellan.CodeServiceAccountNotFound {
				return castellan.Errorf(castellan.EFORBIDDEN, castellan.CodePermissionDenied, "%v", err)
			}
			return err
		}},
	})
}
