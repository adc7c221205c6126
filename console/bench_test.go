package console_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/internal/apitest"
	"github.com/castellan-iam/castellan/sqlstore/sqltest"
)

// BenchmarkConsolePages measures the console's main pages as a signed-in
// admin reads them over a kept-alive loopback connection: the session
// check, the organization and current project, the page's reads through
// the guarded services, and the template. The organization holds 300
// users, 30 groups, 30 projects and 10 OUs; lists show their first page.
func BenchmarkConsolePages(b *testing.B) {
	for _, backend := range sqltest.Backends() {
		b.Run(backend.Name, func(b *testing.B) {
			e := newEnv(b, backend.URL(b))
			org := e.Acme.OrganizationID
			s := e.DB.Services()
			admin := e.ConsoleUser(b, org, "admin", nil)
			e.grantOrg(b, admin, "organization.admin")
			regs := make([]castellan.UserRegistration, 100)
			for batch := range 3 {
				for i := range regs {
					id := fmt.Sprintf("u%d-%03d", batch, i)
					regs[i] = castellan.UserRegistration{LoginID: id, Email: id + "@acme.example", Name: "User " + id,
						Mode: castellan.ModeInvitation, ConsoleAccess: true, APIAccess: true}
				}
				if _, err := s.Users.RegisterUsers(system, org, regs); err != nil {
					b.Fatal(err)
				}
			}
			var project *castellan.Project
			for i := range 30 {
				g, err := s.Groups.CreateGroup(system, org, castellan.GroupCreate{Name: fmt.Sprintf("group-%02d", i)})
				if err != nil {
					b.Fatal(err)
				}
				if project, err = s.Projects.CreateProject(system, org, castellan.ProjectCreate{Name: fmt.Sprintf("project-%02d", i)}); err != nil {
					b.Fatal(err)
				}
				if _, _, err := s.Grants.CreateGrants(system, org, []castellan.GrantCreate{{RoleID: "project.member",
					Scope: "project/" + project.ID, Subject: castellan.Subject{Type: castellan.SubjectGroup, ID: g.ID}}}); err != nil {
					b.Fatal(err)
				}
			}
			for i := range 10 {
				if _, err := s.OrgUnits.CreateOrgUnit(system, org, castellan.OrgUnitCreate{ParentID: org, Name: fmt.Sprintf("OU %02d", i)}); err != nil {
					b.Fatal(err)
				}
			}
			browser := apitest.SignedIn(b, e.srv, admin)
			for _, page := range []struct{ name, path string }{
				{"home", "/console"},
				{"users", "/console/users"},
				{"user", "/console/users/" + admin.ID},
				{"groups", "/console/groups"},
				{"projects", "/console/projects"},
				{"project", "/console/projects/" + project.ID},
				{"organization", "/console/organization"},
				{"audit", "/console/audit"},
			} {
				b.Run(page.name, func(b *testing.B) {
					for b.Loop() {
						if p := browser.Get(page.path); p.Status != http.StatusOK {
							b.Fatalf("%s: %d", page.path, p.Status)
						}
					}
				})
			}
		})
	}
}
