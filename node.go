package castellan

import (
	"context"
	"time"
)

// Node is one node of an organization's tree, whatever its kind: the
// root (whose ID is the organization's), an organizational unit, an
// account or a project. The hierarchy view, sub-item lists and the
// authorizer's ancestry read nodes.
type Node struct {
	ID             string   `json:"id"`
	OrganizationID string   `json:"organizationId"`
	Kind           NodeKind `json:"kind" enum:"root,ou,account,project"`
	// ParentID is empty for the root.
	ParentID string `json:"parentId,omitempty"`
	Name     string `json:"name"`
	// Email is the root user email of an account; empty for other kinds.
	Email string `json:"email,omitempty"`
	// Depth is the number of edges from the root: 0 for the root, 1 for
	// its children.
	Depth     int       `json:"depth"`
	CreatedAt time.Time `json:"createdAt"`
	// JoinedAt is when an account joined the organization: its creation,
	// or the acceptance of its invitation. Zero for other kinds.
	JoinedAt  time.Time `json:"joinedAt,omitzero"`
	UpdatedAt time.Time `json:"updatedAt"`
	Revision  int64     `json:"revision"`
}

// NodeRef names a node in a path, as details pages show the parents of
// an OU or account ("higher-level organization unit").
type NodeRef struct {
	ID   string   `json:"id"`
	Kind NodeKind `json:"kind" enum:"root,ou,account,project"`
	Name string   `json:"name"`
}

// Scope returns the grant scope of the node: organization/<id> for the
// root, ou/<id>, account/<id> or project/<id>.
func (n *Node) Scope() Scope { return NodeScope(n.Kind, n.ID) }

// NodeScope returns the grant scope of a node of the kind.
func NodeScope(kind NodeKind, id string) Scope {
	switch kind {
	case NodeRoot:
		return OrganizationScope(id)
	case NodeOU:
		return Scope{Kind: ScopeOU, ID: id}
	case NodeAccount:
		return Scope{Kind: ScopeAccount, ID: id}
	}
	return ProjectScope(id)
}

// NodeNotFound is the error for a node of the kind that is not in the
// organization: ou.not_found, account.not_found, project.not_found, or
// node.not_found for a root.
func NodeNotFound(kind NodeKind, id string) *Error {
	switch kind {
	case NodeOU:
		return Errorf(ENOTFOUND, CodeOUNotFound, "OU %s not found", id)
	case NodeAccount:
		return Errorf(ENOTFOUND, CodeAccountNotFound, "account %s not found", id)
	case NodeProject:
		return Errorf(ENOTFOUND, CodeProjectNotFound, "project %s not found", id)
	}
	return Errorf(ENOTFOUND, CodeNodeNotFound, "node %s not found", id)
}

// Limits of the tree.
const (
	// MaxOUDepth is the deepest level of an organizational unit below
	// the root (seed 001: "up to five levels below Root").
	MaxOUDepth = 5
)

// TreeFilter pages through the hierarchy view.
type TreeFilter struct {
	// RootID starts the view at a node (the root, an OU or an account);
	// empty for the organization's root.
	RootID string
	// Kinds restricts the nodes listed; empty lists roots, OUs and
	// accounts (projects are many and have their own list).
	Kinds     []NodeKind
	PageSize  int
	PageToken string
}

// ChildFilter pages through the children of one node.
type ChildFilter struct {
	// Kinds restricts the children listed; empty lists OUs and accounts
	// (the seed's "sub-items").
	Kinds     []NodeKind
	PageSize  int
	PageToken string
}

// NodeService reads the tree of an organization. Every method takes the
// organization; a node of another organization is not found.
// MaxFindNodes bounds NodeService.FindNodesByID.
const MaxFindNodes = 1000

type NodeService interface {
	// FindNodeByID returns ENOTFOUND (node.not_found).
	FindNodeByID(ctx context.Context, orgID, id string) (*Node, error)
	// FindNodesByID returns the nodes of the organization with the IDs,
	// in no order; an ID that names none is left out. At most
	// MaxFindNodes IDs; EINVALID beyond.
	FindNodesByID(ctx context.Context, orgID string, ids []string) ([]*Node, error)
	// FindAncestors returns the node and every node above it, the node
	// first and the root last. ENOTFOUND (node.not_found).
	FindAncestors(ctx context.Context, orgID, id string) ([]*Node, error)
	// FindChildren lists the children of a node by kind (OUs before
	// accounts before projects), then name and ID. ENOTFOUND
	// (node.not_found) for an unknown parent.
	FindChildren(ctx context.Context, orgID, parentID string, filter ChildFilter) (nodes []*Node, next string, err error)
	// FindTree lists the tree below filter.RootID (inclusive) in depth
	// first order, each node after its parent and siblings by kind, then
	// name, so a client can draw it page by page.
	FindTree(ctx context.Context, orgID string, filter TreeFilter) (nodes []*Node, next string, err error)
}
