package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/castellan-iam/castellan"
)

// UserService implements castellan.UserService.
type UserService struct {
	db *DB
	// selectSQL reads users (alias u) with their counts, in the dialect.
	selectSQL string
	// columnsSQL is the user columns of alias u as scanUser reads them,
	// before the counts.
	columnsSQL string
}

var _ castellan.UserService = (*UserService)(nil)

// Users returns the user service of db.
func (db *DB) Users() *UserService {
	columns := userColumns(db.dialect, "u", true)
	return &UserService{db: db, columnsSQL: columns, selectSQL: `SELECT ` + columns + `, ` + userCounts("u") + ` FROM users u`}
}

// userColumnNames are the columns scanUser reads, before the counts.
var userColumnNames = []string{"id", "org_id", "login_id", "email", "name", "nickname", "first_name", "middle_name", "last_name",
	"contact_email", "mobile", "memo", "status", "account_type", "federation_id",
	"console_access", "api_access", "mfa_mandatory", "password_reset_required",
	"use_console_permit_ip", "console_permit_ips", "use_api_allow_source", "api_allow_sources",
	"last_login_at", "deleted_at", "created_at", "created_by", "updated_at", "updated_by", "revision"}

// userColumns lists userColumnNames of alias; with cast, the JSON columns
// are read as text, as scanUser wants them.
func userColumns(d dialect, alias string, cast bool) string {
	cols := make([]string, len(userColumnNames))
	for i, name := range userColumnNames {
		cols[i] = alias + "." + name
		if cast && (name == "console_permit_ips" || name == "api_allow_sources") {
			cols[i] = d.jsonText(cols[i]) + " AS " + name
		}
	}
	return strings.Join(cols, ", ")
}

// userCounts are the two counts of the user list for the users of alias:
// roles granted directly on the organization and groups, both index
// lookups (grants by subject, memberships by user).
func userCounts(alias string) string {
	return strings.NewReplacer("u.", alias+".").Replace(`(SELECT COUNT(*) FROM grants g WHERE g.org_id = u.org_id AND g.subject_type = 'user' AND g.subject_id = u.id
		AND g.scope = 'organization/' || u.org_id),
	(SELECT COUNT(*) FROM group_members m WHERE m.org_id = u.org_id AND m.user_id = u.id)`)
}

func scanUser(row scanner) (*castellan.User, error) {
	var (
		u                    castellan.User
		permitIPs, sources   string
		lastLogin, deletedAt sql.NullTime
	)
	err := row.Scan(&u.ID, &u.OrganizationID, &u.LoginID, &u.Email, &u.Name, &u.Nickname, &u.FirstName, &u.MiddleName, &u.LastName,
		&u.ContactEmail, &u.Mobile, &u.Memo, &u.Status, &u.AccountType, &u.FederationID,
		&u.ConsoleAccess, &u.APIAccess, &u.MFAMandatory, &u.PasswordResetRequired,
		&u.UseConsolePermitIP, &permitIPs, &u.UseAPIAllowSource, &sources,
		&lastLogin, &deletedAt, &u.CreatedAt, &u.CreatedBy, &u.UpdatedAt, &u.UpdatedBy, &u.Revision,
		&u.OrganizationRoleCount, &u.GroupCount)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(permitIPs), &u.ConsolePermitIPs); err != nil {
		return nil, fmt.Errorf("user %s: console_permit_ips: %w", u.ID, err)
	}
	if err := json.Unmarshal([]byte(sources), &u.APIAllowSources); err != nil {
		return nil, fmt.Errorf("user %s: api_allow_sources: %w", u.ID, err)
	}
	u.ConsolePermitIPs, u.APIAllowSources = nonNilSlice(u.ConsolePermitIPs), nonNilSlice(u.APIAllowSources)
	u.CreatedAt, u.UpdatedAt = u.CreatedAt.UTC(), u.UpdatedAt.UTC()
	u.RegisteredAt = u.CreatedAt
	u.LastLoginAt, u.DeletedAt = utcPtr(lastLogin), utcPtr(deletedAt)
	u.Deleted = u.Status == castellan.UserDeleted
	return &u, nil
}

func nonNilSlice[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func utcPtr(t sql.NullTime) *time.Time {
	if !t.Valid {
		return nil
	}
	v := t.Time.UTC()
	return &v
}

// FindUserByID implements castellan.UserService.
func (s *UserService) FindUserByID(ctx context.Context, orgID, id string, includeDeleted bool) (*castellan.User, error) {
	q := s.selectSQL + ` WHERE u.org_id = ? AND u.id = ?`
	if !includeDeleted {
		q += ` AND u.status <> 'deleted'`
	}
	u, err := scanUser(s.db.queryRow(ctx, q, orgID, id))
	if isNoRows(err) {
		return nil, notFound(castellan.CodeUserNotFound, "user", id)
	}
	return u, err
}

// findUser reads a user of the organization that is not deleted inside tx
// and locks its row with lock (a dialect lock clause).
func (s *UserService) findUser(ctx context.Context, tx *Tx, orgID, id, lock string) (*castellan.User, error) {
	// The counts are subqueries, which FOR UPDATE does not allow on
	// PostgreSQL: lock the row first, then read it.
	var one int
	err := tx.queryRow(ctx, `SELECT 1 FROM users WHERE org_id = ? AND id = ? AND status <> 'deleted'`+lock, orgID, id).Scan(&one)
	if isNoRows(err) {
		return nil, notFound(castellan.CodeUserNotFound, "user", id)
	}
	if err != nil {
		return nil, err
	}
	return scanUser(tx.queryRow(ctx, s.selectSQL+` WHERE u.org_id = ? AND u.id = ?`, orgID, id))
}

// CreateUser implements castellan.UserService.
func (s *UserService) CreateUser(ctx context.Context, orgID string, uc castellan.UserCreate) (*castellan.User, error) {
	if err := uc.Validate(); err != nil {
		return nil, err
	}
	var u *castellan.User
	err := s.db.update(ctx, func(tx *Tx) error {
		if err := lockOrganization(ctx, tx, orgID); err != nil {
			return err
		}
		if err := checkUserLimit(ctx, tx, orgID, 1); err != nil {
			return err
		}
		u = newUser(tx, orgID, castellan.UserRegistration{LoginID: uc.Email, Email: uc.Email, ConsoleAccess: true, APIAccess: true})
		u.Status = castellan.UserActive
		err := insertUsers(ctx, tx, []userRow{{user: u}})
		if isUniqueViolation(err) {
			return castellan.Errorf(castellan.ECONFLICT, castellan.CodeUserEmailTaken, "a user with email %q already exists in this organization", uc.Email)
		}
		if err != nil {
			return err
		}
		_, err = tx.record(ctx, userCreated(u, ""))
		return err
	})
	if err != nil {
		return nil, err
	}
	return u, nil
}

// userRow is a user to insert with its password hash ("" for none).
type userRow struct {
	user         *castellan.User
	passwordHash string
}

// userInsert lists the columns insertUsers writes, in the order of
// userValues.
const userInsert = `INSERT INTO users (id, org_id, login_id, email, status, created_at, created_by, updated_at, updated_by, revision,
	name, nickname, first_name, middle_name, last_name, contact_email, mobile, memo, account_type, federation_id,
	console_access, api_access, mfa_mandatory, password_reset_required, use_console_permit_ip, console_permit_ips,
	use_api_allow_source, api_allow_sources, password_hash, password_changed_at, login_id_lower, email_lower, name_lower) VALUES `

func userValues(r userRow) []any {
	u := r.user
	permitIPs, _ := json.Marshal(nonNilSlice(u.ConsolePermitIPs)) // strings always marshal
	sources, _ := json.Marshal(nonNilSlice(u.APIAllowSources))
	var hash, changedAt any
	if r.passwordHash != "" {
		hash, changedAt = r.passwordHash, u.CreatedAt
	}
	return []any{u.ID, u.OrganizationID, u.LoginID, u.Email, u.Status, u.CreatedAt, u.CreatedBy, u.UpdatedAt, u.UpdatedBy, u.Revision,
		u.Name, u.Nickname, u.FirstName, u.MiddleName, u.LastName, u.ContactEmail, u.Mobile, u.Memo, u.AccountType, u.FederationID,
		u.ConsoleAccess, u.APIAccess, u.MFAMandatory, u.PasswordResetRequired, u.UseConsolePermitIP, string(permitIPs),
		u.UseAPIAllowSource, string(sources), hash, changedAt,
		strings.ToLower(u.LoginID), strings.ToLower(u.Email), strings.ToLower(u.Name)}
}

// insertUsers writes users, many per statement.
func insertUsers(ctx context.Context, tx *Tx, rows []userRow) error {
	values := make([][]any, len(rows))
	for i, r := range rows {
		values[i] = userValues(r)
	}
	if err := tx.insertRows(ctx, userInsert, values); err != nil {
		if isUniqueViolation(err) {
			return err
		}
		return fmt.Errorf("insert users: %w", err)
	}
	return nil
}

// newUser returns the user reg describes, stamped by tx; the caller sets
// the status.
func newUser(tx *Tx, orgID string, reg castellan.UserRegistration) *castellan.User {
	accountType := reg.AccountType
	if accountType == "" {
		accountType = castellan.AccountLocal
	}
	return &castellan.User{
		ID: newID(), OrganizationID: orgID, LoginID: reg.LoginID, Email: reg.Email, Name: reg.Name, Nickname: reg.Nickname,
		FirstName: reg.FirstName, MiddleName: reg.MiddleName, LastName: reg.LastName, ContactEmail: reg.ContactEmail,
		Mobile: reg.Mobile, Memo: reg.Memo, AccountType: accountType, FederationID: reg.FederationID,
		ConsoleAccess: reg.ConsoleAccess, APIAccess: reg.APIAccess, MFAMandatory: reg.MFAMandatory,
		PasswordResetRequired: reg.PasswordResetRequired,
		UseConsolePermitIP:    reg.UseConsolePermitIP, ConsolePermitIPs: nonNilSlice(reg.ConsolePermitIPs),
		UseAPIAllowSource: reg.UseAPIAllowSource, APIAllowSources: nonNilSlice(reg.APIAllowSources),
		RegisteredAt: tx.now, CreatedAt: tx.now, CreatedBy: tx.actorID(), UpdatedAt: tx.now, UpdatedBy: tx.actorID(),
		Revision: tx.revision,
	}
}

// userCreated is the audit event and change-log row of a new user; never
// its password.
func userCreated(u *castellan.User, mode castellan.RegistrationMode) change {
	summary := map[string]any{"loginId": u.LoginID, "email": u.Email, "name": u.Name, "status": u.Status, "accountType": u.AccountType}
	if mode != "" {
		summary["mode"] = mode
	}
	return change{
		orgID: u.OrganizationID, action: castellan.ActionCreateUser,
		entityType: "user", entityID: u.ID, entityName: u.LoginID, operation: "create", summary: summary,
	}
}

// registeredUserIDs returns which of ids are users of the organization
// that are not deleted (active, invited or disabled), locked against
// deletion until tx ends.
func registeredUserIDs(ctx context.Context, tx *Tx, orgID string, ids []string) (map[string]bool, error) {
	in, args := inList(ids)
	rows, err := tx.query(ctx, `SELECT id FROM users WHERE `+tx.db.dialect.byKey("org_id")+` = ? AND status <> 'deleted' AND id IN `+in+tx.db.dialect.lockKey,
		append([]any{orgID}, args...)...)
	if err != nil {
		return nil, err
	}
	found, err := collect(rows, scanString)
	if err != nil {
		return nil, err
	}
	set := make(map[string]bool, len(found))
	for _, id := range found {
		set[id] = true
	}
	return set, nil
}

func scanString(row scanner) (string, error) {
	var s string
	err := row.Scan(&s)
	return s, err
}
