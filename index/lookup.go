package index

import (
	"context"
	"slices"
	"strings"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/authz"
)

// The lookups take their candidates from the snapshot and decide each
// with Authorize, lazily, only as far as the page needs. They read the
// snapshot through two methods of org, lookupScopes and holders, and
// o.locate; nothing else of its layout.

// LookupResources implements castellan.Lookups from the snapshot. The
// candidates are listed and sorted on every page: a cost in the number
// of nodes (and of scopes grants name, for a service's type) of the
// organization.
func (a *Authorizer) LookupResources(ctx context.Context, req castellan.LookupResourcesRequest) ([]string, string, error) {
	t, after, err := authz.ValidLookupResources(a.reference.Catalog, req)
	if err != nil {
		return nil, "", err
	}
	candidates := a.snap.Load().orgs[req.Principal.OrganizationID].lookupScopes(t)
	decide := authz.ResourceDecider(t, req, func(r castellan.AuthzRequest) (castellan.Decision, error) { return a.Authorize(ctx, r) })
	page, next, err := authz.LookupPage(candidates, func(s string) string { return s }, after, castellan.PageSize(req.PageSize), decide)
	if next != "" {
		next = authz.LookupToken(authz.ResourcesList(req), next)
	}
	return page, next, err
}

// LookupSubjects implements castellan.Lookups: the candidates are the
// holders of the grants on the resource and above it in the snapshot,
// each decided by Authorize. The grants that allow a subject found on
// the page are the reference's Explain, read from the store: the
// snapshot keeps no grant IDs.
func (a *Authorizer) LookupSubjects(ctx context.Context, req castellan.LookupSubjectsRequest) ([]castellan.SubjectAccess, string, error) {
	scope, after, err := authz.ValidLookupSubjects(a.reference.Catalog, req)
	if err != nil {
		return nil, "", err
	}
	o := a.snap.Load().orgs[req.OrganizationID]
	if o == nil {
		return nil, "", nil
	}
	t := targetOf(scope)
	n, inOrg := o.locate(req.OrganizationID, t)
	if !inOrg {
		return nil, "", nil
	}
	var chain []int32
	if scope.Kind == castellan.ScopeResource {
		for _, s := range []string{scope.String(), scope.Resource.AllOfType().String()} {
			if num, ok := o.scopes.get(s); ok {
				chain = append(chain, num)
			}
		}
	}
	for ; n >= 0; n = o.node[n].parent {
		chain = append(chain, n)
	}
	page, next, err := authz.LookupPage(o.holders(chain), authz.SubjectKey, after, castellan.PageSize(req.PageSize), func(s castellan.Subject) (castellan.SubjectAccess, bool, error) {
		r := castellan.AuthzRequest{Principal: authz.PrincipalOf(req.OrganizationID, s), Action: req.Action, Resource: req.Resource, Context: req.Context}
		d, err := a.Authorize(ctx, r)
		if err != nil || !d.Allowed {
			return castellan.SubjectAccess{}, false, err
		}
		explained, err := a.reference.Explain(ctx, r)
		if explained.Matches == nil {
			// The store has moved on from the snapshot since: the
			// snapshot's decision stands, its grants are gone.
			explained.Matches = []castellan.GrantMatch{}
		}
		return castellan.SubjectAccess{Subject: s, Grants: explained.Matches}, true, err
	})
	if next != "" {
		next = authz.LookupToken(authz.SubjectsList, next)
	}
	return page, next, err
}

// lookupScopes returns, sorted, the scopes of the organization's nodes
// of t's kind or, for a service's type, the wildcard of every project
// and every resource of the type that a grant names in one.
func (o *org) lookupScopes(t authz.LookupType) []string {
	if o == nil {
		return nil
	}
	var out []string
	for id, n := range o.nodes {
		switch kind := o.node[n].node.Kind; {
		case t.Node != "" && kind == t.Node:
			out = append(out, castellan.NodeScope(kind, id).String())
		case t.Node == "" && kind == castellan.NodeProject:
			out = append(out, t.Wildcard(id))
		}
	}
	if t.Node == "" {
		// Grants name well-formed scopes: rn:<service>:<project>:<type>/<id>.
		prefix, typ := "rn:"+t.Service+":", ":"+t.Type+"/"
		o.scopes.all(func(s string, num int32) bool {
			rest, ok := strings.CutPrefix(s, prefix)
			project, name, found := strings.Cut(rest, ":")
			if ok && found && strings.HasPrefix(":"+name, typ) && !strings.HasSuffix(s, "/"+castellan.AllResources) &&
				len(o.list(num)) > 0 && o.isProject(project) {
				out = append(out, s)
			}
			return true
		})
	}
	slices.Sort(out)
	return out
}

// isProject reports whether id is a project of the organization.
func (o *org) isProject(id string) bool {
	n, ok := o.nodes[id]
	return ok && o.node[n].node.Kind == castellan.NodeProject
}

// holders returns the users and service accounts that hold a grant on
// one of scopes, themselves or as members of a group, sorted by
// authz.SubjectKey.
func (o *org) holders(scopes []int32) []castellan.Subject {
	seen := map[castellan.Subject]bool{}
	var groups []int32
	for _, s := range scopes {
		for _, g := range o.list(s) {
			number := int32(g.subject & subjectNumber)
			switch g.subject &^ subjectNumber {
			case subjectUser:
				seen[castellan.Subject{Type: castellan.SubjectUser, ID: o.names[number]}] = true
			case subjectServiceAccount:
				seen[castellan.Subject{Type: castellan.SubjectServiceAccount, ID: o.names[number]}] = true
			case subjectGroup:
				groups = append(groups, number)
			}
		}
	}
	if len(groups) > 0 {
		o.users.all(func(id string, u user) bool {
			if slices.ContainsFunc(groups, func(g int32) bool { return hasGroup(o.groupsOf(u), g) }) {
				seen[castellan.Subject{Type: castellan.SubjectUser, ID: id}] = true
			}
			return true
		})
	}
	out := make([]castellan.Subject, 0, len(seen))
	for s := range seen {
		out = append(out, s)
	}
	slices.SortFunc(out, func(x, y castellan.Subject) int { return strings.Compare(authz.SubjectKey(x), authz.SubjectKey(y)) })
	return out
}
