package link_test

import (
	"testing"
	"time"

	"github.com/portcullis/portcullis/domain/link"
	"github.com/portcullis/portcullis/domain/tenant"
)

func TestBuild(t *testing.T) {
	t.Parallel()
	cases := []struct{ base, path, token, want string }{
		{"https://shop.example", link.Canonical.ResetPassword, "abc_-1", "https://shop.example/auth/v1/password/reset?token=abc_-1"},
		{"https://shop.example/", link.Seed001.MagicLink, "t", "https://shop.example/auth/magic-link/process/?token=t"},
		{"https://shop.example/app", link.Seed001.VerifyEmail, "a&b=c", "https://shop.example/app/auth/verify-email/process/?token=a%26b%3Dc"},
	}
	for _, c := range cases {
		if got := link.Build(c.base, c.path, c.token); got != c.want {
			t.Errorf("Build(%q, %q, %q) = %q, want %q", c.base, c.path, c.token, got, c.want)
		}
	}
}

func TestPolicyDefaults(t *testing.T) {
	t.Parallel()
	if link.DefaultLinkTTL != 30*time.Minute || link.DefaultCooldown != time.Minute || link.DefaultDailyCap != 10 {
		t.Fatal("the documented defaults changed")
	}
	p := link.Policy{BaseURL: "https://shop.example", Cooldown: 5 * time.Second}.WithDefaults()
	want := link.Policy{BaseURL: "https://shop.example", LinkTTL: 30 * time.Minute, Cooldown: 5 * time.Second, DailyCap: 10,
		PerIP: tenant.Limit{Count: 20, Window: time.Hour}}
	if p != want {
		t.Fatalf("WithDefaults = %+v, want %+v", p, want)
	}
	// The flows' budget is the tenant's default of both settings that map
	// to it, so that a tenant that sets neither and a Policy without one
	// agree.
	d := tenant.DefaultThrottling()
	if link.DefaultPerIP() != d.PasswordResetPerIP || link.DefaultPerIP() != d.VerificationMailPerIP {
		t.Fatalf("DefaultPerIP %+v, want the tenant defaults password_reset_per_ip %+v and verification_mail_per_ip %+v",
			link.DefaultPerIP(), d.PasswordResetPerIP, d.VerificationMailPerIP)
	}
}
