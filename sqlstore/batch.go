package sqlstore

import (
	"context"
	"fmt"
	"iter"
	"strings"

	"github.com/castellan-iam/castellan"
)

// checkBatchSize enforces the size of a batch of n items named by field
// ("userIds"): at least one, at most castellan.MaxBatchItems.
func checkBatchSize(field string, n int) error {
	switch {
	case n == 0:
		return castellan.Invalid([]castellan.FieldError{{Field: field, Rule: "minItems", Message: "must list at least one item"}})
	case n > castellan.MaxBatchItems:
		return castellan.TooManyItems(field, n, castellan.MaxBatchItems)
	}
	return nil
}

// itemError is the error of one item of a batch: field names the item
// ("userIds[3]", "grants[2].roleId"), so that the caller knows
// which one to fix; the batch as a whole was not applied.
func itemError(kind castellan.Kind, code, field, rule, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	return &castellan.Error{
		Kind: kind, Code: code, Message: field + ": " + msg,
		Fields: []castellan.FieldError{{Field: field, Rule: rule, Message: msg}},
	}
}

// itemField returns the field of item i of the list field, with an optional
// member: itemField("grants", 2, ".roleId") is "grants[2].roleId".
func itemField(list string, i int, member string) string {
	return fmt.Sprintf("%s[%d]%s", list, i, member)
}

// unique returns ids without repeats, in first-seen order.
func unique(ids []string) []string {
	seen := make(map[string]bool, len(ids))
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

// insertRows runs insert ("INSERT INTO t (a, b) VALUES ") for rows, many
// rows per statement; every row has as many values as the first.
func (tx *Tx) insertRows(ctx context.Context, insert string, rows [][]any) error {
	for q, args := range rowChunks(insert, "", rows) {
		if _, err := tx.exec(ctx, q, args...); err != nil {
			return err
		}
	}
	return nil
}

// insertRowsReturning is insertRows with tail (an ON CONFLICT clause and
// a RETURNING clause of one text column) after each statement. It
// returns the values the statements returned.
func (tx *Tx) insertRowsReturning(ctx context.Context, insert, tail string, rows [][]any) ([]string, error) {
	out := make([]string, 0, len(rows))
	for q, args := range rowChunks(insert, tail, rows) {
		returned, err := tx.query(ctx, q, args...)
		if err != nil {
			return nil, err
		}
		got, err := collect(returned, scanString)
		if err != nil {
			return nil, err
		}
		out = append(out, got...)
	}
	return out, nil
}

// rowChunks yields the statements and arguments that insert rows, as many
// rows per statement as stay far below either backend's parameter limit.
func rowChunks(insert, tail string, rows [][]any) iter.Seq2[string, []any] {
	return func(yield func(string, []any) bool) {
		if len(rows) == 0 {
			return
		}
		tuple := "(" + strings.TrimSuffix(strings.Repeat("?, ", len(rows[0])), ", ") + ")"
		per := max(1, 1000/len(rows[0]))
		for len(rows) > 0 {
			n := min(len(rows), per)
			args := make([]any, 0, n*len(rows[0]))
			for _, r := range rows[:n] {
				args = append(args, r...)
			}
			if !yield(insert+strings.TrimSuffix(strings.Repeat(tuple+", ", n), ", ")+tail, args) {
				return
			}
			rows = rows[n:]
		}
	}
}

// inList returns "(?, ?, …)" for n values and the values as arguments, for
// an IN condition.
func inList(values []string) (string, []any) {
	args := make([]any, len(values))
	for i, v := range values {
		args[i] = v
	}
	return "(" + strings.TrimSuffix(strings.Repeat("?, ", len(values)), ", ") + ")", args
}
