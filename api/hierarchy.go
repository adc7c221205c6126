package api

import (
	"context"
	"net/http"

	"github.com/castellan-iam/castellan"
)

// NodePath names one node of one organization's tree.
type NodePath struct {
	Org  string `path:"org" doc:"Organization ID (a UUID)."`
	Node string `path:"node" doc:"Node ID (a UUID): the root (the organization's ID), an OU, an account or a project."`
}

// KindsParam restricts a listing of nodes to some kinds.
type KindsParam struct {
	Kinds []string `query:"kinds" nullable:"false" doc:"Comma-separated kinds to list (root, ou, account, project); the default depends on the list."`
}

func (k KindsParam) nodeKinds() []castellan.NodeKind {
	kinds := make([]castellan.NodeKind, len(k.Kinds))
	for i, kind := range k.Kinds {
		kinds[i] = castellan.NodeKind(kind)
	}
	return kinds
}

type listNodesOutput struct {
	Body struct {
		Nodes         []*castellan.Node `json:"nodes" nullable:"false"`
		NextPageToken string            `json:"nextPageToken,omitempty" doc:"Token of the next page; absent on the last page."`
	}
}

// nodeDetails is a node with the nodes above it.
type nodeDetails struct {
	Node *castellan.Node `json:"node"`
	// Path is the nodes above the node, the root first.
	Path []castellan.NodeRef `json:"path" nullable:"false" doc:"The nodes above, the root first."`
}

type nodeOutput struct{ Body nodeDetails }

func (s *Server) registerHierarchy() {
	const tag = "Hierarchy"
	register(s, op{
		id: "get-tree", method: http.MethodGet, path: "/v1/organizations/{org}/tree", tag: tag,
		action: castellan.ActionListNodes, errors: []int{http.StatusNotFound},
		summary: "View the hierarchy",
		desc: "The tree from root_id (the organization's root by default) down, depth first, each node after its parent and siblings by kind " +
			"(OUs, then accounts, then projects) and name: ID, kind, name, email for accounts, creation and join times and depth. " +
			"Roots, OUs and accounts unless kinds says otherwise; page by page for large trees.",
	}, s.getTree)
	register(s, op{
		id: "get-node", method: http.MethodGet, path: "/v1/organizations/{org}/nodes/{node}", tag: tag,
		action: castellan.ActionGetNode, errors: []int{http.StatusNotFound},
		summary: "Get a node of the tree", desc: "The node, whatever its kind, with the nodes above it from the root.",
	}, s.getNode)
	register(s, op{
		id: "list-node-children", method: http.MethodGet, path: "/v1/organizations/{org}/nodes/{node}/children", tag: tag,
		action: castellan.ActionListNodes, errors: []int{http.StatusNotFound},
		summary: "List the sub-items of a node", desc: "The node's children by kind (OUs before accounts before projects), then name; OUs and accounts unless kinds says otherwise.",
	}, s.listNodeChildren)
}

func (s *Server) getTree(ctx context.Context, in *struct {
	OrgPath
	RootID string `query:"root_id" doc:"The node the view starts at; the organization's root when absent."`
	KindsParam
	PageParams
}) (*listNodesOutput, error) {
	nodes, next, err := s.services.Nodes.FindTree(ctx, in.Org, castellan.TreeFilter{
		RootID: in.RootID, Kinds: in.nodeKinds(), PageSize: in.PageSize, PageToken: in.PageToken})
	if err != nil {
		return nil, err
	}
	out := &listNodesOutput{}
	out.Body.Nodes, out.Body.NextPageToken = nonNil(nodes), next
	return out, nil
}

func (s *Server) getNode(ctx context.Context, in *NodePath) (*nodeOutput, error) {
	chain, err := s.services.Nodes.FindAncestors(ctx, in.Org, in.Node)
	if err != nil {
		return nil, err
	}
	out := &nodeOutput{Body: nodeDetails{Node: chain[0], Path: []castellan.NodeRef{}}}
	for i := len(chain) - 1; i >= 1; i-- {
		out.Body.Path = append(out.Body.Path, castellan.NodeRef{ID: chain[i].ID, Kind: chain[i].Kind, Name: chain[i].Name})
	}
	return out, nil
}

func (s *Server) listNodeChildren(ctx context.Context, in *struct {
	NodePath
	KindsParam
	PageParams
}) (*listNodesOutput, error) {
	nodes, next, err := s.services.Nodes.FindChildren(ctx, in.Org, in.Node, castellan.ChildFilter{
		Kinds: in.nodeKinds(), PageSize: in.PageSize, PageToken: in.PageToken})
	if err != nil {
		return nil, err
	}
	out := &listNodesOutput{}
	out.Body.Nodes, out.Body.NextPageToken = nonNil(nodes), next
	return out, nil
}
