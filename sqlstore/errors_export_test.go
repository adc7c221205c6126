package sqlstore

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
