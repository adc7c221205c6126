package api

import (
	"context"
	"net/http"
	"time"

	"github.com/castellan-iam/castellan"
)

type listAuditEventsInput struct {
	OrgPath
	PageParams
	ActorID    string    `query:"actor" doc:"Only events of this actor (user or operator token ID)."`
	Action     string    `query:"action" doc:"Only events of this action, such as organizations:CreateProject."`
	TargetID   string    `query:"target" doc:"Only events about this target ID."`
	TargetType string    `query:"target_type" doc:"Only events about targets of this type: organization, project, …"`
	Since      time.Time `query:"since" doc:"Only events at or after this time (RFC 3339)."`
	Until      time.Time `query:"until" doc:"Only events before this time (RFC 3339)."`
}

type listAuditEventsOutput struct {
	Body struct {
		AuditEvents   []*castellan.AuditEvent `json:"auditEvents" nullable:"false"`
		NextPageToken string                  `json:"nextPageToken,omitempty" doc:"Token of the next page; absent on the last page."`
	}
}

func optional[T comparable](v T) *T {
	var zero T
	if v == zero {
		return nil
	}
	return &v
}

func (s *Server) registerAudit() {
	register(s, op{
		id: "list-audit-events", method: http.MethodGet, path: "/v1/organizations/{org}/audit-events", tag: "Audit",
		action: castellan.ActionListAuditEvents, errors: []int{http.StatusNotFound},
		summary: "List audit events", desc: "Every mutation of the organization, newest first, with actor, action, target, request ID, source IP and a summary of the change.",
	}, s.listAuditEvents)
}

func (s *Server) listAuditEvents(ctx context.Context, in *listAuditEventsInput) (*listAuditEventsOutput, error) {
	events, next, err := s.services.Audit.FindAuditEvents(ctx, in.Org, castellan.AuditFilter{
		ActorID: optional(in.ActorID), Action: optional(in.Action),
		TargetID: optional(in.TargetID), TargetType: optional(in.TargetType),
		Since: optional(in.Since), Until: optional(in.Until),
		PageSize: in.PageSize, PageToken: in.PageToken,
	})
	if err != nil {
		return nil, err
	}
	out := &listAuditEventsOutput{}
	out.Body.AuditEvents, out.Body.NextPageToken = nonNil(events), next
	return out, nil
}
