package guard

import (
	"context"

	"github.com/castellan-iam/castellan"
)

// The self rule: a user manages its own sessions, second factor, password
// and access keys without any role. These helpers say who the caller is
// with respect to the user or session an operation names.

// isSelf reports whether the caller is user userID of organization orgID.
func isSelf(ctx context.Context, orgID, userID string) bool {
	p, _ := castellan.PrincipalFrom(ctx)
	return p.Type == castellan.PrincipalUser && p.ID == userID && p.OrganizationID == orgID
}

// inOrg checks the organization and user IDs and refuses callers of
// another organization before anything of it is read.
func inOrg(ctx context.Context, orgID, userID string) (castellan.Principal, error) {
	p, err := member(ctx, orgID)
	if err != nil {
		return p, err
	}
	return p, castellan.CheckID("userId", userID)
}

// selfOrOperator lets the operator and the user itself do action on the
// user's own account: operations that no role grants, such as enrolling
// a second factor or recording a failed one.
func selfOrOperator(ctx context.Context, orgID, userID string, action castellan.Action) error {
	p, err := inOrg(ctx, orgID, userID)
	if err != nil || p.Type == castellan.PrincipalOperator || isSelf(ctx, orgID, userID) {
		return err
	}
	return denied(action, "user/"+userID)
}

// ownSession lets the operator and the user whose signed-in session is
// sessionID act on that session (advance it, verify its second factor,
// end it); a principal of another session or of a token may not.
func ownSession(ctx context.Context, orgID, sessionID string, action castellan.Action) error {
	p, err := member(ctx, orgID)
	if err != nil || p.Type == castellan.PrincipalOperator {
		return err
	}
	if p.Type != castellan.PrincipalUser || p.SessionID == "" || p.SessionID != sessionID {
		return denied(action, "session/"+sessionID)
	}
	return nil
}

// selfInProject refuses a caller whose token comes from an access key of
// another project than projectID: managing one's own keys skips the
// authorizer, which would otherwise hold the key to its project, and a
// leaked key must not mint keys for the owner's other projects.
func selfInProject(ctx context.Context, projectID string) error {
	p, _ := castellan.PrincipalFrom(ctx)
	if p.ProjectID != "" && p.ProjectID != projectID {
		return castellan.Errorf(castellan.EFORBIDDEN, castellan.CodePermissionDenied,
			"this token comes from an access key of project %s; it cannot manage keys of project %s", p.ProjectID, projectID)
	}
	return nil
}

// allowUser checks the user ID and action on the organization.
func (g *guard) allowUser(ctx context.Context, orgID, userID string, action castellan.Action) error {
	if err := g.allowOrg(ctx, orgID, action); err != nil {
		return err
	}
	return castellan.CheckID("userId", userID)
}

// holdsUserRoles applies the hierarchy principle to a change that takes
// away, or hands to someone else, every role a user holds, directly or
// through its groups (FindGrants by a user lists both).
func (g *guard) holdsUserRoles(ctx context.Context, orgID, userID string) error {
	return g.holdsRolesOf(ctx, orgID, castellan.Subject{Type: castellan.SubjectUser, ID: userID}, "userId")
}
