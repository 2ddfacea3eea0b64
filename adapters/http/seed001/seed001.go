// Package seed001 serves the seed 001 compatibility profile: login,
// register, logout and current user under a per-tenant URI prefix
// ({prefix}/user/login/ ...), and the original's account routes (address
// verification, password reset, magic links, profile changes, active
// sessions, TOTP: see routes), with that system's fields and its error body
// {"detail", "status" (a string), "title", "code"}. Paths are accepted with
// and without the trailing slash. The profile is switched on per tenant
// (profiles.seed001.enabled, profiles.seed001.prefix).
//
// A client asks for app-token authentication (the "session" object
// {"id", "key"} in the answer, then Authorization: Token <key>) as the
// original does, with the header X-Requested-By set to anything but "web"
// (its documentation uses "mobile_app"), or with "X-Auth-Mode: app-token";
// without either the login sets the browser session cookie.
//
// The routes a tenant's CAPTCHA may guard (login/, register/,
// forgot_password/request/, magic_link/request/, magic_link/consume/)
// take the client's response in the member captcha or under its widget's
// name (g-recaptcha-response, h-captcha-response, cf-turnstile-response);
// a CAPTCHA asked for and missing is 400 CaptchaRequired, one refused 400
// InvalidCaptcha, in the profile's error body.
package seed001

import (
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"

	"github.com/portcullis/portcullis/adapters/http/web"
	"github.com/portcullis/portcullis/application/login"
	"github.com/portcullis/portcullis/application/password"
	"github.com/portcullis/portcullis/application/session"
	"github.com/portcullis/portcullis/domain/errs"
	"github.com/portcullis/portcullis/domain/identity"
	"github.com/portcullis/portcullis/domain/link"
)

// Headers that select app-token authentication: HeaderRequestedBy with any
// value but "web" (the original system's client mode), or HeaderAuthMode
// with the value "app-token".
const (
	HeaderRequestedBy = "X-Requested-By"
	HeaderAuthMode    = "X-Auth-Mode"
)

// Options configure the surface.
type Options struct {
	Dev bool
}

// route is one of the profile's routes: its method, its handler and, when
// it renders some codes otherwise, its error table (nil: errorTable).
type route struct {
	method string
	handle func(handlers, *fiber.Ctx) error
	errors *web.ErrorTable
}

// routes are the profile's routes by their path under {prefix}/user/,
// without the trailing slash (both forms are served).
var routes = map[string]route{
	// A user with TOTP on signs in with code (a TOTP or backup code) sent
	// with the first factor: without it TOTPRequired, wrong TOTPIncorrect
	// (errorTable).
	"login":  {fiber.MethodPost, handlers.login, nil},
	"logout": {fiber.MethodPost, handlers.logout, nil},
	"me":     {fiber.MethodGet, handlers.me, nil},

	// The original's register view answers every input it refuses with
	// InvalidRegistrationInfo, 400: malformed body or fields, a password
	// the policy refuses, an address already in use (shown as a field
	// error on email, like the other refused fields).
	"register": {fiber.MethodPost, handlers.register, withCodes(map[string]web.Rendering{
		"invalid_request": as("invalid_registration_info"),
		"weak_password":   as("invalid_registration_info"),
		"email_taken":     asField("invalid_registration_info", "email"),
	})},

	"verify_email":        {fiber.MethodPost, handlers.verifyEmail, nil},
	"verify_email/resend": {fiber.MethodPost, handlers.resendVerification, nil},
	// A request that mails a link answers 204 whatever becomes of it (the
	// flows already answer nil for every address alike); a client over
	// its per-IP budget still gets 429.
	"forgot_password/request":  {fiber.MethodPost, handlers.forgotPassword, nil},
	"forgot_password/validate": {fiber.MethodPost, handlers.validateReset, nil},
	// A new password the policy refuses is the original's
	// InvalidNewPassword, here as at change_password/.
	"forgot_password/reset": {fiber.MethodPost, handlers.resetPassword,
		withCodes(map[string]web.Rendering{"weak_password": as("invalid_new_password")})},
	// The per-address cooldown and daily cap of magic links answer alike
	// for every address: here, as in the original, 204 like a link sent.
	"magic_link/request": {fiber.MethodPost, handlers.requestMagicLink,
		withCodes(map[string]web.Rendering{"otp_cooldown": emptyAnswer, "otp_daily_cap": emptyAnswer})},
	"magic_link/consume": {fiber.MethodPost, handlers.consumeMagicLink, nil},

	"change_password": {fiber.MethodPut, handlers.changePassword,
		withCodes(map[string]web.Rendering{"weak_password": as("invalid_new_password")})},
	"change_name":  {fiber.MethodPut, handlers.changeName, nil},
	"change_email": {fiber.MethodPut, handlers.changeEmail, nil},

	"active_sessions":                      {fiber.MethodGet, handlers.activeSessions, nil},
	"active_sessions/close":                {fiber.MethodPost, handlers.closeSession, nil},
	"active_sessions/close_except_current": {fiber.MethodPost, handlers.closeOtherSessions, nil},

	"totp/init":             {fiber.MethodPost, handlers.totpInit, nil},
	"totp/enable":           {fiber.MethodPost, handlers.totpEnable, withCodes(totpEnableCodes)},
	"totp/disable":          {fiber.MethodPut, handlers.totpDisable, withCodes(totpCodes)},
	"totp/new-backup-codes": {fiber.MethodPost, handlers.totpNewBackupCodes, withCodes(totpCodes)},
}

// Register adds the surface: one middleware that serves the routes under
// the requesting tenant's prefix and passes everything else on.
func Register(r fiber.Router, opts Options) {
	h := handlers{opts: opts}
	r.Use(func(c *fiber.Ctx) error {
		t := web.Tenant(c.UserContext()).Tenant
		if !t.Profiles.Seed001 {
			return c.Next()
		}
		rest, ok := strings.CutPrefix(c.Path(), t.Profiles.Seed001Prefix+"/user/")
		if !ok {
			return c.Next()
		}
		rt, ok := routes[strings.TrimSuffix(rest, "/")]
		if !ok {
			return c.Next()
		}
		table := rt.errors
		if table == nil {
			table = errorTable
		}
		web.UseErrors(c, table)
		if c.Method() != rt.method {
			return errs.E(errs.Invalid, "method_not_allowed", "Method \""+c.Method()+"\" not allowed.")
		}
		if err := web.CheckRequest(c); err != nil {
			return err
		}
		return rt.handle(h, c)
	})
}

type handlers struct{ opts Options }

type loginRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
	Code     string `json:"code"`
	web.CaptchaFields
}

type registerRequest struct {
	Email     string `json:"email"`
	Password  string `json:"password"`
	FirstName string `json:"first_name"`
	LastName  string `json:"last_name"`
	web.CaptchaFields
}

func kind(c *fiber.Ctx) identity.SessionKind {
	if by := strings.TrimSpace(c.Get(HeaderRequestedBy)); by != "" && !strings.EqualFold(by, "web") {
		return identity.SessionApp
	}
	if strings.EqualFold(c.Get(HeaderAuthMode), "app-token") {
		return identity.SessionApp
	}
	return identity.SessionWeb
}

func checkLength(field, v string, limit int) *errs.FieldError {
	if utf8.RuneCountInString(v) > limit {
		return &errs.FieldError{Field: field, Reason: "Ensure this field has no more than " + strconv.Itoa(limit) + " characters."}
	}
	return nil
}

func (h handlers) login(c *fiber.Ctx) error {
	var req loginRequest
	if err := web.DecodeJSON(c, &req); err != nil {
		return err
	}
	if fe := checkLength("email", req.Email, identity.MaxEmailLength); fe != nil {
		return errs.InvalidFields(*fe)
	}
	if err := web.CheckCookieLogin(c, kind(c)); err != nil {
		return err
	}
	out, err := web.Tenant(c.UserContext()).Passwords.Login(c.UserContext(), password.LoginInput{
		Email: req.Email, Password: req.Password, Kind: kind(c), Client: web.Client(c), WithLatest: true,
		DeviceToken: web.DeviceToken(c, h.opts.Dev), SecondFactor: req.Code, Captcha: req.Response(),
	})
	if err != nil {
		return err
	}
	web.SetDeviceCookie(c, h.opts.Dev, out.Device)
	return h.answer(c, out.User, &out.Outcome)
}

// register creates the account and signs it in through the login
// pipeline. When the account exists but cannot be signed in (the tenant
// requires a verified address, or starting the session failed) the answer
// is still the registration's: the user, with no session.
func (h handlers) register(c *fiber.Ctx) error {
	var req registerRequest
	if err := web.DecodeJSON(c, &req); err != nil {
		return err
	}
	if err := web.CheckCookieLogin(c, kind(c)); err != nil { // registering signs in
		return err
	}
	k := kind(c)
	reg, err := web.Tenant(c.UserContext()).Passwords.Register(c.UserContext(), password.RegisterInput{
		Profile:  identity.Profile{Email: req.Email, FirstName: req.FirstName, LastName: req.LastName},
		Password: req.Password, Client: web.Client(c), SignIn: &k, Paths: link.Seed001, Captcha: req.Response(),
	})
	if err != nil {
		return err
	}
	web.SetDeviceCookie(c, h.opts.Dev, reg.Device)
	return h.answer(c, reg.User, reg.Login)
}

// answer writes the login/register body: last_session and
// last_token_session are the user's newest sessions from before this
// login; session and the cookie are there when a session was started.
func (h handlers) answer(c *fiber.Ctx, u identity.User, out *login.Outcome) error {
	body := fiber.Map{"last_session": nil, "last_token_session": nil, "user": userJSON(u)}
	if out != nil {
		if out.LatestWeb != nil {
			body["last_session"] = sessionJSON(*out.LatestWeb, time.Now())
		}
		if out.LatestApp != nil {
			body["last_token_session"] = tokenJSON(*out.LatestApp, time.Now())
		}
		creds := out.Credentials
		switch creds.Session.Kind {
		case identity.SessionApp:
			body["session"] = fiber.Map{"id": creds.Session.ID, "key": creds.AppToken}
		case identity.SessionWeb:
			web.SetSessionCookie(c, h.opts.Dev, creds.Cookie, creds.Session.ExpiresAt)
			c.Set("X-CSRF-Token", creds.CSRFToken)
		}
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(body)
}

func (h handlers) logout(c *fiber.Ctx) error {
	if err := web.Logout(c, web.Tenant(c.UserContext()), h.opts.Dev, nil); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

// me is the current user: {"user": {...}} for a browser session (the
// cookie), the bare user for a token, as the original answers its web and
// app clients.
func (h handlers) me(c *fiber.Ctx) error {
	p, err := h.principal(c)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	if p.Method == session.ByCookie {
		return c.JSON(struct {
			User userBody `json:"user"`
		}{userJSON(p.User)})
	}
	return c.JSON(userJSON(p.User))
}

func (h handlers) principal(c *fiber.Ctx) (session.Principal, error) {
	return web.Authenticate(c, web.Tenant(c.UserContext()), h.opts.Dev, nil)
}

// userBody is the original's UserSerializer, fields in its order.
type userBody struct {
	ID              string `json:"id"`
	IsActive        bool   `json:"is_active"`
	IsEmailVerified bool   `json:"is_email_verified"`
	CreatedAt       string `json:"created_at"`
	UpdatedAt       string `json:"updated_at"`
	FirstName       string `json:"first_name"`
	LastName        string `json:"last_name"`
	// Timezone is always "UTC": accounts here have no time zone, and every
	// time this profile shows is in UTC.
	Timezone string `json:"timezone"`
	Email    string `json:"email"`
}

func userJSON(u identity.User) userBody {
	return userBody{ID: u.ID, IsActive: u.Active, IsEmailVerified: u.EmailVerified,
		CreatedAt: timeJSON(u.CreatedAt), UpdatedAt: timeJSON(u.UpdatedAt),
		FirstName: u.FirstName, LastName: u.LastName, Timezone: "UTC", Email: u.Email}
}

// sessionBody is the original's UserSessionSerializer (a browser
// session); updated_at is when the session was last used.
type sessionBody struct {
	ID        string `json:"id"`
	IsValid   bool   `json:"is_valid"`
	CreatedAt string `json:"created_at"`
	UpdatedAt string `json:"updated_at"`
	IP        string `json:"ip"`
	UA        string `json:"ua"`
}

func sessionJSON(s identity.Session, now time.Time) sessionBody {
	return sessionBody{ID: s.ID, IsValid: s.Live(now), CreatedAt: timeJSON(s.CreatedAt), UpdatedAt: timeJSON(s.LastSeenAt),
		IP: s.IP, UA: s.UserAgent}
}

// tokenBody is the original's UserAppTokenSerializer (an app token).
type tokenBody struct {
	ID        string `json:"id"`
	IsValid   bool   `json:"is_valid"`
	CreatedAt string `json:"created_at"`
	IP        string `json:"ip"`
	UA        string `json:"ua"`
}

func tokenJSON(s identity.Session, now time.Time) tokenBody {
	return tokenBody{ID: s.ID, IsValid: s.Live(now), CreatedAt: timeJSON(s.CreatedAt), IP: s.IP, UA: s.UserAgent}
}

func timeJSON(t time.Time) string { return t.UTC().Format(time.RFC3339) }
