package main

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/castellan-iam/castellan/compat/cloudru"
	"github.com/castellan-iam/castellan/compat/ncloud"
)

// compatPrefixPattern is a mount path: segments of URL-safe characters,
// no trailing slash, nothing the mux would read as a pattern.
var compatPrefixPattern = regexp.MustCompile(`^(/[A-Za-z0-9._~-]+)+$`)

// ncloudPrefix defines --compat-ncloud-prefix: where the sub-account API
// is served.
func (f *flags) ncloudPrefix() func() (string, error) {
	return f.compatPrefix("compat-ncloud-prefix", "CASTELLAN_COMPAT_NCLOUD_PREFIX", ncloud.DefaultPrefix, "the sub-account API")
}

// cloudruPrefix defines --compat-cloudru-prefix: where the customer users
// / permissions API is served.
func (f *flags) cloudruPrefix() func() (string, error) {
	return f.compatPrefix("compat-cloudru-prefix", "CASTELLAN_COMPAT_CLOUDRU_PREFIX", cloudru.DefaultPrefix, "the customer users / permissions API")
}

// compatPrefix defines the mount flag of a compatibility API and returns
// a function checking it after parsing: "" turns the API off; otherwise
// a path that does not shadow the API or the console.
func (f *flags) compatPrefix(name, env, def, what string) func() (string, error) {
	prefix := f.str(name, env, def, "path "+what+" (compatibility) is served under; empty turns it off")
	return func() (string, error) {
		p := *prefix
		if p == "" {
			return "", nil
		}
		if !compatPrefixPattern.MatchString(p) {
			return "", fmt.Errorf("--%s %q: want a path like %s: starting with /, without a trailing /, or empty to turn it off", name, p, def)
		}
		for _, taken := range []string{"/v1", "/console"} {
			if underPath(p, taken) {
				return "", fmt.Errorf("--%s %q: must not be under %s, another surface's", name, p, taken)
			}
		}
		return p, nil
	}
}

// checkCompatPrefixes refuses two compatibility APIs mounted one under
// the other.
func checkCompatPrefixes(a, b string) error {
	if a != "" && b != "" && (underPath(a, b) || underPath(b, a)) {
		return fmt.Errorf("--compat-ncloud-prefix %q and --compat-cloudru-prefix %q: one is under the other", a, b)
	}
	return nil
}

// underPath reports whether p is dir or below it.
func underPath(p, dir string) bool { return p == dir || strings.HasPrefix(p, dir+"/") }
