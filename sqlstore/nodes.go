package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/castellan-iam/castellan"
)

// NodeService implements castellan.NodeService on the nodes table.
type NodeService struct{ db *DB }

var _ castellan.NodeService = (*NodeService)(nil)

// Nodes returns the node service of db.
func (db *DB) Nodes() *NodeService { return &NodeService{db: db} }

// nodePath is the materialized path of a node with the ID under a parent
// of path parentPath ("" for the root): "/<root>/…/<id>/".
func nodePath(parentPath, id string) string {
	if parentPath == "" {
		return "/" + id + "/"
	}
	return parentPath + id + "/"
}

// pathIDs returns the IDs of a materialized path, the root first.
func pathIDs(path string) []string {
	return strings.Split(strings.Trim(path, "/"), "/")
}

// nodeDepth is the number of edges from the root to the node of path.
func nodeDepth(path string) int { return strings.Count(path, "/") - 2 }

// nodeRow is a node as read, with its path.
type nodeRow struct {
	castellan.Node
	path string
}

const nodeSelect = `SELECT n.id, n.org_id, n.kind, COALESCE(n.parent_id, ''), n.name, COALESCE(a.email, ''), n.path,
	n.created_at, a.joined_at, n.updated_at, n.revision
	FROM nodes n LEFT JOIN accounts a ON a.id = n.id`

func scanNode(row scanner) (*nodeRow, error) {
	var n nodeRow
	var joined sql.NullTime
	err := row.Scan(&n.ID, &n.OrganizationID, &n.Kind, &n.ParentID, &n.Name, &n.Email, &n.path,
		&n.CreatedAt, &joined, &n.UpdatedAt, &n.Revision)
	if err != nil {
		return nil, err
	}
	n.Depth = nodeDepth(n.path)
	n.CreatedAt, n.UpdatedAt = n.CreatedAt.UTC(), n.UpdatedAt.UTC()
	if joined.Valid {
		n.JoinedAt = joined.Time.UTC()
	}
	return &n, nil
}

// findNode reads one node of the organization through queryRow (the
// reader pool or a transaction); ENOTFOUND (node.not_found).
func findNode(ctx context.Context, queryRow func(context.Context, string, ...any) *sql.Row, orgID, id string) (*nodeRow, error) {
	n, err := scanNode(queryRow(ctx, nodeSelect+` WHERE n.org_id = ? AND n.id = ?`, orgID, id))
	if isNoRows(err) {
		return nil, notFound(castellan.CodeNodeNotFound, "node", id)
	}
	return n, err
}

// FindNodeByID implements castellan.NodeService.
func (s *NodeService) FindNodeByID(ctx context.Context, orgID, id string) (*castellan.Node, error) {
	n, err := findNode(ctx, s.db.queryRow, orgID, id)
	if err != nil {
		return nil, err
	}
	return &n.Node, nil
}

// FindNodesByID implements castellan.NodeService: one read.
func (s *NodeService) FindNodesByID(ctx context.Context, orgID string, ids []string) ([]*castellan.Node, error) {
	if len(ids) > castellan.MaxFindNodes {
		return nil, castellan.Invalid([]castellan.FieldError{{Field: "ids", Rule: "maxItems",
			Message: fmt.Sprintf("at most %d", castellan.MaxFindNodes)}})
	}
	if len(ids) == 0 {
		return nil, nil
	}
	in, args := inList(unique(ids))
	rows, err := s.db.query(ctx, nodeSelect+` WHERE `+s.db.dialect.byKey("n.org_id")+` = ? AND n.id IN `+in, append([]any{orgID}, args...)...)
	if err != nil {
		return nil, err
	}
	found, err := collect(rows, scanNode)
	if err != nil {
		return nil, err
	}
	return publicNodes(found), nil
}

// FindAncestors implements castellan.NodeService: one read of the node,
// one of the nodes on its path.
func (s *NodeService) FindAncestors(ctx context.Context, orgID, id string) ([]*castellan.Node, error) {
	rows, err := ancestors(ctx, s.db.query, s.db.queryRow, orgID, id)
	if err != nil {
		return nil, err
	}
	return publicNodes(rows), nil
}

// publicNodes are the nodes of rows, without their paths.
func publicNodes(rows []*nodeRow) []*castellan.Node {
	nodes := make([]*castellan.Node, len(rows))
	for i, r := range rows {
		nodes[i] = &r.Node
	}
	return nodes
}

// ancestors returns the node and the nodes above it, the node first and
// the root last.
func ancestors(ctx context.Context, query func(context.Context, string, ...any) (*sql.Rows, error),
	queryRow func(context.Context, string, ...any) *sql.Row, orgID, id string) ([]*nodeRow, error) {
	n, err := findNode(ctx, queryRow, orgID, id)
	if err != nil {
		return nil, err
	}
	ids := pathIDs(n.path)
	if len(ids) == 1 {
		return []*nodeRow{n}, nil
	}
	above := ids[:len(ids)-1]
	q := nodeSelect + ` WHERE n.org_id = ? AND n.id IN (?` + strings.Repeat(", ?", len(above)-1) + `)`
	args := []any{orgID}
	for _, a := range above {
		args = append(args, a)
	}
	rows, err := query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	found, err := collect(rows, scanNode)
	if err != nil {
		return nil, err
	}
	byID := make(map[string]*nodeRow, len(found))
	for _, f := range found {
		byID[f.ID] = f
	}
	chain := []*nodeRow{n}
	for i := len(above) - 1; i >= 0; i-- {
		a, ok := byID[above[i]]
		if !ok {
			return nil, fmt.Errorf("node %s: ancestor %s missing", id, above[i])
		}
		chain = append(chain, a)
	}
	return chain, nil
}

// kindOrder sorts siblings: OUs, then accounts, then projects.
var kindOrder = map[castellan.NodeKind]int{castellan.NodeRoot: 0, castellan.NodeOU: 1, castellan.NodeAccount: 2, castellan.NodeProject: 3}

// kindsFilter returns the SQL condition and arguments selecting kinds;
// defaults are used when kinds is empty.
func kindsFilter(kinds, defaults []castellan.NodeKind) (string, []any, error) {
	if len(kinds) == 0 {
		kinds = defaults
	}
	var args []any
	for i, k := range kinds {
		if _, ok := kindOrder[k]; !ok {
			return "", nil, castellan.Invalid([]castellan.FieldError{{Field: fmt.Sprintf("kinds[%d]", i), Rule: "enum", Message: "must be root, ou, account or project"}})
		}
		args = append(args, string(k))
	}
	return ` AND n.kind IN (?` + strings.Repeat(", ?", len(kinds)-1) + `)`, args, nil
}

// FindChildren implements castellan.NodeService.
func (s *NodeService) FindChildren(ctx context.Context, orgID, parentID string, f castellan.ChildFilter) ([]*castellan.Node, string, error) {
	cur, err := decodeCursor(f.PageToken, "children", 3)
	if err != nil {
		return nil, "", err
	}
	if _, err := findNode(ctx, s.db.queryRow, orgID, parentID); err != nil {
		return nil, "", err
	}
	kinds, kindArgs, err := kindsFilter(f.Kinds, []castellan.NodeKind{castellan.NodeOU, castellan.NodeAccount})
	if err != nil {
		return nil, "", err
	}
	// Kinds sort by their order through a CASE, so that the key is one
	// comparable tuple in both dialects.
	order := `CASE n.kind WHEN 'ou' THEN 1 WHEN 'account' THEN 2 ELSE 3 END`
	q := nodeSelect + ` WHERE n.org_id = ? AND n.parent_id = ?` + kinds
	args := append([]any{orgID, parentID}, kindArgs...)
	if cur != nil {
		// The kind's order is a number: SQLite ranks every number below
		// every text, so the cursor's text must not be compared as it is.
		kind, err := strconv.Atoi(cur.Key[0])
		if err != nil {
			return nil, "", errBadPageToken()
		}
		q += ` AND (` + order + ` > ? OR (` + order + ` = ? AND (n.name > ? OR (n.name = ? AND n.id > ?))))`
		args = append(args, kind, kind, cur.Key[1], cur.Key[1], cur.Key[2])
	}
	size := castellan.PageSize(f.PageSize)
	rows, err := s.db.query(ctx, q+` ORDER BY `+order+`, n.name, n.id LIMIT ?`, append(args, size+1)...)
	if err != nil {
		return nil, "", err
	}
	found, err := collect(rows, scanNode)
	if err != nil {
		return nil, "", err
	}
	found, next := pageOf(found, size, func(n *nodeRow) cursor {
		return cursor{List: "children", Key: []string{fmt.Sprint(kindOrder[n.Kind]), n.Name, n.ID}}
	})
	return plainNodes(found), next, nil
}

func plainNodes(rows []*nodeRow) []*castellan.Node {
	nodes := make([]*castellan.Node, len(rows))
	for i, r := range rows {
		nodes[i] = &r.Node
	}
	return nodes
}

// FindTree implements castellan.NodeService. It reads the subtree's nodes
// of the asked kinds in one indexed range read of their paths, orders
// them depth first in memory and returns the page after the cursor's
// node: the structure above accounts is at most a few thousand nodes.
func (s *NodeService) FindTree(ctx context.Context, orgID string, f castellan.TreeFilter) ([]*castellan.Node, string, error) {
	cur, err := decodeCursor(f.PageToken, "tree", 1)
	if err != nil {
		return nil, "", err
	}
	rootID := f.RootID
	if rootID == "" {
		rootID = orgID
	}
	top, err := findNode(ctx, s.db.queryRow, orgID, rootID)
	if err != nil {
		return nil, "", err
	}
	kinds, kindArgs, err := kindsFilter(f.Kinds, []castellan.NodeKind{castellan.NodeRoot, castellan.NodeOU, castellan.NodeAccount})
	if err != nil {
		return nil, "", err
	}
	rows, err := s.db.query(ctx, nodeSelect+` WHERE n.org_id = ? AND n.path >= ? AND n.path < ?`+kinds,
		append([]any{orgID, top.path, top.path[:len(top.path)-1] + "0"}, kindArgs...)...)
	if err != nil {
		return nil, "", err
	}
	found, err := collect(rows, scanNode)
	if err != nil {
		return nil, "", err
	}
	ordered := depthFirst(top.ID, found)
	start := 0
	if cur != nil {
		i := slices.IndexFunc(ordered, func(n *nodeRow) bool { return n.ID == cur.Key[0] })
		if i < 0 {
			// The cursor's node was deleted or moved out: the client
			// starts again rather than miss nodes silently.
			return nil, "", errBadPageToken()
		}
		start = i + 1
	}
	page, next := pageOf(ordered[start:], castellan.PageSize(f.PageSize), func(n *nodeRow) cursor {
		return cursor{List: "tree", Key: []string{n.ID}}
	})
	return plainNodes(page), next, nil
}

// depthFirst orders nodes depth first from the node topID, each node
// after its parent, siblings by kind, name and ID. Nodes whose parent is
// not among nodes (a kind filtered out) follow their nearest listed
// ancestor.
func depthFirst(topID string, nodes []*nodeRow) []*nodeRow {
	listed := make(map[string]bool, len(nodes))
	for _, n := range nodes {
		listed[n.ID] = true
	}
	children := map[string][]*nodeRow{}
	var top *nodeRow
	for _, n := range nodes {
		if n.ID == topID {
			top = n
			continue
		}
		ids := pathIDs(n.path)
		parent := topID
		for i := len(ids) - 2; i >= 0; i-- {
			if listed[ids[i]] || ids[i] == topID {
				parent = ids[i]
				break
			}
		}
		children[parent] = append(children[parent], n)
	}
	for _, c := range children {
		slices.SortFunc(c, func(a, b *nodeRow) int {
			if d := kindOrder[a.Kind] - kindOrder[b.Kind]; d != 0 {
				return d
			}
			if d := strings.Compare(a.Name, b.Name); d != 0 {
				return d
			}
			return strings.Compare(a.ID, b.ID)
		})
	}
	out := make([]*nodeRow, 0, len(nodes))
	var walk func(id string)
	walk = func(id string) {
		for _, c := range children[id] {
			out = append(out, c)
			walk(c.ID)
		}
	}
	if top != nil {
		out = append(out, top)
	}
	walk(topID)
	return out
}

// lockStructure takes the organization's row exclusively for a change of
// the tree's shape (create, move or delete of an OU, account or project
// parent): such writes run one at a time per organization, so each sees
// the tree the previous one left and no two moves can make a cycle or
// exceed the depth limit together. Returns ENOTFOUND
// (organization.not_found).
func lockStructure(ctx context.Context, tx *Tx, orgID string) error {
	var id string
	err := tx.queryRow(ctx, `SELECT id FROM organizations WHERE id = ?`+tx.db.dialect.lockExclusive, orgID).Scan(&id)
	if isNoRows(err) {
		return notFound(castellan.CodeOrgNotFound, "organization", orgID)
	}
	return err
}

// insertAttachment attaches a policy to a node in tx. It writes no
// change-log row: the caller's write records the node or attachment.
func insertAttachment(ctx context.Context, tx *Tx, orgID, nodeID, policyID string) error {
	_, err := tx.exec(ctx, `INSERT INTO policy_attachments (org_id, node_id, policy_id, attached_at, attached_by, revision) VALUES (?, ?, ?, ?, ?, ?)`,
		orgID, nodeID, policyID, tx.now, tx.actorID(), tx.revision)
	if err != nil {
		return fmt.Errorf("attach policy %s to %s: %w", policyID, nodeID, err)
	}
	return nil
}

// attachPolicies attaches the policies (FullAccess when none) to a new
// node in tx. Every policy must be a system policy or one of the
// organization's; ENOTFOUND (controlpolicy.not_found) names the field of
// the first that is not.
func attachPolicies(ctx context.Context, tx *Tx, orgID, nodeID, field string, policyIDs []string) error {
	if len(policyIDs) == 0 {
		policyIDs = []string{castellan.FullAccessPolicyID}
	}
	for i, id := range policyIDs {
		if castellan.SystemControlPolicy(id) == nil {
			var one int
			err := tx.queryRow(ctx, `SELECT 1 FROM control_policies WHERE org_id = ? AND id = ?`+tx.db.dialect.lockKey, orgID, id).Scan(&one)
			if isNoRows(err) {
				return itemError(castellan.ENOTFOUND, castellan.CodeControlPolicyNotFound, fmt.Sprintf("%s[%d]", field, i), "exists",
					"control policy %s not found", id)
			}
			if err != nil {
				return err
			}
		}
		if err := insertAttachment(ctx, tx, orgID, nodeID, id); err != nil {
			return err
		}
	}
	return nil
}

// nodeConflict is conflict for a write of a node of the kind named name:
// the sibling index speaks of projects, so OUs and accounts get their
// own codes.
func nodeConflict(err error, kind castellan.NodeKind, name string) error {
	c := conflict(err, name)
	if c == nil || kind == castellan.NodeProject || castellan.ErrorCode(c) != castellan.CodeProjectNameTaken {
		return c
	}
	if kind == castellan.NodeOU {
		return castellan.Errorf(castellan.ECONFLICT, castellan.CodeOUNameTaken, "an OU named %q already exists in this parent", name)
	}
	return castellan.Errorf(castellan.ECONFLICT, castellan.CodeAccountNameTaken, "an account named %q already exists in this organization", name)
}

// allowedParents says under which kinds a node of each kind may hang.
var allowedParents = map[castellan.NodeKind][]castellan.NodeKind{
	castellan.NodeOU:      {castellan.NodeRoot, castellan.NodeOU},
	castellan.NodeAccount: {castellan.NodeRoot, castellan.NodeOU},
	castellan.NodeProject: {castellan.NodeRoot, castellan.NodeOU, castellan.NodeAccount},
}

// findParent reads the would-be parent of a node of the kind in tx and
// checks that the kind may hang under it. field names the parent in
// errors ("parentId").
func findParent(ctx context.Context, tx *Tx, orgID, field, parentID string, kind castellan.NodeKind) (*nodeRow, error) {
	parent, err := findNode(ctx, tx.queryRow, orgID, parentID)
	if castellan.ErrorKind(err) == castellan.ENOTFOUND {
		return nil, itemError(castellan.ENOTFOUND, castellan.CodeNodeNotFound, field, "exists", "node %s not found", parentID)
	}
	if err != nil {
		return nil, err
	}
	if !slices.Contains(allowedParents[kind], parent.Kind) {
		return nil, itemError(castellan.EINVALID, castellan.CodeInvalidParent, field, "parentKind",
			"a %s cannot hang under a %s; it goes under %s", kind, parent.Kind, kindList(allowedParents[kind]))
	}
	return parent, nil
}

func kindList(kinds []castellan.NodeKind) string {
	s := make([]string, len(kinds))
	for i, k := range kinds {
		s[i] = "the root"
		if k != castellan.NodeRoot {
			s[i] = "an " + string(k)
			if k == castellan.NodeProject {
				s[i] = "a project"
			}
		}
	}
	return strings.Join(s, " or ")
}

// subtreeUpper is the exclusive upper bound of the paths of the subtree
// of the node of path: every descendant's path starts with path, and '0'
// follows '/' in byte order.
func subtreeUpper(path string) string { return path[:len(path)-1] + "0" }

// moveNode puts node (with its subtree) under the parent parentID in tx,
// which holds lockStructure: it checks the parent's kind, cycles and the
// OU depth limit, and rewrites the paths of the subtree. The caller
// records the change.
func moveNode(ctx context.Context, tx *Tx, orgID string, node *nodeRow, parentID string) error {
	parent, err := findParent(ctx, tx, orgID, "parentId", parentID, node.Kind)
	if err != nil {
		return err
	}
	if strings.HasPrefix(parent.path, node.path) {
		return castellan.Errorf(castellan.EPRECONDITION, castellan.CodeOUCycle,
			"%s cannot move under %s: that is inside its own subtree", node.ID, parent.ID)
	}
	if node.Kind == castellan.NodeOU {
		deepest, err := deepestOU(ctx, tx, orgID, node.path)
		if err != nil {
			return err
		}
		if d := parent.Depth + 1 + deepest - node.Depth; d > castellan.MaxOUDepth {
			return castellan.Errorf(castellan.EPRECONDITION, castellan.CodeOUTooDeep,
				"moving %s under %s would put an OU %d levels below the root; at most %d are allowed", node.ID, parent.ID, d, castellan.MaxOUDepth)
		}
	}
	newPath := nodePath(parent.path, node.ID)
	_, err = tx.exec(ctx, `UPDATE nodes SET parent_id = ?, updated_at = ?, updated_by = ?, revision = ? WHERE org_id = ? AND id = ?`,
		parent.ID, tx.now, tx.actorID(), tx.revision, orgID, node.ID)
	if c := nodeConflict(err, node.Kind, node.Name); c != nil {
		return c
	}
	if err != nil {
		return fmt.Errorf("move node: %w", err)
	}
	_, err = tx.exec(ctx, `UPDATE nodes SET path = CAST(? AS TEXT) || SUBSTR(path, CAST(? AS INTEGER)) WHERE org_id = ? AND path >= ? AND path < ?`,
		newPath, len(node.path)+1, orgID, node.path, subtreeUpper(node.path))
	if err != nil {
		return fmt.Errorf("move subtree: %w", err)
	}
	node.ParentID, node.path, node.Depth = parent.ID, newPath, nodeDepth(newPath)
	node.UpdatedAt, node.Revision = tx.now, tx.revision
	return nil
}

// deepestOU returns the depth of the deepest OU in the subtree of path.
func deepestOU(ctx context.Context, tx *Tx, orgID, path string) (int, error) {
	rows, err := tx.query(ctx, `SELECT path FROM nodes WHERE org_id = ? AND kind = 'ou' AND path >= ? AND path < ?`, orgID, path, subtreeUpper(path))
	if err != nil {
		return 0, err
	}
	paths, err := collect(rows, scanString)
	if err != nil {
		return 0, err
	}
	deepest := nodeDepth(path)
	for _, p := range paths {
		deepest = max(deepest, nodeDepth(p))
	}
	return deepest, nil
}

// nodeRefs returns the nodes of an ancestry above its first, root first:
// the "higher-level organization unit" of a details page.
func nodeRefs(chain []*nodeRow) []castellan.NodeRef {
	refs := []castellan.NodeRef{}
	for i := len(chain) - 1; i >= 1; i-- {
		refs = append(refs, castellan.NodeRef{ID: chain[i].ID, Kind: chain[i].Kind, Name: chain[i].Name})
	}
	return refs
}

// insertNode inserts a node of the kind under parent in tx with the
// transaction's actor, time and revision.
func insertNode(ctx context.Context, tx *Tx, orgID string, kind castellan.NodeKind, parent *nodeRow, id, name, description string) (*nodeRow, error) {
	n := newNodeRow(tx, orgID, kind, parent, id, name)
	err := tx.insertRows(ctx, nodeInsert, [][]any{n.values(tx, description)})
	if c := nodeConflict(err, kind, name); c != nil {
		return nil, c
	}
	if err != nil {
		return nil, fmt.Errorf("insert %s: %w", kind, err)
	}
	return n, nil
}

// nodeInsert inserts nodes' values (nodeRow.values).
const nodeInsert = `INSERT INTO nodes (id, org_id, kind, parent_id, name, description, created_at, created_by, updated_at, updated_by, revision, path) VALUES `

// newNodeRow is the row of a new node under parent, stamped by tx.
func newNodeRow(tx *Tx, orgID string, kind castellan.NodeKind, parent *nodeRow, id, name string) *nodeRow {
	n := &nodeRow{Node: castellan.Node{
		ID: id, OrganizationID: orgID, Kind: kind, ParentID: parent.ID, Name: name,
		CreatedAt: tx.now, UpdatedAt: tx.now, Revision: tx.revision,
	}, path: nodePath(parent.path, id)}
	n.Depth = nodeDepth(n.path)
	return n
}

// values are the columns of nodeInsert for n.
func (n *nodeRow) values(tx *Tx, description string) []any {
	return []any{n.ID, n.OrganizationID, string(n.Kind), n.ParentID, n.Name, description, tx.now, tx.actorID(), tx.now, tx.actorID(), tx.revision, n.path}
}
