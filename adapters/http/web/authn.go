package web

import (
	"net/url"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/portcullis/portcullis/application/session"
)

// SessionCookie returns the session cookie's name: with the __Host- prefix
// (Secure, host-only, Path=/) outside dev mode, where plain HTTP needs
// a cookie without it.
func SessionCookie(dev bool) string {
	if dev {
		return "portcullis_session"
	}
	return "__Host-portcullis_session"
}

// HeaderCSRF carries the CSRF token of cookie-authenticated requests.
const HeaderCSRF = "X-CSRF-Token"

// Credential finds the request's credential: an Authorization header
// (Bearer or Token scheme), else the session cookie. It returns
// session.ErrUnauthenticated when the request carries none and a 400 naming
// the Authorization field when it carries more than one Authorization
// header; a malformed Authorization header is a credential that will fail.
func Credential(c *fiber.Ctx, dev bool) (kind session.CredentialKind, value string, err error) {
	if err := singleAuthorization(c); err != nil {
		return "", "", err
	}
	if h := c.Get(fiber.HeaderAuthorization); h != "" {
		scheme, v, _ := strings.Cut(h, " ")
		switch strings.ToLower(scheme) {
		case "bearer":
			return session.ByBearer, strings.TrimSpace(v), nil
		case "token":
			return session.ByToken, strings.TrimSpace(v), nil
		}
		return session.ByBearer, "", nil
	}
	if v := c.Cookies(SessionCookie(dev)); v != "" {
		return session.ByCookie, v, nil
	}
	return "", "", session.ErrUnauthenticated
}

// Unsafe reports whether the method changes state.
func Unsafe(method string) bool {
	switch method {
	case fiber.MethodGet, fiber.MethodHead, fiber.MethodOptions:
		return false
	}
	return true
}

// SameOrigin checks the browser's own account of where a request comes
// from. Origin, when sent, decides: this host or one of the allowed
// origins. Without it, Sec-Fetch-Site, when sent, must say the request came
// from this origin or was typed by the user. Clients that send neither are
// not browsers; the CSRF token still applies to them.
func SameOrigin(c *fiber.Ctx, allowed []string) bool {
	if origin := c.Get(fiber.HeaderOrigin); origin != "" && origin != "null" {
		u, err := url.Parse(origin)
		if err != nil || u.Host == "" {
			return false
		}
		if strings.EqualFold(u.Host, string(c.Request().Host())) {
			return true
		}
		for _, a := range allowed {
			if strings.EqualFold(strings.TrimSuffix(a, "/"), u.Scheme+"://"+u.Host) {
				return true
			}
		}
		return false
	} else if origin == "null" {
		return false
	}
	switch c.Get("Sec-Fetch-Site") {
	case "", "same-origin", "none":
		return true
	}
	return false
}

// CSRFReader reads a cookie-authenticated request's CSRF token; nil reads
// the X-CSRF-Token header.
type CSRFReader func(*fiber.Ctx) string

// presented finds the request's credential and, for a cookie on an unsafe
// request, checks the origin and the CSRF token.
func presented(c *fiber.Ctx, rt *TenantServices, dev bool, csrf CSRFReader) (session.CredentialKind, string, error) {
	kind, value, err := Credential(c, dev)
	if err != nil {
		return "", "", err
	}
	if kind == session.ByCookie && Unsafe(c.Method()) {
		token := c.Get(HeaderCSRF)
		if csrf != nil {
			token = csrf(c)
		}
		if !SameOrigin(c, rt.Tenant.Redirects.Allow) || !session.CheckCSRF(value, token) {
			return "", "", session.ErrCSRF
		}
	}
	return kind, value, nil
}

// Authenticate resolves the request's principal with the tenant's session
// service. A cookie-authenticated unsafe request must also pass the origin
// checks and carry the session's CSRF token.
func Authenticate(c *fiber.Ctx, rt *TenantServices, dev bool, csrf CSRFReader) (session.Principal, error) {
	kind, value, err := presented(c, rt, dev, csrf)
	if err != nil {
		return session.Principal{}, err
	}
	return rt.Sessions.Authenticate(c.UserContext(), kind, value)
}

// Logout is the logout of every surface: it ends the session of the
// request's credential (with the same checks as Authenticate) and clears
// the session cookie when that was the credential.
func Logout(c *fiber.Ctx, rt *TenantServices, dev bool, csrf CSRFReader) error {
	kind, value, err := presented(c, rt, dev, csrf)
	if err != nil {
		return err
	}
	if _, err := rt.Sessions.Logout(c.UserContext(), kind, value); err != nil {
		return err
	}
	if kind == session.ByCookie {
		ClearSessionCookie(c, dev)
	}
	return nil
}

// SetSessionCookie sets the session cookie: HttpOnly, SameSite=Lax, Path=/,
// and outside dev mode Secure with the __Host- prefix.
func SetSessionCookie(c *fiber.Ctx, dev bool, value string, expires time.Time) {
	c.Cookie(&fiber.Cookie{Name: SessionCookie(dev), Value: value, Path: "/", Expires: expires, HTTPOnly: true, Secure: !dev, SameSite: fiber.CookieSameSiteLaxMode})
}

// ClearSessionCookie removes the session cookie.
func ClearSessionCookie(c *fiber.Ctx, dev bool) {
	c.Cookie(&fiber.Cookie{Name: SessionCookie(dev), Value: "", Path: "/", Expires: time.Unix(1, 0), MaxAge: -1, HTTPOnly: true, Secure: !dev, SameSite: fiber.CookieSameSiteLaxMode})
}
