package config_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/config"
	"github.com/portcullis/portcullis/domain/tenant"
)

func TestEmailBlock(t *testing.T) {
	t.Parallel()
	def, err := config.ParseTenantYAML([]byte("id: mail\n"), "mail")
	if err != nil {
		t.Fatal(err)
	}
	want := tenant.EmailPolicy{VerificationTTL: 30 * time.Minute, ResetTTL: 30 * time.Minute, CodeTTL: 10 * time.Minute, CodeLength: 6,
		MaxAttempts: 5, MagicLinkTTL: time.Hour, ResendCooldown: time.Minute, DailyCap: 10}
	if def.Email != want {
		t.Fatalf("default email policy %+v, want %+v", def.Email, want)
	}
	got, err := config.ParseTenantYAML([]byte("id: mail\nemail:\n  verification_ttl: 24h\n  reset_ttl: 15m\n  code_ttl: 5m\n  code_length: 8\n"+
		"  max_attempts: 3\n  magic_link_ttl: 20m\n  resend_cooldown: 5s\n  daily_cap: 3\n  same_device: true\n  new_signin_notice: true\n"+
		"  verification_code: true\n"), "mail")
	if err != nil {
		t.Fatal(err)
	}
	want = tenant.EmailPolicy{VerificationTTL: 24 * time.Hour, ResetTTL: 15 * time.Minute, CodeTTL: 5 * time.Minute, CodeLength: 8,
		MaxAttempts: 3, MagicLinkTTL: 20 * time.Minute, ResendCooldown: 5 * time.Second, DailyCap: 3, SameDevice: true, NewSigninNotice: true,
		VerificationCode: true}
	if got.Email != want {
		t.Fatalf("email policy %+v, want %+v", got.Email, want)
	}
	part, err := config.ParseTenantYAML([]byte("id: mail\nemail:\n  same_device: true\n"), "mail")
	if err != nil || part.Email.ResetTTL != 30*time.Minute || !part.Email.SameDevice || part.Email.VerificationCode {
		t.Fatalf("a partial block keeps the other defaults: %+v, %v", part.Email, err)
	}
	part, err = config.ParseTenantYAML([]byte("id: mail\nemail:\n  verification_code: true\n"), "mail")
	if err != nil || part.Email.VerificationTTL != 30*time.Minute || part.Email.CodeLength != 6 || !part.Email.VerificationCode {
		t.Fatalf("verification_code alone keeps the other defaults: %+v, %v", part.Email, err)
	}
	for _, in := range []tenant.Tenant{def, got, part} {
		out, err := config.DecodeTenant(config.EncodeTenant(in), "mail")
		if err != nil || out.Email != in.Email {
			t.Fatalf("round trip: %+v, %v; want %+v", out.Email, err, in.Email)
		}
	}
}

func TestBadEmailBlockNamesFieldAndReason(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"verification_ttl: 10s": "email.verification_ttl: must be between 1m0s and 168h0m0s, got 10s",
		"reset_ttl: 200h":       "email.reset_ttl: must be between 1m0s and 168h0m0s, got 200h0m0s",
		"code_ttl: 2h":          "email.code_ttl: must be at most 1h (a typed code is short-lived), got 2h0m0s",
		"magic_link_ttl: 0s":    "email.magic_link_ttl: must be between 1m0s and 168h0m0s, got 0s",
		"code_length: 3":        "email.code_length: must be between 4 and 10, got 3",
		"max_attempts: 0":       "email.max_attempts: must be between 1 and 20, got 0",
		"resend_cooldown: 2h":   "email.resend_cooldown: must be between 1s and 1h0m0s, got 2h0m0s",
		"resend_cooldown: 0s":   "email.resend_cooldown: must be between 1s and 1h0m0s, got 0s",
		"daily_cap: 0":          "email.daily_cap: must be between 1 and 1000, got 0",
	}
	for line, want := range cases {
		_, err := config.ParseTenantYAML([]byte(fmt.Sprintf("id: bad\nemail:\n  %s\n", line)), "bad")
		var ve *tenant.ValidationError
		if !errors.As(err, &ve) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want a problem %q", line, err, want)
		}
	}
}
