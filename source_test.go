package castellan_test

import (
	"net/netip"
	"testing"
	"time"

	"github.com/castellan-iam/castellan"
)

func TestSourceAllowed(t *testing.T) {
	sources := []castellan.APIAllowSource{
		{Type: castellan.SourceIP, Source: "203.0.113.0/24"},
		{Type: castellan.SourceIP, Source: "198.51.100.7"},
		{Type: castellan.SourceIP, Source: "2001:db8:1::/48"},
		{Type: castellan.SourceVPC, Source: "vpc-1"},
		{Type: castellan.SourceVPCServer, Source: "4242"},
	}
	for _, tc := range []struct {
		name    string
		sources []castellan.APIAllowSource
		info    castellan.RequestInfo
		want    bool
	}{
		{"InCIDR", sources, castellan.RequestInfo{SourceIP: "203.0.113.200"}, true},
		{"OutsideCIDR", sources, castellan.RequestInfo{SourceIP: "203.0.114.1"}, false},
		{"Address", sources, castellan.RequestInfo{SourceIP: "198.51.100.7"}, true},
		{"NextAddress", sources, castellan.RequestInfo{SourceIP: "198.51.100.8"}, false},
		{"IPv6InCIDR", sources, castellan.RequestInfo{SourceIP: "2001:db8:1:ffff::1"}, true},
		{"IPv6Outside", sources, castellan.RequestInfo{SourceIP: "2001:db8:2::1"}, false},
		{"IPv4MappedIPv6", sources, castellan.RequestInfo{SourceIP: "::ffff:198.51.100.7"}, true},
		{"ZoneIgnored", []castellan.APIAllowSource{{Type: castellan.SourceIP, Source: "fe80::1"}}, castellan.RequestInfo{SourceIP: "fe80::1%eth0"}, true},
		{"MappedCIDR", []castellan.APIAllowSource{{Type: castellan.SourceIP, Source: "::ffff:203.0.113.0/120"}}, castellan.RequestInfo{SourceIP: "203.0.113.9"}, true},
		{"VPC", sources, castellan.RequestInfo{SourceIP: "192.0.2.1", VPC: "vpc-1"}, true},
		{"OtherVPC", sources, castellan.RequestInfo{SourceIP: "192.0.2.1", VPC: "vpc-2"}, false},
		{"VPCServer", sources, castellan.RequestInfo{VPCServer: "4242"}, true},
		{"VPCIsNotServer", sources, castellan.RequestInfo{VPCServer: "vpc-1"}, false},
		{"EmptyRequest", sources, castellan.RequestInfo{}, false},
		{"UnparsableAddress", sources, castellan.RequestInfo{SourceIP: "203.0.113.1:80"}, false},
		{"NoSources", nil, castellan.RequestInfo{SourceIP: "203.0.113.1"}, false},
		{"EmptyVPCSource", []castellan.APIAllowSource{{Type: castellan.SourceVPC}}, castellan.RequestInfo{SourceIP: "203.0.113.1"}, false},
		{"MalformedSource", []castellan.APIAllowSource{{Type: castellan.SourceIP, Source: "203.0.113.0/99"}}, castellan.RequestInfo{SourceIP: "203.0.113.1"}, false},
		{"UnknownType", []castellan.APIAllowSource{{Type: "SUBNET", Source: "203.0.113.1"}}, castellan.RequestInfo{SourceIP: "203.0.113.1"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := castellan.SourceAllowed(tc.sources, tc.info); got != tc.want {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

// FuzzSourceAllowed checks that matching never panics, that an IP source
// holds exactly the addresses netip says it does, and that VPC sources
// match only their own attribute.
func FuzzSourceAllowed(f *testing.F) {
	for _, s := range [][3]string{
		{"IP", "203.0.113.0/24", "203.0.113.7"}, {"IP", "2001:db8::/32", "2001:db8::1"}, {"IP", "::ffff:1.2.3.4", "1.2.3.4"},
		{"VPC", "vpc-1", "vpc-1"}, {"VPC_SERVER", "42", "42"}, {"IP", "", ""}, {"IP", "1.2.3.4/0", "fe80::1%eth0"},
	} {
		f.Add(s[0], s[1], s[2])
	}
	f.Fuzz(func(t *testing.T, typ, source, request string) {
		sources := []castellan.APIAllowSource{{Type: typ, Source: source}}
		byIP := castellan.SourceAllowed(sources, castellan.RequestInfo{SourceIP: request})
		byVPC := castellan.SourceAllowed(sources, castellan.RequestInfo{VPC: request})
		byServer := castellan.SourceAllowed(sources, castellan.RequestInfo{VPCServer: request})
		if byVPC != (typ == castellan.SourceVPC && request != "" && request == source) {
			t.Fatalf("VPC %q against %+v: got %v", request, sources, byVPC)
		}
		if byServer != (typ == castellan.SourceVPCServer && request != "" && request == source) {
			t.Fatalf("VPC server %q against %+v: got %v", request, sources, byServer)
		}
		if typ != castellan.SourceIP {
			if byIP {
				t.Fatalf("%+v matched address %q", sources, request)
			}
			return
		}
		addr, err := netip.ParseAddr(request)
		if err != nil {
			if byIP {
				t.Fatalf("unparsable %q matched %+v", request, sources)
			}
			return
		}
		addr = addr.Unmap().WithZone("")
		want := false
		if p, err := netip.ParsePrefix(source); err == nil {
			want = p.Masked().Contains(addr) || p.Addr().Is4In6() && p.Bits() >= 96 &&
				netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96).Masked().Contains(addr)
		} else if a, err := netip.ParseAddr(source); err == nil {
			want = a.Unmap().WithZone("") == addr
		}
		if byIP != want {
			t.Fatalf("address %q against %+v: got %v, want %v", request, sources, byIP, want)
		}
	})
}

func TestBearerToken(t *testing.T) {
	for _, tc := range []struct {
		header, want string
		ok           bool
	}{
		{"Bearer cst_abc", "cst_abc", true},
		{"bearer cst_abc", "cst_abc", true},
		{"BEARER x", "x", true},
		{"Bearer", "", false},
		{"Bearer ", "", false},
		{"Bearer  cst_abc", "", false},
		{"Bearer cst_abc extra", "", false},
		{"Bearer cst_abc\t", "", false},
		{"Basic dXNlcjpwYXNz", "", false},
		{"cst_abc", "", false},
		{"", "", false},
	} {
		got, ok := castellan.BearerToken(tc.header)
		if got != tc.want || ok != tc.ok {
			t.Errorf("BearerToken(%q): got %q, %v, want %q, %v", tc.header, got, ok, tc.want, tc.ok)
		}
	}
}

func TestCredentialCheck(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	inside := castellan.RequestInfo{SourceIP: "203.0.113.7"}
	outside := castellan.RequestInfo{SourceIP: "192.0.2.1"}
	sources := []castellan.APIAllowSource{{Type: castellan.SourceIP, Source: "203.0.113.0/24"}}
	for _, tc := range []struct {
		name string
		cred castellan.Credential
		info castellan.RequestInfo
		want string // error code, "" for none
	}{
		{"NoExpiry", castellan.Credential{}, outside, ""},
		{"BeforeExpiry", castellan.Credential{ExpiresAt: now.Add(time.Nanosecond)}, outside, ""},
		{"AtExpiry", castellan.Credential{ExpiresAt: now}, outside, castellan.CodeUnauthenticated},
		{"InsideSources", castellan.Credential{AllowSources: sources}, inside, ""},
		{"OutsideSources", castellan.Credential{AllowSources: sources}, outside, castellan.CodeSourceNotAllowed},
		{"EmptySourcesAllowNothing", castellan.Credential{AllowSources: []castellan.APIAllowSource{}}, inside, castellan.CodeSourceNotAllowed},
		{"ExpiredBeforeSource", castellan.Credential{ExpiresAt: now, AllowSources: sources}, outside, castellan.CodeUnauthenticated},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cred.Check(now, tc.info)
			if got := castellan.ErrorCode(err); got != tc.want {
				t.Fatalf("got %q (%v), want %q", got, err, tc.want)
			}
		})
	}
}
