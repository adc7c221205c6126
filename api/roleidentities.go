package api

import (
	"context"
	"net/http"

	"github.com/castellan-iam/castellan"
)

// RoleIdentityPath names one role identity of one organization.
type RoleIdentityPath struct {
	Org          string `path:"org" doc:"Organization ID (a UUID)."`
	RoleIdentity string `path:"roleIdentity" doc:"Role identity ID (a UUID)."`
}

// RoleSessionPath names one role session of one organization.
type RoleSessionPath struct {
	Org         string `path:"org" doc:"Organization ID (a UUID)."`
	RoleSession string `path:"roleSession" doc:"Role session ID (a UUID)."`
}

type roleIdentityOutput struct{ Body *castellan.RoleIdentity }

type roleSessionOutput struct{ Body *castellan.RoleSession }

type roleIdentityCreateBody struct {
	Name        string `json:"name" minLength:"1" maxLength:"64" doc:"Letters, digits and + = , . @ _ -; unique in the organization, case-insensitively." example:"deployer"`
	Kind        string `json:"kind" enum:"account,server,sso,service" doc:"Who assumes it: users of the organization (account), servers, federated users (sso) or cloud services."`
	Description string `json:"description,omitempty" maxLength:"300"`
}

type sourceIdentityBody struct {
	Type     string `json:"type" enum:"IamUser,Server,FederatedUser,NcloudService" doc:"Must be the type of the role's kind: IamUser (account), Server, FederatedUser (sso), NcloudService (service)."`
	ID       string `json:"id,omitempty" maxLength:"255" doc:"The federated user (sso) or the service's resource (service); empty for a server."`
	Provider string `json:"provider,omitempty" maxLength:"255" doc:"The federation (sso) or the service (service); empty for a server."`
}

type assumeBody struct {
	SourceIdentity *sourceIdentityBody `json:"sourceIdentity,omitempty" doc:"Who assumes the role. Ignored for an account role, which the calling user assumes."`
}

type listRoleIdentitiesOutput struct {
	Body struct {
		RoleIdentities []*castellan.RoleIdentity `json:"roleIdentities" nullable:"false"`
		NextPageToken  string                    `json:"nextPageToken,omitempty"`
	}
}

func (s *Server) registerRoleIdentities() {
	const tag = "Role identities"
	const base = "/v1/organizations/{org}/roleIdentities"
	register(s, op{
		id: "create-role-identity", method: http.MethodPost, path: base, tag: tag,
		action: castellan.ActionCreateRoleIdentity, status: http.StatusCreated, errors: []int{http.StatusForbidden, http.StatusNotFound, http.StatusConflict},
		summary: "Create a role identity", desc: "Role names are unique in the organization, case-insensitively (role_identity.name_taken). The role's resource name is rn:iam:<org>:role/<id>.",
	}, s.createRoleIdentity)
	register(s, op{
		id: "list-role-identities", method: http.MethodGet, path: base, tag: tag,
		action: castellan.ActionListRoleIdentities, errors: []int{http.StatusForbidden, http.StatusNotFound},
		summary: "List role identities", desc: "Role identities by name, case-insensitively.",
	}, s.listRoleIdentities)
	register(s, op{
		id: "get-role-identity", method: http.MethodGet, path: base + "/{roleIdentity}", tag: tag,
		action: castellan.ActionGetRoleIdentity, errors: []int{http.StatusForbidden, http.StatusNotFound},
		summary: "Get a role identity", desc: "The role identity with its resource name.",
	}, s.getRoleIdentity)
	register(s, op{
		id: "delete-role-identity", method: http.MethodDelete, path: base + "/{roleIdentity}", tag: tag,
		action: castellan.ActionDeleteRoleIdentity, errors: []int{http.StatusForbidden, http.StatusNotFound},
		summary: "Delete a role identity", desc: "Ends the role's sessions in the same transaction; their tombstones stay for includeDeleted reads.",
	}, s.deleteRoleIdentity)
	register(s, op{
		id: "assume-role-identity", method: http.MethodPost, path: base + "/{roleIdentity}:assume", tag: tag,
		action: castellan.ActionAssumeRoleIdentity, status: http.StatusCreated, errors: []int{http.StatusForbidden, http.StatusNotFound},
		summary: "Assume a role identity",
		desc: "Starts a session of the role, lasting an hour. An account role is assumed by the calling user, who must be a user of the organization; " +
			"its source identity is that user whatever the body says. Other kinds take sourceIdentity, whose type must be the kind's (role_session.source_mismatch).",
	}, s.assumeRoleIdentity)
	register(s, op{
		id: "get-role-session", method: http.MethodGet, path: "/v1/organizations/{org}/roleSessions/{roleSession}", tag: tag,
		action: castellan.ActionGetRoleSession, errors: []int{http.StatusForbidden, http.StatusNotFound},
		summary: "Get a role session", desc: "An expired session is returned as it is; an ended one (deleted: true) only with includeDeleted=true.",
	}, s.getRoleSession)
	register(s, op{
		id: "end-role-session", method: http.MethodDelete, path: "/v1/organizations/{org}/roleSessions/{roleSession}", tag: tag,
		action: castellan.ActionEndRoleSession, errors: []int{http.StatusForbidden, http.StatusNotFound},
		summary: "End a role session", desc: "Turns the session into a tombstone read with includeDeleted=true.",
	}, s.endRoleSession)
}

func (s *Server) createRoleIdentity(ctx context.Context, in *struct {
	OrgPath
	Body roleIdentityCreateBody
}) (*roleIdentityOutput, error) {
	r, err := s.services.RoleIdentities.CreateRoleIdentity(ctx, in.Org, castellan.RoleIdentityCreate{
		Name: in.Body.Name, Kind: in.Body.Kind, Description: in.Body.Description})
	if err != nil {
		return nil, err
	}
	return &roleIdentityOutput{Body: r}, nil
}

func (s *Server) listRoleIdentities(ctx context.Context, in *struct {
	OrgPath
	PageParams
}) (*listRoleIdentitiesOutput, error) {
	roles, next, err := s.services.RoleIdentities.FindRoleIdentities(ctx, in.Org, castellan.RoleIdentityFilter{PageSize: in.PageSize, PageToken: in.PageToken})
	if err != nil {
		return nil, err
	}
	out := &listRoleIdentitiesOutput{}
	out.Body.RoleIdentities, out.Body.NextPageToken = nonNil(roles), next
	return out, nil
}

func (s *Server) getRoleIdentity(ctx context.Context, in *RoleIdentityPath) (*roleIdentityOutput, error) {
	r, err := s.services.RoleIdentities.FindRoleIdentityByID(ctx, in.Org, in.RoleIdentity)
	if err != nil {
		return nil, err
	}
	return &roleIdentityOutput{Body: r}, nil
}

func (s *Server) deleteRoleIdentity(ctx context.Context, in *RoleIdentityPath) (*revisionOutput, error) {
	rev, err := s.services.RoleIdentities.DeleteRoleIdentity(ctx, in.Org, in.RoleIdentity)
	if err != nil {
		return nil, err
	}
	return revisionOf(rev), nil
}

func (s *Server) assumeRoleIdentity(ctx context.Context, in *struct {
	RoleIdentityPath
	Body assumeBody
}) (*roleSessionOutput, error) {
	var src castellan.SourceIdentity
	if b := in.Body.SourceIdentity; b != nil {
		src = castellan.SourceIdentity{Type: b.Type, ID: b.ID, Provider: b.Provider}
	}
	rs, err := s.services.RoleIdentities.AssumeRoleIdentity(ctx, in.Org, in.RoleIdentity, src)
	if err != nil {
		return nil, err
	}
	return &roleSessionOutput{Body: rs}, nil
}

func (s *Server) getRoleSession(ctx context.Context, in *struct {
	RoleSessionPath
	IncludeDeleted bool `query:"includeDeleted" doc:"Also return an ended session's tombstone (deleted: true)."`
}) (*roleSessionOutput, error) {
	rs, err := s.services.RoleIdentities.FindRoleSessionByID(ctx, in.Org, in.RoleSession, in.IncludeDeleted)
	if err != nil {
		return nil, err
	}
	return &roleSessionOutput{Body: rs}, nil
}

func (s *Server) endRoleSession(ctx context.Context, in *RoleSessionPath) (*revisionOutput, error) {
	rev, err := s.services.RoleIdentities.EndRoleSession(ctx, in.Org, in.RoleSession)
	if err != nil {
		return nil, err
	}
	return revisionOf(rev), nil
}
