package emaillogin_test

import (
	"errors"
	"testing"

	"github.com/portcullis/portcullis/application/captcha"
	"github.com/portcullis/portcullis/application/emaillogin"
	"github.com/portcullis/portcullis/domain/identity"
	"github.com/portcullis/portcullis/domain/tenant"
)

// TestTheCaptchaComesBeforeAnyCodeOrLink: with email_send and login
// always, a request without a CAPTCHA is refused before anything is
// looked up, counted, issued or mailed, for a code, a link, a code
// submitted and a link used alike.
func TestTheCaptchaComesBeforeAnyCodeOrLink(t *testing.T) {
	t.Parallel()
	f := newFixture(t, options{tenant: func(t *tenant.Tenant) {
		t.Captcha = tenant.DefaultCaptcha()
		t.Captcha.Provider, t.Captcha.SiteKey, t.Captcha.SecretEnv = tenant.CaptchaTurnstile, "site", "SHOP_TURNSTILE_SECRET"
		t.Captcha.Policy = map[tenant.CaptchaRoute]tenant.CaptchaMode{captcha.RouteEmailSend: tenant.CaptchaAlways, captcha.RouteLogin: tenant.CaptchaAlways}
	}})
	f.user(t, "ann")
	f.calls.take()
	for name, err := range map[string]error{
		"code": f.svc.SendCode(ctx, emaillogin.SendInput{Email: "ann@example.com"}),
		"link": f.svc.SendLink(ctx, emaillogin.LinkInput{Email: "ann@example.com"}),
		"verify": func() error {
			_, err := f.svc.VerifyCode(ctx, emaillogin.VerifyInput{Email: "ann@example.com", Code: "123456", Kind: identity.SessionAPI})
			return err
		}(),
		"consume": func() error {
			_, err := f.svc.ConsumeLink(ctx, emaillogin.ConsumeInput{Token: "a-link-token", Kind: identity.SessionAPI})
			return err
		}(),
	} {
		if !errors.Is(err, captcha.ErrCaptchaRequired) {
			t.Errorf("%s without a CAPTCHA: %v, want captcha_required", name, err)
		}
	}
	if got := f.calls.take(); len(got) != 0 {
		t.Fatalf("requests refused for their CAPTCHA did %v", got)
	}
	if mails := f.delivered(t); len(mails) != 0 {
		t.Fatalf("mailed %d messages for requests refused for their CAPTCHA", len(mails))
	}
}
