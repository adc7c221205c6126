package main

import (
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"strings"
	"testing"

	"github.com/castellan-iam/castellan/sqlstore/sqltest"
)

// TestCompatCloudruPrefixFlag reads the prefix from the flag and the
// environment, turns the API off with an empty flag and refuses a prefix
// that is no path or shadows the API or the console.
func TestCompatCloudruPrefixFlag(t *testing.T) {
	parse := func(args []string, env map[string]string) (string, error) {
		f := newFlags("serve", io.Discard, func(k string) string { return env[k] })
		prefix := f.cloudruPrefix()
		if err := f.parse(args); err != nil {
			t.Fatal(err)
		}
		return prefix()
	}
	for _, tc := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{nil, nil, "/compat/cloudru"},
		{nil, map[string]string{"CASTELLAN_COMPAT_CLOUDRU_PREFIX": "/cloudru"}, "/cloudru"},
		{[]string{"--compat-cloudru-prefix", "/iam"}, map[string]string{"CASTELLAN_COMPAT_CLOUDRU_PREFIX": "/cloudru"}, "/iam"},
		{[]string{"--compat-cloudru-prefix="}, nil, ""},
		{[]string{"--compat-cloudru-prefix", "/v1x"}, nil, "/v1x"},
	} {
		if got, err := parse(tc.args, tc.env); err != nil || got != tc.want {
			t.Errorf("%v %v: got %q, %v; want %q", tc.args, tc.env, got, err, tc.want)
		}
	}
	for _, bad := range []string{"compat", "/compat/", "/", "/v1", "/v1/compat", "/console", "/console/cloudru"} {
		if _, err := parse([]string{"--compat-cloudru-prefix", bad}, nil); err == nil || !strings.Contains(err.Error(), "--compat-cloudru-prefix") {
			t.Errorf("%q: got %v, want the flag named", bad, err)
		}
	}
}

// TestServeCompatCloudru: serve mounts the adapter at its default prefix,
// where it answers 401 in its own shape, and not when turned off.
func TestServeCompatCloudru(t *testing.T) {
	url := sqltest.SQLiteURL(t)
	for _, tc := range []struct {
		flag   []string
		status int
		ct     string
	}{
		{nil, http.StatusUnauthorized, "application/json"},
		{[]string{"--compat-cloudru-prefix="}, http.StatusUnauthorized, "application/problem+json"},
	} {
		srv := startServe(t, noEnv, append([]string{"--listen", "127.0.0.1:0", "--database", url}, tc.flag...)...)
		resp, body := srv.do(t, http.MethodPost, "/compat/cloudru/api/v1/permissions", "", "{}")
		mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
		if resp.StatusCode != tc.status || mt != tc.ct {
			t.Errorf("%v: got %d %s %s, want %d %s", tc.flag, resp.StatusCode, mt, body, tc.status, tc.ct)
		}
		if tc.ct == "application/json" {
			var status struct{ Code int }
			if err := json.Unmarshal(body, &status); err != nil || status.Code != 16 {
				t.Errorf("got %s, want code 16", body)
			}
		}
		if err := srv.stop(); err != nil {
			t.Fatal(err)
		}
	}
}
