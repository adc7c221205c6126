package guard_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/authz"
	"github.com/castellan-iam/castellan/guard"
	"github.com/castellan-iam/castellan/sqlstore/sqltest"
	"github.com/castellan-iam/castellan/storetest"
)

// The principals of the role matrix: each built-in organization role on
// the organization, each project role on one project, a user with no role,
// the owner of another organization and the operator. They are the
// principals of the HTTP role matrix (api/rolematrix_test.go) plus the
// operator.
const (
	owner         = "organization.owner@org"
	admin         = "organization.admin@org"
	reader        = "organization.reader@org"
	projectAdmin  = "project.admin@project"
	projectMember = "project.member@project"
	projectReader = "project.reader@project"
	userAdmin     = "iam.userAdmin@org"
	userAdminP    = "iam.userAdmin@project"
	authorizer    = "platform.authorizer@org"
	projectUser   = "project.user@project"
	serviceUser   = "services.user@project"
	noRole        = "no role"
	otherOwner    = "owner of another organization"
	operator      = "operator"
)

var matrixPrincipals = []string{owner, admin, reader, projectAdmin, projectMember, projectReader,
	userAdmin, userAdminP, authorizer, projectUser, serviceUser, noRole, otherOwner, operator}

// Sets of principals that rows share.
var (
	orgManagers   = []string{owner, admin, operator}
	orgReaders    = []string{owner, admin, reader, operator}
	groupManagers = []string{owner, admin, userAdmin, operator}
	groupReaders  = []string{owner, admin, reader, userAdmin, operator}
)

// ownerPassword is the console password of Acme's owner, which confirms
// the deletions that ask for the caller's password.
const ownerPassword = "Acme-Owner-Pass-2026!"

// fixture is what rows build their calls from. Rows that change or delete
// something create their own target first through raw, the unguarded
// store, so that every call finds what it needs.
type fixture struct {
	t       testing.TB
	raw     castellan.Services
	org     string // Acme, where the principals hold their roles
	project string // the project the project roles are granted on
	// account is an account under the root for the rows that only read
	// one (sharedAccount); "" until one asks.
	account string
	// ids are the users behind the principals, by principal.
	ids map[string]string
	// decisions is the guarded decision API (guard.NewDecisions).
	decisions castellan.DecisionService
	n         atomic.Int64
}

var system = context.Background()

func (f *fixture) unique(prefix string) string { return fmt.Sprintf("%s-%d", prefix, f.n.Add(1)) }

func (f *fixture) newProject() string {
	p, err := f.raw.Projects.CreateProject(system, f.org, castellan.ProjectCreate{Name: f.unique("p")})
	if err != nil {
		f.t.Fatal(err)
	}
	return p.ID
}

func (f *fixture) newGroup() string {
	g, err := f.raw.Groups.CreateGroup(system, f.org, castellan.GroupCreate{Name: f.unique("g")})
	if err != nil {
		f.t.Fatal(err)
	}
	return g.ID
}

func (f *fixture) newUser() string {
	u, err := f.raw.Users.CreateUser(system, f.org, castellan.UserCreate{Email: f.unique("u") + "@acme.example"})
	if err != nil {
		f.t.Fatal(err)
	}
	return u.ID
}

func (f *fixture) grant(role, scope string, subject castellan.Subject) *castellan.Grant {
	grants, _, err := f.raw.Grants.CreateGrants(system, f.org, []castellan.GrantCreate{{RoleID: role, Scope: scope, Subject: subject}})
	if err != nil {
		f.t.Fatal(err)
	}
	return grants[0]
}

// row is one guarded operation with a call and the principals allowed to
// make it. op is "Service.Method", the field of castellan.Services and the
// method of its interface.
type row struct {
	op      string
	variant string
	// call makes the operation through s, the guarded services, as the
	// principal in ctx.
	call    func(ctx context.Context, f *fixture, s castellan.Services) error
	allowed []string
	// public marks an operation that authenticates by its own secret
	// (sign-in, token and key exchange, invitation acceptance): the guard
	// passes it through, so nobody, not even a caller without a
	// principal, is refused; the call may still fail for its own reasons.
	public bool
}

// rowSets are the rows, added by the init functions of the test files (one
// per service), so that each service's file carries its rows.
var rowSets [][]row

// unguarded are the fields of castellan.Services that the guard hands out
// as the store's own: they carry no organization's data or serve only
// background work.
var unguarded = map[string]bool{"ChangeLog": true, "Idempotency": true, "Catalog": true}

// TestRoleMatrix makes every guarded operation as every principal of the
// matrix, on SQLite and on PostgreSQL, and checks allow or deny against
// one table. An operation without a row fails the test, and so does a
// service the guard leaves unwrapped without being listed in unguarded.
// Every surface (the REST API, the console, the compatibility APIs)
// inherits what this table says.
func TestRoleMatrix(t *testing.T) {
	for _, b := range sqltest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			f, services, principals := newFixture(t, b.URL(t))

			covered := map[string]bool{}
			for _, rows := range rowSets {
				for _, r := range rows {
					covered[r.op] = true
					runRow(t, f, services, principals, r)
				}
			}
			for _, op := range guardedOperations(t, f.raw, services) {
				if !covered[op] {
					t.Errorf("operation %s has no row in the guarded role matrix", op)
				}
			}
		})
	}
}

// newFixture opens a store at url with two organizations, Acme and Globex,
// and a user in Acme for each principal of the matrix holding its role.
// It returns the fixture, the guarded services and the principals.
func newFixture(t *testing.T, url string) (*fixture, castellan.Services, map[string]castellan.Principal) {
	t.Helper()
	clock := storetest.NewClock()
	db := sqltest.MustOpen(t, url, clock.Now)
	raw := db.Services()
	acme, err := raw.Tokens.BootstrapOrganization(system, castellan.Bootstrap{OrganizationName: "Acme", OwnerEmail: "owner@acme.example", OwnerPassword: ownerPassword})
	if err != nil {
		t.Fatal(err)
	}
	globex, err := raw.Tokens.BootstrapOrganization(system, castellan.Bootstrap{OrganizationName: "Globex", OwnerEmail: "owner@globex.example"})
	if err != nil {
		t.Fatal(err)
	}
	authorizer := &authz.Authorizer{
		Grants: raw.Grants, Groups: raw.Groups, Roles: raw.Roles, Nodes: raw.Nodes, Policies: raw.ControlPolicies,
		ServiceAccounts: raw.ServiceAccounts, Catalog: raw.Catalog, Now: clock.Now,
	}
	services := guard.New(raw, authorizer)
	f := &fixture{t: t, raw: raw, org: acme.OrganizationID, ids: map[string]string{owner: acme.OwnerUserID},
		decisions: guard.NewDecisions(raw, authorizer)}
	f.project = f.newProject()
	principals := map[string]castellan.Principal{
		owner:      {Type: castellan.PrincipalUser, ID: acme.OwnerUserID, OrganizationID: f.org},
		otherOwner: {Type: castellan.PrincipalUser, ID: globex.OwnerUserID, OrganizationID: globex.OrganizationID},
		operator:   {Type: castellan.PrincipalOperator, ID: "operator"},
	}
	for _, principal := range matrixPrincipals {
		if _, ok := principals[principal]; ok {
			continue
		}
		user := f.newUser()
		f.ids[principal] = user
		principals[principal] = castellan.Principal{Type: castellan.PrincipalUser, ID: user, OrganizationID: f.org}
		if role, where, ok := strings.Cut(principal, "@"); ok {
			scope := "organization/" + f.org
			if where == "project" {
				scope = "project/" + f.project
			}
			f.grant(role, scope, castellan.Subject{Type: castellan.SubjectUser, ID: user})
		}
	}
	return f, services, principals
}

// runRow makes r's call as each principal and checks the outcome: an
// allowed principal gets no error; any other is refused, as forbidden or,
// for another organization, as "organization not found".
func runRow(t *testing.T, f *fixture, services castellan.Services, principals map[string]castellan.Principal, r row) {
	allowed := map[string]bool{}
	for _, p := range r.allowed {
		allowed[p] = true
	}
	name := r.op
	if r.variant != "" {
		name += " (" + r.variant + ")"
	}
	if r.public {
		t.Run(name+" without a principal", func(t *testing.T) {
			if err := r.call(system, f, services); refusal(err) {
				t.Fatalf("got %v, want it passed through", err)
			}
		})
	}
	for _, principal := range matrixPrincipals {
		t.Run(name+" as "+principal, func(t *testing.T) {
			err := r.call(castellan.WithPrincipal(system, principals[principal]), f, services)
			refused := refusal(err)
			if r.public && refused {
				t.Fatalf("got %v, want it passed through", err)
			}
			if r.public {
				return
			}
			if allowed[principal] && err != nil {
				t.Fatalf("got %v, want it allowed", err)
			}
			if !allowed[principal] && !refused {
				t.Fatalf("got %v, want it refused", err)
			}
		})
	}
}

// refusal reports whether err is the guard's refusal: forbidden,
// unauthenticated, or "organization not found" for another organization.
func refusal(err error) bool {
	var e *castellan.Error
	if !errors.As(err, &e) {
		return false
	}
	return e.Kind == castellan.EFORBIDDEN || e.Kind == castellan.EUNAUTHENTICATED ||
		e.Kind == castellan.ENOTFOUND && e.Code == castellan.CodeOrgNotFound
}

// guardedOperations lists "Service.Method" for every method of every
// service of castellan.Services and "Decisions.Method" for every method
// of the decision API, checking that each service is the
// guard's own wrapper unless it is listed in unguarded.
func guardedOperations(t *testing.T, raw, guarded castellan.Services) []string {
	t.Helper()
	var ops []string
	rv, gv := reflect.ValueOf(raw), reflect.ValueOf(guarded)
	for i := range gv.NumField() {
		field := gv.Type().Field(i)
		if unguarded[field.Name] {
			if gv.Field(i).Interface() != rv.Field(i).Interface() {
				t.Errorf("Services.%s is listed as unguarded but the guard wraps it", field.Name)
			}
			continue
		}
		if field.Type.Kind() != reflect.Interface {
			t.Errorf("Services.%s is not a service interface; list it in unguarded or guard it", field.Name)
			continue
		}
		if gv.Field(i).IsNil() {
			t.Errorf("Services.%s is nil: the store does not provide it", field.Name)
			continue
		}
		impl := reflect.TypeOf(gv.Field(i).Interface())
		for impl.Kind() == reflect.Pointer {
			impl = impl.Elem()
		}
		if impl.PkgPath() != reflect.TypeOf(guard.New).PkgPath() && !strings.HasSuffix(impl.PkgPath(), "/guard") {
			t.Errorf("Services.%s is %s, not the guard's wrapper", field.Name, impl)
		}
		for m := range field.Type.NumMethod() {
			ops = append(ops, field.Name+"."+field.Type.Method(m).Name)
		}
	}
	decisions := reflect.TypeFor[castellan.DecisionService]()
	for m := range decisions.NumMethod() {
		ops = append(ops, "Decisions."+decisions.Method(m).Name)
	}
	return ops
}
