package guard_test

import (
	"context"

	"github.com/castellan-iam/castellan"
)

func init() {
	rowSets = append(rowSets, []row{
		{op: "Groups.CreateGroup", allowed: groupManagers, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			_, err := s.Groups.CreateGroup(ctx, f.org, castellan.GroupCreate{Name: f.unique("g")})
			return err
		}},
		{op: "Groups.FindGroups", allowed: groupReaders, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			_, _, err := s.Groups.FindGroups(ctx, f.org, castellan.GroupFilter{})
			return err
		}},
		{op: "Groups.FindGroupByID", allowed: groupReaders, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			_, err := s.Groups.FindGroupByID(ctx, f.org, f.newGroup())
			return err
		}},
		{op: "Groups.UpdateGroup", allowed: groupManagers, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			d := "x"
			_, err := s.Groups.UpdateGroup(ctx, f.org, f.newGroup(), castellan.GroupUpdate{Description: &d})
			return err
		}},
		{op: "Groups.CreateGroup", variant: "with members", allowed: groupManagers, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			_, err := s.Groups.CreateGroup(ctx, f.org, castellan.GroupCreate{Name: f.unique("g"), MemberIDs: []string{f.newUser()}})
			return err
		}},
		{op: "Groups.UpdateGroup", variant: "members added and removed", allowed: groupManagers, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			group, leaving := f.newGroup(), f.newUser()
			if _, err := f.raw.Groups.AddGroupMembers(system, f.org, group, []string{leaving}); err != nil {
				f.t.Fatal(err)
			}
			_, err := s.Groups.UpdateGroup(ctx, f.org, group, castellan.GroupUpdate{AddMemberIDs: []string{f.newUser()}, RemoveMemberIDs: []string{leaving}})
			return err
		}},
		{op: "Groups.UpdateGroup", variant: "members replaced", allowed: groupManagers, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			set := []string{f.newUser()}
			_, err := s.Groups.UpdateGroup(ctx, f.org, f.newGroup(), castellan.GroupUpdate{SetMemberIDs: &set})
			return err
		}},
		{op: "Groups.DeleteGroup", allowed: groupManagers, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			_, err := s.Groups.DeleteGroup(ctx, f.org, f.newGroup())
			return err
		}},
		{op: "Groups.AddGroupMembers", allowed: groupManagers, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			_, err := s.Groups.AddGroupMembers(ctx, f.org, f.newGroup(), []string{f.newUser()})
			return err
		}},
		{op: "Groups.RemoveGroupMembers", allowed: groupManagers, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			group, user := f.newGroup(), f.newUser()
			if _, err := f.raw.Groups.AddGroupMembers(system, f.org, group, []string{user}); err != nil {
				f.t.Fatal(err)
			}
			_, err := s.Groups.RemoveGroupMembers(ctx, f.org, group, []string{user})
			return err
		}},
		{op: "Groups.FindGroupMembers", allowed: groupReaders, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			_, _, err := s.Groups.FindGroupMembers(ctx, f.org, f.newGroup(), castellan.GroupFilter{})
			return err
		}},
		{op: "Groups.FindUserGroups", allowed: groupReaders, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			_, err := s.Groups.FindUserGroups(ctx, f.org, f.ids[owner])
			return err
		}},
	})
}
