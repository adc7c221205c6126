package web

import (
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"

	"github.com/castellan-iam/castellan"
)

// Gateway headers: where a request came from inside the cloud's network,
// believed only from a trusted proxy.
const (
	headerSourceVPC       = "X-Castellan-Source-Vpc"
	headerSourceVPCServer = "X-Castellan-Source-Vpc-Server"
)

// maxGatewayValue bounds a gateway header's value; longer ones are
// ignored (VPC IDs and server numbers are short).
const maxGatewayValue = 64

// requestSource returns where r comes from. The client is the peer,
// unless the peer is a trusted proxy: then X-Forwarded-For is walked
// from right to left, skipping trusted addresses, and the first untrusted
// one is the client (entries further left are whatever the client sent).
// If every entry is trusted, the leftmost is the client; an entry that is
// not an address leaves the client unknown (""), which no IP allow source
// matches. The gateway headers are read from a trusted peer only.
func (p *Plumbing) requestSource(r *http.Request) castellan.RequestInfo {
	peer := peerAddr(r)
	if !peer.IsValid() {
		return castellan.RequestInfo{SourceIP: r.RemoteAddr}
	}
	info := castellan.RequestInfo{SourceIP: peer.String()}
	if !p.trusted(peer) {
		return info
	}
	client := peer
	hops := forwardedHops(r.Header.Values("X-Forwarded-For"))
	for i := len(hops) - 1; i >= 0; i-- {
		a, ok := parseHop(hops[i])
		if !ok {
			client = netip.Addr{}
			break
		}
		client = a
		if !p.trusted(a) {
			break
		}
	}
	info.SourceIP = ""
	if client.IsValid() {
		info.SourceIP = client.String()
	}
	info.VPC = gatewayValue(r.Header.Get(headerSourceVPC))
	info.VPCServer = gatewayValue(r.Header.Get(headerSourceVPCServer))
	return info
}

// trusted reports whether a is inside one of the trusted proxy ranges.
func (p *Plumbing) trusted(a netip.Addr) bool {
	return slices.ContainsFunc(p.trustedProxies, func(prefix netip.Prefix) bool { return prefix.Contains(a) })
}

// HTTPS reports whether the client reached the server over https: the
// request came over TLS, or a trusted proxy says so in X-Forwarded-Proto
// (its first entry, the scheme the client used).
func (p *Plumbing) HTTPS(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	if peer := peerAddr(r); !peer.IsValid() || !p.trusted(peer) {
		return false
	}
	proto, _, _ := strings.Cut(r.Header.Get("X-Forwarded-Proto"), ",")
	return strings.EqualFold(strings.TrimSpace(proto), "https")
}

// peerAddr is the address of the connection's other end, unmapped and
// without zone; invalid if RemoteAddr is not host:port.
func peerAddr(r *http.Request) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap().WithZone("")
}

// forwardedHops splits X-Forwarded-For values (one header or several)
// into their entries, in order.
func forwardedHops(values []string) []string {
	var hops []string
	for _, v := range values {
		for hop := range strings.SplitSeq(v, ",") {
			hops = append(hops, strings.TrimSpace(hop))
		}
	}
	return hops
}

// parseHop reads one X-Forwarded-For entry: an address, or an address
// with a port as some proxies write it (203.0.113.7:4711, [2001:db8::1]:4711).
func parseHop(s string) (netip.Addr, bool) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		ap, perr := netip.ParseAddrPort(s)
		if perr != nil {
			return netip.Addr{}, false
		}
		a = ap.Addr()
	}
	return a.Unmap().WithZone(""), true
}

func gatewayValue(v string) string {
	v = strings.TrimSpace(v)
	if len(v) > maxGatewayValue {
		return ""
	}
	return v
}
