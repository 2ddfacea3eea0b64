package tenant_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/domain/tenant"
)

func withSMTP() tenant.Mail {
	m := tenant.DefaultMail()
	m.BaseURL = "https://shop.example"
	m.From = "Shop <no-reply@shop.example>"
	m.SMTP.Host = "smtp.example"
	m.SMTP.Port = 587
	m.SMTP.Username = "shop"
	m.SMTP.PasswordEnv = "SHOP_SMTP_PASSWORD"
	return m
}

func TestMailAccepted(t *testing.T) {
	t.Parallel()
	cases := map[string]func(*tenant.Mail){
		"defaults":                 func(m *tenant.Mail) { *m = tenant.DefaultMail() },
		"smtp with auth":           func(*tenant.Mail) {},
		"smtp without auth":        func(m *tenant.Mail) { m.SMTP.Username, m.SMTP.PasswordEnv = "", "" },
		"sealed password":          func(m *tenant.Mail) { m.SMTP.PasswordEnv, m.SMTP.PasswordSealed = "", "AQID" },
		"implicit tls":             func(m *tenant.Mail) { m.SMTP.TLS, m.SMTP.Port = tenant.SMTPImplicitTLS, 465 },
		"no tls to loopback":       func(m *tenant.Mail) { m.SMTP.Host, m.SMTP.TLS = "127.0.0.1", tenant.SMTPNoTLS },
		"no tls to localhost":      func(m *tenant.Mail) { m.SMTP.Host, m.SMTP.TLS = "localhost", tenant.SMTPNoTLS },
		"no tls to ::1":            func(m *tenant.Mail) { m.SMTP.Host, m.SMTP.TLS = "::1", tenant.SMTPNoTLS },
		"skip verify on loopback":  func(m *tenant.Mail) { m.SMTP.Host, m.SMTP.InsecureSkipVerify = "127.0.0.1", true },
		"bare from":                func(m *tenant.Mail) { m.From = "no-reply@shop.example" },
		"reply-to":                 func(m *tenant.Mail) { m.ReplyTo = "Support <help@shop.example>" },
		"base url with path":       func(m *tenant.Mail) { m.BaseURL = "https://shop.example/account" },
		"base url with port":       func(m *tenant.Mail) { m.BaseURL = "https://shop.example:8443" },
		"http base url, localhost": func(m *tenant.Mail) { m.BaseURL = "http://localhost:8080" },
		"http base url, loopback":  func(m *tenant.Mail) { m.BaseURL = "http://127.0.0.1:8080" },
		"short colours": func(m *tenant.Mail) {
			m.Brand = tenant.Brand{PrimaryColor: "#000", TextColor: "#FFF", BackgroundColor: "#AbCdEf"}
		},
		"unicode display name": func(m *tenant.Mail) { m.From = "Çiçek Mağazası <no-reply@shop.example>" },
		"longest timeout":      func(m *tenant.Mail) { m.SMTP.Timeout = tenant.MaxSMTPTimeout },
	}
	for name, edit := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			x := valid()
			x.Mail = withSMTP()
			edit(&x.Mail)
			if err := x.Validate(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestMailNamesFieldAndReason(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		edit func(*tenant.Mail)
		want string
	}{
		{"relative base url", func(m *tenant.Mail) { m.BaseURL = "shop.example" }, `mail.base_url: "shop.example" must be an absolute https URL`},
		{"plain http base url", func(m *tenant.Mail) { m.BaseURL = "http://shop.example" }, `mail.base_url: "http://shop.example" must use https (http only for localhost and 127.0.0.1)`},
		{"base url with query", func(m *tenant.Mail) { m.BaseURL = "https://shop.example/?a=1" }, `mail.base_url: "https://shop.example/?a=1" must not hold credentials, a query or a fragment`},
		{"base url with credentials", func(m *tenant.Mail) { m.BaseURL = "https://u:p@shop.example" }, `must not hold credentials`},
		{"base url with slash", func(m *tenant.Mail) { m.BaseURL = "https://shop.example/" }, `mail.base_url: "https://shop.example/" must not end with "/"`},
		{"javascript base url", func(m *tenant.Mail) { m.BaseURL = "javascript:alert(1)" }, `mail.base_url: "javascript:alert(1)" must be an absolute https URL`},
		{"no from with smtp", func(m *tenant.Mail) { m.From = "" }, `mail.from: is required with mail.smtp.host`},
		{"from not an address", func(m *tenant.Mail) { m.From = "Shop" }, `mail.from: "Shop" is not an e-mail address`},
		{"from with CRLF", func(m *tenant.Mail) { m.From = "Shop <a@shop.example>\r\nBcc: x@evil.example" }, `mail.from: must not contain line breaks or other control characters`},
		{"from with LF in the name", func(m *tenant.Mail) { m.From = "\"Sh\nop\" <a@shop.example>" }, `mail.from: must not contain line breaks`},
		{"from with encoded CRLF", func(m *tenant.Mail) { m.From = "=?utf-8?q?Shop=0D=0ABcc=3A_x?= <a@shop.example>" }, `mail.from: must not contain line breaks or other control characters (also not encoded in the display name)`},
		{"from with NUL", func(m *tenant.Mail) { m.From = "a\x00@shop.example" }, `mail.from: must not contain line breaks`},
		{"two from addresses", func(m *tenant.Mail) { m.From = "a@shop.example, b@shop.example" }, `mail.from: "a@shop.example, b@shop.example" is not an e-mail address`},
		{"reply-to with CR", func(m *tenant.Mail) { m.ReplyTo = "help@shop.example\r" }, `mail.reply_to: must not contain line breaks`},
		{"reply-to not an address", func(m *tenant.Mail) { m.ReplyTo = "@@" }, `mail.reply_to: "@@" is not an e-mail address`},
		{"unknown tls", func(m *tenant.Mail) { m.SMTP.TLS = "ssl" }, `mail.smtp.tls: unknown mode "ssl" (known: starttls, tls, none)`},
		{"no tls to a remote host", func(m *tenant.Mail) { m.SMTP.TLS = tenant.SMTPNoTLS }, `mail.smtp.tls: none is allowed only for localhost, 127.0.0.1 or ::1`},
		{"skip verify on a remote host", func(m *tenant.Mail) { m.SMTP.InsecureSkipVerify = true }, `mail.smtp.insecure_skip_verify: is allowed only for localhost, 127.0.0.1 or ::1`},
		{"host with port", func(m *tenant.Mail) { m.SMTP.Host = "smtp.example:587" }, `mail.smtp.host: "smtp.example:587" is not a lower-case host name`},
		{"host with CRLF", func(m *tenant.Mail) { m.SMTP.Host = "smtp.example\r\n" }, `mail.smtp.host: "smtp.example\r\n" is not`},
		{"port zero", func(m *tenant.Mail) { m.SMTP.Port = 0 }, `mail.smtp.port: must be between 1 and 65535, got 0`},
		{"port too big", func(m *tenant.Mail) { m.SMTP.Port = 70000 }, `mail.smtp.port: must be between 1 and 65535, got 70000`},
		{"timeout too short", func(m *tenant.Mail) { m.SMTP.Timeout = 100 * time.Millisecond }, `mail.smtp.timeout: must be between 1s and 2m0s, got 100ms`},
		{"timeout too long", func(m *tenant.Mail) { m.SMTP.Timeout = time.Hour }, `mail.smtp.timeout: must be between 1s and 2m0s, got 1h0m0s`},
		{"two passwords", func(m *tenant.Mail) { m.SMTP.PasswordSealed = "AQID" }, `mail.smtp.password_sealed: must not be set together with password_env`},
		{"bad env name", func(m *tenant.Mail) { m.SMTP.PasswordEnv = "SMTP-PASSWORD" }, `mail.smtp.password_env: "SMTP-PASSWORD" is not an environment variable name`},
		{"username without password", func(m *tenant.Mail) { m.SMTP.PasswordEnv = "" }, `mail.smtp.password_env: is required with mail.smtp.username (or password_sealed)`},
		{"password without username", func(m *tenant.Mail) { m.SMTP.Username = "" }, `mail.smtp.username: is required with a password`},
		{"username with LF", func(m *tenant.Mail) { m.SMTP.Username = "shop\nAUTH" }, `mail.smtp.username: must be at most 255 characters and hold no control characters`},
		{"settings without host", func(m *tenant.Mail) { m.SMTP.Host = "" }, `mail.smtp.port: is set but mail.smtp.host is empty`},
		{"password without host", func(m *tenant.Mail) { m.SMTP.Host, m.SMTP.Port = "", 0 }, `mail.smtp.username: is set but mail.smtp.host is empty`},
		{"bad colour", func(m *tenant.Mail) { m.Brand.PrimaryColor = "blue" }, `mail.brand.primary_color: "blue" must be a CSS hex colour such as #1a73e8 or #fff`},
		{"colour with css", func(m *tenant.Mail) { m.Brand.TextColor = "#000;background:url(x)" }, `mail.brand.text_color: "#000;background:url(x)" must be a CSS hex colour`},
		{"empty colour", func(m *tenant.Mail) { m.Brand.BackgroundColor = "" }, `mail.brand.background_color: "" must be a CSS hex colour`},
		{"templates dir with LF", func(m *tenant.Mail) { m.TemplatesDir = "/etc/x\n" }, `mail.templates_dir: must not contain control characters`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			x := valid()
			x.Mail = withSMTP()
			tc.edit(&x.Mail)
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

func TestDisplayNameRefusesControlCharacters(t *testing.T) {
	t.Parallel()
	x := valid()
	x.DisplayName = "Shop\r\nBcc: x@evil.example"
	if err := x.Validate(); err == nil || !strings.Contains(err.Error(), "display_name: must not contain line breaks or other control characters") {
		t.Fatalf("got %v", err)
	}
}

func TestNeedsMail(t *testing.T) {
	t.Parallel()
	x := valid()
	if x.NeedsMail() {
		t.Fatal("password only needs no mail")
	}
	for _, m := range []tenant.LoginMethod{tenant.MethodEmailLink, tenant.MethodAdminOTP} {
		y := valid()
		y.LoginMethods = append(y.LoginMethods, m)
		if !y.NeedsMail() {
			t.Errorf("%s needs mail", m)
		}
	}
	x.RequireVerifiedEmail = true
	if !x.NeedsMail() {
		t.Fatal("require_verified_email needs mail")
	}
}

func TestDefaultSMTPPort(t *testing.T) {
	t.Parallel()
	for mode, want := range map[tenant.SMTPTLS]int{tenant.SMTPStartTLS: 587, tenant.SMTPImplicitTLS: 465, tenant.SMTPNoTLS: 25} {
		if got := tenant.DefaultSMTPPort(mode); got != want {
			t.Errorf("%s: %d, want %d", mode, got, want)
		}
	}
}
