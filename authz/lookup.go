package authz

import (
	"context"
	"encoding/base64"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/castellan-iam/castellan"
)

// MaxLookupDecisions bounds the decisions one page of a lookup makes:
// a page that reaches it ends there, short or even empty, with the token
// of the next, so that no request decides a whole large organization.
const MaxLookupDecisions = 2 * castellan.MaxPageSize

// LookupType is a resource type of a lookup, parsed: a kind of node, or
// a service's type.
type LookupType struct {
	// Node is the kind of node; "" for a service's type.
	Node          castellan.NodeKind
	Service, Type string
}

// Wildcard is the name of every resource of t in the project.
func (t LookupType) Wildcard(projectID string) string {
	return castellan.ResourceName{Service: t.Service, ProjectID: projectID, Type: t.Type, ID: castellan.AllResources}.String()
}

// Names reports whether scope (parsed) is one resource of t, not every
// one of a project.
func (t LookupType) Names(scope castellan.Scope) bool {
	return scope.Kind == castellan.ScopeResource && scope.Resource.Service == t.Service &&
		scope.Resource.Type == t.Type && scope.Resource.ID != castellan.AllResources
}

var lookupNodeKinds = map[string]castellan.NodeKind{
	castellan.LookupOrganization: castellan.NodeRoot, castellan.LookupOU: castellan.NodeOU,
	castellan.LookupAccount: castellan.NodeAccount, castellan.LookupProject: castellan.NodeProject,
}

// ValidLookupResources checks req against the catalogue and returns its
// resource type and the key after which its page starts ("" for the
// first page).
func ValidLookupResources(cat *castellan.Catalog, req castellan.LookupResourcesRequest) (LookupType, string, error) {
	var fields []castellan.FieldError
	t, ok := parseLookupType(cat, req.ResourceType)
	if !ok {
		fields = append(fields, castellan.FieldError{Field: "resourceType", Rule: "enum",
			Message: "must be organization, ou, account, project or <service>:<type> of the service catalogue"})
	}
	fields = append(fields, validLookup(cat, req.Action, req.PageSize)...)
	if err := castellan.Invalid(fields); err != nil {
		return t, "", err
	}
	after, err := afterToken(ResourcesList(req), req.PageToken)
	return t, after, err
}

// ValidLookupSubjects checks req and returns its resource and the key
// after which its page starts.
func ValidLookupSubjects(cat *castellan.Catalog, req castellan.LookupSubjectsRequest) (castellan.Scope, string, error) {
	var fields []castellan.FieldError
	if !castellan.ValidID(req.OrganizationID) {
		fields = append(fields, castellan.FieldError{Field: "organizationId", Rule: "format", Message: "must be a UUID"})
	}
	fields = append(fields, validLookup(cat, req.Action, req.PageSize)...)
	if err := castellan.Invalid(fields); err != nil {
		return castellan.Scope{}, "", err
	}
	scope, err := castellan.ParseScope("resource", req.Resource)
	if err != nil {
		return scope, "", err
	}
	after, err := afterToken(SubjectsList, req.PageToken)
	return scope, after, err
}

func parseLookupType(cat *castellan.Catalog, s string) (LookupType, bool) {
	if kind, ok := lookupNodeKinds[s]; ok {
		return LookupType{Node: kind}, true
	}
	service, typ, ok := strings.Cut(s, ":")
	if svc := cat.Service(service); ok && svc != nil && slices.Contains(svc.ResourceTypes, typ) {
		return LookupType{Service: service, Type: typ}, true
	}
	return LookupType{}, false
}

func validLookup(cat *castellan.Catalog, action string, pageSize int) []castellan.FieldError {
	var fields []castellan.FieldError
	if !cat.HasAction(action) {
		fields = append(fields, castellan.FieldError{Field: "action", Rule: "enum", Message: "must be an action of the service catalogue"})
	}
	if pageSize < 0 || pageSize > castellan.MaxPageSize {
		fields = append(fields, castellan.FieldError{Field: "pageSize", Rule: "maximum",
			Message: fmt.Sprintf("must be between 0 and %d", castellan.MaxPageSize)})
	}
	return fields
}

// LookupToken is the page token that resumes list after key.
func LookupToken(list, key string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(list + "\n" + key))
}

// afterToken returns the key a token of list resumes after.
func afterToken(list, token string) (string, error) {
	if token == "" {
		return "", nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(token)
	tokenList, key, ok := strings.Cut(string(raw), "\n")
	if err != nil || !ok || tokenList != list || key == "" {
		return "", &castellan.Error{
			Kind: castellan.EINVALID, Code: castellan.CodeInvalidPageToken,
			Message: "the page token was not issued by this lookup",
			Fields:  []castellan.FieldError{{Field: "pageToken", Rule: "format", Message: "must be a nextPageToken returned by the same lookup"}},
		}
	}
	return key, nil
}

// ResourcesList names the list of LookupResources' page tokens: one per
// resource type.
func ResourcesList(req castellan.LookupResourcesRequest) string {
	return "resources:" + req.ResourceType
}

// SubjectsList names the list of LookupSubjects' page tokens.
const SubjectsList = "subjects"

// LookupPage decides the candidates, sorted by key with no key twice,
// that follow after, until it has size results and knows of one more,
// or has made MaxLookupDecisions decisions, or runs out. next is the key
// the following page starts after; "" when no candidate is left.
func LookupPage[C, R any](candidates []C, key func(C) string, after string, size int, decide func(C) (R, bool, error)) (page []R, next string, err error) {
	start := 0
	if after != "" {
		start = sort.Search(len(candidates), func(i int) bool { return key(candidates[i]) > after })
	}
	last := ""
	for i := start; i < len(candidates); i++ {
		if i-start == MaxLookupDecisions {
			return page, key(candidates[i-1]), nil
		}
		r, ok, err := decide(candidates[i])
		if err != nil {
			return nil, "", err
		}
		if !ok {
			continue
		}
		if len(page) == size {
			return page, last, nil
		}
		page, last = append(page, r), key(candidates[i])
	}
	return page, "", nil
}

// ResourceDecider decides the candidates of a lookup of resources with
// authorize: a resource a grant names counts only where its project's
// wildcard does not, which covers it. Each wildcard is decided once.
// The candidates are well-formed scopes of t.
func ResourceDecider(t LookupType, req castellan.LookupResourcesRequest,
	authorize func(castellan.AuthzRequest) (castellan.Decision, error)) func(string) (string, bool, error) {
	wildcards := map[string]bool{}
	allowed := func(resource string) (bool, error) {
		d, err := authorize(castellan.AuthzRequest{Principal: req.Principal, Action: req.Action, Resource: resource, Context: req.Context})
		return d.Allowed, err
	}
	return func(resource string) (string, bool, error) {
		if t.Node == "" && !strings.HasSuffix(resource, "/"+castellan.AllResources) {
			// A resource ID holds no slash: the wildcard replaces it.
			all := resource[:strings.LastIndexByte(resource, '/')+1] + castellan.AllResources
			covered, seen := wildcards[all]
			if !seen {
				var err error
				if covered, err = allowed(all); err != nil {
					return "", false, err
				}
				wildcards[all] = covered
			}
			if covered {
				return "", false, nil
			}
		}
		ok, err := allowed(resource)
		return resource, ok, err
	}
}

// LookupResources implements castellan.Lookups: the candidates are read
// from the store (the tree, and every grant for a service's type) on
// every page, and each is decided by Authorize.
func (a *Authorizer) LookupResources(ctx context.Context, req castellan.LookupResourcesRequest) ([]string, string, error) {
	t, after, err := ValidLookupResources(a.Catalog, req)
	if err != nil {
		return nil, "", err
	}
	candidates, err := a.resourceCandidates(ctx, req.Principal.OrganizationID, t)
	if err != nil {
		return nil, "", err
	}
	decide := ResourceDecider(t, req, func(r castellan.AuthzRequest) (castellan.Decision, error) { return a.Authorize(ctx, r) })
	page, next, err := LookupPage(candidates, func(s string) string { return s }, after, castellan.PageSize(req.PageSize), decide)
	if next != "" {
		next = LookupToken(ResourcesList(req), next)
	}
	return page, next, err
}

// resourceCandidates returns, sorted, the scopes of the organization's
// nodes of t's kind or, for a service's type, the wildcard of every
// project and every resource of the type that a grant names in one.
func (a *Authorizer) resourceCandidates(ctx context.Context, orgID string, t LookupType) ([]string, error) {
	nodes, err := a.subtree(ctx, orgID, orgID)
	if castellan.ErrorKind(err) == castellan.ENOTFOUND {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	set := map[string]bool{}
	projects := map[string]bool{}
	for _, n := range nodes {
		switch {
		case t.Node != "" && n.Kind == t.Node:
			set[n.Scope().String()] = true
		case t.Node == "" && n.Kind == castellan.NodeProject:
			set[t.Wildcard(n.ID)] = true
			projects[n.ID] = true
		}
	}
	if t.Node == "" {
		grants, err := a.allGrants(ctx, orgID)
		if err != nil {
			return nil, err
		}
		for _, g := range grants {
			if scope, err := castellan.ParseScope("scope", g.Scope); err == nil && t.Names(scope) && projects[scope.ID] {
				set[g.Scope] = true
			}
		}
	}
	return sortedKeys(set), nil
}

// sortedKeys returns the keys of set, sorted.
func sortedKeys(set map[string]bool) []string {
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// allGrants returns every grant of the organization, expired ones too.
func (a *Authorizer) allGrants(ctx context.Context, orgID string) ([]*castellan.Grant, error) {
	var out []*castellan.Grant
	filter := castellan.GrantFilter{PageSize: castellan.MaxPageSize}
	for {
		grants, next, err := a.Grants.FindGrants(ctx, orgID, filter)
		if err != nil {
			return nil, err
		}
		out = append(out, grants...)
		if next == "" {
			return out, nil
		}
		filter.PageToken = next
	}
}

// SubjectKey is the key of a subject in the order of LookupSubjects.
func SubjectKey(s castellan.Subject) string { return string(s.Type) + "/" + s.ID }

// PrincipalOf is the principal a user or service account subject is in
// orgID.
func PrincipalOf(orgID string, s castellan.Subject) castellan.Principal {
	t := castellan.PrincipalUser
	if s.Type == castellan.SubjectServiceAccount {
		t = castellan.PrincipalServiceAccount
	}
	return castellan.Principal{Type: t, ID: s.ID, OrganizationID: orgID}
}

// LookupSubjects implements castellan.Lookups: the candidates are the
// holders of the grants on the resource and above it, read from the
// store on every page, each decided (and its grants found) by Explain.
func (a *Authorizer) LookupSubjects(ctx context.Context, req castellan.LookupSubjectsRequest) ([]castellan.SubjectAccess, string, error) {
	scope, after, err := ValidLookupSubjects(a.Catalog, req)
	if err != nil {
		return nil, "", err
	}
	_, chain, err := a.ancestry(ctx, req.OrganizationID, scope)
	if err != nil || chain == nil {
		return nil, "", err
	}
	var grants []*castellan.Grant
	for _, s := range chain {
		filter := castellan.GrantFilter{Scope: &s, PageSize: castellan.MaxPageSize}
		for {
			page, next, err := a.Grants.FindGrants(ctx, req.OrganizationID, filter)
			if err != nil {
				return nil, "", err
			}
			grants = append(grants, page...)
			if next == "" {
				break
			}
			filter.PageToken = next
		}
	}
	holders, err := a.grantHolders(ctx, req.OrganizationID, grants)
	if err != nil {
		return nil, "", err
	}
	subjects := make([]castellan.Subject, len(holders))
	for i, p := range holders {
		subjects[i] = castellan.Subject{Type: castellan.SubjectUser, ID: p.ID}
		if p.Type == castellan.PrincipalServiceAccount {
			subjects[i].Type = castellan.SubjectServiceAccount
		}
	}
	slices.SortFunc(subjects, func(x, y castellan.Subject) int { return strings.Compare(SubjectKey(x), SubjectKey(y)) })
	page, next, err := LookupPage(subjects, SubjectKey, after, castellan.PageSize(req.PageSize), func(s castellan.Subject) (castellan.SubjectAccess, bool, error) {
		d, err := a.Explain(ctx, castellan.AuthzRequest{Principal: PrincipalOf(req.OrganizationID, s), Action: req.Action, Resource: req.Resource, Context: req.Context})
		return castellan.SubjectAccess{Subject: s, Grants: d.Matches}, d.Allowed, err
	})
	if next != "" {
		next = LookupToken(SubjectsList, next)
	}
	return page, next, err
}
