package e2e_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"
)

// The hosted pages in headless Chromium: each flow a user takes, in a
// real browser with its cookies, redirects and Content-Security-Policy
// (a violation the browser reports fails the test). With
// PORTCULLIS_SCREENSHOTS set (make screenshots), each page is written at
// 1280 and 360 px wide.

// pagesSite is a server with one tenant, "web", on localhost, whose every
// sign-in method is on, and an app on another origin its next may lead to.
type pagesSite struct {
	s    *server
	base string // the pages' origin, http://localhost:<port>
	app  string // the app's origin, allowed in redirects.allow
}

func newPagesSite(t *testing.T) pagesSite {
	t.Helper()
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, "<!doctype html><title>App</title><p id=app>The app at %s</p>", r.URL.Path)
	}))
	t.Cleanup(app.Close)
	s := startTenants(t, tenantSpec{ID: "web", Domains: []string{"localhost"}, SMS: "  default_region: TR\n", EmailLink: true, TOTP: true,
		BaseURL: emailBase("web"), Allow: []string{app.URL}})
	u, err := url.Parse(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	return pagesSite{s: s, base: "http://localhost:" + u.Port(), app: app.URL}
}

// signIn signs in with a password on the sign-in page and returns the
// page it lands on.
func (p pagesSite) signIn(t *testing.T, b *browser, a account, next string) string {
	t.Helper()
	target := p.base + "/auth/"
	if next != "" {
		target += "?next=" + url.QueryEscape(next)
	}
	b.open(t, target)
	b.fill(t, "#email", a.Email)
	b.fill(t, "#password", a.Password)
	b.submit(t, "form[action='/auth/'] button[type=submit]")
	return b.url(t)
}

// wantAt checks that the browser is on path (of the pages' origin) and
// that the page says text.
func (p pagesSite) wantAt(t *testing.T, b *browser, path, text string) {
	t.Helper()
	u, err := url.Parse(b.url(t))
	if err != nil || u.Scheme+"://"+u.Host != p.base || u.Path != path {
		t.Fatalf("the browser is at %s, want %s%s", b.url(t), p.base, path)
	}
	if text != "" {
		if got := b.text(t, "main"); !strings.Contains(got, text) {
			var html string
			b.eval(t, `document.querySelector('main').outerHTML`, &html)
			t.Fatalf("%s does not say %q: %q\n%s", path, text, got, html)
		}
	}
	if strings.Contains(u.RawQuery, "token=") {
		t.Fatalf("a token is in the address bar: %s", b.url(t))
	}
}

func TestPagesBrowserSignUpVerifyAndSignIn(t *testing.T) {
	t.Parallel()
	p := newPagesSite(t)
	b := newBrowser(t)
	a := newAccount("browser-signup")

	b.open(t, p.base+"/auth/register/")
	b.screenshot(t, "register")
	b.fill(t, "#first_name", "Ada")
	b.fill(t, "#last_name", "Lovelace")
	b.fill(t, "#email", a.Email)
	b.fill(t, "#password", "short")
	b.submit(t, "form button[type=submit]")
	if got := b.attr(t, "#password", "aria-describedby"); got != "password-error" {
		t.Fatalf("a refused password is not tied to its field: aria-describedby %q", got)
	}
	var focused string
	b.eval(t, `document.activeElement && document.activeElement.id`, &focused)
	if focused != "password" {
		t.Errorf("the field in error has not the focus (%q has)", focused)
	}
	b.screenshot(t, "register-error")
	b.fill(t, "#password", a.Password)
	b.submit(t, "form button[type=submit]")
	p.wantAt(t, b, "/auth/register/", "If this address can be registered")

	m := waitMail(t, p.s, "localhost", a.Email, verificationSubject("web"), 0)
	link := linkIn(t, m, emailBase("web"), "/auth/verify-email/process/")
	b.open(t, p.base+onServer(link, emailBase("web")))
	p.wantAt(t, b, "/auth/verify-email/process/", "Confirm that this address is yours.")
	b.screenshot(t, "verify-email")
	b.submit(t, "form button[type=submit]")
	p.wantAt(t, b, "/auth/verify-email/process/", "Your e-mail address is verified.")

	b.open(t, p.base+"/auth/")
	b.screenshot(t, "sign-in")
	wantContrast(t, b)
	p.signIn(t, b, a, "")
	p.wantAt(t, b, "/auth/account/", "Signed in as "+a.Email)
	b.screenshot(t, "account")
	r := me(t, p.s, "localhost", withSessionCookie(sessionCookieIn(t, b)))
	if r.Status != http.StatusOK || !strings.Contains(string(r.Body), `"email_verified":true`) {
		t.Fatalf("/auth/v1/me with the browser's session: %d %s", r.Status, r.Body)
	}
}

// contrastJS computes, for each of the page's labels, links, buttons and
// field errors, the contrast ratio (WCAG 2) of its text colour against the
// background it sits on, and returns the lowest with what it was.
const contrastJS = `(() => {
	const rgb = (s) => s.match(/[\d.]+/g).map(Number);
	const lum = ([r, g, b]) => { const f = (c) => { c /= 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; }; return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b); };
	const bg = (el) => { for (; el; el = el.parentElement) { const c = rgb(getComputedStyle(el).backgroundColor); if (c.length < 4 || c[3] > 0) return c.slice(0, 3); } return [255, 255, 255]; };
	let worst = {ratio: 99, what: ''};
	for (const el of document.querySelectorAll('label, a, button, h1, p, .field-error')) {
		const a = lum(rgb(getComputedStyle(el).color)), b = lum(bg(el));
		const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
		if (ratio < worst.ratio) worst = {ratio, what: el.tagName + ' ' + el.textContent.trim().slice(0, 40)};
	}
	return worst;
})()`

// wantContrast fails the test when a text of the page is below WCAG AA's
// 4.5:1 against its background.
func wantContrast(t *testing.T, b *browser) {
	t.Helper()
	var worst struct {
		Ratio float64 `json:"ratio"`
		What  string  `json:"what"`
	}
	b.eval(t, contrastJS, &worst)
	if worst.Ratio < 4.5 {
		t.Errorf("contrast %.2f:1 of %q is below AA's 4.5:1", worst.Ratio, worst.What)
	}
}

// sessionCookieIn is the browser's session cookie value.
func sessionCookieIn(t *testing.T, b *browser) string {
	t.Helper()
	for _, c := range b.cookies(t) {
		if c.Name == "portcullis_session" {
			return c.Value
		}
	}
	t.Fatal("the browser has no session cookie")
	return ""
}

func TestPagesBrowserSMSAndMagicLink(t *testing.T) {
	t.Parallel()
	p := newPagesSite(t)
	a := newAccount("browser-sms")
	const phone = "+905355550101"
	registerWithPhone(t, p.s, a, phone)

	t.Run("sms", func(t *testing.T) {
		b := newBrowser(t)
		b.open(t, p.base+"/auth/")
		b.submit(t, "a[href^='/auth/sms/']")
		b.screenshot(t, "sms")
		b.fill(t, "#phone", "0535 555 01 01")
		b.submit(t, "form button[type=submit]")
		p.wantAt(t, b, "/auth/sms/", "a code is on its way by SMS")
		b.screenshot(t, "sms-code")
		b.fill(t, "#code", "000000")
		b.submit(t, "form[action='/auth/sms/verify/'] button[type=submit]")
		if got := b.text(t, "#code-error"); got == "" {
			t.Fatal("a wrong code shows no error on its field")
		}
		b.fill(t, "#code", smsCodeFor(t, p.s, phone, 0))
		b.submit(t, "form[action='/auth/sms/verify/'] button[type=submit]")
		p.wantAt(t, b, "/auth/account/", "Signed in as "+a.Email)
	})
	t.Run("magic link in the same browser", func(t *testing.T) {
		b := newBrowser(t)
		b.open(t, p.base+"/auth/magic-link/")
		b.screenshot(t, "magic-link")
		b.fill(t, "#email", a.Email)
		b.submit(t, "form button[type=submit]")
		p.wantAt(t, b, "/auth/magic-link/", "a sign-in link is on its way")
		m := waitMail(t, p.s, "localhost", a.Email, magicLinkSubject("web"), 0)
		link := linkIn(t, m, emailBase("web"), "/auth/magic-link/process/")
		b.open(t, p.base+onServer(link, emailBase("web")))
		p.wantAt(t, b, "/auth/magic-link/process/", "Sign in as b***@example.com?") // the link shows the address masked
		b.screenshot(t, "magic-link-process")
		b.submit(t, "form button[type=submit]")
		p.wantAt(t, b, "/auth/account/", "Signed in as "+a.Email)
	})
	t.Run("e-mail code", func(t *testing.T) {
		b := newBrowser(t)
		b.open(t, p.base+"/auth/email-code/")
		b.fill(t, "#email", a.Email)
		b.submit(t, "form button[type=submit]")
		b.screenshot(t, "email-code")
		m := waitMail(t, p.s, "localhost", a.Email, emailCodeSubject("web"), 0)
		code := smsCode.FindStringSubmatch(m.Text)
		if code == nil {
			t.Fatalf("no code in %q", m.Text)
		}
		b.fill(t, "#code", code[1])
		b.submit(t, "form[action='/auth/email-code/verify/'] button[type=submit]")
		p.wantAt(t, b, "/auth/account/", "Signed in as "+a.Email)
	})
}

func TestPagesBrowserResetEndsOldSessions(t *testing.T) {
	t.Parallel()
	p := newPagesSite(t)
	a := newAccount("browser-reset")
	register(t, p.s, "localhost", a)
	old := newBrowser(t)
	p.signIn(t, old, a, "")
	p.wantAt(t, old, "/auth/account/", "")
	api := login(t, p.s, "localhost", a, "bearer")

	b := newBrowser(t)
	b.open(t, p.base+"/auth/")
	b.submit(t, "a[href^='/auth/forgot-password/']")
	b.screenshot(t, "forgot-password")
	b.fill(t, "#email", a.Email)
	b.submit(t, "form button[type=submit]")
	p.wantAt(t, b, "/auth/forgot-password/", "a link to reset its password is on its way")
	m := waitMail(t, p.s, "localhost", a.Email, resetSubject("web"), 0)
	link := linkIn(t, m, emailBase("web"), "/auth/forgot-password/process/")
	b.open(t, p.base+onServer(link, emailBase("web")))
	p.wantAt(t, b, "/auth/forgot-password/process/", "")
	b.screenshot(t, "reset-password")
	a.Password = strongPassword()
	b.fill(t, "#password", a.Password)
	b.submit(t, "form button[type=submit]")
	p.wantAt(t, b, "/auth/forgot-password/process/", "Your password is changed")

	old.open(t, p.base+"/auth/account/")
	p.wantAt(t, old, "/auth/", "")
	if r := me(t, p.s, "localhost", withBearer(api.AccessToken)); r.Status != http.StatusUnauthorized {
		t.Fatalf("an API session of before the reset: /me %d, want 401", r.Status)
	}
	p.signIn(t, b, a, "")
	p.wantAt(t, b, "/auth/account/", "Signed in as "+a.Email)
}

func TestPagesBrowserSecondFactor(t *testing.T) {
	t.Parallel()
	p := newPagesSite(t)
	a := newAccount("browser-totp")
	register(t, p.s, "localhost", a)
	b := newBrowser(t)
	p.signIn(t, b, a, "")
	b.submit(t, "a[href='/auth/enroll-totp/']")
	p.wantAt(t, b, "/auth/enroll-totp/", "Scan the QR code")
	b.screenshot(t, "enroll-totp")
	secret := strings.TrimSpace(b.text(t, "#totp-secret"))
	var qrWidth int
	b.eval(t, `document.querySelector('img.qr').naturalWidth`, &qrWidth)
	if secret == "" || qrWidth == 0 {
		t.Fatalf("secret %q, QR code %d px wide: the page shows no factor to set up", secret, qrWidth)
	}
	code, err := totp.GenerateCode(secret, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	b.fill(t, "#code", code)
	b.submit(t, "form button[type=submit]")
	p.wantAt(t, b, "/auth/account/", "Two-step verification is on.")

	b.open(t, p.base+"/auth/sign-out/")
	b.screenshot(t, "sign-out")
	b.submit(t, "form button[type=submit]")
	p.wantAt(t, b, "/auth/sign-out/", "You are signed out.")

	p.signIn(t, b, a, "")
	p.wantAt(t, b, "/auth/second-factor/", "authenticator app")
	b.screenshot(t, "second-factor")
	next, err := totp.GenerateCode(secret, time.Now().Add(30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	b.fill(t, "#code", next)
	b.submit(t, "form button[type=submit]")
	p.wantAt(t, b, "/auth/account/", "Signed in as "+a.Email)
	r := p.s.get(t, "/auth/v1/sessions", withHost("localhost"), withSessionCookie(sessionCookieIn(t, b)))
	if r.Status != http.StatusOK || !strings.Contains(string(r.Body), `"mfa"`) {
		t.Errorf("the sessions lack one with amr mfa: %d %s", r.Status, r.Body)
	}
}

func TestPagesBrowserRevokeAndNext(t *testing.T) {
	t.Parallel()
	p := newPagesSite(t)
	a := newAccount("browser-revoke")
	register(t, p.s, "localhost", a)

	other := newBrowser(t)
	p.signIn(t, other, a, "")
	b := newBrowser(t)
	p.signIn(t, b, a, "")
	b.submit(t, "ul.sessions li:not(:has(strong)) button")
	p.wantAt(t, b, "/auth/account/", "The session is signed out.")
	other.open(t, p.base+"/auth/account/")
	p.wantAt(t, other, "/auth/", "")

	t.Run("next to the app", func(t *testing.T) {
		c := newBrowser(t)
		p.signIn(t, c, a, p.app+"/welcome")
		if got := c.url(t); got != p.app+"/welcome" {
			t.Fatalf("after sign-in the browser is at %s, want the app's %s/welcome", got, p.app)
		}
	})
	t.Run("a foreign next", func(t *testing.T) {
		c := newBrowser(t)
		p.signIn(t, c, a, "https://evil.example/steal")
		p.wantAt(t, c, "/auth/account/", "Signed in as "+a.Email)
	})
}
