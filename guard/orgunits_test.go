package guard_test

import (
	"context"

	"github.com/castellan-iam/castellan"
)

// newOU creates an OU under parent (the root when empty) through the
// unguarded store.
func (f *fixture) newOU(parent string) string {
	if parent == "" {
		parent = f.org
	}
	ou, err := f.raw.OrgUnits.CreateOrgUnit(system, f.org, castellan.OrgUnitCreate{ParentID: parent, Name: f.unique("ou")})
	if err != nil {
		f.t.Fatal(err)
	}
	return ou.ID
}

func init() {
	rowSets = append(rowSets, []row{
		{op: "OrgUnits.FindOrgUnitByID", allowed: orgReaders, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			_, err := s.OrgUnits.FindOrgUnitByID(ctx, f.org, f.newOU(""))
			return err
		}},
		{op: "OrgUnits.FindOrgUnits", allowed: orgReaders, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			_, _, err := s.OrgUnits.FindOrgUnits(ctx, f.org, castellan.OrgUnitFilter{})
			return err
		}},
		{op: "OrgUnits.FindOrgUnits", variant: "under an OU", allowed: orgReaders, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			parent := f.newOU("")
			_, _, err := s.OrgUnits.FindOrgUnits(ctx, f.org, castellan.OrgUnitFilter{ParentID: &parent})
			return err
		}},
		{op: "OrgUnits.CreateOrgUnit", allowed: orgManagers, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			_, err := s.OrgUnits.CreateOrgUnit(ctx, f.org, castellan.OrgUnitCreate{ParentID: f.org, Name: f.unique("ou")})
			return err
		}},
		{op: "OrgUnits.CreateOrgUnit", variant: "under an OU", allowed: orgManagers, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			_, err := s.OrgUnits.CreateOrgUnit(ctx, f.org, castellan.OrgUnitCreate{ParentID: f.newOU(""), Name: f.unique("ou")})
			return err
		}},
		{op: "OrgUnits.UpdateOrgUnit", allowed: orgManagers, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			d := f.unique("d")
			_, err := s.OrgUnits.UpdateOrgUnit(ctx, f.org, f.newOU(""), castellan.OrgUnitUpdate{Description: &d})
			return err
		}},
		{op: "OrgUnits.MoveOrgUnit", allowed: orgManagers, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			_, err := s.OrgUnits.MoveOrgUnit(ctx, f.org, f.newOU(""), f.newOU(""))
			return err
		}},
		{op: "OrgUnits.DeleteOrgUnit", allowed: orgManagers, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			_, err := s.OrgUnits.DeleteOrgUnit(ctx, f.org, f.newOU(""))
			return err
		}},
	})
}
