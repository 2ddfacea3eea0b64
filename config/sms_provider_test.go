package config_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/adapters/crypto/aesgcm"
	"github.com/portcullis/portcullis/config"
	"github.com/portcullis/portcullis/domain/tenant"
)

const twilioYAML = `id: shop
login_methods: [password, sms_otp]
sms:
  provider:
    kind: twilio
    base_url: https://api.twilio.com
    account_sid: AC0123456789abcdef0123456789abcdef
    auth_token_env: SHOP_TWILIO_AUTH_TOKEN
    from: "+15005550006"
`

func TestSMSProviderSection(t *testing.T) {
	t.Parallel()
	got, err := config.ParseTenantYAML([]byte(twilioYAML), "file:shop.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := tenant.SMSProvider{Kind: tenant.SMSProviderTwilio, BaseURL: "https://api.twilio.com", AccountSID: "AC0123456789abcdef0123456789abcdef",
		AuthTokenEnv: "SHOP_TWILIO_AUTH_TOKEN", From: "+15005550006"}
	if got.SMSProvider != want {
		t.Fatalf("got %+v\nwant %+v", got.SMSProvider, want)
	}
	back, err := config.DecodeTenant(config.EncodeTenant(got), "src")
	if err != nil || back.SMSProvider != want {
		t.Fatalf("round trip: %+v, %v", back.SMSProvider, err)
	}
	none, err := config.ParseTenantYAML([]byte("id: plain\n"), "file:plain.yaml")
	if err != nil || none.SMSProvider.Configured() {
		t.Fatalf("default must be no provider: %+v, %v", none.SMSProvider, err)
	}
}

func TestBadSMSProviderNamesTenantFieldAndReason(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, section, want string
	}{
		{"unknown setting", "    kind: twilio\n    acount_sid: AC1\n", `tenant "shop": sms.provider.acount_sid: is not a known setting`},
		{"no account", "    kind: twilio\n    auth_token_env: T\n    from: \"+15005550006\"\n", `tenant "shop": sms.provider.account_sid: is required`},
		{"no token", "    kind: twilio\n    account_sid: AC1\n    from: \"+15005550006\"\n", `sms.provider.auth_token_env: is required (or auth_token_sealed)`},
		{"no sender", "    kind: twilio\n    account_sid: AC1\n    auth_token_env: T\n", `sms.provider.from: is required (or messaging_service_sid)`},
		{"unknown kind", "    kind: carrier-pigeon\n", `sms.provider.kind: unknown provider "carrier-pigeon"`},
		{"kind missing", "    account_sid: AC1\n", `sms.provider.account_sid: is set but sms.provider.kind is empty`},
		{"unquoted number", "    kind: twilio\n    account_sid: AC1\n    auth_token_env: T\n    from: +15005550006\n", `sms.provider.from: must be a string, got a whole number`},
		{"a token in clear", "    kind: twilio\n    auth_token: hunter2\n", `sms.provider.auth_token: is not a known setting`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := config.ParseTenantYAML([]byte("id: shop\nsms:\n  provider:\n"+tc.section), "file:shop.yaml")
			var ve *tenant.ValidationError
			if !errors.As(err, &ve) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v\ndoes not contain %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Fatalf("a rejected token is echoed: %v", err)
			}
		})
	}
}

func TestSMSOTPNeedsAProviderOutsideDevMode(t *testing.T) {
	t.Parallel()
	sms, err := config.ParseTenantYAML([]byte("id: shop\nlogin_methods: [password, sms_otp]\n"), "file:shop.yaml")
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := config.ParseTenantYAML([]byte("id: plain\n"), "file:plain.yaml")
	configured, _ := config.ParseTenantYAML([]byte(twilioYAML), "file:shop.yaml")
	cases := []struct {
		name    string
		t       tenant.Tenant
		dev     bool
		wantErr string
	}{
		{"sms_otp without provider", sms, false, `tenant "shop": sms.provider.kind: is required outside dev mode: login_methods enables sms_otp`},
		{"sms_otp without provider in dev mode", sms, true, ""},
		{"no sms_otp", plain, false, ""},
		{"sms_otp with provider", configured, false, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := config.CheckSMSProvider(tc.t, tc.dev)
			var ve *tenant.ValidationError
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("unexpected %v", err)
			case tc.wantErr != "" && (!errors.As(err, &ve) || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("error %v\ndoes not contain %q", err, tc.wantErr)
			}
		})
	}
}

func TestSMSAuthToken(t *testing.T) {
	t.Parallel()
	const token = "tok-5ecret"
	sealer, err := aesgcm.New(make([]byte, aesgcm.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := config.SealSMSAuthToken(sealer, "shop", token)
	if err != nil {
		t.Fatal(err)
	}
	sealedForOther, _ := config.SealSMSAuthToken(sealer, "other", token)
	env := map[string]string{"SHOP_TWILIO_AUTH_TOKEN": token, "EMPTY": ""}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	withProvider := func(edit func(*tenant.SMSProvider)) tenant.Tenant {
		x, err := config.ParseTenantYAML([]byte(twilioYAML), "file:shop.yaml")
		if err != nil {
			t.Fatal(err)
		}
		edit(&x.SMSProvider)
		return x
	}
	cases := []struct {
		name, want, wantErr string
		t                   tenant.Tenant
	}{
		{"from the environment", token, "", withProvider(func(*tenant.SMSProvider) {})},
		{"variable not set", "", `tenant "shop": sms.provider.auth_token_env: environment variable MISSING is not set`, withProvider(func(p *tenant.SMSProvider) { p.AuthTokenEnv = "MISSING" })},
		{"variable empty", "", `sms.provider.auth_token_env: environment variable EMPTY is empty`, withProvider(func(p *tenant.SMSProvider) { p.AuthTokenEnv = "EMPTY" })},
		{"sealed", token, "", withProvider(func(p *tenant.SMSProvider) { p.AuthTokenEnv, p.AuthTokenSealed = "", sealed })},
		{"sealed for another tenant", "", `tenant "shop": sms.provider.auth_token_sealed: does not open`, withProvider(func(p *tenant.SMSProvider) { p.AuthTokenEnv, p.AuthTokenSealed = "", sealedForOther })},
		{"sealed not base64", "", `sms.provider.auth_token_sealed: is not base64`, withProvider(func(p *tenant.SMSProvider) { p.AuthTokenEnv, p.AuthTokenSealed = "", "%%%" })},
		{"no provider", "", "", tenant.Default()},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := config.SMSAuthToken(tc.t, lookup, sealer)
			if got != tc.want {
				t.Fatalf("token %q, want %q", got, tc.want)
			}
			if (tc.wantErr == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("error %v, want %q", err, tc.wantErr)
			}
			if err != nil && strings.Contains(fmt.Sprint(err), token) {
				t.Fatalf("error carries the token: %v", err)
			}
		})
	}
}
