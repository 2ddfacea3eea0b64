// Package admin is the admin API under /admin/v1: what a tenant's staff
// may do to its users, and its audit log, each route behind the scope its
// use case checks (application/admin). A caller authenticates as on the canonical API
// (Authorization: Bearer or Token, or the session cookie with its CSRF
// token); errors are problem+json, a missing scope `403 forbidden` naming
// it. openapi.json describes it.
package admin

import (
	_ "embed"
	"encoding/json"
	"net/url"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/portcullis/portcullis/adapters/http/seed000"
	"github.com/portcullis/portcullis/adapters/http/web"
	"github.com/portcullis/portcullis/application/admin"
	"github.com/portcullis/portcullis/application/audit"
	"github.com/portcullis/portcullis/domain/errs"
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
	g.Get("/users", h.listUsers)
	g.Post("/users", h.createUser)
	g.Get("/users/:id", h.user)
	g.Patch("/users/:id", h.updateUser)
	g.Get("/users/:id/sessions", h.sessions)
	g.Post("/users/:id/sessions/revoke", h.revokeSessions)
	g.Post("/users/:id/disable", h.setActive(false))
	g.Post("/users/:id/enable", h.setActive(true))
	g.Put("/users/:id/role", h.setRole)
	g.Post("/users/:id/mfa/reset", h.resetMFA)
	g.Post("/users/:id/login-link", h.loginLink)
	g.Get("/audit", h.auditLog)
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

func (h handlers) listUsers(c *fiber.Ctx) error {
	actor, rt, err := h.actor(c)
	if err != nil {
		return err
	}
	limit, err := web.LimitParam(c)
	if err != nil {
		return err
	}
	page, err := rt.Admin.ListUsers(c.UserContext(), actor, admin.UserQuery{Email: c.Query("email"), Phone: c.Query("phone"),
		Role: c.Query("role"), Status: c.Query("status"), Limit: limit, Cursor: c.Query("cursor")})
	if err != nil {
		return err
	}
	users := make([]fiber.Map, len(page.Users))
	for i, u := range page.Users {
		users[i] = userJSON(u)
	}
	out := fiber.Map{"users": users}
	if page.Next != "" {
		out["next_cursor"] = page.Next
	}
	return c.JSON(out)
}

type createRequest struct {
	Email     string `json:"email"`
	FirstName string `json:"first_name"`
	LastName  string `json:"last_name"`
	Phone     string `json:"phone"`
	Role      string `json:"role"`
}

func (h handlers) createUser(c *fiber.Ctx) error {
	actor, rt, err := h.actor(c)
	if err != nil {
		return err
	}
	var req createRequest
	if err := web.DecodeJSON(c, &req); err != nil {
		return err
	}
	created, err := rt.Admin.CreateUser(c.UserContext(), actor, admin.NewUser{Email: req.Email, FirstName: req.FirstName, LastName: req.LastName,
		Phone: req.Phone, Role: identity.Role(req.Role)})
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(fiber.Map{"user": userJSON(created.User), "invite_sent": created.Invited})
}

// updateUser reads a JSON merge of the profile: the members present
// change; phone may be null or "" to remove the number.
func (h handlers) updateUser(c *fiber.Ctx) error {
	actor, rt, err := h.actor(c)
	if err != nil {
		return err
	}
	var raw map[string]json.RawMessage
	if err := web.DecodeJSON(c, &raw); err != nil {
		return err
	}
	var (
		ch     admin.ProfileChange
		fields []errs.FieldError
	)
	member := func(name string, nullable bool) *string {
		v, ok := raw[name]
		if !ok {
			return nil
		}
		if string(v) == "null" {
			if nullable {
				return new(string)
			}
			fields = append(fields, errs.FieldError{Field: name, Reason: "must be a string, got null"})
			return nil
		}
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			fields = append(fields, errs.FieldError{Field: name, Reason: "must be a string"})
			return nil
		}
		return &s
	}
	ch.FirstName, ch.LastName = member("first_name", false), member("last_name", false)
	ch.Email, ch.Phone = member("email", false), member("phone", true)
	if len(fields) > 0 {
		return errs.InvalidFields(fields...)
	}
	u, err := rt.Admin.UpdateProfile(c.UserContext(), actor, c.Params("id"), ch)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"user": userJSON(u)})
}

type linkRequest struct {
	SecretKey string `json:"secret_key"`
	Next      string `json:"next"`
}

// loginLink issues a one-time login link: its url is seed 000's link
// path with the query its page reads (user, next, and the secret key when
// the server drew it).
func (h handlers) loginLink(c *fiber.Ctx) error {
	actor, rt, err := h.actor(c)
	if err != nil {
		return err
	}
	var req linkRequest
	if len(strings.TrimSpace(string(c.Body()))) > 0 { // the body is optional
		if err := web.DecodeJSON(c, &req); err != nil {
			return err
		}
	}
	l, err := rt.Admin.IssueLoginLink(c.UserContext(), actor, c.Params("id"), admin.LinkRequest{SecretKey: req.SecretKey, Next: req.Next})
	if err != nil {
		return err
	}
	q := url.Values{"user": {l.UserID}}
	if l.SecretKey != "" {
		q.Set("secret_key", l.SecretKey)
	}
	if l.Next != "" {
		q.Set("next", l.Next)
	}
	return c.Status(fiber.StatusCreated).JSON(fiber.Map{"url": seed000.LinkPathPrefix + l.Token + "/?" + q.Encode(),
		"expires_at": web.TimeOrNil(l.ExpiresAt)})
}

func (h handlers) auditLog(c *fiber.Ctx) error {
	actor, rt, err := h.actor(c)
	if err != nil {
		return err
	}
	f, cursor, limit, err := web.AuditQuery(c)
	if err != nil {
		return err
	}
	f.UserID = c.Query("user_id")
	page, err := rt.Admin.AuditLog(c.UserContext(), actor, f, cursor, limit)
	if err != nil {
		return err
	}
	events := make([]fiber.Map, len(page.Events))
	for i, e := range page.Events {
		events[i] = eventJSON(e)
	}
	out := fiber.Map{"events": events}
	if page.Next != "" {
		out["next_cursor"] = page.Next
	}
	return c.JSON(out)
}

// eventJSON is an audit event as the API shows it: the members it has.
func eventJSON(e audit.Event) fiber.Map {
	m := fiber.Map{"id": e.ID, "type": string(e.Type), "at": web.TimeOrNil(e.Time), "expires_at": web.TimeOrNil(e.ExpiresAt)}
	for k, v := range map[string]string{"actor_id": e.ActorID, "target_id": e.TargetID, "session_id": e.SessionID, "method": e.Method,
		"reason": e.Reason, "old_role": e.OldRole, "new_role": e.NewRole, "user_agent": e.UserAgent, "request_id": e.RequestID} {
		if v != "" {
			m[k] = v
		}
	}
	if len(e.AMR) > 0 {
		m["amr"] = e.AMR
	}
	if e.IP.IsValid() {
		m["ip"] = e.IP.String()
	}
	return m
}
