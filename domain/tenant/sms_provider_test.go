package tenant_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/domain/tenant"
)

func twilio() tenant.SMSProvider {
	return tenant.SMSProvider{Kind: tenant.SMSProviderTwilio, AccountSID: "AC0123456789abcdef0123456789abcdef", AuthTokenEnv: "SHOP_TWILIO_TOKEN", From: "+15005550006"}
}

func TestSMSProviderAccepted(t *testing.T) {
	t.Parallel()
	cases := map[string]func(*tenant.SMSProvider){
		"none":              func(p *tenant.SMSProvider) { *p = tenant.SMSProvider{} },
		"twilio with from":  func(*tenant.SMSProvider) {},
		"messaging service": func(p *tenant.SMSProvider) { p.From, p.MessagingServiceSID = "", "MG0123456789abcdef0123456789abcdef" },
		"sealed token":      func(p *tenant.SMSProvider) { p.AuthTokenEnv, p.AuthTokenSealed = "", "AQID" },
		"https base url":    func(p *tenant.SMSProvider) { p.BaseURL = "https://sms.example/twilio" },
		"loopback http":     func(p *tenant.SMSProvider) { p.BaseURL = "http://127.0.0.1:8089" },
		"localhost http":    func(p *tenant.SMSProvider) { p.BaseURL = "http://localhost:8089" },
		"sender id":         func(p *tenant.SMSProvider) { p.From = "Shop" },
		"short code":        func(p *tenant.SMSProvider) { p.From = "12345" },
	}
	for name, edit := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			x := valid()
			x.SMSProvider = twilio()
			edit(&x.SMSProvider)
			if err := x.Validate(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestSMSProviderNamesFieldAndReason(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		edit func(*tenant.SMSProvider)
		want string
	}{
		{"unknown kind", func(p *tenant.SMSProvider) { p.Kind = "nexmo" }, `sms.provider.kind: unknown provider "nexmo" (known: twilio)`},
		{"settings without kind", func(p *tenant.SMSProvider) { p.Kind = "" }, "sms.provider.account_sid: is set but sms.provider.kind is empty"},
		{"no account", func(p *tenant.SMSProvider) { p.AccountSID = "" }, "sms.provider.account_sid: is required"},
		{"account with slash", func(p *tenant.SMSProvider) { p.AccountSID = "AC1/x" }, "sms.provider.account_sid: must be 1-64 letters"},
		{"no token", func(p *tenant.SMSProvider) { p.AuthTokenEnv = "" }, "sms.provider.auth_token_env: is required (or auth_token_sealed)"},
		{"two tokens", func(p *tenant.SMSProvider) { p.AuthTokenSealed = "AQID" }, "sms.provider.auth_token_sealed: must not be set together with auth_token_env"},
		{"bad env name", func(p *tenant.SMSProvider) { p.AuthTokenEnv = "MY-TOKEN" }, `sms.provider.auth_token_env: "MY-TOKEN" is not an environment variable name`},
		{"no sender", func(p *tenant.SMSProvider) { p.From = "" }, "sms.provider.from: is required (or messaging_service_sid)"},
		{"two senders", func(p *tenant.SMSProvider) { p.MessagingServiceSID = "MG1" }, "sms.provider.messaging_service_sid: must not be set together with from"},
		{"bad from", func(p *tenant.SMSProvider) { p.From = "555-0100" }, `sms.provider.from: "555-0100" must be a number in E.164 form`},
		{"plain http", func(p *tenant.SMSProvider) { p.BaseURL = "http://sms.example" }, `sms.provider.base_url: "http://sms.example" must use https`},
		{"credentials in url", func(p *tenant.SMSProvider) { p.BaseURL = "https://u:p@sms.example" }, "sms.provider.base_url: \"https://u:p@sms.example\" must not hold credentials"},
		{"relative url", func(p *tenant.SMSProvider) { p.BaseURL = "api.twilio.com" }, "sms.provider.base_url: \"api.twilio.com\" must be an absolute https URL"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			x := valid()
			x.SMSProvider = twilio()
			tc.edit(&x.SMSProvider)
			err := x.Validate()
			var ve *tenant.ValidationError
			if !errors.As(err, &ve) || ve.Tenant != "shop" {
				t.Fatalf("want a ValidationError naming tenant shop, got %v", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q\ndoes not contain %q", err, tc.want)
			}
		})
	}
}
