package guard_test

import (
	"context"

	"github.com/castellan-iam/castellan"
)

func init() {
	rowSets = append(rowSets, []row{
		{op: "Nodes.FindNodeByID", allowed: orgReaders, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			_, err := s.Nodes.FindNodeByID(ctx, f.org, f.project)
			return err
		}},
		// FindNodesByID leaves out what the caller may not see: a caller
		// given nothing for the project it asked for was refused it.
		{op: "Nodes.FindNodesByID", allowed: orgReaders, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			nodes, err := s.Nodes.FindNodesByID(ctx, f.org, []string{f.project})
			if err == nil && (len(nodes) != 1 || nodes[0].ID != f.project) {
				err = castellan.Errorf(castellan.EFORBIDDEN, "test.hidden", "got %d nodes, not the project", len(nodes))
			}
			return err
		}},
		{op: "Nodes.FindAncestors", allowed: orgReaders, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			_, err := s.Nodes.FindAncestors(ctx, f.org, f.project)
			return err
		}},
		{op: "Nodes.FindChildren", allowed: orgReaders, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			_, _, err := s.Nodes.FindChildren(ctx, f.org, f.org, castellan.ChildFilter{})
			return err
		}},
		{op: "Nodes.FindTree", allowed: orgReaders, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			_, _, err := s.Nodes.FindTree(ctx, f.org, castellan.TreeFilter{})
			return err
		}},
	})
}
