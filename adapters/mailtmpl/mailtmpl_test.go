package mailtmpl_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portcullis/portcullis/adapters/mailtmpl"
	"github.com/portcullis/portcullis/domain/message"
)

const link = "https://shop.example/auth/reset?token=tok123"

func data() message.MailData {
	return message.MailData{
		Name: "Ada", Email: "ada@example.com", Link: link, Code: "271828", Expires: 30 * time.Minute,
		When: time.Date(2025, 3, 4, 5, 6, 0, 0, time.UTC), IP: "198.51.100.7", Device: "Safari on iPhone",
		NewEmail: "ada@new.example", Reason: "with this e-mail address, which already has one", Left: 7,
	}
}

func newTemplates(t *testing.T, opts mailtmpl.Options) *mailtmpl.Templates {
	t.Helper()
	if opts.TenantName == "" {
		opts.TenantName = "Acme Shop"
	}
	tm, err := mailtmpl.New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return tm
}

func compose(t *testing.T, tm *mailtmpl.Templates, kind message.MailKind, d message.MailData) message.Mail {
	t.Helper()
	m, err := tm.Compose(kind, "ada@example.com", d)
	if err != nil {
		t.Fatalf("Compose(%s): %v", kind, err)
	}
	return m
}

// overrideDir writes files (name → content) into a fresh directory.
func overrideDir(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestDefaultsComposeEveryKind(t *testing.T) {
	t.Parallel()
	tm := newTemplates(t, mailtmpl.Options{Brand: mailtmpl.Brand{PrimaryColor: "#AA0033"}})
	security := map[message.MailKind]string{
		message.MailPasswordReset:   "If you did not ask",
		message.MailMagicLink:       "If you did not ask",
		message.MailEmailCode:       "If you did not ask",
		message.MailNewSignIn:       "If it was not you",
		message.MailPasswordChanged: "If it was not you",
		message.MailEmailChanged:    "If it was not you",
		message.MailBackupCodeUsed:  "If it was not you",
		message.MailInvite:          "If you did not expect this invitation",
		message.MailAdminActivation: "If you did not try to sign in",
	}
	for _, kind := range message.MailKinds() {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			m := compose(t, tm, kind, data())
			if m.To != "ada@example.com" {
				t.Errorf("To = %q", m.To)
			}
			if !strings.Contains(m.Subject, "Acme Shop") || strings.ContainsAny(m.Subject, "\r\n") {
				t.Errorf("Subject = %q: want the tenant's name on one line", m.Subject)
			}
			want := []string{"Acme Shop", "Ada"}
			switch kind {
			case message.MailVerification:
				want = append(want, link, "271828", "30 minutes") // a verification mail shows a code it is given
			case message.MailPasswordReset, message.MailMagicLink:
				want = append(want, link, "30 minutes")
			case message.MailInvite:
				want = append(want, link, "30 minutes", "You have been invited to Acme Shop; set your password")
			case message.MailEmailCode:
				want = append(want, "271828", "30 minutes")
			case message.MailAdminActivation:
				want = append(want, "271828", "30 minutes", "admin account ada@example.com must be activated")
			case message.MailSignupNotice:
				want = append(want, "Someone tried to create a Acme Shop account with this e-mail address, which already has one")
			case message.MailEmailChanged:
				want = append(want, "ada@new.example", "ada@example.com")
			case message.MailNewSignIn, message.MailPasswordChanged:
				want = append(want, "Safari on iPhone", "198.51.100.7", "4 March 2025 at 05:06 UTC")
			case message.MailBackupCodeUsed:
				want = append(want, "you have 7 backup codes left", "Safari on iPhone", "198.51.100.7", "4 March 2025 at 05:06 UTC")
			}
			if s, ok := security[kind]; ok {
				want = append(want, s)
			}
			for _, w := range want {
				if !strings.Contains(m.Text, w) {
					t.Errorf("text lacks %q:\n%s", w, m.Text)
				}
				if !strings.Contains(m.HTML, w) {
					t.Errorf("HTML lacks %q:\n%s", w, m.HTML)
				}
			}
			for _, w := range []string{"<!DOCTYPE html>", "<title>" + m.Subject + "</title>", "#AA0033", mailtmpl.DefaultTextColor, mailtmpl.DefaultBackgroundColor} {
				if !strings.Contains(m.HTML, w) {
					t.Errorf("HTML lacks %q", w)
				}
			}
		})
	}
}

func TestDefaultsWithoutOptionalData(t *testing.T) {
	t.Parallel()
	tm := newTemplates(t, mailtmpl.Options{})
	d := message.MailData{Link: link, Code: "271828", Expires: time.Hour, NewEmail: "ada@new.example"}
	for _, kind := range message.MailKinds() {
		m := compose(t, tm, kind, d)
		if !strings.Contains(m.Text, "Hello,") || strings.Contains(m.Text, "<no value>") || strings.Contains(m.HTML, "<no value>") {
			t.Errorf("%s: without a name:\n%s", kind, m.Text)
		}
		if !strings.Contains(m.Text, "ada@example.com") {
			t.Errorf("%s: Email should default to the recipient:\n%s", kind, m.Text)
		}
	}
	m := compose(t, tm, message.MailVerification, d)
	if !strings.Contains(m.Text, "1 hour") {
		t.Errorf("verification: want the lifetime 1 hour:\n%s", m.Text)
	}
}

// A verification mail shows the code it is given besides the link, and
// reads as a link-only mail without one.
func TestVerificationWithAndWithoutACode(t *testing.T) {
	t.Parallel()
	for _, opts := range []mailtmpl.Options{{}, {VerificationCode: true}} {
		tm := newTemplates(t, opts)
		with := compose(t, tm, message.MailVerification, data())
		d := data()
		d.Code = ""
		without := compose(t, tm, message.MailVerification, d)
		for _, part := range []struct{ name, with, without string }{{"text", with.Text, without.Text}, {"HTML", with.HTML, without.HTML}} {
			for _, w := range []string{link, "271828", "The link and the code work for 30 minutes.", "nothing happens without the link or the code"} {
				if !strings.Contains(part.with, w) {
					t.Errorf("%s with a code lacks %q:\n%s", part.name, w, part.with)
				}
			}
			if !strings.Contains(part.without, link) || !strings.Contains(part.without, "The link works for 30 minutes.") {
				t.Errorf("%s without a code lacks the link or its lifetime:\n%s", part.name, part.without)
			}
			if strings.Contains(strings.ToLower(part.without), "code") {
				t.Errorf("%s without a code speaks of one:\n%s", part.name, part.without)
			}
		}
		if with.Subject != without.Subject {
			t.Errorf("subjects differ: %q, %q", with.Subject, without.Subject)
		}
		for _, text := range []string{with.Text, without.Text} {
			if strings.Contains(text, "\n\n\n") || !strings.HasSuffix(text, "This e-mail was sent by Acme Shop to ada@example.com.\n") {
				t.Errorf("text is not laid out as the other mails:\n%q", text)
			}
		}
	}
}

// A tenant whose verification mails carry a code refuses, at startup, an
// override that would not show it; without codes the same override is
// fine.
func TestVerificationOverrideMustShowAGivenCode(t *testing.T) {
	t.Parallel()
	for _, file := range []string{"verification.txt", "verification.html"} {
		dir := overrideDir(t, map[string]string{file: "Confirm: {{.Link}} ({{.Expires}})"})
		if _, err := mailtmpl.New(mailtmpl.Options{TenantName: "Acme Shop", OverrideDir: dir}); err != nil {
			t.Fatalf("%s without codes: %v", file, err)
		}
		_, err := mailtmpl.New(mailtmpl.Options{TenantName: "Acme Shop", OverrideDir: dir, VerificationCode: true})
		if err == nil || !strings.Contains(err.Error(), filepath.Join(dir, file)) || !strings.Contains(err.Error(), "must show the code when it is given one") {
			t.Fatalf("%s with codes: %v, want an error naming the file and the code", file, err)
		}
		dir = overrideDir(t, map[string]string{file: "Confirm: {{.Link}}{{if .Code}} or {{.Code}}{{end}} ({{.Expires}})"})
		if _, err := mailtmpl.New(mailtmpl.Options{TenantName: "Acme Shop", OverrideDir: dir, VerificationCode: true}); err != nil {
			t.Fatalf("%s showing the code: %v", file, err)
		}
	}
}

func TestHTMLEscapes(t *testing.T) {
	t.Parallel()
	tm := newTemplates(t, mailtmpl.Options{})
	d := data()
	d.Name = `<script>alert(1)</script>`
	d.Link = `https://shop.example/reset?token=a"b'c<d>`
	m := compose(t, tm, message.MailPasswordReset, d)
	if strings.Contains(m.HTML, "<script>") || !strings.Contains(m.HTML, "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Errorf("name not escaped in HTML:\n%s", m.HTML)
	}
	if strings.Contains(m.HTML, `a"b`) || strings.Contains(m.HTML, `b'c`) || strings.Contains(m.HTML, "c<d") {
		t.Errorf("link not escaped in HTML:\n%s", m.HTML)
	}
	if !strings.Contains(m.HTML, `href="https://shop.example/reset?token=a%22b%27c%3cd%3e"`) {
		t.Errorf("link not in an escaped href:\n%s", m.HTML)
	}
	// The text is not HTML: it shows both as they are.
	if !strings.Contains(m.Text, d.Name) || !strings.Contains(m.Text, d.Link) {
		t.Errorf("text should show the name and link verbatim:\n%s", m.Text)
	}
}

func TestOverrideOneSubject(t *testing.T) {
	t.Parallel()
	dir := overrideDir(t, map[string]string{
		"password_reset.subject.txt": "{{.Tenant}}: new password for {{.Name}}\n", // an editor's final newline is fine
		"README.md":                  "notes of the tenant's admins, not a template",
	})
	def := newTemplates(t, mailtmpl.Options{})
	tm := newTemplates(t, mailtmpl.Options{OverrideDir: dir})
	m := compose(t, tm, message.MailPasswordReset, data())
	if m.Subject != "Acme Shop: new password for Ada" {
		t.Errorf("Subject = %q", m.Subject)
	}
	want := compose(t, def, message.MailPasswordReset, data())
	// The HTML differs in its <title> only.
	if m.Text != want.Text || m.HTML != strings.ReplaceAll(want.HTML, want.Subject, m.Subject) {
		t.Error("the override of the subject changed the bodies")
	}
	for _, kind := range message.MailKinds() {
		if kind == message.MailPasswordReset {
			continue
		}
		if got, want := compose(t, tm, kind, data()), compose(t, def, kind, data()); got != want {
			t.Errorf("%s: differs from the default", kind)
		}
	}
}

func TestOverrideBodyAndLayout(t *testing.T) {
	t.Parallel()
	dir := overrideDir(t, map[string]string{
		"email_code.txt": "Code {{.Code}} for {{.Tenant}}, valid {{.Expires}}.",
		"layout.html":    `<div style="color:{{.Brand.TextColor}}"><h1>{{.Tenant}}</h1>{{.Body}}</div>`,
	})
	tm := newTemplates(t, mailtmpl.Options{OverrideDir: dir, Brand: mailtmpl.Brand{TextColor: "#123"}})
	m := compose(t, tm, message.MailEmailCode, data())
	if m.Text != "Code 271828 for Acme Shop, valid 30 minutes." {
		t.Errorf("Text = %q", m.Text)
	}
	if !strings.HasPrefix(m.HTML, `<div style="color:#123"><h1>Acme Shop</h1><p>Hello Ada,</p>`) {
		t.Errorf("HTML = %q", m.HTML)
	}
}

func TestBrokenOverride(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, file, content string
		want                string
	}{
		{"parse error", "verification.txt", "{{.Link}", "verification.txt"},
		{"unknown function", "verification.html", "{{nope .Link}}", `function "nope" not defined`},
		{"unknown field", "magic_link.txt", "{{.Link}} {{.Nope}}", "has no field .Nope"},
		{"unknown field on a branch not taken", "new_signin.txt", `{{if eq .Name "Bob"}}{{.Nope}}{{end}}`, "has no field .Nope"},
		{"layout field in a kind", "new_signin.txt", "{{.Body}}", "has no field .Body"},
		{"unknown brand field", "layout.html", "{{.Body}}{{.Brand.LogoURL}}", "has no field .LogoURL"},
		{"wrong use of a field", "new_signin.txt", "{{.Name.First}}", "new_signin.txt"},
		{"subject with a newline", "magic_link.subject.txt", "Sign in\nBcc: x@evil.example", "must render to one line"},
		{"subject with a newline from a literal", "magic_link.subject.txt", `Sign in{{"\r\n"}}Bcc: x`, "must render to one line"},
		{"empty subject", "magic_link.subject.txt", "  \n", "renders an empty subject"},
		{"define", "verification.txt", `{{define "x"}}{{end}}{{.Link}}`, "must not use define or block"},
		{"block", "verification.html", `{{block "x" .}}{{.Link}}{{end}}`, "must not use define or block"},
		{"range", "verification.txt", `{{range 1000000000}}{{end}}{{.Link}}`, "must not use range"},
		{"link left out", "password_reset.html", "<p>Reset your password.</p>", "must show the link"},
		{"code left out", "email_code.txt", "Your code is ready.", "must show the code"},
		{"layout without the body", "layout.html", "<p>{{.Tenant}}</p>", "must show the mail's body"},
		{"unknown file", "pasword_reset.txt", "{{.Link}}", "is not a mail template this server knows"},
		{"not UTF-8", "verification.txt", "\xff{{.Link}}", "is not UTF-8"},
		{"file too large", "verification.txt", "{{.Link}}" + strings.Repeat("x", mailtmpl.MaxOutput), "is larger than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := overrideDir(t, map[string]string{tc.file: tc.content})
			_, err := mailtmpl.New(mailtmpl.Options{TenantName: "Acme Shop", OverrideDir: dir})
			if err == nil {
				t.Fatal("New succeeded")
			}
			if path := filepath.Join(dir, tc.file); !strings.Contains(err.Error(), path) {
				t.Errorf("error %q does not name %s", err, path)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
		})
	}
}

func TestOverrideDirMissing(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "nope")
	if _, err := mailtmpl.New(mailtmpl.Options{TenantName: "Acme Shop", OverrideDir: dir}); err == nil || !strings.Contains(err.Error(), dir) {
		t.Errorf("New = %v, want an error naming %s", err, dir)
	}
}

func TestOptions(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		opts mailtmpl.Options
		want string
	}{
		{"no tenant name", mailtmpl.Options{}, "tenant name is required"},
		{"tenant name with a newline", mailtmpl.Options{TenantName: "Shop\r\nBcc: x"}, "must not contain line breaks"},
		{"colour name", mailtmpl.Options{TenantName: "S", Brand: mailtmpl.Brand{PrimaryColor: "red"}}, `brand.primary_color: "red" is not a CSS hex colour`},
		{"CSS injection", mailtmpl.Options{TenantName: "S", Brand: mailtmpl.Brand{TextColor: "#fff;background:url(x)"}}, "brand.text_color"},
		{"five digits", mailtmpl.Options{TenantName: "S", Brand: mailtmpl.Brand{BackgroundColor: "#12345"}}, "brand.background_color"},
		{"no hash", mailtmpl.Options{TenantName: "S", Brand: mailtmpl.Brand{BackgroundColor: "123456"}}, "brand.background_color"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if _, err := mailtmpl.New(tc.opts); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("New = %v, want an error saying %q", err, tc.want)
			}
		})
	}
}

func TestOutputCap(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, content string }{
		{"written", `{{.Link}}{{$x := printf "%0100000d" 0}}{{$x}}{{$x}}{{$x}}`},
		// Doubling a value in a variable writes nothing until the end: the
		// functions refuse to build it.
		{"built in a variable", `{{.Link}}{{$x := printf "%0100000d" 0}}{{$x = print $x $x}}{{$x = print $x $x}}{{$x = print $x $x}}{{$x = print $x $x}}{{$x = print $x $x}}{{$x = print $x $x}}`},
		// Four backslashes, doubled 17 times: 512 KiB.
		{"escaping doubles", `{{.Link}}{{$x := "\\\\\\\\"}}` + strings.Repeat("{{$x = js $x}}", 17)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := overrideDir(t, map[string]string{"verification.txt": tc.content})
			_, err := mailtmpl.New(mailtmpl.Options{TenantName: "Acme Shop", OverrideDir: dir})
			if !errors.Is(err, mailtmpl.ErrTooLarge) || !strings.Contains(err.Error(), "verification.txt") {
				t.Errorf("New = %v, want ErrTooLarge naming verification.txt", err)
			}
		})
	}
	t.Run("from data at Compose", func(t *testing.T) {
		t.Parallel()
		tm := newTemplates(t, mailtmpl.Options{})
		d := data()
		d.Name = strings.Repeat("A", mailtmpl.MaxOutput)
		if _, err := tm.Compose(message.MailPasswordReset, "ada@example.com", d); !errors.Is(err, mailtmpl.ErrTooLarge) {
			t.Errorf("Compose = %v, want ErrTooLarge", err)
		}
	})
}

func TestComposeRefuses(t *testing.T) {
	t.Parallel()
	dir := overrideDir(t, map[string]string{"new_signin.subject.txt": "New sign-in for {{.Name}}"})
	tm := newTemplates(t, mailtmpl.Options{OverrideDir: dir})
	with := func(f func(*message.MailData)) message.MailData { d := data(); f(&d); return d }
	for _, tc := range []struct {
		name string
		kind message.MailKind
		to   string
		d    message.MailData
		want error
	}{
		{"javascript link", message.MailMagicLink, "", with(func(d *message.MailData) { d.Link = "javascript:alert(1)//secret" }), mailtmpl.ErrLink},
		{"data link", message.MailMagicLink, "", with(func(d *message.MailData) { d.Link = "data:text/html,secret" }), mailtmpl.ErrLink},
		{"ftp link", message.MailPasswordReset, "", with(func(d *message.MailData) { d.Link = "ftp://shop.example/secret" }), mailtmpl.ErrLink},
		{"relative link", message.MailPasswordReset, "", with(func(d *message.MailData) { d.Link = "/auth/reset?token=secret" }), mailtmpl.ErrLink},
		{"user info", message.MailPasswordReset, "", with(func(d *message.MailData) { d.Link = "https://shop.example@evil.example/secret" }), mailtmpl.ErrLink},
		{"link with a newline", message.MailPasswordReset, "", with(func(d *message.MailData) { d.Link = "https://shop.example/\nsecret" }), mailtmpl.ErrLink},
		{"non-http link on a notice", message.MailNewSignIn, "", with(func(d *message.MailData) { d.Link = "javascript:secret" }), mailtmpl.ErrLink},
		{"no link", message.MailVerification, "", with(func(d *message.MailData) { d.Link = "" }), mailtmpl.ErrIncomplete},
		{"no lifetime", message.MailVerification, "", with(func(d *message.MailData) { d.Expires = 0 }), mailtmpl.ErrIncomplete},
		{"no code", message.MailEmailCode, "", with(func(d *message.MailData) { d.Code = "" }), mailtmpl.ErrIncomplete},
		{"no activation code", message.MailAdminActivation, "", with(func(d *message.MailData) { d.Code = "" }), mailtmpl.ErrIncomplete},
		{"no new address", message.MailEmailChanged, "", with(func(d *message.MailData) { d.NewEmail = "" }), mailtmpl.ErrIncomplete},
		{"unknown kind", "welcome", "", data(), mailtmpl.ErrUnknownKind},
		{"recipient with CRLF", message.MailVerification, "ada@example.com\r\nBcc: x@evil.example", data(), mailtmpl.ErrHeader},
		{"no recipient", message.MailVerification, "-", data(), mailtmpl.ErrHeader},
		{"CRLF from data into the subject", message.MailNewSignIn, "", with(func(d *message.MailData) { d.Name = "Ada\r\nBcc: x@evil.example" }), mailtmpl.ErrHeader},
		{"LF from data into the subject", message.MailNewSignIn, "", with(func(d *message.MailData) { d.Name = "Ada\nsecret" }), mailtmpl.ErrHeader},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			to := tc.to
			switch to {
			case "":
				to = "ada@example.com"
			case "-":
				to = ""
			}
			m, err := tm.Compose(tc.kind, to, tc.d)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Compose = %v, want %v", err, tc.want)
			}
			if m != (message.Mail{}) {
				t.Errorf("Compose returned a mail with its error: %+v", m)
			}
			if strings.Contains(err.Error(), "secret") || strings.Contains(err.Error(), "271828") {
				t.Errorf("error %q carries the mail's data", err)
			}
		})
	}
	// The subject override itself is fine with a name on one line.
	if m := compose(t, tm, message.MailNewSignIn, data()); m.Subject != "New sign-in for Ada" {
		t.Errorf("Subject = %q", m.Subject)
	}
}

func TestLabelColourOnLightPrimary(t *testing.T) {
	t.Parallel()
	m := compose(t, newTemplates(t, mailtmpl.Options{Brand: mailtmpl.Brand{PrimaryColor: "#ffdd00"}}), message.MailMagicLink, data())
	if !strings.Contains(m.HTML, "background-color:#ffdd00") || !strings.Contains(m.HTML, "color:#000000") {
		t.Errorf("a yellow button should have a black label:\n%s", m.HTML)
	}
}

func TestComposeConcurrently(t *testing.T) {
	t.Parallel()
	tm := newTemplates(t, mailtmpl.Options{})
	want := compose(t, tm, message.MailPasswordReset, data())
	start := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan string, 16)
	for range 16 {
		wg.Go(func() {
			<-start
			for _, kind := range message.MailKinds() {
				m, err := tm.Compose(kind, "ada@example.com", data())
				if err != nil || (kind == message.MailPasswordReset && m != want) {
					errs <- string(kind)
					return
				}
			}
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for k := range errs {
		t.Errorf("%s: a concurrent Compose failed or differed", k)
	}
}

func TestLifetime(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{0, ""},
		{-time.Minute, ""},
		{time.Second, "1 second"},
		{45 * time.Second, "45 seconds"},
		{time.Minute, "1 minute"},
		{119 * time.Second, "1 minute"},
		{30 * time.Minute, "30 minutes"},
		{time.Hour, "1 hour"},
		{90 * time.Minute, "1 hour 30 minutes"},
		{2*time.Hour + time.Minute, "2 hours 1 minute"},
		{24 * time.Hour, "24 hours"},
		{47*time.Hour + 59*time.Minute, "47 hours 59 minutes"},
		{48 * time.Hour, "2 days"},
		{72 * time.Hour, "3 days"},
		{73 * time.Hour, "73 hours"},
	} {
		if got := mailtmpl.Lifetime(tc.d); got != tc.want {
			t.Errorf("Lifetime(%v) = %q, want %q", tc.d, got, tc.want)
		}
	}
}

// TestTenantsShareTheBuiltInTemplatesNotTheirColours: the built-in
// templates are parsed once for every tenant, yet each tenant's mails carry
// its own colours (and a tenant's override only its own mails), also when
// they are composed at once.
func TestTenantsShareTheBuiltInTemplatesNotTheirColours(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "magic_link.subject.txt"), []byte("Your link to {{.Tenant}}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tenants := []struct {
		name, primary, label string
		tm                   *mailtmpl.Templates
	}{
		{name: "Yellow", primary: "#ffdd00", label: "#000000"},
		{name: "Navy", primary: "#123456", label: "#ffffff"},
		{name: "Overridden", primary: "#0a0", label: "#ffffff"},
	}
	for i := range tenants {
		opts := mailtmpl.Options{TenantName: tenants[i].name, Brand: mailtmpl.Brand{PrimaryColor: tenants[i].primary}}
		if i == 2 {
			opts.OverrideDir = dir
		}
		tenants[i].tm = newTemplates(t, opts)
	}
	var wg sync.WaitGroup
	for _, tn := range tenants {
		for range 4 {
			wg.Go(func() {
				for range 20 {
					m, err := tn.tm.Compose(message.MailMagicLink, "ada@example.com", data())
					if err != nil {
						t.Error(err)
						return
					}
					want := "background-color:" + tn.primary
					if !strings.Contains(m.HTML, want) || !strings.Contains(m.HTML, "text-decoration:none;color:"+tn.label) {
						t.Errorf("%s: the button is not in %s with a %s label:\n%s", tn.name, tn.primary, tn.label, m.HTML)
						return
					}
					if strings.Contains(m.HTML, "pcbrand") {
						t.Errorf("%s: a colour sentinel is left in the mail:\n%s", tn.name, m.HTML)
						return
					}
					overridden := m.Subject == "Your link to Overridden"
					if overridden != (tn.name == "Overridden") {
						t.Errorf("%s: subject %q", tn.name, m.Subject)
						return
					}
				}
			})
		}
	}
	wg.Wait()
}

// TestTemplatesOfATenantAreSmall: what a tenant without overrides keeps is
// its name, colours and a pointer to the shared built-in templates, not a
// parse of its own (about 220 KB each before they were shared; 10,000
// tenants are a deployment this server is sized for). Not parallel, so
// that no other test's allocations are counted.
func TestTemplatesOfATenantAreSmall(t *testing.T) {
	const tenants, perTenant = 200, 16 << 10
	newTemplates(t, mailtmpl.Options{}) // the shared parse, once
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	kept := make([]*mailtmpl.Templates, tenants)
	for i := range kept {
		kept[i] = newTemplates(t, mailtmpl.Options{TenantName: fmt.Sprintf("Tenant %d", i), Brand: mailtmpl.Brand{PrimaryColor: fmt.Sprintf("#%06x", i)}})
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	per := (int64(after.HeapAlloc) - int64(before.HeapAlloc)) / tenants
	t.Logf("%d bytes of heap per tenant's templates", per)
	if per > perTenant {
		t.Errorf("a tenant's templates keep %d bytes of heap, want at most %d", per, perTenant)
	}
	runtime.KeepAlive(kept)
}
