package api

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/castellan-iam/castellan"
)

// TestImportDecodeChecks: an item is checked as its single request's body
// when read (but for needPasswordGenerate, whose password an import
// could not show), and a refused item keeps only its error until its batch is
// written, not the 64 KiB it came in.
func TestImportDecodeChecks(t *testing.T) {
	t.Parallel()
	ips := `"1"` + strings.Repeat(`, "1"`, 100)
	body := `{"kind": "user", "ref": "u", "loginId": "dave", "email": "dave@acme.example", "name": "Dave", "consolePermitIps": [` + ips + `]}` + "\n" +
		`{"kind": "group", "name": "` + strings.Repeat("g", 1000) + `"}` + "\n" +
		`{"kind": "serviceAccount", "projectId": "#nowhere", "name": "deployer"}` + "\n" +
		`{"kind": "user", "loginId": "erin", "email": "erin@acme.example", "name": "Erin", "needPasswordGenerate": true}` + "\n"
	d := newImportDecoder(strings.NewReader(body), http.NewResponseController(httptest.NewRecorder()))
	for _, want := range []struct{ code, field, rule string }{
		{castellan.CodeInvalidField, "consolePermitIps", "maxItems"},
		{castellan.CodeInvalidField, "name", "maxLength"},
		{castellan.CodeImportUnknownRef, "projectId", "ref"},
		{castellan.CodeInvalidField, "needPasswordGenerate", "unsupported"},
	} {
		item, err := d.next()
		if err != nil {
			t.Fatal(err)
		}
		e, ok := item.Err.(*castellan.Error)
		if !ok || e.Code != want.code || len(e.Fields) != 1 || e.Fields[0].Field != want.field || e.Fields[0].Rule != want.rule {
			t.Errorf("line %d: got %v, want %s on %s (%s)", item.Line, item.Err, want.code, want.field, want.rule)
		}
		if item.User != nil || item.Group != nil || item.ServiceAccount != nil {
			t.Errorf("line %d: a refused item keeps its body", item.Line)
		}
	}
}
