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
