package castellan

import "context"

// Resource types of a lookup that are nodes of the tree; every other
// type is a service's, "<service>:<type>" of the catalogue (s3e:bucket).
const (
	LookupOrganization = "organization"
	LookupOU           = "ou"
	LookupAccount      = "account"
	LookupProject      = "project"
)

// LookupResourcesRequest asks on which resources of a type a principal
// may do an action.
type LookupResourcesRequest struct {
	Principal Principal
	Action    string
	// ResourceType is organization, ou, account, project, or a
	// service's resource type as "<service>:<type>" (s3e:bucket).
	ResourceType string
	// Context is given to the control policies of every decision, as
	// AuthzRequest.Context.
	Context   map[string]any
	PageSize  int
	PageToken string
}

// LookupSubjectsRequest asks who may do an action on a resource of an
// organization.
type LookupSubjectsRequest struct {
	OrganizationID string
	Action         string
	// Resource is a scope, as AuthzRequest.Resource.
	Resource  string
	Context   map[string]any
	PageSize  int
	PageToken string
}

// SubjectAccess is a user or service account that may do the action
// asked about, with the grants that allow it: the user's own and its
// groups' (GrantMatch.Group), on the resource or above it.
type SubjectAccess struct {
	Subject Subject      `json:"subject"`
	Grants  []GrantMatch `json:"grants" nullable:"false"`
}

// Lookups answers the reverse questions of Authorize. Every answer is
// the set of Authorize's allowed decisions over the candidates, control
// policies and expiry included, in a stable order, paginated: a page
// holds at most PageSize results (castellan.PageSize) and may hold
// fewer, even none, when deciding it reached a bound of work; the list
// ends only where next is empty.
//
// Both return EINVALID: request.invalid_field for an action the
// catalogue does not know ("action"), an unknown resource type
// ("resourceType"), a page size out of 0..MaxPageSize ("pageSize");
// request.invalid_scope for a bad resource ("resource");
// request.invalid_page_token for a token another list issued
// ("pageToken").
type Lookups interface {
	// LookupResources lists the resources of req.ResourceType on which
	// req.Principal may do req.Action, as scopes: nodes of that kind, or
	// for a service type, rn:<service>:<project>:<type>/* where the
	// principal may act on every resource of the type in the project,
	// and each resource a grant names (rn:…/<id>) where it may act on
	// that one only. A wildcard is what Authorize answers for the name
	// ending in /*: a control policy that names one resource is not
	// seen in it. Resources are in the order of their scope strings.
	LookupResources(ctx context.Context, req LookupResourcesRequest) (resources []string, next string, err error)
	// LookupSubjects lists the users and service accounts (group grants
	// expanded to the members) that may do req.Action on req.Resource,
	// by type and ID, each with the grants that allow it. A resource
	// outside the organization has none.
	LookupSubjects(ctx context.Context, req LookupSubjectsRequest) (subjects []SubjectAccess, next string, err error)
}
