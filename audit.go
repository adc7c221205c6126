package castellan

import (
	"context"
	"encoding/json"
	"time"
)

// AuditEvent records one mutation: who did what to which target, from where,
// and what changed. It is written in the transaction of the mutation.
type AuditEvent struct {
	ID             string `json:"id"`
	OrganizationID string `json:"organizationId"`
	// Revision is the change-log revision the mutation produced.
	Revision   int64        `json:"revision"`
	OccurredAt time.Time    `json:"occurredAt"`
	Actor      Principal    `json:"actor"`
	Action     string       `json:"action"`
	Target     AuditTarget  `json:"target"`
	RequestID  string       `json:"requestId"`
	SourceIP   string       `json:"sourceIp"`
	Summary    AuditSummary `json:"summary"`
}

// AuditTarget names the entity a mutation changed.
type AuditTarget struct {
	Type string `json:"type"`
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
}

// AuditSummary is the change in a few fields: the values set on create, the
// old and new values on update, the last values on delete.
type AuditSummary map[string]json.RawMessage

// AuditFilter selects audit events of one organization. Nil fields match
// everything; the time range is [Since, Until).
type AuditFilter struct {
	ActorID    *string
	Action     *string
	TargetID   *string
	TargetType *string
	Since      *time.Time
	Until      *time.Time
	PageSize   int
	PageToken  string
}

// AuditService reads the audit log. Events are listed newest first.
type AuditService interface {
	// FindAuditEvents returns EINVALID (request.invalid_page_token) for a
	// token it did not issue.
	FindAuditEvents(ctx context.Context, orgID string, filter AuditFilter) (events []*AuditEvent, next string, err error)
}

// Page sizes shared by every list operation.
const (
	DefaultPageSize = 50
	MaxPageSize     = 1000
)

// PageSize returns the effective page size for a requested one.
func PageSize(requested int) int {
	switch {
	case requested <= 0:
		return DefaultPageSize
	case requested > MaxPageSize:
		return MaxPageSize
	}
	return requested
}
