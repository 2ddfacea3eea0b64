// Package pages serves the hosted sign-in pages under /auth/: sign in
// (password, SMS code, e-mail code, magic link), register, sign out,
// forgot and reset password, verify e-mail, the second factor and its
// enrolment, and the account page (profile, password, sessions, TOTP).
//
// The pages are plain HTML forms (html/template, assets embedded in the
// binary): every form works without JavaScript, posts back to its page and
// answers with a redirect (POST-redirect-GET) or the page again with its
// errors tied to their fields. Every sign-in ends in the tenant's login
// pipeline, as the API's do. Each page sets a Content-Security-Policy with
// a fresh nonce (no script or inline style without it), frame-ancestors
// 'none' unless the tenant allows origins, Referrer-Policy same-origin (a browser sends Origin: null on a form of a no-referrer page), nosniff and
// no-store. Every form carries a CSRF token (a double-submitted cookie,
// checked with the request's origin). A mailed token (reset, magic link,
// verification) is moved out of the address bar on its first GET, into a
// short-lived cookie and then the form.
//
// Branding (logo, primary colour, support link) and the language (en,
// de, by Accept-Language or the tenant's default) are per tenant.
package pages

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"maps"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"golang.org/x/text/language"

	"github.com/portcullis/portcullis/adapters/http/web"
	"github.com/portcullis/portcullis/domain/errs"
	"github.com/portcullis/portcullis/domain/redirect"
	"github.com/portcullis/portcullis/domain/tenant"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed locales/*.json
var localeFS embed.FS

//go:embed assets/style.css
var styleCSS []byte

// Prefix is where the pages live.
const Prefix = "/auth"

// Options configure the pages.
type Options struct {
	// Dev relaxes the cookies for plain HTTP (no Secure flag, no __Host-
	// prefix), as the API's are.
	Dev bool
	// Logger records internal errors, which a page shows only as a
	// generic message with the request id.
	Logger *slog.Logger
}

// Catalog is one language's messages, by key; "{0}"… stand for a
// message's arguments.
type Catalog map[string]string

// Catalogs returns the embedded message catalogues by language tag; each
// language of tenant.Languages has one, with the same keys.
func Catalogs() (map[string]Catalog, error) {
	out := map[string]Catalog{}
	entries, err := fs.ReadDir(localeFS, "locales")
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		b, err := localeFS.ReadFile("locales/" + e.Name())
		if err != nil {
			return nil, err
		}
		var c Catalog
		if err := json.Unmarshal(b, &c); err != nil {
			return nil, fmt.Errorf("pages: locale %s: %w", e.Name(), err)
		}
		out[strings.TrimSuffix(e.Name(), path.Ext(e.Name()))] = c
	}
	return out, nil
}

// handlers serve the pages.
type handlers struct {
	opts         Options
	pages        map[string]*template.Template
	catalogs     map[string]Catalog
	assetVersion string
}

// pageNames are the templates besides the layout.
var pageNames = []string{"signin", "register", "signout", "forgot", "reset", "verify", "send", "code", "magicprocess", "mfa",
	"enroll", "account", "message"}

// Register adds the pages to r, a router whose requests carry a resolved
// tenant. It panics if the embedded templates or catalogues are broken,
// which a test catches.
func Register(r fiber.Router, opts Options) {
	cats, err := Catalogs()
	if err != nil {
		panic(err)
	}
	h := &handlers{opts: opts, pages: map[string]*template.Template{}, catalogs: cats}
	sum := sha256.Sum256(styleCSS)
	h.assetVersion = hex.EncodeToString(sum[:6])
	for _, name := range pageNames {
		h.pages[name] = template.Must(parsePage(name))
	}
	r.Get(Prefix+"/assets/style.css", h.style)
	get, post := func(p string, fn pageFunc) { r.Get(Prefix+p, h.wrap(fn)) }, func(p string, fn pageFunc) { r.Post(Prefix+p, h.wrap(fn)) }
	get("/", h.signIn)
	post("/", h.signInPost)
	get("/register/", h.register)
	post("/register/", h.registerPost)
	get("/sign-out/", h.signOut)
	post("/sign-out/", h.signOutPost)
	get("/forgot-password/", h.forgot)
	post("/forgot-password/", h.forgotPost)
	get("/forgot-password/process/", h.reset)
	post("/forgot-password/process/", h.resetPost)
	get("/verify-email/process/", h.verify)
	post("/verify-email/process/", h.verifyPost)
	get("/magic-link/", h.magicLink)
	post("/magic-link/", h.magicLinkPost)
	get("/magic-link/process/", h.magicProcess)
	post("/magic-link/process/", h.magicProcessPost)
	get("/sms/", h.codeStart(smsChannel))
	post("/sms/", h.codeSend(smsChannel))
	post("/sms/verify/", h.codeVerify(smsChannel))
	get("/email-code/", h.codeStart(emailChannel))
	post("/email-code/", h.codeSend(emailChannel))
	post("/email-code/verify/", h.codeVerify(emailChannel))
	get("/second-factor/", h.secondFactor)
	post("/second-factor/", h.secondFactorPost)
	get("/enroll-totp/", h.enroll)
	post("/enroll-totp/", h.enrollPost)
	get("/account/", h.account)
	post("/account/name/", h.accountName)
	post("/account/password/", h.accountPassword)
	post("/account/sessions/revoke/", h.accountRevoke)
	post("/account/totp/disable/", h.accountTOTPDisable)
	post("/account/backup-codes/", h.accountBackupCodes)
}

// parsePage parses the page name with the layout.
func parsePage(name string) (*template.Template, error) {
	return template.New(name).ParseFS(templateFS, "templates/layout.html", "templates/"+name+".html")
}

// style serves the stylesheet; its URL carries a digest of it, so it may
// be cached for long.
func (h *handlers) style(c *fiber.Ctx) error {
	c.Set(fiber.HeaderContentType, "text/css; charset=utf-8")
	c.Set(fiber.HeaderCacheControl, "public, max-age=31536000, immutable")
	c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
	return c.Send(styleCSS)
}

// pageFunc handles one page request with its view prepared.
type pageFunc func(c *fiber.Ctx, v *view) error

// wrap prepares every page request: the tenant's pages must be on, the
// request well-formed; the view gets the language, brand, nonce and CSRF
// token, and the response its security headers. An error the handler
// returns renders the message page with the error's status.
func (h *handlers) wrap(fn pageFunc) fiber.Handler {
	return func(c *fiber.Ctx) error {
		rt := web.Tenant(c.UserContext())
		if rt == nil || !rt.Tenant.Pages.Enabled {
			return errs.ErrNotFound
		}
		v, err := h.newView(c, rt)
		if err != nil {
			return err
		}
		if err := web.CheckRequest(c); err != nil {
			return h.fail(c, v, err)
		}
		if err := fn(c, v); err != nil {
			return h.fail(c, v, err)
		}
		return nil
	}
}

// fail renders err on the message page: its status, a message that says
// what to do next. Internal errors are logged by the platform's handler
// only as a generic message here.
func (h *handlers) fail(c *fiber.Ctx, v *view, err error) error {
	e := web.FromError(err)
	if e.Kind == errs.Internal && h.opts.Logger != nil {
		h.opts.Logger.Error("internal error", "request_id", web.RequestID(c.UserContext()), "method", c.Method(), "path", web.LogPath(c), "error", err)
	}
	v.Title, v.Error = "signin.title", v.errorText(e)
	if e.Kind == errs.NotFound {
		v.Title, v.Error = "error.not_found", ""
	}
	web.SetRetryAfter(c, e)
	return h.render(c, web.StatusOf(e), "message", v)
}

// render writes the page name with v and status.
func (h *handlers) render(c *fiber.Ctx, status int, name string, v *view) error {
	var buf bytes.Buffer
	if err := h.pages[name].ExecuteTemplate(&buf, "layout", v); err != nil {
		return fmt.Errorf("pages: render %s: %w", name, err)
	}
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	return c.Status(status).Send(buf.Bytes())
}

// seeOther answers a form with 303 to target (POST-redirect-GET).
func seeOther(c *fiber.Ctx, target string) error {
	c.Set(fiber.HeaderLocation, target)
	return c.SendStatus(fiber.StatusSeeOther)
}

// newView prepares what every page shows and sets the response's security
// headers.
func (h *handlers) newView(c *fiber.Ctx, rt *web.TenantServices) (*view, error) {
	t := rt.Tenant
	nonce, err := randomToken(18)
	if err != nil {
		return nil, err
	}
	lang := h.language(c, t.Pages)
	v := &view{
		Lang: lang, Nonce: nonce, AssetVersion: h.assetVersion, own: t.Pages.Messages[lang], cat: h.catalogs[lang], fallback: h.catalogs["en"],
		Brand:   brand{Name: t.Name(), Logo: t.Pages.LogoURL, Support: t.Pages.SupportURL, Color: t.BrandColor()},
		Methods: methods{Password: t.Enabled(tenant.MethodPassword), SMS: t.Enabled(tenant.MethodSMSOTP), Email: t.Enabled(tenant.MethodEmailLink), TOTP: t.Enabled(tenant.MethodTOTP)},
		values:  map[string]string{}, errors: map[string]string{},
	}
	if next := c.Query("next"); next != "" {
		if target, ok := redirect.Check(next, t.Redirects); ok {
			v.Next = target
		}
	}
	if c.Method() == fiber.MethodPost {
		if next := c.FormValue("next"); next != "" {
			if target, ok := redirect.Check(next, t.Redirects); ok {
				v.Next = target
			}
		}
	}
	v.CSRF, err = h.csrfToken(c)
	if err != nil {
		return nil, err
	}
	h.securityHeaders(c, t, v)
	return v, nil
}

// language picks the page's language from Accept-Language among those
// the tenant's pages speak (the catalogues and its own messages), else the
// tenant's default.
func (h *handlers) language(c *fiber.Ctx, p tenant.Pages) string {
	names := []string{p.DefaultLanguage}
	for _, l := range tenant.Languages {
		if _, ok := h.catalogs[l]; ok && l != p.DefaultLanguage {
			names = append(names, l)
		}
	}
	for _, l := range slices.Sorted(maps.Keys(p.Messages)) {
		if !slices.Contains(names, l) {
			names = append(names, l)
		}
	}
	accept := c.Get(fiber.HeaderAcceptLanguage)
	if accept == "" {
		return names[0]
	}
	want, _, err := language.ParseAcceptLanguage(accept)
	if err != nil || len(want) == 0 {
		return names[0]
	}
	tags := make([]language.Tag, len(names))
	for i, n := range names {
		tags[i] = language.Make(n)
	}
	_, i, conf := language.NewMatcher(tags).Match(want...)
	if conf == language.No {
		return names[0]
	}
	return names[i]
}

// securityHeaders sets the page's Content-Security-Policy (scripts and
// inline styles only with the nonce, forms only to this origin and the
// tenant's allowed redirect origins, frames only by its frame_ancestors)
// and the headers every page has.
func (h *handlers) securityHeaders(c *fiber.Ctx, t tenant.Tenant, v *view) {
	frame := "'none'"
	if len(t.Pages.FrameAncestors) > 0 {
		frame = strings.Join(t.Pages.FrameAncestors, " ")
	} else {
		c.Set(fiber.HeaderXFrameOptions, "DENY")
	}
	forms := []string{"'self'"}
	for _, a := range t.Redirects.Allow {
		if strings.HasPrefix(a, "http://") || strings.HasPrefix(a, "https://") {
			forms = append(forms, strings.TrimSuffix(a, "/"))
		}
	}
	script, frames := "'nonce-"+v.Nonce+"'", "'none'"
	if w := captchaWidget(t); w != nil {
		script += " " + w.Origins
		frames = w.Origins
	}
	csp := "default-src 'none'; script-src " + script + "; style-src 'self' 'nonce-" + v.Nonce + "'; img-src 'self' data: https:; " +
		"connect-src 'self'; frame-src " + frames + "; form-action " + strings.Join(forms, " ") + "; frame-ancestors " + frame +
		"; base-uri 'none'"
	c.Set(fiber.HeaderContentSecurityPolicy, csp)
	c.Set(fiber.HeaderReferrerPolicy, "same-origin")
	c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Set("Cross-Origin-Opener-Policy", "same-origin")
}

// The cookies of the pages. Outside dev mode each has the __Host- prefix
// (Secure, Path=/, no Domain), like the session cookie.
const (
	cookieCSRF      = "portcullis_csrf"      // the double-submitted CSRF token
	cookieFlow      = "portcullis_flow"      // a mailed token, out of the address bar
	cookieChallenge = "portcullis_challenge" // a second step's token (MFA or enrolment)
)

func (h *handlers) cookieName(name string) string {
	if h.opts.Dev {
		return name
	}
	return "__Host-" + name
}

func (h *handlers) setCookie(c *fiber.Ctx, name, value string, ttl time.Duration) {
	c.Cookie(&fiber.Cookie{Name: h.cookieName(name), Value: value, Path: "/", MaxAge: int(ttl / time.Second), Expires: time.Now().Add(ttl),
		HTTPOnly: true, Secure: !h.opts.Dev, SameSite: fiber.CookieSameSiteLaxMode})
}

func (h *handlers) clearCookie(c *fiber.Ctx, name string) {
	c.Cookie(&fiber.Cookie{Name: h.cookieName(name), Value: "", Path: "/", MaxAge: -1, Expires: time.Unix(0, 0),
		HTTPOnly: true, Secure: !h.opts.Dev, SameSite: fiber.CookieSameSiteLaxMode})
}

func (h *handlers) cookie(c *fiber.Ctx, name string) string {
	return string([]byte(c.Cookies(h.cookieName(name))))
}

// csrfTTL is how long a browser keeps its CSRF token.
const csrfTTL = 12 * time.Hour

// csrfToken returns the browser's CSRF token, minting and setting one when
// it has none (or one not of our form).
func (h *handlers) csrfToken(c *fiber.Ctx) (string, error) {
	if v := h.cookie(c, cookieCSRF); len(v) == 43 {
		return v, nil
	}
	v, err := randomToken(32)
	if err != nil {
		return "", err
	}
	h.setCookie(c, cookieCSRF, v, csrfTTL)
	return v, nil
}

// errCSRF answers a form whose token or origin is wrong: the form is shown
// again, with a fresh token, to be sent once more.
var errCSRF = errs.E(errs.Forbidden, "csrf_failed", "This form has expired. Please try again.")

// checkForm refuses a POST whose csrf_token is not the browser's cookie,
// or which came from another site.
func (h *handlers) checkForm(c *fiber.Ctx) error {
	rt := web.Tenant(c.UserContext())
	cookie, sent := h.cookie(c, cookieCSRF), c.FormValue("csrf_token")
	if len(cookie) != 43 || subtle.ConstantTimeCompare([]byte(cookie), []byte(sent)) != 1 || !web.SameOrigin(c, rt.Tenant.Redirects.Allow) {
		return errCSRF
	}
	return nil
}

func randomToken(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("pages: random: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// afterSignIn is where a sign-in sends the browser: next when allowed,
// else the account page.
func afterSignIn(v *view) string {
	if v.Next != "" {
		return v.Next
	}
	return Prefix + "/account/"
}

// withNext returns p with the view's next as its query.
func withNext(p string, v *view) string { return p + v.NextQuery() }
