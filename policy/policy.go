// Package policy compiles and evaluates control policies: Cedar policy
// sets attached to the root, OUs and accounts of an organization, which
// limit what grants allow below the root (like service control
// policies).
//
// The entities a policy sees:
//
//   - principal: Castellan::User::"<id>" (in its Castellan::Group::"<id>"
//     groups) or Castellan::ServiceAccount::"<id>";
//   - action: Action::"<service>:<Verb>", in the group Action::"<service>:*";
//   - resource: Castellan::Project::"<id>", or a resource of a service as
//     <service>::<type>::"<resource name>", in its project, which is in its
//     account, OUs and Castellan::Organization::"<id>" (the root); the
//     nodes are Castellan::Account and Castellan::OrganizationalUnit.
package policy

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"sync"

	"github.com/castellan-iam/castellan"
	"github.com/cedar-policy/cedar-go"
)

// Entity types of Castellan's own things.
const (
	TypeUser           = "Castellan::User"
	TypeServiceAccount = "Castellan::ServiceAccount"
	TypeGroup          = "Castellan::Group"
	TypeOrganization   = "Castellan::Organization"
	TypeOU             = "Castellan::OrganizationalUnit"
	TypeAccount        = "Castellan::Account"
	TypeProject        = "Castellan::Project"
	// TypeAction is Cedar's action entity type.
	TypeAction = "Action"
)

// parseError is the shape of cedar-go's parse errors:
// "parse error at <input>:2:78 "}": exact got = want }".
var parseError = regexp.MustCompile(`at [^:]*:(\d+):(\d+) (.*)$`)

// Compile parses a control policy's Cedar document. A document that does
// not parse gives one field error on field with the line and column.
func Compile(field, document string) (*cedar.PolicySet, []castellan.FieldError) {
	if len(document) > castellan.MaxControlPolicyDocumentLength {
		return nil, []castellan.FieldError{{Field: field, Rule: "maxLength",
			Message: fmt.Sprintf("must have at most %d bytes", castellan.MaxControlPolicyDocumentLength)}}
	}
	set, err := cedar.NewPolicySetFromBytes("", []byte(document))
	if err != nil {
		msg := err.Error()
		if m := parseError.FindStringSubmatch(msg); m != nil {
			msg = fmt.Sprintf("line %s, column %s: %s", m[1], m[2], m[3])
		}
		return nil, []castellan.FieldError{{Field: field, Rule: "syntax", Message: msg}}
	}
	if len(set.Map()) == 0 {
		return nil, []castellan.FieldError{{Field: field, Rule: "required", Message: "must hold at least one permit or forbid policy"}}
	}
	return set, nil
}

// maxCompiled bounds the cache of compiled documents: every update of a
// policy brings a new document, and nothing else would ever drop the old
// ones.
const maxCompiled = 4096

// compiled caches the compiled documents of policies by document: a
// policy changes rarely and is evaluated on every decision below the
// root. When it holds maxCompiled documents it starts again empty, so
// repeated updates cannot grow it without end.
var compiled struct {
	sync.RWMutex
	sets map[string]*cedar.PolicySet
}

// compile returns the cached compilation of a stored document.
func compile(document string) (*cedar.PolicySet, error) {
	compiled.RLock()
	set, ok := compiled.sets[document]
	compiled.RUnlock()
	if ok {
		return set, nil
	}
	set, errs := Compile("document", document)
	if errs != nil {
		return nil, fmt.Errorf("stored control policy does not compile: %s", errs[0].Message)
	}
	compiled.Lock()
	if compiled.sets == nil || len(compiled.sets) >= maxCompiled {
		compiled.sets = make(map[string]*cedar.PolicySet)
	}
	compiled.sets[document] = set
	compiled.Unlock()
	return set, nil
}

// Level is one node of the path from the root to an account with the
// policies attached to it directly.
type Level struct {
	Node     castellan.NodeRef
	Policies []*castellan.ControlPolicy
}

// Input is what a decision is about.
type Input struct {
	Principal castellan.Principal
	// Groups are the principal's groups (users only).
	Groups []string
	Action string
	// Resource is the scope asked about.
	Resource castellan.Scope
	// Path is the nodes from the resource's node up to the root, as
	// NodeService.FindAncestors returns them.
	Path []*castellan.Node
	// Context is the request's attributes (source IP, time, …), the
	// Cedar context the policies' conditions read: JSON values in
	// Cedar's JSON form (numbers integral; {"__extn": {"fn": "ip",
	// "arg": "10.0.0.1"}} for an IP address).
	Context map[string]any
}

// guardrailActions are the actions that read and repair control
// policies.
var guardrailActions = map[castellan.Action]bool{
	castellan.ActionGetControlPolicy: true, castellan.ActionListControlPolicies: true,
	castellan.ActionCreateControlPolicy: true, castellan.ActionUpdateControlPolicy: true, castellan.ActionDeleteControlPolicy: true,
	castellan.ActionAttachControlPolicy: true, castellan.ActionDetachControlPolicy: true,
	castellan.ActionListControlPolicyTargets: true, castellan.ActionListAttachedControlPolicies: true,
	castellan.ActionSimulateControlPolicy: true,
}

// Exempt reports whether control policies leave the action alone: those
// that read and repair control policies, so that whoever holds the
// grants to manage guardrails can always undo one, and no policy locks
// an organization out of its own guardrails.
func Exempt(action string) bool { return guardrailActions[castellan.Action(action)] }

// Evaluate applies the levels, root first: at each, some attached policy
// must permit the action and none may forbid it. It returns nil when
// every level passes or the action is Exempt, else the refusal with the
// policy (for a forbid) and the node.
func Evaluate(levels []Level, in Input) (*castellan.PolicyMatch, string, error) {
	if Exempt(in.Action) {
		return nil, "", nil
	}
	req, entities, err := request(in)
	if err != nil {
		return nil, "", err
	}
	for _, l := range levels {
		permitted := false
		for _, p := range l.Policies {
			set, err := compile(p.Document)
			if err != nil {
				return nil, "", err
			}
			decision, diag := set.IsAuthorized(entities, req)
			switch {
			case forbidFailed(set, diag):
				// Cedar skips a policy whose condition fails to
				// evaluate; a guardrail must not: a forbid that cannot
				// be evaluated forbids.
				return &castellan.PolicyMatch{PolicyID: p.ID, PolicyName: p.Name, Node: l.Node}, castellan.ReasonPolicyForbids, nil
			case decision == cedar.Allow:
				permitted = true
			case len(diag.Reasons) > 0:
				// Denied with reasons: a forbid of this policy holds.
				return &castellan.PolicyMatch{PolicyID: p.ID, PolicyName: p.Name, Node: l.Node}, castellan.ReasonPolicyForbids, nil
			}
		}
		if !permitted {
			return &castellan.PolicyMatch{Node: l.Node}, castellan.ReasonPolicyNotPermitted, nil
		}
	}
	return nil, "", nil
}

// forbidFailed reports whether a forbid policy of set failed to evaluate
// (an attribute the request does not carry, an overflow).
func forbidFailed(set *cedar.PolicySet, diag cedar.Diagnostic) bool {
	for _, e := range diag.Errors {
		if p := set.Get(e.PolicyID); p != nil && p.Effect() == cedar.Forbid {
			return true
		}
	}
	return false
}

// nodeType is the Cedar entity type of a node kind.
var nodeType = map[castellan.NodeKind]cedar.EntityType{
	castellan.NodeRoot: TypeOrganization, castellan.NodeOU: TypeOU,
	castellan.NodeAccount: TypeAccount, castellan.NodeProject: TypeProject,
}

// request builds the Cedar request of in and the entities it reaches.
// A context that is no Cedar record is EINVALID, naming it.
func request(in Input) (cedar.Request, cedar.EntityMap, error) {
	attrs, err := contextRecord(in.Context)
	if err != nil {
		return cedar.Request{}, nil, err
	}
	entities := cedar.EntityMap{}
	add := func(uid cedar.EntityUID, parents ...cedar.EntityUID) {
		entities[uid] = cedar.Entity{UID: uid, Parents: cedar.NewEntityUIDSet(parents...)}
	}
	// The path, each node in its parent.
	var nodeUIDs []cedar.EntityUID
	for _, n := range in.Path {
		nodeUIDs = append(nodeUIDs, cedar.NewEntityUID(nodeType[n.Kind], cedar.String(n.ID)))
	}
	for i, uid := range nodeUIDs {
		if i+1 < len(nodeUIDs) {
			add(uid, nodeUIDs[i+1])
		} else {
			add(uid)
		}
	}
	var resource cedar.EntityUID
	switch {
	case in.Resource.Kind == castellan.ScopeResource:
		resource = cedar.NewEntityUID(ResourceType(in.Resource.Resource.Service, in.Resource.Resource.Type), cedar.String(in.Resource.String()))
		var parents []cedar.EntityUID
		if len(nodeUIDs) > 0 {
			parents = nodeUIDs[:1]
		}
		add(resource, parents...)
	case len(nodeUIDs) > 0:
		resource = nodeUIDs[0]
	default:
		resource = cedar.NewEntityUID(TypeOrganization, cedar.String(in.Resource.ID))
	}
	principalType := cedar.EntityType(TypeUser)
	if in.Principal.Type == castellan.PrincipalServiceAccount {
		principalType = TypeServiceAccount
	}
	principal := cedar.NewEntityUID(principalType, cedar.String(in.Principal.ID))
	var groups []cedar.EntityUID
	for _, g := range in.Groups {
		uid := cedar.NewEntityUID(TypeGroup, cedar.String(g))
		add(uid)
		groups = append(groups, uid)
	}
	add(principal, groups...)
	action := cedar.NewEntityUID(TypeAction, cedar.String(in.Action))
	service, _, _ := strings.Cut(in.Action, ":")
	group := cedar.NewEntityUID(TypeAction, cedar.String(service+":*"))
	add(group)
	add(action, group)
	return cedar.Request{Principal: principal, Action: action, Resource: resource, Context: attrs}, entities, nil
}

// contextRecord is the Cedar record of a request's context.
func contextRecord(m map[string]any) (cedar.Record, error) {
	if len(m) == 0 {
		return cedar.NewRecord(nil), nil
	}
	raw, err := json.Marshal(m)
	var r cedar.Record
	if err == nil {
		err = r.UnmarshalJSON(raw)
	}
	if err != nil {
		return cedar.Record{}, castellan.Invalid([]castellan.FieldError{{Field: "context", Rule: "cedarRecord",
			Message: "must be a record of Cedar values in their JSON form (integers, strings, booleans, sets, records, {\"__extn\": …}): " + err.Error()}})
	}
	return r, nil
}

// ResourceType is the Cedar entity type of a service's resource type:
// <service>::<type>, or Castellan::Resource when the service's name is
// not a Cedar identifier (it holds a '-').
func ResourceType(service, typ string) cedar.EntityType {
	if strings.Contains(service, "-") {
		return TypeResource
	}
	return cedar.EntityType(service + "::" + typ)
}
