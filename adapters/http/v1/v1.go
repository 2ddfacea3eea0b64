// Package v1 is the canonical JSON API under /auth/v1: register, login
// (by password, SMS code, e-mail code or magic link), token refresh,
// logout, the current user and their sessions, address verification and
// password reset. It only translates HTTP to use-case calls; openapi.json
// describes it.
//
// The routes a tenant's CAPTCHA may guard (register, login, the SMS and
// e-mail sign-in routes, forgot) take the client's response in the JSON
// member captcha, or under the name the provider's widget gives it
// (g-recaptcha-response, h-captcha-response, cf-turnstile-response); GET
// /captcha tells a client which widget to render and where.
//
// Every login route takes a guest's local cart and wishlist too
// (web.LocalFields, read before any work); a storefront's login answer
// carries the merge (loginBody), and /cart and /wishlist read and replace
// the signed-in user's (storefront.go).
package v1

import (
	_ "embed"
	"errors"
	"maps"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/portcullis/portcullis/adapters/http/web"
	"github.com/portcullis/portcullis/application/device"
	"github.com/portcullis/portcullis/application/emaillogin"
	"github.com/portcullis/portcullis/application/login"
	"github.com/portcullis/portcullis/application/password"
	"github.com/portcullis/portcullis/application/recovery"
	"github.com/portcullis/portcullis/application/session"
	"github.com/portcullis/portcullis/application/smslogin"
	"github.com/portcullis/portcullis/application/verification"
	"github.com/portcullis/portcullis/domain/errs"
	"github.com/portcullis/portcullis/domain/identity"
	"github.com/portcullis/portcullis/domain/link"
)

// Prefix is where the API lives.
const Prefix = "/auth/v1"

//go:embed openapi.json
var openAPI []byte

// OpenAPI returns the API description served at /auth/v1/openapi.json.
func OpenAPI() []byte { return openAPI }

// Options configure the surface.
type Options struct {
	// Dev relaxes the session cookie for plain HTTP (no Secure flag, no
	// __Host- prefix).
	Dev bool
}

// Register adds the routes to r, a router whose requests carry a resolved
// tenant.
func Register(r fiber.Router, opts Options) {
	h := handlers{opts: opts}
	g := r.Group(Prefix, web.Guard)
	g.Get("/openapi.json", web.ServeDocument(openAPI))
	g.Get("/captcha", h.captcha)
	g.Post("/register", h.register)
	g.Post("/login", h.login)
	g.Post("/sms/send", h.smsSend)
	g.Post("/sms/verify", h.smsVerify)
	// The e-mail flows. Every GET below only confirms its token (a mail
	// scanner's fetch, a prefetch, a HEAD, which Fiber serves with the GET
	// handler): only a POST uses a token up.
	g.Post("/email/verification", h.emailVerification)
	g.Post("/email/verify", h.emailVerify)
	g.Get("/email/verify", h.emailVerifyCheck)
	g.Post("/password/forgot", h.passwordForgot)
	g.Post("/password/reset/validate", h.passwordResetValidate)
	g.Post("/password/reset", h.passwordReset)
	g.Get("/password/reset", h.passwordResetCheck)
	g.Post("/email/code/send", h.emailCodeSend)
	g.Post("/email/code/verify", h.emailCodeVerify)
	g.Post("/magic-link/send", h.magicLinkSend)
	g.Get("/magic-link", h.magicLinkCheck)
	g.Post("/magic-link/consume", h.magicLinkConsume)
	g.Post("/token/refresh", h.refresh)
	g.Post("/logout", h.logout)
	g.Get("/me", h.me)
	g.Get("/sessions", h.sessions)
	g.Post("/sessions/revoke-others", h.revokeOthers)
	g.Delete("/sessions/:id", h.revokeSession)
	h.registerProfile(g)
	h.registerMFA(g)
	h.registerStorefront(g)
}

type handlers struct{ opts Options }

func tenantOf(c *fiber.Ctx) *web.TenantServices { return web.Tenant(c.UserContext()) }

type registerRequest struct {
	Email     string `json:"email"`
	Password  string `json:"password"`
	FirstName string `json:"first_name"`
	LastName  string `json:"last_name"`
	Phone     string `json:"phone"`
	web.CaptchaFields
}

// registerAccepted is the answer to every valid registration, whether the
// address was new or taken: the response must not tell them apart.
var registerAccepted = fiber.Map{
	"status": "accepted",
	"detail": "If this address can be registered, the account now exists and you can sign in. If it already had an account, its owner has been told by e-mail.",
}

func (h handlers) register(c *fiber.Ctx) error {
	var req registerRequest
	if err := web.DecodeJSON(c, &req); err != nil {
		return err
	}
	_, err := tenantOf(c).Passwords.Register(c.UserContext(), password.RegisterInput{
		Profile:  identity.Profile{Email: req.Email, FirstName: req.FirstName, LastName: req.LastName, Phone: req.Phone},
		Password: req.Password,
		Client:   web.Client(c),
		Captcha:  req.Response(),
	})
	// A taken address or phone number answers like a new account: the
	// response must not tell who has an account.
	if err != nil && !errors.Is(err, identity.ErrEmailTaken) && !errors.Is(err, identity.ErrPhoneTaken) {
		return err
	}
	return c.Status(fiber.StatusAccepted).JSON(registerAccepted)
}

type loginRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
	// Session selects the credential: "bearer" (default: access JWT and
	// refresh token), "cookie" (browser session) or "app" (app token).
	Session string `json:"session"`
	// DeviceToken is the device_token of an earlier login, for clients
	// that keep no cookie; without it the device cookie is read.
	DeviceToken string `json:"device_token"`
	web.CaptchaFields
	// The guest's local cart and wishlist, merged by a storefront.
	web.LocalFields
}

func (h handlers) login(c *fiber.Ctx) error {
	var req loginRequest
	if err := web.DecodeJSON(c, &req); err != nil {
		return err
	}
	local, err := req.Local()
	if err != nil {
		return err
	}
	kind, err := sessionKind(c, req.Session)
	if err != nil {
		return err
	}
	deviceToken := req.DeviceToken
	if deviceToken == "" {
		deviceToken = web.DeviceToken(c, h.opts.Dev)
	}
	out, err := tenantOf(c).Passwords.Login(c.UserContext(), password.LoginInput{Email: req.Email, Password: req.Password, Kind: kind,
		Client: web.Client(c), DeviceToken: deviceToken, Captcha: req.Response(), Local: local})
	if err != nil {
		return err
	}
	return c.JSON(h.loginBody(c, out.Outcome, out.Device))
}

// sessionKind reads the session a login asks for: "bearer" (the default),
// "cookie" or "app"; a cookie login must come from the tenant's own site.
func sessionKind(c *fiber.Ctx, session string) (identity.SessionKind, error) {
	kind := identity.SessionAPI
	switch session {
	case "", "bearer":
	case "cookie":
		kind = identity.SessionWeb
	case "app":
		kind = identity.SessionApp
	default:
		return "", errs.InvalidFields(errs.FieldError{Field: "session", Reason: `must be "bearer", "cookie" or "app"`})
	}
	return kind, web.CheckCookieLogin(c, kind)
}

type smsSendRequest struct {
	Phone string `json:"phone"`
	web.CaptchaFields
}

// smsAccepted is the answer to every well-formed code request, whether or
// not the number has an account: the response must not tell them apart.
var smsAccepted = fiber.Map{
	"status": "accepted",
	"detail": "If this number belongs to an account, a sign-in code is on its way by SMS.",
}

// smsSend asks for a code. The same answer and the same work for every
// number: the code is delivered in the background, and only to an
// account's number.
func (h handlers) smsSend(c *fiber.Ctx) error {
	var req smsSendRequest
	if err := web.DecodeJSON(c, &req); err != nil {
		return err
	}
	if err := tenantOf(c).SMS.Send(c.UserContext(), smslogin.SendInput{Phone: req.Phone, Client: web.Client(c), Captcha: req.Response()}); err != nil {
		return err
	}
	return c.Status(fiber.StatusAccepted).JSON(smsAccepted)
}

type smsVerifyRequest struct {
	Phone   string `json:"phone"`
	Code    string `json:"code"`
	Session string `json:"session"`
	web.CaptchaFields
	web.LocalFields
}

// smsVerify signs in with a code: the answer of /auth/v1/login.
func (h handlers) smsVerify(c *fiber.Ctx) error {
	var req smsVerifyRequest
	if err := web.DecodeJSON(c, &req); err != nil {
		return err
	}
	local, err := req.Local()
	if err != nil {
		return err
	}
	kind, err := sessionKind(c, req.Session)
	if err != nil {
		return err
	}
	out, err := tenantOf(c).SMS.Verify(c.UserContext(), smslogin.VerifyInput{Phone: req.Phone, Code: req.Code, Kind: kind, Client: web.Client(c),
		Captcha: req.Response(), Local: local})
	if err != nil {
		return err
	}
	return c.JSON(h.loginBody(c, out, device.Credential{}))
}

// loginBody is a login answer (credentialsBody) and, for a storefront,
// the cart and wishlist after the guest's were merged in: cart, wishlist,
// dropped and merge_pending (web.MergeJSON).
func (h handlers) loginBody(c *fiber.Ctx, out login.Outcome, dev device.Credential) fiber.Map {
	body := h.credentialsBody(c, out.User, out.Credentials, dev)
	if out.Storefront != nil {
		maps.Copy(body, web.MergeJSON(*out.Storefront))
	}
	return body
}

// credentials writes a login or refresh answer (credentialsBody).
func (h handlers) credentials(c *fiber.Ctx, u identity.User, creds session.Credentials, dev device.Credential) error {
	return c.JSON(h.credentialsBody(c, u, creds, dev))
}

// credentialsBody is a login or refresh answer: the user, the session and
// its credential; it sets the session cookie of a cookie login and
// Cache-Control: no-store. A login's device credential goes in the body
// (device_token, device_expires_at) and the device cookie.
func (h handlers) credentialsBody(c *fiber.Ctx, u identity.User, creds session.Credentials, dev device.Credential) fiber.Map {
	c.Set(fiber.HeaderCacheControl, "no-store")
	out := fiber.Map{"user": userJSON(u), "session": sessionJSON(creds.Session, creds.Session.ID)}
	if dev.Token != "" {
		web.SetDeviceCookie(c, h.opts.Dev, dev)
		out["device_token"] = dev.Token
		out["device_expires_at"] = web.TimeOrNil(dev.ExpiresAt)
	}
	switch creds.Session.Kind {
	case identity.SessionAPI:
		now := time.Now()
		out["token_type"] = "Bearer"
		out["access_token"] = creds.AccessToken
		out["expires_in"] = int(creds.AccessExpiresAt.Sub(now).Round(time.Second).Seconds())
		out["refresh_token"] = creds.RefreshToken
		out["refresh_expires_in"] = int(creds.RefreshExpiresAt.Sub(now).Round(time.Second).Seconds())
	case identity.SessionApp:
		out["token_type"] = "Token"
		out["app_token"] = creds.AppToken
	case identity.SessionWeb:
		web.SetSessionCookie(c, h.opts.Dev, creds.Cookie, creds.Session.ExpiresAt)
		out["csrf_token"] = creds.CSRFToken
	}
	return out
}

// The e-mail flows. Every answer is Cache-Control: no-store: each either
// carries a credential or says something about a token.

// emailRequest is the body of the routes that take an address.
type emailRequest struct {
	Email string `json:"email"`
}

// emailSendRequest is the body of the routes that mail an address
// something a CAPTCHA may guard (a reset link, a sign-in code).
type emailSendRequest struct {
	Email string `json:"email"`
	web.CaptchaFields
}

// tokenRequest is the body of the routes that take a mailed token.
type tokenRequest struct {
	Token string `json:"token"`
}

// Answers to every well-formed request that mails something, whether or
// not the address has an account: the response must not tell them apart.
var (
	verificationAccepted = fiber.Map{
		"status": "accepted",
		"detail": "If this address belongs to an account that is not verified yet, a verification link is on its way.",
	}
	forgotAccepted = fiber.Map{
		"status": "accepted",
		"detail": "If this address belongs to an account, a link to set a new password is on its way.",
	}
	emailCodeAccepted = fiber.Map{
		"status": "accepted",
		"detail": "If this address belongs to an account, a sign-in code is on its way by e-mail.",
	}
	magicLinkAccepted = fiber.Map{
		"status": "accepted",
		"detail": "If this address belongs to an account, a sign-in link is on its way by e-mail.",
	}
)

// validToken is the answer of a GET that confirmed a token.
var validToken = fiber.Map{"valid": true}

func noStore(c *fiber.Ctx) { c.Set(fiber.HeaderCacheControl, "no-store") }

// accepted writes the 202 of a request that mails something.
func accepted(c *fiber.Ctx, body fiber.Map) error {
	noStore(c)
	return c.Status(fiber.StatusAccepted).JSON(body)
}

// emailVerification mails a verification link to an address typed in.
func (h handlers) emailVerification(c *fiber.Ctx) error {
	noStore(c)
	var req emailRequest
	if err := web.DecodeJSON(c, &req); err != nil {
		return err
	}
	if err := tenantOf(c).Verification.Resend(c.UserContext(), verification.ResendInput{Email: req.Email, Client: web.Client(c), Paths: link.Canonical}); err != nil {
		return err
	}
	return accepted(c, verificationAccepted)
}

// emailVerifyRequest is the body of POST /email/verify: the token of the
// mailed link, or the address and the code of the mail.
type emailVerifyRequest struct {
	Token string `json:"token"`
	Email string `json:"email"`
	Code  string `json:"code"`
}

// emailVerify uses a verification token, or a verification code with its
// address: the address is verified.
func (h handlers) emailVerify(c *fiber.Ctx) error {
	noStore(c)
	var req emailVerifyRequest
	if err := web.DecodeJSON(c, &req); err != nil {
		return err
	}
	u, err := tenantOf(c).Verification.Submit(c.UserContext(), verification.Submission{Token: req.Token, Email: req.Email, Code: req.Code})
	if err != nil {
		return err
	}
	return c.JSON(struct {
		User userBody `json:"user"`
	}{userJSON(u)})
}

// emailVerifyCheck is the mailed link opened: it confirms the token and
// never uses it.
func (h handlers) emailVerifyCheck(c *fiber.Ctx) error {
	noStore(c)
	if err := tenantOf(c).Verification.Check(c.UserContext(), c.Query("token")); err != nil {
		return err
	}
	return c.JSON(validToken)
}

// passwordForgot mails a reset link; the links are built on the tenant's
// base URL, never on the request's Host.
func (h handlers) passwordForgot(c *fiber.Ctx) error {
	noStore(c)
	var req emailSendRequest
	if err := web.DecodeJSON(c, &req); err != nil {
		return err
	}
	if err := tenantOf(c).Recovery.Forgot(c.UserContext(), recovery.ForgotInput{Email: req.Email, Client: web.Client(c), Paths: link.Canonical,
		Captcha: req.Response()}); err != nil {
		return err
	}
	return accepted(c, forgotAccepted)
}

// passwordResetValidate confirms a reset token without using it.
func (h handlers) passwordResetValidate(c *fiber.Ctx) error {
	noStore(c)
	var req tokenRequest
	if err := web.DecodeJSON(c, &req); err != nil {
		return err
	}
	if err := tenantOf(c).Recovery.Validate(c.UserContext(), req.Token); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

// passwordResetCheck is the mailed link opened: like validate, and never
// uses the token.
func (h handlers) passwordResetCheck(c *fiber.Ctx) error {
	noStore(c)
	if err := tenantOf(c).Recovery.Validate(c.UserContext(), c.Query("token")); err != nil {
		return err
	}
	return c.JSON(validToken)
}

type passwordResetRequest struct {
	Token    string `json:"token"`
	Password string `json:"password"`
}

// passwordReset sets a new password with a reset token; every session of
// the user ends.
func (h handlers) passwordReset(c *fiber.Ctx) error {
	noStore(c)
	var req passwordResetRequest
	if err := web.DecodeJSON(c, &req); err != nil {
		return err
	}
	if _, err := tenantOf(c).Recovery.Reset(c.UserContext(), recovery.ResetInput{Token: req.Token, Password: req.Password, Client: web.Client(c)}); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

// emailCodeSend asks for a sign-in code by e-mail.
func (h handlers) emailCodeSend(c *fiber.Ctx) error {
	noStore(c)
	var req emailSendRequest
	if err := web.DecodeJSON(c, &req); err != nil {
		return err
	}
	if err := tenantOf(c).EmailLogin.SendCode(c.UserContext(), emaillogin.SendInput{Email: req.Email, Client: web.Client(c),
		Captcha: req.Response()}); err != nil {
		return err
	}
	return accepted(c, emailCodeAccepted)
}

type emailCodeVerifyRequest struct {
	Email   string `json:"email"`
	Code    string `json:"code"`
	Session string `json:"session"`
	web.CaptchaFields
	web.LocalFields
}

// emailCodeVerify signs in with a mailed code: the answer of
// /auth/v1/login.
func (h handlers) emailCodeVerify(c *fiber.Ctx) error {
	noStore(c)
	var req emailCodeVerifyRequest
	if err := web.DecodeJSON(c, &req); err != nil {
		return err
	}
	local, err := req.Local()
	if err != nil {
		return err
	}
	kind, err := sessionKind(c, req.Session)
	if err != nil {
		return err
	}
	out, err := tenantOf(c).EmailLogin.VerifyCode(c.UserContext(), emaillogin.VerifyInput{Email: req.Email, Code: req.Code, Kind: kind,
		Client: web.Client(c), Captcha: req.Response(), Local: local})
	if err != nil {
		return err
	}
	return c.JSON(h.loginBody(c, out, device.Credential{}))
}

type magicLinkSendRequest struct {
	Email string `json:"email"`
	Next  string `json:"next"`
	web.CaptchaFields
}

// magicLinkSend asks for a sign-in link by e-mail. When the tenant binds
// links to the browser that asked (email.same_device), the browser gets
// the binding cookie here and the link opens only where it is presented.
func (h handlers) magicLinkSend(c *fiber.Ctx) error {
	noStore(c)
	var req magicLinkSendRequest
	if err := web.DecodeJSON(c, &req); err != nil {
		return err
	}
	in := emaillogin.LinkInput{Email: req.Email, Next: req.Next, Client: web.Client(c), Paths: link.Canonical, Captcha: req.Response()}
	if err := web.SendMagicLink(c, h.opts.Dev, tenantOf(c).EmailLogin, in); err != nil {
		return err
	}
	return accepted(c, magicLinkAccepted)
}

// magicLinkCheck is the mailed link opened: it confirms the token and
// shows what the sign-in will be, and never uses the token up, whoever
// fetches it and however (GET, HEAD, no cookies).
func (h handlers) magicLinkCheck(c *fiber.Ctx) error {
	noStore(c)
	info, err := tenantOf(c).EmailLogin.ConfirmLink(c.UserContext(), c.Query("token"))
	if err != nil {
		return err
	}
	out := fiber.Map{"valid": true, "email": info.Email, "expires_at": web.TimeOrNil(info.ExpiresAt), "next": nil}
	if info.Next != "" {
		out["next"] = info.Next
	}
	return c.JSON(out)
}

type magicLinkConsumeRequest struct {
	Token   string `json:"token"`
	Session string `json:"session"`
	web.CaptchaFields
	web.LocalFields
}

// magicLinkConsume uses a magic link up and signs in: the answer of
// /auth/v1/login, with "next" when the link was asked for with one. The
// binding cookie is always passed on: a link bound when it was asked for
// stays bound, whatever the tenant's setting is by now.
func (h handlers) magicLinkConsume(c *fiber.Ctx) error {
	noStore(c)
	var req magicLinkConsumeRequest
	if err := web.DecodeJSON(c, &req); err != nil {
		return err
	}
	local, err := req.Local()
	if err != nil {
		return err
	}
	kind, err := sessionKind(c, req.Session)
	if err != nil {
		return err
	}
	out, err := tenantOf(c).EmailLogin.ConsumeLink(c.UserContext(), emaillogin.ConsumeInput{Token: req.Token, Kind: kind,
		Client: web.Client(c), Device: web.MagicLinkDevice(c, h.opts.Dev), Captcha: req.Response(), Local: local})
	if err != nil {
		return err
	}
	body := h.loginBody(c, out.Outcome, device.Credential{})
	if out.Next != "" {
		body["next"] = out.Next
	}
	return c.JSON(body)
}

// captcha tells a client which CAPTCHA widget the tenant renders and when
// each route asks for a solved one: {"provider", "site_key" (null without
// a provider), "required": {route: "off" | "always" | "after_failures"}}.
// It is public: the site key is what the page renders the widget with.
func (h handlers) captcha(c *fiber.Ctx) error {
	d := tenantOf(c).Captcha.Describe()
	required := make(map[string]string, len(d.Modes))
	for r, m := range d.Modes {
		required[string(r)] = string(m)
	}
	var provider, siteKey any
	if d.Widget.Provider != "" {
		provider, siteKey = string(d.Widget.Provider), d.Widget.SiteKey
	}
	c.Set(fiber.HeaderCacheControl, "no-cache")
	return c.JSON(fiber.Map{"provider": provider, "site_key": siteKey, "required": required})
}

type refreshRequest struct {
	RefreshToken string `json:"refresh_token"`
}

func (h handlers) refresh(c *fiber.Ctx) error {
	var req refreshRequest
	if err := web.DecodeJSON(c, &req); err != nil {
		return err
	}
	if req.RefreshToken == "" {
		return errs.InvalidFields(errs.FieldError{Field: "refresh_token", Reason: "is required"})
	}
	u, creds, err := tenantOf(c).Sessions.Refresh(c.UserContext(), req.RefreshToken)
	if err != nil {
		return err
	}
	return h.credentials(c, u, creds, device.Credential{})
}

func (h handlers) principal(c *fiber.Ctx) (session.Principal, error) {
	return web.Authenticate(c, tenantOf(c), h.opts.Dev, nil)
}

func (h handlers) logout(c *fiber.Ctx) error {
	if err := web.Logout(c, tenantOf(c), h.opts.Dev, nil); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

func (h handlers) me(c *fiber.Ctx) error {
	p, err := h.principal(c)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(struct {
		User userBody `json:"user"`
	}{userJSON(p.User)})
}

func (h handlers) sessions(c *fiber.Ctx) error {
	p, err := h.principal(c)
	if err != nil {
		return err
	}
	list, err := tenantOf(c).Sessions.Sessions(c.UserContext(), p)
	if err != nil {
		return err
	}
	out := make([]fiber.Map, len(list))
	for i, s := range list {
		out[i] = sessionJSON(s, p.Session.ID)
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(fiber.Map{"sessions": out})
}

func (h handlers) revokeSession(c *fiber.Ctx) error {
	p, err := h.principal(c)
	if err != nil {
		return err
	}
	if err := tenantOf(c).Sessions.RevokeSession(c.UserContext(), p, c.Params("id")); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

func (h handlers) revokeOthers(c *fiber.Ctx) error {
	p, err := h.principal(c)
	if err != nil {
		return err
	}
	n, err := tenantOf(c).Sessions.RevokeOtherSessions(c.UserContext(), p)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"revoked": n})
}

// userBody is a user as the API shows it.
type userBody struct {
	ID            string `json:"id"`
	Email         string `json:"email"`
	FirstName     string `json:"first_name"`
	LastName      string `json:"last_name"`
	Phone         string `json:"phone"`
	PhoneVerified bool   `json:"phone_verified"`
	Role          string `json:"role"`
	EmailVerified bool   `json:"email_verified"`
	CreatedAt     any    `json:"created_at"`
	LastLoginAt   any    `json:"last_login_at"`
	// ProfilePhoto is a URL or ""; PreferredLanguage a client's language
	// name ("ENGLISH") or "" when not set.
	ProfilePhoto      string `json:"profile_photo"`
	PreferredLanguage string `json:"preferred_language"`
}

func userJSON(u identity.User) userBody {
	return userBody{ID: u.ID, Email: u.Email, FirstName: u.FirstName, LastName: u.LastName, Phone: u.Phone, PhoneVerified: u.PhoneVerified,
		Role: string(u.Role), EmailVerified: u.EmailVerified, CreatedAt: web.TimeOrNil(u.CreatedAt), LastLoginAt: web.TimeOrNil(u.LastLoginAt),
		ProfilePhoto: u.ProfilePhoto, PreferredLanguage: u.PreferredLanguage}
}

func sessionJSON(s identity.Session, current string) fiber.Map {
	return fiber.Map{
		"id": s.ID, "kind": string(s.Kind), "created_at": web.TimeOrNil(s.CreatedAt), "last_seen_at": web.TimeOrNil(s.LastSeenAt),
		"expires_at": web.TimeOrNil(s.ExpiresAt), "ip": s.IP, "user_agent": s.UserAgent, "amr": s.AMR, "current": s.ID == current,
	}
}
