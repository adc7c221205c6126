package bench

import (
	"context"
	"fmt"
	"iter"
	"strings"
	"time"

	"github.com/castellan-iam/castellan"
)

// Loader writes the items of a bulk import into an organization and
// calls created with the ID of every item that has a ref. It returns
// how many items were refused; any refusal fails the run.
type Loader interface {
	Load(ctx context.Context, org string, items iter.Seq[Item], created func(ref, id string)) (refused int, err error)
}

// DirectLoader writes the items through the store's own services, one
// create call (or batch of MaxBatchItems) at a time, resolving
// references itself. It is the fallback where the bulk import endpoint
// is not available: far slower, and it holds every reference in memory.
type DirectLoader struct {
	Services castellan.Services
}

// Load implements Loader.
func (d DirectLoader) Load(ctx context.Context, org string, items iter.Seq[Item], created func(ref, id string)) (int, error) {
	s := d.Services
	ids := map[string]string{}
	id := func(s string) string {
		if ref, ok := strings.CutPrefix(s, "#"); ok {
			return ids[ref]
		}
		return s
	}
	var (
		users   []castellan.UserRegistration
		userRef []string
		grants  []castellan.GrantCreate
		group   string
		members []string
	)
	flush := func() error {
		if len(users) > 0 {
			out, err := s.Users.RegisterUsers(ctx, org, users)
			if err != nil {
				return err
			}
			for i, u := range out {
				ids[userRef[i]] = u.User.ID
				created(userRef[i], u.User.ID)
			}
			users, userRef = users[:0], userRef[:0]
		}
		if len(members) > 0 {
			if _, err := s.Groups.AddGroupMembers(ctx, org, group, members); err != nil {
				return err
			}
			members = members[:0]
		}
		if len(grants) > 0 {
			if _, _, err := s.Grants.CreateGrants(ctx, org, grants); err != nil {
				return err
			}
			grants = grants[:0]
		}
		return nil
	}
	for it := range items {
		full := len(users) == castellan.MaxBatchItems || len(grants) == castellan.MaxBatchItems || len(members) == castellan.MaxBatchItems
		if full || (it.Kind != KindUser && len(users) > 0) || (len(members) > 0 && (it.Kind != KindMembership || id(it.GroupID) != group)) {
			if err := flush(); err != nil {
				return 0, err
			}
		}
		var newID string
		switch it.Kind {
		case KindProject:
			p, err := s.Projects.CreateProject(ctx, org, castellan.ProjectCreate{ParentID: id(it.ParentID), Name: it.Name})
			if err != nil {
				return 0, fmt.Errorf("project %s: %w", it.Ref, err)
			}
			newID = p.ID
		case KindUser:
			users = append(users, castellan.UserRegistration{LoginID: it.LoginID, Email: it.Email, Name: it.Name,
				AccountType: it.AccountType, FederationID: it.FederationID, ConsoleAccess: true, APIAccess: true})
			userRef = append(userRef, it.Ref)
		case KindGroup:
			g, err := s.Groups.CreateGroup(ctx, org, castellan.GroupCreate{Name: it.Name})
			if err != nil {
				return 0, fmt.Errorf("group %s: %w", it.Ref, err)
			}
			newID = g.ID
		case KindMembership:
			group = id(it.GroupID)
			members = append(members, id(it.UserID))
		case KindGrant:
			scope := it.Scope
			if i := strings.Index(scope, "#"); i >= 0 {
				end := i + strings.IndexAny(scope[i:], ":/")
				if end < i {
					end = len(scope)
				}
				scope = scope[:i] + ids[scope[i+1:end]] + scope[end:]
			}
			grants = append(grants, castellan.GrantCreate{RoleID: it.RoleID, Scope: scope,
				Subject: castellan.Subject{Type: it.Subject.Type, ID: id(it.Subject.ID)}})
		default:
			return 0, fmt.Errorf("bench: no direct load of %q items", it.Kind)
		}
		if newID != "" && it.Ref != "" {
			ids[it.Ref] = newID
			created(it.Ref, newID)
		}
	}
	return 0, flush()
}

// load builds the structure and loads the items, and returns the IDs of
// the references the checks and the write→visible samples name.
func load(ctx context.Context, env Env, m *model, boot *castellan.BootstrapResult, checks []check, res *Result, logf func(string, ...any)) (map[string]string, error) {
	org := boot.OrganizationID
	logf("creating %d OUs, %d accounts, %d control policies", m.cfg.OUs, m.cfg.Accounts, m.cfg.ControlPolicies)
	t0 := time.Now()
	st, err := m.build(ctx, env.Services, org)
	if err != nil {
		return nil, err
	}
	res.Load.StructureSeconds = time.Since(t0).Seconds()

	wanted := map[string]bool{}
	for _, ref := range refs(checks) {
		wanted[ref] = true
	}
	users, projects := m.writeTargets()
	for i := range users {
		wanted[userRef(users[i])], wanted[projectRef(projects[i])] = true, true
	}
	loader := env.Loader
	res.Load.Loader = "direct"
	if loader == nil {
		// The import is served as castellan serve serves it, deciding
		// from an index that follows the load; that index is dropped
		// after it, so that the measured build starts from nothing.
		a, stopIndex, err := env.Index(ctx)
		if err != nil {
			return nil, err
		}
		defer stopIndex()
		url, stop, err := env.Serve(ctx, a)
		if err != nil {
			return nil, err
		}
		defer stop()
		loader = &ImportLoader{URL: url, Token: boot.Token, Progress: env.Progress}
		res.Load.Loader = "import"
	}
	ids := map[string]string{}
	res.Load.Items = m.count()
	logf("loading %d items (%s)", res.Load.Items, res.Load.Loader)
	t0 = time.Now()
	refused, err := loader.Load(ctx, org, m.items(st), func(ref, id string) {
		if wanted[ref] {
			ids[ref] = id
		}
	})
	if err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	res.Load.Seconds = time.Since(t0).Seconds()
	res.Load.ItemsPerSecond = float64(res.Load.Items) / res.Load.Seconds
	logf("loaded in %.2f s", res.Load.Seconds)
	if refused > 0 {
		return nil, fmt.Errorf("load: %d items refused", refused)
	}
	for ref := range wanted {
		if ids[ref] == "" {
			return nil, fmt.Errorf("load: no ID reported for %s", ref)
		}
	}
	return ids, nil
}
