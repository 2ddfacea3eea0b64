// Package login is the pipeline every login method ends in. A method
// (password, and the one-time codes and links that follow) only proves a
// first factor and hands the pipeline a Grant; Complete applies the
// tenant's policy in one place for every method and every API surface —
// method enabled, account active, verified address, (later) the second
// factor — runs the after-login hooks and starts the session. It is the
// only holder of the session Issuer.
package login

import (
	"context"
	"fmt"
	"time"

	"github.com/portcullis/portcullis/application/account"
	"github.com/portcullis/portcullis/application/platform"
	"github.com/portcullis/portcullis/application/session"
	"github.com/portcullis/portcullis/domain/errs"
	"github.com/portcullis/portcullis/domain/identity"
	"github.com/portcullis/portcullis/domain/tenant"
)

// Errors the pipeline reports.
var (
	// ErrInvalidCredentials answers every failed login alike: unknown
	// account, wrong secret, disabled account, unverified e-mail where the
	// tenant requires verification.
	ErrInvalidCredentials = errs.E(errs.Unauthenticated, "invalid_credentials", "The e-mail address or password is incorrect.")
	// ErrMethodDisabled answers a login method the tenant has not enabled.
	ErrMethodDisabled = errs.E(errs.Forbidden, "method_disabled", "This sign-in method is not enabled for this tenant.")
)

// Grant is a proven first factor: who, by which method, asking for which
// kind of session.
type Grant struct {
	User   identity.User
	Method tenant.LoginMethod
	// AMR are the authentication method references the session records
	// (RFC 8176: "pwd", "sms", "otp", "mfa"...).
	AMR    []string
	Kind   identity.SessionKind
	Client session.Client
	// WithLatest asks for the user's newest web and app sessions from
	// before this login in the outcome (seed 001's last_session and
	// last_token_session).
	WithLatest bool
}

// Result says what a completed login produced.
type Result int

// The results. Later issues add the second factor (MFARequired) and admin
// activation (ActivationPending); a surface renders each in its own shape.
const (
	// Signed: a session was started and its credentials are in the outcome.
	Signed Result = iota + 1
	// MFARequired: the first factor passed, a second one is needed; the
	// outcome carries the challenge instead of credentials.
	MFARequired
	// ActivationPending: the account must be activated first (seed 002).
	ActivationPending
)

// Outcome is what Complete produced.
type Outcome struct {
	Result      Result
	User        identity.User
	Credentials session.Credentials
	// LatestWeb and LatestApp are the user's newest live sessions of each
	// kind before this login, when the grant asked for them.
	LatestWeb, LatestApp *identity.Session
}

// Pipeline is one tenant's login pipeline.
type Pipeline struct {
	t      tenant.Tenant
	users  account.Users
	issuer *session.Issuer
	clock  platform.Clock
}

// New returns the pipeline of tenant t. It takes the whole tenant: the
// pipeline is where the tenant's login policy is applied.
func New(t tenant.Tenant, users account.Users, issuer *session.Issuer, clock platform.Clock) *Pipeline {
	return &Pipeline{t: t, users: users, issuer: issuer, clock: clock}
}

// Allowed reports whether the tenant has method enabled. A method asks it
// before doing any work; Complete asks again.
func (p *Pipeline) Allowed(method tenant.LoginMethod) error {
	if !p.t.Enabled(method) {
		return ErrMethodDisabled
	}
	return nil
}

// lastLoginPrecision is how often a login writes last-login to the user:
// an API client that logs in for every call would otherwise cost a
// user-document write per login.
const lastLoginPrecision = time.Minute

// Complete applies the tenant's policy to a proven first factor and, when
// it passes, starts the session. A grant the policy refuses (a disabled
// account, an unverified address the tenant requires verified) answers
// ErrInvalidCredentials, like a wrong secret.
func (p *Pipeline) Complete(ctx context.Context, g Grant) (Outcome, error) {
	if err := p.Allowed(g.Method); err != nil {
		return Outcome{}, err
	}
	u := g.User
	if u.TenantID != p.t.ID || !u.Active || (p.t.RequireVerifiedEmail && !u.EmailVerified) {
		return Outcome{}, ErrInvalidCredentials
	}
	now := p.clock.Now().UTC()
	if now.Sub(u.LastLoginAt) >= lastLoginPrecision {
		if err := p.users.RecordLogin(ctx, p.t.ID, u.ID, now); err == nil {
			u.LastLoginAt = now
		}
	}
	out := Outcome{Result: Signed, User: u}
	if g.WithLatest {
		var err error
		if out.LatestWeb, out.LatestApp, err = p.issuer.Latest(ctx, u.ID); err != nil {
			return Outcome{}, err
		}
	}
	creds, err := p.issuer.Start(ctx, u, g.Kind, g.AMR, g.Client)
	if err != nil {
		return Outcome{}, fmt.Errorf("login: %w", err)
	}
	out.Credentials = creds
	return out, nil
}
