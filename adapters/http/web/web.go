// Package web holds what every HTTP surface shares: the request context
// (tenant, request id, client IP), the one mapping from error kinds to HTTP
// status, and problem+json rendering.
package web

import (
	"context"
	"net/netip"

	"github.com/gofiber/fiber/v2"

	"github.com/portcullis/portcullis/application/admin"
	"github.com/portcullis/portcullis/application/adminlogin"
	"github.com/portcullis/portcullis/application/audit"
	"github.com/portcullis/portcullis/application/captcha"
	"github.com/portcullis/portcullis/application/emaillogin"
	"github.com/portcullis/portcullis/application/keyring"
	"github.com/portcullis/portcullis/application/login"
	"github.com/portcullis/portcullis/application/loginlink"
	"github.com/portcullis/portcullis/application/mfa"
	"github.com/portcullis/portcullis/application/password"
	"github.com/portcullis/portcullis/application/platform"
	"github.com/portcullis/portcullis/application/profile"
	"github.com/portcullis/portcullis/application/recovery"
	"github.com/portcullis/portcullis/application/session"
	"github.com/portcullis/portcullis/application/smslogin"
	"github.com/portcullis/portcullis/application/storefront"
	"github.com/portcullis/portcullis/application/tokenlogin"
	"github.com/portcullis/portcullis/application/verification"
	"github.com/portcullis/portcullis/domain/tenant"
)

type ctxKey int

const keyTenant ctxKey = iota

// TenantServices are one tenant's services as the HTTP surfaces call them.
// The composition root builds one per tenant (and again when the tenant's
// configuration changes); a request's is found by Tenant.
type TenantServices struct {
	Tenant    tenant.Tenant
	Keys      *keyring.Ring
	Sessions  *session.Service
	Passwords *password.Service
	SMS       *smslogin.Service
	// The e-mail flows: password reset, address verification, and sign-in
	// by mailed code or magic link.
	Recovery     *recovery.Service
	Verification *verification.Service
	EmailLogin   *emaillogin.Service
	// Profile changes a signed-in user's password, name and address.
	Profile *profile.Service
	// Login is the pipeline, for the second step of a sign-in; MFA is the
	// users' second factor.
	Login *login.Pipeline
	MFA   *mfa.Service
	// Admin is what the tenant's staff may do to its users.
	Admin *admin.Service
	// LoginLinks are the admin-issued one-time login links; TokenLogin
	// exchanges an app token for a browser session (seed 000).
	LoginLinks *loginlink.Service
	TokenLogin *tokenlogin.Service
	// Audit is the tenant's audit log, for the admin API.
	Audit *audit.Service
	// AdminLogin is seed 002's admin login with e-mail code activation.
	AdminLogin *adminlogin.Service
	// Captcha is the tenant's CAPTCHA policy, for the route that tells
	// clients which widget to render (the use cases apply it themselves).
	Captcha *captcha.Service
	// Storefront is the users' cart and wishlist, for their routes (the
	// login pipeline merges a guest's at sign-in itself).
	Storefront *storefront.Service
	// Seed003 is what seed 003's profile uses besides the above.
	Seed003 Seed003
}

// Seed003 is what seed 003's profile uses besides the tenant's common
// services, as the composition root sets it from the tenant's
// configuration.
type Seed003 struct {
	// SMS is the tenant's SMS login held to the profile's limits: at most
	// profiles.seed003.resend_count codes a UTC day to one number, each
	// working profiles.seed003.otp_ttl (else sms.code_ttl). Its codes are
	// the tenant's SMS login codes: a code sent on either route verifies
	// on either.
	SMS *smslogin.Service
	// Session is how long the sessions its logins start live: as long as
	// their access token, the only credential the seed's answer carries.
	Session session.Lifetime
}

// WithTenant returns ctx carrying the request's tenant.
func WithTenant(ctx context.Context, rt *TenantServices) context.Context {
	return context.WithValue(ctx, keyTenant, rt)
}

// Tenant returns the request's tenant, or nil outside tenant routes.
func Tenant(ctx context.Context) *TenantServices {
	rt, _ := ctx.Value(keyTenant).(*TenantServices)
	return rt
}

// WithRequestID returns ctx carrying the request id.
func WithRequestID(ctx context.Context, id string) context.Context {
	return platform.WithRequestID(ctx, id)
}

// RequestID returns the request id, or "".
func RequestID(ctx context.Context) string {
	return platform.RequestID(ctx)
}

// WithClientIP returns ctx carrying the client's address.
func WithClientIP(ctx context.Context, ip netip.Addr) context.Context {
	return platform.WithClientIP(ctx, ip)
}

// ClientIP returns the client's address as the trusted-proxy rules
// determined it.
func ClientIP(ctx context.Context) netip.Addr {
	return platform.ClientIP(ctx)
}

// Client describes where the request came from, for the use cases.
func Client(c *fiber.Ctx) session.Client {
	return session.Client{IP: ClientIP(c.UserContext()), UserAgent: string(c.Request().Header.UserAgent())}
}
