package web

import (
	"net/url"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/portcullis/portcullis/application/account"
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
// account.ErrUnauthenticated when the request carries none and a 400 naming
// the Authorization field when it carries more than one Authorization
// header; a malformed Authorization header is a credential that will fail.
func Credential(c *fiber.Ctx, dev bool) (kind account.CredentialKind, value string, err error) {
	if err := singleAuthorization(c); err != nil {
		return "", "", err
	}
	if h := c.Get(fiber.HeaderAuthorization); h != "" {
		scheme, v, _ := strings.Cut(h, " ")
		switch strings.ToLower(scheme) {
		case "bearer":
			return account.ByBearer, strings.TrimSpace(v), nil
		case "token":
			return account.ByToken, strings.TrimSpace(v), nil
		}
		return account.ByBearer, "", nil
	}
	if v := c.Cookies(SessionCookie(dev)); v != "" {
		return account.ByCookie, v, nil
	}
	return "", "", account.ErrUnauthenticated
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

// Authenticate resolves the request's principal with the tenant's account
// service. A cookie-authenticated unsafe request must also pass the origin
// checks and carry the session's CSRF token (csrfToken reads it; nil reads
// the X-CSRF-Token header).
func Authenticate(c *fiber.Ctx, svc *account.Service, dev bool, csrfToken func(*fiber.Ctx) string) (account.Principal, error) {
	kind, value, err := Credential(c, dev)
	if err != nil {
		return account.Principal{}, err
	}
	if kind == account.ByCookie && Unsafe(c.Method()) {
		token := c.Get(HeaderCSRF)
		if csrfToken != nil {
			token = csrfToken(c)
		}
		if !SameOrigin(c, svc.Tenant().Redirects.Allow) || !account.CheckCSRF(value, token) {
			return account.Principal{}, account.ErrCSRF
		}
	}
	return svc.Authenticate(c.UserContext(), kind, value)
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
