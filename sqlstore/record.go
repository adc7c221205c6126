package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/castellan-iam/castellan"
	"github.com/google/uuid"
)

// change describes one mutation for the change log and the audit log.
//
// Change-log entity types: organization, node, project, user, api_token,
// group, role, grant, service_account, access_key, invitation (entity_id
// the row's ID), group_member (entity_id "<group-id>/<user-id>") and
// user_mfa (a user's second factors; entity_id the user's ID). The
// organization's structure: node (an OU or account; a move records the
// moved node only, its subtree moves with it), control_policy,
// policy_attachment ("<node-id>/<policy-id>") and account_invitation.
// Role identities: role_identity and role_session (ending a session is
// its delete row, though its tombstone stays). Deleting a
// group, a role, a service account or a project, or the sweep of expired
// grants, writes one delete row per grant, membership, account and access
// key it removes, so that a reader of the change log never has to infer
// them.
//
// The token cache (package authn) evicts by these rows: every write that
// can make a token unusable — a change of its user (status, apiAccess,
// allow sources), its service account, its access key or the key's
// project, its organization, or the token itself — must record a row
// naming that entity. Signing users out (signOut: a removed group
// member, the members of a deleted group, a deleted user) deletes their
// tokens, so it records an api_token delete row per user token, an
// access_key update row per key whose tokens went, and a console_session
// delete row per session.
type change struct {
	orgID      string
	action     castellan.Action
	entityType string
	entityID   string
	entityName string
	// operation is create, update or delete; "" when the target only names
	// what the audit event is about (a batch of grants, the members of a
	// group) and the change-log rows are all in also.
	operation string
	summary   map[string]any
	// also lists further entities the mutation touched (bootstrap creates
	// an organization, its root, a user and a token); each gets a change-log
	// row under the same revision.
	also []changedEntity
}

type changedEntity struct {
	entityType, entityID, operation string
}

// entities are the change-log rows of c.
func (c change) entities() []changedEntity {
	if c.operation == "" {
		return c.also
	}
	return append([]changedEntity{{c.entityType, c.entityID, c.operation}}, c.also...)
}

// record writes the change-log rows and the audit event of the
// transaction's mutation and returns its revision.
func (tx *Tx) record(ctx context.Context, c change) (int64, error) {
	rev := tx.revision
	tx.recorded = true
	entities := c.entities()
	rows := make([][]any, len(entities))
	for i, e := range entities {
		rows[i] = []any{rev, c.orgID, e.entityType, e.entityID, e.operation, tx.now}
	}
	err := tx.insertRows(ctx, `INSERT INTO change_log (revision, org_id, entity_type, entity_id, operation, occurred_at) VALUES `, rows)
	if err != nil {
		return 0, fmt.Errorf("change log: %w", err)
	}
	// A change made over SCIM names the token, beside its actor (the
	// token's creator).
	if tx.actor.SCIMTokenID != "" {
		c.summary = withEntries(map[string]any{"scimTokenId": tx.actor.SCIMTokenID}, c.summary)
	}
	summary, err := json.Marshal(c.summary)
	if err != nil {
		return 0, fmt.Errorf("audit summary: %w", err)
	}
	if c.summary == nil {
		summary = []byte("{}")
	}
	_, err = tx.exec(ctx, `INSERT INTO audit_events (id, org_id, revision, occurred_at, actor_type, actor_id, actor_org,
			action, target_type, target_id, target_name, request_id, source_ip, summary)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		newID(), c.orgID, rev, tx.now, string(tx.actor.Type), tx.actor.ID, tx.actor.OrganizationID,
		string(c.action), c.entityType, c.entityID, c.entityName, tx.info.RequestID, tx.info.SourceIP, string(summary))
	if err != nil {
		return 0, fmt.Errorf("audit event: %w", err)
	}
	return rev, nil
}

// diff is an update's audit summary entry.
type diff struct {
	Old any `json:"old"`
	New any `json:"new"`
}

// newID returns a time-ordered UUID (version 7) for a new row.
func newID() string {
	return uuid.Must(uuid.NewV7()).String()
}

// notFound is the error every Find method returns for a missing row.
func notFound(code, what, id string) error {
	return castellan.Errorf(castellan.ENOTFOUND, code, "%s %s not found", what, id)
}
