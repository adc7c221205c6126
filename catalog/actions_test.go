package catalog_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"strconv"
	"testing"
)

// TestActionsInCatalogue checks that every Action constant of the root
// package is an action of the default catalogue, so that roles can name
// it and the guard authorizes nothing the catalogue does not know. The
// constants are read from the source so that a new one is checked
// without being listed twice.
func TestActionsInCatalogue(t *testing.T) {
	cat := mustDefault(t)
	file, err := parser.ParseFile(token.NewFileSet(), "../actions.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	ast.Inspect(file, func(node ast.Node) bool {
		spec, ok := node.(*ast.ValueSpec)
		if !ok || spec.Type == nil || len(spec.Values) != 1 {
			return true
		}
		if ident, ok := spec.Type.(*ast.Ident); !ok || ident.Name != "Action" {
			return true
		}
		lit, ok := spec.Values[0].(*ast.BasicLit)
		if !ok {
			t.Errorf("%s: not a string literal", spec.Names[0].Name)
			return true
		}
		action, err := strconv.Unquote(lit.Value)
		if err != nil {
			t.Fatal(err)
		}
		n++
		if !cat.HasAction(action) {
			t.Errorf("%s = %q is not in the default catalogue", spec.Names[0].Name, action)
		}
		return true
	})
	if n < 50 {
		t.Fatalf("read %d Action constants from actions.go, want every one of them (50 or more)", n)
	}
}
