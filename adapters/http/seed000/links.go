package seed000

import (
	"crypto/sha256"
	"encoding/base64"
	"html"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/portcullis/portcullis/adapters/http/web"
	"github.com/portcullis/portcullis/application/loginlink"
	"github.com/portcullis/portcullis/application/tokenlogin"
	"github.com/portcullis/portcullis/domain/errs"
	"github.com/portcullis/portcullis/domain/identity"
)

// The routes of seed 000's one-time login links and token login:
//
//	POST /users/passwordless-login/          {user, secret_key} → 200 {"url"}
//	GET  /users/passwordless-login/<token>/  ?user=&secret_key=&next=
//	POST /users/passwordless-login/<token>/  ?user=&secret_key=&next=
//	POST /users/token-login/                 {user, token} → 204 + cookie
//
// Link scanners. A mail or link scanner fetches a link before its
// recipient does, with GET or HEAD and without the recipient's cookies;
// were GET to sign in, it would use the link up (and get the session).
// So a GET never uses a link: for a link that would sign in it answers a
// small page whose form POSTs back to the same URL, submitted at once by
// a script (a person without scripts presses its button), and sets
// nothing; anything else redirects home. Only the POST uses the link.
// A scanner that runs scripts and submits forms as a browser would is
// indistinguishable from its recipient's browser and signs in; a link
// lives passwordless_login_max_age, 300 s by default.
//
// The browser routes answer every refusal (a bad, used or expired link,
// another user, a wrong secret key, a disabled account, a user with a
// second factor, which this route cannot take, a cross-site POST) with a
// redirect home and no session; only a store that is away (503) or an
// internal error is an error page. The path carries the token, so the
// logs show its pattern, and every answer is no-store and no-referrer.

// LinkPathPrefix is where login links live; a link's path is
// LinkPathPrefix + token + "/" (the "url" of the issue answer).
const LinkPathPrefix = "/users/passwordless-login/"

// linkLogPattern is how the logs name a link's path.
const linkLogPattern = LinkPathPrefix + "{token}/"

func (h handlers) registerLinks(r fiber.Router) {
	for _, p := range []string{"/users/passwordless-login", LinkPathPrefix} {
		r.Post(p, h.enabled(h.issueLink))
	}
	for _, p := range []string{LinkPathPrefix + ":token", LinkPathPrefix + ":token/"} {
		r.Get(p, hideLink(h.enabled(h.openLink)))
		r.Post(p, hideLink(h.enabled(h.useLink)))
	}
	for _, p := range []string{"/users/token-login", "/users/token-login/"} {
		r.Post(p, h.enabled(h.tokenLogin))
	}
}

// issueLink issues a login link for a user: the caller authenticates as
// logout does (Authorization: Token, or the session cookie with its CSRF
// token); the use case checks the caller's right.
func (h handlers) issueLink(c *fiber.Ctx) error {
	f, err := web.DecodeFields(c)
	if err != nil {
		return err
	}
	rt := web.Tenant(c.UserContext())
	p, err := web.Authenticate(c, rt, h.opts.Dev, csrfReader(f))
	if err != nil {
		return err
	}
	is, err := rt.LoginLinks.Issue(c.UserContext(), loginlink.IssueInput{Actor: p.User, UserID: f["user"], SecretKey: f["secret_key"], Client: web.Client(c)})
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(fiber.Map{"url": LinkPathPrefix + is.Token + "/"})
}

// hideLink keeps a link's token out of the logs and out of caches and
// referrers, whatever the handler answers.
func hideLink(next fiber.Handler) fiber.Handler {
	return func(c *fiber.Ctx) error {
		web.HidePath(c, linkLogPattern)
		c.Set(fiber.HeaderCacheControl, "no-store")
		c.Set(fiber.HeaderReferrerPolicy, "no-referrer")
		return next(c)
	}
}

// presented reads a link as its URL carries it; a POST may carry user,
// secret_key and next in its body instead.
func presented(c *fiber.Ctx, body map[string]string) (loginlink.Presented, string) {
	return loginlink.Presented{
		Token:     c.Params("token"),
		UserID:    firstNonEmpty(c.Query("user"), body["user"]),
		SecretKey: firstNonEmpty(c.Query("secret_key"), body["secret_key"]),
	}, firstNonEmpty(c.Query("next"), body["next"])
}

// openLink answers a GET or HEAD of a link without using it: the page
// that signs in when the link would, else a redirect home.
func (h handlers) openLink(c *fiber.Ctx) error {
	rt := web.Tenant(c.UserContext())
	in, _ := presented(c, nil)
	if err := rt.LoginLinks.Check(c.UserContext(), in); err != nil {
		return refused(c, err)
	}
	c.Set(fiber.HeaderContentSecurityPolicy, linkPageCSP)
	c.Set(fiber.HeaderXFrameOptions, "DENY")
	c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
	c.Set("X-Robots-Tag", "noindex")
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	return c.SendString(linkPage(rt.Tenant.Name()))
}

// useLink uses a link: a browser session and a redirect to next (when
// allowed) or home; any refusal redirects home with no session.
func (h handlers) useLink(c *fiber.Ctx) error {
	f, err := web.DecodeFields(c)
	if err != nil {
		return refused(c, err)
	}
	// The POST sets the session cookie: a browser must send it from this
	// site (login CSRF), checked before the link is used.
	if err := web.CheckCookieLogin(c, identity.SessionWeb); err != nil {
		return refused(c, err)
	}
	rt := web.Tenant(c.UserContext())
	in, next := presented(c, f)
	out, err := rt.LoginLinks.Consume(c.UserContext(), loginlink.ConsumeInput{Presented: in, Next: next, Client: web.Client(c),
		Captcha: web.CaptchaResponse(f)})
	if err != nil {
		return refused(c, err)
	}
	web.SetSessionCookie(c, h.opts.Dev, out.Credentials.Cookie, out.Credentials.Session.ExpiresAt)
	return c.Redirect(out.Next, fiber.StatusFound)
}

// refused answers a link that signs nobody in: home, unless the server
// could not judge it (the store away, an internal error).
func refused(c *fiber.Ctx, err error) error {
	switch errs.KindOf(err) {
	case errs.Unavailable, errs.Internal:
		return err
	}
	return c.Redirect(loginlink.Home, fiber.StatusFound)
}

// tokenLogin exchanges a user's app token for a browser session: 204 with
// the session cookie, and the session's CSRF token in X-CSRF-Token (the
// header seed 001 uses) for the cookie's unsafe requests.
func (h handlers) tokenLogin(c *fiber.Ctx) error {
	f, err := web.DecodeFields(c)
	if err != nil {
		return err
	}
	if err := web.CheckCookieLogin(c, identity.SessionWeb); err != nil {
		return err
	}
	rt := web.Tenant(c.UserContext())
	out, err := rt.TokenLogin.Login(c.UserContext(), tokenlogin.Input{UserID: f["user"], Token: f["token"], Client: web.Client(c),
		Captcha: web.CaptchaResponse(f)})
	if err != nil {
		return err
	}
	web.SetSessionCookie(c, h.opts.Dev, out.Credentials.Cookie, out.Credentials.Session.ExpiresAt)
	c.Set(web.HeaderCSRF, out.Credentials.CSRFToken)
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Status(fiber.StatusNoContent)
	return nil
}

// csrfReader reads the CSRF token of a cookie-authenticated request as
// Django does: the X-CSRFToken header, the canonical X-CSRF-Token, or the
// csrfmiddlewaretoken field of the body (never the query string).
func csrfReader(body map[string]string) web.CSRFReader {
	return func(c *fiber.Ctx) string {
		return firstNonEmpty(c.Get("X-CSRFToken"), c.Get(web.HeaderCSRF), body["csrfmiddlewaretoken"])
	}
}

// linkPageScript submits the page's form as soon as it is read. It is
// the page's only script, allowed by its hash.
const linkPageScript = `document.getElementById("f").submit();`

// linkPageCSP allows nothing on the page but its one script. No
// form-action: the answer to the form may redirect to an allowed origin.
var linkPageCSP = func() string {
	sum := sha256.Sum256([]byte(linkPageScript))
	return "default-src 'none'; script-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'; frame-ancestors 'none'; base-uri 'none'"
}()

// linkPage is the page a GET of a live link answers. Its form has no
// action: it posts back to the page's own URL, query string included, so
// the page repeats nothing of the request.
func linkPage(tenantName string) string {
	name := html.EscapeString(tenantName)
	var b strings.Builder
	b.WriteString(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="robots" content="noindex"><meta name="referrer" content="no-referrer">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Sign in to `)
	b.WriteString(name)
	b.WriteString(`</title></head>
<body><form id="f" method="post"><p>Signing you in to `)
	b.WriteString(name)
	b.WriteString(`…</p><p><button type="submit">Continue</button></p></form>
<script>`)
	b.WriteString(linkPageScript)
	b.WriteString("</script></body></html>\n")
	return b.String()
}
