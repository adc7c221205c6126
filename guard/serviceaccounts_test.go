package guard_test

import (
	"context"

	"github.com/castellan-iam/castellan"
)

func init() {
	managers := []string{owner, admin, projectAdmin, operator}
	readers := []string{owner, admin, reader, projectAdmin, projectReader, operator}
	description := "x"
	rowSets = append(rowSets, []row{
		{op: "ServiceAccounts.CreateServiceAccount", allowed: managers, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			_, err := s.ServiceAccounts.CreateServiceAccount(ctx, f.org, f.project, castellan.ServiceAccountCreate{Name: f.unique("sa")})
			return err
		}},
		{op: "ServiceAccounts.FindServiceAccounts", allowed: readers, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			_, _, err := s.ServiceAccounts.FindServiceAccounts(ctx, f.org, f.project, castellan.ServiceAccountFilter{})
			return err
		}},
		// The guard hides an account of a project the caller may not
		// read as not found; the account exists, so that is the refusal.
		{op: "ServiceAccounts.FindServiceAccountByID", allowed: readers, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			_, err := s.ServiceAccounts.FindServiceAccountByID(ctx, f.org, f.newServiceAccount().ID)
			if castellan.ErrorCode(err) == castellan.CodeServiceAccountNotFound {
				return castellan.Errorf(castellan.EFORBIDDEN, castellan.CodePermissionDenied, "%v", err)
			}
			return err
		}},
		{op: "ServiceAccounts.UpdateServiceAccount", allowed: managers, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			_, err := s.ServiceAccounts.UpdateServiceAccount(ctx, f.org, f.project, f.newServiceAccount().ID, castellan.ServiceAccountUpdate{Description: &description})
			return err
		}},
		{op: "ServiceAccounts.DeleteServiceAccount", allowed: managers, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			_, err := s.ServiceAccounts.DeleteServiceAccount(ctx, f.org, f.project, f.newServiceAccount().ID)
			return err
		}},
	})
}
