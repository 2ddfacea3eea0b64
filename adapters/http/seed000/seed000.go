// Package seed000 serves the seed 000 compatibility profile: the token-key
// login API (POST /users/login/ → {"key", "next"}) and session logout with
// safe redirects, with Django REST framework-style error bodies. Paths are
// accepted with and without the trailing slash. The profile is switched on
// per tenant (profiles.seed000.enabled).
package seed000

import (
	"errors"
	"net/url"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/portcullis/portcullis/adapters/http/web"
	"github.com/portcullis/portcullis/application/account"
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
	for _, p := range []string{"/users/logout", "/users/logout/"} {
		r.Post(p, h.enabled(h.logout))
	}
}

type handlers struct{ opts Options }

func (h handlers) enabled(next fiber.Handler) fiber.Handler {
	return func(c *fiber.Ctx) error {
		rt := web.Tenant(c.UserContext())
		if !rt.Tenant.Profiles.Seed000 {
			return c.Next()
		}
		if err := next(c); err != nil {
			return render(c, err)
		}
		return nil
	}
}

// field reads a form or JSON field, as Django REST framework accepts both.
func field(c *fiber.Ctx, name string, json map[string]any) string {
	if json != nil {
		if v, ok := json[name].(string); ok {
			return v
		}
		return ""
	}
	return c.FormValue(name)
}

func body(c *fiber.Ctx) (map[string]any, error) {
	if !strings.HasPrefix(strings.ToLower(c.Get(fiber.HeaderContentType)), fiber.MIMEApplicationJSON) {
		return nil, nil
	}
	var m map[string]any
	if err := web.DecodeJSON(c, &m); err != nil {
		return nil, err
	}
	return m, nil
}

func (h handlers) login(c *fiber.Ctx) error {
	m, err := body(c)
	if err != nil {
		return err
	}
	svc := web.Tenant(c.UserContext()).Accounts
	_, creds, err := svc.Login(c.UserContext(), account.LoginInput{
		Email: field(c, "email", m), Password: field(c, "password", m), Kind: identity.SessionApp,
		Client: web.Client(c),
	})
	if err != nil {
		return err
	}
	var next any
	if n := c.Query("next"); n != "" {
		if target, ok := redirect.Check(n, svc.Tenant().Redirects); ok {
			next = target
		}
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(fiber.Map{"key": creds.AppToken, "next": next})
}

// logout ends the session and redirects: to next when it is allowed, else
// home when the referrer is an account page, else the tenant's default.
// Cookie sessions need the CSRF token (X-CSRFToken header or the
// csrfmiddlewaretoken field) and a same-origin request.
func (h handlers) logout(c *fiber.Ctx) error {
	svc := web.Tenant(c.UserContext()).Accounts
	p, err := web.Authenticate(c, svc, h.opts.Dev, func(c *fiber.Ctx) string {
		if v := c.Get("X-CSRFToken"); v != "" {
			return v
		}
		if v := c.Get(web.HeaderCSRF); v != "" {
			return v
		}
		return c.FormValue("csrfmiddlewaretoken")
	})
	switch {
	case err == nil:
		if err := svc.Logout(c.UserContext(), p); err != nil {
			return err
		}
		if p.Method == account.ByCookie {
			web.ClearSessionCookie(c, h.opts.Dev)
		}
	case errors.Is(err, account.ErrUnauthenticated), errors.Is(err, account.ErrInvalidToken):
		// Logging out without a live session still lands where asked.
	default:
		return err
	}
	policy := svc.Tenant().Redirects
	target := policy.Default
	if n := firstNonEmpty(c.FormValue("next"), c.Query("next")); n != "" {
		if t, ok := redirect.Check(n, policy); ok {
			target = t
		}
	} else if ref := firstNonEmpty(c.FormValue("referrer"), c.Query("referrer"), c.Get(fiber.HeaderReferer)); ref != "" {
		if u, err := url.Parse(ref); err == nil && strings.HasPrefix(u.Path, AccountIndexPath) {
			target = "/"
		}
	}
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

// render writes an error the way Django REST framework does.
func render(c *fiber.Ctx, err error) error {
	e := web.FromError(err)
	status := web.Status(e.Kind)
	var out fiber.Map
	switch {
	case e.Kind == errs.Invalid && len(e.Fields) > 0:
		out = fiber.Map{}
		for _, f := range e.Fields {
			list, _ := out[f.Field].([]string)
			out[f.Field] = append(list, f.Reason)
		}
	case errors.Is(e, account.ErrInvalidCredentials):
		// DRF answers bad credentials with 400 and non_field_errors.
		status = fiber.StatusBadRequest
		out = fiber.Map{"non_field_errors": []string{"Unable to log in with provided credentials."}}
	case e.Kind == errs.RateLimited:
		out = fiber.Map{"detail": "Request was throttled. Expected available in " + strconv.Itoa(e.RetryAfter) + " seconds."}
	case errors.Is(e, account.ErrUnauthenticated):
		out = fiber.Map{"detail": "Authentication credentials were not provided."}
	case errors.Is(e, account.ErrInvalidToken):
		out = fiber.Map{"detail": "Invalid token."}
	case errors.Is(e, account.ErrCSRF):
		out = fiber.Map{"detail": "CSRF Failed: CSRF token missing or incorrect."}
	case e.Kind == errs.Internal:
		return err // the platform error handler logs it and answers generically
	default:
		out = fiber.Map{"detail": e.Message}
	}
	web.SetRetryAfter(c, e)
	return c.Status(status).JSON(out)
}
