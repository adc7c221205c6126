package main

import (
	"fmt"
	"time"
)

// httpTimeouts are the deadlines of the HTTP server.
type httpTimeouts struct {
	// readHeader bounds reading a request's headers; bodyRead its body
	// (web.Config.BodyReadTimeout); write the time from the end of the
	// headers to the end of the answer; idle a keep-alive connection's
	// wait for the next request.
	readHeader, bodyRead, write, idle time.Duration
}

// httpTimeouts defines the server's timeout flags. A write that runs
// past --write-timeout still commits; only its answer is lost.
func (f *flags) httpTimeouts() func() (httpTimeouts, error) {
	readHeader := f.str("read-header-timeout", "CASTELLAN_READ_HEADER_TIMEOUT", "10s", "longest time a client may take to send a request's headers")
	bodyRead := f.str("body-read-timeout", "CASTELLAN_BODY_READ_TIMEOUT", "30s",
		"longest time a client may take to send a request's body; it never cuts short a request being processed")
	write := f.str("write-timeout", "CASTELLAN_WRITE_TIMEOUT", "60s", "longest time from a request's headers to the end of its answer")
	idle := f.str("idle-timeout", "CASTELLAN_IDLE_TIMEOUT", "120s", "how long an idle keep-alive connection is kept open")
	return func() (httpTimeouts, error) {
		var t httpTimeouts
		for _, d := range []struct {
			flag  string
			value *string
			into  *time.Duration
		}{{"read-header-timeout", readHeader, &t.readHeader}, {"body-read-timeout", bodyRead, &t.bodyRead},
			{"write-timeout", write, &t.write}, {"idle-timeout", idle, &t.idle}} {
			v, err := time.ParseDuration(*d.value)
			if err != nil || v <= 0 {
				return httpTimeouts{}, fmt.Errorf("--%s %q: want a positive duration like 30s", d.flag, *d.value)
			}
			*d.into = v
		}
		return t, nil
	}
}
