// Package seed001 serves the seed 001 compatibility profile: login,
// register, logout and current user under a per-tenant URI prefix
// ({prefix}/user/login/ ...), with that document's fields and its error body
// {"detail", "status" (a string), "title", "code"}. Paths are accepted with
// and without the trailing slash. The profile is switched on per tenant
// (profiles.seed001.enabled, profiles.seed001.prefix).
//
// A client asks for app-token authentication (the "session" object
// {"id", "key"} in the answer, then Authorization: Token <key>) as the
// original does, with the header X-Requested-By set to anything but "web"
// (its documentation uses "mobile_app"), or with "X-Auth-Mode: app-token";
// without either the login sets the browser session cookie.
package seed001

import (
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"

	"github.com/portcullis/portcullis/adapters/http/web"
	"github.com/portcullis/portcullis/application/login"
	"github.com/portcullis/portcullis/application/password"
	"github.com/portcullis/portcullis/domain/errs"
	"github.com/portcullis/portcullis/domain/identity"
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

// Register adds the surface: one middleware that serves the four routes
// under the requesting tenant's prefix and passes everything else on.
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
		var handler fiber.Handler
		method := fiber.MethodPost
		switch strings.TrimSuffix(rest, "/") {
		case "login":
			handler = h.login
		case "register":
			handler = h.register
		case "logout":
			handler = h.logout
		case "me":
			handler, method = h.me, fiber.MethodGet
		default:
			return c.Next()
		}
		web.UseErrors(c, errorTable)
		if c.Method() != method {
			return errs.E(errs.Invalid, "method_not_allowed", "Method \""+c.Method()+"\" not allowed.")
		}
		if err := web.CheckRequest(c); err != nil {
			return err
		}
		return handler(c)
	})
}

type handlers struct{ opts Options }

type loginRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
	Code     string `json:"code"`
}

type registerRequest struct {
	Email     string `json:"email"`
	Password  string `json:"password"`
	FirstName string `json:"first_name"`
	LastName  string `json:"last_name"`
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
		DeviceToken: web.DeviceToken(c, h.opts.Dev),
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
		Password: req.Password, Client: web.Client(c), SignIn: &k,
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
			body["last_session"] = sessionJSON(*out.LatestWeb)
		}
		if out.LatestApp != nil {
			body["last_token_session"] = sessionJSON(*out.LatestApp)
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

func (h handlers) me(c *fiber.Ctx) error {
	p, err := web.Authenticate(c, web.Tenant(c.UserContext()), h.opts.Dev, nil)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(userJSON(p.User))
}

func userJSON(u identity.User) fiber.Map {
	return fiber.Map{
		"id": u.ID, "email": u.Email, "first_name": u.FirstName, "last_name": u.LastName, "phone": u.Phone,
		"is_active": u.Active, "is_email_verified": u.EmailVerified,
		"created_at": u.CreatedAt.UTC().Format(time.RFC3339), "updated_at": u.UpdatedAt.UTC().Format(time.RFC3339),
	}
}

func sessionJSON(s identity.Session) fiber.Map {
	return fiber.Map{
		"id": s.ID, "ip": s.IP, "ua": s.UserAgent, "created_at": s.CreatedAt.UTC().Format(time.RFC3339),
		"last_seen_at": s.LastSeenAt.UTC().Format(time.RFC3339), "expires_at": s.ExpiresAt.UTC().Format(time.RFC3339),
	}
}

// codes maps core codes to this profile's CamelCase codes and titles.
var codes = map[string][2]string{
	"invalid_credentials":    {"InvalidCredentials", "Invalid credentials"},
	"invalid_token":          {"InvalidToken", "Invalid or expired credentials"},
	"unauthenticated":        {"NotAuthenticated", "Authentication required"},
	"throttled":              {"Throttled", "Too many attempts"},
	"invalid_request":        {"ValidationError", "Invalid request"},
	"weak_password":          {"WeakPassword", "Password too weak"},
	"email_taken":            {"EmailTaken", "Email already registered"},
	"csrf_failed":            {"CSRFFailed", "CSRF check failed"},
	"busy":                   {"ServiceBusy", "Service busy"},
	"method_disabled":        {"MethodDisabled", "Sign-in method disabled"},
	"method_not_allowed":     {"MethodNotAllowed", "Method not allowed"},
	"unsupported_media_type": {"UnsupportedMediaType", "Unsupported media type"},
}

// errorBody is the profile's error shape, fields in the document's order;
// errors (field-level details) is added only for invalid input.
type errorBody struct {
	Detail string            `json:"detail"`
	Status string            `json:"status"`
	Title  string            `json:"title"`
	Code   string            `json:"code"`
	Errors []errs.FieldError `json:"errors,omitempty"`
}

// errorTable renders every error in the profile's body shape, with the
// CamelCase code and title of codes; a code not listed there gets its
// CamelCase form and the status text.
var errorTable = &web.ErrorTable{Otherwise: render}

func render(e *errs.Error) (int, any) {
	status := web.StatusOf(e)
	code, title := camel(e.Code), http.StatusText(status)
	if m, ok := codes[e.Code]; ok {
		code, title = m[0], m[1]
	}
	detail := e.Message
	if len(e.Fields) > 0 {
		parts := make([]string, len(e.Fields))
		for i, f := range e.Fields {
			parts[i] = f.Field + ": " + f.Reason
		}
		detail = strings.Join(parts, "; ")
	}
	return status, errorBody{Detail: detail, Status: strconv.Itoa(status), Title: title, Code: code, Errors: e.Fields}
}

func camel(code string) string {
	var b strings.Builder
	for _, part := range strings.Split(code, "_") {
		if part != "" {
			b.WriteString(strings.ToUpper(part[:1]) + part[1:])
		}
	}
	return b.String()
}
