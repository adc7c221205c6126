package bench

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/castellan-iam/castellan"
)

// visibleLimit bounds the wait for one write to be visible.
const visibleLimit = 30 * time.Second

// writeTargets returns the user and project of each write→visible
// sample: users without access, so that the grant is what turns the
// decision; local samples first, then the replicas'.
func (m *model) writeTargets() (users, projects []int) {
	n := min(2*m.cfg.WriteSamples, m.cfg.NoAccess, m.cfg.Projects)
	for s := range n {
		users = append(users, m.access()+s)
		projects = append(projects, s)
	}
	return users, projects
}

// visibleRequest is the decision a write→visible grant turns: a
// project reader getting an instance of the project.
func visibleRequest(org, user, project string) castellan.AuthzRequest {
	return castellan.AuthzRequest{Principal: castellan.Principal{Type: castellan.PrincipalUser, ID: user, OrganizationID: org},
		Action: "compute:GetInstance", Resource: "project/" + project}
}

func visibleGrant(user, project string) castellan.GrantCreate {
	return castellan.GrantCreate{RoleID: "project.reader", Scope: "project/" + project, Subject: castellan.Subject{Type: castellan.SubjectUser, ID: user}}
}

// writeVisibleLocal writes grants through the store (this process's
// change feed applies them to idx) and times each until idx allows.
func writeVisibleLocal(ctx context.Context, s castellan.Services, idx castellan.Authorizer, m *model, org string, ids map[string]string) (Latency, error) {
	users, projects := m.writeTargets()
	n := min(m.cfg.WriteSamples, len(users))
	var lat []time.Duration
	for i := range n {
		u, p := ids[userRef(users[i])], ids[projectRef(projects[i])]
		req := visibleRequest(org, u, p)
		t0 := time.Now()
		if _, _, err := s.Grants.CreateGrants(ctx, org, []castellan.GrantCreate{visibleGrant(u, p)}); err != nil {
			return Latency{}, err
		}
		at, err := waitAllowed(visibleLimit, func() (bool, error) {
			d, err := idx.Authorize(ctx, req)
			return d.Allowed, err
		})
		if err != nil {
			return Latency{}, fmt.Errorf("write→visible: %w", err)
		}
		lat = append(lat, at.Sub(t0))
	}
	return summarise(lat), nil
}

// writeVisibleReplicas writes grants through one castellan serve process
// and times each until the other allows, over HTTP.
func writeVisibleReplicas(ctx context.Context, env Env, client *http.Client, m *model, org, owner, caller string, ids map[string]string) (Latency, error) {
	urls, stop, err := env.Replicas(ctx)
	if err != nil {
		return Latency{}, err
	}
	defer stop()
	drv := newDriver(urls[1], caller, 1)
	defer drv.close()
	users, projects := m.writeTargets()
	var lat []time.Duration
	for i := min(m.cfg.WriteSamples, len(users)); i < len(users); i++ {
		u, p := ids[userRef(users[i])], ids[projectRef(projects[i])]
		body := questionBody(visibleRequest(org, u, p))
		t0 := time.Now()
		if err := postGrant(ctx, client, urls[0], owner, org, visibleGrant(u, p)); err != nil {
			return Latency{}, err
		}
		at, err := waitAllowed(visibleLimit, func() (bool, error) {
			_, allowed, err := drv.ask(ctx, body)
			return allowed, err
		})
		if err != nil {
			return Latency{}, fmt.Errorf("write→visible on the other replica: %w", err)
		}
		lat = append(lat, at.Sub(t0))
	}
	return summarise(lat), nil
}
