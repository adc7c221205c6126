package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// Decisions calls the decision API's lookups. Its HTTPClient carries the
// caller's credentials, usually with a Transport:
//
//	d := &client.Decisions{BaseURL: base, HTTPClient: &http.Client{Transport: &client.Transport{Source: src}}}
//	page, err := d.LookupResources(ctx, client.LookupResourcesRequest{Principal: p, Action: "s3e:GetObject", ResourceType: "s3e:bucket"})
type Decisions struct {
	// BaseURL is the API's root, such as https://iam.example.com.
	BaseURL string
	// HTTPClient sends the requests; nil means http.DefaultClient.
	HTTPClient *http.Client
}

// Principal is the principal a lookup of resources is about.
type Principal struct {
	Type           string `json:"type"`
	ID             string `json:"id"`
	OrganizationID string `json:"organizationId"`
	ProjectID      string `json:"projectId,omitempty"`
}

// LookupResourcesRequest asks on which resources of ResourceType
// (organization, ou, account, project or <service>:<type>) Principal
// may do Action. PageSize 0 means the API's default.
type LookupResourcesRequest struct {
	Principal    Principal      `json:"principal"`
	Action       string         `json:"action"`
	ResourceType string         `json:"resourceType"`
	Context      map[string]any `json:"context,omitempty"`
	PageSize     int            `json:"-"`
	PageToken    string         `json:"-"`
}

// LookupResourcesPage is one page of resources; the list goes on while
// NextPageToken is set, even after an empty page.
type LookupResourcesPage struct {
	Resources     []string `json:"resources"`
	NextPageToken string   `json:"nextPageToken"`
	Revision      int64    `json:"revision"`
}

// LookupSubjectsRequest asks who may do Action on Resource of the
// organization.
type LookupSubjectsRequest struct {
	OrganizationID string         `json:"organizationId"`
	Action         string         `json:"action"`
	Resource       string         `json:"resource"`
	Context        map[string]any `json:"context,omitempty"`
	PageSize       int            `json:"-"`
	PageToken      string         `json:"-"`
}

// Subject is a user, group or service account.
type Subject struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

// SubjectGrant is a grant through which a subject holds the action.
type SubjectGrant struct {
	Grant struct {
		ID    string `json:"id"`
		Scope string `json:"scope"`
	} `json:"grant"`
	Role  string `json:"role"`
	Scope string `json:"scope"`
	// Group is the group the grant is made to, for a member's grant.
	Group *Subject `json:"group,omitempty"`
}

// SubjectAccess is a subject that may act, with its grants.
type SubjectAccess struct {
	Subject Subject        `json:"subject"`
	Grants  []SubjectGrant `json:"grants"`
}

// LookupSubjectsPage is one page of subjects.
type LookupSubjectsPage struct {
	Subjects      []SubjectAccess `json:"subjects"`
	NextPageToken string          `json:"nextPageToken"`
	Revision      int64           `json:"revision"`
}

// LookupResources calls POST /v1/authorize:lookup-resources for one page.
func (d *Decisions) LookupResources(ctx context.Context, req LookupResourcesRequest) (*LookupResourcesPage, error) {
	page := &LookupResourcesPage{}
	return page, d.post(ctx, "/v1/authorize:lookup-resources", req.PageSize, req.PageToken, req, page)
}

// LookupSubjects calls POST /v1/authorize:lookup-subjects for one page.
func (d *Decisions) LookupSubjects(ctx context.Context, req LookupSubjectsRequest) (*LookupSubjectsPage, error) {
	page := &LookupSubjectsPage{}
	return page, d.post(ctx, "/v1/authorize:lookup-subjects", req.PageSize, req.PageToken, req, page)
}

// post sends body to path with the page parameters and decodes the
// answer into out; a problem answer is an *Error.
func (d *Decisions) post(ctx context.Context, path string, pageSize int, pageToken string, body, out any) error {
	q := url.Values{}
	if pageSize > 0 {
		q.Set("page_size", strconv.Itoa(pageSize))
	}
	if pageToken != "" {
		q.Set("page_token", pageToken)
	}
	target := strings.TrimSuffix(d.BaseURL, "/") + path
	if len(q) > 0 {
		target += "?" + q.Encode()
	}
	data, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(data))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	hc := d.HTTPClient
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return problemOf(resp, answer)
	}
	if err := json.Unmarshal(answer, out); err != nil {
		return fmt.Errorf("castellan: %s: malformed answer: %w", path, err)
	}
	return nil
}
