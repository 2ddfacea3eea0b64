package recovery_test

import (
	"context"
	"errors"
	"net/netip"
	"testing"

	"github.com/portcullis/portcullis/application/captcha"
	"github.com/portcullis/portcullis/application/recovery"
	"github.com/portcullis/portcullis/application/session"
	"github.com/portcullis/portcullis/domain/errs"
	"github.com/portcullis/portcullis/domain/tenant"
)

// refusingCaptcha refuses every request, recording what it was asked.
type refusingCaptcha struct {
	route captcha.Route
	c     captcha.Client
}

func (r *refusingCaptcha) Check(_ context.Context, route captcha.Route, _ string, c captcha.Client) error {
	r.route, r.c = route, c
	return captcha.ErrCaptchaRequired
}

// TestForgotAsksTheCaptchaFirst: with the route forgot on, a request the
// CAPTCHA refuses touches nothing else (the flow's other ports are nil
// here: any use would panic), for the address's key and the client's
// address; a route on without a CAPTCHA service is a wiring error.
func TestForgotAsksTheCaptchaFirst(t *testing.T) {
	t.Parallel()
	tn := tenant.Default()
	tn.ID = "shop"
	tn.Captcha = tenant.DefaultCaptcha()
	tn.Captcha.Provider, tn.Captcha.SiteKey, tn.Captcha.SecretEnv = tenant.CaptchaTurnstile, "site", "SHOP_TURNSTILE_SECRET"
	tn.Captcha.Policy = map[tenant.CaptchaRoute]tenant.CaptchaMode{captcha.RouteForgot: tenant.CaptchaAlways}
	if err := tn.Validate(); err != nil {
		t.Fatal(err)
	}
	gate := &refusingCaptcha{}
	ip := netip.MustParseAddr("203.0.113.7")
	in := recovery.ForgotInput{Email: "Ann@Example.com", Client: session.Client{IP: ip}}
	err := recovery.New(tn, recovery.Policy{BaseURL: base}, recovery.Deps{Captcha: gate}).Forgot(ctx, in)
	if !errors.Is(err, captcha.ErrCaptchaRequired) || gate.route != captcha.RouteForgot || gate.c.IP != ip || gate.c.Account != "ann@example.com" {
		t.Fatalf("forgot: %v, asked %s for %+v", err, gate.route, gate.c)
	}
	if err := recovery.New(tn, recovery.Policy{BaseURL: base}, recovery.Deps{}).Forgot(ctx, in); errs.KindOf(err) != errs.Internal {
		t.Fatalf("no CAPTCHA service: %v, want internal", err)
	}
}
