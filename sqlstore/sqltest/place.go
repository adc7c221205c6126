package sqltest

import (
	"context"
	"testing"
)

// PlaceProject puts a project of the store at rawURL under parentID (an
// OU or account of the same organization) straight in the nodes table,
// rewriting its materialized path. Tests of decisions inside accounts
// use it to build trees while the project API creates every project
// under the root; it checks nothing a move would.
func PlaceProject(tb testing.TB, rawURL, orgID, projectID, parentID string) {
	tb.Helper()
	db, rebind := openDirect(tb, rawURL)
	defer db.Close()
	ctx := context.Background()
	var parentPath string
	if err := db.QueryRowContext(ctx, rebind(`SELECT path FROM nodes WHERE org_id = ? AND id = ? AND kind IN ('ou', 'account')`),
		orgID, parentID).Scan(&parentPath); err != nil {
		tb.Fatalf("place project %s under %s: %v", projectID, parentID, err)
	}
	res, err := db.ExecContext(ctx, rebind(`UPDATE nodes SET parent_id = ?, path = ? WHERE org_id = ? AND id = ? AND kind = 'project'`),
		parentID, parentPath+projectID+"/", orgID, projectID)
	if err != nil {
		tb.Fatalf("place project %s under %s: %v", projectID, parentID, err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		tb.Fatalf("place project %s under %s: no such project", projectID, parentID)
	}
}
