package policy

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/castellan-iam/castellan"
	"github.com/cedar-policy/cedar-go"
	"github.com/cedar-policy/cedar-go/types"
	xast "github.com/cedar-policy/cedar-go/x/exp/ast"
)

// TypeResource is the entity type of the resources of services whose
// name is not a Cedar identifier (see ResourceType).
const TypeResource = "Castellan::Resource"

// ownTypes are the entity types every document may name besides the
// catalogue's <service>::<resourceType>.
var ownTypes = []string{TypeUser, TypeServiceAccount, TypeGroup, TypeOrganization, TypeOU, TypeAccount, TypeProject, TypeResource, TypeAction}

// Check compiles a document for a create or update and checks it against
// the service catalogue: every action it names must be a catalogue action
// or a service's group "<service>:*", every entity type one of
// Castellan's own or a catalogue service's resource type. It returns
// every field error it finds, on field, each message starting with the
// line and column.
//
// The library's schema validator reports only the position of a whole
// policy and also type-checks attributes, which control policies do not
// declare; so the policies' syntax trees say which names are unknown and
// a scan of the text says where each one is written.
func Check(field, document string, catalog *castellan.Catalog) []castellan.FieldError {
	set, errs := Compile(field, document)
	if errs != nil {
		return errs
	}
	known := knownNames{catalog: catalog}
	// Each unknown name, with the position of its policy in case the
	// scan below does not place it.
	unknown := map[reference]cedar.Position{}
	for _, p := range set.Map() {
		for _, r := range policyReferences((*xast.Policy)(p.AST())) {
			if _, seen := unknown[r]; !seen && !known.has(r) {
				unknown[r] = p.Position()
			}
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	var out []castellan.FieldError
	placed := map[reference]bool{}
	for _, w := range scanReferences(document) {
		if _, bad := unknown[w.reference]; bad {
			out = append(out, w.fieldError(field, w.line, w.column))
			placed[w.reference] = true
		}
	}
	var rest []castellan.FieldError
	for r, pos := range unknown {
		if !placed[r] {
			rest = append(rest, r.fieldError(field, pos.Line, pos.Column))
		}
	}
	slices.SortFunc(rest, func(a, b castellan.FieldError) int { return strings.Compare(a.Message, b.Message) })
	return append(out, rest...)
}

// reference is an action (typ Action, id its name) or an entity type (id
// empty) that a policy names.
type reference struct {
	typ string
	id  string
}

func (r reference) fieldError(field string, line, column int) castellan.FieldError {
	if r.typ == TypeAction {
		return castellan.FieldError{Field: field, Rule: "unknownAction",
			Message: fmt.Sprintf("line %d, column %d: %s is not an action of the service catalogue nor a service's group <service>:*", line, column, strconv.Quote(r.id))}
	}
	return castellan.FieldError{Field: field, Rule: "unknownEntityType",
		Message: fmt.Sprintf("line %d, column %d: %s is not an entity type of Castellan nor <service>::<resourceType> of the service catalogue", line, column, r.typ)}
}

// knownNames answers which references the catalogue knows.
type knownNames struct{ catalog *castellan.Catalog }

func (k knownNames) has(r reference) bool {
	if r.typ == TypeAction {
		if service, verb, ok := strings.Cut(r.id, ":"); ok && verb == "*" {
			return k.catalog.Service(service) != nil
		}
		return k.catalog.HasAction(r.id)
	}
	if slices.Contains(ownTypes, r.typ) {
		return true
	}
	service, typ, ok := strings.Cut(r.typ, "::")
	if !ok {
		return false
	}
	s := k.catalog.Service(service)
	return s != nil && ResourceType(service, typ) == cedar.EntityType(r.typ) && slices.Contains(s.ResourceTypes, typ)
}

// policyReferences lists the actions and entity types a policy names, in
// its scope and its conditions.
func policyReferences(p *xast.Policy) []reference {
	out := scopeReferences(p.Principal)
	out = append(out, scopeReferences(p.Action)...)
	out = append(out, scopeReferences(p.Resource)...)
	for _, c := range p.Conditions {
		xast.Inspect(xast.NewNode(c.Body), func(n xast.IsNode) bool {
			switch n := n.(type) {
			case xast.NodeValue:
				out = append(out, valueReferences(n.Value)...)
			case xast.NodeTypeIsIn:
				out = append(out, reference{typ: string(n.EntityType)})
			case xast.NodeTypeIs:
				out = append(out, reference{typ: string(n.EntityType)})
			}
			return true
		})
	}
	return out
}

// entityReference is the reference of an entity literal: its action when
// it is an action, else its type.
func entityReference(uid types.EntityUID) reference {
	if uid.Type == TypeAction {
		return reference{typ: TypeAction, id: string(uid.ID)}
	}
	return reference{typ: string(uid.Type)}
}

// scopeReferences lists the references of a principal, action or
// resource scope.
func scopeReferences(scope any) []reference {
	switch s := scope.(type) {
	case xast.ScopeTypeEq:
		return []reference{entityReference(s.Entity)}
	case xast.ScopeTypeIn:
		return []reference{entityReference(s.Entity)}
	case xast.ScopeTypeInSet:
		var out []reference
		for _, e := range s.Entities {
			out = append(out, entityReference(e))
		}
		return out
	case xast.ScopeTypeIs:
		return []reference{{typ: string(s.Type)}}
	case xast.ScopeTypeIsIn:
		return []reference{{typ: string(s.Type)}, entityReference(s.Entity)}
	}
	return nil
}

// valueReferences lists the entity literals inside a value.
func valueReferences(v types.Value) []reference {
	switch v := v.(type) {
	case types.EntityUID:
		return []reference{entityReference(v)}
	case types.Set:
		var out []reference
		for e := range v.All() {
			out = append(out, valueReferences(e)...)
		}
		return out
	case types.Record:
		var out []reference
		for e := range v.Values() {
			out = append(out, valueReferences(e)...)
		}
		return out
	}
	return nil
}

// written is a reference as the text writes it.
type written struct {
	reference
	line, column int
}

// scanReferences finds the entity literals (Path::"id") and the types
// after `is` in a document that compiles, with their line and column
// (1-based, columns in characters, as the parser counts them).
func scanReferences(document string) []written {
	tokens := tokenize(document)
	var out []written
	for i := 0; i < len(tokens); i++ {
		t := tokens[i]
		if t.kind != tokenIdent {
			continue
		}
		afterIs := t.text == "is" && i+1 < len(tokens) && tokens[i+1].kind == tokenIdent && (i == 0 || tokens[i-1].text != ".")
		if afterIs {
			i++
			t = tokens[i]
		}
		// A path: ident (:: ident)*.
		path := []string{t.text}
		j := i + 1
		for j+1 < len(tokens) && tokens[j].text == "::" && tokens[j+1].kind == tokenIdent {
			path = append(path, tokens[j+1].text)
			j += 2
		}
		typ := strings.Join(path, "::")
		switch {
		case afterIs:
			out = append(out, written{reference: reference{typ: typ}, line: t.line, column: t.column})
		case j+1 < len(tokens) && tokens[j].text == "::" && tokens[j+1].kind == tokenString:
			r := reference{typ: typ}
			if typ == TypeAction {
				r.id = unquote(tokens[j+1].text)
			}
			out = append(out, written{reference: r, line: t.line, column: t.column})
			j += 2
		default:
			continue
		}
		i = j - 1
	}
	return out
}

type tokenKind int

const (
	tokenIdent tokenKind = iota
	tokenString
	tokenOther
)

type token struct {
	kind         tokenKind
	text         string
	line, column int
}

// tokenize splits a Cedar document into identifiers, string literals,
// "::" and single other characters, dropping white space and comments.
func tokenize(s string) []token {
	var out []token
	line, column := 1, 1
	advance := func(n int) {
		for _, r := range s[:n] {
			if r == '\n' {
				line, column = line+1, 1
			} else {
				column++
			}
		}
		s = s[n:]
	}
	for len(s) > 0 {
		c := s[0]
		n := 1
		kind := tokenOther
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			advance(1)
			continue
		case strings.HasPrefix(s, "//"):
			n = strings.IndexByte(s, '\n')
			if n < 0 {
				n = len(s)
			}
			advance(n)
			continue
		case c == '"':
			kind = tokenString
			for n < len(s) && s[n] != '"' {
				if s[n] == '\\' {
					n++
				}
				n++
			}
			n = min(n+1, len(s))
		case isIdentStart(c):
			kind = tokenIdent
			for n < len(s) && (isIdentStart(s[n]) || '0' <= s[n] && s[n] <= '9') {
				n++
			}
		case strings.HasPrefix(s, "::"):
			n = 2
		default:
			_, n = utf8.DecodeRuneInString(s)
		}
		out = append(out, token{kind: kind, text: s[:n], line: line, column: column})
		advance(n)
	}
	return out
}

func isIdentStart(c byte) bool { return c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

// unquote returns the value of a Cedar string literal; the escapes an
// action name can hold are Go's, and a literal Go does not read is
// compared as written.
func unquote(literal string) string {
	if v, err := strconv.Unquote(literal); err == nil {
		return v
	}
	return strings.Trim(literal, `"`)
}
