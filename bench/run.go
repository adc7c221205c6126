// Package bench is castellan bench: it generates a synthetic organization
// deterministically from a seed (package-level Profiles, or any Config),
// loads it into a fresh store, and measures decisions in process and
// over HTTP, how soon a write is visible, and user-list pages. Every
// decision measured is checked against the generator's own expectation;
// a single mismatch fails the run.
//
// It sees the store through castellan.Services and the Env that
// cmd/castellan wires (the index, the server, the replicas), never a
// backend.
package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime/debug"
	"runtime/pprof"
	"time"

	"github.com/castellan-iam/castellan"
)

// Env is what a run needs from the process: cmd/castellan builds it the
// way castellan serve builds the same parts.
type Env struct {
	// Services are the store's own, unguarded; Tokens checks tokens the
	// way the served API does (the token cache).
	Services castellan.Services
	Database string
	// Loader writes the import's items; nil loads through the bulk
	// import of a server started with Serve.
	Loader Loader
	// Index builds the in-memory index as castellan serve --authorizer
	// index does: index.New, subscribed to the process's change feed
	// (which loads it), so that this process's writes reach it before
	// they return. stop unsubscribes it.
	Index func(ctx context.Context) (a castellan.Authorizer, stop func(), err error)
	// Serve serves the API with the authorizer on
	// 127.0.0.1 and returns its base URL and a function stopping it.
	Serve func(ctx context.Context, a castellan.Authorizer) (url string, stop func(), err error)
	// Replicas, when set, starts two castellan serve processes on the
	// same store and returns their URLs and a function stopping them.
	Replicas func(ctx context.Context) (urls []string, stop func(), err error)
	// Progress receives a line per step; CPUProfile, when set, receives
	// the CPU profile of the in-process measurement.
	Progress   io.Writer
	CPUProfile io.Writer
}

// Result is everything a run measured.
type Result struct {
	Config    Config    `json:"config"`
	Database  string    `json:"database"`
	Load      Load      `json:"load"`
	Index     Index     `json:"index"`
	InProcess InProcess `json:"inProcess"`
	HTTP      []HTTPRun `json:"http"`
	// HTTPBaseline is the same driver against net/http answering from a
	// table (serveBaseline): the ceiling HTTP is measured against.
	HTTPBaseline []HTTPRun `json:"httpBaseline"`
	// WriteVisible is the time from a grant's write to the first decision
	// allowing what it grants: in this process, and (with replicas) from
	// a write through one server to the other's decision.
	WriteVisible        Latency  `json:"writeVisibleLocal"`
	WriteVisibleReplica *Latency `json:"writeVisibleReplica,omitempty"`
	UserList            Latency  `json:"userListPage100"`
	// Checks counts the distinct checks per category.
	Checks     map[string]int `json:"checks"`
	Mismatches int            `json:"mismatches"`
}

// Load is the loading of the organization.
type Load struct {
	Loader string `json:"loader"`
	// StructureSeconds is the OUs, accounts and control policies, made
	// one at a time before the import.
	StructureSeconds float64 `json:"structureSeconds"`
	Items            int     `json:"items"`
	Seconds          float64 `json:"seconds"`
	ItemsPerSecond   float64 `json:"itemsPerSecond"`
}

// Index is the build of the in-memory index.
type Index struct {
	BuildSeconds float64 `json:"buildSeconds"`
	Memory
}

// ErrMismatch is returned, with the result, when a decision differed
// from the expected one.
var ErrMismatch = errors.New("bench: decisions differed from the generator's expectation")

// Run generates the organization of cfg into env's store, which must be
// empty, and measures it.
func Run(ctx context.Context, env Env, cfg Config) (*Result, error) {
	m, err := newModel(cfg, env.Services.Catalog)
	if err != nil {
		return nil, err
	}
	s := env.Services
	logf := func(format string, args ...any) {
		if env.Progress != nil {
			fmt.Fprintf(env.Progress, "bench: "+format+"\n", args...)
		}
	}
	orgs, _, err := s.Organizations.FindOrganizations(ctx, castellan.OrganizationFilter{PageSize: 1})
	if err != nil {
		return nil, err
	}
	if len(orgs) > 0 {
		return nil, errors.New("bench: the store holds an organization already: give a fresh database")
	}
	ctx = castellan.WithRequestInfo(ctx, castellan.RequestInfo{RequestID: "cli-bench", SourceIP: "local"})
	boot, err := s.Tokens.BootstrapOrganization(ctx, castellan.Bootstrap{OrganizationName: "Bench", OwnerEmail: "owner@bench.example"})
	if err != nil {
		return nil, err
	}
	org := boot.OrganizationID
	res := &Result{Config: cfg, Database: env.Database, Checks: map[string]int{}}

	logf("generating checks")
	checks := m.checks()
	for _, c := range checks {
		res.Checks[c.category]++
	}
	ids, err := load(ctx, env, m, boot, checks, res, logf)
	if err != nil {
		return nil, err
	}

	// The calling service is made before the index: while the index
	// follows the change feed, every write of this process waits for it.
	caller, err := newCaller(ctx, s, org)
	if err != nil {
		return nil, err
	}
	logf("building the index")
	debug.FreeOSMemory() // what the load left is not the index's
	t0 := time.Now()
	idx, stopIndex, err := env.Index(ctx)
	if err != nil {
		return nil, err
	}
	defer stopIndex()
	res.Index = Index{BuildSeconds: time.Since(t0).Seconds(), Memory: memory()}
	logf("index built in %.2f s", res.Index.BuildSeconds)
	qs := make([]question, len(checks))
	for i, c := range checks {
		req := c.request(org, ids)
		qs[i] = question{category: c.category, req: req, body: questionBody(req), expect: c.expect}
	}

	logf("in-process Authorize for %s", cfg.Duration)
	if env.CPUProfile != nil {
		if err := pprof.StartCPUProfile(env.CPUProfile); err != nil {
			return nil, err
		}
	}
	res.InProcess = measureInProcess(ctx, idx, qs, cfg.Duration)
	if env.CPUProfile != nil {
		pprof.StopCPUProfile()
	}

	url, stop, err := env.Serve(ctx, idx)
	if err != nil {
		return nil, err
	}
	defer stop()
	for _, conns := range cfg.Concurrency {
		logf("HTTP /v1/authorize at %d connections", conns)
		res.HTTP = append(res.HTTP, measureHTTP(ctx, url, caller, qs, conns, cfg.Duration, cfg.Requests))
	}
	logf("HTTP baseline: net/http answering from a table")
	if res.HTTPBaseline, err = measureBaseline(ctx, qs, cfg); err != nil {
		return nil, err
	}
	client := &http.Client{Timeout: 30 * time.Second}
	logf("user list")
	if res.UserList, err = measureUserList(ctx, client, url, boot.Token, org, cfg.ListPages); err != nil {
		return nil, err
	}
	logf("write→visible in this process")
	if res.WriteVisible, err = writeVisibleLocal(ctx, s, idx, m, org, ids); err != nil {
		return nil, err
	}
	if env.Replicas != nil {
		logf("write→visible across replicas")
		lat, err := writeVisibleReplicas(ctx, env, client, m, org, boot.Token, caller, ids)
		if err != nil {
			return nil, err
		}
		res.WriteVisibleReplica = &lat
	}

	res.Mismatches = res.InProcess.Mismatches
	for _, h := range append(res.HTTP, res.HTTPBaseline...) {
		res.Mismatches += h.Mismatches
	}
	if res.Mismatches > 0 || res.InProcess.Errors > 0 {
		return res, ErrMismatch
	}
	return res, nil
}

// questionBody is the body of POST /v1/authorize asking req.
func questionBody(req castellan.AuthzRequest) []byte {
	p := req.Principal
	body, _ := json.Marshal(map[string]any{"principal": map[string]string{"type": string(p.Type), "id": p.ID, "organizationId": p.OrganizationID},
		"action": req.Action, "resource": req.Resource})
	return body
}

// newCaller makes the calling service: a user holding the Authorization
// Client role on the organization, and returns its bearer token.
func newCaller(ctx context.Context, s castellan.Services, org string) (string, error) {
	u, err := s.Users.CreateUser(ctx, org, castellan.UserCreate{Email: "decisions@services.bench.example"})
	if err != nil {
		return "", err
	}
	_, _, err = s.Grants.CreateGrants(ctx, org, []castellan.GrantCreate{{RoleID: "platform.authorizer",
		Scope: castellan.OrganizationScope(org).String(), Subject: castellan.Subject{Type: castellan.SubjectUser, ID: u.ID}}})
	if err != nil {
		return "", err
	}
	return s.Tokens.CreateUserToken(ctx, org, u.ID)
}
