package config_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/adapters/crypto/aesgcm"
	"github.com/portcullis/portcullis/config"
	"github.com/portcullis/portcullis/domain/tenant"
)

const captchaYAML = `id: shop
captcha:
  provider: recaptcha_v3
  site_key: 6LdAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA
  secret_env: SHOP_RECAPTCHA_SECRET
  hostnames: [shop.example, www.shop.example]
  min_score: 0.7
  action: sign_in
  timeout: 3s
  on_unavailable: open
  policy:
    login: after_failures
    register: always
    forgot: off
  after_failures:
    per_ip: 10
    per_account: 4
    window: 30m
`

func TestCaptchaSection(t *testing.T) {
	t.Parallel()
	got, err := config.ParseTenantYAML([]byte(captchaYAML), "file:shop.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := tenant.Captcha{Provider: tenant.CaptchaRecaptchaV3, SiteKey: "6LdAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		SecretEnv: "SHOP_RECAPTCHA_SECRET", Hostnames: []string{"shop.example", "www.shop.example"}, MinScore: 0.7, Action: "sign_in",
		Timeout: 3 * time.Second, OnUnavailable: tenant.CaptchaFailOpen,
		Policy:        map[tenant.CaptchaRoute]tenant.CaptchaMode{"login": "after_failures", "register": "always", "forgot": "off"},
		AfterFailures: tenant.CaptchaEscalation{PerIP: 10, PerAccount: 4, Window: 30 * time.Minute}}
	if !reflect.DeepEqual(got.Captcha, want) {
		t.Fatalf("got  %+v\nwant %+v", got.Captcha, want)
	}
	back, err := config.DecodeTenant(config.EncodeTenant(got), "store")
	if err != nil || !reflect.DeepEqual(back.Captcha, want) {
		t.Fatalf("round trip: %+v, %v", back.Captcha, err)
	}
}

func TestCaptchaProvidersAndDefaults(t *testing.T) {
	t.Parallel()
	plain, err := config.ParseTenantYAML([]byte("id: plain\n"), "file:plain.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(plain.Captcha, tenant.DefaultCaptcha()) || plain.Captcha.Configured() || plain.Captcha.Mode(tenant.CaptchaLogin) != tenant.CaptchaOff {
		t.Fatalf("a tenant without the section: %+v, want the defaults, off", plain.Captcha)
	}
	back, err := config.DecodeTenant(config.EncodeTenant(plain), "store")
	if err != nil || !reflect.DeepEqual(back.Captcha, plain.Captcha) {
		t.Fatalf("round trip of the defaults: %+v, %v", back.Captcha, err)
	}
	// A stored tenant written before the section existed, or built from
	// tenant.Default(), has the zero section: it reads back off.
	old := tenant.Default()
	old.ID = "old"
	if out, err := config.DecodeTenant(config.EncodeTenant(old), "store"); err != nil || out.Captcha.Configured() {
		t.Fatalf("a zero captcha section: %+v, %v", out.Captcha, err)
	}

	for _, p := range tenant.CaptchaProviders {
		t.Run(string(p), func(t *testing.T) {
			t.Parallel()
			doc := "id: shop\ncaptcha:\n  provider: " + string(p) + "\n  site_key: key-1\n  secret_sealed: AQID\n  policy: {login: always}\n"
			got, err := config.ParseTenantYAML([]byte(doc), "file:shop.yaml")
			if err != nil {
				t.Fatal(err)
			}
			want := tenant.DefaultCaptcha()
			want.Provider, want.SiteKey, want.SecretSealed = p, "key-1", "AQID"
			want.Policy = map[tenant.CaptchaRoute]tenant.CaptchaMode{"login": "always"}
			if !reflect.DeepEqual(got.Captcha, want) {
				t.Fatalf("got  %+v\nwant %+v (the unset fields at their defaults)", got.Captcha, want)
			}
		})
	}
}

func TestBadCaptchaNamesTenantFieldAndReason(t *testing.T) {
	t.Parallel()
	const (
		provider = "  provider: turnstile\n  site_key: key-1\n  secret_env: SHOP_TURNSTILE_SECRET\n"
		base     = provider + "  policy: {login: always}\n"
	)
	cases := []struct {
		name, section, want string
	}{
		{"unknown setting", base + "  min_scroe: 0.5\n", `tenant "shop": captcha.min_scroe: is not a known setting`},
		{"a secret in clear", base + "  secret: hunter2\n", `tenant "shop": captcha.secret: is not a known setting`},
		{"unknown provider", "  provider: friendlycaptcha\n", `tenant "shop": captcha.provider: unknown provider "friendlycaptcha" (known: recaptcha_v2, recaptcha_v3, hcaptcha, turnstile)`},
		{"no site key", "  provider: hcaptcha\n  secret_env: S\n  policy: {login: always}\n", `tenant "shop": captcha.site_key: is required`},
		{"no secret", "  provider: hcaptcha\n  site_key: k\n  policy: {login: always}\n", `tenant "shop": captcha.secret_env: is required (or secret_sealed)`},
		{"two secrets", base + "  secret_sealed: AQID\n", `captcha.secret_sealed: must not be set together with secret_env`},
		{"score out of range", base + "  min_score: 2\n", `tenant "shop": captcha.min_score: must be between 0 and 1, got 2`},
		{"score not a number", base + "  min_score: high\n", `tenant "shop": captcha.min_score: must be a number`},
		{"v3 action", "  provider: recaptcha_v3\n  site_key: k\n  secret_env: S\n  action: log in\n  policy: {login: always}\n", `captcha.action: "log in" must be 1-100 letters, digits, slashes or underscores`},
		{"timeout without unit", base + "  timeout: 5\n", `tenant "shop": captcha.timeout: must be a duration with a unit such as 15m or 1h30m, got 5`},
		{"timeout too long", base + "  timeout: 1m\n", `tenant "shop": captcha.timeout: must be between 1s and 30s, got 1m0s`},
		{"unknown fallback", base + "  on_unavailable: ajar\n", `captcha.on_unavailable: unknown fallback "ajar" (known: closed, open)`},
		{"hostname with scheme", base + "  hostnames: [https://shop.example]\n", `captcha.hostnames[0]: "https://shop.example" is not a lower-case host name`},
		{"hostnames not a list", base + "  hostnames: shop.example\n", `captcha.hostnames: must be a list`},
		{"unknown route", provider + "  policy: {signin: always}\n", `tenant "shop": captcha.policy.signin: unknown route (known: login, register, sms_send, email_send, forgot)`},
		{"unknown mode", provider + "  policy: {login: maybe}\n", `captcha.policy.login: unknown mode "maybe" (known: off, always, after_failures)`},
		{"every route off", "  provider: turnstile\n  site_key: key-1\n  secret_env: S\n", `captcha.policy: sets no route to always or after_failures`},
		{"route on without provider", "  policy: {login: always}\n", `captcha.policy.login: is always but captcha.provider is empty`},
		{"key without provider", "  site_key: key-1\n", `captcha.site_key: is set but captcha.provider is empty`},
		{"plain http proxy", base + "  verify_url: http://proxy.example/siteverify\n", `captcha.verify_url: "http://proxy.example/siteverify" must use https`},
		{"per ip negative", base + "  after_failures: {per_ip: -1}\n", `captcha.after_failures.per_ip: must be between 0 (not counted) and 1000, got -1`},
		{"window too short", base + "  after_failures: {window: 10ms}\n", `captcha.after_failures.window: must be between 1s and 24h0m0s, got 10ms`},
		{"nothing counted", provider + "  policy: {login: after_failures}\n  after_failures: {per_ip: 0, per_account: 0}\n", `captcha.after_failures: per_ip and per_account are both 0`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := config.ParseTenantYAML([]byte("id: shop\ncaptcha:\n"+tc.section), "file:shop.yaml")
			var ve *tenant.ValidationError
			if !errors.As(err, &ve) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v\ndoes not contain %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Fatalf("a rejected secret is echoed: %v", err)
			}
		})
	}
}

func TestCaptchaSecret(t *testing.T) {
	t.Parallel()
	const secret = "0x4AAAAAAA-s3cret"
	sealer, err := aesgcm.New(make([]byte, aesgcm.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := config.SealCaptchaSecret(sealer, "shop", secret)
	if err != nil {
		t.Fatal(err)
	}
	sealedForOther, _ := config.SealCaptchaSecret(sealer, "other", secret)
	smsSealed, _ := config.SealSMSAuthToken(sealer, "shop", secret)
	env := map[string]string{"SHOP_TURNSTILE_SECRET": secret, "EMPTY": ""}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	with := func(edit func(*tenant.Captcha)) tenant.Tenant {
		x, err := config.ParseTenantYAML([]byte("id: shop\ncaptcha:\n  provider: turnstile\n  site_key: k\n  secret_env: SHOP_TURNSTILE_SECRET\n  policy: {login: always}\n"), "file:shop.yaml")
		if err != nil {
			t.Fatal(err)
		}
		edit(&x.Captcha)
		return x
	}
	cases := []struct {
		name, want, wantErr string
		t                   tenant.Tenant
	}{
		{"from the environment", secret, "", with(func(*tenant.Captcha) {})},
		{"variable not set", "", `tenant "shop": captcha.secret_env: environment variable MISSING is not set`, with(func(c *tenant.Captcha) { c.SecretEnv = "MISSING" })},
		{"variable empty", "", `tenant "shop": captcha.secret_env: environment variable EMPTY is empty`, with(func(c *tenant.Captcha) { c.SecretEnv = "EMPTY" })},
		{"sealed", secret, "", with(func(c *tenant.Captcha) { c.SecretEnv, c.SecretSealed = "", sealed })},
		{"sealed for another tenant", "", `tenant "shop": captcha.secret_sealed: does not open`, with(func(c *tenant.Captcha) { c.SecretEnv, c.SecretSealed = "", sealedForOther })},
		{"sealed for another setting", "", `tenant "shop": captcha.secret_sealed: does not open`, with(func(c *tenant.Captcha) { c.SecretEnv, c.SecretSealed = "", smsSealed })},
		{"sealed not base64", "", `captcha.secret_sealed: is not base64`, with(func(c *tenant.Captcha) { c.SecretEnv, c.SecretSealed = "", "%%%" })},
		{"no provider", "", "", tenant.Default()},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := config.CaptchaSecret(tc.t, lookup, sealer)
			if got != tc.want {
				t.Fatalf("secret %q, want %q", got, tc.want)
			}
			var ve *tenant.ValidationError
			if (tc.wantErr == "") != (err == nil) || (err != nil && (!errors.As(err, &ve) || !strings.Contains(err.Error(), tc.wantErr))) {
				t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), secret) {
				t.Fatalf("the error carries the secret: %v", err)
			}
		})
	}
}
