package api

import (
	"context"
	"net/http"

	"github.com/castellan-iam/castellan"
)

// FederationPath names one federation of one organization.
type FederationPath struct {
	Org        string `path:"org" doc:"Organization ID (a UUID)."`
	Federation string `path:"federation" doc:"Federation ID (a UUID): the ID users give at sign-in."`
}

type federationOutput struct{ Body *castellan.Federation }

type federationCreateBody struct {
	Name           string                   `json:"name" minLength:"1" maxLength:"100" doc:"Unique in the organization, case-insensitively." example:"Acme Entra ID"`
	Description    string                   `json:"description,omitempty" maxLength:"256"`
	Issuer         string                   `json:"issuer" minLength:"1" maxLength:"512" doc:"The OpenID provider's issuer URL (https; http only for a loopback host)." example:"https://login.example.com/tenant/v2.0"`
	ClientID       string                   `json:"clientId" minLength:"1" maxLength:"255" doc:"The client ID Castellan has at the provider."`
	ClientSecret   string                   `json:"clientSecret,omitempty" maxLength:"1024" writeOnly:"true" doc:"The client secret; never returned. Empty: a public client, with PKCE only. Needs a server with --secret-key-file (federation.secret_not_sealable)."`
	Scopes         []string                 `json:"scopes,omitempty" maxItems:"20" doc:"Scopes to ask for besides openid, which is always asked for." example:"[\"email\",\"profile\"]"`
	EmailClaim     string                   `json:"emailClaim,omitempty" maxLength:"100" doc:"Default email."`
	NameClaim      string                   `json:"nameClaim,omitempty" maxLength:"100" doc:"Default name."`
	GroupsClaim    string                   `json:"groupsClaim,omitempty" maxLength:"100" doc:"Default groups."`
	AllowedDomains []string                 `json:"allowedDomains,omitempty" maxItems:"50" doc:"Email domains the federation's users may have; empty: any."`
	AutoProvision  bool                     `json:"autoProvision,omitempty" doc:"Create a user at its first sign-in; otherwise an administrator adds it first."`
	MFAByIdP       bool                     `json:"mfaByIdp,omitempty" doc:"The provider's sign-in stands for the second factor."`
	TrustEmail     bool                     `json:"trustEmail,omitempty" doc:"The provider vouches for every email it issues (Entra ID, which sends no email_verified); otherwise only email_verified true binds or provisions by email."`
	GroupMappings  []castellan.GroupMapping `json:"groupMappings,omitempty" maxItems:"100" doc:"Groups claim values mapped to groups of the organization; membership follows at each sign-in."`
}

type federationUpdateBody struct {
	Name           *string                   `json:"name,omitempty" minLength:"1" maxLength:"100"`
	Description    *string                   `json:"description,omitempty" maxLength:"256"`
	Issuer         *string                   `json:"issuer,omitempty" minLength:"1" maxLength:"512"`
	ClientID       *string                   `json:"clientId,omitempty" minLength:"1" maxLength:"255"`
	ClientSecret   *string                   `json:"clientSecret,omitempty" maxLength:"1024" writeOnly:"true" doc:"A new secret; the empty string removes it."`
	Scopes         *[]string                 `json:"scopes,omitempty" maxItems:"20"`
	EmailClaim     *string                   `json:"emailClaim,omitempty" maxLength:"100"`
	NameClaim      *string                   `json:"nameClaim,omitempty" maxLength:"100"`
	GroupsClaim    *string                   `json:"groupsClaim,omitempty" maxLength:"100"`
	AllowedDomains *[]string                 `json:"allowedDomains,omitempty" maxItems:"50"`
	AutoProvision  *bool                     `json:"autoProvision,omitempty"`
	MFAByIdP       *bool                     `json:"mfaByIdp,omitempty"`
	TrustEmail     *bool                     `json:"trustEmail,omitempty"`
	GroupMappings  *[]castellan.GroupMapping `json:"groupMappings,omitempty" maxItems:"100"`
}

type listFederationsOutput struct {
	Body struct {
		Federations   []*castellan.Federation `json:"federations" nullable:"false"`
		NextPageToken string                  `json:"nextPageToken,omitempty"`
	}
}

func (s *Server) registerFederations() {
	const tag = "Federations"
	const base = "/v1/organizations/{org}/federations"
	register(s, op{
		id: "create-federation", method: http.MethodPost, path: base, tag: tag,
		action: castellan.ActionCreateFederation, status: http.StatusCreated,
		errors:  []int{http.StatusForbidden, http.StatusNotFound, http.StatusConflict},
		summary: "Create a federation",
		desc: "Adds an OpenID Connect identity provider the organization's federated users sign in with. " +
			"Its ID is the federation ID users give at sign-in. Names are unique in the organization (federation.name_taken).",
	}, s.createFederation)
	register(s, op{
		id: "list-federations", method: http.MethodGet, path: base, tag: tag,
		action: castellan.ActionListFederations, errors: []int{http.StatusForbidden, http.StatusNotFound},
		summary: "List federations", desc: "Federations by name, case-insensitively. Client secrets are never returned.",
	}, s.listFederations)
	register(s, op{
		id: "get-federation", method: http.MethodGet, path: base + "/{federation}", tag: tag,
		action: castellan.ActionGetFederation, errors: []int{http.StatusForbidden, http.StatusNotFound},
		summary: "Get a federation", desc: "The federation's settings; hasClientSecret tells whether a secret is set.",
	}, s.getFederation)
	register(s, op{
		id: "update-federation", method: http.MethodPatch, path: base + "/{federation}", tag: tag,
		action: castellan.ActionUpdateFederation, errors: []int{http.StatusForbidden, http.StatusNotFound, http.StatusConflict},
		summary: "Update a federation", desc: "Changes the fields present in the body; an update that changes nothing writes nothing.",
	}, s.updateFederation)
	register(s, op{
		id: "delete-federation", method: http.MethodDelete, path: base + "/{federation}", tag: tag,
		action: castellan.ActionDeleteFederation, errors: []int{http.StatusForbidden, http.StatusNotFound, http.StatusPreconditionFailed},
		summary: "Delete a federation", desc: "Refused while users that are not deleted belong to it (federation.in_use): they could no longer sign in.",
	}, s.deleteFederation)
}

func (s *Server) createFederation(ctx context.Context, in *struct {
	OrgPath
	Body federationCreateBody
}) (*federationOutput, error) {
	b := in.Body
	f, err := s.services.Federations.CreateFederation(ctx, in.Org, castellan.FederationCreate{
		Name: b.Name, Description: b.Description, Issuer: b.Issuer, ClientID: b.ClientID, ClientSecret: b.ClientSecret,
		Scopes: b.Scopes, EmailClaim: b.EmailClaim, NameClaim: b.NameClaim, GroupsClaim: b.GroupsClaim,
		AllowedDomains: b.AllowedDomains, AutoProvision: b.AutoProvision, MFAByIdP: b.MFAByIdP, TrustEmail: b.TrustEmail, GroupMappings: b.GroupMappings,
	})
	if err != nil {
		return nil, err
	}
	return &federationOutput{Body: f}, nil
}

func (s *Server) listFederations(ctx context.Context, in *struct {
	OrgPath
	PageParams
}) (*listFederationsOutput, error) {
	list, next, err := s.services.Federations.FindFederations(ctx, in.Org, castellan.FederationFilter{PageSize: in.PageSize, PageToken: in.PageToken})
	if err != nil {
		return nil, err
	}
	out := &listFederationsOutput{}
	out.Body.Federations, out.Body.NextPageToken = nonNil(list), next
	return out, nil
}

func (s *Server) getFederation(ctx context.Context, in *FederationPath) (*federationOutput, error) {
	f, err := s.services.Federations.FindFederationByID(ctx, in.Org, in.Federation)
	if err != nil {
		return nil, err
	}
	return &federationOutput{Body: f}, nil
}

func (s *Server) updateFederation(ctx context.Context, in *struct {
	FederationPath
	Body federationUpdateBody
}) (*federationOutput, error) {
	b := in.Body
	f, err := s.services.Federations.UpdateFederation(ctx, in.Org, in.Federation, castellan.FederationUpdate{
		Name: b.Name, Description: b.Description, Issuer: b.Issuer, ClientID: b.ClientID, ClientSecret: b.ClientSecret,
		Scopes: b.Scopes, EmailClaim: b.EmailClaim, NameClaim: b.NameClaim, GroupsClaim: b.GroupsClaim,
		AllowedDomains: b.AllowedDomains, AutoProvision: b.AutoProvision, MFAByIdP: b.MFAByIdP, TrustEmail: b.TrustEmail, GroupMappings: b.GroupMappings,
	})
	if err != nil {
		return nil, err
	}
	return &federationOutput{Body: f}, nil
}

func (s *Server) deleteFederation(ctx context.Context, in *FederationPath) (*revisionOutput, error) {
	rev, err := s.services.Federations.DeleteFederation(ctx, in.Org, in.Federation)
	if err != nil {
		return nil, err
	}
	return revisionOf(rev), nil
}
