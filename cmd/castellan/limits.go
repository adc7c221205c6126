package main

import (
	"fmt"
	"strconv"

	"github.com/castellan-iam/castellan"
)

// accountLimit defines --max-accounts-per-organization and returns a
// function reading it, after parsing, into sqlstore.Options.MaxAccounts.
func (f *flags) accountLimit() func() (int, error) {
	return f.organizationLimit("max-accounts-per-organization", "CASTELLAN_MAX_ACCOUNTS_PER_ORGANIZATION", castellan.DefaultMaxAccounts,
		"the most accounts an organization may hold")
}

// userLimit defines --max-users-per-organization and returns a function
// reading it, after parsing, into sqlstore.Options.MaxUsers. The default,
// 0, sets no limit: the customer users API lets an organization add any
// number of users.
func (f *flags) userLimit() func() (int, error) {
	return f.organizationLimit("max-users-per-organization", "CASTELLAN_MAX_USERS_PER_ORGANIZATION", 0,
		"the most users (not counting deleted ones) an organization may hold; 0 for no limit")
}

// organizationLimit defines a flag holding how many of something an
// organization may hold and returns a function parsing it. A default of
// 0 means the limit is optional: 0 is then allowed and sets none;
// otherwise the limit must be positive.
func (f *flags) organizationLimit(name, env string, def int, help string) func() (int, error) {
	limit := f.str(name, env, strconv.Itoa(def), help)
	least, want := 1, "a positive number"
	if def == 0 {
		least, want = 0, "a number, 0 for no limit"
	}
	return func() (int, error) {
		n, err := strconv.Atoi(*limit)
		if err != nil || n < least {
			return 0, fmt.Errorf("--%s %q: want %s", name, *limit, want)
		}
		return n, nil
	}
}
