package guard_test

import (
	"context"
	"io"
	"testing"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/sqlstore/sqltest"
	"github.com/google/uuid"
)

func init() {
	rowSets = append(rowSets, []row{
		{op: "Imports.BeginImport", allowed: orgManagers, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			im, err := s.Imports.BeginImport(ctx, f.org, castellan.ImportOptions{})
			if err != nil {
				return err
			}
			// Allowed to import, the principal is allowed the item too.
			item := &castellan.ImportItem{Line: 1, Kind: castellan.ImportKindGroup, ID: uuid.Must(uuid.NewV7()).String(), Group: &castellan.GroupCreate{Name: f.unique("g")}}
			sent := false
			_, err = im.Run(ctx, func() (*castellan.ImportItem, error) {
				if sent {
					return nil, io.EOF
				}
				sent = true
				return item, nil
			}, func(*castellan.ImportProgress) error { return nil })
			if err == nil {
				err = item.Err
			}
			return err
		}},
	})
}

// TestImportAuthorizesEachBatch: an item is authorized when its batch is
// applied, not when it is read, so that a group given organization.owner
// while the stream is open takes no member from an administrator.
func TestImportAuthorizesEachBatch(t *testing.T) {
	t.Parallel()
	f, s, principals := newFixture(t, sqltest.SQLiteURL(t))
	ctx := castellan.WithPrincipal(system, principals[admin])
	group := f.newGroup()
	im, err := s.Imports.BeginImport(ctx, f.org, castellan.ImportOptions{BatchSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	items := []*castellan.ImportItem{
		{Line: 1, Kind: castellan.ImportKindMembership, Membership: &castellan.ImportMembership{GroupID: group, UserID: f.newUser()}},
		{Line: 2, Kind: castellan.ImportKindMembership, Membership: &castellan.ImportMembership{GroupID: group, UserID: f.newUser()}},
	}
	read := 0
	if _, err := im.Run(ctx, func() (*castellan.ImportItem, error) {
		if read == len(items) {
			return nil, io.EOF
		}
		if read == 1 {
			f.grant("organization.owner", "organization/"+f.org, castellan.Subject{Type: castellan.SubjectGroup, ID: group})
		}
		read++
		return items[read-1], nil
	}, func(*castellan.ImportProgress) error { return nil }); err != nil {
		t.Fatal(err)
	}
	for _, item := range items {
		wantEscalation(t, item.Err, "groupId")
	}
	if n := f.memberCount(group); n != 0 {
		t.Fatalf("the group has %d members, want none", n)
	}
}
