package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"

	"github.com/castellan-iam/castellan"
)

// RegisterUser implements castellan.UserService.
func (s *UserService) RegisterUser(ctx context.Context, orgID string, reg castellan.UserRegistration) (*castellan.RegisteredUser, error) {
	users, err := s.register(ctx, orgID, []castellan.UserRegistration{reg}, castellan.NoPrefix)
	if err != nil {
		return nil, err
	}
	return users[0], nil
}

// RegisterUsers implements castellan.UserService.
func (s *UserService) RegisterUsers(ctx context.Context, orgID string, regs []castellan.UserRegistration) ([]*castellan.RegisteredUser, error) {
	if err := checkBatchSize("users", len(regs)); err != nil {
		return nil, err
	}
	return s.register(ctx, orgID, regs, func(i int) string { return fmt.Sprintf("users[%d].", i) })
}

// register validates, hashes the passwords and then, in one transaction,
// inserts the users, their invitations, mails (invitations, federated
// users' sign-in instructions) and audit events. prefix
// names item i's fields in errors ("" or "users[3].").
//
// Hashing comes first, outside the transaction and in parallel: argon2id
// takes tens of milliseconds per password, and the transaction holds the
// store's one write lock.
func (s *UserService) register(ctx context.Context, orgID string, regs []castellan.UserRegistration, prefix func(i int) string) ([]*castellan.RegisteredUser, error) {
	if err := castellan.ValidateRegistrations(regs, prefix); err != nil {
		return nil, err
	}
	if err := repeatedInBatch(regs, prefix); err != nil {
		return nil, err
	}
	hashes, generated, err := s.hashPasswords(ctx, regs)
	if err != nil {
		return nil, err
	}
	out := make([]*castellan.RegisteredUser, len(regs))
	err = s.db.update(ctx, func(tx *Tx) error {
		orgName, err := lockOrganizationName(ctx, tx, orgID)
		if err != nil {
			return err
		}
		users, changes, err := insertRegistrations(ctx, tx, orgID, orgName, regs, hashes, nil, prefix)
		if err != nil {
			return err
		}
		for i, u := range users {
			out[i] = &castellan.RegisteredUser{User: u, GeneratedPassword: generated[i]}
			if _, err := tx.record(ctx, changes[i]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// insertRegistrations inserts validated registrations with their
// password hashes in tx, which holds the organization's lock, with their
// invitations and mails, and returns the users and their changes. ids
// are the users' IDs (nil: new ones).
func insertRegistrations(ctx context.Context, tx *Tx, orgID, orgName string, regs []castellan.UserRegistration, hashes, ids []string,
	prefix func(i int) string) ([]*castellan.User, []change, error) {
	if err := alreadyRegistered(ctx, tx, orgID, regs, prefix); err != nil {
		return nil, nil, err
	}
	return insertCheckedRegistrations(ctx, tx, orgID, orgName, regs, hashes, ids, prefix)
}

// insertCheckedRegistrations is insertRegistrations once the caller has
// checked that no user has the registrations' emails and login IDs;
// prefix names item i's fields.
func insertCheckedRegistrations(ctx context.Context, tx *Tx, orgID, orgName string, regs []castellan.UserRegistration, hashes, ids []string,
	prefix func(i int) string) ([]*castellan.User, []change, error) {
	if err := checkFederations(ctx, tx, orgID, regs, prefix); err != nil {
		return nil, nil, err
	}
	if err := checkUserLimit(ctx, tx, orgID, len(regs)); err != nil {
		return nil, nil, err
	}
	rows := make([]userRow, len(regs))
	users := make([]*castellan.User, len(regs))
	var invited, federated []*castellan.User
	for i, reg := range regs {
		u := newUser(tx, orgID, reg)
		if ids != nil {
			u.ID = ids[i]
		}
		u.Status = statusOnRegistration(reg)
		switch {
		case u.Status == castellan.UserPendingInvitation:
			invited = append(invited, u)
		case u.AccountType == castellan.AccountFederated && u.Status == castellan.UserActive:
			federated = append(federated, u)
		}
		rows[i] = userRow{user: u, passwordHash: hashes[i]}
		users[i] = u
	}
	if err := insertUsers(ctx, tx, rows); err != nil {
		if isUniqueViolation(err) { // alreadyRegistered saw them all; only a race gets here
			return nil, nil, castellan.Errorf(castellan.ECONFLICT, castellan.CodeUserEmailTaken, "a user with one of these emails or login IDs already exists in this organization")
		}
		return nil, nil, err
	}
	invitations, err := invite(ctx, tx, orgName, invited, castellan.MailInvitation)
	if err != nil {
		return nil, nil, err
	}
	if err := welcomeFederated(ctx, tx, orgName, federated); err != nil {
		return nil, nil, err
	}
	changes := make([]change, len(regs))
	for i, reg := range regs {
		changes[i] = userCreated(users[i], reg.Mode)
		if id, ok := invitations[users[i].ID]; ok {
			changes[i].also = []changedEntity{{"invitation", id, "create"}}
		}
	}
	return users, changes, nil
}

// welcomeFederated enqueues, in tx, the mail that tells each federated
// user how to sign in: the console's sign-in page (the sender builds
// the link) and its federation's ID. Federated users always have an
// email (UserRegistration.Validate); the caller leaves out those
// registered disabled, who could not sign in.
func welcomeFederated(ctx context.Context, tx *Tx, orgName string, users []*castellan.User) error {
	for _, u := range users {
		_, err := tx.enqueueMail(ctx, u.OrganizationID, u.Email, castellan.MailFederatedWelcome, map[string]string{
			"name": u.Name, "email": u.Email, "loginId": u.LoginID, "organizationName": orgName, "federationId": u.FederationID,
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// statusOnRegistration is where a new user starts: invited users wait for
// their first password; the others are active unless registered disabled.
func statusOnRegistration(reg castellan.UserRegistration) string {
	switch {
	case reg.AccountType != castellan.AccountFederated && reg.Mode == castellan.ModeInvitation:
		return castellan.UserPendingInvitation
	case reg.Disabled:
		return castellan.UserDisabled
	}
	return castellan.UserActive
}

// lockOrganizationName is lockOrganization returning the name, which mails
// quote.
func lockOrganizationName(ctx context.Context, tx *Tx, orgID string) (string, error) {
	var name string
	err := tx.queryRow(ctx, `SELECT name FROM organizations WHERE id = ?`+tx.db.dialect.lockKey, orgID).Scan(&name)
	if isNoRows(err) {
		return "", notFound(castellan.CodeOrgNotFound, "organization", orgID)
	}
	return name, err
}

// checkUserLimit refuses adding users to the organization when its
// users that are not deleted would then pass db.maxUsers (0: no limit),
// in tx. EPRECONDITION (user.limit_reached).
//
// It takes the organization's row exclusively first (lockExclusive), so
// that the additions of concurrent transactions are counted one after the
// other, each seeing the users the earlier ones committed; without a
// limit it takes no lock.
func checkUserLimit(ctx context.Context, tx *Tx, orgID string, adding int) error {
	if tx.db.maxUsers == 0 {
		return nil
	}
	var id string
	err := tx.queryRow(ctx, `SELECT id FROM organizations WHERE id = ?`+tx.db.dialect.lockExclusive, orgID).Scan(&id)
	if isNoRows(err) {
		return notFound(castellan.CodeOrgNotFound, "organization", orgID)
	}
	if err != nil {
		return err
	}
	var count int
	if err := tx.queryRow(ctx, `SELECT COUNT(*) FROM users WHERE org_id = ? AND status <> 'deleted'`, orgID).Scan(&count); err != nil {
		return err
	}
	if count+adding > tx.db.maxUsers {
		return castellan.Errorf(castellan.EPRECONDITION, castellan.CodeUserLimitReached,
			"the organization holds %d users and may hold at most %d: %d more would pass the limit", count, tx.db.maxUsers, adding)
	}
	return nil
}

// repeatedInBatch refuses a batch that names an email or login ID twice
// (case-insensitively), naming the later item.
func repeatedInBatch(regs []castellan.UserRegistration, prefix func(i int) string) error {
	emails, logins := map[string]int{}, map[string]int{}
	for i, reg := range regs {
		email, login := strings.ToLower(reg.Email), strings.ToLower(reg.LoginID)
		if j, ok := emails[email]; ok && email != "" {
			return itemError(castellan.ECONFLICT, castellan.CodeUserEmailTaken, prefix(i)+"email", "unique",
				"%q repeats the email of %s", reg.Email, strings.TrimSuffix(prefix(j), "."))
		}
		if j, ok := logins[login]; ok {
			return itemError(castellan.ECONFLICT, castellan.CodeUserLoginIDTaken, prefix(i)+"loginId", "unique",
				"%q repeats the login ID of %s", reg.LoginID, strings.TrimSuffix(prefix(j), "."))
		}
		emails[email], logins[login] = i, i
	}
	return nil
}

// alreadyRegistered refuses registrations whose email or login ID a user
// of the organization that is not deleted has, naming the first such
// item. An empty email (a user without one) matches nobody.
func alreadyRegistered(ctx context.Context, tx *Tx, orgID string, regs []castellan.UserRegistration, prefix func(i int) string) error {
	emails, logins := make([]string, len(regs)), make([]string, len(regs))
	for i, reg := range regs {
		emails[i], logins[i] = strings.ToLower(reg.Email), strings.ToLower(reg.LoginID)
	}
	takenEmails, takenLogins, err := registeredNames(ctx, tx, orgID, emails, logins)
	if err != nil || len(takenEmails)+len(takenLogins) == 0 {
		return err
	}
	for i, reg := range regs {
		if takenEmails[emails[i]] {
			return itemError(castellan.ECONFLICT, castellan.CodeUserEmailTaken, prefix(i)+"email", "unique",
				"a user with email %q already exists in this organization", reg.Email)
		}
		if takenLogins[logins[i]] {
			return itemError(castellan.ECONFLICT, castellan.CodeUserLoginIDTaken, prefix(i)+"loginId", "unique",
				"a user with login ID %q already exists in this organization", reg.LoginID)
		}
	}
	return nil
}

// registeredNames returns which of the lower-case emails and login IDs
// users of the organization that are not deleted have.
func registeredNames(ctx context.Context, tx *Tx, orgID string, emails, logins []string) (takenEmails, takenLogins map[string]bool, err error) {
	// Two queries, each on its own unique index: with the two conditions
	// joined by OR in one, SQLite (without statistics) walked every user
	// of the organization. The empty string stays in the lists (an IN
	// list may not be empty); email_lower <> '' keeps it from matching,
	// and lets SQLite use the partial unique index, whose condition it
	// repeats.
	read := func(column, also string, values []string) (map[string]bool, error) {
		in, args := inList(values)
		rows, err := tx.query(ctx, `SELECT `+column+` FROM users WHERE org_id = ? AND `+column+` IN `+in+also+` AND status <> 'deleted'`,
			append([]any{orgID}, args...)...)
		if err != nil {
			return nil, err
		}
		names, err := collect(rows, scanString)
		taken := make(map[string]bool, len(names))
		for _, n := range names {
			taken[n] = true
		}
		return taken, err
	}
	if takenEmails, err = read("email_lower", " AND email_lower <> ''", emails); err != nil {
		return nil, nil, err
	}
	takenLogins, err = read("login_id_lower", "", logins)
	return takenEmails, takenLogins, err
}

// hashPasswords returns the hash of each registration's password ("" for
// none) and the passwords it generated, hashing on up to GOMAXPROCS
// goroutines: argon2id is CPU- and memory-bound (19 MiB each), so more
// would only queue.
func (s *UserService) hashPasswords(ctx context.Context, regs []castellan.UserRegistration) (hashes, generated []string, err error) {
	hashes, generated = make([]string, len(regs)), make([]string, len(regs))
	passwords := make([]string, len(regs))
	n := 0
	for i, reg := range regs {
		if reg.Mode != castellan.ModePassword || reg.AccountType == castellan.AccountFederated {
			continue
		}
		passwords[i] = reg.Password
		if reg.GeneratePassword {
			generated[i] = castellan.GeneratePassword(reg.LoginID)
			passwords[i] = generated[i]
		}
		n++
	}
	if n == 0 {
		return hashes, generated, nil
	}
	if s.db.passwords == nil {
		return nil, nil, errors.New("register users: the store was opened without a password hasher (Options.Passwords)")
	}
	errs := make([]error, len(regs))
	work := make(chan int)
	var wg sync.WaitGroup
	for range min(n, runtime.GOMAXPROCS(0)) {
		wg.Go(func() {
			for i := range work {
				hashes[i], errs[i] = s.db.passwords.Hash(passwords[i])
			}
		})
	}
	for i := range passwords {
		if passwords[i] == "" {
			continue
		}
		select {
		case work <- i:
		case <-ctx.Done():
			close(work)
			wg.Wait()
			return nil, nil, ctx.Err()
		}
	}
	close(work)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, nil, fmt.Errorf("hash passwords: %w", err)
	}
	return hashes, generated, nil
}
