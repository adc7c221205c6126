package cloudru

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"slices"
	"sort"

	"github.com/castellan-iam/castellan"
)

// field is one field of a request message: its JSON name on the wire and
// its Go name, which protoc-gen-validate's messages use.
type field struct{ json, goName string }

// message describes a request message of the original's .proto: its
// name and its fields in their order there, which is the order
// protoc-gen-validate checks them in (it reports the first failure).
type message struct {
	name   string
	fields []field
}

// violation is one bad field in this wire's terms.
type violation struct {
	goName string
	// index is the item of a repeated field, or -1.
	index   int
	message string
}

func (v violation) path() string {
	if v.index < 0 {
		return v.goName
	}
	return fmt.Sprintf("%s[%d]", v.goName, v.index)
}

// rank orders violations as the original's fields.
func (m *message) rank(v violation) int {
	return slices.IndexFunc(m.fields, func(f field) bool { return f.goName == v.goName })
}

// first is the first of vs in the message's field order; vs is not empty.
func (m *message) first(vs []violation) violation {
	sort.SliceStable(vs, func(i, j int) bool { return m.rank(vs[i]) < m.rank(vs[j]) })
	return vs[0]
}

// invalid is the INVALID_ARGUMENT error of the first of vs, in
// protoc-gen-validate's words, or nil when vs is empty.
func (m *message) invalid(vs []violation) error {
	if len(vs) == 0 {
		return nil
	}
	v := m.first(vs)
	return castellan.Errorf(castellan.EINVALID, castellan.CodeInvalidField, "invalid %s.%s: %s", m.name, v.path(), v.message)
}

// wireField turns a field error of the core into this wire's field and,
// for EINVALID, the protoc-gen-validate message of its rule; false for a
// field the wire does not have.
type wireField func(castellan.FieldError) (violation, bool)

// violations are the fields of err that the wire has.
// The message of an error of another kind (a login ID taken, a role not
// held) is the core's.
func violations(err error, wire wireField) []violation {
	var e *castellan.Error
	if !errors.As(err, &e) {
		return nil
	}
	var vs []violation
	for _, f := range e.Fields {
		if v, ok := wire(f); ok {
			if e.Kind != castellan.EINVALID {
				v.message = f.Message
			}
			vs = append(vs, v)
		}
	}
	return vs
}

// translate renders an error of the core in the wire's terms: a bad
// field in protoc-gen-validate's words ("invalid AddUserRequest.Email:
// value must be a valid email address"), any other error naming the
// field with the core's message (a login ID taken, a role not held). An
// error without fields the wire has keeps its message.
func (m *message) translate(err error, wire wireField) error {
	var e *castellan.Error
	if !errors.As(err, &e) {
		return err
	}
	vs := violations(err, wire)
	if len(vs) == 0 {
		return err
	}
	v := m.first(vs)
	msg := fmt.Sprintf("%s.%s: %s", m.name, v.path(), v.message)
	if e.Kind == castellan.EINVALID {
		msg = "invalid " + msg
	}
	return &castellan.Error{Kind: e.Kind, Code: e.Code, Message: msg, Err: err}
}

// decode reads the JSON body of r into dst, a pointer to a struct whose
// json tags are the message's fields. The original's decoder (protojson)
// matches keys exactly and refuses unknown ones; Go's would match
// {"USERNAME": …} and drop {"x": …}, so keys are checked first. An empty
// body is the empty message, as the gateway reads it.
func (m *message) decode(r *http.Request, dst any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
			return m.badBody("the body must be JSON, sent with Content-Type: application/json")
		}
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return m.badBody("the body could not be read")
	}
	if len(bytes.TrimSpace(body)) == 0 {
		body = []byte("{}")
	}
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(body, &keys); err != nil {
		var syntax *json.SyntaxError
		if errors.As(err, &syntax) {
			return m.badBody(fmt.Sprintf("the body is not valid JSON: %s (at byte %d)", syntax.Error(), syntax.Offset))
		}
		return m.badBody("the body must be a JSON object")
	}
	var unknown []string
	for k := range keys {
		if !slices.ContainsFunc(m.fields, func(f field) bool { return f.json == k }) {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		return m.badBody(fmt.Sprintf("unknown field %q", unknown[0]))
	}
	if err := json.Unmarshal(body, dst); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			return m.badField(typeErr)
		}
		return m.badBody("the body could not be decoded")
	}
	return nil
}

func (m *message) badBody(msg string) error {
	return castellan.Errorf(castellan.EINVALID, castellan.CodeInvalidJSON, "invalid %s: %s", m.name, msg)
}

// badField is the error of a value of the wrong JSON type. Go's decoder
// names the field, not the item of an array.
func (m *message) badField(e *json.UnmarshalTypeError) error {
	name := e.Field
	if i := slices.IndexFunc(m.fields, func(f field) bool { return f.json == name }); i >= 0 {
		name = m.fields[i].goName
	}
	want := map[reflect.Kind]string{reflect.String: "a string", reflect.Slice: "an array", reflect.Bool: "a boolean"}[e.Type.Kind()]
	if want == "" {
		want = "of type " + e.Type.String()
	}
	return castellan.Errorf(castellan.EINVALID, castellan.CodeInvalidJSON, "invalid %s.%s: value must be %s", m.name, name, want)
}
