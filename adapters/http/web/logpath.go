package web

import "github.com/gofiber/fiber/v2"

const localLogPath = "portcullis.log_path"

// HidePath makes the server's logs name the request by pattern (such as
// "/users/passwordless-login/{token}/") instead of its path, for a route
// whose path carries a secret: the logs leave out the query string for
// the same reason. A handler calls it before anything can fail.
func HidePath(c *fiber.Ctx, pattern string) { c.Locals(localLogPath, pattern) }

// LogPath is the request's path as logs may show it: its pattern when the
// route hid it (HidePath), else the path.
func LogPath(c *fiber.Ctx) string {
	if p, ok := c.Locals(localLogPath).(string); ok {
		return p
	}
	return c.Path()
}
