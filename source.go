package castellan

import (
	"net/netip"
	"strings"
)

// SourceAllowed reports whether a request described by info comes from one
// of sources, a user's API allow sources:
//
//   - IP: info.SourceIP is the address, or inside the CIDR. IPv4-mapped
//     IPv6 addresses (::ffff:203.0.113.7) count as the IPv4 address they
//     carry, and a zone (fe80::1%eth0) is ignored.
//   - VPC: info.VPC equals the VPC ID.
//   - VPC_SERVER: info.VPCServer equals the server instance number.
//
// Request attributes that are empty or unparsable match nothing, and so do
// malformed sources; no sources allow nothing. VPC and VPCServer are set
// only from a trusted gateway's headers (see docs/authentication.md), so a
// client cannot claim them.
func SourceAllowed(sources []APIAllowSource, info RequestInfo) bool {
	addr, addrErr := netip.ParseAddr(info.SourceIP)
	addr = addr.Unmap().WithZone("")
	for _, src := range sources {
		switch src.Type {
		case SourceIP:
			if addrErr == nil && ipSourceHolds(src.Source, addr) {
				return true
			}
		case SourceVPC:
			if info.VPC != "" && info.VPC == src.Source {
				return true
			}
		case SourceVPCServer:
			if info.VPCServer != "" && info.VPCServer == src.Source {
				return true
			}
		}
	}
	return false
}

// ipSourceHolds reports whether the address or CIDR source holds addr, an
// unmapped address without zone.
func ipSourceHolds(source string, addr netip.Addr) bool {
	if !strings.Contains(source, "/") {
		a, err := netip.ParseAddr(source)
		return err == nil && a.Unmap().WithZone("") == addr
	}
	p, err := netip.ParsePrefix(source)
	if err != nil {
		return false
	}
	if p.Addr().Is4In6() && p.Bits() >= 96 {
		// ::ffff:203.0.113.0/120 is 203.0.113.0/24.
		p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
	}
	return p.Masked().Contains(addr)
}
