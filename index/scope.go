package index

import (
	"strings"

	"github.com/castellan-iam/castellan"
)

// target is a parsed scope without allocation: castellan.ParseScope
// matches a regular expression and allocates the resource name, which a
// decision of a few hundred nanoseconds cannot afford.
type target struct {
	kind castellan.ScopeKind
	// id is the node's ID; a resource's project.
	id string
	// resource is the whole resource name; empty for a node.
	resource string
	// slash is the index in resource of the '/' before the resource's
	// ID: resource[:slash+1]+"*" names every resource of its type.
	slash int
}

// parseTarget parses s as castellan.ParseScope does; ok is false for
// anything it does not accept, which ParseScope then judges (and reports).
func parseTarget(s string) (t target, ok bool) {
	if len(s) > castellan.MaxScopeLength {
		return t, false
	}
	if rest, isRN := strings.CutPrefix(s, "rn:"); isRN {
		return parseResource(s, rest)
	}
	kind, id, found := strings.Cut(s, "/")
	switch castellan.ScopeKind(kind) {
	case castellan.ScopeOrganization, castellan.ScopeOU, castellan.ScopeAccount, castellan.ScopeProject:
	default:
		return t, false
	}
	if !found || !validID(id) {
		return t, false
	}
	return target{kind: castellan.ScopeKind(kind), id: id}, true
}

// parseResource parses rest, s after "rn:", as castellan's resource name
// pattern: <service>:<project-id>:<type>/<id or *>.
func parseResource(s, rest string) (t target, ok bool) {
	service, rest, found := strings.Cut(rest, ":")
	if !found || !span(service, 1, 63, lowerDigit, lowerDigitDash) {
		return t, false
	}
	project, rest, found := strings.Cut(rest, ":")
	if !found || !validID(project) {
		return t, false
	}
	typ, id, found := strings.Cut(rest, "/")
	if !found || !span(typ, 1, 63, lower, alnumDash) {
		return t, false
	}
	if id != castellan.AllResources && !span(id, 1, 255, alnum, idChar) {
		return t, false
	}
	return target{kind: castellan.ScopeResource, id: project, resource: s, slash: len(s) - len(id) - 1}, true
}

// targetOf is the target of a scope ParseScope accepted.
func targetOf(scope castellan.Scope) target {
	if scope.Kind != castellan.ScopeResource {
		return target{kind: scope.Kind, id: scope.ID}
	}
	s := scope.String()
	return target{kind: scope.Kind, id: scope.ID, resource: s, slash: strings.LastIndexByte(s, '/')}
}

// allOfType reports whether the resource names every resource of its
// type.
func (t target) allOfType() bool { return t.resource[t.slash+1:] == castellan.AllResources }

// nodeKind is the kind of the node the target names (a resource's
// project).
func (t target) nodeKind() castellan.NodeKind {
	return castellan.Scope{Kind: t.kind}.NodeKind()
}

// Character classes of the resource name pattern, as bits of chars.
const (
	classLower = 1 << iota
	classDigit
	classUpper
	classDash
	classPunct // . _ ~
	classHex   // 0-9 a-f
)

// Classes the pattern's parts allow.
const (
	lowerDigit     = classLower | classDigit
	lowerDigitDash = lowerDigit | classDash
	lower          = classLower
	alnum          = classLower | classDigit | classUpper
	alnumDash      = alnum | classDash
	idChar         = alnumDash | classPunct
)

// chars classifies every byte, a constant table.
var chars = func() (t [256]uint8) {
	for c := 'a'; c <= 'z'; c++ {
		t[c] |= classLower
	}
	for c := 'A'; c <= 'Z'; c++ {
		t[c] |= classUpper
	}
	for c := '0'; c <= '9'; c++ {
		t[c] |= classDigit | classHex
	}
	for c := 'a'; c <= 'f'; c++ {
		t[c] |= classHex
	}
	t['-'] |= classDash
	t['.'], t['_'], t['~'] = classPunct, classPunct, classPunct
	return t
}()

// span reports whether s has between least and most bytes, the first of
// class first and the others of class rest.
func span(s string, least, most int, first, rest uint8) bool {
	if len(s) < least || len(s) > most || chars[s[0]]&first == 0 {
		return false
	}
	for i := 1; i < len(s); i++ {
		if chars[s[i]]&rest == 0 {
			return false
		}
	}
	return true
}

// validID is castellan.ValidID without its regular expression: a UUID in
// lower case.
func validID(id string) bool {
	if len(id) != 36 {
		return false
	}
	for i := range len(id) {
		switch i {
		case 8, 13, 18, 23:
			if id[i] != '-' {
				return false
			}
		default:
			if chars[id[i]]&classHex == 0 {
				return false
			}
		}
	}
	return true
}
