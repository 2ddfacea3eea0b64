package otp_test

import (
	"crypto/rand"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/domain/otp"
)

func TestSecretsHaveTheirKindsForm(t *testing.T) {
	t.Parallel()
	code := otp.LoginSMS(5*time.Minute, otp.DefaultLength, otp.DefaultLimits())
	link := otp.Kind{Purpose: otp.PurposeMagicLink, Channel: otp.ChannelEmail, Form: otp.FormLink, TTL: time.Hour,
		Limits: otp.Limits{MaxAttempts: 1, Cooldown: time.Minute, DailyCap: 5}}
	seen := map[string]bool{}
	for range 200 {
		c, err := code.NewSecret(rand.Reader)
		if err != nil || !code.WellFormed(c) || len(c) != 6 {
			t.Fatalf("code %q, %v", c, err)
		}
		seen[c] = true
		l, err := link.NewSecret(rand.Reader)
		if err != nil || !link.WellFormed(l) || len(l) < 43 {
			t.Fatalf("link token %q, %v", l, err)
		}
	}
	if len(seen) < 190 {
		t.Fatalf("200 codes gave only %d distinct values", len(seen))
	}
	for _, bad := range []string{"", "12345", "1234567", "12a456", "１２３４５６"} {
		if code.WellFormed(bad) {
			t.Errorf("code %q accepted as well formed", bad)
		}
	}
	if link.WellFormed("short") || link.WellFormed("123456") {
		t.Error("a short token is well formed")
	}
}

func TestKindValidate(t *testing.T) {
	t.Parallel()
	if err := otp.LoginSMS(5*time.Minute, otp.DefaultLength, otp.DefaultLimits()).Validate(); err != nil {
		t.Fatal(err)
	}
	bad := otp.LoginSMS(0, 3, otp.Limits{MaxAttempts: 0, Cooldown: time.Minute, DailyCap: 1})
	err := bad.Validate()
	if err == nil {
		t.Fatal("an invalid kind validated")
	}
	for _, want := range []string{"4 to 10 digits, got 3", "ttl must be at least 1s", "max attempts"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q lacks %q", err, want)
		}
	}
}

func TestLoginSMSTakesThePolicysValues(t *testing.T) {
	t.Parallel()
	limits := otp.Limits{MaxAttempts: 2, Cooldown: 0, DailyCap: 1000}
	k := otp.LoginSMS(time.Minute, 10, limits)
	if k.Purpose != otp.PurposeLoginSMS || k.Channel != otp.ChannelSMS || k.Form != otp.FormCode || k.Length != 10 || k.TTL != time.Minute || k.Limits != limits {
		t.Fatalf("kind %+v", k)
	}
	if err := k.Validate(); err != nil {
		t.Fatalf("no cooldown is a valid kind: %v", err)
	}
	c, err := k.NewSecret(rand.Reader)
	if err != nil || len(c) != 10 || !k.WellFormed(c) || otp.LoginSMS(time.Minute, 6, limits).WellFormed(c) {
		t.Fatalf("a 10-digit code %q, %v", c, err)
	}
	bad := otp.LoginSMS(time.Minute, 11, otp.Limits{MaxAttempts: 1, Cooldown: -time.Second, DailyCap: 0})
	err = bad.Validate()
	for _, want := range []string{"4 to 10 digits, got 11", "cooldown must not be negative", "daily cap must be at least 1"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%v lacks %q", err, want)
		}
	}
}

func TestVerificationCodeIsACodeOfTheVerificationPurpose(t *testing.T) {
	t.Parallel()
	limits := otp.Limits{MaxAttempts: 3, DailyCap: 10}
	k := otp.VerificationCode(30*time.Minute, 8, limits)
	if k.Purpose != otp.PurposeEmailVerify || k.Channel != otp.ChannelEmail || k.Form != otp.FormCode || k.Length != 8 ||
		k.TTL != 30*time.Minute || k.Limits != limits {
		t.Fatalf("kind %+v", k)
	}
	if err := k.Validate(); err != nil {
		t.Fatal(err)
	}
	if k.Purpose == otp.EmailCode(time.Minute, 8, limits).Purpose {
		t.Fatal("a verification code has the sign-in code's purpose")
	}
	if k.Purpose != otp.EmailLink(otp.PurposeEmailVerify, time.Hour, 10).Purpose {
		t.Fatal("a verification code and a verification link differ in purpose")
	}
}

func TestAdminLinkIsASingleUseLinkHandedOn(t *testing.T) {
	t.Parallel()
	k := otp.AdminLink(5*time.Minute, 50)
	if k.Purpose != otp.PurposeAdminLink || k.Channel != otp.ChannelLink || k.Form != otp.FormLink || k.TTL != 5*time.Minute ||
		k.Limits != (otp.Limits{MaxAttempts: 1, DailyCap: 50}) {
		t.Fatalf("kind %+v", k)
	}
	if err := k.Validate(); err != nil {
		t.Fatal(err)
	}
	s, err := k.NewSecret(rand.Reader)
	if err != nil || !k.WellFormed(s) || len(s) != 43 {
		t.Fatalf("token %q, %v", s, err)
	}
}

func TestAdminActivationIsASixDigitMailedCode(t *testing.T) {
	t.Parallel()
	limits := otp.Limits{MaxAttempts: 5, Cooldown: time.Minute, DailyCap: 10}
	k := otp.AdminActivation(10*time.Minute, limits)
	if k.Purpose != otp.PurposeAdminActivation || k.Channel != otp.ChannelEmail || k.Form != otp.FormCode || k.Length != 6 ||
		k.TTL != 10*time.Minute || k.Limits != limits {
		t.Fatalf("kind %+v", k)
	}
	if err := k.Validate(); err != nil {
		t.Fatal(err)
	}
	s, err := k.NewSecret(rand.Reader)
	if err != nil || !k.WellFormed(s) || len(s) != 6 || k.WellFormed("12345") || k.WellFormed("12345a") {
		t.Fatalf("code %q, %v", s, err)
	}
}

func TestLimitsWithDefaults(t *testing.T) {
	t.Parallel()
	if got := (otp.Limits{}).WithDefaults(); got != otp.DefaultLimits() {
		t.Errorf("zero limits: %+v, want the defaults", got)
	}
	got := otp.Limits{Cooldown: time.Minute}.WithDefaults()
	if want := (otp.Limits{MaxAttempts: otp.DefaultMaxAttempts, Cooldown: time.Minute, DailyCap: otp.DefaultDailyCap}); got != want {
		t.Errorf("a cooldown alone: %+v, want %+v", got, want)
	}
	if got := (otp.Limits{MaxAttempts: 3, DailyCap: 7}).WithDefaults(); got != (otp.Limits{MaxAttempts: 3, DailyCap: 7}) {
		t.Errorf("set limits changed: %+v (a zero cooldown stays none)", got)
	}
}
