// Package v1 is the canonical JSON API under /auth/v1: register, login,
// token refresh, logout, the current user and their sessions. It only
// translates HTTP to use-case calls; openapi.json describes it.
package v1

import (
	_ "embed"
	"errors"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/portcullis/portcullis/adapters/http/web"
	"github.com/portcullis/portcullis/application/device"
	"github.com/portcullis/portcullis/application/password"
	"github.com/portcullis/portcullis/application/session"
	"github.com/portcullis/portcullis/application/smslogin"
	"github.com/portcullis/portcullis/domain/errs"
	"github.com/portcullis/portcullis/domain/identity"
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
	g.Get("/openapi.json", func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSONCharsetUTF8)
		return c.Send(openAPI)
	})
	g.Post("/register", h.register)
	g.Post("/login", h.login)
	g.Post("/sms/send", h.smsSend)
	g.Post("/sms/verify", h.smsVerify)
	g.Post("/token/refresh", h.refresh)
	g.Post("/logout", h.logout)
	g.Get("/me", h.me)
	g.Get("/sessions", h.sessions)
	g.Post("/sessions/revoke-others", h.revokeOthers)
	g.Delete("/sessions/:id", h.revokeSession)
}

type handlers struct{ opts Options }

func tenantOf(c *fiber.Ctx) *web.TenantServices { return web.Tenant(c.UserContext()) }

type registerRequest struct {
	Email     string `json:"email"`
	Password  string `json:"password"`
	FirstName string `json:"first_name"`
	LastName  string `json:"last_name"`
	Phone     string `json:"phone"`
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
}

func (h handlers) login(c *fiber.Ctx) error {
	var req loginRequest
	if err := web.DecodeJSON(c, &req); err != nil {
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
	out, err := tenantOf(c).Passwords.Login(c.UserContext(), password.LoginInput{Email: req.Email, Password: req.Password, Kind: kind, Client: web.Client(c), DeviceToken: deviceToken})
	if err != nil {
		return err
	}
	return h.credentials(c, out.User, out.Credentials, out.Device)
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
	if err := tenantOf(c).SMS.Send(c.UserContext(), smslogin.SendInput{Phone: req.Phone, Client: web.Client(c)}); err != nil {
		return err
	}
	return c.Status(fiber.StatusAccepted).JSON(smsAccepted)
}

type smsVerifyRequest struct {
	Phone   string `json:"phone"`
	Code    string `json:"code"`
	Session string `json:"session"`
}

// smsVerify signs in with a code: the answer of /auth/v1/login.
func (h handlers) smsVerify(c *fiber.Ctx) error {
	var req smsVerifyRequest
	if err := web.DecodeJSON(c, &req); err != nil {
		return err
	}
	kind, err := sessionKind(c, req.Session)
	if err != nil {
		return err
	}
	out, err := tenantOf(c).SMS.Verify(c.UserContext(), smslogin.VerifyInput{Phone: req.Phone, Code: req.Code, Kind: kind, Client: web.Client(c)})
	if err != nil {
		return err
	}
	return h.credentials(c, out.User, out.Credentials, device.Credential{})
}

// credentials writes a login or refresh answer; a login's device
// credential goes in the body (device_token, device_expires_at) and the
// device cookie.
func (h handlers) credentials(c *fiber.Ctx, u identity.User, creds session.Credentials, dev device.Credential) error {
	c.Set(fiber.HeaderCacheControl, "no-store")
	out := fiber.Map{"user": userJSON(u), "session": sessionJSON(creds.Session, creds.Session.ID)}
	if dev.Token != "" {
		web.SetDeviceCookie(c, h.opts.Dev, dev)
		out["device_token"] = dev.Token
		out["device_expires_at"] = timeOrNil(dev.ExpiresAt)
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
	return c.JSON(out)
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
}

func userJSON(u identity.User) userBody {
	return userBody{ID: u.ID, Email: u.Email, FirstName: u.FirstName, LastName: u.LastName, Phone: u.Phone, PhoneVerified: u.PhoneVerified,
		Role: string(u.Role), EmailVerified: u.EmailVerified, CreatedAt: timeOrNil(u.CreatedAt), LastLoginAt: timeOrNil(u.LastLoginAt)}
}

func sessionJSON(s identity.Session, current string) fiber.Map {
	return fiber.Map{
		"id": s.ID, "kind": string(s.Kind), "created_at": timeOrNil(s.CreatedAt), "last_seen_at": timeOrNil(s.LastSeenAt),
		"expires_at": timeOrNil(s.ExpiresAt), "ip": s.IP, "user_agent": s.UserAgent, "amr": s.AMR, "current": s.ID == current,
	}
}

func timeOrNil(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format(time.RFC3339)
}
