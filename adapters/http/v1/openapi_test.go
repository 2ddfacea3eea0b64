package v1_test

import (
	"testing"

	"github.com/gofiber/fiber/v2"

	v1 "github.com/portcullis/portcullis/adapters/http/v1"
	"github.com/portcullis/portcullis/adapters/http/web/webtest"
)

// TestOpenAPIMatchesRoutes fails when a route is missing from the document
// or the document names a route that does not exist.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	t.Parallel()
	webtest.CheckOpenAPIRoutes(t, v1.OpenAPI(), v1.Prefix, func(r fiber.Router) { v1.Register(r, v1.Options{}) })
}
