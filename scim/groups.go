package scim

import (
	"net/http"
	"regexp"
	"strings"

	"github.com/castellan-iam/castellan"
)

// The Group resource maps onto castellan.Group: displayName is its name,
// members its members (users only; a group cannot hold groups). Changing
// members follows the store's rules: a member removed is signed out, and
// the organization keeps an owner.

type groupResource struct {
	Schemas     []string `json:"schemas"`
	ID          string   `json:"id"`
	DisplayName string   `json:"displayName"`
	Members     []member `json:"members"`
	Meta        meta     `json:"meta"`
}

// member is a group's member in a resource or a request.
type member struct {
	Value   string `json:"value"`
	Ref     string `json:"$ref,omitempty"`
	Display string `json:"display,omitempty"`
}

type groupInput struct {
	DisplayName string   `json:"displayName"`
	Members     []member `json:"members"`
}

func memberIDs(members []member) []string {
	ids := make([]string, len(members))
	for i, m := range members {
		ids[i] = m.Value
	}
	return ids
}

// members reads every member of a group.
func (s *Server) members(r *request, groupID string) ([]*castellan.GroupMember, error) {
	var all []*castellan.GroupMember
	f := castellan.GroupFilter{PageSize: castellan.MaxPageSize}
	for {
		list, next, err := s.services.Groups.FindGroupMembers(r.Context(), r.org, groupID, f)
		if err != nil {
			return nil, err
		}
		all = append(all, list...)
		if next == "" {
			return all, nil
		}
		f.PageToken = next
	}
}

// renderGroup renders a group with its members, unless the request
// excludes them (excludedAttributes=members, as Entra ID asks).
func (s *Server) renderGroup(r *request, g *castellan.Group) (any, error) {
	res := groupResource{Schemas: []string{schemaGroup}, ID: g.ID, DisplayName: g.Name, Members: []member{},
		Meta: newMeta("Group", g.CreatedAt, g.UpdatedAt, r.base+"/Groups/"+g.ID, g.Revision)}
	if strings.Contains(strings.ToLower(r.URL.Query().Get("excludedAttributes")), "members") {
		res.Members = nil
		return res, nil
	}
	members, err := s.members(r, g.ID)
	if err != nil {
		return nil, err
	}
	for _, m := range members {
		res.Members = append(res.Members, member{Value: m.UserID, Ref: r.base + "/Users/" + m.UserID, Display: m.Email})
	}
	return res, nil
}

func (s *Server) writeGroup(w http.ResponseWriter, r *request, status int, g *castellan.Group) error {
	res, err := s.renderGroup(r, g)
	if err != nil {
		return err
	}
	if status == http.StatusCreated {
		w.Header().Set("Location", r.base+"/Groups/"+g.ID)
	}
	writeSCIM(w, status, res)
	return nil
}

// createGroup creates the group with its members in one transaction.
func (s *Server) createGroup(w http.ResponseWriter, r *request) error {
	var in groupInput
	if err := decode(r, &in); err != nil {
		return err
	}
	g, err := s.services.Groups.CreateGroup(r.Context(), r.org, castellan.GroupCreate{Name: in.DisplayName, MemberIDs: memberIDs(in.Members)})
	if err != nil {
		return err
	}
	return s.writeGroup(w, r, http.StatusCreated, g)
}

func (s *Server) getGroup(w http.ResponseWriter, r *request) error {
	g, err := s.services.Groups.FindGroupByID(r.Context(), r.org, r.PathValue("id"))
	if err != nil {
		return err
	}
	return s.writeGroup(w, r, http.StatusOK, g)
}

// replaceGroup sets the name and the members in one update.
func (s *Server) replaceGroup(w http.ResponseWriter, r *request) error {
	var in groupInput
	if err := decode(r, &in); err != nil {
		return err
	}
	members := memberIDs(in.Members)
	return s.updateGroup(w, r, castellan.GroupUpdate{Name: &in.DisplayName, SetMemberIDs: &members})
}

func (s *Server) updateGroup(w http.ResponseWriter, r *request, upd castellan.GroupUpdate) error {
	g, err := s.services.Groups.UpdateGroup(r.Context(), r.org, r.PathValue("id"), upd)
	if err != nil {
		return err
	}
	if r.Method == http.MethodPatch {
		// A PATCH of a group answers 204 (RFC 7644 §3.5.2), sparing a
		// provider the member list it did not ask for.
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	return s.writeGroup(w, r, http.StatusOK, g)
}

// memberFilter matches the path members[value eq "<id>"].
var memberFilter = regexp.MustCompile(`(?i)^members\[\s*value\s+eq\s+"([^"]*)"\s*\]$`)

// patchGroup applies the operations as one update: displayName, and
// members added, removed (by value list or by members[value eq "id"])
// and replaced.
func (s *Server) patchGroup(w http.ResponseWriter, r *request) error {
	p, err := readPatch(r)
	if err != nil {
		return err
	}
	var upd castellan.GroupUpdate
	if err := p.each(func(op patchOp) error { return patchGroupAttr(&upd, op) }); err != nil {
		return err
	}
	return s.updateGroup(w, r, upd)
}

func patchGroupAttr(upd *castellan.GroupUpdate, op patchOp) error {
	path := strings.ToLower(op.Path)
	if m := memberFilter.FindStringSubmatch(op.Path); m != nil {
		if op.Op != "remove" {
			return badRequest("invalidPath", "members[value eq …] takes remove only")
		}
		upd.RemoveMemberIDs = append(upd.RemoveMemberIDs, m[1])
		return nil
	}
	switch path {
	case "displayname":
		if op.Op == "remove" {
			return badRequest("mutability", "displayName is required")
		}
		var name string
		if err := op.unmarshal(&name); err != nil {
			return err
		}
		upd.Name = &name
	case "members":
		var list []member
		if len(op.Value) > 0 && string(op.Value) != "null" {
			if err := op.unmarshal(&list); err != nil {
				return err
			}
		}
		switch {
		case op.Op == "add":
			upd.AddMemberIDs = append(upd.AddMemberIDs, memberIDs(list)...)
		case op.Op == "remove" && len(list) > 0:
			upd.RemoveMemberIDs = append(upd.RemoveMemberIDs, memberIDs(list)...)
		default: // replace, or remove them all: the store computes it
			ids := memberIDs(list)
			if upd.SetMemberIDs != nil || len(upd.AddMemberIDs)+len(upd.RemoveMemberIDs) > 0 {
				return badRequest("invalidValue", "a replace of members must be the only change of members in the request")
			}
			upd.SetMemberIDs = &ids
		}
	case "externalid", "id":
	default:
		return badRequest("invalidPath", "the attribute %q cannot be changed here", op.Path)
	}
	return nil
}

func (s *Server) deleteGroup(w http.ResponseWriter, r *request) error {
	if _, err := s.services.Groups.DeleteGroup(r.Context(), r.org, r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// listGroups answers GET /Groups with an optional filter: displayName eq
// or id eq.
func (s *Server) listGroups(w http.ResponseWriter, r *request) error {
	p, err := pageOf(r)
	if err != nil {
		return err
	}
	match := func(*castellan.Group) bool { return true }
	if raw := r.URL.Query().Get("filter"); raw != "" {
		attr, value, err := equality(raw)
		if err != nil {
			return err
		}
		switch attr {
		case "displayname":
			match = func(g *castellan.Group) bool { return g.Name == value }
		case "id":
			match = func(g *castellan.Group) bool { return g.ID == value }
		default:
			return badRequest("invalidFilter", "filtering groups by %s is not supported: use displayName or id with eq", attr)
		}
	}
	var all []*castellan.Group
	f := castellan.GroupFilter{PageSize: castellan.MaxPageSize}
	for {
		list, next, err := s.services.Groups.FindGroups(r.Context(), r.org, f)
		if err != nil {
			return err
		}
		for _, g := range list {
			if match(g) {
				all = append(all, g)
			}
		}
		if next == "" {
			break
		}
		f.PageToken = next
	}
	from, to := p.window(len(all))
	resources := make([]any, 0, to-from)
	for _, g := range all[from:to] {
		res, err := s.renderGroup(r, g)
		if err != nil {
			return err
		}
		resources = append(resources, res)
	}
	writeList(w, p, len(all), resources)
	return nil
}
