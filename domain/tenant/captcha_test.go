package tenant_test

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/domain/tenant"
)

func turnstile() tenant.Captcha {
	c := tenant.DefaultCaptcha()
	c.Provider = tenant.CaptchaTurnstile
	c.SiteKey = "0x4AAAAAAAAAAAAAAAAAAAAA"
	c.SecretEnv = "SHOP_TURNSTILE_SECRET"
	c.Policy = map[tenant.CaptchaRoute]tenant.CaptchaMode{tenant.CaptchaLogin: tenant.CaptchaAfterFailures}
	return c
}

func TestCaptchaDefaultsAreOff(t *testing.T) {
	t.Parallel()
	for name, c := range map[string]tenant.Captcha{"zero": {}, "defaults": tenant.DefaultCaptcha()} {
		x := valid()
		x.Captcha = c
		if err := x.Validate(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, r := range tenant.CaptchaRoutes {
			if m := c.Mode(r); m != tenant.CaptchaOff {
				t.Errorf("%s: route %s is %s, want off", name, r, m)
			}
		}
		if c.Configured() || c.Escalates() {
			t.Errorf("%s: configured %v, escalates %v", name, c.Configured(), c.Escalates())
		}
	}
	d := tenant.DefaultCaptcha()
	if d.MinScore != 0.5 || d.Action != "login" || d.Timeout != 5*time.Second || d.OnUnavailable != tenant.CaptchaFailClosed ||
		d.AfterFailures != (tenant.CaptchaEscalation{PerIP: 5, PerAccount: 3, Window: 15 * time.Minute}) {
		t.Fatalf("defaults %+v", d)
	}
}

func TestCaptchaAccepted(t *testing.T) {
	t.Parallel()
	cases := map[string]func(*tenant.Captcha){
		"turnstile":    func(*tenant.Captcha) {},
		"recaptcha v2": func(c *tenant.Captcha) { c.Provider = tenant.CaptchaRecaptchaV2 },
		"recaptcha v3": func(c *tenant.Captcha) {
			c.Provider, c.MinScore, c.Action = tenant.CaptchaRecaptchaV3, 0.7, "sign_in/web"
		},
		"hcaptcha":      func(c *tenant.Captcha) { c.Provider = tenant.CaptchaHCaptcha },
		"sealed secret": func(c *tenant.Captcha) { c.SecretEnv, c.SecretSealed = "", "AQID" },
		"hostnames":     func(c *tenant.Captcha) { c.Hostnames = []string{"shop.example", "www.shop.example"} },
		"fail open":     func(c *tenant.Captcha) { c.OnUnavailable = tenant.CaptchaFailOpen },
		"proxy":         func(c *tenant.Captcha) { c.VerifyURL = "https://proxy.example/siteverify" },
		"loopback test": func(c *tenant.Captcha) { c.VerifyURL = "http://127.0.0.1:8089/siteverify" },
		"always, others off": func(c *tenant.Captcha) {
			c.Policy = map[tenant.CaptchaRoute]tenant.CaptchaMode{"register": "always", "login": "off"}
		},
		"per account only": func(c *tenant.Captcha) { c.AfterFailures.PerIP = 0 },
		"scores 0 and 1":   func(c *tenant.Captcha) { c.MinScore = 1 },
		"off route without a provider": func(c *tenant.Captcha) {
			*c = tenant.DefaultCaptcha()
			c.Policy = map[tenant.CaptchaRoute]tenant.CaptchaMode{"login": "off"}
		},
	}
	for name, edit := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			x := valid()
			x.Captcha = turnstile()
			edit(&x.Captcha)
			if err := x.Validate(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestCaptchaNamesFieldAndReason(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		edit func(*tenant.Captcha)
		want string
	}{
		{"unknown provider", func(c *tenant.Captcha) { c.Provider = "recaptcha" },
			`captcha.provider: unknown provider "recaptcha" (known: recaptcha_v2, recaptcha_v3, hcaptcha, turnstile)`},
		{"settings without provider", func(c *tenant.Captcha) { c.Provider = "" }, "captcha.site_key: is set but captcha.provider is empty"},
		{"route on without provider", func(c *tenant.Captcha) { c.Provider, c.SiteKey, c.SecretEnv = "", "", "" },
			"captcha.policy.login: is after_failures but captcha.provider is empty"},
		{"no site key", func(c *tenant.Captcha) { c.SiteKey = "" }, "captcha.site_key: is required"},
		{"site key with a space", func(c *tenant.Captcha) { c.SiteKey = "a b" }, "captcha.site_key: must be at most 200 printable characters"},
		{"no secret", func(c *tenant.Captcha) { c.SecretEnv = "" }, "captcha.secret_env: is required (or secret_sealed)"},
		{"two secrets", func(c *tenant.Captcha) { c.SecretSealed = "AQID" }, "captcha.secret_sealed: must not be set together with secret_env"},
		{"bad env name", func(c *tenant.Captcha) { c.SecretEnv = "MY-SECRET" }, `captcha.secret_env: "MY-SECRET" is not an environment variable name`},
		{"bad hostname", func(c *tenant.Captcha) { c.Hostnames = []string{"Shop.Example"} }, `captcha.hostnames[0]: "Shop.Example" is not a lower-case host name`},
		{"hostname with port", func(c *tenant.Captcha) { c.Hostnames = []string{"shop.example:443"} }, `captcha.hostnames[0]: "shop.example:443" is not`},
		{"hostname twice", func(c *tenant.Captcha) { c.Hostnames = []string{"a.example", "a.example"} }, `captcha.hostnames[1]: "a.example" is listed twice`},
		{"score above 1", func(c *tenant.Captcha) { c.MinScore = 1.5 }, "captcha.min_score: must be between 0 and 1, got 1.5"},
		{"negative score", func(c *tenant.Captcha) { c.MinScore = -0.1 }, "captcha.min_score: must be between 0 and 1, got -0.1"},
		{"NaN score", func(c *tenant.Captcha) { c.MinScore = math.NaN() }, "captcha.min_score: must be between 0 and 1"},
		{"v3 without action", func(c *tenant.Captcha) { c.Provider, c.Action = tenant.CaptchaRecaptchaV3, "" }, `captcha.action: "" must be 1-100 letters`},
		{"v3 action with a dash", func(c *tenant.Captcha) { c.Provider, c.Action = tenant.CaptchaRecaptchaV3, "log-in" }, `captcha.action: "log-in" must be`},
		{"no timeout", func(c *tenant.Captcha) { c.Timeout = 0 }, "captcha.timeout: must be between 1s and 30s, got 0s"},
		{"timeout too long", func(c *tenant.Captcha) { c.Timeout = time.Minute }, "captcha.timeout: must be between 1s and 30s, got 1m0s"},
		{"unknown fallback", func(c *tenant.Captcha) { c.OnUnavailable = "ajar" }, `captcha.on_unavailable: unknown fallback "ajar" (known: closed, open)`},
		{"plain http proxy", func(c *tenant.Captcha) { c.VerifyURL = "http://proxy.example/siteverify" }, `captcha.verify_url: "http://proxy.example/siteverify" must use https`},
		{"url with query", func(c *tenant.Captcha) { c.VerifyURL = "https://proxy.example/v?secret=x" }, "must not hold credentials, a query or a fragment"},
		{"unknown route", func(c *tenant.Captcha) { c.Policy["logon"] = tenant.CaptchaAlways },
			"captcha.policy.logon: unknown route (known: login, register, sms_send, email_send, forgot)"},
		{"unknown mode", func(c *tenant.Captcha) { c.Policy["login"] = "sometimes" },
			`captcha.policy.login: unknown mode "sometimes" (known: off, always, after_failures)`},
		{"every route off", func(c *tenant.Captcha) { c.Policy = nil }, "captcha.policy: sets no route to always or after_failures"},
		{"negative per ip", func(c *tenant.Captcha) { c.AfterFailures.PerIP = -1 }, "captcha.after_failures.per_ip: must be between 0 (not counted) and 1000, got -1"},
		{"per account too high", func(c *tenant.Captcha) { c.AfterFailures.PerAccount = 1001 }, "captcha.after_failures.per_account: must be between 0 (not counted) and 1000"},
		{"short window", func(c *tenant.Captcha) { c.AfterFailures.Window = time.Millisecond }, "captcha.after_failures.window: must be between 1s and 24h0m0s, got 1ms"},
		{"nothing counted", func(c *tenant.Captcha) { c.AfterFailures.PerIP, c.AfterFailures.PerAccount = 0, 0 },
			"captcha.after_failures: per_ip and per_account are both 0"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			x := valid()
			x.Captcha = turnstile()
			tc.edit(&x.Captcha)
			err := x.Validate()
			var ve *tenant.ValidationError
			if !errors.As(err, &ve) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v\ndoes not contain %q", err, tc.want)
			}
		})
	}
}

func TestCaptchaTokenLifetimes(t *testing.T) {
	t.Parallel()
	want := map[tenant.CaptchaProvider]time.Duration{tenant.CaptchaRecaptchaV2: 2 * time.Minute, tenant.CaptchaRecaptchaV3: 2 * time.Minute,
		tenant.CaptchaHCaptcha: 2 * time.Minute, tenant.CaptchaTurnstile: 5 * time.Minute}
	for p, d := range want {
		if got := p.TokenLifetime(); got != d {
			t.Errorf("%s: %s, want %s", p, got, d)
		}
	}
}

// TestACaptchaOfSeed003NeedsNoRoute: a tenant serving seed 003, whose
// /api/v3/login asks for a CAPTCHA whatever the policy, may have a
// provider with every route off.
func TestACaptchaOfSeed003NeedsNoRoute(t *testing.T) {
	t.Parallel()
	x := valid()
	x.Captcha = turnstile()
	x.Captcha.Policy = nil
	x.Profiles.Seed003, x.Storefront.Enabled = true, true
	if err := x.Validate(); err != nil {
		t.Fatal(err)
	}
}
