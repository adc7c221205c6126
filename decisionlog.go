package castellan

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"
)

// DecisionLogMode says which decisions a process records.
type DecisionLogMode string

// Decision log modes: a process records no decision, a sample of them,
// or all. A process that records none writes nothing to the log.
const (
	DecisionLogOff    DecisionLogMode = "off"
	DecisionLogSample DecisionLogMode = "sample"
	DecisionLogAll    DecisionLogMode = "all"
)

// DecisionRecord is the decision log's aggregate of the decisions made
// about one principal, action and scope (the resource asked about) of an
// organization: how many, allowed and denied, and when.
type DecisionRecord struct {
	OrganizationID string        `json:"organizationId"`
	PrincipalType  PrincipalType `json:"principalType" enum:"user,serviceAccount"`
	PrincipalID    string        `json:"principalId"`
	Action         string        `json:"action"`
	Scope          string        `json:"scope"`
	// Count is Allowed + Denied: the recorded decisions (with sampling,
	// the sampled ones).
	Count     int64     `json:"count"`
	Allowed   int64     `json:"allowed"`
	Denied    int64     `json:"denied"`
	FirstSeen time.Time `json:"firstSeen"`
	LastSeen  time.Time `json:"lastSeen"`
	// LastAllowed is the last allowed decision; nil if none was.
	LastAllowed *time.Time `json:"lastAllowed,omitempty"`
}

// DecisionRecorder is one process recording decisions: its mode, and
// from when until when it recorded. A recorder heartbeats (SeenAt) at
// every flush, so a recorder whose heartbeat is older than two flush
// intervals has stopped.
type DecisionRecorder struct {
	ID            string
	Mode          DecisionLogMode
	SampleRate    float64
	FlushInterval time.Duration
	StartedAt     time.Time
	SeenAt        time.Time
}

// DecisionLogFilter selects decision records of one organization.
type DecisionLogFilter struct {
	// Principal, when set, selects one principal's records.
	Principal *Subject
	// Since, when not zero, selects records last seen at or after it.
	Since time.Time
	// AllowedSince, when not zero, selects records with an allowed
	// decision at or after it.
	AllowedSince time.Time
	PageSize     int
	PageToken    string
}

// DecisionLogPage is a page of decision records and the log's coverage.
type DecisionLogPage struct {
	Records  []*DecisionRecord
	Next     string
	Coverage DecisionLogCoverage
}

// DecisionLogCoverage says since when the decision log has recorded
// without interruption up to now, so that a reader knows whether what
// it did not find did not happen.
type DecisionLogCoverage struct {
	// RecordingSince is the start of the uninterrupted recording that
	// reaches now; nil when no process records now. Records older than
	// the retention are pruned, and RecordingSince never goes back
	// further than the oldest kept.
	RecordingSince *time.Time `json:"recordingSince,omitempty"`
	// Sampled is set when a process recorded only a sample during that
	// period: an action may have been used without being recorded.
	Sampled bool `json:"sampled"`
}

// Coverage merges recorders into the coverage at now: a recorder covers
// from its start until two flush intervals after its last heartbeat.
func Coverage(recorders []DecisionRecorder, now time.Time) DecisionLogCoverage {
	rs := append([]DecisionRecorder(nil), recorders...)
	// Latest end first: walk back from now while the intervals overlap.
	end := func(r DecisionRecorder) time.Time { return r.SeenAt.Add(2 * r.FlushInterval) }
	sort.Slice(rs, func(i, j int) bool { return end(rs[i]).After(end(rs[j])) })
	var c DecisionLogCoverage
	var since time.Time
	for _, r := range rs {
		if since.IsZero() {
			if end(r).Before(now) {
				return c // nobody records now
			}
		} else if end(r).Before(since) {
			break // a gap
		}
		if since.IsZero() || r.StartedAt.Before(since) {
			since = r.StartedAt
		}
		c.Sampled = c.Sampled || r.Mode == DecisionLogSample
	}
	if !since.IsZero() {
		c.RecordingSince = &since
	}
	return c
}

// Reasons why an unused-permissions answer may be incomplete.
const (
	// IncompleteNotRecording: no process records decisions now.
	IncompleteNotRecording = "not_recording"
	// IncompleteStartedLater: recording started after the period asked
	// about began.
	IncompleteStartedLater = "recording_started_after_since"
	// IncompleteSampled: decisions were sampled, not all recorded.
	IncompleteSampled = "sampled"
)

// UnusedPermissions lists, for each grant of a principal (direct and
// through its groups), the catalogue actions its role allows that the
// principal has not been allowed to do, anywhere under the grant's
// scope, since Since.
type UnusedPermissions struct {
	Principal Subject             `json:"principal"`
	Since     time.Time           `json:"since"`
	Coverage  DecisionLogCoverage `json:"coverage"`
	// Complete is set when the log recorded every decision since Since;
	// otherwise IncompleteReason says why an action listed as unused may
	// have been used.
	Complete         bool   `json:"complete"`
	IncompleteReason string `json:"incompleteReason,omitempty" enum:"not_recording,recording_started_after_since,sampled"`
	// Grants are the principal's live grants, by grant ID.
	Grants []UnusedGrant `json:"grants"`
}

// UnusedGrant is one grant of the principal and what of it was used.
type UnusedGrant struct {
	GrantID string `json:"grantId"`
	RoleID  string `json:"roleId"`
	Scope   string `json:"scope"`
	// Via is the group the grant reaches the principal through; nil for
	// direct grants.
	Via *Subject `json:"via,omitempty"`
	// UnusedActions and UsedActions split the catalogue actions the role
	// allows, sorted.
	UnusedActions []string `json:"unusedActions"`
	UsedActions   []string `json:"usedActions"`
}

// SetCompleteness sets u.Complete and u.IncompleteReason from its coverage and
// period.
func (u *UnusedPermissions) SetCompleteness() {
	switch c := u.Coverage; {
	case c.RecordingSince == nil:
		u.IncompleteReason = IncompleteNotRecording
	case c.RecordingSince.After(u.Since):
		u.IncompleteReason = IncompleteStartedLater
	case c.Sampled:
		u.IncompleteReason = IncompleteSampled
	}
	u.Complete = u.IncompleteReason == ""
}

// MaxUnusedPeriod bounds how far back an unused-permissions question
// may look.
const MaxUnusedPeriod = 10 * 365 * 24 * time.Hour

// ParseSince parses the start of a period: an RFC 3339 time, or a
// duration back from now ("720h", "90d" for days). It must not be in
// the future. field names the input in errors.
func ParseSince(field, s string, now time.Time) (time.Time, error) {
	bad := func(rule, msg string) (time.Time, error) {
		return time.Time{}, &Error{Kind: EINVALID, Code: CodeInvalidField,
			Message: fmt.Sprintf("%s: %s", field, msg),
			Fields:  []FieldError{{Field: field, Rule: rule, Message: msg}}}
	}
	if s == "" {
		return bad("required", "is required: an RFC 3339 time or a duration such as 720h or 90d")
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		if t.After(now) {
			return bad("maximum", "must not be in the future")
		}
		return t, nil
	}
	var d time.Duration
	if days, ok := strings.CutSuffix(s, "d"); ok {
		var n int
		if _, err := fmt.Sscanf(days, "%d", &n); err != nil || fmt.Sprint(n) != days || n < 0 {
			return bad("format", "must be an RFC 3339 time or a duration such as 720h or 90d")
		}
		if n > int(MaxUnusedPeriod/(24*time.Hour)) {
			return bad("range", "must be a duration between 0 and 10 years")
		}
		d = time.Duration(n) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return bad("format", "must be an RFC 3339 time or a duration such as 720h or 90d")
		}
	}
	if d < 0 || d > MaxUnusedPeriod {
		return bad("range", "must be a duration between 0 and 10 years")
	}
	return now.Add(-d), nil
}

// DecisionLogService keeps the decision log: aggregated decisions and
// the processes recording them. Recording and pruning are bookkeeping:
// they take no revision and write no audit event.
type DecisionLogService interface {
	// RecordDecisions adds records to the log, merging each into the
	// record of the same organization, principal, action and scope
	// (counts added, first and last seen widened), and heartbeats
	// recorder, in one transaction. Through the guard, only the
	// operator records (EFORBIDDEN operator.required).
	RecordDecisions(ctx context.Context, recorder DecisionRecorder, records []DecisionRecord) error
	// FindDecisionRecords lists an organization's records by principal,
	// action and scope, with the log's coverage. Returns EINVALID
	// (request.invalid_page_token).
	FindDecisionRecords(ctx context.Context, orgID string, filter DecisionLogFilter) (*DecisionLogPage, error)
	// UnusedPermissions lists the actions of each of the subject's live
	// grants (a user's through its groups too) the subject was not
	// allowed to do since `since`, with the log's coverage. Returns
	// EINVALID (request.invalid_field) for a subject that is not a user
	// or service account, ENOTFOUND (user.not_found,
	// service_account.not_found).
	UnusedPermissions(ctx context.Context, orgID string, subject Subject, since time.Time) (*UnusedPermissions, error)
	// DeleteDecisionRecordsBefore prunes the records last seen and the
	// recorders last heard of before `before`, and moves the start of
	// older recorders up to it; it returns how many records it deleted.
	// Through the guard, only the operator prunes.
	DeleteDecisionRecordsBefore(ctx context.Context, before time.Time) (int, error)
}
