package castellan_test

import (
	"net/netip"
	"testing"

	"github.com/castellan-iam/castellan"
)

func TestConsoleIPAllowed(t *testing.T) {
	u := &castellan.User{UseConsolePermitIP: true, ConsolePermitIPs: []string{"203.0.113.0/24", "2001:db8::1", "198.51.100.7"}}
	for _, c := range []struct {
		ip   string
		want bool
	}{
		{"203.0.113.1", true}, {"203.0.113.255", true}, {"203.0.114.1", false},
		{"::ffff:203.0.113.9", true}, {"198.51.100.7", true}, {"198.51.100.8", false},
		{"2001:db8::1", true}, {"2001:db8::2", false}, {"fe80::1%eth0", false},
		{"", false}, {"not an address", false}, {"203.0.113.1:443", false},
	} {
		if got := u.ConsoleIPAllowed(c.ip); got != c.want {
			t.Errorf("ConsoleIPAllowed(%q) = %v, want %v", c.ip, got, c.want)
		}
	}
	off := &castellan.User{ConsolePermitIPs: []string{"203.0.113.0/24"}}
	if !off.ConsoleIPAllowed("192.0.2.1") {
		t.Error("an unused allow list refused an address")
	}
}

// FuzzConsoleIPAllowed: whatever the list and the address, the check
// never panics and allows only addresses that parse.
func FuzzConsoleIPAllowed(f *testing.F) {
	f.Add("203.0.113.0/24", "203.0.113.9")
	f.Add("2001:db8::/32", "::ffff:203.0.113.9")
	f.Add("bogus", "1.2.3.4")
	f.Fuzz(func(t *testing.T, entry, ip string) {
		u := &castellan.User{UseConsolePermitIP: true, ConsolePermitIPs: []string{entry}}
		if u.ConsoleIPAllowed(ip) {
			if _, err := netip.ParseAddr(ip); err != nil {
				t.Fatalf("allowed %q, which is no address", ip)
			}
		}
	})
}

func TestValidSessionTokenSyntax(t *testing.T) {
	for _, c := range []struct {
		token string
		want  bool
	}{
		{"csts_" + "abcdefghijABCDEFGHIJ0123456789-_abcdefghij0", true},
		{"csts_" + "abcdefghijABCDEFGHIJ0123456789-_abcdefghij", false},
		{"cst_" + "abcdefghijABCDEFGHIJ0123456789-_abcdefghij0", false},
		{"csts_" + "abcdefghijABCDEFGHIJ0123456789+/abcdefghij0", false},
		{"", false},
	} {
		if got := castellan.ValidSessionTokenSyntax(c.token); got != c.want {
			t.Errorf("ValidSessionTokenSyntax(%q) = %v, want %v", c.token, got, c.want)
		}
	}
}
