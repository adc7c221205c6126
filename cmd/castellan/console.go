package main

import (
	"fmt"
	"strconv"
	"time"

	"github.com/castellan-iam/castellan"
)

// signInPolicy defines the console's sign-in flags and returns a function
// reading them, after parsing, into a policy.
func (f *flags) signInPolicy() func() (castellan.SignInPolicy, error) {
	d := castellan.DefaultSignInPolicy
	idle := f.str("console-idle-timeout", "CASTELLAN_CONSOLE_IDLE_TIMEOUT", d.IdleTimeout.String(), "console sessions end after this long unused")
	absolute := f.str("console-session-lifetime", "CASTELLAN_CONSOLE_SESSION_LIFETIME", d.AbsoluteTimeout.String(), "console sessions end this long after sign-in, however used")
	failures := f.str("console-max-failures", "CASTELLAN_CONSOLE_MAX_FAILURES", strconv.Itoa(d.MaxFailures), "failed sign-ins (passwords and MFA codes) within the failure window that lock an account")
	window := f.str("console-failure-window", "CASTELLAN_CONSOLE_FAILURE_WINDOW", d.FailureWindow.String(), "how far back failed sign-ins count")
	lockout := f.str("console-lockout", "CASTELLAN_CONSOLE_LOCKOUT", d.LockoutPeriod.String(), "how long a locked account stays locked")
	return func() (castellan.SignInPolicy, error) {
		var p castellan.SignInPolicy
		for _, dur := range []struct {
			flag  string
			value string
			dst   *time.Duration
		}{
			{"console-idle-timeout", *idle, &p.IdleTimeout}, {"console-session-lifetime", *absolute, &p.AbsoluteTimeout},
			{"console-failure-window", *window, &p.FailureWindow}, {"console-lockout", *lockout, &p.LockoutPeriod},
		} {
			v, err := time.ParseDuration(dur.value)
			if err != nil || v < time.Second {
				return p, fmt.Errorf("--%s %q: want a duration of at least 1s, like 30m or 12h", dur.flag, dur.value)
			}
			*dur.dst = v
		}
		n, err := strconv.Atoi(*failures)
		if err != nil || n < 1 {
			return p, fmt.Errorf("--console-max-failures %q: want a positive number", *failures)
		}
		p.MaxFailures = n
		if p.IdleTimeout > p.AbsoluteTimeout {
			return p, fmt.Errorf("--console-idle-timeout %s is longer than --console-session-lifetime %s", p.IdleTimeout, p.AbsoluteTimeout)
		}
		return p, nil
	}
}
