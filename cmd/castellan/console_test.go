package main

import (
	"io"
	"strings"
	"testing"
	"time"

	"github.com/castellan-iam/castellan"
)

// TestSignInPolicyFlags reads the console's settings from flags and the
// environment and refuses bad ones.
func TestSignInPolicyFlags(t *testing.T) {
	parse := func(args []string, env map[string]string) (castellan.SignInPolicy, error) {
		f := newFlags("serve", io.Discard, func(k string) string { return env[k] })
		policy := f.signInPolicy()
		if err := f.parse(args); err != nil {
			t.Fatal(err)
		}
		return policy()
	}
	if p, err := parse(nil, nil); err != nil || p != castellan.DefaultSignInPolicy {
		t.Fatalf("defaults: got %+v, %v", p, err)
	}
	p, err := parse([]string{"--console-idle-timeout", "10m", "--console-max-failures", "3"},
		map[string]string{"CASTELLAN_CONSOLE_LOCKOUT": "1h", "CASTELLAN_CONSOLE_MAX_FAILURES": "9"})
	want := castellan.DefaultSignInPolicy
	want.IdleTimeout, want.MaxFailures, want.LockoutPeriod = 10*time.Minute, 3, time.Hour
	if err != nil || p != want {
		t.Fatalf("got %+v, %v; want %+v", p, err, want)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--console-idle-timeout", "soon"}, "--console-idle-timeout"},
		{[]string{"--console-lockout", "0s"}, "--console-lockout"},
		{[]string{"--console-max-failures", "0"}, "--console-max-failures"},
		{[]string{"--console-idle-timeout", "13h"}, "longer than --console-session-lifetime"},
	} {
		if _, err := parse(c.args, nil); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: got %v, want an error naming %s", c.args, err, c.want)
		}
	}
}
