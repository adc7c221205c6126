package main

import (
	"context"
	"io"
	"strings"
	"testing"

	"github.com/castellan-iam/castellan/sqlstore/sqltest"
)

func TestServeCompatNcloudPrefix(t *testing.T) {
	for _, bad := range []string{"compat", "/compat/", "/", "/v1", "/v1/ncloud", "/console/x", "/a b", "/{x}"} {
		err := run(context.Background(), []string{"serve", "--database", sqltest.SQLiteURL(t), "--compat-ncloud-prefix", bad}, io.Discard, io.Discard, noEnv)
		if err == nil || !strings.Contains(err.Error(), "--compat-ncloud-prefix") {
			t.Errorf("prefix %q: got %v, want it refused", bad, err)
		}
	}

	for _, c := range []struct {
		name   string
		getenv func(string) string
		args   []string
		path   string
		status int
		want   string
	}{
		{"Default", noEnv, nil, "/compat/ncloud/api/v1/users/x", 401, `"errorCode":"200"`},
		{"Env", envOf(map[string]string{"CASTELLAN_COMPAT_NCLOUD_PREFIX": "/ncp/api/v1"}), nil, "/ncp/api/v1/users/x", 401, `"errorCode":"200"`},
		{"Flag", noEnv, []string{"--compat-ncloud-prefix", "/iam/v2"}, "/iam/v2/users/x", 401, `"errorCode":"200"`},
		{"Off", noEnv, []string{"--compat-ncloud-prefix="}, "/compat/ncloud/api/v1/users/x", 401, `"code":"auth.unauthenticated"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv := startServe(t, c.getenv, append([]string{"--listen", "127.0.0.1:0", "--database", sqltest.SQLiteURL(t)}, c.args...)...)
			resp, body := srv.do(t, "GET", c.path, "", "")
			if resp.StatusCode != c.status || !strings.Contains(string(body), c.want) {
				t.Fatalf("got %d %s, want %d %s", resp.StatusCode, body, c.status, c.want)
			}
		})
	}
}

// TestCompatPrefixesApart refuses one compatibility API mounted under the
// other: the plumbing would hand the inner one's paths to the outer.
func TestCompatPrefixesApart(t *testing.T) {
	for _, c := range []struct {
		ncloud, cloudru string
		ok              bool
	}{
		{"/compat/ncloud/api/v1", "/compat/cloudru", true},
		{"", "/compat", true},
		{"/compat/ncloud", "/compat", false},
		{"/compat", "/compat/cloudru", false},
		{"/compat", "/compat", false},
	} {
		if err := checkCompatPrefixes(c.ncloud, c.cloudru); (err == nil) != c.ok {
			t.Errorf("%q %q: got %v, want ok %v", c.ncloud, c.cloudru, err, c.ok)
		}
	}
}
