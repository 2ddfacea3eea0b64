package web

import (
	"crypto/rand"
	"encoding/base64"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/portcullis/portcullis/application/emaillogin"
)

// SendMagicLink asks svc for a magic link as in says. When the tenant
// binds links to the browser that asked (email.same_device), the link is
// bound to this browser's device value, and the browser gets the binding
// cookie once the request is accepted: a refused request sets nothing,
// and an accepted one sets it alike for every address, so that it tells
// nothing about accounts.
func SendMagicLink(c *fiber.Ctx, dev bool, svc *emaillogin.Service, in emaillogin.LinkInput) error {
	p := svc.Policy()
	if p.SameDevice {
		value, err := MagicLinkBinding(c, dev)
		if err != nil {
			return err
		}
		in.Device = value
	}
	if err := svc.SendLink(c.UserContext(), in); err != nil {
		return err
	}
	if in.Device != "" {
		SetMagicLinkCookie(c, dev, in.Device, p.LinkTTL)
	}
	return nil
}

// MagicLinkCookie returns the name of the cookie that binds a magic link
// to the browser that asked for it (the tenant's email.same_device): with
// the __Host- prefix outside dev mode, like SessionCookie.
func MagicLinkCookie(dev bool) string {
	if dev {
		return "portcullis_ml"
	}
	return "__Host-portcullis_ml"
}

// magicLinkValueLen is the length of a value MagicLinkBinding mints: 32
// random bytes, unpadded base64url.
const magicLinkValueLen = 43

// MagicLinkDevice returns the browser's magic-link device value, or "".
func MagicLinkDevice(c *fiber.Ctx, dev bool) string {
	return string([]byte(c.Cookies(MagicLinkCookie(dev)))) // a copy: Fiber reuses the buffer
}

// MagicLinkBinding returns the device value a magic link asked for from
// this browser is bound to: the one its cookie already holds, when that is
// one of ours (so that every link this browser asked for still opens
// here), else a new random one. Once the link is sent, SetMagicLinkCookie
// gives it to the browser.
func MagicLinkBinding(c *fiber.Ctx, dev bool) (string, error) {
	if v := MagicLinkDevice(c, dev); mintedMagicLinkValue(v) {
		return v, nil
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// SetMagicLinkCookie stores a magic-link device value in the browser for
// ttl (the link's lifetime): HttpOnly (no script needs it),
// SameSite=Lax, Path=/, and outside dev mode Secure with the __Host-
// prefix.
func SetMagicLinkCookie(c *fiber.Ctx, dev bool, value string, ttl time.Duration) {
	c.Cookie(&fiber.Cookie{Name: MagicLinkCookie(dev), Value: value, Path: "/", MaxAge: int(ttl / time.Second),
		Expires: time.Now().Add(ttl), HTTPOnly: true, Secure: !dev, SameSite: fiber.CookieSameSiteLaxMode})
}

// mintedMagicLinkValue reports whether v has the form of a value
// MagicLinkBinding mints.
func mintedMagicLinkValue(v string) bool {
	if len(v) != magicLinkValueLen {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(v)
	return err == nil
}
