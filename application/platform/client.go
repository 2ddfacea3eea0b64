package platform

import (
	"context"
	"net/netip"
)

type (
	clientIPKey  struct{}
	userAgentKey struct{}
)

// WithClientIP returns ctx carrying the address of the client the request
// comes from, as the trusted-proxy rules determined it, so that what the
// request records (an audit event) can say where it came from without
// every use case taking it as a parameter.
func WithClientIP(ctx context.Context, ip netip.Addr) context.Context {
	return context.WithValue(ctx, clientIPKey{}, ip)
}

// ClientIP returns the client address ctx carries, or the zero Addr.
func ClientIP(ctx context.Context) netip.Addr {
	ip, _ := ctx.Value(clientIPKey{}).(netip.Addr)
	return ip
}

// WithUserAgent returns ctx carrying the request's User-Agent header. The
// caller passes a string of its own (not one a framework reuses).
func WithUserAgent(ctx context.Context, ua string) context.Context {
	return context.WithValue(ctx, userAgentKey{}, ua)
}

// UserAgent returns the User-Agent ctx carries, or "".
func UserAgent(ctx context.Context) string {
	ua, _ := ctx.Value(userAgentKey{}).(string)
	return ua
}
