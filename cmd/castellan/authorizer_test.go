package main

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/castellan-iam/castellan/index"
	"github.com/castellan-iam/castellan/sqlstore/sqltest"
	"github.com/castellan-iam/castellan/storetest"
)

// TestAuthorizerFlag: the index subscribed to the change feed by
// default (or with --authorizer index, or the environment), the store's
// reference with --authorizer store, and a clear refusal of anything
// else.
func TestAuthorizerFlag(t *testing.T) {
	db := sqltest.MustOpen(t, sqltest.Backends()[0].URL(t), storetest.NewClock().Now)
	services := db.Services()
	choose := func(args []string, env map[string]string) (any, error) {
		f := newFlags("serve", io.Discard, func(k string) string { return env[k] })
		choice := f.authorizerChoice()
		if err := f.parse(args); err != nil {
			t.Fatal(err)
		}
		feed, _, stop, err := startChangeFeed(context.Background(), db, "1h", slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(stop)
		return choice(context.Background(), db, services, feed)
	}
	if a, err := choose([]string{"--authorizer", "store"}, nil); err != nil || a != nil {
		t.Fatalf("--authorizer store: got %T, %v; want the reference (nil)", a, err)
	}
	for _, tc := range []struct {
		args []string
		env  map[string]string
	}{{nil, nil}, {[]string{"--authorizer", "index"}, nil}, {nil, map[string]string{"CASTELLAN_AUTHORIZER": "index"}}} {
		if a, err := choose(tc.args, tc.env); err != nil {
			t.Fatal(err)
		} else if _, ok := a.(*index.Authorizer); !ok {
			t.Fatalf("%v %v: got %T, want the index", tc.args, tc.env, a)
		}
	}
	if _, err := choose([]string{"--authorizer", "memory"}, nil); err == nil || !strings.Contains(err.Error(), "--authorizer") {
		t.Fatalf("a bad choice: got %v, want the flag named", err)
	}
}
