package web

import (
	"net/netip"
	"slices"
	"strings"
)

// TrustedProxies decides whose X-Forwarded-* headers are believed.
type TrustedProxies []netip.Prefix

// Trusts reports whether ip belongs to a trusted proxy.
func (t TrustedProxies) Trusts(ip netip.Addr) bool {
	ip = ip.Unmap()
	return slices.ContainsFunc(t, func(p netip.Prefix) bool { return p.Contains(ip) })
}

// ClientIP returns the client's address for a connection from peer carrying
// the given X-Forwarded-For header values. Only a trusted peer's header is
// read, from the right: the first address that is not itself a trusted
// proxy is the client. A malformed entry stops the walk at the last good
// address, so a client cannot forge its way past a trusted hop.
func (t TrustedProxies) ClientIP(peer netip.Addr, forwardedFor []string) netip.Addr {
	peer = peer.Unmap()
	if !t.Trusts(peer) || len(forwardedFor) == 0 {
		return peer
	}
	var hops []string
	for _, h := range forwardedFor {
		hops = append(hops, strings.Split(h, ",")...)
	}
	client := peer
	for i := len(hops) - 1; i >= 0; i-- {
		ip, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			return client
		}
		client = ip.Unmap()
		if !t.Trusts(client) {
			return client
		}
	}
	return client
}
