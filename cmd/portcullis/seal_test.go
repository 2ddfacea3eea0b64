package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/adapters/crypto/aesgcm"
	"github.com/portcullis/portcullis/config"
	"github.com/portcullis/portcullis/domain/tenant"
)

const testMasterKey = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="

// The sealed value opens for its tenant only, to the token given, and the
// token appears nowhere in the output.
func TestSealSMSTokenOpensForItsTenantOnly(t *testing.T) {
	t.Setenv("PORTCULLIS_MASTER_KEY", testMasterKey)
	t.Setenv("PORTCULLIS_DATA_DIR", t.TempDir())
	var out, errOut bytes.Buffer
	if code := sealSMSToken.run("", "shop", strings.NewReader("s3cr3t-token\n"), &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	sealed := strings.TrimSpace(out.String())
	if sealed == "" || strings.Contains(out.String()+errOut.String(), "s3cr3t-token") {
		t.Fatalf("output %q, stderr %q", out.String(), errOut.String())
	}
	key, err := config.DecodeMasterKey(testMasterKey)
	if err != nil {
		t.Fatal(err)
	}
	opener, err := aesgcm.New(key)
	if err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]bool{"shop": true, "other": false} {
		tn := tenant.Default()
		tn.ID = id
		tn.SMSProvider = tenant.SMSProvider{Kind: tenant.SMSProviderTwilio, AuthTokenSealed: sealed}
		got, err := config.SMSAuthToken(tn, func(string) (string, bool) { return "", false }, opener)
		if want && (err != nil || got != "s3cr3t-token") {
			t.Fatalf("tenant %s: %q, %v", id, got, err)
		}
		if !want && err == nil {
			t.Fatalf("tenant %s opened another tenant's token", id)
		}
	}
}

func TestSealSMSTokenNeedsATenantAndAToken(t *testing.T) {
	t.Setenv("PORTCULLIS_MASTER_KEY", testMasterKey)
	var out, errOut bytes.Buffer
	if code := sealSMSToken.run("", "", strings.NewReader("x\n"), &out, &errOut); code != 1 || !strings.Contains(errOut.String(), "-tenant is required") {
		t.Fatalf("no tenant: exit %d, %q", code, errOut.String())
	}
	errOut.Reset()
	if code := sealSMSToken.run("", "shop", strings.NewReader("\n"), &out, &errOut); code != 1 || !strings.Contains(errOut.String(), "no token") {
		t.Fatalf("no token: exit %d, %q", code, errOut.String())
	}
}

// The SMTP password is sealed the same way, for mail.smtp.password_sealed:
// it opens as that tenant's SMTP password only (not as another tenant's,
// nor as an SMS token), with its spaces kept.
func TestSealSMTPPasswordOpensForItsTenantAndSettingOnly(t *testing.T) {
	t.Setenv("PORTCULLIS_MASTER_KEY", testMasterKey)
	t.Setenv("PORTCULLIS_DATA_DIR", t.TempDir())
	const password = " pass word "
	var out, errOut bytes.Buffer
	if code := run([]string{"seal-smtp-password", "-tenant", "shop", "-help"}, &errOut); code != 2 || !strings.Contains(errOut.String(), "mail.smtp.password_sealed") {
		t.Fatalf("help: exit %d, %q", code, errOut.String())
	}
	errOut.Reset()
	if code := sealSMTPPassword.run("", "shop", strings.NewReader(password+"\r\n"), &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	sealed := strings.TrimSpace(out.String())
	if sealed == "" || strings.Contains(out.String()+errOut.String(), "pass word") {
		t.Fatalf("output %q, stderr %q", out.String(), errOut.String())
	}
	key, err := config.DecodeMasterKey(testMasterKey)
	if err != nil {
		t.Fatal(err)
	}
	opener, err := aesgcm.New(key)
	if err != nil {
		t.Fatal(err)
	}
	noEnv := func(string) (string, bool) { return "", false }
	for id, want := range map[string]bool{"shop": true, "other": false} {
		tn := tenant.Default()
		tn.ID = id
		tn.Mail.SMTP = tenant.SMTP{Host: "smtp.example", Port: 587, TLS: tenant.SMTPStartTLS, Username: "u", PasswordSealed: sealed, Timeout: time.Second}
		got, err := config.SMTPPassword(tn, noEnv, opener)
		if want && (err != nil || got != password) {
			t.Fatalf("tenant %s: %q, %v", id, got, err)
		}
		if !want && err == nil {
			t.Fatalf("tenant %s opened another tenant's password", id)
		}
	}
	tn := tenant.Default()
	tn.ID = "shop"
	tn.SMSProvider = tenant.SMSProvider{Kind: tenant.SMSProviderTwilio, AuthTokenSealed: sealed}
	if _, err := config.SMSAuthToken(tn, noEnv, opener); err == nil {
		t.Fatal("an SMTP password opened as an SMS token")
	}
	errOut.Reset()
	if code := sealSMTPPassword.run("", "shop", strings.NewReader("\n"), &out, &errOut); code != 1 || !strings.Contains(errOut.String(), "portcullis seal-smtp-password: no password on standard input") {
		t.Fatalf("no password: exit %d, %q", code, errOut.String())
	}
}

// seal-captcha-secret is a command like the others: read on stdin, the
// sealed value opens as that tenant's captcha.secret_sealed only (not as
// another tenant's, nor as its SMTP password), and the secret is printed
// nowhere.
func TestSealCaptchaSecretIsACommandAndOpensForItsTenantAndSettingOnly(t *testing.T) {
	t.Setenv("PORTCULLIS_MASTER_KEY", testMasterKey)
	t.Setenv("PORTCULLIS_DATA_DIR", t.TempDir())
	const secret = "0x4AAAAAAAsecret-of-the-site"
	var errOut bytes.Buffer
	if code := run([]string{"seal-captcha-secret", "-tenant", "shop", "-help"}, &errOut); code != 2 || !strings.Contains(errOut.String(), "captcha.secret_sealed") {
		t.Fatalf("help: exit %d, %q", code, errOut.String())
	}
	errOut.Reset()
	if code := run([]string{"no-such-command"}, &errOut); code != 2 || !strings.Contains(errOut.String(), "seal-captcha-secret") {
		t.Fatalf("unknown command: exit %d, %q does not list seal-captcha-secret", code, errOut.String())
	}
	errOut.Reset()
	var out bytes.Buffer
	if code := sealCommands["seal-captcha-secret"].run("", "shop", strings.NewReader(secret+"\n"), &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	sealed := strings.TrimSpace(out.String())
	if sealed == "" || strings.Contains(out.String()+errOut.String(), secret) {
		t.Fatalf("output %q, stderr %q", out.String(), errOut.String())
	}
	key, err := config.DecodeMasterKey(testMasterKey)
	if err != nil {
		t.Fatal(err)
	}
	opener, err := aesgcm.New(key)
	if err != nil {
		t.Fatal(err)
	}
	noEnv := func(string) (string, bool) { return "", false }
	for id, want := range map[string]bool{"shop": true, "other": false} {
		tn := tenant.Default()
		tn.ID = id
		tn.Captcha = tenant.DefaultCaptcha()
		tn.Captcha.Provider, tn.Captcha.SiteKey, tn.Captcha.SecretSealed = tenant.CaptchaTurnstile, "0x4AAAAAAA-site", sealed
		got, err := config.CaptchaSecret(tn, noEnv, opener)
		if want && (err != nil || got != secret) {
			t.Fatalf("tenant %s: %q, %v", id, got, err)
		}
		if !want && err == nil {
			t.Fatalf("tenant %s opened another tenant's secret", id)
		}
	}
	tn := tenant.Default()
	tn.ID = "shop"
	tn.Mail.SMTP = tenant.SMTP{Host: "smtp.example", Port: 587, TLS: tenant.SMTPStartTLS, Username: "u", PasswordSealed: sealed, Timeout: time.Second}
	if _, err := config.SMTPPassword(tn, noEnv, opener); err == nil {
		t.Fatal("a CAPTCHA secret opened as an SMTP password")
	}
}
