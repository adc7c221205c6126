package main

import (
	"fmt"
	"strings"

	"github.com/castellan-iam/castellan/compat/cloudru"
)

// cloudruPrefix defines --compat-cloudru-prefix, where the customer users
// / permissions API is served; empty turns it off. The prefix must not
// shadow the API or the console.
func (f *flags) cloudruPrefix() func() (string, error) {
	prefix := f.str("compat-cloudru-prefix", "CASTELLAN_COMPAT_CLOUDRU_PREFIX", cloudru.DefaultPrefix,
		"path prefix of the customer users / permissions compatibility API; empty turns it off")
	return func() (string, error) {
		p := *prefix
		switch {
		case p == "":
			return "", nil
		case !strings.HasPrefix(p, "/") || strings.HasSuffix(p, "/"):
			return "", fmt.Errorf("--compat-cloudru-prefix %q: want a path starting with / and not ending with one, or empty to turn it off", p)
		case underPath(p, "/v1") || underPath(p, "/console"):
			return "", fmt.Errorf("--compat-cloudru-prefix %q: must not be under /v1 or /console", p)
		}
		return p, nil
	}
}

// underPath reports whether p is dir or below it.
func underPath(p, dir string) bool { return p == dir || strings.HasPrefix(p, dir+"/") }
