package api

import (
	"context"
	"net/http"

	"github.com/castellan-iam/castellan"
)

// SCIMTokenPath names one SCIM token of one organization.
type SCIMTokenPath struct {
	Org       string `path:"org" doc:"Organization ID (a UUID)."`
	SCIMToken string `path:"scimToken" doc:"SCIM token ID (a UUID)."`
}

type scimTokenCreateBody struct {
	Name         string `json:"name" minLength:"1" maxLength:"100" doc:"What the token is for." example:"Entra ID provisioning"`
	FederationID string `json:"federationId,omitempty" doc:"The federation the users it creates sign in with; empty: local users, invited by mail."`
	ValidDays    int    `json:"validDays,omitempty" minimum:"0" maximum:"730" doc:"How many days the token works; 0 or absent: 730."`
}

type newSCIMTokenOutput struct{ Body *castellan.NewSCIMToken }

type listSCIMTokensOutput struct {
	Body struct {
		SCIMTokens []*castellan.SCIMToken `json:"scimTokens" nullable:"false"`
	}
}

func (s *Server) registerSCIMTokens() {
	const tag = "SCIM tokens"
	const base = "/v1/organizations/{org}/scimTokens"
	register(s, op{
		id: "create-scim-token", method: http.MethodPost, path: base, tag: tag,
		action: castellan.ActionCreateSCIMToken, status: http.StatusCreated, errors: []int{http.StatusForbidden, http.StatusNotFound},
		summary: "Create a SCIM token",
		desc: "The bearer token an identity provider provisions users and groups with, at /scim/v2/organizations/{org}. " +
			"It acts as the calling user (who must be a user of the organization: scim_token.needs_user) and works for SCIM only. " +
			"The secret is returned only now.",
	}, s.createSCIMToken)
	register(s, op{
		id: "list-scim-tokens", method: http.MethodGet, path: base, tag: tag,
		action: castellan.ActionListSCIMTokens, errors: []int{http.StatusForbidden, http.StatusNotFound},
		summary: "List SCIM tokens", desc: "The organization's SCIM tokens, newest first, without their secrets.",
	}, s.listSCIMTokens)
	register(s, op{
		id: "delete-scim-token", method: http.MethodDelete, path: base + "/{scimToken}", tag: tag,
		action: castellan.ActionDeleteSCIMToken, errors: []int{http.StatusForbidden, http.StatusNotFound},
		summary: "Delete a SCIM token", desc: "The token stops working at once.",
	}, s.deleteSCIMToken)
}

func (s *Server) createSCIMToken(ctx context.Context, in *struct {
	OrgPath
	Body scimTokenCreateBody
}) (*newSCIMTokenOutput, error) {
	t, err := s.services.SCIMTokens.CreateSCIMToken(ctx, in.Org, castellan.SCIMTokenCreate{
		Name: in.Body.Name, FederationID: in.Body.FederationID, ValidDays: in.Body.ValidDays})
	if err != nil {
		return nil, err
	}
	return &newSCIMTokenOutput{Body: t}, nil
}

func (s *Server) listSCIMTokens(ctx context.Context, in *OrgPath) (*listSCIMTokensOutput, error) {
	tokens, err := s.services.SCIMTokens.FindSCIMTokens(ctx, in.Org)
	if err != nil {
		return nil, err
	}
	out := &listSCIMTokensOutput{}
	out.Body.SCIMTokens = nonNil(tokens)
	return out, nil
}

func (s *Server) deleteSCIMToken(ctx context.Context, in *SCIMTokenPath) (*revisionOutput, error) {
	rev, err := s.services.SCIMTokens.DeleteSCIMToken(ctx, in.Org, in.SCIMToken)
	if err != nil {
		return nil, err
	}
	return revisionOf(rev), nil
}
