package main

import (
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/adapters/crypto/aesgcm"
	"github.com/portcullis/portcullis/adapters/outbox"
	"github.com/portcullis/portcullis/adapters/smtp"
	"github.com/portcullis/portcullis/config"
	"github.com/portcullis/portcullis/domain/tenant"
)

// provideMail and mailProvider together: which sender a tenant gets, and
// which tenants do not build.
func TestMailerChoice(t *testing.T) {
	t.Setenv("SHOP_SMTP_PASSWORD", "pw")
	box := outbox.New(slog.New(slog.DiscardHandler), 10)
	sealer, err := aesgcm.New(make([]byte, aesgcm.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	parse := func(yaml string) tenant.Tenant {
		t.Helper()
		x, err := config.ParseTenantYAML([]byte("id: shop\n"+yaml), "file:shop.yaml")
		if err != nil {
			t.Fatal(err)
		}
		return x
	}
	const smtpSection = "mail:\n  base_url: https://shop.example\n  from: no-reply@shop.example\n  smtp:\n    host: smtp.example\n    username: shop\n"
	cases := []struct {
		name    string
		t       tenant.Tenant
		dev     bool
		want    string // the sender's type
		base    string // the effective base URL
		wantErr string
	}{
		{"dev mode without smtp", parse("login_methods: [password, email_link]\n"), true, "*outbox.Mailer", "http://localhost:8080", ""},
		{"dev mode with smtp", parse(smtpSection + "    password_env: SHOP_SMTP_PASSWORD\n"), true, "*smtp.Mailer", "https://shop.example", ""},
		{"smtp", parse("login_methods: [email_link]\n" + smtpSection + "    password_env: SHOP_SMTP_PASSWORD\n"), false, "*smtp.Mailer", "https://shop.example", ""},
		{"no mail flow, no smtp", parse(""), false, "outbox.Unconfigured", "", ""},
		{"email_link without smtp", parse("login_methods: [password, email_link]\nmail:\n  base_url: https://shop.example\n"), false, "", "",
			`tenant "shop": mail.smtp.host: is required outside dev mode: login_methods enables email_link`},
		{"require_verified_email without smtp", parse("require_verified_email: true\nmail:\n  base_url: https://shop.example\n"), false, "", "",
			`tenant "shop": mail.smtp.host: is required outside dev mode: require_verified_email is on`},
		{"password variable not set", parse(smtpSection + "    password_env: SHOP_SMTP_PASSWORD_UNSET\n"), false, "", "",
			`tenant "shop": mail.smtp.password_env: environment variable SHOP_SMTP_PASSWORD_UNSET is not set`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var b *outbox.Outbox
			var dev DevBaseURL
			if tc.dev {
				b, dev = box, provideDevBaseURL(config.Platform{DevMode: true, Listen: "127.0.0.1:8080"})
			}
			m, err := provideMail(tc.t, b, dev)
			var mailer any
			if err == nil {
				mailer, err = mailProvider(tc.t, m, b, sealer, slog.New(slog.DiscardHandler))
			}
			if tc.wantErr != "" {
				var ve *tenant.ValidationError
				if !errors.As(err, &ve) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v\ndoes not contain %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := typeName(mailer); got != tc.want || m.BaseURL != tc.base {
				t.Fatalf("sender %s, base_url %q; want %s, %q", got, m.BaseURL, tc.want, tc.base)
			}
		})
	}
}

func typeName(v any) string {
	switch v.(type) {
	case *outbox.Mailer:
		return "*outbox.Mailer"
	case *smtp.Mailer:
		return "*smtp.Mailer"
	case outbox.Unconfigured:
		return "outbox.Unconfigured"
	}
	return "unknown"
}
