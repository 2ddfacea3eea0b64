package smslogin_test

import (
	"errors"
	"net/netip"
	"testing"

	"github.com/portcullis/portcullis/application/captcha"
	"github.com/portcullis/portcullis/application/otp"
	"github.com/portcullis/portcullis/application/session"
	"github.com/portcullis/portcullis/application/smslogin"
	"github.com/portcullis/portcullis/domain/identity"
	"github.com/portcullis/portcullis/domain/tenant"
)

// TestTheCaptchaComesBeforeAnySMS: with sms_send always, a request for a
// code without a CAPTCHA sends nothing and spends no budget; with login
// after_failures, wrong codes count, and once the address had its
// failures a code is not even checked without a CAPTCHA.
func TestTheCaptchaComesBeforeAnySMS(t *testing.T) {
	t.Parallel()
	client := session.Client{IP: netip.MustParseAddr("203.0.113.9")}
	f := newFixtureTenant(t, generous, func(tn *tenant.Tenant) {
		tn.Captcha = tenant.DefaultCaptcha()
		tn.Captcha.Provider, tn.Captcha.SiteKey, tn.Captcha.SecretEnv = tenant.CaptchaTurnstile, "site", "SHOP_TURNSTILE_SECRET"
		tn.Captcha.Policy = map[tenant.CaptchaRoute]tenant.CaptchaMode{captcha.RouteSMSSend: tenant.CaptchaAlways, captcha.RouteLogin: tenant.CaptchaAfterFailures}
		tn.Captcha.AfterFailures.PerIP = 2
	})
	f.user(t, "ann", "+905355555555")
	for range 3 {
		if err := f.svc.Send(ctx, smslogin.SendInput{Phone: "+905355555555", Wait: true, Client: client}); !errors.Is(err, captcha.ErrCaptchaRequired) {
			t.Fatalf("send without a CAPTCHA: %v, want captcha_required", err)
		}
	}
	if msgs := f.box.messages(); len(msgs) != 0 {
		t.Fatalf("sent %d SMS for requests refused for their CAPTCHA", len(msgs))
	}
	// A provider that cannot be asked (the fixture's tenant has none
	// wired) refuses the request: never a free pass.
	if err := f.svc.Send(ctx, smslogin.SendInput{Phone: "+905355555555", Wait: true, Captcha: "a token", Client: client}); !errors.Is(err, captcha.ErrCaptchaUnavailable) {
		t.Fatalf("send with a token and no provider: %v, want captcha_unavailable", err)
	}
	for i := range 2 {
		_, err := f.svc.Verify(ctx, smslogin.VerifyInput{Phone: "+905355555555", Code: "000000", Kind: identity.SessionApp, Client: client})
		if !errors.Is(err, otp.ErrInvalid) && !errors.Is(err, otp.ErrExpired) {
			t.Fatalf("wrong code %d: %v, want it refused without a CAPTCHA", i+1, err)
		}
	}
	if _, err := f.svc.Verify(ctx, smslogin.VerifyInput{Phone: "+905355555555", Code: "000000", Kind: identity.SessionApp, Client: client}); !errors.Is(err, captcha.ErrCaptchaRequired) {
		t.Fatalf("after 2 wrong codes from the address: %v, want captcha_required", err)
	}
}
