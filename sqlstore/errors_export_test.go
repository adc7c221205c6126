package sqlstore

import (
	"context"

	"github.com/castellan-iam/castellan"
)

// UniqueConflictIndex is one unique index whose violation the store
// translates to a conflict code (uniqueConflicts).
type UniqueConflictIndex struct {
	Table, Index string
	Columns      []string
	Code         string
}

// UniqueConflictIndexes returns the indexes of uniqueConflicts, so that a
// test can hold them against the migrated schemas.
func UniqueConflictIndexes() []UniqueConflictIndex {
	var out []UniqueConflictIndex
	for _, c := range uniqueConflicts {
		out = append(out, UniqueConflictIndex{Table: c.table, Index: c.index, Columns: c.columns, Code: c.code})
	}
	return out
}

// ReadImportNames reads, as a batch of an import does, the taken emails
// and login IDs of users.
func ReadImportNames(db *DB, orgID string, users []castellan.UserRegistration) (emails, logins map[string]bool, err error) {
	items := make([]*castellan.ImportItem, len(users))
	for i := range users {
		items[i] = &castellan.ImportItem{User: &users[i]}
	}
	ic := &itemContext{orgID: orgID}
	err = db.update(context.Background(), func(tx *Tx) error {
		ic.tx = tx
		return ic.readRegisteredNames(context.Background(), items)
	})
	return ic.takenEmails, ic.takenLogins, err
}
