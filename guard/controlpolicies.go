package guard

import (
	"context"

	"github.com/castellan-iam/castellan"
)

// controlPolicies guards control policies: the policies themselves are
// the organization's and are authorized on its root; attaching,
// detaching and reading what applies to a node are authorized on the
// node, so that a role granted on an OU or account can be given that
// much and no more.
type controlPolicies struct {
	g    *guard
	next castellan.ControlPolicyService
}

var _ castellan.ControlPolicyService = (*controlPolicies)(nil)

func (s *controlPolicies) FindControlPolicyByID(ctx context.Context, orgID, id string) (*castellan.ControlPolicy, error) {
	if err := s.g.allowOrg(ctx, orgID, castellan.ActionGetControlPolicy); err != nil {
		return nil, err
	}
	return s.next.FindControlPolicyByID(ctx, orgID, id)
}

func (s *controlPolicies) FindControlPolicies(ctx context.Context, orgID string, filter castellan.ControlPolicyFilter) ([]*castellan.ControlPolicy, string, error) {
	if err := s.g.allowOrg(ctx, orgID, castellan.ActionListControlPolicies); err != nil {
		return nil, "", err
	}
	return s.next.FindControlPolicies(ctx, orgID, filter)
}

func (s *controlPolicies) CreateControlPolicy(ctx context.Context, orgID string, create castellan.ControlPolicyCreate) (*castellan.ControlPolicy, error) {
	if err := s.g.allowOrg(ctx, orgID, castellan.ActionCreateControlPolicy); err != nil {
		return nil, err
	}
	return s.next.CreateControlPolicy(ctx, orgID, create)
}

func (s *controlPolicies) UpdateControlPolicy(ctx context.Context, orgID, id string, update castellan.ControlPolicyUpdate) (*castellan.ControlPolicy, error) {
	if err := s.g.allowOrg(ctx, orgID, castellan.ActionUpdateControlPolicy); err != nil {
		return nil, err
	}
	return s.next.UpdateControlPolicy(ctx, orgID, id, update)
}

func (s *controlPolicies) DeleteControlPolicy(ctx context.Context, orgID, id string) (int64, error) {
	if err := s.g.allowOrg(ctx, orgID, castellan.ActionDeleteControlPolicy); err != nil {
		return 0, err
	}
	return s.next.DeleteControlPolicy(ctx, orgID, id)
}

func (s *controlPolicies) AttachControlPolicy(ctx context.Context, orgID, policyID, nodeID string) (*castellan.PolicyAttachment, error) {
	if err := s.g.allowNode(ctx, orgID, "nodeId", nodeID, castellan.ActionAttachControlPolicy); err != nil {
		return nil, err
	}
	return s.next.AttachControlPolicy(ctx, orgID, policyID, nodeID)
}

func (s *controlPolicies) DetachControlPolicy(ctx context.Context, orgID, policyID, nodeID string) (int64, error) {
	if err := s.g.allowNode(ctx, orgID, "nodeId", nodeID, castellan.ActionDetachControlPolicy); err != nil {
		return 0, err
	}
	return s.next.DetachControlPolicy(ctx, orgID, policyID, nodeID)
}

func (s *controlPolicies) FindNodePolicies(ctx context.Context, orgID, nodeID string) ([]*castellan.PolicyAttachment, error) {
	if err := s.g.allowNode(ctx, orgID, "nodeId", nodeID, castellan.ActionListAttachedControlPolicies); err != nil {
		return nil, err
	}
	return s.next.FindNodePolicies(ctx, orgID, nodeID)
}

func (s *controlPolicies) FindPolicyTargets(ctx context.Context, orgID, policyID string) ([]castellan.NodeRef, error) {
	if err := s.g.allowOrg(ctx, orgID, castellan.ActionListControlPolicyTargets); err != nil {
		return nil, err
	}
	return s.next.FindPolicyTargets(ctx, orgID, policyID)
}
