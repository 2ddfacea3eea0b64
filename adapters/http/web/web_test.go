package web_test

import (
	"net/netip"
	"testing"

	"github.com/portcullis/portcullis/adapters/http/web"
	"github.com/portcullis/portcullis/domain/errs"
)

func TestClientIP(t *testing.T) {
	t.Parallel()
	proxies := web.TrustedProxies{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	ip := netip.MustParseAddr
	cases := []struct {
		name string
		peer string
		xff  []string
		want string
	}{
		{"untrusted peer's header ignored", "203.0.113.9", []string{"1.2.3.4"}, "203.0.113.9"},
		{"trusted peer, one hop", "10.0.0.2", []string{"198.51.100.7"}, "198.51.100.7"},
		{"rightmost untrusted wins over forged left", "10.0.0.2", []string{"6.6.6.6, 198.51.100.7"}, "198.51.100.7"},
		{"skip chained trusted proxies", "10.0.0.2", []string{"198.51.100.7, 10.1.1.1", "10.2.2.2"}, "198.51.100.7"},
		{"garbage stops at last good hop", "10.0.0.2", []string{"198.51.100.7, not-an-ip"}, "10.0.0.2"},
		{"all trusted: leftmost", "10.0.0.2", []string{"10.9.9.9"}, "10.9.9.9"},
		{"ipv4-mapped peer", "::ffff:10.0.0.2", []string{"2001:db8::1"}, "2001:db8::1"},
		{"trusted peer, no header", "::1", nil, "::1"},
	}
	for _, tc := range cases {
		if got := proxies.ClientIP(ip(tc.peer), tc.xff); got != ip(tc.want) {
			t.Errorf("%s: got %s, want %s", tc.name, got, tc.want)
		}
	}
}

func TestStatusPerKind(t *testing.T) {
	t.Parallel()
	want := map[errs.Kind]int{errs.Internal: 500, errs.Invalid: 400, errs.Unauthenticated: 401, errs.Forbidden: 403,
		errs.NotFound: 404, errs.Conflict: 409, errs.RateLimited: 429, errs.Unavailable: 503}
	for k, s := range want {
		if got := web.Status(k); got != s {
			t.Errorf("%v: %d, want %d", k, got, s)
		}
	}
	p := web.NewProblem(errs.ErrTenantNotFound, "rid")
	if p.Status != 404 || p.Code != "tenant_not_found" || p.Type != "urn:portcullis:problem:tenant_not_found" || p.Title != "Not Found" || p.RequestID != "rid" {
		t.Fatalf("%+v", p)
	}
}
