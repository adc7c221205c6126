package console

import (
	"net/http"
	"slices"
	"strings"

	"github.com/castellan-iam/castellan"
)

// The organization section (seed 001): the tree of the root, OUs and
// accounts; OUs and accounts with their control policies; adding,
// moving and deleting them. Every call goes through the guarded
// services.

// orgTree is the hierarchy page: the root, OUs and accounts in tree
// order, each with its depth.
type orgTree struct {
	Nodes []*castellan.Node
	More  bool
}

// treeNodes reads the root, OUs and accounts in tree order, at most
// maxTreeNodes of them; more reports that the tree has others.
func (s *Console) treeNodes(r *http.Request, c *consoleRequest) (nodes []*castellan.Node, more bool, err error) {
	filter := castellan.TreeFilter{PageSize: castellan.MaxPageSize}
	for {
		page, next, err := s.services.Nodes.FindTree(r.Context(), c.user.OrganizationID, filter)
		if err != nil {
			return nil, false, err
		}
		nodes = append(nodes, page...)
		if next == "" {
			return nodes, false, nil
		}
		if len(nodes) >= maxTreeNodes {
			return nodes, true, nil
		}
		filter.PageToken = next
	}
}

// maxTreeNodes bounds the nodes the hierarchy page shows: the
// organization's limit of accounts (200) and a few hundred OUs fit.
const maxTreeNodes = 1000

func (s *Console) organizationPage(w http.ResponseWriter, r *http.Request, c *consoleRequest) {
	p := c.page()
	p.Nav = "organization"
	p.Notice = notices{
		{"deleted", "Deleted."},
		{"excluded", "The account is excluded: it is a standalone account now."},
	}.of(r)
	nodes, more, err := s.treeNodes(r, c)
	if err != nil {
		renderFailed(w, r, p, "organization", err)
		return
	}
	p.Tree = &orgTree{Nodes: nodes, More: more}
	renderConsole(r.Context(), w, http.StatusOK, "organization", p)
}

// nodeForm is the create OU and create account pages: the parents to
// pick, what was typed and what was wrong.
type nodeForm struct {
	Parents []*castellan.Node
	// Policies are the control policies to attach at creation; Picked
	// those ticked (none: FullAccess).
	Policies []*castellan.ControlPolicy
	Picked   map[string]bool
	Values   map[string]string
	Fields   fieldErrors
}

// parents returns the root and the OUs, the nodes an OU or an account
// may be put under.
func (s *Console) parents(r *http.Request, c *consoleRequest) ([]*castellan.Node, error) {
	nodes, _, err := s.treeNodes(r, c)
	var out []*castellan.Node
	for _, n := range nodes {
		if n.Kind == castellan.NodeRoot || n.Kind == castellan.NodeOU {
			out = append(out, n)
		}
	}
	return out, err
}

// renderNodeForm renders page (ou-new or account-new) with values and
// the error of the last try, if any.
func (s *Console) renderNodeForm(w http.ResponseWriter, r *http.Request, c *consoleRequest, page string, values map[string]string, err error) {
	p := c.page()
	p.Nav = "organization"
	form := &nodeForm{Values: values, Fields: fieldErrors{}, Picked: map[string]bool{}}
	for _, id := range r.Form["policyIds"] {
		form.Picked[id] = true
	}
	status := http.StatusOK
	if err != nil {
		var msg string
		status, msg, form.Fields = formError(r.Context(), err)
		p.Error = msg
	}
	parents, perr := s.parents(r, c)
	if perr == nil {
		form.Policies, _, perr = s.services.ControlPolicies.FindControlPolicies(r.Context(), c.user.OrganizationID, castellan.ControlPolicyFilter{PageSize: castellan.MaxPageSize})
	}
	if perr != nil {
		renderConsoleError(w, r, perr)
		return
	}
	form.Parents = parents
	if form.Values["parentId"] == "" {
		form.Values["parentId"] = c.user.OrganizationID
	}
	p.NodeForm = form
	renderConsole(r.Context(), w, status, page, p)
}

// values reads the named fields of a form, trimmed.
func values(r *http.Request, names ...string) map[string]string {
	v := map[string]string{}
	for _, name := range names {
		v[name] = strings.TrimSpace(r.FormValue(name))
	}
	return v
}

func (s *Console) newOUPage(w http.ResponseWriter, r *http.Request, c *consoleRequest) {
	s.renderNodeForm(w, r, c, "ou-new", values(r, "parentId"), nil)
}

func (s *Console) createOU(w http.ResponseWriter, r *http.Request, c *consoleRequest) {
	v := values(r, "parentId", "name", "description")
	ou, err := s.services.OrgUnits.CreateOrgUnit(r.Context(), c.user.OrganizationID,
		castellan.OrgUnitCreate{ParentID: v["parentId"], Name: v["name"], Description: v["description"], PolicyIDs: r.PostForm["policyIds"]})
	if err != nil {
		s.renderNodeForm(w, r, c, "ou-new", v, err)
		return
	}
	seeOther(w, consolePath+"/nodes/"+ou.ID+"?created=1")
}

func (s *Console) newAccountPage(w http.ResponseWriter, r *http.Request, c *consoleRequest) {
	s.renderNodeForm(w, r, c, "account-new", values(r, "parentId"), nil)
}

func (s *Console) createAccount(w http.ResponseWriter, r *http.Request, c *consoleRequest) {
	v := values(r, "parentId", "name", "email", "emailConfirmation", "iamRoleName")
	a, err := s.services.Accounts.CreateAccount(r.Context(), c.user.OrganizationID, castellan.AccountCreate{ParentID: v["parentId"],
		Name: v["name"], Email: v["email"], EmailConfirmation: v["emailConfirmation"], IAMRoleName: v["iamRoleName"], PolicyIDs: r.PostForm["policyIds"]})
	if err != nil {
		s.renderNodeForm(w, r, c, "account-new", v, err)
		return
	}
	seeOther(w, consolePath+"/nodes/"+a.ID+"?created=1")
}

// nodeDetail is an OU's or an account's page.
type nodeDetail struct {
	Node *castellan.Node
	// Path is the nodes above, the root first.
	Path     []*castellan.Node
	Children []*castellan.Node
	Account  *castellan.Account
	// Policies are attached here (direct) or above (inherited);
	// Attachable are the organization's policies to attach.
	Policies   []*castellan.PolicyAttachment
	Attachable []*castellan.ControlPolicy
	// Parents are where the node may move.
	Parents []*castellan.Node
	// Checks are an account's exclusion and deletion preconditions.
	Checks                *castellan.AccountPreconditions
	CanExclude, CanDelete bool
	Confirm, ConfirmError string
	PasswordError         string
}

func (s *Console) nodePage(w http.ResponseWriter, r *http.Request, c *consoleRequest) {
	p := c.page()
	p.Notice = notices{
		{"created", "Created. The FullAccess policy is attached until you attach others."},
		{"moved", "Moved: the policies and grants of its new place apply from now on."},
		{"attached", "The policy is attached."},
		{"detached", "The policy is detached."},
	}.of(r)
	s.renderNode(w, r, c, p, http.StatusOK, &nodeDetail{})
}

// renderNode fills d with the OU or account of the request's path.
func (s *Console) renderNode(w http.ResponseWriter, r *http.Request, c *consoleRequest, p consolePage, status int, d *nodeDetail) {
	ctx, org, id := r.Context(), c.user.OrganizationID, r.PathValue("node")
	n, err := s.services.Nodes.FindNodeByID(ctx, org, id)
	if err == nil && n.Kind != castellan.NodeOU && n.Kind != castellan.NodeAccount {
		err = castellan.Errorf(castellan.ENOTFOUND, castellan.CodeNodeNotFound, "no OU or account %s", id)
	}
	if err != nil {
		renderConsoleError(w, r, err)
		return
	}
	d.Node = n
	if d.Path, err = s.services.Nodes.FindAncestors(ctx, org, id); err == nil {
		// The nodes above, the root first, as a path reads.
		d.Path = d.Path[1:]
		slices.Reverse(d.Path)
		d.Children, _, err = s.services.Nodes.FindChildren(ctx, org, id, castellan.ChildFilter{PageSize: castellan.MaxPageSize})
	}
	if err == nil {
		d.Policies, err = s.services.ControlPolicies.FindNodePolicies(ctx, org, id)
	}
	if err == nil {
		d.Attachable, _, err = s.services.ControlPolicies.FindControlPolicies(ctx, org, castellan.ControlPolicyFilter{PageSize: castellan.MaxPageSize})
	}
	if err == nil {
		d.Parents, err = s.parents(r, c)
	}
	if err == nil && n.Kind == castellan.NodeAccount {
		if d.Account, err = s.services.Accounts.FindAccountByID(ctx, org, id); err == nil {
			d.Checks, err = s.services.Accounts.FindAccountPreconditions(ctx, org, id)
		}
		if err == nil {
			d.CanExclude, d.CanDelete = allMet(d.Checks.Exclusion), allMet(d.Checks.Deletion)
		}
	}
	if err != nil {
		renderConsoleError(w, r, err)
		return
	}
	p.Nav, p.NodeDetail = "organization", d
	renderConsole(ctx, w, status, "node", p)
}

func allMet(checks []castellan.PreconditionCheck) bool {
	for _, c := range checks {
		if !c.Met {
			return false
		}
	}
	return true
}

// nodeAction runs do for the node of the request's path and sends the
// browser where do says, or shows the node's page again with the error
// (and what do put in d, to say where).
func (s *Console) nodeAction(do func(r *http.Request, c *consoleRequest, id string) (next string, d *nodeDetail, err error)) func(http.ResponseWriter, *http.Request, *consoleRequest) {
	return func(w http.ResponseWriter, r *http.Request, c *consoleRequest) {
		id := r.PathValue("node")
		next, d, err := do(r, c, id)
		if err != nil {
			p := c.page()
			status, msg := publicError(r.Context(), err)
			p.Error = msg
			if d == nil {
				d = &nodeDetail{}
			}
			s.renderNode(w, r, c, p, status, d)
			return
		}
		seeOther(w, next)
	}
}

// nodePage is the page of node id with a notice flag.
func nodePage(id, flag string) string { return consolePath + "/nodes/" + id + "?" + flag + "=1" }

// moveNode moves an OU or an account under the parent picked.
func (s *Console) moveNode(r *http.Request, c *consoleRequest, id string) (string, *nodeDetail, error) {
	ctx, org, parent := r.Context(), c.user.OrganizationID, r.PostForm.Get("parentId")
	n, err := s.services.Nodes.FindNodeByID(ctx, org, id)
	if err != nil {
		return "", nil, err
	}
	if n.Kind == castellan.NodeAccount {
		_, err = s.services.Accounts.MoveAccount(ctx, org, id, parent)
	} else {
		_, err = s.services.OrgUnits.MoveOrgUnit(ctx, org, id, parent)
	}
	return nodePage(id, "moved"), nil, err
}

func (s *Console) attachPolicy(r *http.Request, c *consoleRequest, id string) (string, *nodeDetail, error) {
	_, err := s.services.ControlPolicies.AttachControlPolicy(r.Context(), c.user.OrganizationID, r.PostForm.Get("policyId"), id)
	return nodePage(id, "attached"), nil, err
}

func (s *Console) detachPolicy(r *http.Request, c *consoleRequest, id string) (string, *nodeDetail, error) {
	_, err := s.services.ControlPolicies.DetachControlPolicy(r.Context(), c.user.OrganizationID, r.PostForm.Get("policyId"), id)
	return nodePage(id, "detached"), nil, err
}

// deleteOU deletes an empty OU.
func (s *Console) deleteOU(r *http.Request, c *consoleRequest, id string) (string, *nodeDetail, error) {
	_, err := s.services.OrgUnits.DeleteOrgUnit(r.Context(), c.user.OrganizationID, id)
	return consolePath + "/organization?deleted=1", nil, err
}

// deleteAccount deletes an account with the caller's password and the
// account's name typed; the service checks the preconditions again and
// refuses with the first that fails.
func (s *Console) deleteAccount(r *http.Request, c *consoleRequest, id string) (string, *nodeDetail, error) {
	confirm := castellan.AccountDeletion{Password: r.PostForm.Get("password"), Name: r.PostForm.Get("confirm")}
	_, err := s.services.Accounts.DeleteAccount(r.Context(), c.user.OrganizationID, id, confirm)
	d := &nodeDetail{Confirm: confirm.Name}
	switch castellan.ErrorCode(err) {
	case castellan.CodeWrongPassword:
		d.PasswordError = "the password is not yours"
	case castellan.CodeAccountNameMismatch:
		d.ConfirmError = "type the account's name exactly"
	}
	return consolePath + "/organization?deleted=1", d, err
}

// excludeAccount makes the account standalone.
func (s *Console) excludeAccount(r *http.Request, c *consoleRequest, id string) (string, *nodeDetail, error) {
	_, err := s.services.AccountMemberships.ExcludeAccount(r.Context(), c.user.OrganizationID, id)
	return consolePath + "/organization?excluded=1", nil, err
}

// invitations is the invite accounts page: the invitations sent, and
// the emails typed with what was wrong.
type invitations struct {
	List         []*castellan.AccountInvitation
	Emails       string
	EmailsError  string
	MaxInvitable int
}

// invitationsPage lists the organization's account invitations, newest
// first, with a form to invite up to 10 existing accounts by their root
// user's email (seed 001).
func (s *Console) invitationsPage(w http.ResponseWriter, r *http.Request, c *consoleRequest) {
	p := c.page()
	p.Notice = notices{{"invited", "Invited: each root user gets a mail to accept or decline."}, {"cancelled", "The invitation is cancelled."}}.of(r)
	s.renderInvitations(w, r, c, p, http.StatusOK, &invitations{})
}

func (s *Console) renderInvitations(w http.ResponseWriter, r *http.Request, c *consoleRequest, p consolePage, status int, inv *invitations) {
	list, _, err := s.services.AccountMemberships.FindAccountInvitations(r.Context(), c.user.OrganizationID, castellan.AccountInvitationFilter{PageSize: castellan.MaxPageSize})
	inv.List, inv.MaxInvitable = list, castellan.MaxAccountInvitations
	p.Nav, p.Invitations = "organization", inv
	if err != nil {
		renderFailed(w, r, p, "invitations", err)
		return
	}
	renderConsole(r.Context(), w, status, "invitations", p)
}

// inviteAccounts invites the accounts whose root users' emails were
// typed (commas, spaces or lines), all or none.
func (s *Console) inviteAccounts(w http.ResponseWriter, r *http.Request, c *consoleRequest) {
	typed := r.PostForm.Get("emails")
	emails := words(typed)
	if _, err := s.services.AccountMemberships.InviteAccounts(r.Context(), c.user.OrganizationID, emails); err != nil {
		p := c.page()
		status, msg := publicError(r.Context(), err)
		p.Error = msg
		s.renderInvitations(w, r, c, p, status, &invitations{Emails: typed, EmailsError: msg})
		return
	}
	seeOther(w, consolePath+"/accounts/invitations?invited=1")
}

// cancelInvitation cancels a pending invitation.
func (s *Console) cancelInvitation(w http.ResponseWriter, r *http.Request, c *consoleRequest) {
	if _, err := s.services.AccountMemberships.CancelAccountInvitation(r.Context(), c.user.OrganizationID, r.PostForm.Get("invitation")); err != nil {
		p := c.page()
		status, msg := publicError(r.Context(), err)
		p.Error = msg
		s.renderInvitations(w, r, c, p, status, &invitations{})
		return
	}
	seeOther(w, consolePath+"/accounts/invitations?cancelled=1")
}

// accountsPage lists the organization's accounts by name, 50 a page.
func (s *Console) accountsPage(w http.ResponseWriter, r *http.Request, c *consoleRequest) {
	p := c.page()
	p.Nav = "accounts"
	serveList(w, r, p, "accounts", "/accounts", func(token string) ([]*castellan.Account, string, error) {
		return s.services.Accounts.FindAccounts(r.Context(), c.user.OrganizationID, castellan.AccountFilter{PageSize: usersPageSize, PageToken: token})
	}, func(p *consolePage, l *listPage[castellan.Account]) { p.Accounts = l })
}
