package web

import (
	"github.com/gofiber/fiber/v2"

	"github.com/portcullis/portcullis/application/device"
)

// DeviceCookie returns the device cookie's name: with the __Host- prefix
// outside dev mode, like SessionCookie. It carries the device credential
// (see package device) that lets the account's own browsers log in while
// strangers have spent the account's login budget.
func DeviceCookie(dev bool) string {
	if dev {
		return "portcullis_device"
	}
	return "__Host-portcullis_device"
}

// DeviceToken returns the device credential the request's cookie carries,
// or "".
func DeviceToken(c *fiber.Ctx, dev bool) string {
	return string([]byte(c.Cookies(DeviceCookie(dev)))) // a copy: Fiber reuses the buffer
}

// SetDeviceCookie stores a device credential in the browser: HttpOnly (no
// script needs it), SameSite=Lax, Path=/, until the credential expires, and
// outside dev mode Secure with the __Host- prefix. A zero credential sets
// nothing. It survives logout on purpose: it proves a past login from this
// browser, not a session.
func SetDeviceCookie(c *fiber.Ctx, dev bool, cred device.Credential) {
	if cred.Token == "" {
		return
	}
	c.Cookie(&fiber.Cookie{Name: DeviceCookie(dev), Value: cred.Token, Path: "/", Expires: cred.ExpiresAt,
		HTTPOnly: true, Secure: !dev, SameSite: fiber.CookieSameSiteLaxMode})
}
