package policy

import (
	"encoding/json"
	"sync"
)

// actionOnly caches ActionOnly by document, bounded as compiled is.
var actionOnly struct {
	sync.Mutex
	docs map[string]bool
}

// ActionOnly reports whether the levels' verdict (Evaluate's result)
// depends on the action only, not on the principal, its groups or the
// resource: every policy's principal and resource scopes are
// unconstrained and no condition names the principal or the resource. A
// condition on the context is action-only too, for the requests that
// carry no context: it evaluates (or fails, forbidding) the same way for
// each of them. Such verdicts may be cached per (node, action) for
// requests without a context. A document that does not compile is not
// action-only: Evaluate reports it.
func ActionOnly(levels []Level) bool {
	for _, l := range levels {
		for _, p := range l.Policies {
			if !documentActionOnly(p.Document) {
				return false
			}
		}
	}
	return true
}

func documentActionOnly(document string) bool {
	actionOnly.Lock()
	only, ok := actionOnly.docs[document]
	actionOnly.Unlock()
	if ok {
		return only
	}
	only = analyse(document)
	actionOnly.Lock()
	if actionOnly.docs == nil || len(actionOnly.docs) >= maxCompiled {
		actionOnly.docs = map[string]bool{}
	}
	actionOnly.docs[document] = only
	actionOnly.Unlock()
	return only
}

// analyse reads the JSON form of each policy of the document (Cedar's
// JSON policy format): scopes {"op": "All"} and conditions without
// {"Var": "principal"} or {"Var": "resource"}.
func analyse(document string) bool {
	set, err := compile(document)
	if err != nil {
		return false
	}
	for _, p := range set.Map() {
		raw, err := p.MarshalJSON()
		if err != nil {
			return false
		}
		var ast struct {
			Principal  struct{ Op string } `json:"principal"`
			Resource   struct{ Op string } `json:"resource"`
			Conditions any                 `json:"conditions"`
		}
		if err := json.Unmarshal(raw, &ast); err != nil || ast.Principal.Op != "All" || ast.Resource.Op != "All" || namesEntity(ast.Conditions) {
			return false
		}
	}
	return true
}

// namesEntity reports whether the JSON expression tree refers to the
// principal or the resource, or names an entity: whether
// `Castellan::User::"u" in Castellan::Group::"g"` holds depends on the
// entities a request brings (the principal's groups, the resource's
// path), so a verdict reading one is not the same for every request.
func namesEntity(v any) bool {
	switch v := v.(type) {
	case map[string]any:
		for k, child := range v {
			if k == "Var" && (child == "principal" || child == "resource") || k == "__entity" {
				return true
			}
			if namesEntity(child) {
				return true
			}
		}
	case []any:
		for _, child := range v {
			if namesEntity(child) {
				return true
			}
		}
	}
	return false
}
