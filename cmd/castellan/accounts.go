package main

import (
	"fmt"
	"strconv"

	"github.com/castellan-iam/castellan"
)

// accountLimit defines --max-accounts-per-organization and returns a
// function reading it, after parsing, into sqlstore.Options.MaxAccounts.
func (f *flags) accountLimit() func() (int, error) {
	limit := f.str("max-accounts-per-organization", "CASTELLAN_MAX_ACCOUNTS_PER_ORGANIZATION", strconv.Itoa(castellan.DefaultMaxAccounts),
		"the most accounts an organization may hold")
	return func() (int, error) {
		n, err := strconv.Atoi(*limit)
		if err != nil || n < 1 {
			return 0, fmt.Errorf("--max-accounts-per-organization %q: want a positive number", *limit)
		}
		return n, nil
	}
}
