package admin_test

import (
	"testing"

	"github.com/gofiber/fiber/v2"

	"github.com/portcullis/portcullis/adapters/http/admin"
	"github.com/portcullis/portcullis/adapters/http/web/webtest"
)

// TestOpenAPIMatchesRoutes fails when a route is missing from the document
// or the document names a route that does not exist.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	t.Parallel()
	webtest.CheckOpenAPIRoutes(t, admin.OpenAPI(), admin.Prefix, func(r fiber.Router) { admin.Register(r, admin.Options{}) })
}
