package api

import (
	"context"
	"net/http"
	"time"

	"github.com/castellan-iam/castellan"
)

type grantItem struct {
	RoleID    string            `json:"roleId" minLength:"1" maxLength:"100" doc:"Built-in role ID (organization.admin) or custom role ID." example:"project.member"`
	Scope     string            `json:"scope" minLength:"1" maxLength:"400" doc:"organization/<id>, project/<id> or rn:<service>:<project-id>:<type>/<id>." example:"project/0190d3a8-0000-7000-8000-000000000000"`
	Subject   castellan.Subject `json:"subject"`
	ExpiresAt *time.Time        `json:"expiresAt,omitempty" doc:"When the grant stops counting (RFC 3339); it is removed soon after."`
}

type grantsOutput struct {
	Body struct {
		Grants   []*castellan.Grant `json:"grants" nullable:"false"`
		Revision int64              `json:"revision"`
	}
}

type listGrantsInput struct {
	OrgPath
	PageParams
	Scope       string `query:"scope" doc:"Only grants on this scope (not those inherited from above)."`
	SubjectType string `query:"subject_type" enum:"user,group,serviceAccount," doc:"With subject_id: only grants of this subject; for a user, also those through its groups (marked with via)."`
	SubjectID   string `query:"subject_id" doc:"See subject_type."`
	RoleID      string `query:"role" doc:"Only grants of this role."`
}

type listGrantsOutput struct {
	Body struct {
		Grants        []*castellan.Grant `json:"grants" nullable:"false"`
		NextPageToken string             `json:"nextPageToken,omitempty"`
	}
}

func (s *Server) registerGrants() {
	const tag = "Grants"
	register(s, op{
		id: "list-grants", method: http.MethodGet, path: "/v1/organizations/{org}/grants", tag: tag,
		action: castellan.ActionListGrants, errors: []int{http.StatusForbidden, http.StatusNotFound},
		summary: "List grants", desc: "By scope, by subject (direct and through groups) or by role. Needs iam:ListGrants on the scope, or on the organization.",
	}, s.listGrants)

	register(s, op{
		id: "create-grants", method: http.MethodPost, path: "/v1/organizations/{org}/grants:batchCreate", tag: tag,
		action: castellan.ActionSetGrants, errors: []int{http.StatusForbidden, http.StatusNotFound, http.StatusPreconditionFailed},
		summary: "Grant roles", desc: "Up to 100 grants, all or nothing. The caller needs iam:SetGrants on each scope and must itself hold every action of each role there (hierarchy principle): otherwise grant.escalation. Organization roles go on the organization, project roles on projects, resource roles on resources of their service and type.",
	}, s.createGrants)

	register(s, op{
		id: "delete-grants", method: http.MethodPost, path: "/v1/organizations/{org}/grants:batchDelete", tag: tag,
		action: castellan.ActionSetGrants, errors: []int{http.StatusForbidden, http.StatusNotFound, http.StatusPreconditionFailed},
		summary: "Revoke grants", desc: "Up to 100 grants by ID, all or nothing, under the same rules as granting. The last Organization Owner keeps that role (grant.last_owner).",
	}, s.deleteGrants)
}

func (s *Server) listGrants(ctx context.Context, in *listGrantsInput) (*listGrantsOutput, error) {
	filter := castellan.GrantFilter{PageSize: in.PageSize, PageToken: in.PageToken}
	if in.Scope != "" {
		if _, err := castellan.ParseScope("query.scope", in.Scope); err != nil {
			return nil, err
		}
		filter.Scope = &in.Scope
	}
	if (in.SubjectType == "") != (in.SubjectID == "") {
		return nil, castellan.Invalid([]castellan.FieldError{{Field: "query.subject_id", Rule: "required", Message: "subject_type and subject_id go together"}})
	}
	if in.SubjectType != "" {
		if err := castellan.CheckID("query.subject_id", in.SubjectID); err != nil {
			return nil, err
		}
		filter.Subject = &castellan.Subject{Type: castellan.SubjectType(in.SubjectType), ID: in.SubjectID}
	}
	if in.RoleID != "" {
		filter.RoleID = &in.RoleID
	}
	grants, next, err := s.services.Grants.FindGrants(ctx, in.Org, filter)
	if err != nil {
		return nil, err
	}
	out := &listGrantsOutput{}
	out.Body.Grants, out.Body.NextPageToken = nonNil(grants), next
	return out, nil
}

func (s *Server) createGrants(ctx context.Context, in *struct {
	OrgPath
	Body struct {
		Grants []grantItem `json:"grants" minItems:"1" maxItems:"100"`
	}
}) (*grantsOutput, error) {
	creates := make([]castellan.GrantCreate, len(in.Body.Grants))
	for i, g := range in.Body.Grants {
		creates[i] = castellan.GrantCreate{RoleID: g.RoleID, Scope: g.Scope, Subject: g.Subject, ExpiresAt: g.ExpiresAt}
	}
	grants, rev, err := s.services.Grants.CreateGrants(ctx, in.Org, creates)
	if err != nil {
		return nil, err
	}
	out := &grantsOutput{}
	out.Body.Grants, out.Body.Revision = grants, rev
	return out, nil
}

func (s *Server) deleteGrants(ctx context.Context, in *struct {
	OrgPath
	Body struct {
		GrantIDs []string `json:"grantIds" minItems:"1" maxItems:"100"`
	}
}) (*revisionOutput, error) {
	rev, err := s.services.Grants.DeleteGrants(ctx, in.Org, in.Body.GrantIDs)
	if err != nil {
		return nil, err
	}
	return revisionOf(rev), nil
}
