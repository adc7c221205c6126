// Package catalog loads the service catalogue: the services of the cloud,
// their actions and resource types, and the built-in roles. The default
// catalogue is embedded; operators extend it with files of the same format
// (--catalog FILE), which may add services, add actions to existing
// services and add roles.
package catalog

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/castellan-iam/castellan"
)

//go:embed default.json
var defaultCatalog []byte

// file is the format of a catalogue file.
type file struct {
	Services []struct {
		Name          string   `json:"name"`
		Title         string   `json:"title"`
		ResourceTypes []string `json:"resourceTypes"`
		// Actions are verbs; the service name is prefixed on load.
		Actions []string `json:"actions"`
	} `json:"services"`
	Roles []*castellan.Role `json:"roles"`
}

var (
	serviceName  = regexp.MustCompile(`^[a-z][a-z0-9-]{0,62}$`)
	verb         = regexp.MustCompile(`^[A-Z][A-Za-z0-9]{0,127}$`)
	resourceType = regexp.MustCompile(`^[a-z][a-zA-Z0-9-]{0,62}$`)
	roleID       = regexp.MustCompile(`^[a-z][a-z0-9]*(\.[a-z][a-zA-Z0-9]*)+$`)
)

// Default returns the embedded catalogue.
func Default() (*castellan.Catalog, error) { return Load() }

// Load returns the embedded catalogue extended by extra files, in order.
// Every problem of every file is reported, each naming the file and the
// entry.
func Load(extra ...NamedFile) (*castellan.Catalog, error) {
	files := append([]NamedFile{{Name: "default catalogue", Data: defaultCatalog}}, extra...)
	var (
		services []*castellan.Service
		byName   = map[string]*castellan.Service{}
		roles    []*castellan.Role
		errs     []error
	)
	for _, nf := range files {
		var f file
		dec := json.NewDecoder(bytes.NewReader(nf.Data))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&f); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", nf.Name, err))
			continue
		}
		for i, fs := range f.Services {
			where := fmt.Sprintf("%s: services[%d] %q", nf.Name, i, fs.Name)
			if !serviceName.MatchString(fs.Name) {
				errs = append(errs, fmt.Errorf("%s: service name must match %s", where, serviceName))
				continue
			}
			s := byName[fs.Name]
			if s == nil {
				s = &castellan.Service{Name: fs.Name, Title: fs.Title}
				byName[fs.Name] = s
				services = append(services, s)
			}
			for _, rt := range fs.ResourceTypes {
				switch {
				case !resourceType.MatchString(rt):
					errs = append(errs, fmt.Errorf("%s: resource type %q must match %s", where, rt, resourceType))
				case slices.Contains(s.ResourceTypes, rt):
					errs = append(errs, fmt.Errorf("%s: duplicate resource type %q", where, rt))
				default:
					s.ResourceTypes = append(s.ResourceTypes, rt)
				}
			}
			for _, v := range fs.Actions {
				action := fs.Name + ":" + v
				switch {
				case !verb.MatchString(v):
					errs = append(errs, fmt.Errorf("%s: action %q must be a verb like GetObject (%s)", where, v, verb))
				case slices.Contains(s.Actions, action):
					errs = append(errs, fmt.Errorf("%s: duplicate action %s", where, action))
				default:
					s.Actions = append(s.Actions, action)
				}
			}
		}
		roles = append(roles, f.Roles...)
	}
	cat := castellan.NewCatalog(services, roles)
	errs = append(errs, checkRoles(cat)...)
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return cat, nil
}

// NamedFile is the content of a catalogue file and the name to report in
// errors.
type NamedFile struct {
	Name string
	Data []byte
}

// checkRoles validates the built-in roles against the services.
func checkRoles(cat *castellan.Catalog) []error {
	var errs []error
	seen := map[string]bool{}
	for i, r := range cat.Roles {
		where := fmt.Sprintf("roles[%d] %q", i, r.ID)
		bad := func(format string, args ...any) {
			errs = append(errs, fmt.Errorf("%s: %s", where, fmt.Sprintf(format, args...)))
		}
		if !roleID.MatchString(r.ID) {
			bad("role ID must match %s", roleID)
		}
		if seen[r.ID] {
			bad("duplicate role ID")
		}
		seen[r.ID] = true
		if r.Name == "" {
			bad("missing name")
		}
		switch r.Kind {
		case castellan.RoleOrganization, castellan.RoleProject, castellan.RoleServiceKind, castellan.RoleResource:
		default:
			bad("kind %q is not organization, project, service or resource", r.Kind)
		}
		var svc *castellan.Service
		if r.Service != "" {
			if svc = cat.Service(r.Service); svc == nil {
				bad("unknown service %q", r.Service)
			}
		}
		if r.Kind == castellan.RoleResource {
			switch {
			case r.Service == "":
				bad("a resource role needs a service and a resourceType")
			case svc != nil && !slices.Contains(svc.ResourceTypes, r.ResourceType):
				bad("service %s has no resource type %q", r.Service, r.ResourceType)
			}
		} else if r.ResourceType != "" {
			bad("only resource roles have a resourceType")
		}
		for _, fe := range cat.ValidateActions("actions", r.Actions) {
			bad("%s: %s", fe.Field, fe.Message)
		}
		if r.Kind == castellan.RoleResource && r.Service != "" {
			for _, a := range cat.Expand(r.Actions) {
				if service, _, _ := strings.Cut(a, ":"); service != r.Service {
					bad("action %s is not of service %s", a, r.Service)
					break
				}
			}
		}
	}
	return errs
}
