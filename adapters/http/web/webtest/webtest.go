// Package webtest holds checks the API surfaces' tests share.
package webtest

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"
)

// CheckOpenAPIRoutes fails t when a route register adds under prefix is
// missing from the OpenAPI 3.1 document doc, or doc names a route that is
// not served (paths in doc are relative to prefix).
func CheckOpenAPIRoutes(t *testing.T, doc []byte, prefix string, register func(fiber.Router)) {
	t.Helper()
	var d struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(doc, &d); err != nil {
		t.Fatalf("openapi.json is not valid JSON: %v", err)
	}
	if !strings.HasPrefix(d.OpenAPI, "3.1") {
		t.Fatalf("openapi %q, want 3.1", d.OpenAPI)
	}
	var documented []string
	for path, ops := range d.Paths {
		for method := range ops {
			documented = append(documented, strings.ToUpper(method)+" "+prefix+path)
		}
	}
	app := fiber.New()
	register(app)
	var served []string
	for _, r := range app.GetRoutes(true) {
		if r.Method == fiber.MethodHead || !strings.HasPrefix(r.Path, prefix) {
			continue
		}
		path := r.Path
		for _, p := range r.Params {
			path = strings.Replace(path, ":"+p, "{"+p+"}", 1)
		}
		served = append(served, r.Method+" "+path)
	}
	slices.Sort(documented)
	slices.Sort(served)
	for _, s := range served {
		if !slices.Contains(documented, s) {
			t.Errorf("route %s is not in openapi.json", s)
		}
	}
	for _, doc := range documented {
		if !slices.Contains(served, doc) {
			t.Errorf("openapi.json names %s, which is not served", doc)
		}
	}
}
