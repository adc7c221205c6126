package api

import (
	"context"
	"net/http"

	"github.com/castellan-iam/castellan"
)

// SubjectPath names one user or group of one organization.
type SubjectPath struct {
	Org     string `path:"org" doc:"Organization ID (a UUID)."`
	Subject string `path:"subject" doc:"User or group ID (a UUID)."`
}

type rolesScope struct {
	Scope string `json:"scope" minLength:"1" maxLength:"400" doc:"organization/<id>, project/<id> or a resource name." example:"organization/0190d3a8-0000-7000-8000-000000000000"`
}

type setRolesBody struct {
	Scope   string   `json:"scope" minLength:"1" maxLength:"400" doc:"organization/<id>, project/<id> or a resource name."`
	RoleIDs []string `json:"roleIds" minItems:"1" maxItems:"100" doc:"The roles the subject shall hold on the scope, no more, no fewer; at least one."`
}

type removeRolesBody struct {
	Scope   string   `json:"scope" minLength:"1" maxLength:"400" doc:"organization/<id>, project/<id> or a resource name."`
	RoleIDs []string `json:"roleIds" minItems:"1" maxItems:"100" doc:"Roles to revoke; at least one role must remain (removeAll removes all)."`
}

type subjectRolesInput struct {
	SubjectPath
	PageParams
	Scope string `query:"scope" doc:"Only roles on this scope."`
}

// subjectKind is users or groups, whose IAM-roles tabs are alike.
type subjectKind struct {
	plural, singular string
	typ              castellan.SubjectType
}

func (k subjectKind) of(p SubjectPath) castellan.Subject {
	return castellan.Subject{Type: k.typ, ID: p.Subject}
}

// registerSubjectRoles adds the IAM-roles tab of users and groups: list,
// edit (replace the set), remove in bulk (one must remain) and remove all,
// per scope, as in the user and group management seed.
func (s *Server) registerSubjectRoles() {
	const tag = "Grants"
	for _, kind := range []subjectKind{{"users", "user", castellan.SubjectUser}, {"groups", "group", castellan.SubjectGroup}} {
		base := "/v1/organizations/{org}/" + kind.plural + "/{subject}/roles"
		errs := []int{http.StatusNotFound, http.StatusPreconditionFailed}
		register(s, op{
			id: "list-" + kind.singular + "-roles", method: http.MethodGet, path: base, tag: tag,
			action: castellan.ActionListGrants, errors: []int{http.StatusNotFound},
			summary: "List the roles of a " + kind.singular, desc: "Its grants, on every scope or one; a user's include those through its groups (marked with via).",
		}, s.listSubjectRoles(kind))
		register(s, op{
			id: "set-" + kind.singular + "-roles", method: http.MethodPost, path: base + ":set", tag: tag,
			action: castellan.ActionSetGrants, errors: errs,
			summary: "Edit the roles of a " + kind.singular + " on a scope",
			desc:    "Makes roleIds exactly the roles held directly on the scope: grants the missing, revokes the rest, in one transaction. At least one role; use removeAll to remove every role. Hierarchy principle for every role added or removed.",
		}, s.setSubjectRoles(kind))
		register(s, op{
			id: "remove-" + kind.singular + "-roles", method: http.MethodPost, path: base + ":batchRemove", tag: tag,
			action: castellan.ActionSetGrants, errors: errs,
			summary: "Remove roles of a " + kind.singular + " in bulk", desc: "Refused with grant.roles_required when no role would remain on the scope.",
		}, s.removeSubjectRoles(kind))
		register(s, op{
			id: "remove-all-" + kind.singular + "-roles", method: http.MethodPost, path: base + ":removeAll", tag: tag,
			action: castellan.ActionSetGrants, errors: errs,
			summary: "Remove all roles of a " + kind.singular + " on a scope", desc: "The explicit operation for leaving the " + kind.singular + " without a role there.",
		}, s.removeAllSubjectRoles(kind))
	}
}

func (s *Server) listSubjectRoles(kind subjectKind) func(context.Context, *subjectRolesInput) (*listGrantsOutput, error) {
	return func(ctx context.Context, in *subjectRolesInput) (*listGrantsOutput, error) {
		sub := kind.of(in.SubjectPath)
		if err := checkSubjectRolesInput(in); err != nil {
			return nil, err
		}
		filter := castellan.GrantFilter{Subject: &sub, PageSize: in.PageSize, PageToken: in.PageToken}
		if in.Scope != "" {
			filter.Scope = &in.Scope
		}
		grants, next, err := s.services.Grants.FindGrants(ctx, in.Org, filter)
		if err != nil {
			return nil, err
		}
		out := &listGrantsOutput{}
		out.Body.Grants, out.Body.NextPageToken = nonNil(grants), next
		return out, nil
	}
}

type setRolesInput struct {
	SubjectPath
	Body setRolesBody
}

func (s *Server) setSubjectRoles(kind subjectKind) func(context.Context, *setRolesInput) (*grantsOutput, error) {
	return func(ctx context.Context, in *setRolesInput) (*grantsOutput, error) {
		sub := kind.of(in.SubjectPath)
		grants, rev, err := s.services.Grants.SetRoles(ctx, in.Org, sub, in.Body.Scope, in.Body.RoleIDs)
		if err != nil {
			return nil, err
		}
		out := &grantsOutput{}
		out.Body.Grants, out.Body.Revision = grants, rev
		return out, nil
	}
}

type removeRolesInput struct {
	SubjectPath
	Body removeRolesBody
}

func (s *Server) removeSubjectRoles(kind subjectKind) func(context.Context, *removeRolesInput) (*revisionOutput, error) {
	return func(ctx context.Context, in *removeRolesInput) (*revisionOutput, error) {
		sub := kind.of(in.SubjectPath)
		rev, err := s.services.Grants.RemoveRoles(ctx, in.Org, sub, in.Body.Scope, in.Body.RoleIDs, false)
		if err != nil {
			return nil, err
		}
		return revisionOf(rev), nil
	}
}

type removeAllRolesInput struct {
	SubjectPath
	Body rolesScope
}

func (s *Server) removeAllSubjectRoles(kind subjectKind) func(context.Context, *removeAllRolesInput) (*revisionOutput, error) {
	return func(ctx context.Context, in *removeAllRolesInput) (*revisionOutput, error) {
		sub := kind.of(in.SubjectPath)
		rev, err := s.services.Grants.RemoveRoles(ctx, in.Org, sub, in.Body.Scope, nil, true)
		if err != nil {
			return nil, err
		}
		return revisionOf(rev), nil
	}
}

// checkSubjectRolesInput checks the IDs and the scope of a list of a
// subject's roles, naming them as the other operations of the tab do.
func checkSubjectRolesInput(in *subjectRolesInput) error {
	if err := castellan.CheckID("path.org", in.Org); err != nil {
		return err
	}
	if err := castellan.CheckID("path.subject", in.Subject); err != nil {
		return err
	}
	if in.Scope == "" {
		return nil
	}
	_, err := castellan.ParseScope("scope", in.Scope)
	return err
}
