package console

import (
	"errors"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/castellan-iam/castellan"
)

// policiesPage lists the system and the organization's control policies.
func (s *Console) policiesPage(w http.ResponseWriter, r *http.Request, c *consoleRequest) {
	p := c.page()
	p.Nav = "policies"
	p.Notice = notices{{"deleted", "The policy is deleted."}}.of(r)
	list, _, err := s.services.ControlPolicies.FindControlPolicies(r.Context(), c.user.OrganizationID, castellan.ControlPolicyFilter{PageSize: castellan.MaxPageSize})
	if err != nil {
		renderFailed(w, r, p, "policies", err)
		return
	}
	p.Policies = list
	renderConsole(r.Context(), w, http.StatusOK, "policies", p)
}

// policyForm is the create policy page: the Cedar editor, with each
// error of the document shown on its line.
type policyForm struct {
	Name, Description, Document string
	Fields                      fieldErrors
	// Lines numbers the document's lines, marking those an error names.
	Lines          []documentLine
	DocumentErrors []string
}

// documentLine is one line of a policy's document, numbered.
type documentLine struct {
	Number int
	Text   string
	Errors []string
}

// errorLine finds the line an error of a document names ("line 3,
// column 7: …").
var errorLine = regexp.MustCompile(`line (\d+)`)

// numbered numbers document's lines and puts each error on the line it
// names (errors naming none stay with the form).
func numbered(document string, errs []string) []documentLine {
	var lines []documentLine
	for i, text := range strings.Split(document, "\n") {
		lines = append(lines, documentLine{Number: i + 1, Text: strings.TrimRight(text, "\r")})
	}
	for _, e := range errs {
		if m := errorLine.FindStringSubmatch(e); m != nil {
			if n, err := strconv.Atoi(m[1]); err == nil && n >= 1 && n <= len(lines) {
				lines[n-1].Errors = append(lines[n-1].Errors, e)
			}
		}
	}
	return lines
}

func (s *Console) newPolicyPage(w http.ResponseWriter, r *http.Request, c *consoleRequest) {
	p := c.page()
	p.Nav = "policies"
	p.PolicyForm = &policyForm{Document: policyExample, Fields: fieldErrors{}}
	renderConsole(r.Context(), w, http.StatusOK, "policy-new", p)
}

// policyExample starts the editor: a guardrail in the shape most
// policies take.
const policyExample = `// Deny deleting instances below where this policy is attached.
forbid (
  principal,
  action == Action::"compute:DeleteInstance",
  resource
);`

// createPolicy creates a custom control policy; a document that does
// not compile, or names what the catalogue does not have, comes back
// with each error on its line.
func (s *Console) createPolicy(w http.ResponseWriter, r *http.Request, c *consoleRequest) {
	form := &policyForm{Name: strings.TrimSpace(r.PostForm.Get("name")), Description: strings.TrimSpace(r.PostForm.Get("description")),
		Document: r.PostForm.Get("document")}
	pol, err := s.services.ControlPolicies.CreateControlPolicy(r.Context(), c.user.OrganizationID,
		castellan.ControlPolicyCreate{Name: form.Name, Description: form.Description, Document: form.Document})
	if err == nil {
		seeOther(w, consolePath+"/policies/"+pol.ID+"?created=1")
		return
	}
	p := c.page()
	status, msg, fields := formError(r.Context(), err)
	form.Fields = fields
	if e := (*castellan.Error)(nil); errors.As(err, &e) {
		for _, f := range e.Fields {
			if f.Field == "document" {
				form.DocumentErrors = append(form.DocumentErrors, f.Message)
			}
		}
	}
	form.Lines = numbered(form.Document, form.DocumentErrors)
	p.Nav, p.Error, p.PolicyForm = "policies", msg, form
	renderConsole(r.Context(), w, status, "policy-new", p)
}

// policyDetail is a policy's page: the policy, its document numbered
// and the nodes it is attached to.
type policyDetail struct {
	Policy  *castellan.ControlPolicy
	Lines   []documentLine
	Targets []castellan.NodeRef
}

func (s *Console) policyPage(w http.ResponseWriter, r *http.Request, c *consoleRequest) {
	ctx, org, id := r.Context(), c.user.OrganizationID, r.PathValue("policy")
	pol, err := s.services.ControlPolicies.FindControlPolicyByID(ctx, org, id)
	var targets []castellan.NodeRef
	if err == nil {
		targets, err = s.services.ControlPolicies.FindPolicyTargets(ctx, org, id)
	}
	if err != nil {
		renderConsoleError(w, r, err)
		return
	}
	p := c.page()
	p.Notice = notices{{"created", "The policy is created. Attach it to OUs or accounts on their pages."}}.of(r)
	p.Nav, p.PolicyDetail = "policies", &policyDetail{Policy: pol, Lines: numbered(pol.Document, nil), Targets: targets}
	renderConsole(ctx, w, http.StatusOK, "policy", p)
}

func (s *Console) deletePolicy(w http.ResponseWriter, r *http.Request, c *consoleRequest) {
	if _, err := s.services.ControlPolicies.DeleteControlPolicy(r.Context(), c.user.OrganizationID, r.PathValue("policy")); err != nil {
		renderConsoleError(w, r, err)
		return
	}
	seeOther(w, consolePath+"/policies?deleted=1")
}
