package index

import (
	"strings"
	"testing"

	"github.com/castellan-iam/castellan"
)

// TestParseTarget: the quick parser accepts exactly what
// castellan.ParseScope accepts, with the same kind, node and resource.
func TestParseTarget(t *testing.T) {
	id := "0190d3a8-0000-7000-8000-000000000003"
	var cases []string
	for _, kind := range []string{"organization", "ou", "account", "project", "group", "Project", ""} {
		cases = append(cases, kind+"/"+id, kind+"/"+strings.ToUpper(id), kind+"/"+id[1:], kind+"/"+id+"0", kind+"/"+id+"/", kind+id)
	}
	for _, service := range []string{"s3e", "s-3", "3s", "-s", "S3", "", strings.Repeat("s", 63), strings.Repeat("s", 64)} {
		for _, typ := range []string{"bucket", "b-A9", "9b", "Bucket", "", strings.Repeat("t", 63), strings.Repeat("t", 64)} {
			for _, name := range []string{"x", "*", "a~b_c.d-E", ".x", "x/y", "**", "", "x*", strings.Repeat("n", 255), strings.Repeat("n", 256)} {
				cases = append(cases, "rn:"+service+":"+id+":"+typ+"/"+name)
			}
		}
	}
	cases = append(cases, "rn:s3e:"+strings.ToUpper(id)+":bucket/x", "rn:s3e:"+id+"-:bucket/x", "rn:s3e:"+id+":bucket", "rn:s3e:"+id, "rn:"+id,
		"rn:s3e:"+strings.Repeat("0", 36)+":bucket/x", "rn:s3e:"+id+":bucket/x:y", "rn:s3e:x:"+id+":bucket/x", "rn:s3e:"+id+":bucket/"+strings.Repeat("n", 400))
	accepted := 0
	for _, s := range cases {
		want, err := castellan.ParseScope("resource", s)
		got, ok := parseTarget(s)
		if ok != (err == nil) {
			t.Errorf("%q: quick parser ok %v, ParseScope error %v", s, ok, err)
			continue
		}
		if !ok {
			continue
		}
		accepted++
		if wantTarget := targetOf(want); got != wantTarget {
			t.Errorf("%q: got %+v, want %+v", s, got, wantTarget)
		}
	}
	if accepted < 20 || accepted == len(cases) {
		t.Errorf("got %d of %d cases accepted; want some accepted and some refused", accepted, len(cases))
	}
}
