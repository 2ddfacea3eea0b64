// Package seed000 serves the seed 000 compatibility profile: the token-key
// login API (POST /users/login/ → {"key", "next"}) and session logout with
// safe redirects, with Django REST framework-style error bodies. Paths are
// accepted with and without the trailing slash. The profile is switched on
// per tenant (profiles.seed000.enabled).
//
// The seed has no second factor: a first factor (password, SMS code or
// token login) of a user with one yields no key or cookie, but 401
// {"detail", "code": "mfa_required", "mfa_token", "mfa_expires_at",
// "methods"}, completed at the canonical POST /auth/v1/mfa/verify. The
// browser routes of a login link redirect instead (see links.go).
//
// The routes a tenant's CAPTCHA may guard (the logins: password, SMS code
// request and submission, token login, login link) read the client's
// response from the body field captcha or the widget's own
// (g-recaptcha-response, h-captcha-response, cf-turnstile-response), JSON
// or form; a CAPTCHA asked for and missing or refused is a validation
// error of the field captcha, DRF's 400 {"captcha": ["..."]}.
package seed000

import (
	"errors"
	"strconv"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"

	"github.com/portcullis/portcullis/adapters/http/web"
	"github.com/portcullis/portcullis/application/password"
	"github.com/portcullis/portcullis/application/session"
	"github.com/portcullis/portcullis/application/smslogin"
	"github.com/portcullis/portcullis/domain/errs"
	"github.com/portcullis/portcullis/domain/identity"
	"github.com/portcullis/portcullis/domain/redirect"
)

// AccountIndexPath is the account area: a logout whose referrer is inside
// it goes to the home page, since those pages need a signed-in user.
const AccountIndexPath = "/users/"

// Options configure the surface.
type Options struct {
	Dev bool
}

// Register adds the routes.
func Register(r fiber.Router, opts Options) {
	h := handlers{opts: opts}
	for _, p := range []string{"/users/login", "/users/login/"} {
		r.Post(p, h.enabled(h.login))
	}
	for _, p := range []string{"/users/login/sms", "/users/login/sms/"} {
		r.Post(p, h.enabled(h.loginSMS))
	}
	for _, p := range []string{"/users/logout", "/users/logout/"} {
		r.Post(p, h.enabled(h.logout))
	}
	h.registerLinks(r)
}

type handlers struct{ opts Options }

func (h handlers) enabled(next fiber.Handler) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if !web.Tenant(c.UserContext()).Tenant.Profiles.Seed000 {
			return c.Next()
		}
		web.UseErrors(c, errorTable)
		if err := web.CheckRequest(c); err != nil {
			return err
		}
		return next(c)
	}
}

func (h handlers) login(c *fiber.Ctx) error {
	f, err := web.DecodeFields(c) // the body only: credentials never come from the query
	if err != nil {
		return err
	}
	rt := web.Tenant(c.UserContext())
	out, err := rt.Passwords.Login(c.UserContext(), password.LoginInput{
		Email: f["email"], Password: f["password"], Kind: identity.SessionApp,
		Client: web.Client(c), DeviceToken: web.DeviceToken(c, h.opts.Dev), Captcha: web.CaptchaResponse(f),
	})
	if err != nil {
		return err
	}
	web.SetDeviceCookie(c, h.opts.Dev, out.Device)
	return answerKey(c, rt, out.Credentials.AppToken)
}

// loginSMS is the two-step SMS login: without code, a code is sent to the
// number (200, empty body); with it, the login answer {"key", "next"}.
// As its contract says, this surface reports a number without an account
// (400 on phone), and waits for the provider, reporting an outage (503).
func (h handlers) loginSMS(c *fiber.Ctx) error {
	f, err := web.DecodeFields(c)
	if err != nil {
		return err
	}
	rt := web.Tenant(c.UserContext())
	if f["code"] == "" {
		if err := rt.SMS.Send(c.UserContext(), smslogin.SendInput{Phone: f["phone"], Client: web.Client(c), Wait: true,
			Captcha: web.CaptchaResponse(f)}); err != nil {
			return err
		}
		c.Set(fiber.HeaderCacheControl, "no-store")
		c.Status(fiber.StatusOK) // an empty body, as the seed says (SendStatus would write "OK")
		return nil
	}
	if utf8.RuneCountInString(f["code"]) < minCodeLength {
		return errs.InvalidFields(errs.FieldError{Field: "code", Reason: "Ensure this field has at least " + strconv.Itoa(minCodeLength) + " characters."})
	}
	out, err := rt.SMS.Verify(c.UserContext(), smslogin.VerifyInput{Phone: f["phone"], Code: f["code"], Kind: identity.SessionApp, Client: web.Client(c),
		Captcha: web.CaptchaResponse(f)})
	if err != nil {
		return err
	}
	return answerKey(c, rt, out.Credentials.AppToken)
}

// minCodeLength is the shortest code the seed accepts before checking it.
const minCodeLength = 4

// answerKey writes the token-key login answer: the key and the allowed
// next target of the query.
func answerKey(c *fiber.Ctx, rt *web.TenantServices, key string) error {
	var next any
	if n := c.Query("next"); n != "" {
		if target, ok := redirect.Check(n, rt.Tenant.Redirects); ok {
			next = target
		}
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(fiber.Map{"key": key, "next": next})
}

// logout ends the session and redirects: to next when it is allowed, else
// home when the referrer is an account page, else the tenant's default.
// Cookie sessions need the CSRF token (X-CSRFToken header or the
// csrfmiddlewaretoken field of the body, never the query string) and a
// same-origin request. Logging out without a live session still lands
// where asked, as the seed describes.
func (h handlers) logout(c *fiber.Ctx) error {
	f, err := web.DecodeFields(c)
	if err != nil {
		return err
	}
	rt := web.Tenant(c.UserContext())
	err = web.Logout(c, rt, h.opts.Dev, csrfReader(f))
	if err != nil && !errors.Is(err, session.ErrUnauthenticated) && !errors.Is(err, session.ErrInvalidToken) {
		return err
	}
	target := redirect.AfterLogout(firstNonEmpty(f["next"], c.Query("next")),
		firstNonEmpty(f["referrer"], c.Query("referrer"), c.Get(fiber.HeaderReferer)), AccountIndexPath, rt.Tenant.Redirects)
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Redirect(target, fiber.StatusFound)
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

func throttled(e *errs.Error) (int, any) {
	return fiber.StatusTooManyRequests, fiber.Map{"detail": "Request was throttled. Expected available in " + strconv.Itoa(e.RetryAfter) + " seconds."}
}

func codeError(text string) web.Rendering {
	return func(*errs.Error) (int, any) { return fiber.StatusBadRequest, fiber.Map{"code": []string{text}} }
}

// fieldError renders an error as DRF's validation error of field: 400
// {field: [message]}.
func fieldError(field string) web.Rendering {
	return func(e *errs.Error) (int, any) { return fiber.StatusBadRequest, fiber.Map{field: []string{e.Message}} }
}

func detail(status int, text string) web.Rendering {
	return func(*errs.Error) (int, any) { return status, fiber.Map{"detail": text} }
}

// mfaRequired renders the challenge a first factor of a user with a
// second factor ends in: DRF's {"detail"} with the error's code and the
// challenge's members (mfa_token, mfa_expires_at, methods) beside it.
func mfaRequired(e *errs.Error) (int, any) {
	body := fiber.Map{}
	for k, v := range e.Extensions {
		body[k] = v
	}
	body["detail"], body["code"] = e.Message, e.Code
	return fiber.StatusUnauthorized, body
}

// errorTable renders errors the way Django REST framework does.
var errorTable = &web.ErrorTable{
	Codes: map[string]web.Rendering{
		// DRF's permission denied: the scope the role lacks is not named.
		"forbidden": detail(fiber.StatusForbidden, "You do not have permission to perform this action."),
		// DRF answers bad credentials with 400 and non_field_errors.
		"invalid_credentials": func(*errs.Error) (int, any) {
			return fiber.StatusBadRequest, fiber.Map{"non_field_errors": []string{"Unable to log in with provided credentials."}}
		},
		"throttled":       throttled,
		"unauthenticated": detail(fiber.StatusUnauthorized, "Authentication credentials were not provided."),
		"invalid_token":   detail(fiber.StatusUnauthorized, "Invalid token."),
		"csrf_failed":     detail(fiber.StatusForbidden, "CSRF Failed: CSRF token missing or incorrect."),
		// The SMS login's code errors are validation errors of the code
		// field, as the seed lists them.
		"otp_invalid":           codeError("Incorrect OTP code."),
		"otp_expired":           codeError("OTP code expired."),
		"otp_attempts_exceeded": codeError("Too many incorrect codes. Request a new one."),
		"otp_cooldown":          throttled,
		"otp_daily_cap":         throttled,
		// A user with a second factor gets no key from a first factor
		// here: the seed has no second step, so the answer is 401 with
		// the challenge, which the client completes at the canonical
		// POST /auth/v1/mfa/verify.
		"mfa_required": mfaRequired,
		// A CAPTCHA the tenant asks for: a validation error of the field
		// captcha, as a DRF serializer reports one.
		"captcha_required": fieldError("captcha"),
		"captcha_invalid":  fieldError("captcha"),
	},
	Otherwise: func(e *errs.Error) (int, any) {
		if len(e.Fields) > 0 {
			out := fiber.Map{}
			for _, f := range e.Fields {
				list, _ := out[f.Field].([]string)
				out[f.Field] = append(list, f.Reason)
			}
			return fiber.StatusBadRequest, out
		}
		return web.StatusOf(e), fiber.Map{"detail": e.Message}
	},
}
