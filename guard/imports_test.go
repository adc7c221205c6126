package guard_test

import (
	"context"
	"io"

	"github.com/castellan-iam/castellan"
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
