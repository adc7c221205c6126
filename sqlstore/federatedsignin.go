package sqlstore

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/castellan-iam/castellan"
)

// The single sign-on side of SessionService: finding the federation a
// sign-in names, and the user a verified ID token names.

// FindSignInFederation implements castellan.SessionService.
func (s *SessionService) FindSignInFederation(ctx context.Context, ref string) (*castellan.FederationClient, error) {
	ref = strings.TrimSpace(ref)
	var where string
	var arg any
	domain := ""
	switch at := strings.LastIndexByte(ref, '@'); {
	case castellan.ValidID(ref):
		where, arg = `id = ?`, ref
	case at > 0 && len(castellan.ValidateEmail("email", ref)) == 0:
		// Lists are JSON arrays of strings: a domain (letters, digits,
		// dots and hyphens) appears quoted; AllowsEmail decides.
		domain = strings.ToLower(ref[at+1:])
		where, arg = `allowed_domains LIKE ?`, `%"`+domain+`"%`
	default:
		return nil, notFound(castellan.CodeFederationNotFound, "federation", ref)
	}
	rows, err := s.db.query(ctx, `SELECT `+federationColumns+`, secret_sealed, secret_kek_id FROM federations WHERE `+where+` LIMIT 3`, arg)
	if err != nil {
		return nil, err
	}
	var found []*castellan.FederationClient
	defer rows.Close()
	for rows.Next() {
		fc, err := s.scanFederationClient(rows)
		if err != nil {
			return nil, err
		}
		if domain == "" || fc.Federation.AllowsEmail(ref) {
			found = append(found, fc)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	// A domain two federations allow picks neither: the user gives the
	// federation ID.
	if len(found) != 1 {
		return nil, notFound(castellan.CodeFederationNotFound, "federation", ref)
	}
	return found[0], nil
}

// scanFederationClient reads a federation with its sealed secret, and
// opens the secret.
func (s *SessionService) scanFederationClient(row scanner) (*castellan.FederationClient, error) {
	var sealed sealedSecret
	f, err := scanFederation(row, &sealed.sealed, &sealed.kekID)
	if err != nil {
		return nil, err
	}
	fc := &castellan.FederationClient{Federation: f}
	if sealed.sealed == nil || !sealed.kekID.Valid {
		return fc, nil
	}
	if s.db.sealer == nil {
		return nil, fmt.Errorf("open the client secret of federation %s: no key-encryption key (serve --secret-key-file)", f.ID)
	}
	secret, err := s.db.sealer.Open(sealed.kekID.String, sealed.sealed, []byte(f.ID))
	if err != nil {
		return nil, fmt.Errorf("open the client secret of federation %s (key-encryption key %s): %w", f.ID, sealed.kekID.String, err)
	}
	fc.ClientSecret = string(secret)
	return fc, nil
}

// signInFederation reads a federation by ID alone: a sign-in knows no
// organization before it.
func (s *SessionService) signInFederation(ctx context.Context, id string) (*castellan.Federation, error) {
	if !castellan.ValidID(id) {
		return nil, notFound(castellan.CodeFederationNotFound, "federation", id)
	}
	f, err := scanFederation(s.db.queryRow(ctx, `SELECT `+federationColumns+` FROM federations WHERE id = ?`, id))
	if isNoRows(err) {
		return nil, notFound(castellan.CodeFederationNotFound, "federation", id)
	}
	return f, err
}

// RefuseFederatedSignIn implements castellan.SessionService.
func (s *SessionService) RefuseFederatedSignIn(ctx context.Context, federationID, reason, detail string) error {
	f, err := s.signInFederation(ctx, federationID)
	if err != nil {
		return err
	}
	err = s.db.update(ctx, func(tx *Tx) error {
		_, err := recordFailureWith(ctx, tx, f.OrganizationID, "", "", reason, castellan.DefaultSignInPolicy, "",
			map[string]any{"federationId": f.ID, "detail": cleanText(detail, 500)})
		return err
	})
	if err != nil {
		return err
	}
	return errSignInFailed
}

// SignInFederated implements castellan.SessionService. Sign-ins of one
// federation are serialized on its row while they look their user up,
// so that two first sign-ins of one subject bind or create one user.
func (s *SessionService) SignInFederated(ctx context.Context, id castellan.FederatedIdentity) (*castellan.User, error) {
	f, err := s.signInFederation(ctx, id.FederationID)
	if err != nil {
		return nil, errSignInFailed // no organization to audit in
	}
	orgID := f.OrganizationID
	login := cmp.Or(id.Email, id.Subject)
	var userID, reason string
	err = s.db.update(ctx, func(tx *Tx) error {
		f, err := findFederation(ctx, tx.queryRow, orgID, f.ID, tx.db.dialect.lockExclusive)
		if err != nil {
			return err
		}
		if userID, reason, err = federatedUser(ctx, tx, f, id); err != nil || reason != "" {
			return err
		}
		u, err := s.db.Users().findUser(ctx, tx, orgID, userID, "")
		if err != nil {
			return err
		}
		login = u.LoginID
		switch {
		case !f.AllowsEmail(u.Email):
			reason = castellan.SSODomainNotAllow
		case u.Status != castellan.UserActive:
			reason = failInactive
		case !u.ConsoleAccess:
			reason = failNoConsole
		case !u.ConsoleIPAllowed(tx.info.SourceIP):
			reason = failIPNotAllowed
		}
		return nil
	})
	if err == nil && reason != "" {
		err = s.db.update(ctx, func(tx *Tx) error {
			_, err := recordFailureWith(ctx, tx, orgID, userID, login, reason, id.Policy, "", map[string]any{"federationId": f.ID})
			return err
		})
		if err == nil {
			err = errSignInFailed
		}
	}
	if err != nil {
		return nil, err
	}
	if err := s.syncMappedGroups(ctx, f, userID, id.Groups); err != nil {
		return nil, err
	}
	return s.db.Users().FindUserByID(ctx, orgID, userID, false)
}

// federatedUser finds, binds or creates the user of a verified identity
// in tx, which holds the federation's row; reason says why there is none.
func federatedUser(ctx context.Context, tx *Tx, f *castellan.Federation, id castellan.FederatedIdentity) (userID, reason string, err error) {
	err = tx.queryRow(ctx, `SELECT id FROM users WHERE org_id = ? AND federation_id = ? AND federation_subject = ? AND status <> 'deleted'`,
		f.OrganizationID, f.ID, id.Subject).Scan(&userID)
	if err == nil || !isNoRows(err) {
		return userID, "", err
	}
	switch {
	case id.Email == "":
		return "", castellan.SSONoEmail, nil
	case !id.EmailVerified:
		return "", castellan.SSOEmailUnverified, nil
	case !f.AllowsEmail(id.Email):
		return "", castellan.SSODomainNotAllow, nil
	}
	// Added by email and not yet bound: the subject binds it.
	var loginID string
	err = tx.queryRow(ctx, `SELECT id, login_id FROM users WHERE org_id = ? AND federation_id = ? AND federation_subject = '' AND email_lower = ?
		AND status <> 'deleted'`, f.OrganizationID, f.ID, strings.ToLower(id.Email)).Scan(&userID, &loginID)
	switch {
	case err == nil:
		if _, err := tx.exec(ctx, `UPDATE users SET federation_subject = ?, updated_at = ?, updated_by = ?, revision = ? WHERE org_id = ? AND id = ?`,
			id.Subject, tx.now, userID, tx.revision, f.OrganizationID, userID); err != nil {
			return "", "", fmt.Errorf("bind federated user: %w", err)
		}
		_, err = tx.record(ctx, change{
			orgID: f.OrganizationID, action: castellan.ActionSignIn,
			entityType: "user", entityID: userID, entityName: loginID, operation: "update",
			summary: map[string]any{"outcome": "bound", "federationId": f.ID, "federationSubject": id.Subject},
		})
		return userID, "", err
	case !isNoRows(err):
		return "", "", err
	case !f.AutoProvision:
		return "", castellan.SSOUserNotAdded, nil
	}
	// A subject whose user was deleted (by an administrator or SCIM)
	// does not come back by signing in: it must be added again.
	// A user deleted before its first sign-in has no subject: its
	// tombstone keeps its login ID, which provisioning makes the email.
	var deleted int
	if err := tx.queryRow(ctx, `SELECT COUNT(*) FROM users WHERE org_id = ? AND federation_id = ? AND status = 'deleted'
		AND (federation_subject = ? OR login_id_lower = ?)`, f.OrganizationID, f.ID, id.Subject, strings.ToLower(id.Email)).Scan(&deleted); err != nil {
		return "", "", fmt.Errorf("find deleted federated user: %w", err)
	}
	if deleted > 0 {
		return "", castellan.SSOUserDeleted, nil
	}
	return provisionFederatedUser(ctx, tx, f, id)
}

// provisionFederatedUser creates the user of an identity at its first
// sign-in: its email is its login ID. A local user with the email or
// login ID refuses it (sso_email_taken): the provider does not vouch
// for local accounts.
func provisionFederatedUser(ctx context.Context, tx *Tx, f *castellan.Federation, id castellan.FederatedIdentity) (string, string, error) {
	reg := castellan.UserRegistration{
		LoginID: id.Email, Email: id.Email, Name: id.Name, AccountType: castellan.AccountFederated, FederationID: f.ID,
		ConsoleAccess: true, APIAccess: true,
	}
	if len(castellan.ValidateLoginID("loginId", reg.LoginID)) > 0 {
		return "", castellan.SSOEmailTaken, nil
	}
	if len(castellan.ValidateUserName("name", reg.Name)) > 0 {
		reg.Name = ""
	}
	var taken int
	if err := tx.queryRow(ctx, `SELECT COUNT(*) FROM users WHERE org_id = ? AND status <> 'deleted' AND (email_lower = ? OR login_id_lower = ?)`,
		f.OrganizationID, strings.ToLower(reg.Email), strings.ToLower(reg.LoginID)).Scan(&taken); err != nil {
		return "", "", fmt.Errorf("provision federated user: %w", err)
	}
	if taken > 0 {
		return "", castellan.SSOEmailTaken, nil
	}
	if err := checkUserLimit(ctx, tx, f.OrganizationID, 1); err != nil {
		return "", "", err
	}
	u := newUser(tx, f.OrganizationID, reg)
	u.Status, u.CreatedBy, u.UpdatedBy = castellan.UserActive, u.ID, u.ID
	if err := insertUsers(ctx, tx, []userRow{{user: u}}); err != nil {
		return "", "", err
	}
	if _, err := tx.exec(ctx, `UPDATE users SET federation_subject = ? WHERE org_id = ? AND id = ?`, id.Subject, f.OrganizationID, u.ID); err != nil {
		return "", "", fmt.Errorf("provision federated user: %w", err)
	}
	c := userCreated(u, "")
	c.summary["federationId"], c.summary["provisionedAt"] = f.ID, "sign-in"
	_, err := tx.record(ctx, c)
	return u.ID, "", err
}

// syncMappedGroups makes the user a member of the mapped groups whose
// claim values its token's groups hold, and of no other mapped group,
// each change audited. Removing the last owner's membership is refused
// by the store's rule; the sign-in then goes on with the additions only.
func (s *SessionService) syncMappedGroups(ctx context.Context, f *castellan.Federation, userID string, groups []string) error {
	if len(f.GroupMappings) == 0 {
		return nil
	}
	want := map[string]bool{}
	for _, m := range f.GroupMappings {
		want[m.GroupID] = want[m.GroupID] || slices.Contains(groups, m.Claim)
	}
	sync := func(removing bool) error {
		return s.db.update(ctx, func(tx *Tx) error {
			for groupID, member := range want {
				if !member && !removing {
					continue
				}
				if err := syncMembership(ctx, tx, f.OrganizationID, groupID, userID, member); err != nil {
					return err
				}
			}
			return nil
		})
	}
	err := sync(true)
	if castellan.ErrorCode(err) == castellan.CodeLastOwner {
		err = sync(false)
	}
	return err
}

// syncMembership adds or removes one membership in tx when it differs,
// recording the change; a group deleted since the mapping was made is
// skipped.
func syncMembership(ctx context.Context, tx *Tx, orgID, groupID, userID string, member bool) error {
	in, err := membersAmong(ctx, tx, orgID, groupID, []string{userID})
	if err != nil || in[userID] == member {
		return err
	}
	if member {
		c, err := addGroupMembers(ctx, tx, orgID, groupID, []string{userID}, castellan.NoPrefix)
		if err != nil || c == nil {
			return ignoreGone(err)
		}
		c.summary["federationSync"] = true
		_, err = tx.record(ctx, *c)
		return err
	}
	_, err = removeGroupMembersTx(ctx, tx, orgID, groupID, []string{userID}, map[string]any{"federationSync": true})
	return ignoreGone(err)
}

// ignoreGone drops group.not_found: a mapped group deleted meanwhile.
func ignoreGone(err error) error {
	if castellan.ErrorCode(err) == castellan.CodeGroupNotFound {
		return nil
	}
	return err
}
