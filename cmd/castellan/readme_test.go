package main

import (
	"context"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/sqlstore/sqltest"
)

// walkthroughBlock is the shell block between the walkthrough markers of
// the README.
var walkthroughBlock = regexp.MustCompile("(?s)<!-- walkthrough:begin[^>]*-->\\s*```sh\\n(.*?)```\\s*<!-- walkthrough:end -->")

// TestReadmeWalkthrough runs the README's walkthrough, as written, from
// bootstrap to a console sign-in, against a fresh server; only the API
// address is pointed at the test's server, and CASTELLAN_DATABASE at its
// store.
func TestReadmeWalkthrough(t *testing.T) {
	for _, tool := range []string{"bash", "curl", "jq", "go"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("the walkthrough needs %s (.ci/run installs it): %v", tool, err)
		}
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	m := walkthroughBlock.FindSubmatch(readme)
	if m == nil {
		t.Fatal("README has no walkthrough block")
	}
	const apiLine = "API=http://127.0.0.1:8080\n"
	script := string(m[1])
	if !strings.HasPrefix(script, apiLine) {
		t.Fatalf("walkthrough must start with %q", apiLine)
	}

	url := sqltest.SQLiteURL(t)
	srv := startServe(t, noEnv, "--listen", "127.0.0.1:0", "--database", url)
	script = "API=" + srv.URL + "\n" + strings.TrimPrefix(script, apiLine)

	cmd := exec.Command("bash", "-euo", "pipefail", "-c", script)
	cmd.Dir = "../.."
	cmd.Env = append(os.Environ(), "CASTELLAN_DATABASE="+url)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("walkthrough failed: %v\n%s", err, out)
	}
	for _, want := range []string{
		`"name": "web-prod"`,
		`"action": "organizations:CreateProject"`,
		`"requestId": "readme-create-web"`,
		`"code": "project.name_taken"`,
		`"code": "auth.unauthenticated"`,
		"303 " + srv.URL + "/console\n",
		"303 " + srv.URL + "/console\nSigned in as <strong>owner@acme.example\n",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("walkthrough output lacks %s:\n%s", want, out)
		}
	}

	// The audit log names the bootstrapped owner as the creator.
	db := sqltest.MustOpen(t, url, nil)
	ctx := context.Background()
	orgs, _, err := db.Organizations().FindOrganizations(ctx, castellan.OrganizationFilter{})
	if err != nil || len(orgs) != 1 {
		t.Fatalf("got %d organizations (%v), want 1", len(orgs), err)
	}
	action := "organizations:CreateProject"
	events, _, err := db.Audit().FindAuditEvents(ctx, orgs[0].ID, castellan.AuditFilter{Action: &action})
	if err != nil || len(events) != 1 {
		t.Fatalf("got %d creation events (%v), want 1", len(events), err)
	}
	if e := events[0]; e.Actor.Type != castellan.PrincipalUser || e.RequestID != "readme-create-web" || e.Target.Name != "web-prod" {
		t.Fatalf("got %+v", e)
	}
}
