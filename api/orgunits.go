package api

import (
	"context"
	"net/http"

	"github.com/castellan-iam/castellan"
)

// OrgUnitPath names one organizational unit of one organization.
type OrgUnitPath struct {
	Org string `path:"org" doc:"Organization ID (a UUID)."`
	OU  string `path:"ou" doc:"OU ID (a UUID)."`
}

type orgUnitOutput struct{ Body *castellan.OrgUnit }

type orgUnitCreateBody struct {
	ParentID    string   `json:"parentId" doc:"The root (the organization's ID) or an OU; the new OU is at most 5 levels below the root."`
	Name        string   `json:"name" minLength:"1" maxLength:"100" doc:"Unique among the OUs of the parent (case-sensitive)." example:"Sales"`
	Description string   `json:"description,omitempty" maxLength:"1000" doc:"Free text."`
	PolicyIDs   []string `json:"policyIds,omitempty" maxItems:"10" doc:"Control policies to attach; FullAccess when absent. At least one is always attached."`
}

type orgUnitUpdateBody struct {
	Name        *string `json:"name,omitempty" minLength:"1" maxLength:"100" doc:"New name, unique among the OUs of the parent."`
	Description *string `json:"description,omitempty" maxLength:"1000" doc:"New description."`
}

// parentBody is where a move puts an OU or a project.
type parentBody struct {
	ParentID string `json:"parentId" doc:"The new parent's ID."`
}

type listOrgUnitsOutput struct {
	Body struct {
		OrgUnits      []*castellan.OrgUnit `json:"orgUnits" nullable:"false"`
		NextPageToken string               `json:"nextPageToken,omitempty" doc:"Token of the next page; absent on the last page."`
	}
}

func (s *Server) registerOrgUnits() {
	const tag = "Organizational units"
	register(s, op{
		id: "create-ou", method: http.MethodPost, path: "/v1/organizations/{org}/ous", tag: tag,
		action: castellan.ActionCreateOrganizationalUnit, status: http.StatusCreated,
		errors:  []int{http.StatusNotFound, http.StatusConflict, http.StatusPreconditionFailed},
		summary: "Create an organizational unit",
		desc: "Creates an OU under the root or an OU, at most 5 levels below the root (ou.too_deep), with its control policies " +
			"(FullAccess by default; controlpolicy.not_found names an unknown one). Names are unique among sibling OUs (ou.name_taken).",
	}, s.createOrgUnit)
	register(s, op{
		id: "list-ous", method: http.MethodGet, path: "/v1/organizations/{org}/ous", tag: tag,
		action: castellan.ActionListOrganizationalUnits, errors: []int{http.StatusNotFound},
		summary: "List organizational units", desc: "OUs by name, each with its path from the root; parent_id restricts the list to one parent's.",
	}, s.listOrgUnits)
	register(s, op{
		id: "get-ou", method: http.MethodGet, path: "/v1/organizations/{org}/ous/{ou}", tag: tag,
		action: castellan.ActionGetOrganizationalUnit, errors: []int{http.StatusNotFound},
		summary: "Get an organizational unit", desc: "The OU's details: creator, editor, times and the higher-level units from the root.",
	}, s.getOrgUnit)
	register(s, op{
		id: "update-ou", method: http.MethodPatch, path: "/v1/organizations/{org}/ous/{ou}", tag: tag,
		action: castellan.ActionUpdateOrganizationalUnit, errors: []int{http.StatusNotFound, http.StatusConflict},
		summary: "Rename or redescribe an organizational unit", desc: "Changes the fields present in the body; an update that changes nothing writes nothing.",
	}, s.updateOrgUnit)
	register(s, op{
		id: "move-ou", method: http.MethodPost, path: "/v1/organizations/{org}/ous/{ou}:move", tag: tag,
		action: castellan.ActionMoveOrganizationalUnit, errors: []int{http.StatusNotFound, http.StatusConflict, http.StatusPreconditionFailed},
		summary: "Move an organizational unit",
		desc: "Puts the OU and everything below it under the root or another OU. Refused into its own subtree (ou.cycle), " +
			"when an OU of the subtree would fall more than 5 levels below the root (ou.too_deep) or when the destination has an OU of the name (ou.name_taken). " +
			"Needs organizations:MoveOrganizationalUnit on the OU and on the destination.",
	}, s.moveOrgUnit)
	register(s, op{
		id: "delete-ou", method: http.MethodDelete, path: "/v1/organizations/{org}/ous/{ou}", tag: tag,
		action: castellan.ActionDeleteOrganizationalUnit, errors: []int{http.StatusNotFound, http.StatusPreconditionFailed},
		summary: "Delete an organizational unit",
		desc:    "Deletes an empty OU (ou.not_empty while it holds OUs, accounts or projects) with its policy attachments and the grants on it.",
	}, s.deleteOrgUnit)
}

func (s *Server) createOrgUnit(ctx context.Context, in *struct {
	OrgPath
	Body orgUnitCreateBody
}) (*orgUnitOutput, error) {
	ou, err := s.services.OrgUnits.CreateOrgUnit(ctx, in.Org, castellan.OrgUnitCreate{
		ParentID: in.Body.ParentID, Name: in.Body.Name, Description: in.Body.Description, PolicyIDs: in.Body.PolicyIDs})
	if err != nil {
		return nil, err
	}
	return &orgUnitOutput{Body: ou}, nil
}

func (s *Server) listOrgUnits(ctx context.Context, in *struct {
	OrgPath
	ParentID string `query:"parent_id" doc:"Only the OUs directly under this node."`
	PageParams
}) (*listOrgUnitsOutput, error) {
	filter := castellan.OrgUnitFilter{PageSize: in.PageSize, PageToken: in.PageToken}
	if in.ParentID != "" {
		filter.ParentID = &in.ParentID
	}
	units, next, err := s.services.OrgUnits.FindOrgUnits(ctx, in.Org, filter)
	if err != nil {
		return nil, err
	}
	out := &listOrgUnitsOutput{}
	out.Body.OrgUnits, out.Body.NextPageToken = nonNil(units), next
	return out, nil
}

func (s *Server) getOrgUnit(ctx context.Context, in *OrgUnitPath) (*orgUnitOutput, error) {
	ou, err := s.services.OrgUnits.FindOrgUnitByID(ctx, in.Org, in.OU)
	if err != nil {
		return nil, err
	}
	return &orgUnitOutput{Body: ou}, nil
}

func (s *Server) updateOrgUnit(ctx context.Context, in *struct {
	OrgUnitPath
	Body orgUnitUpdateBody
}) (*orgUnitOutput, error) {
	ou, err := s.services.OrgUnits.UpdateOrgUnit(ctx, in.Org, in.OU, castellan.OrgUnitUpdate{Name: in.Body.Name, Description: in.Body.Description})
	if err != nil {
		return nil, err
	}
	return &orgUnitOutput{Body: ou}, nil
}

func (s *Server) moveOrgUnit(ctx context.Context, in *struct {
	OrgUnitPath
	Body parentBody
}) (*orgUnitOutput, error) {
	ou, err := s.services.OrgUnits.MoveOrgUnit(ctx, in.Org, in.OU, in.Body.ParentID)
	if err != nil {
		return nil, err
	}
	return &orgUnitOutput{Body: ou}, nil
}

func (s *Server) deleteOrgUnit(ctx context.Context, in *OrgUnitPath) (*revisionOutput, error) {
	rev, err := s.services.OrgUnits.DeleteOrgUnit(ctx, in.Org, in.OU)
	if err != nil {
		return nil, err
	}
	return revisionOf(rev), nil
}
