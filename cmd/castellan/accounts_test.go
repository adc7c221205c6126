package main

import (
	"io"
	"strings"
	"testing"

	"github.com/castellan-iam/castellan"
)

// TestAccountLimitFlag reads the account limit from the flag and the
// environment and refuses a limit that is no positive number.
func TestAccountLimitFlag(t *testing.T) {
	parse := func(args []string, env map[string]string) (int, error) {
		f := newFlags("serve", io.Discard, func(k string) string { return env[k] })
		limit := f.accountLimit()
		if err := f.parse(args); err != nil {
			t.Fatal(err)
		}
		return limit()
	}
	if n, err := parse(nil, nil); err != nil || n != castellan.DefaultMaxAccounts {
		t.Fatalf("default: got %d, %v; want %d", n, err, castellan.DefaultMaxAccounts)
	}
	if n, err := parse(nil, map[string]string{"CASTELLAN_MAX_ACCOUNTS_PER_ORGANIZATION": "7"}); err != nil || n != 7 {
		t.Fatalf("environment: got %d, %v; want 7", n, err)
	}
	if n, err := parse([]string{"--max-accounts-per-organization", "3"}, map[string]string{"CASTELLAN_MAX_ACCOUNTS_PER_ORGANIZATION": "7"}); err != nil || n != 3 {
		t.Fatalf("flag over environment: got %d, %v; want 3", n, err)
	}
	for _, bad := range []string{"0", "-1", "many"} {
		if _, err := parse([]string{"--max-accounts-per-organization", bad}, nil); err == nil || !strings.Contains(err.Error(), "--max-accounts-per-organization") {
			t.Errorf("%q: got %v, want the flag named", bad, err)
		}
	}
}
