// Package admin is the admin API under /admin/v1: what a tenant's staff
// may do to its users, each route behind the scope its use case checks
// (application/admin). A caller authenticates as on the canonical API
// (Authorization: Bearer or Token, or the session cookie with its CSRF
// token); errors are problem+json, a missing scope `403 forbidden` naming
// it. openapi.json describes it.
package admin

import (
	_ "embed"

	"github.com/gofiber/fiber/v2"

	"github.com/portcullis/portcullis/adapters/http/web"
	"github.com/portcullis/portcullis/domain/identity"
)

// Prefix is where the API lives.
const Prefix = "/admin/v1"

//go:embed openapi.json
var openAPI []byte

// OpenAPI returns the API description served at /admin/v1/openapi.json.
func OpenAPI() []byte { return openAPI }

// Options configure the surface.
type Options struct {
	// Dev: the session cookie of dev mode (see v1.Options).
	Dev bool
}

// Register adds the routes to r, a router whose requests carry a resolved
// tenant.
func Register(r fiber.Router, opts Options) {
	h := handlers{opts: opts}
	g := r.Group(Prefix, web.Guard)
	g.Get("/openapi.json", web.ServeDocument(openAPI))
	g.Get("/users/:id", h.user)
	g.Get("/users/:id/sessions", h.sessions)
	g.Post("/users/:id/sessions/revoke", h.revokeSessions)
	g.Post("/users/:id/disable", h.setActive(false))
	g.Post("/users/:id/enable", h.setActive(true))
	g.Put("/users/:id/role", h.setRole)
	g.Post("/users/:id/mfa/reset", h.resetMFA)
}

type handlers struct{ opts Options }

// actor is the signed-in caller.
func (h handlers) actor(c *fiber.Ctx) (identity.User, *web.TenantServices, error) {
	rt := web.Tenant(c.UserContext())
	p, err := web.Authenticate(c, rt, h.opts.Dev, nil)
	if err != nil {
		return identity.User{}, nil, err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return p.User, rt, nil
}

func (h handlers) user(c *fiber.Ctx) error {
	actor, rt, err := h.actor(c)
	if err != nil {
		return err
	}
	u, err := rt.Admin.User(c.UserContext(), actor, c.Params("id"))
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"user": userJSON(u)})
}

func (h handlers) sessions(c *fiber.Ctx) error {
	actor, rt, err := h.actor(c)
	if err != nil {
		return err
	}
	list, err := rt.Admin.UserSessions(c.UserContext(), actor, c.Params("id"))
	if err != nil {
		return err
	}
	out := make([]fiber.Map, len(list))
	for i, s := range list {
		out[i] = fiber.Map{"id": s.ID, "kind": string(s.Kind), "created_at": web.TimeOrNil(s.CreatedAt), "last_seen_at": web.TimeOrNil(s.LastSeenAt),
			"expires_at": web.TimeOrNil(s.ExpiresAt), "ip": s.IP, "user_agent": s.UserAgent, "amr": s.AMR}
	}
	return c.JSON(fiber.Map{"sessions": out})
}

func (h handlers) revokeSessions(c *fiber.Ctx) error {
	actor, rt, err := h.actor(c)
	if err != nil {
		return err
	}
	n, err := rt.Admin.RevokeSessions(c.UserContext(), actor, c.Params("id"))
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"revoked": n})
}

func (h handlers) setActive(active bool) fiber.Handler {
	return func(c *fiber.Ctx) error {
		actor, rt, err := h.actor(c)
		if err != nil {
			return err
		}
		u, err := rt.Admin.SetActive(c.UserContext(), actor, c.Params("id"), active)
		if err != nil {
			return err
		}
		return c.JSON(fiber.Map{"user": userJSON(u)})
	}
}

type roleRequest struct {
	Role string `json:"role"`
}

func (h handlers) setRole(c *fiber.Ctx) error {
	actor, rt, err := h.actor(c)
	if err != nil {
		return err
	}
	var req roleRequest
	if err := web.DecodeJSON(c, &req); err != nil {
		return err
	}
	u, err := rt.Admin.SetRole(c.UserContext(), actor, c.Params("id"), identity.Role(req.Role))
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"user": userJSON(u)})
}

func (h handlers) resetMFA(c *fiber.Ctx) error {
	actor, rt, err := h.actor(c)
	if err != nil {
		return err
	}
	if err := rt.Admin.ResetMFA(c.UserContext(), actor, c.Params("id")); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

func userJSON(u identity.User) fiber.Map {
	return fiber.Map{"id": u.ID, "email": u.Email, "first_name": u.FirstName, "last_name": u.LastName, "phone": u.Phone,
		"role": string(u.Role), "active": u.Active, "email_verified": u.EmailVerified, "phone_verified": u.PhoneVerified,
		"created_at": web.TimeOrNil(u.CreatedAt), "updated_at": web.TimeOrNil(u.UpdatedAt), "last_login_at": web.TimeOrNil(u.LastLoginAt)}
}
