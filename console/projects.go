package console

import (
	"net/http"
	"strings"

	"github.com/castellan-iam/castellan"
)

// Projects: the list, creation, a project's page (its members and access
// keys) and the project the console works in, shown in the top bar. All
// read and write through the guarded services: another organization's
// projects are not found.

// projectCookie remembers the project the user works in (its ID only;
// every page reads it again through the guarded service).
const projectCookie = "castellan_project"

// projectList is the projects page: one page of projects, with the
// names of the nodes they hang under.
type projectList struct {
	listPage[castellan.Project]
	Parents map[string]*castellan.Node
}

func (s *Console) projectsPage(w http.ResponseWriter, r *http.Request, c *consoleRequest) {
	p := c.page()
	p.Nav = "projects"
	p.Notice = notices{{"deleted", "The project is deleted, with the roles held on it and its service accounts."}}.of(r)
	parents := map[string]*castellan.Node{}
	if nodes, _, err := s.treeNodes(r, c); err == nil {
		for _, n := range nodes {
			parents[n.ID] = n
		}
	}
	serveList(w, r, p, "projects", "/projects", func(token string) ([]*castellan.Project, string, error) {
		return s.services.Projects.FindProjects(r.Context(), c.user.OrganizationID, castellan.ProjectFilter{PageSize: usersPageSize, PageToken: token})
	}, func(p *consolePage, l *listPage[castellan.Project]) {
		if l != nil {
			p.Projects = &projectList{listPage: *l, Parents: parents}
		}
	})
}

// projectForm is the create project page: where it may go, what was
// typed and what was wrong.
type projectForm struct {
	Parents                     []*castellan.Node
	ParentID, Name, Description string
	Fields                      fieldErrors
}

func (s *Console) newProjectPage(w http.ResponseWriter, r *http.Request, c *consoleRequest) {
	s.renderProjectForm(w, r, c, http.StatusOK, "", &projectForm{ParentID: r.URL.Query().Get("parentId"), Fields: fieldErrors{}})
}

func (s *Console) renderProjectForm(w http.ResponseWriter, r *http.Request, c *consoleRequest, status int, msg string, f *projectForm) {
	p := c.page()
	var err error
	if f.Parents, _, err = s.treeNodes(r, c); err != nil {
		renderFailed(w, r, p, "error", err)
		return
	}
	p.Nav, p.Error, p.ProjectForm = "projects", msg, f
	renderConsole(r.Context(), w, status, "project-new", p)
}

func (s *Console) createProject(w http.ResponseWriter, r *http.Request, c *consoleRequest) {
	f := r.PostForm
	pc := castellan.ProjectCreate{ParentID: f.Get("parentId"), Name: strings.TrimSpace(f.Get("name")), Description: strings.TrimSpace(f.Get("description"))}
	created, err := s.services.Projects.CreateProject(r.Context(), c.user.OrganizationID, pc)
	if err != nil {
		status, msg, fields := formError(r.Context(), err)
		if castellan.ErrorCode(err) == castellan.CodeProjectNameTaken {
			fields["name"] = msg
		}
		s.renderProjectForm(w, r, c, status, msg, &projectForm{ParentID: pc.ParentID, Name: pc.Name, Description: pc.Description, Fields: fields})
		return
	}
	seeOther(w, consolePath+"/projects/"+created.ID+"?created=1")
}

// projectDetail is a project's page: the project, where it hangs, who
// holds roles on it and its access keys (each list with why it could
// not be read, if so).
type projectDetail struct {
	Project               *castellan.Project
	Parent                *castellan.Node
	Members               []projectMember
	MembersError          string
	Keys                  []*castellan.AccessKey
	KeysError             string
	Current               bool
	MoreMembers, MoreKeys bool
}

// projectMember is a role held on the project, by whom.
type projectMember struct {
	Grant *castellan.Grant
	// Name is the user's login ID or the group's name; Link its page
	// ("" for a service account).
	Name, Link string
}

func (s *Console) projectPage(w http.ResponseWriter, r *http.Request, c *consoleRequest) {
	ctx, org := r.Context(), c.user.OrganizationID
	p := c.page()
	p.Nav = "projects"
	p.Notice = notices{{"created", "The project is created. Give users or groups roles on it from their pages."}}.of(r)
	project, err := s.services.Projects.FindProjectByID(ctx, org, r.PathValue("project"))
	if err != nil {
		renderConsoleError(w, r, err)
		return
	}
	d := &projectDetail{Project: project, Current: p.Project != nil && p.Project.ID == project.ID}
	if parent, err := s.services.Nodes.FindNodeByID(ctx, org, project.ParentID); err == nil {
		d.Parent = parent
	}
	scope := castellan.ProjectScope(project.ID).String()
	grants, next, err := s.services.Grants.FindGrants(ctx, org, castellan.GrantFilter{Scope: &scope, PageSize: usersPageSize})
	if err != nil {
		_, d.MembersError = publicError(ctx, err)
	}
	d.MoreMembers = next != ""
	for _, g := range grants {
		d.Members = append(d.Members, s.member(r, c, g))
	}
	keys, next, err := s.services.AccessKeys.FindAccessKeys(ctx, org, castellan.AccessKeyFilter{ProjectID: &project.ID, PageSize: usersPageSize})
	if err != nil {
		_, d.KeysError = publicError(ctx, err)
	}
	d.Keys, d.MoreKeys = keys, next != ""
	p.ProjectDetail = d
	renderConsole(ctx, w, http.StatusOK, "project", p)
}

// member names the subject of a grant on a project, as far as the viewer
// may read it (else by its ID).
func (s *Console) member(r *http.Request, c *consoleRequest, g *castellan.Grant) projectMember {
	m := projectMember{Grant: g, Name: g.Subject.ID}
	switch g.Subject.Type {
	case castellan.SubjectUser:
		m.Link = consolePath + "/users/" + g.Subject.ID
		if u, err := s.services.Users.FindUserByID(r.Context(), c.user.OrganizationID, g.Subject.ID, false); err == nil {
			m.Name = u.LoginID
		}
	case castellan.SubjectGroup:
		m.Link = consolePath + "/groups/" + g.Subject.ID
		if gr, err := s.services.Groups.FindGroupByID(r.Context(), c.user.OrganizationID, g.Subject.ID); err == nil {
			m.Name = gr.Name
		}
	}
	return m
}

// deleteProject deletes a project once its box is ticked (confirmed).
func (s *Console) deleteProject(w http.ResponseWriter, r *http.Request, c *consoleRequest) {
	if _, err := s.services.Projects.DeleteProject(r.Context(), c.user.OrganizationID, r.PathValue("project")); err != nil {
		renderConsoleError(w, r, err)
		return
	}
	seeOther(w, consolePath+"/projects?deleted=1")
}

// workIn makes the project of the form the one the console works in
// (shown in the top bar, picked first in scope pickers), or none for an
// empty one; it goes back to the page named by next.
func (s *Console) workIn(w http.ResponseWriter, r *http.Request, c *consoleRequest) {
	id := r.PostForm.Get("project")
	if id == "" {
		s.setCookie(w, r, projectCookie, "", true)
	} else {
		project, err := s.services.Projects.FindProjectByID(r.Context(), c.user.OrganizationID, id)
		if err != nil {
			renderConsoleError(w, r, err)
			return
		}
		s.setCookie(w, r, projectCookie, project.ID, false)
	}
	next := r.PostForm.Get("next")
	if !strings.HasPrefix(next, consolePath+"/") {
		next = consolePath + "/projects"
	}
	seeOther(w, next)
}

// currentProject is the project the request's cookie names, when it is
// one of the user's organization that the user may read; nil otherwise.
func (s *Console) currentProject(r *http.Request, c *consoleRequest) *castellan.Project {
	id, ok := s.cookie(r, projectCookie)
	if !ok || castellan.CheckID("project", id) != nil {
		return nil
	}
	project, err := s.services.Projects.FindProjectByID(r.Context(), c.user.OrganizationID, id)
	if err != nil {
		return nil
	}
	return project
}
