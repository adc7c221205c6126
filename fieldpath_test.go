package castellan_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// httpFieldPath matches a field path that names an HTTP location
// (body.name, query.page_token, path.org, header.X): the domain speaks
// of its own inputs, and each edge maps them to its wire names.
var httpFieldPath = regexp.MustCompile(`(^|[^A-Za-z0-9_])(body|query|path|header)\.[A-Za-z_\[]`)

// TestNoHTTPFieldPaths fails when a string literal of a non-test file of
// the root package, of sqlstore or of the guard names an HTTP location.
func TestNoHTTPFieldPaths(t *testing.T) {
	var files []string
	top, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	files = append(files, top...)
	for _, dir := range []string{"sqlstore", "guard"} {
		err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() && strings.HasSuffix(path, ".go") {
				files = append(files, path)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	checked := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		checked++
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			lit, ok := n.(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			s, err := strconv.Unquote(lit.Value)
			if err != nil {
				t.Fatalf("%s: %v", fset.Position(lit.Pos()), err)
			}
			if httpFieldPath.MatchString(s) {
				t.Errorf("%s: %s names an HTTP location; name the domain field instead", fset.Position(lit.Pos()), lit.Value)
			}
			return true
		})
	}
	if checked < 20 {
		t.Fatalf("checked %d files, want the root package and sqlstore", checked)
	}
}

func TestHTTPFieldPathPattern(t *testing.T) {
	for s, want := range map[string]bool{
		"body.grants[0].roleId":    true,
		"query.page_token":         true,
		"path.org":                 true,
		"users[%d].":               false,
		"grants[2].roleId":         false,
		"the file path.":           false,
		"filepath.Dir":             false,
		"%s: body.name is invalid": true,
	} {
		if got := httpFieldPath.MatchString(s); got != want {
			t.Errorf("%q: got %v, want %v", s, got, want)
		}
	}
}
