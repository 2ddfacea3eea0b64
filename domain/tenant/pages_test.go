package tenant_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/domain/tenant"
)

func TestPagesDefaults(t *testing.T) {
	t.Parallel()
	x := tenant.Default()
	if p := x.Pages; !p.Enabled || p.DefaultLanguage != "en" || len(p.FrameAncestors) != 0 {
		t.Fatalf("default pages %+v: want on, English, framed by nobody", p)
	}
	if got := x.BrandColor(); got != x.Mail.Brand.PrimaryColor {
		t.Errorf("brand colour %q, want the mail's %q when the pages set none", got, x.Mail.Brand.PrimaryColor)
	}
	x.Pages.PrimaryColor = "#123"
	if got := x.BrandColor(); got != "#123" {
		t.Errorf("brand colour %q, want the pages' own", got)
	}
}

func TestPagesAccepted(t *testing.T) {
	t.Parallel()
	for name, edit := range map[string]func(*tenant.Pages){
		"defaults": func(*tenant.Pages) {},
		"off":      func(p *tenant.Pages) { p.Enabled = false },
		"all set": func(p *tenant.Pages) {
			*p = tenant.Pages{Enabled: true, LogoURL: "https://cdn.example/l.svg", PrimaryColor: "#1A2b3C", SupportURL: "https://help.example/", DefaultLanguage: "de", FrameAncestors: []string{"https://shop.example", "http://localhost:3000"}}
		},
		"own paths":          func(p *tenant.Pages) { p.LogoURL, p.SupportURL = "/static/logo.png", "/help" },
		"mailto support":     func(p *tenant.Pages) { p.SupportURL = "mailto:help@shop.example" },
		"loopback http logo": func(p *tenant.Pages) { p.LogoURL = "http://127.0.0.1:9000/logo.png" },
		"own language": func(p *tenant.Pages) {
			p.DefaultLanguage, p.Messages = "pt-BR", map[string]map[string]string{"pt-BR": {"signin.submit": "Entrar"}}
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			x := valid()
			edit(&x.Pages)
			if err := x.Validate(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestPagesNamesFieldAndReason(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		edit func(*tenant.Pages)
		want string
	}{
		{"colour name", func(p *tenant.Pages) { p.PrimaryColor = "red" }, `pages.primary_color: "red" must be a CSS hex colour`},
		{"colour with css", func(p *tenant.Pages) { p.PrimaryColor = "#fff;}body{" }, "pages.primary_color"},
		{"http logo", func(p *tenant.Pages) { p.LogoURL = "http://cdn.example/l.png" }, `pages.logo_url: "http://cdn.example/l.png" must be an https URL`},
		{"javascript support", func(p *tenant.Pages) { p.SupportURL = "javascript:alert(1)" }, "pages.support_url"},
		{"mailto logo", func(p *tenant.Pages) { p.LogoURL = "mailto:a@b.example" }, "pages.logo_url"},
		{"quote in logo", func(p *tenant.Pages) { p.LogoURL = `https://cdn.example/a".png` }, "must not contain spaces, quotes"},
		{"protocol-relative", func(p *tenant.Pages) { p.LogoURL = "//cdn.example/l.png" }, "pages.logo_url"},
		{"unknown language", func(p *tenant.Pages) { p.DefaultLanguage = "fr" }, `pages.default_language: "fr" must be one of en, de, or a language of pages.messages`},
		{"ancestor with path", func(p *tenant.Pages) { p.FrameAncestors = []string{"https://shop.example/app"} }, `pages.frame_ancestors[0]: "https://shop.example/app" must be an origin`},
		{"bad tag", func(p *tenant.Pages) { p.Messages = map[string]map[string]string{"French": {"signin.submit": "x"}} }, `pages.messages.French: "French" must be a language tag`},
		{"bad key", func(p *tenant.Pages) { p.Messages = map[string]map[string]string{"fr": {"Submit": "x"}} }, `pages.messages.fr.Submit: "Submit" is not a message key`},
		{"empty text", func(p *tenant.Pages) { p.Messages = map[string]map[string]string{"fr": {"signin.submit": " "}} }, "pages.messages.fr.signin.submit: must not be empty"},
		{"control in text", func(p *tenant.Pages) { p.Messages = map[string]map[string]string{"fr": {"signin.submit": "a\x00"}} }, "must not contain control characters"},
		{"ancestor wildcard", func(p *tenant.Pages) { p.FrameAncestors = []string{"https://a.example", "*"} }, "pages.frame_ancestors[1]"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			x := valid()
			tc.edit(&x.Pages)
			err := x.Validate()
			var ve *tenant.ValidationError
			if !errors.As(err, &ve) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v\ndoes not contain %q", err, tc.want)
			}
		})
	}
}
