package guard

import (
	"context"

	"github.com/castellan-iam/castellan"
)

// nodes guards the reads of the tree: each is authorized on the node it
// is about, so that a grant on an OU or account lets its holder see the
// structure below it and nothing beside it.
type nodes struct {
	g    *guard
	next castellan.NodeService
}

var _ castellan.NodeService = (*nodes)(nil)

// allowNode checks the caller's organization, then that it may do action
// on the node id of it; an unknown node, or one of another organization,
// is "not found".
func (g *guard) allowNode(ctx context.Context, orgID, field, id string, action castellan.Action) error {
	if _, err := member(ctx, orgID); err != nil {
		return err
	}
	if err := castellan.CheckID(field, id); err != nil {
		return err
	}
	n, err := g.raw.Nodes.FindNodeByID(ctx, orgID, id)
	if err != nil {
		return err
	}
	return g.allow(ctx, orgID, action, n.Scope(), castellan.Errorf(castellan.ENOTFOUND, castellan.CodeNodeNotFound, "node %s not found", id))
}

func (s *nodes) FindNodeByID(ctx context.Context, orgID, id string) (*castellan.Node, error) {
	if err := s.g.allowNode(ctx, orgID, "nodeId", id, castellan.ActionGetNode); err != nil {
		return nil, err
	}
	return s.next.FindNodeByID(ctx, orgID, id)
}

// FindNodesByID leaves out the nodes the caller may not see, as it
// leaves out those that do not exist.
func (s *nodes) FindNodesByID(ctx context.Context, orgID string, ids []string) ([]*castellan.Node, error) {
	if _, err := member(ctx, orgID); err != nil {
		return nil, err
	}
	found, err := s.next.FindNodesByID(ctx, orgID, ids)
	if err != nil {
		return nil, err
	}
	visible := found[:0]
	for _, n := range found {
		err := s.g.allow(ctx, orgID, castellan.ActionGetNode, n.Scope(), nil)
		switch {
		case err == nil:
			visible = append(visible, n)
		case castellan.ErrorKind(err) != castellan.EFORBIDDEN:
			return nil, err
		}
	}
	return visible, nil
}

func (s *nodes) FindAncestors(ctx context.Context, orgID, id string) ([]*castellan.Node, error) {
	if err := s.g.allowNode(ctx, orgID, "nodeId", id, castellan.ActionGetNode); err != nil {
		return nil, err
	}
	return s.next.FindAncestors(ctx, orgID, id)
}

func (s *nodes) FindChildren(ctx context.Context, orgID, parentID string, filter castellan.ChildFilter) ([]*castellan.Node, string, error) {
	if err := s.g.allowNode(ctx, orgID, "nodeId", parentID, castellan.ActionListNodes); err != nil {
		return nil, "", err
	}
	return s.next.FindChildren(ctx, orgID, parentID, filter)
}

func (s *nodes) FindTree(ctx context.Context, orgID string, filter castellan.TreeFilter) ([]*castellan.Node, string, error) {
	top := filter.RootID
	if top == "" {
		top = orgID
	}
	if err := s.g.allowNode(ctx, orgID, "rootId", top, castellan.ActionListNodes); err != nil {
		return nil, "", err
	}
	return s.next.FindTree(ctx, orgID, filter)
}
