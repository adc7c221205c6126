package api

import (
	"context"
	"net/http"
	"strings"

	"github.com/castellan-iam/castellan"
)

type listDecisionLogInput struct {
	OrgPath
	PageParams
	Principal string `query:"principal" doc:"Only the records of this principal: user/<id> or serviceAccount/<id>."`
	Since     string `query:"since" doc:"Only records last seen at or after this time: RFC 3339, or a duration back from now such as 24h or 90d."`
}

type listDecisionLogOutput struct {
	Body struct {
		Records       []*castellan.DecisionRecord   `json:"records" nullable:"false"`
		Coverage      castellan.DecisionLogCoverage `json:"coverage" doc:"Since when the log has recorded without interruption, and whether it sampled."`
		NextPageToken string                        `json:"nextPageToken,omitempty" doc:"Token of the next page; absent on the last page."`
	}
}

type unusedPermissionsInput struct {
	UserPath
	Since string `query:"since" required:"true" doc:"Start of the period: RFC 3339, or a duration back from now such as 720h or 90d."`
}

type serviceAccountUnusedPermissionsInput struct {
	ServiceAccountPath
	Since string `query:"since" required:"true" doc:"Start of the period: RFC 3339, or a duration back from now such as 720h or 90d."`
}

type unusedPermissionsOutput struct{ Body *castellan.UnusedPermissions }

const unusedPermissionsDesc = "For each live grant of the principal (for a user, direct and through its groups), the catalogue " +
	"actions its role allows, split into those the principal was allowed to do since `since` (on the grant's scope or anything " +
	"under it) and those it was not, from the decision log, so that administrators can shrink roles. `complete` is false, with " +
	"`incompleteReason`, when the log did not record every decision since then (off, started later, or sampling): an action " +
	"listed as unused may then have been used."

func (s *Server) registerDecisionLog() {
	register(s, op{
		id: "list-decision-log", method: http.MethodGet, path: "/v1/organizations/{org}/decisionLog", tag: "Decisions",
		action: castellan.ActionListDecisionLog, errors: []int{http.StatusNotFound},
		summary: "List the decision log",
		desc: "The organization's decisions as the decision log aggregates them: per principal, action and scope, how many were " +
			"allowed and denied, first and last seen. Recorded when castellan serve runs with --decision-log sample or all.",
	}, s.listDecisionLog)
	register(s, op{
		id: "get-user-unused-permissions", method: http.MethodGet, path: "/v1/organizations/{org}/users/{user}/unusedPermissions", tag: "Users",
		action: castellan.ActionGetUnusedPermissions, errors: []int{http.StatusNotFound},
		summary: "List a user's unused permissions", desc: unusedPermissionsDesc,
	}, s.userUnusedPermissions)
	register(s, op{
		id: "get-service-account-unused-permissions", method: http.MethodGet,
		path: "/v1/organizations/{org}/projects/{project}/serviceAccounts/{serviceAccount}/unusedPermissions", tag: "Service accounts",
		action: castellan.ActionGetUnusedPermissions, errors: []int{http.StatusNotFound},
		summary: "List a service account's unused permissions", desc: unusedPermissionsDesc,
	}, s.serviceAccountUnusedPermissions)
}

func (s *Server) listDecisionLog(ctx context.Context, in *listDecisionLogInput) (*listDecisionLogOutput, error) {
	f := castellan.DecisionLogFilter{PageSize: in.PageSize, PageToken: in.PageToken}
	if in.Principal != "" {
		p, err := parsePrincipalFilter(in.Principal)
		if err != nil {
			return nil, err
		}
		f.Principal = &p
	}
	if in.Since != "" {
		since, err := castellan.ParseSince("since", in.Since, s.clock())
		if err != nil {
			return nil, err
		}
		f.Since = since
	}
	page, err := s.services.DecisionLog.FindDecisionRecords(ctx, in.Org, f)
	if err != nil {
		return nil, err
	}
	out := &listDecisionLogOutput{}
	out.Body.Records, out.Body.Coverage, out.Body.NextPageToken = nonNil(page.Records), page.Coverage, page.Next
	return out, nil
}

// parsePrincipalFilter parses user/<id> or serviceAccount/<id>.
func parsePrincipalFilter(v string) (castellan.Subject, error) {
	for _, t := range []castellan.SubjectType{castellan.SubjectUser, castellan.SubjectServiceAccount} {
		if id, ok := strings.CutPrefix(v, string(t)+"/"); ok && castellan.ValidID(id) {
			return castellan.Subject{Type: t, ID: id}, nil
		}
	}
	return castellan.Subject{}, castellan.Invalid([]castellan.FieldError{{Field: "principal", Rule: "format", Message: "must be user/<id> or serviceAccount/<id>"}})
}

func (s *Server) userUnusedPermissions(ctx context.Context, in *unusedPermissionsInput) (*unusedPermissionsOutput, error) {
	since, err := castellan.ParseSince("since", in.Since, s.clock())
	if err != nil {
		return nil, err
	}
	u, err := s.services.DecisionLog.UnusedPermissions(ctx, in.Org, castellan.Subject{Type: castellan.SubjectUser, ID: in.User}, since)
	if err != nil {
		return nil, err
	}
	return &unusedPermissionsOutput{Body: u}, nil
}

func (s *Server) serviceAccountUnusedPermissions(ctx context.Context, in *serviceAccountUnusedPermissionsInput) (*unusedPermissionsOutput, error) {
	since, err := castellan.ParseSince("since", in.Since, s.clock())
	if err != nil {
		return nil, err
	}
	if _, err := s.projectServiceAccount(ctx, in.Org, in.Project, in.ServiceAccount); err != nil {
		return nil, err
	}
	u, err := s.services.DecisionLog.UnusedPermissions(ctx, in.Org, castellan.Subject{Type: castellan.SubjectServiceAccount, ID: in.ServiceAccount}, since)
	if err != nil {
		return nil, err
	}
	return &unusedPermissionsOutput{Body: u}, nil
}
