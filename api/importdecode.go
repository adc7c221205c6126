package api

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/castellan-iam/castellan"
	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"
)

// maxImportLine bounds one line of an import stream.
const maxImportLine = 64 << 10

// importRefPattern is what a ref looks like.
var importRefPattern = regexp.MustCompile(`^[^\s#]{1,100}$`)

// resourceRefPattern matches a resource scope whose project is a ref.
var resourceRefPattern = regexp.MustCompile(`^rn:([^:]+):#([^:]+):(.+)$`)

type importMembershipBody struct {
	GroupID string `json:"groupId"`
	UserID  string `json:"userId"`
}

type importServiceAccountBody struct {
	ProjectID string `json:"projectId"`
	serviceAccountCreateBody
}

// importBodies are the body types of the item kinds: the single create
// requests'.
var importBodies = map[castellan.ImportKind]reflect.Type{
	castellan.ImportKindOrgUnit:        reflect.TypeFor[orgUnitCreateBody](),
	castellan.ImportKindProject:        reflect.TypeFor[projectCreateBody](),
	castellan.ImportKindUser:           reflect.TypeFor[userRegistrationBody](),
	castellan.ImportKindGroup:          reflect.TypeFor[groupCreateBody](),
	castellan.ImportKindMembership:     reflect.TypeFor[importMembershipBody](),
	castellan.ImportKindServiceAccount: reflect.TypeFor[importServiceAccountBody](),
	castellan.ImportKindGrant:          reflect.TypeFor[grantItem](),
}

// importSchemas are the schemas of the kinds' bodies, which huma does not
// check on this path: an item is checked as its single create request's
// body would be (lengths, counts, patterns), so that it holds no more.
var importSchemas, importRegistry = func() (map[castellan.ImportKind]*huma.Schema, huma.Registry) {
	r := huma.NewMapRegistry("#/components/schemas/", huma.DefaultSchemaNamer)
	schemas := map[castellan.ImportKind]*huma.Schema{}
	for kind, t := range importBodies {
		schemas[kind] = huma.SchemaFromType(r, t)
	}
	// huma sees no fields in the unexported embedded body: the service
	// account's are checked alone (projectId by resolve and the store).
	schemas[castellan.ImportKindServiceAccount] = huma.SchemaFromType(r, reflect.TypeFor[serviceAccountCreateBody]())
	return schemas, r
}()

// checkImportBody checks an item's line, a JSON object, against its
// kind's schema and returns the first violation.
func checkImportBody(kind castellan.ImportKind, line []byte) error {
	var v map[string]any
	if err := json.Unmarshal(line, &v); err != nil {
		return itemInvalid(castellan.CodeInvalidJSON, "", "json", err.Error())
	}
	delete(v, "kind")
	delete(v, "ref")
	if kind == castellan.ImportKindServiceAccount {
		delete(v, "projectId")
	}
	res := &huma.ValidateResult{}
	huma.Validate(importRegistry, importSchemas[kind], huma.NewPathBuffer(nil, 0), huma.ModeWriteToServer, v, res)
	for _, err := range res.Errors {
		var d *huma.ErrorDetail
		if !errors.As(err, &d) {
			continue
		}
		f := fieldFromDetail(d)
		// A "#ref" (in a scope, rn:<service>:#ref:…) is not the ID it
		// names yet: resolve checks it.
		if value, ok := d.Value.(string); !ok || !strings.Contains(value, "#") || (f.Rule != "pattern" && f.Rule != "format") {
			f.Field = strings.TrimPrefix(f.Field, ".")
			return itemInvalid(castellan.CodeInvalidField, f.Field, f.Rule, f.Message)
		}
	}
	return nil
}

// importKeys are the JSON keys of each kind's body.
var importKeys = func() map[castellan.ImportKind]map[string]bool {
	keys := map[castellan.ImportKind]map[string]bool{}
	for kind, t := range importBodies {
		keys[kind] = map[string]bool{"kind": true, "ref": true}
		addJSONKeys(keys[kind], t)
	}
	return keys
}()

func addJSONKeys(keys map[string]bool, t reflect.Type) {
	for f := range t.Fields() {
		if f.Anonymous {
			addJSONKeys(keys, f.Type)
			continue
		}
		if name, _, _ := strings.Cut(f.Tag.Get("json"), ","); name != "" && name != "-" {
			keys[name] = true
		}
	}
}

// importTarget is what a ref names.
type importTarget struct {
	kind castellan.ImportKind
	id   string
}

// importDecoder reads an import stream line by line and turns each line
// into an item, resolving its refs.
type importDecoder struct {
	lines *bufio.Scanner
	line  int
	refs  map[string]importTarget
}

// newImportDecoder reads body, giving the client importStreamTimeout for
// each read.
func newImportDecoder(body io.Reader, rc *http.ResponseController) *importDecoder {
	sc := bufio.NewScanner(&deadlineReader{r: body, rc: rc})
	sc.Buffer(make([]byte, 0, 64<<10), maxImportLine)
	return &importDecoder{lines: sc, refs: map[string]importTarget{}}
}

// deadlineReader extends the read deadline before each read.
type deadlineReader struct {
	r  io.Reader
	rc *http.ResponseController
}

func (d *deadlineReader) Read(p []byte) (int, error) {
	_ = d.rc.SetReadDeadline(time.Now().Add(importStreamTimeout))
	return d.r.Read(p)
}

// next implements castellan.ImportNext.
func (d *importDecoder) next() (*castellan.ImportItem, error) {
	for d.lines.Scan() {
		d.line++
		b := bytes.TrimSpace(d.lines.Bytes())
		if len(b) == 0 {
			continue
		}
		item := &castellan.ImportItem{Line: d.line}
		if item.Err = d.decode(item, b); item.Err != nil {
			// Only the error is kept until the batch is written.
			*item = castellan.ImportItem{Line: item.Line, Kind: item.Kind, Ref: item.Ref, ID: item.ID, Refs: item.Refs, Err: item.Err}
		}
		return item, nil
	}
	err := d.lines.Err()
	switch {
	case err == nil:
		return nil, io.EOF
	case errors.Is(err, bufio.ErrTooLong):
		return nil, castellan.Errorf(castellan.EINVALID, castellan.CodeImportLineTooLong, "line %d is longer than %d bytes", d.line+1, maxImportLine)
	}
	return nil, castellan.Errorf(castellan.EINVALID, castellan.CodeInvalidJSON, "request body could not be read after line %d", d.line)
}

func itemInvalid(code, field, rule, msg string) error {
	return &castellan.Error{
		Kind: castellan.EINVALID, Code: code, Message: field + ": " + msg,
		Fields: []castellan.FieldError{{Field: field, Rule: rule, Message: msg}},
	}
}

// decode fills item from one line.
func (d *importDecoder) decode(item *castellan.ImportItem, line []byte) error {
	if !utf8.Valid(line) {
		return itemInvalid(castellan.CodeInvalidUTF8, "", "utf8", "must be UTF-8 encoded")
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(line, &raw); err != nil {
		return itemInvalid(castellan.CodeInvalidJSON, "", "json", "must be one JSON object: "+err.Error())
	}
	var kind, ref string
	if err := json.Unmarshal(raw["kind"], &kind); err != nil || importBodies[castellan.ImportKind(kind)] == nil {
		return itemInvalid(castellan.CodeImportUnknownKind, "kind", "enum",
			"must be one of orgUnit, project, user, group, membership, serviceAccount, grant")
	}
	item.Kind = castellan.ImportKind(kind)
	switch item.Kind {
	case castellan.ImportKindMembership, castellan.ImportKindGrant:
	default:
		item.ID = uuid.Must(uuid.NewV7()).String()
	}
	if r, ok := raw["ref"]; ok {
		if err := json.Unmarshal(r, &ref); err != nil || !importRefPattern.MatchString(ref) {
			return itemInvalid(castellan.CodeInvalidField, "ref", "pattern", "must be 1 to 100 characters without spaces or #")
		}
		if _, taken := d.refs[ref]; taken {
			return itemInvalid(castellan.CodeImportDuplicateRef, "ref", "unique", fmt.Sprintf("%q names an earlier item", ref))
		}
		item.Ref = ref
		d.refs[ref] = importTarget{kind: item.Kind, id: item.ID}
	}
	for key := range raw {
		if !importKeys[item.Kind][key] {
			return itemInvalid(castellan.CodeInvalidField, key, "unknownField", "is not a field of "+kind)
		}
	}
	if err := checkImportBody(item.Kind, line); err != nil {
		return err
	}
	body := reflect.New(importBodies[item.Kind])
	if err := json.Unmarshal(line, body.Interface()); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			return itemInvalid(castellan.CodeInvalidField, typeErr.Field, "type", "must be a JSON "+typeErr.Type.Kind().String())
		}
		return itemInvalid(castellan.CodeInvalidJSON, "", "json", err.Error())
	}
	return d.fill(item, body.Interface())
}

// fill sets the item's domain input from its body, resolving refs.
func (d *importDecoder) fill(item *castellan.ImportItem, body any) error {
	var err error
	switch b := body.(type) {
	case *orgUnitCreateBody:
		c := castellan.OrgUnitCreate{Name: b.Name, Description: b.Description, PolicyIDs: b.PolicyIDs}
		c.ParentID, err = d.resolve(item, "parentId", b.ParentID, castellan.ImportKindOrgUnit)
		item.OrgUnit = &c
	case *projectCreateBody:
		c := castellan.ProjectCreate{Name: b.Name, Description: b.Description}
		c.ParentID, err = d.resolve(item, "parentId", b.ParentID, castellan.ImportKindOrgUnit)
		item.Project = &c
	case *userRegistrationBody:
		if b.NeedPasswordGenerate {
			// The answer has no place to show it once.
			return itemInvalid(castellan.CodeInvalidField, "needPasswordGenerate", "unsupported", "is not supported in an import: the generated password could not be shown")
		}
		reg := b.registration()
		item.User = &reg
		err = castellan.CheckSubAccountRegistrations([]castellan.UserRegistration{reg}, castellan.NoPrefix)
	case *groupCreateBody:
		item.Group = &castellan.GroupCreate{Name: b.Name, Description: b.Description}
	case *importMembershipBody:
		m := castellan.ImportMembership{}
		if m.GroupID, err = d.resolve(item, "groupId", b.GroupID, castellan.ImportKindGroup); err == nil {
			m.UserID, err = d.resolve(item, "userId", b.UserID, castellan.ImportKindUser)
		}
		item.Membership = &m
	case *importServiceAccountBody:
		sa := castellan.ImportServiceAccount{ServiceAccountCreate: castellan.ServiceAccountCreate{Name: b.Name, Description: b.Description}}
		sa.ProjectID, err = d.resolve(item, "projectId", b.ProjectID, castellan.ImportKindProject)
		item.ServiceAccount = &sa
	case *grantItem:
		g := castellan.GrantCreate{RoleID: b.RoleID, Subject: b.Subject, ExpiresAt: b.ExpiresAt}
		if g.Scope, err = d.resolveScope(item, b.Scope); err == nil {
			g.Subject.ID, err = d.resolve(item, "subject.id", b.Subject.ID, subjectKinds[b.Subject.Type])
		}
		item.Grant = &g
	}
	return err
}

// subjectKinds are the item kinds a grant's subject may name.
var subjectKinds = map[castellan.SubjectType]castellan.ImportKind{
	castellan.SubjectUser: castellan.ImportKindUser, castellan.SubjectGroup: castellan.ImportKindGroup,
	castellan.SubjectServiceAccount: castellan.ImportKindServiceAccount,
}

// resolve returns value, or the ID of the earlier item "#ref" names,
// which must be of kind; the reference is recorded in item.Refs.
func (d *importDecoder) resolve(item *castellan.ImportItem, field, value string, kind castellan.ImportKind) (string, error) {
	ref, ok := strings.CutPrefix(value, "#")
	if !ok {
		return value, nil
	}
	target, found := d.refs[ref]
	switch {
	case !found || target.id == item.ID:
		return "", itemInvalid(castellan.CodeImportUnknownRef, field, "ref", fmt.Sprintf("#%s names no earlier item", ref))
	case target.kind != kind:
		return "", itemInvalid(castellan.CodeImportRefKind, field, "ref", fmt.Sprintf("#%s names a %s, not a %s", ref, target.kind, kind))
	}
	item.Refs = append(item.Refs, castellan.ImportRef{Field: field, Ref: ref, ID: target.id})
	return target.id, nil
}

// scopeRefKinds are the item kinds a scope of each kind may name.
var scopeRefKinds = map[string]castellan.ImportKind{"ou": castellan.ImportKindOrgUnit, "project": castellan.ImportKindProject}

// resolveScope resolves a ref in a grant's scope: ou/#ref, project/#ref
// or rn:<service>:#ref:<type>/<id>.
func (d *importDecoder) resolveScope(item *castellan.ImportItem, scope string) (string, error) {
	if m := resourceRefPattern.FindStringSubmatch(scope); m != nil {
		id, err := d.resolve(item, "scope", "#"+m[2], castellan.ImportKindProject)
		return "rn:" + m[1] + ":" + id + ":" + m[3], err
	}
	kind, id, ok := strings.Cut(scope, "/")
	if !ok || !strings.HasPrefix(id, "#") {
		return scope, nil
	}
	want, ok := scopeRefKinds[kind]
	if !ok {
		return "", itemInvalid(castellan.CodeImportRefKind, "scope", "ref", "only ou/#ref and project/#ref scopes may name an item")
	}
	id, err := d.resolve(item, "scope", id, want)
	return kind + "/" + id, err
}
