// Package seed002 serves the seed 002 compatibility profile: the admin
// login of a storefront API under /v1/accounts/ with e-mail code
// activation, and the token it issues (Authorization: Token <token>),
// with that system's bodies: {"error": "..."} for every refusal,
// {"message": "..."} for the routes that answer no data. Paths are
// accepted with and without the trailing slash. The profile is switched
// on per tenant (profiles.seed002.enabled) and needs the login method
// admin_otp.
//
// The routes (see routes): login/admin/, otp/user/ and resend/otp/user/
// are the seed's; me/ and logout/ are ours, for the token's holder. Each
// handler decodes, calls one use case of application/adminlogin and
// encodes; every status and body is chosen by errorTable.
//
// The login takes the client's CAPTCHA response, when the tenant's
// captcha.policy.login asks for one, in the member captcha or under its
// widget's name (g-recaptcha-response, h-captcha-response,
// cf-turnstile-response); a missing or refused one is the seed's 400
// {"error": "Invalid Captcha"}.
package seed002

import (
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/portcullis/portcullis/adapters/http/web"
	"github.com/portcullis/portcullis/application/adminlogin"
	"github.com/portcullis/portcullis/application/session"
	"github.com/portcullis/portcullis/domain/identity"
)

// Prefix is where the profile's routes live.
const Prefix = "/v1/accounts"

// The answers of the routes that answer no data, word for word.
const (
	MessageConfirmed = "OTP confirmed successfully"
	MessageResent    = "Verification code sent to email"
	// MessageLoggedOut is ours (the seed has no logout).
	MessageLoggedOut = "Logged out successfully"
)

// Register adds the routes.
func Register(r fiber.Router) {
	for path, route := range routes {
		for _, p := range []string{Prefix + path, Prefix + path + "/"} {
			r.Add(route.method, p, enabled(route.handle))
		}
	}
}

// route is one of the profile's routes.
type route struct {
	method string
	handle fiber.Handler
}

// routes are the profile's routes by their path under Prefix, without
// the trailing slash.
var routes = map[string]route{
	// The seed's.
	"/login/admin":     {fiber.MethodPost, loginAdmin},
	"/otp/user":        {fiber.MethodPost, confirm},
	"/resend/otp/user": {fiber.MethodPost, resend},
	// Ours, for the token: the admin it belongs to, and its end.
	"/me":     {fiber.MethodGet, me},
	"/logout": {fiber.MethodPost, logout},
}

// enabled serves the route for a tenant with the profile on, in the
// profile's error shapes; for any other tenant the request goes on (and
// ends in the platform's 404).
func enabled(next fiber.Handler) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if !web.Tenant(c.UserContext()).Tenant.Profiles.Seed002 {
			return c.Next()
		}
		web.UseErrors(c, errorTable)
		if err := web.CheckRequest(c); err != nil {
			return err
		}
		return next(c)
	}
}

type loginRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
	// Code is ours: a code of the admin's second factor (TOTP or backup
	// code), for an admin who has one.
	Code string `json:"code"`
	web.CaptchaFields
}

type confirmRequest struct {
	Email string `json:"email"`
	OTP   string `json:"otp"`
}

type resendRequest struct {
	Email string `json:"email"`
}

// loginAnswer is the seed's login answer, fields in its order.
type loginAnswer struct {
	AccessToken string   `json:"access_token"`
	User        userBody `json:"user"`
}

func loginAdmin(c *fiber.Ctx) error {
	var req loginRequest
	if err := web.DecodeJSON(c, &req); err != nil {
		return err
	}
	out, err := web.Tenant(c.UserContext()).AdminLogin.Login(c.UserContext(), adminlogin.LoginInput{
		Email: req.Email, Password: req.Password, SecondFactor: req.Code, Client: web.Client(c), Captcha: req.Response()})
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(loginAnswer{AccessToken: out.Credentials.AppToken, User: userJSON(out.User)})
}

func confirm(c *fiber.Ctx) error {
	var req confirmRequest
	if err := web.DecodeJSON(c, &req); err != nil {
		return err
	}
	if err := web.Tenant(c.UserContext()).AdminLogin.Confirm(c.UserContext(), adminlogin.ConfirmInput{
		Email: req.Email, Code: req.OTP, Client: web.Client(c)}); err != nil {
		return err
	}
	return c.JSON(fiber.Map{"message": MessageConfirmed})
}

func resend(c *fiber.Ctx) error {
	var req resendRequest
	if err := web.DecodeJSON(c, &req); err != nil {
		return err
	}
	if err := web.Tenant(c.UserContext()).AdminLogin.Resend(c.UserContext(), adminlogin.ResendInput{
		Email: req.Email, Client: web.Client(c)}); err != nil {
		return err
	}
	return c.JSON(fiber.Map{"message": MessageResent})
}

// me is the token's admin, as the login answer's user.
func me(c *fiber.Ctx) error {
	token, err := presented(c)
	if err != nil {
		return err
	}
	p, err := web.Tenant(c.UserContext()).AdminLogin.Authenticate(c.UserContext(), token)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(userJSON(p.User))
}

// logout ends the token's session.
func logout(c *fiber.Ctx) error {
	token, err := presented(c)
	if err != nil {
		return err
	}
	if err := web.Tenant(c.UserContext()).AdminLogin.Logout(c.UserContext(), token); err != nil {
		return err
	}
	return c.JSON(fiber.Map{"message": MessageLoggedOut})
}

// presented is the token of the request's "Authorization: Token <token>"
// header (the scheme in any case). Without the header, or with one of
// another scheme or without a token, the request is unauthenticated
// ("Missing token on header!"), as the seed's original reads it; a
// session cookie is not looked at.
func presented(c *fiber.Ctx) (string, error) {
	scheme, token, _ := strings.Cut(strings.TrimSpace(c.Get(fiber.HeaderAuthorization)), " ")
	token = strings.TrimSpace(token)
	if !strings.EqualFold(scheme, "token") || token == "" {
		return "", session.ErrUnauthenticated
	}
	return token, nil
}

// userBody is the seed's user, fields in its order. The id is ours (a
// string, where the seed shows a number).
type userBody struct {
	ID                string `json:"id"`
	FirstName         string `json:"first_name"`
	LastName          string `json:"last_name"`
	Email             string `json:"email"`
	Phone             string `json:"phone"`
	ProfilePhoto      string `json:"profile_photo"`
	PreferredLanguage string `json:"preferred_language"`
	Role              string `json:"role"`
	Created           string `json:"created"`
}

func userJSON(u identity.User) userBody {
	return userBody{ID: u.ID, FirstName: u.FirstName, LastName: u.LastName, Email: u.Email, Phone: u.Phone,
		ProfilePhoto: u.ProfilePhoto, PreferredLanguage: u.PreferredLanguage, Role: roleCode(u.Role),
		Created: u.CreatedAt.UTC().Format(time.RFC3339)}
}

// roleCode is a role as the seed writes it: "1" a user, "2" an admin, "3"
// the seed's store role, which is our staff; a role the tenant defines is
// its name.
func roleCode(r identity.Role) string {
	switch r {
	case identity.RoleUser:
		return "1"
	case identity.RoleAdmin:
		return "2"
	case identity.RoleStaff:
		return "3"
	}
	return string(r)
}
