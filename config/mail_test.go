package config_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/adapters/crypto/aesgcm"
	"github.com/portcullis/portcullis/config"
	"github.com/portcullis/portcullis/domain/tenant"
)

const mailYAML = `id: shop
login_methods: [password, email_link]
mail:
  base_url: https://shop.example/account/
  from: "Shop <no-reply@shop.example>"
  reply_to: help@shop.example
  smtp:
    host: smtp.example
    username: shop
    password_env: SHOP_SMTP_PASSWORD
    timeout: 20s
  brand:
    primary_color: "#ff0000"
    text_color: "#111"
    background_color: "#FAFAFA"
`

func TestMailSection(t *testing.T) {
	t.Parallel()
	got, err := config.ParseTenantYAML([]byte(mailYAML), "file:shop.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := tenant.Mail{BaseURL: "https://shop.example/account", From: "Shop <no-reply@shop.example>", ReplyTo: "help@shop.example",
		SMTP:  tenant.SMTP{Host: "smtp.example", Port: 587, TLS: tenant.SMTPStartTLS, Username: "shop", PasswordEnv: "SHOP_SMTP_PASSWORD", Timeout: 20 * time.Second},
		Brand: tenant.Brand{PrimaryColor: "#ff0000", TextColor: "#111", BackgroundColor: "#FAFAFA"}}
	if got.Mail != want {
		t.Fatalf("got  %+v\nwant %+v", got.Mail, want)
	}
	back, err := config.DecodeTenant(config.EncodeTenant(got), "store")
	if err != nil || back.Mail != want {
		t.Fatalf("round trip: %+v, %v", back.Mail, err)
	}

	def, err := config.ParseTenantYAML([]byte("id: plain\n"), "file:plain.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if def.Mail != tenant.DefaultMail() || def.Mail.SMTP.Configured() || def.Mail.SMTP.TLS != tenant.SMTPStartTLS || def.Mail.SMTP.Timeout != 10*time.Second ||
		def.Mail.Brand != (tenant.Brand{PrimaryColor: "#1a73e8", TextColor: "#202124", BackgroundColor: "#ffffff"}) {
		t.Fatalf("defaults: %+v", def.Mail)
	}
	back, err = config.DecodeTenant(config.EncodeTenant(def), "store")
	if err != nil || back.Mail != def.Mail {
		t.Fatalf("round trip of the defaults: %+v, %v", back.Mail, err)
	}

	// A section that sets some fields keeps the defaults of the others.
	part, err := config.ParseTenantYAML([]byte("id: part\nmail:\n  brand:\n    primary_color: \"#000000\"\n"), "file:part.yaml")
	if err != nil || part.Mail.Brand.PrimaryColor != "#000000" || part.Mail.Brand.TextColor != "#202124" || part.Mail.SMTP.Timeout != 10*time.Second {
		t.Fatalf("partial section: %+v, %v", part.Mail, err)
	}
}

func TestSMTPPortDefaultsByTLSMode(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		section string
		want    int
	}{
		{"host: smtp.example", 587},
		{"host: smtp.example\n    tls: starttls", 587},
		{"host: smtp.example\n    tls: tls", 465},
		{"host: 127.0.0.1\n    tls: none", 25},
		{"host: smtp.example\n    tls: tls\n    port: 2465", 2465},
	} {
		x, err := config.ParseTenantYAML([]byte("id: shop\nmail:\n  from: a@shop.example\n  smtp:\n    "+tc.section+"\n"), "file:shop.yaml")
		if err != nil || x.Mail.SMTP.Port != tc.want {
			t.Errorf("%q: port %d, %v; want %d", tc.section, x.Mail.SMTP.Port, err, tc.want)
		}
	}
}

func TestBadMailNamesTenantFieldAndReason(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, section, want string
	}{
		{"unknown setting", "  base_uri: https://shop.example\n", `tenant "shop": mail.base_uri: is not a known setting`},
		{"unknown smtp setting", "  smtp:\n    hostname: smtp.example\n", `tenant "shop": mail.smtp.hostname: is not a known setting`},
		{"a password in clear", "  smtp:\n    host: smtp.example\n    password: hunter2\n", `tenant "shop": mail.smtp.password: is not a known setting`},
		{"plain http", "  base_url: http://shop.example\n", `tenant "shop": mail.base_url: "http://shop.example" must use https`},
		{"from with CRLF", "  from: \"Shop <a@shop.example>\\r\\nBcc: x@evil.example\"\n", `tenant "shop": mail.from: must not contain line breaks or other control characters`},
		{"reply-to with LF", "  reply_to: \"a@shop.example\\nX: y\"\n", `tenant "shop": mail.reply_to: must not contain line breaks`},
		{"display name with tab", "  from: \"Sh\\top <a@shop.example>\"\n", `tenant "shop": mail.from: must not contain line breaks or other control characters`},
		{"port not a number", "  smtp:\n    host: smtp.example\n    port: submission\n", `tenant "shop": mail.smtp.port: must be a whole number, got a string`},
		{"timeout without unit", "  smtp:\n    timeout: 10\n", `tenant "shop": mail.smtp.timeout: must be a duration with a unit such as 15m or 1h30m, got 10`},
		{"unknown tls", "  smtp:\n    host: smtp.example\n    tls: ssl\n", `mail.smtp.tls: unknown mode "ssl" (known: starttls, tls, none)`},
		{"clear text to a remote host", "  from: a@shop.example\n  smtp:\n    host: smtp.example\n    tls: none\n", `tenant "shop": mail.smtp.tls: none is allowed only for localhost`},
		{"skip verify on a remote host", "  from: a@shop.example\n  smtp:\n    host: smtp.example\n    insecure_skip_verify: true\n", `tenant "shop": mail.smtp.insecure_skip_verify: is allowed only for localhost`},
		{"smtp without from", "  smtp:\n    host: smtp.example\n", `tenant "shop": mail.from: is required with mail.smtp.host`},
		{"bad colour", "  brand:\n    primary_color: red\n", `tenant "shop": mail.brand.primary_color: "red" must be a CSS hex colour`},
		{"missing templates dir", "  templates_dir: no-such-dir\n", `tenant "shop": mail.templates_dir: "no-such-dir" does not exist`},
		{"templates dir is a file", "  templates_dir: mail_test.go\n", `tenant "shop": mail.templates_dir: "mail_test.go" is not a directory`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := config.ParseTenantYAML([]byte("id: shop\nmail:\n"+tc.section), "file:shop.yaml")
			var ve *tenant.ValidationError
			if !errors.As(err, &ve) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v\ndoes not contain %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Fatalf("a rejected password is echoed: %v", err)
			}
		})
	}
}

// A relative templates_dir is read against the tenant file's directory,
// not the working directory, and kept as an absolute path; a stored tenant
// needs an absolute one.
func TestTemplatesDir(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "shop-mail"), 0o700); err != nil {
		t.Fatal(err)
	}
	writeTenant(t, dir, "shop.yaml", "id: shop\nmail:\n  templates_dir: shop-mail\n")
	ts, err := config.NewTenantDir(dir).Tenants(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, "shop-mail"); len(ts) != 1 || ts[0].Mail.TemplatesDir != want {
		t.Fatalf("got %+v, want templates_dir %s", ts, want)
	}
	back, err := config.DecodeTenant(config.EncodeTenant(ts[0]), "store")
	if err != nil || back.Mail.TemplatesDir != ts[0].Mail.TemplatesDir {
		t.Fatalf("round trip: %q, %v", back.Mail.TemplatesDir, err)
	}
	_, err = config.DecodeTenant(map[string]any{"id": "shop", "mail": map[string]any{"templates_dir": "shop-mail"}}, "store")
	if err == nil || !strings.Contains(err.Error(), `tenant "shop": mail.templates_dir: "shop-mail" must be an absolute path`) {
		t.Fatalf("relative dir of a stored tenant: %v", err)
	}
	// Reported together with the other problems of the tenant.
	_, err = config.DecodeTenant(map[string]any{"id": "shop", "store_timeout": "0s", "mail": map[string]any{"templates_dir": "/no/such/dir"}}, "store")
	if err == nil || !strings.Contains(err.Error(), "store_timeout: must be a positive duration") || !strings.Contains(err.Error(), "mail.templates_dir") {
		t.Fatalf("both problems: %v", err)
	}
}

func TestEffectiveMail(t *testing.T) {
	t.Parallel()
	parse := func(yaml string) tenant.Tenant {
		t.Helper()
		x, err := config.ParseTenantYAML([]byte(yaml), "file:shop.yaml")
		if err != nil {
			t.Fatal(err)
		}
		return x
	}
	plain := parse("id: shop\n")
	link := parse("id: shop\nlogin_methods: [password, email_link]\n")
	verified := parse("id: shop\nrequire_verified_email: true\nmail:\n  base_url: https://shop.example\n")
	admin := parse("id: shop\nlogin_methods: [admin_otp]\nmail:\n  base_url: https://shop.example\n")
	configured := parse(mailYAML)
	cases := []struct {
		name        string
		t           tenant.Tenant
		dev         bool
		wantBaseURL string
		wantErr     []string
	}{
		{"no mail flow", plain, false, "", nil},
		{"dev mode fills in base_url", link, true, "http://localhost:9090", nil},
		{"dev mode keeps a base_url", configured, true, "https://shop.example/account", nil},
		{"configured", configured, false, "https://shop.example/account", nil},
		{"email_link without smtp or base_url", link, false, "", []string{
			`tenant "shop": mail.smtp.host: is required outside dev mode: login_methods enables email_link, and without it no mail can be sent`,
			`mail.base_url: is required outside dev mode: login_methods enables email_link, and without it mailed links have no address to point at`}},
		{"require_verified_email without smtp", verified, false, "", []string{`tenant "shop": mail.smtp.host: is required outside dev mode: require_verified_email is on`}},
		{"admin_otp without smtp", admin, false, "", []string{`mail.smtp.host: is required outside dev mode: login_methods enables admin_otp`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m, err := config.EffectiveMail(tc.t, tc.dev, "http://localhost:9090/")
			if len(tc.wantErr) == 0 {
				if err != nil || m.BaseURL != tc.wantBaseURL {
					t.Fatalf("base_url %q, %v; want %q", m.BaseURL, err, tc.wantBaseURL)
				}
				return
			}
			var ve *tenant.ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("want a ValidationError, got %v", err)
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %v\ndoes not contain %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "base_url") != (len(tc.wantErr) > 1) {
				t.Errorf("base_url named or not as expected: %v", err)
			}
		})
	}
}

func TestDevBaseURL(t *testing.T) {
	t.Parallel()
	for listen, want := range map[string]string{
		"127.0.0.1:8080": "http://localhost:8080",
		":9000":          "http://localhost:9000",
		"[::1]:8443":     "http://localhost:8443",
		"127.0.0.1:0":    config.DefaultDevBaseURL,
		"nonsense":       config.DefaultDevBaseURL,
	} {
		if got := config.DevBaseURL(listen); got != want {
			t.Errorf("%q: %q, want %q", listen, got, want)
		}
	}
	// make run listens on the default address: its links work.
	if got := config.DevBaseURL(config.Defaults().Listen); got != "http://localhost:8080" {
		t.Fatalf("default listen: %q", got)
	}
}

func TestSMTPPassword(t *testing.T) {
	t.Parallel()
	const password = "pa55-w0rd"
	sealer, err := aesgcm.New(make([]byte, aesgcm.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := config.SealSMTPPassword(sealer, "shop", password)
	if err != nil {
		t.Fatal(err)
	}
	sealedForOther, _ := config.SealSMTPPassword(sealer, "other", password)
	smsSealed, _ := config.SealSMSAuthToken(sealer, "shop", password)
	env := map[string]string{"SHOP_SMTP_PASSWORD": password, "EMPTY": ""}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	with := func(edit func(*tenant.SMTP)) tenant.Tenant {
		x, err := config.ParseTenantYAML([]byte(mailYAML), "file:shop.yaml")
		if err != nil {
			t.Fatal(err)
		}
		edit(&x.Mail.SMTP)
		return x
	}
	cases := []struct {
		name, want, wantErr string
		t                   tenant.Tenant
	}{
		{"from the environment", password, "", with(func(*tenant.SMTP) {})},
		{"variable not set", "", `tenant "shop": mail.smtp.password_env: environment variable MISSING is not set`, with(func(s *tenant.SMTP) { s.PasswordEnv = "MISSING" })},
		{"variable empty", "", `mail.smtp.password_env: environment variable EMPTY is empty`, with(func(s *tenant.SMTP) { s.PasswordEnv = "EMPTY" })},
		{"sealed", password, "", with(func(s *tenant.SMTP) { s.PasswordEnv, s.PasswordSealed = "", sealed })},
		{"sealed for another tenant", "", `tenant "shop": mail.smtp.password_sealed: does not open`, with(func(s *tenant.SMTP) { s.PasswordEnv, s.PasswordSealed = "", sealedForOther })},
		{"sealed as an SMS token", "", `mail.smtp.password_sealed: does not open`, with(func(s *tenant.SMTP) { s.PasswordEnv, s.PasswordSealed = "", smsSealed })},
		{"sealed not base64", "", `mail.smtp.password_sealed: is not base64`, with(func(s *tenant.SMTP) { s.PasswordEnv, s.PasswordSealed = "", "%%%" })},
		{"no authentication", "", "", with(func(s *tenant.SMTP) { s.Username, s.PasswordEnv = "", "" })},
		{"no server", "", "", tenant.Default()},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := config.SMTPPassword(tc.t, lookup, sealer)
			if got != tc.want {
				t.Fatalf("password %q, want %q", got, tc.want)
			}
			if (tc.wantErr == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("error %v, want %q", err, tc.wantErr)
			}
			if err != nil && strings.Contains(fmt.Sprint(err), password) {
				t.Fatalf("error carries the password: %v", err)
			}
		})
	}
}
