package main

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/castellan-iam/castellan/compat/ncloud"
)

// compatPrefixPattern is a mount path: segments of URL-safe characters,
// no trailing slash, nothing the mux would read as a pattern.
var compatPrefixPattern = regexp.MustCompile(`^(/[A-Za-z0-9._~-]+)+$`)

// ncloudPrefix defines --compat-ncloud-prefix and returns a function
// checking it: where the sub-account API is mounted, "" for off.
func (f *flags) ncloudPrefix() func() (string, error) {
	prefix := f.str("compat-ncloud-prefix", "CASTELLAN_COMPAT_NCLOUD_PREFIX", ncloud.DefaultPrefix,
		"path the sub-account API (compatibility) is served under; empty turns it off")
	return func() (string, error) {
		p := *prefix
		if p == "" {
			return "", nil
		}
		if !compatPrefixPattern.MatchString(p) {
			return "", fmt.Errorf("--compat-ncloud-prefix %q: want a path like %s: starting with /, without a trailing /", p, ncloud.DefaultPrefix)
		}
		for _, taken := range []string{"/v1", "/console"} {
			if p == taken || strings.HasPrefix(p, taken+"/") {
				return "", fmt.Errorf("--compat-ncloud-prefix %q: %s belongs to another surface", p, taken)
			}
		}
		return p, nil
	}
}
