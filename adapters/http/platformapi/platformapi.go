// Package platformapi is the platform's API for the tenant lifecycle under
// /platform/v1: list, create, read, update, disable, enable, delete (with
// a grace period) and restore tenants kept in the store, and read the
// platform's audit stream of those changes. It is authenticated by
// platform API keys — "Authorization: Bearer pk.<id>.<secret>" — each
// with scopes (tenants:read, tenants:write), kept as the SHA-256 of their
// secret only; a change is recorded with the key's id as its actor. It is
// served on the main listener, outside any tenant.
package platformapi

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/portcullis/portcullis/adapters/http/web"
	"github.com/portcullis/portcullis/application/audit"
	"github.com/portcullis/portcullis/application/tenancy"
	"github.com/portcullis/portcullis/config"
	"github.com/portcullis/portcullis/domain/errs"
	"github.com/portcullis/portcullis/domain/tenant"
)

// Prefix is where the API lives.
const Prefix = "/platform/v1"

// Key is a platform API key as its store knows it.
type Key struct {
	SHA256 []byte
	Scopes []string
}

// Keys finds a key by id; ok is false for none.
type Keys func(ctx context.Context, id string) (k Key, ok bool, err error)

// Options configure the API.
type Options struct {
	Admin *tenancy.Admin
	Keys  Keys
	// Audit is the platform's audit stream (audit.NewPlatformService).
	Audit *audit.Service
}

// Errors of the API's authentication.
var (
	ErrKeyRequired = errs.E(errs.Unauthenticated, "platform_key_required",
		"A platform API key is required: Authorization: Bearer pk.<id>.<secret>.")
	ErrKeyInvalid = errs.E(errs.Unauthenticated, "platform_key_invalid", "The platform API key is not valid.")
)

const (
	localScopes = "platformapi.scopes"
	localKeyID  = "platformapi.key_id"
)

// Register adds the API to r, the application's root router.
func Register(r fiber.Router, o Options) {
	h := handlers{o}
	g := r.Group(Prefix, web.Guard, h.authenticate)
	read, write := need(config.ScopeTenantsRead), need(config.ScopeTenantsWrite)
	g.Get("/tenants", read, h.list)
	g.Post("/tenants", write, h.create)
	g.Get("/tenants/:id", read, h.get)
	g.Put("/tenants/:id", write, h.update)
	g.Delete("/tenants/:id", write, h.delete)
	g.Post("/tenants/:id/disable", write, h.setDisabled(true))
	g.Post("/tenants/:id/enable", write, h.setDisabled(false))
	g.Post("/tenants/:id/restore", write, h.restore)
	if o.Audit != nil {
		g.Get("/audit", read, h.auditLog)
	}
	g.Use(func(*fiber.Ctx) error { return errs.ErrNotFound })
}

type handlers struct{ o Options }

// authenticate checks the key: its secret's SHA-256 against the stored
// one, in constant time.
func (h handlers) authenticate(c *fiber.Ctx) error {
	c.Set(fiber.HeaderCacheControl, "no-store")
	auth := c.Get(fiber.HeaderAuthorization)
	token, ok := strings.CutPrefix(auth, "Bearer ")
	if !ok || token == "" {
		c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="portcullis-platform"`)
		return ErrKeyRequired
	}
	parts := strings.SplitN(token, ".", 3)
	if len(parts) != 3 || parts[0] != "pk" || !config.PlatformKeyID.MatchString(parts[1]) || parts[2] == "" {
		return ErrKeyInvalid
	}
	k, found, err := h.o.Keys(c.UserContext(), parts[1])
	if err != nil {
		return err
	}
	sum := sha256.Sum256([]byte(parts[2]))
	if !found {
		k.SHA256 = make([]byte, sha256.Size) // the same work for an unknown id
	}
	if subtle.ConstantTimeCompare(sum[:], k.SHA256) != 1 || !found {
		return ErrKeyInvalid
	}
	c.Locals(localScopes, k.Scopes)
	c.Locals(localKeyID, tenancy.Actor(strings.Clone(parts[1]))) // Fiber reuses the header's bytes
	return c.Next()
}

// actor is the key that authenticated the request.
func actor(c *fiber.Ctx) tenancy.Actor {
	a, _ := c.Locals(localKeyID).(tenancy.Actor)
	return a
}

// pathID is the path's tenant id, a copy that outlives the request (it
// may wait in an audit event).
func pathID(c *fiber.Ctx) string { return strings.Clone(c.Params("id")) }

// need refuses a key without scope.
func need(scope string) fiber.Handler {
	return func(c *fiber.Ctx) error {
		scopes, _ := c.Locals(localScopes).([]string)
		if !slices.Contains(scopes, scope) {
			return errs.E(errs.Forbidden, "forbidden", "This platform API key lacks the scope "+scope+".")
		}
		return c.Next()
	}
}

// entryJSON is a tenant as the API shows it: its configuration in the
// tenant file's schema, and its source, version and deletion time.
func entryJSON(e tenancy.Entry) fiber.Map {
	m := fiber.Map{}
	for k, v := range config.EncodeTenant(e.Tenant) {
		m[k] = v
	}
	m["source"], m["version"] = e.Tenant.Source, e.Tenant.Version
	m["delete_after"] = nil
	if !e.DeleteAfter.IsZero() {
		m["delete_after"] = e.DeleteAfter.UTC().Format(time.RFC3339)
	}
	return m
}

func (h handlers) list(c *fiber.Ctx) error {
	es, err := h.o.Admin.List(c.UserContext())
	if err != nil {
		return err
	}
	out := make([]fiber.Map, len(es))
	for i, e := range es {
		out[i] = entryJSON(e)
	}
	return c.JSON(fiber.Map{"tenants": out})
}

func (h handlers) get(c *fiber.Ctx) error {
	e, err := h.o.Admin.Get(c.UserContext(), c.Params("id"))
	if err != nil {
		return err
	}
	return c.JSON(entryJSON(e))
}

// decode reads a tenant configuration (the tenant file's schema, as JSON)
// and validates it; id, when not empty, is the path's, which the body may
// repeat but not contradict.
func decode(c *fiber.Ctx, id string) (tenant.Tenant, error) {
	if !strings.HasPrefix(c.Get(fiber.HeaderContentType), fiber.MIMEApplicationJSON) {
		return tenant.Tenant{}, errs.E(errs.Invalid, "unsupported_media_type", "The body must be application/json.")
	}
	var doc map[string]any
	if err := json.Unmarshal(c.Body(), &doc); err != nil || doc == nil {
		return tenant.Tenant{}, errs.InvalidFields(errs.FieldError{Field: "(body)", Reason: "must be a JSON object: the tenant's configuration"})
	}
	for _, k := range []string{"source", "version", "delete_after"} {
		delete(doc, k) // read-only members of a GET, sent back
	}
	if id != "" {
		if body, ok := doc["id"].(string); ok && body != id {
			return tenant.Tenant{}, errs.InvalidFields(errs.FieldError{Field: "id", Reason: "must be the path's " + id + " (a tenant's id cannot change)"})
		}
		doc["id"] = id
	}
	t, err := config.DecodeTenant(doc, "platform API")
	return t, validation(err)
}

// validation turns a tenant configuration's problems into field errors.
func validation(err error) error {
	var ve *tenant.ValidationError
	if !errors.As(err, &ve) {
		return err
	}
	fields := make([]errs.FieldError, len(ve.Problems))
	for i, p := range ve.Problems {
		fields[i] = errs.FieldError{Field: p.Field, Reason: p.Reason}
	}
	return errs.InvalidFields(fields...)
}

func (h handlers) create(c *fiber.Ctx) error {
	t, err := decode(c, "")
	if err != nil {
		return err
	}
	e, err := h.o.Admin.Create(c.UserContext(), actor(c), t)
	if err != nil {
		return validation(err)
	}
	c.Set(fiber.HeaderLocation, Prefix+"/tenants/"+e.Tenant.ID)
	return c.Status(fiber.StatusCreated).JSON(entryJSON(e))
}

func (h handlers) update(c *fiber.Ctx) error {
	t, err := decode(c, pathID(c))
	if err != nil {
		return err
	}
	e, err := h.o.Admin.Update(c.UserContext(), actor(c), t)
	if err != nil {
		return validation(err)
	}
	return c.JSON(entryJSON(e))
}

func (h handlers) setDisabled(disabled bool) fiber.Handler {
	return func(c *fiber.Ctx) error {
		e, err := h.o.Admin.SetDisabled(c.UserContext(), actor(c), pathID(c), disabled)
		if err != nil {
			return err
		}
		return c.JSON(entryJSON(e))
	}
}

func (h handlers) delete(c *fiber.Ctx) error {
	e, err := h.o.Admin.Delete(c.UserContext(), actor(c), pathID(c))
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusAccepted).JSON(entryJSON(e))
}

func (h handlers) restore(c *fiber.Ctx) error {
	e, err := h.o.Admin.Restore(c.UserContext(), actor(c), pathID(c))
	if err != nil {
		return err
	}
	return c.JSON(entryJSON(e))
}

// auditLog lists the platform's audit stream, newest first: the filters of
// the admin API's audit listing (type, since, until, limit, cursor), and
// tenant_id for the events about one tenant.
func (h handlers) auditLog(c *fiber.Ctx) error {
	f, cursor, limit, err := web.AuditQuery(c)
	if err != nil {
		return err
	}
	f.TargetID = c.Query("tenant_id")
	page, err := h.o.Audit.Query(c.UserContext(), f, cursor, limit)
	if err != nil {
		return err
	}
	events := make([]fiber.Map, len(page.Events))
	for i, e := range page.Events {
		events[i] = eventJSON(e)
	}
	out := fiber.Map{"events": events, "next_cursor": nil}
	if page.Next != "" {
		out["next_cursor"] = page.Next
	}
	return c.JSON(out)
}

// eventJSON is a platform audit event as the API shows it.
func eventJSON(e audit.Event) fiber.Map {
	m := fiber.Map{"id": e.ID, "type": string(e.Type), "at": web.TimeOrNil(e.Time), "expires_at": web.TimeOrNil(e.ExpiresAt),
		"tenant_id": e.TargetID, "actor_type": e.ActorType}
	for k, v := range map[string]string{"actor_id": e.ActorID, "user_agent": e.UserAgent, "request_id": e.RequestID} {
		if v != "" {
			m[k] = v
		}
	}
	if e.Changes != nil || e.Type == audit.TenantUpdated {
		m["changes"] = append([]string{}, e.Changes...)
	}
	if e.IP.IsValid() {
		m["ip"] = e.IP.String()
	}
	return m
}
