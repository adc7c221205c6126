package sso

import (
	"net/netip"
	"testing"
)

// TestPublicAddr: only addresses of the public internet pass, whatever
// form an IPv4 address of another range hides in.
func TestPublicAddr(t *testing.T) {
	for addr, want := range map[string]bool{
		"93.184.216.34": true, "2606:2800:220:1:248:1893:25c8:1946": true,
		"127.0.0.1": false, "10.0.0.5": false, "172.16.0.1": false, "192.168.1.1": false, "169.254.169.254": false,
		"100.64.0.1": false, "0.1.2.3": false, "198.18.0.1": false, "240.0.0.1": false, "192.0.0.8": false,
		"::1": false, "fe80::1": false, "fc00::1": false, "fec0::1": false, "::ffff:10.0.0.5": false, "::ffff:127.0.0.1": false,
		"64:ff9b::a00:5": false, "64:ff9b:1::a00:5": false, "2002:a00:5::1": false, "2001:0:4136:e378::1": false, "::a00:5": false,
		"224.0.0.1": false, "::": false,
	} {
		if got := publicAddr(netip.MustParseAddr(addr)); got != want {
			t.Errorf("publicAddr(%s) = %v, want %v", addr, got, want)
		}
	}
}
