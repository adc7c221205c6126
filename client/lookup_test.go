package client_test

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/client"
	"github.com/castellan-iam/castellan/storetest"
)

// TestLookups pages through the projects the owner may read and finds
// the owner among who may read one, with its grant; a bad type is the
// API's problem.
func TestLookups(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	storetest.Must(s.services.Projects.CreateProject(system, s.org, castellan.ProjectCreate{Name: "api"}))(t)
	src := &client.KeyTokenSource{BaseURL: s.url, KeyID: s.key.ID, Secret: s.key.Secret, Now: s.clock.Now}
	d := &client.Decisions{BaseURL: s.url, HTTPClient: &http.Client{Transport: &client.Transport{Source: src}}}
	ctx := context.Background()
	owner := client.Principal{Type: "user", ID: s.key.Owner.ID, OrganizationID: s.org}
	req := client.LookupResourcesRequest{Principal: owner, Action: "organizations:GetProject", ResourceType: "project", PageSize: 1}
	var projects []string
	for {
		page, err := d.LookupResources(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		projects = append(projects, page.Resources...)
		if page.NextPageToken == "" {
			break
		}
		req.PageToken = page.NextPageToken
	}
	if len(projects) != 2 {
		t.Fatalf("got %v, want both projects", projects)
	}
	page, err := d.LookupSubjects(ctx, client.LookupSubjectsRequest{OrganizationID: s.org, Action: "organizations:GetProject", Resource: projects[0]})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Subjects) != 1 || page.Subjects[0].Subject.ID != owner.ID || len(page.Subjects[0].Grants) != 1 ||
		page.Subjects[0].Grants[0].Role != castellan.OrganizationOwnerRoleID || page.Subjects[0].Grants[0].Grant.ID == "" {
		t.Fatalf("got %+v, want the owner through its grant", page.Subjects)
	}
	req.ResourceType, req.PageToken = "bucket", ""
	_, err = d.LookupResources(ctx, req)
	var apiErr *client.Error
	if !errors.As(err, &apiErr) || apiErr.Status != http.StatusBadRequest || apiErr.Code != castellan.CodeInvalidField {
		t.Fatalf("got %v, want request.invalid_field", err)
	}
}
