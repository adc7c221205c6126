package guard_test

import (
	"context"

	"github.com/castellan-iam/castellan"
)

// newControlPolicy creates a custom policy through the raw store.
func (f *fixture) newControlPolicy() string {
	p, err := f.raw.ControlPolicies.CreateControlPolicy(system, f.org, castellan.ControlPolicyCreate{
		Name: f.unique("cp"), Document: `forbid (principal, action == Action::"compute:StopInstance", resource);`})
	if err != nil {
		f.t.Fatal(err)
	}
	return p.ID
}

// detachFromRoot detaches the policy from the root if a row attached it
// there, so that rows never fill the root's places.
func (f *fixture) detachFromRoot(id string) {
	_, err := f.raw.ControlPolicies.DetachControlPolicy(system, f.org, id, f.org)
	if err != nil && castellan.ErrorCode(err) != castellan.CodeControlPolicyNotAttached {
		f.t.Fatal(err)
	}
}

func init() {
	rowSets = append(rowSets, []row{
		{op: "ControlPolicies.FindControlPolicyByID", allowed: orgReaders, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			_, err := s.ControlPolicies.FindControlPolicyByID(ctx, f.org, castellan.FullAccessPolicyID)
			return err
		}},
		{op: "ControlPolicies.FindControlPolicies", allowed: orgReaders, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			_, _, err := s.ControlPolicies.FindControlPolicies(ctx, f.org, castellan.ControlPolicyFilter{})
			return err
		}},
		{op: "ControlPolicies.CreateControlPolicy", allowed: orgManagers, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			_, err := s.ControlPolicies.CreateControlPolicy(ctx, f.org, castellan.ControlPolicyCreate{Name: f.unique("cp"), Document: "permit (principal, action, resource);"})
			return err
		}},
		{op: "ControlPolicies.UpdateControlPolicy", allowed: orgManagers, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			d := f.unique("d")
			_, err := s.ControlPolicies.UpdateControlPolicy(ctx, f.org, f.newControlPolicy(), castellan.ControlPolicyUpdate{Description: &d})
			return err
		}},
		{op: "ControlPolicies.DeleteControlPolicy", allowed: orgManagers, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			_, err := s.ControlPolicies.DeleteControlPolicy(ctx, f.org, f.newControlPolicy())
			return err
		}},
		{op: "ControlPolicies.AttachControlPolicy", allowed: orgManagers, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			id := f.newControlPolicy()
			_, err := s.ControlPolicies.AttachControlPolicy(ctx, f.org, id, f.org)
			f.detachFromRoot(id)
			return err
		}},
		{op: "ControlPolicies.DetachControlPolicy", allowed: orgManagers, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			id := f.newControlPolicy()
			if _, err := f.raw.ControlPolicies.AttachControlPolicy(system, f.org, id, f.org); err != nil {
				f.t.Fatal(err)
			}
			_, err := s.ControlPolicies.DetachControlPolicy(ctx, f.org, id, f.org)
			f.detachFromRoot(id)
			return err
		}},
		{op: "ControlPolicies.FindNodePolicies", allowed: orgReaders, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			_, err := s.ControlPolicies.FindNodePolicies(ctx, f.org, f.org)
			return err
		}},
		{op: "ControlPolicies.FindPolicyTargets", allowed: orgReaders, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			_, err := s.ControlPolicies.FindPolicyTargets(ctx, f.org, castellan.FullAccessPolicyID)
			return err
		}},
	})
}
