package api

import (
	"context"
	"net/http"

	"github.com/castellan-iam/castellan"
)

// OrgPath is the path parameter of every organization-scoped operation.
type OrgPath struct {
	Org string `path:"org" doc:"Organization ID (a UUID)."`
}

type organizationOutput struct {
	Body *castellan.Organization
}

type organizationCreateBody struct {
	Name        string `json:"name" minLength:"1" maxLength:"100" doc:"Unique name of the organization; no control characters or surrounding spaces." example:"Acme Corp"`
	Description string `json:"description,omitempty" maxLength:"256" doc:"Free text."`
}

type organizationUpdateBody struct {
	Name        *string `json:"name,omitempty" minLength:"1" maxLength:"100" doc:"New name."`
	Description *string `json:"description,omitempty" maxLength:"256" doc:"New description."`
	MFARequired *bool   `json:"mfaRequired,omitempty" doc:"Require a second factor of every user of the organization."`
}

type listOrganizationsOutput struct {
	Body struct {
		Organizations []*castellan.Organization `json:"organizations" nullable:"false"`
		NextPageToken string                    `json:"nextPageToken,omitempty" doc:"Token of the next page; absent on the last page."`
	}
}

func (s *Server) registerOrganizations() {
	const tag = "Organizations"
	register(s, op{
		id: "create-organization", method: http.MethodPost, path: "/v1/organizations", tag: tag,
		action: castellan.ActionCreateOrganization, status: http.StatusCreated, errors: []int{http.StatusForbidden, http.StatusConflict},
		summary: "Create an organization (operator only)", desc: "Creates the organization and its root node. Only an operator token may; names are unique (organization.name_taken).",
	}, s.createOrganization)

	register(s, op{
		id: "list-organizations", method: http.MethodGet, path: "/v1/organizations", tag: tag,
		action:  castellan.ActionListOrganizations,
		summary: "List organizations", desc: "The operator sees every organization; a user sees its own, if allowed organizations:ListOrganizations on it.",
	}, s.listOrganizations)

	register(s, op{
		id: "get-organization", method: http.MethodGet, path: "/v1/organizations/{org}", tag: tag,
		action: castellan.ActionGetOrganization, errors: []int{http.StatusNotFound},
		summary: "Get an organization", desc: "The organization with its root node.",
	}, s.getOrganization)

	register(s, op{
		id: "update-organization", method: http.MethodPatch, path: "/v1/organizations/{org}", tag: tag,
		action: castellan.ActionUpdateOrganization, errors: []int{http.StatusForbidden, http.StatusNotFound, http.StatusConflict},
		summary: "Update an organization",
		desc:    "Changes the fields present in the body; an update that changes nothing writes nothing. Names are unique across the installation, so only the operator renames organizations.",
	}, s.updateOrganization)

	register(s, op{
		id: "delete-organization", method: http.MethodDelete, path: "/v1/organizations/{org}", tag: tag,
		action: castellan.ActionDeleteOrganization, errors: []int{http.StatusForbidden, http.StatusNotFound, http.StatusPreconditionFailed},
		summary: "Delete an organization (operator only)",
		desc:    "Refused with organization.not_empty while projects remain. Users and tokens of the organization go with it; its audit log stays.",
	}, s.deleteOrganization)
}

// nonNil makes empty lists render as [] rather than null.
func nonNil[T any](items []T) []T {
	if items == nil {
		return []T{}
	}
	return items
}

func (s *Server) createOrganization(ctx context.Context, in *struct{ Body organizationCreateBody }) (*organizationOutput, error) {
	org, err := s.services.Organizations.CreateOrganization(ctx, castellan.OrganizationCreate{Name: in.Body.Name, Description: in.Body.Description})
	if err != nil {
		return nil, err
	}
	return &organizationOutput{Body: org}, nil
}

func (s *Server) listOrganizations(ctx context.Context, in *struct{ PageParams }) (*listOrganizationsOutput, error) {
	orgs, next, err := s.services.Organizations.FindOrganizations(ctx, castellan.OrganizationFilter{PageSize: in.PageSize, PageToken: in.PageToken})
	if err != nil {
		return nil, err
	}
	out := &listOrganizationsOutput{}
	out.Body.Organizations, out.Body.NextPageToken = nonNil(orgs), next
	return out, nil
}

func (s *Server) getOrganization(ctx context.Context, in *OrgPath) (*organizationOutput, error) {
	org, err := s.services.Organizations.FindOrganizationByID(ctx, in.Org)
	if err != nil {
		return nil, err
	}
	return &organizationOutput{Body: org}, nil
}

func (s *Server) updateOrganization(ctx context.Context, in *struct {
	OrgPath
	Body organizationUpdateBody
}) (*organizationOutput, error) {
	org, err := s.services.Organizations.UpdateOrganization(ctx, in.Org, castellan.OrganizationUpdate{
		Name: in.Body.Name, Description: in.Body.Description, MFARequired: in.Body.MFARequired,
	})
	if err != nil {
		return nil, err
	}
	return &organizationOutput{Body: org}, nil
}

func (s *Server) deleteOrganization(ctx context.Context, in *OrgPath) (*revisionOutput, error) {
	rev, err := s.services.Organizations.DeleteOrganization(ctx, in.Org)
	if err != nil {
		return nil, err
	}
	return revisionOf(rev), nil
}
