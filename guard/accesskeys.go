package guard

import (
	"context"
	"time"

	"github.com/castellan-iam/castellan"
)

// accessKeys guards access keys. A user manages its own keys without any
// role, but a token of an access key reaches only keys of that key's
// project; anyone else needs the action on the key's project (a service
// account's keys: on its project), and creating, changing or deleting
// another principal's key needs every role that principal holds
// (hierarchy principle). A user's key is made only where the user holds
// some grant. Exchanging a key for a token authenticates by its secret.
type accessKeys struct {
	g    *guard
	next castellan.AccessKeyService
}

var _ castellan.AccessKeyService = (*accessKeys)(nil)

func (s *accessKeys) CreateAccessKey(ctx context.Context, orgID string, c castellan.AccessKeyCreate) (*castellan.NewAccessKey, error) {
	var err error
	if c.Owner.Type == castellan.SubjectServiceAccount {
		err = s.allowAccountKeyCreate(ctx, orgID, c)
	} else {
		err = s.allowUserKeyCreate(ctx, orgID, c)
	}
	if err != nil {
		return nil, err
	}
	return s.next.CreateAccessKey(ctx, orgID, c)
}

// allowUserKeyCreate: the user itself, where it holds some grant and, from
// an access key's token, in that key's project only; anyone else with the
// action on the project, every role the user holds, for a user that
// holds some grant there.
func (s *accessKeys) allowUserKeyCreate(ctx context.Context, orgID string, c castellan.AccessKeyCreate) error {
	userID := c.Owner.ID
	if _, err := inOrg(ctx, orgID, userID); err != nil {
		return err
	}
	if err := castellan.CheckID("projectId", c.ProjectID); err != nil {
		return err
	}
	if isSelf(ctx, orgID, userID) {
		if err := selfInProject(ctx, c.ProjectID); err != nil {
			return err
		}
		return s.holdsSomeGrantIn(ctx, orgID, userID, c.ProjectID, projectNotFound(c.ProjectID))
	}
	if err := s.g.allow(ctx, orgID, castellan.ActionCreateAccessKey, castellan.ProjectScope(c.ProjectID), projectNotFound(c.ProjectID)); err != nil {
		return err
	}
	if err := s.g.holdsUserRoles(ctx, orgID, userID); err != nil {
		return err
	}
	return s.holdsSomeGrantIn(ctx, orgID, userID, c.ProjectID, noGrantInProject(userID, c.ProjectID))
}

// allowAccountKeyCreate: the action on the account's project and every
// role the account holds.
func (s *accessKeys) allowAccountKeyCreate(ctx context.Context, orgID string, c castellan.AccessKeyCreate) error {
	if err := s.g.allowAccount(ctx, orgID, c.ProjectID, c.Owner.ID, castellan.ActionCreateAccessKey); err != nil {
		return err
	}
	return s.g.holdsRolesOf(ctx, orgID, c.Owner, "serviceAccountId")
}

// holdsSomeGrantIn checks that the user holds a grant (its own or through
// a group) on the project, something in it, or a node above it (its
// account, OUs or the organization's root): a key, whoever creates it, is
// made only where its owner has something to do. Otherwise, and for a
// project that is not in the organization, it returns refusal.
func (s *accessKeys) holdsSomeGrantIn(ctx context.Context, orgID, userID, projectID string, refusal error) error {
	path, err := s.g.raw.Nodes.FindAncestors(ctx, orgID, projectID)
	if castellan.ErrorKind(err) == castellan.ENOTFOUND {
		return refusal
	}
	if err != nil {
		return err
	}
	if path[0].Kind != castellan.NodeProject {
		return refusal
	}
	reaches := map[string]bool{}
	for _, n := range path {
		reaches[n.Scope().String()] = true
	}
	subject := castellan.Subject{Type: castellan.SubjectUser, ID: userID}
	token := ""
	for {
		grants, next, err := s.g.raw.Grants.FindGrants(ctx, orgID, castellan.GrantFilter{Subject: &subject, PageSize: castellan.MaxPageSize, PageToken: token})
		if err != nil {
			return err
		}
		for _, g := range grants {
			sc, err := castellan.ParseScope("scope", g.Scope)
			if err != nil {
				continue
			}
			if reaches[g.Scope] || sc.Kind == castellan.ScopeResource && sc.ID == projectID {
				return nil
			}
		}
		if next == "" {
			return refusal
		}
		token = next
	}
}

func noGrantInProject(userID, projectID string) error {
	return &castellan.Error{
		Kind: castellan.EPRECONDITION, Code: castellan.CodeAccessKeyNoGrantInProject,
		Message: "user " + userID + " holds no grant on project " + projectID + ": grant it a role there first",
		Fields:  []castellan.FieldError{{Field: "projectId", Rule: "granted", Message: "the user holds no grant on this project"}},
	}
}

func (s *accessKeys) FindAccessKeyByID(ctx context.Context, orgID, id string) (*castellan.AccessKey, error) {
	return s.allowKey(ctx, orgID, id, castellan.ActionListAccessKeys, false)
}

// FindAccessKeys lists a user's keys to the user itself; a service
// account's keys of its project to a caller allowed on that project; any
// other list to a caller allowed on the organization.
func (s *accessKeys) FindAccessKeys(ctx context.Context, orgID string, f castellan.AccessKeyFilter) ([]*castellan.AccessKey, string, error) {
	if err := s.allowKeyList(ctx, orgID, f); err != nil {
		return nil, "", err
	}
	return s.next.FindAccessKeys(ctx, orgID, f)
}

func (s *accessKeys) allowKeyList(ctx context.Context, orgID string, f castellan.AccessKeyFilter) error {
	switch {
	case f.Owner != nil && f.Owner.Type == castellan.SubjectUser:
		if _, err := inOrg(ctx, orgID, f.Owner.ID); err != nil || isSelf(ctx, orgID, f.Owner.ID) {
			return err
		}
	case f.Owner != nil && f.Owner.Type == castellan.SubjectServiceAccount && f.ProjectID != nil:
		return s.g.allowAccount(ctx, orgID, *f.ProjectID, f.Owner.ID, castellan.ActionListAccessKeys)
	}
	return s.g.allowOrg(ctx, orgID, castellan.ActionListAccessKeys)
}

func (s *accessKeys) UpdateAccessKey(ctx context.Context, orgID, id string, u castellan.AccessKeyUpdate) (*castellan.AccessKey, error) {
	if _, err := s.allowKey(ctx, orgID, id, castellan.ActionUpdateAccessKey, true); err != nil {
		return nil, err
	}
	return s.next.UpdateAccessKey(ctx, orgID, id, u)
}

func (s *accessKeys) DeleteAccessKey(ctx context.Context, orgID, id string) (int64, error) {
	if _, err := s.allowKey(ctx, orgID, id, castellan.ActionDeleteAccessKey, true); err != nil {
		return 0, err
	}
	return s.next.DeleteAccessKey(ctx, orgID, id)
}

// allowKey reads key id and checks that the caller may do action on it:
// its owner itself (from an access key's token, in that key's project
// only), or a caller allowed on the key's project. A change (change)
// to another principal's key takes away or gives back what the key
// could do, so the hierarchy principle applies as it does to updating
// the owner.
func (s *accessKeys) allowKey(ctx context.Context, orgID, id string, action castellan.Action, change bool) (*castellan.AccessKey, error) {
	if _, err := member(ctx, orgID); err != nil {
		return nil, err
	}
	if !castellan.ValidAccessKeyID(id) {
		return nil, accessKeyNotFound(id)
	}
	k, err := s.g.raw.AccessKeys.FindAccessKeyByID(ctx, orgID, id)
	if err != nil {
		return nil, err
	}
	if k.Owner.Type == castellan.SubjectUser {
		if isSelf(ctx, orgID, k.Owner.ID) {
			return k, selfInProject(ctx, k.ProjectID)
		}
		if err := s.g.allow(ctx, orgID, action, castellan.ProjectScope(k.ProjectID), accessKeyNotFound(id)); err != nil {
			return nil, err
		}
		if change {
			return k, s.g.holdsUserRoles(ctx, orgID, k.Owner.ID)
		}
		return k, nil
	}
	if err := s.g.allowProject(ctx, orgID, k.ProjectID, action); err != nil {
		return nil, err
	}
	if change {
		return k, s.g.holdsRolesOf(ctx, orgID, k.Owner, "serviceAccountId")
	}
	return k, nil
}

func accessKeyNotFound(id string) error {
	return castellan.Errorf(castellan.ENOTFOUND, castellan.CodeAccessKeyNotFound, "access key %s not found", id)
}

// ExchangeAccessKey authenticates by the key's secret.
func (s *accessKeys) ExchangeAccessKey(ctx context.Context, keyID, secret string) (*castellan.AccessToken, error) {
	return s.next.ExchangeAccessKey(ctx, keyID, secret)
}

// VerifyAccessKeySignature authenticates by a signature made with the
// key's secret, as ExchangeAccessKey does by the secret itself.
func (s *accessKeys) VerifyAccessKeySignature(ctx context.Context, keyID string, message []byte, signature string) (castellan.Principal, error) {
	return s.next.VerifyAccessKeySignature(ctx, keyID, message, signature)
}

// NoteKeysUsed is the token cache's bookkeeping, done on the raw store.
func (s *accessKeys) NoteKeysUsed(ctx context.Context, used map[string]time.Time) error {
	if err := requireOperator(ctx); err != nil {
		return err
	}
	return s.next.NoteKeysUsed(ctx, used)
}

// IntrospectToken describes a token to a caller allowed iam:Authorize on
// its own organization; a token of another organization is inactive to it.
func (s *accessKeys) IntrospectToken(ctx context.Context, token string) (*castellan.TokenIntrospection, error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if p.Type != castellan.PrincipalOperator {
		if err := s.g.allowOrg(ctx, p.OrganizationID, castellan.ActionAuthorize); err != nil {
			return nil, err
		}
	}
	info, err := s.next.IntrospectToken(ctx, token)
	if err != nil {
		return nil, err
	}
	if p.Type != castellan.PrincipalOperator && info.Organization != p.OrganizationID {
		return &castellan.TokenIntrospection{}, nil
	}
	return info, nil
}
