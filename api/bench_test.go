package api_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"testing"

	"github.com/castellan-iam/castellan/sqlstore/sqltest"
)

// BenchmarkAuthorizeHTTP measures one POST /v1/authorize over a kept-alive
// connection: token check, caller authorization and the decision, with the
// store-backed authorizer (the in-memory index is a later issue).
func BenchmarkAuthorizeHTTP(b *testing.B) {
	for _, backend := range sqltest.Backends() {
		b.Run(backend.Name, func(b *testing.B) {
			e := newEnv(b, backend.URL(b))
			f := &fixture{t: b, e: e, org: e.acme.OrganizationID}
			f.project = f.newProject()
			body, _ := json.Marshal(f.check("compute:StartInstance", "project/"+f.project))
			client := e.srv.Client()
			for b.Loop() {
				req, _ := http.NewRequest("POST", e.srv.URL+"/v1/authorize", bytes.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+e.acme.Token)
				req.Header.Set("Content-Type", "application/json")
				resp, err := client.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					b.Fatalf("got %d", resp.StatusCode)
				}
			}
		})
	}
}
