package bench

import (
	"context"
	"fmt"
	"iter"
	"strconv"

	"github.com/castellan-iam/castellan"
)

// Item is one line of a bulk import (docs/import.md): the fields of the
// single-item create request of its kind, with "#<ref>" standing for the
// ID of an earlier item.
type Item struct {
	Kind         string             `json:"kind"`
	Ref          string             `json:"ref,omitempty"`
	ParentID     string             `json:"parentId,omitempty"`
	Name         string             `json:"name,omitempty"`
	LoginID      string             `json:"loginId,omitempty"`
	Email        string             `json:"email,omitempty"`
	AccountType  string             `json:"accountType,omitempty"`
	FederationID string             `json:"federationId,omitempty"`
	GroupID      string             `json:"groupId,omitempty"`
	UserID       string             `json:"userId,omitempty"`
	RoleID       string             `json:"roleId,omitempty"`
	Scope        string             `json:"scope,omitempty"`
	Subject      *castellan.Subject `json:"subject,omitempty"`
}

// Item kinds.
const (
	KindProject    = "project"
	KindUser       = "user"
	KindGroup      = "group"
	KindMembership = "membership"
	KindGrant      = "grant"
)

func userRef(u int) string    { return "u" + strconv.Itoa(u) }
func groupRef(g int) string   { return "g" + strconv.Itoa(g) }
func projectRef(p int) string { return "p" + strconv.Itoa(p) }
func bucketName(q int) string { return "b" + strconv.Itoa(q) }

// userEmail is user u's email, also its login ID.
func userEmail(u int) string { return fmt.Sprintf("u%d@bench.example", u) }

// structure is the nodes and policies made before the import: the import
// takes no accounts or control policies, and grants name OUs by ID.
type structure struct {
	org      string
	ous      []string
	accounts []string
	// federation is the identity federation of the generated users: they
	// are federated, so that they are active at once and need neither a
	// password hash nor an invitation.
	federation string
}

// build creates the OUs, accounts and control policies of m in the
// organization through services (the store's own).
func (m *model) build(ctx context.Context, s castellan.Services, org string) (*structure, error) {
	st := &structure{org: org}
	fed, err := s.Federations.CreateFederation(ctx, org, castellan.FederationCreate{Name: "bench", Issuer: "https://idp.bench.example", ClientID: "castellan"})
	if err != nil {
		return nil, fmt.Errorf("federation: %w", err)
	}
	st.federation = fed.ID
	for i := range m.cfg.OUs {
		parent := org
		if p := m.ouParent[i]; p >= 0 {
			parent = st.ous[p]
		}
		ou, err := s.OrgUnits.CreateOrgUnit(ctx, org, castellan.OrgUnitCreate{ParentID: parent, Name: "ou" + strconv.Itoa(i)})
		if err != nil {
			return nil, fmt.Errorf("OU %d: %w", i, err)
		}
		st.ous = append(st.ous, ou.ID)
	}
	for a := range m.cfg.Accounts {
		email := fmt.Sprintf("a%d@accounts.bench.example", a)
		acct, err := s.Accounts.CreateAccount(ctx, org, castellan.AccountCreate{ParentID: st.ous[m.accountParent[a]],
			Name: "account-" + strconv.Itoa(a), Email: email, EmailConfirmation: email, IAMRoleName: "OrgAdmin"})
		if err != nil {
			return nil, fmt.Errorf("account %d: %w", a, err)
		}
		st.accounts = append(st.accounts, acct.ID)
	}
	for c, action := range m.policyAction {
		p, err := s.ControlPolicies.CreateControlPolicy(ctx, org, castellan.ControlPolicyCreate{Name: "forbid-" + strconv.Itoa(c),
			Document: fmt.Sprintf(`forbid (principal, action == Action::%q, resource);`, action)})
		if err != nil {
			return nil, fmt.Errorf("control policy %d: %w", c, err)
		}
		on := st.ous
		if m.cfg.Accounts > 0 {
			on = st.accounts
		}
		if _, err := s.ControlPolicies.AttachControlPolicy(ctx, org, p.ID, on[m.policyOn[c]]); err != nil {
			return nil, fmt.Errorf("control policy %d: %w", c, err)
		}
	}
	return st, nil
}

// count returns how many items items yields.
func (m *model) count() int {
	c := m.cfg
	return c.Projects + c.Users + c.Groups + c.Groups*c.MembersPerGroup + c.Grants + c.ResourceGrants
}

// items yields the import's items in an order where every reference
// names an earlier line: projects, users, groups, memberships (a group's
// together), then grants.
func (m *model) items(st *structure) iter.Seq[Item] {
	return func(yield func(Item) bool) {
		c := m.cfg
		for p := range c.Projects {
			account, ou := m.projectParent(p)
			parent := ""
			if account >= 0 {
				parent = st.accounts[account]
			} else {
				parent = st.ous[ou]
			}
			if !yield(Item{Kind: KindProject, Ref: projectRef(p), ParentID: parent, Name: projectRef(p)}) {
				return
			}
		}
		for u := range c.Users {
			if !yield(Item{Kind: KindUser, Ref: userRef(u), LoginID: userEmail(u), Email: userEmail(u), Name: "User " + strconv.Itoa(u),
				AccountType: castellan.AccountFederated, FederationID: st.federation}) {
				return
			}
		}
		for g := range c.Groups {
			if !yield(Item{Kind: KindGroup, Ref: groupRef(g), Name: groupRef(g)}) {
				return
			}
		}
		var buf []int
		for g := range c.Groups {
			buf = m.members(g, buf[:0])
			for _, u := range buf {
				if !yield(Item{Kind: KindMembership, GroupID: "#" + groupRef(g), UserID: "#" + userRef(u)}) {
					return
				}
			}
		}
		grant := func(role, scope string, t castellan.SubjectType, ref string) Item {
			return Item{Kind: KindGrant, RoleID: role, Scope: scope, Subject: &castellan.Subject{Type: t, ID: "#" + ref}}
		}
		for i := range m.userProject {
			u, p, role := m.userProjectGrant(i)
			if !yield(grant(role, "project/#"+projectRef(p), castellan.SubjectUser, userRef(u))) {
				return
			}
		}
		for j := range m.groupProject {
			g, p, role := m.groupProjectGrant(j)
			if !yield(grant(role, "project/#"+projectRef(p), castellan.SubjectGroup, groupRef(g))) {
				return
			}
		}
		for k := range m.groupOU {
			g, ou, role := m.groupOUGrant(k)
			if !yield(grant(role, "ou/"+st.ous[ou], castellan.SubjectGroup, groupRef(g))) {
				return
			}
		}
		for r := range m.root {
			u, role := m.rootGrant(r)
			if !yield(grant(role, castellan.OrganizationScope(st.org).String(), castellan.SubjectUser, userRef(u))) {
				return
			}
		}
		for q := range c.ResourceGrants {
			u, p, role := m.resourceGrant(q)
			scope := "rn:s3e:#" + projectRef(p) + ":bucket/" + bucketName(q)
			if !yield(grant(role, scope, castellan.SubjectUser, userRef(u))) {
				return
			}
		}
	}
}
