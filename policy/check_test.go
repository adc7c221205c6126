package policy_test

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/catalog"
	"github.com/castellan-iam/castellan/policy"
)

func defaultCatalog(tb testing.TB) *castellan.Catalog {
	tb.Helper()
	c, err := catalog.Default()
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

func TestCheck(t *testing.T) {
	cat := defaultCatalog(t)
	tests := []struct {
		name     string
		document string
		want     []string // rule: message prefix
	}{
		{"FullAccess", castellan.SystemControlPolicy(castellan.FullAccessPolicyID).Document, nil},
		{"KnownNames", `forbid (principal is Castellan::User in Castellan::Group::"g", action in [Action::"compute:StopInstance", Action::"s3e:*"], resource is s3e::bucket)
when { resource in Castellan::Account::"a" && principal is Castellan::ServiceAccount && context == {k: Castellan::OrganizationalUnit::"o"} };`, nil},
		{"OwnTypes", `permit (principal == Castellan::ServiceAccount::"s", action, resource in Castellan::Organization::"o")
unless { resource is Castellan::Project || resource is Castellan::Resource || resource is network::vpc };`, nil},
		{"Syntax", "permit (principal, action, resource)\nwhen { ", []string{"syntax: line 2, column 8: "}},
		{"UnknownActionEq", `forbid (principal, action == Action::"compute:Explode", resource);`,
			[]string{`unknownAction: line 1, column 30: "compute:Explode"`}},
		{"UnknownServiceGroup", "permit (principal,\n  action in Action::\"nosuch:*\",\n  resource);",
			[]string{`unknownAction: line 2, column 13: "nosuch:*"`}},
		{"EveryErrorOfEveryPolicy", `permit (principal, action, resource);
// Action::"compute:Commented" is not read
forbid (principal is Castellan::Robot, action in [Action::"compute:StopInstance", Action::"compute:Fly"], resource)
when { resource is compute::volume || resource in compute::instance::"i" || "Action::\"x:Y\"" == "" };
forbid (principal, action, resource is nosuch::thing) unless { action == Action::"compute:Fly" };`,
			[]string{
				"unknownEntityType: line 3, column 22: Castellan::Robot ",
				`unknownAction: line 3, column 83: "compute:Fly"`,
				"unknownEntityType: line 4, column 20: compute::volume ",
				"unknownEntityType: line 5, column 40: nosuch::thing ",
				`unknownAction: line 5, column 74: "compute:Fly"`,
			}},
		{"ResourceTypeOfAnotherService", `permit (principal, action, resource is compute::bucket);`,
			[]string{"unknownEntityType: line 1, column 40: compute::bucket "}},
		{"ColumnsCountCharacters", "permit (principal, action, resource) when { \"é✓\" == \"\" && action == Action::\"iam:Nope\" };",
			[]string{`unknownAction: line 1, column 69: "iam:Nope"`}},
		{"ActionOfANamespace", `permit (principal, action == Castellan::Action::"iam:GetUser", resource);`,
			[]string{"unknownEntityType: line 1, column 30: Castellan::Action "}},
		{"SpacedPath", "permit (principal, action, resource is compute :: disk) when { resource in compute ::\n nope::\"x\" };",
			[]string{"unknownEntityType: line 1, column 76: compute::nope "}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, f := range policy.Check("document", tt.document, cat) {
				if f.Field != "document" {
					t.Errorf("field %q, want document", f.Field)
				}
				got = append(got, f.Rule+": "+f.Message)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d errors %q, want %d %q", len(got), got, len(tt.want), tt.want)
			}
			for i := range got {
				if !strings.HasPrefix(got[i], tt.want[i]) {
					t.Errorf("error %d: got %q, want prefix %q", i, got[i], tt.want[i])
				}
			}
		})
	}
}

// FuzzCheck: Check answers every input without panicking, and what it
// reports carries a position.
func FuzzCheck(f *testing.F) {
	cat := defaultCatalog(f)
	for _, seed := range []string{
		"permit (principal, action, resource);",
		`forbid (principal is Castellan::User, action in [Action::"compute:Nope", Action::"x:*"], resource is a::b) when { resource in c::d::"\u{e9}" };`,
		`permit (principal, action == Action::"\"", resource) unless { "//" == "\\" };`,
		"permit (principal, action, resource) when { resource is",
		"// only a comment",
		`forbid (principal, action, resource) when { context.is == Action::"iam:GetUser" };`,
		"\xff\x00permit",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, document string) {
		for _, e := range policy.Check("document", document, cat) {
			if e.Field != "document" || e.Rule == "" || e.Message == "" {
				t.Fatalf("incomplete field error %+v", e)
			}
			if e.Rule == "unknownAction" || e.Rule == "unknownEntityType" {
				var line, column int
				if _, err := fmt.Sscanf(e.Message, "line %d, column %d:", &line, &column); err != nil || line < 1 || column < 1 {
					t.Fatalf("message %q does not start with a position", e.Message)
				}
			}
		}
	})
}

// TestDocumentedPolicies checks that the Cedar examples of
// docs/organization.md pass Check.
func TestDocumentedPolicies(t *testing.T) {
	doc, err := os.ReadFile("../docs/organization.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := strings.Split(string(doc), "```cedar\n")[1:]
	if len(blocks) < 3 {
		t.Fatalf("got %d cedar blocks, want FullAccess and two examples", len(blocks))
	}
	for _, b := range blocks {
		document, _, _ := strings.Cut(b, "```")
		if errs := policy.Check("document", document, defaultCatalog(t)); errs != nil {
			t.Errorf("%s: %+v", document, errs)
		}
	}
}
