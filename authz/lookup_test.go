package authz_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/castellan-iam/castellan/authz"
)

// TestLookupPage pages through more candidates than a page may decide,
// every seventh allowed, at several sizes: every page holds at most its
// size, pages that reach the bound of decisions end short with a next
// key, and together they list every allowed candidate once, in order.
func TestLookupPage(t *testing.T) {
	t.Parallel()
	n := 3*authz.MaxLookupDecisions + 5
	candidates := make([]string, n)
	var want []string
	for i := range candidates {
		candidates[i] = fmt.Sprintf("c%06d", i)
		if i%7 == 3 {
			want = append(want, candidates[i])
		}
	}
	decide := func(decided *int) func(string) (string, bool, error) {
		return func(c string) (string, bool, error) {
			*decided++
			var i int
			fmt.Sscanf(c, "c%d", &i)
			return c, i%7 == 3, nil
		}
	}
	for _, size := range []int{1, 2, 50, 285, 1000} {
		var got []string
		after, short := "", 0
		for pages := 0; ; pages++ {
			decided := 0
			page, next, err := authz.LookupPage(candidates, func(s string) string { return s }, after, size, decide(&decided))
			if err != nil {
				t.Fatal(err)
			}
			if len(page) > size || decided > authz.MaxLookupDecisions {
				t.Fatalf("size %d: a page of %d after %d decisions", size, len(page), decided)
			}
			if len(page) < size && next != "" {
				short++
			}
			got = append(got, page...)
			if next == "" {
				break
			}
			if pages > n {
				t.Fatalf("size %d: no end", size)
			}
			after = next
		}
		if !slices.Equal(got, want) {
			t.Fatalf("size %d: got %d results, want %d", size, len(got), len(want))
		}
		if size == 1000 && short == 0 {
			t.Fatalf("size %d: no page reached the bound of decisions", size)
		}
	}
	// A decision's error ends the page.
	boom := errors.New("boom")
	if _, _, err := authz.LookupPage(candidates, func(s string) string { return s }, "", 10, func(string) (string, bool, error) { return "", false, boom }); !errors.Is(err, boom) {
		t.Fatalf("got %v, want the decision's error", err)
	}
}
