package castellan

import (
	"context"
	"time"
)

// AuthzSource is the store as the authorization index (package index)
// loads it: a few plain streaming reads of the rows decisions depend on,
// rather than a service call per entity. sqlstore's *DB is one.
type AuthzSource interface {
	// ReadAuthz calls read with a reader whose reads all see one state of
	// the store (one read-only transaction), and returns read's error.
	ReadAuthz(ctx context.Context, read func(AuthzReader) error) error
}

// AuthzReader reads one state of the store for the index. Each method
// streams rows to each, in no particular order unless it says so, and
// stops at the first error each returns. ids filters by ID where a method
// takes them: nil reads every row of the organization, an empty slice
// none.
type AuthzReader interface {
	// Revision is the newest revision the reads see.
	Revision() int64
	// Organizations gives the ID of every organization.
	Organizations(each func(id string) error) error
	// Nodes gives every node of the organization (none when there is no
	// such organization).
	Nodes(orgID string, each func(AuthzNode) error) error
	// Users gives the users with the IDs that may act: not deleted.
	Users(orgID string, ids []string, each func(id string) error) error
	// Memberships gives the groups of the users with the IDs.
	Memberships(orgID string, userIDs []string, each func(userID, groupID string) error) error
	// ServiceAccounts gives the service accounts with the IDs.
	ServiceAccounts(orgID string, ids []string, each func(id string) error) error
	// Roles gives the organization's custom roles.
	Roles(orgID string, each func(*Role) error) error
	// Grants gives the grants with the IDs.
	Grants(orgID string, ids []string, each func(AuthzGrant) error) error
	// Attachments gives the control policies attached to the nodes of the
	// organization, each node's by attachment time.
	Attachments(orgID string, each func(nodeID string, policy *ControlPolicy) error) error
}

// AuthzNode is a node of the tree as decisions see it.
type AuthzNode struct {
	ID string
	// ParentID is empty for the root.
	ParentID string
	Kind     NodeKind
	Name     string
}

// AuthzGrant is a grant as decisions see it.
type AuthzGrant struct {
	ID      string
	RoleID  string
	Scope   string
	Subject Subject
	// ExpiresAt is nil for a grant that does not expire.
	ExpiresAt *time.Time
}
