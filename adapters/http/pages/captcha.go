package pages

import (
	"github.com/portcullis/portcullis/domain/errs"
	"github.com/portcullis/portcullis/domain/tenant"
)

// captchaView is the tenant's CAPTCHA widget on a form: the provider's
// script, the origins the page's policy lets it load from and frame, the
// element class the script fills and the site key. The widget adds its
// response to the form under the provider's field name, which the handlers
// read (web.CaptchaResponse).
type captchaView struct {
	Script, Origins, Class, SiteKey string
}

// captchaWidget returns the tenant's widget, nil without a provider.
func captchaWidget(t tenant.Tenant) *captchaView {
	c := t.Captcha
	switch c.Provider {
	case tenant.CaptchaRecaptchaV2, tenant.CaptchaRecaptchaV3:
		return &captchaView{Script: "https://www.google.com/recaptcha/api.js", Origins: "https://www.google.com https://www.gstatic.com",
			Class: "g-recaptcha", SiteKey: c.SiteKey}
	case tenant.CaptchaHCaptcha:
		return &captchaView{Script: "https://js.hcaptcha.com/1/api.js", Origins: "https://hcaptcha.com https://*.hcaptcha.com",
			Class: "h-captcha", SiteKey: c.SiteKey}
	case tenant.CaptchaTurnstile:
		return &captchaView{Script: "https://challenges.cloudflare.com/turnstile/v0/api.js", Origins: "https://challenges.cloudflare.com",
			Class: "cf-turnstile", SiteKey: c.SiteKey}
	}
	return nil
}

// withCaptcha shows the widget on a form of route when the tenant asks
// for it there always, or when the last attempt's answer (err) asked for
// one (an after_failures route once failures pile up).
func withCaptcha(v *view, t tenant.Tenant, route tenant.CaptchaRoute, err error) {
	asked := false
	if e := errs.As(err); err != nil && e != nil {
		switch e.Code {
		case "captcha_required", "captcha_invalid", "captcha_failed":
			asked = true
		}
	}
	if t.Captcha.Mode(route) == tenant.CaptchaAlways || asked {
		v.Captcha = captchaWidget(t)
	}
}
