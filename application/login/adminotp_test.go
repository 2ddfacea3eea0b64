package login_test

import (
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/portcullis/portcullis/application/audit"
	"github.com/portcullis/portcullis/application/login"
	"github.com/portcullis/portcullis/application/session"
	"github.com/portcullis/portcullis/domain/identity"
	"github.com/portcullis/portcullis/domain/tenant"
)

// withAdminOTP enables the admin login (seed 002's admin_otp).
func withAdminOTP(t *tenant.Tenant) { t.LoginMethods = append(t.LoginMethods, tenant.MethodAdminOTP) }

// seed002Life is a lifetime of seed 002's tokens.
var seed002Life = session.Lifetime{Idle: 30 * 24 * time.Hour, Absolute: 365 * 24 * time.Hour}

// adminGrant is a proven password of u at the admin login.
func adminGrant(u identity.User) login.Grant {
	return login.Grant{User: u, Method: tenant.MethodAdminOTP, AMR: []string{"pwd"}, Kind: identity.SessionApp,
		Client: session.Client{IP: netip.MustParseAddr("203.0.113.7"), UserAgent: firefox}, Lifetime: seed002Life}
}

// makeAdmin makes the fixture's user an admin, its address verified or
// not, in the store and in f.user.
func (f *fixture) makeAdmin(t *testing.T, verified bool) {
	t.Helper()
	if err := f.users.SetRole(ctx, "shop", f.user.ID, identity.RoleAdmin, f.clock.Now()); err != nil {
		t.Fatal(err)
	}
	if verified {
		if err := f.users.SetEmailVerified(ctx, "shop", f.user.ID, f.user.EmailKey, f.clock.Now()); err != nil {
			t.Fatal(err)
		}
	}
	f.user.Role, f.user.EmailVerified = identity.RoleAdmin, verified
}

// TestTheAdminLoginAdmitsOnlyActiveAdmins: by admin_otp, a right password
// of a user, a member of staff, a tenant's own role or a disabled admin is
// refused like a wrong one (the audit log says why), and an admin signs
// in with a session of the grant's lifetime.
func TestTheAdminLoginAdmitsOnlyActiveAdmins(t *testing.T) {
	t.Parallel()
	f := newFixture(t, false, withAdminOTP)
	for _, role := range []identity.Role{identity.RoleUser, identity.RoleStaff, "support"} {
		u := f.user
		u.Role, u.EmailVerified = role, true
		out, err := f.complete(adminGrant(u))
		if !errors.Is(err, login.ErrInvalidCredentials) || out.Result != 0 {
			t.Fatalf("a %s: %+v, %v; want invalid_credentials", role, out, err)
		}
		if e := f.wantEvents(t, audit.LoginFailed)[0]; e.Reason != "not_admin" || e.Method != "admin_otp" || e.TargetID != "u1" {
			t.Fatalf("a %s's refusal recorded as %+v", role, e)
		}
	}
	// Unverified too: the role is decided first, and a user is never
	// told about activation.
	u := f.user
	u.EmailVerified = false
	if _, err := f.complete(adminGrant(u)); !errors.Is(err, login.ErrInvalidCredentials) {
		t.Fatalf("an unverified user: %v", err)
	}
	f.wantEvents(t, audit.LoginFailed)

	f.makeAdmin(t, true)
	disabled := f.user
	disabled.Active = false
	if _, err := f.complete(adminGrant(disabled)); !errors.Is(err, login.ErrInvalidCredentials) {
		t.Fatalf("a disabled admin: %v", err)
	}
	if e := f.wantEvents(t, audit.LoginFailed)[0]; e.Reason != "account_disabled" {
		t.Fatalf("a disabled admin's refusal recorded as %+v", e)
	}
	unverifiedDisabled := disabled
	unverifiedDisabled.EmailVerified = false
	if out, err := f.complete(adminGrant(unverifiedDisabled)); !errors.Is(err, login.ErrInvalidCredentials) || out.Result == login.ActivationPending {
		t.Fatalf("a disabled admin pending activation: %+v, %v; want invalid_credentials, never activation", out, err)
	}
	f.wantEvents(t, audit.LoginFailed)

	out, err := f.complete(adminGrant(f.user))
	if err != nil || out.Result != login.Signed || out.Credentials.AppToken == "" {
		t.Fatalf("an admin: %+v, %v", out, err)
	}
	s := out.Credentials.Session
	if s.Kind != identity.SessionApp || s.IdleTimeout != seed002Life.Idle || !s.ExpiresAt.Equal(s.CreatedAt.Add(seed002Life.Absolute)) {
		t.Fatalf("the admin's session %+v: want an app token of the grant's lifetime", s)
	}
	if e := f.wantEvents(t, audit.LoginSucceeded)[0]; e.Method != "admin_otp" || e.SessionID != s.ID {
		t.Fatalf("recorded %+v", e)
	}
}

// TestAnAdminPendingActivationGetsTheOutcomeNotASession: an admin whose
// address is not verified ends in ActivationPending at admin_otp, before
// any second factor and with nothing started; other methods keep today's
// behaviour for the same account.
func TestAnAdminPendingActivationGetsTheOutcomeNotASession(t *testing.T) {
	t.Parallel()
	f := newFixture(t, true, withAdminOTP)
	f.makeAdmin(t, false)
	f.enrolled(t) // a second factor does not come first
	f.audit.Reset()
	out, err := f.complete(adminGrant(f.user))
	if err != nil || out.Result != login.ActivationPending || out.Credentials.AppToken != "" || out.Credentials.Session.ID != "" || out.User.ID != "u1" {
		t.Fatalf("an admin pending activation: %+v, %v", out, err)
	}
	if e := f.wantEvents(t, audit.ActivationPending)[0]; e.TargetID != "u1" || e.Method != "admin_otp" || e.ActorID != "" {
		t.Fatalf("recorded %+v", e)
	}
	if got := f.mail.take(); len(got) != 0 {
		t.Fatalf("mailed %+v: a pending activation is no sign-in", got)
	}
	// The canonical password login of the same admin: a challenge, as
	// before (the tenant does not require verified addresses).
	_, err = f.complete(login.Grant{User: f.user, Method: tenant.MethodPassword, AMR: []string{"pwd"}, Kind: identity.SessionAPI})
	if !errors.Is(err, login.ErrMFARequired) {
		t.Fatalf("a password login of the same admin: %v, want mfa_required", err)
	}
}

// TestTheAdminLoginNeedsItsMethod: a tenant without admin_otp refuses it.
func TestTheAdminLoginNeedsItsMethod(t *testing.T) {
	t.Parallel()
	f := newFixture(t, false)
	f.makeAdmin(t, true)
	if err := f.pipe.Allowed(tenant.MethodAdminOTP); !errors.Is(err, login.ErrMethodDisabled) {
		t.Fatalf("Allowed: %v", err)
	}
	if _, err := f.complete(adminGrant(f.user)); !errors.Is(err, login.ErrMethodDisabled) {
		t.Fatalf("Complete: %v", err)
	}
}

// TestTheSecondStepOfAnAdminLoginKeepsItsLifetime: an admin with a
// second factor who sent no code gets the challenge; its second step
// starts the session of the first step's lifetime, and is refused (like
// a wrong secret) when the admin is pending activation by then.
func TestTheSecondStepOfAnAdminLoginKeepsItsLifetime(t *testing.T) {
	t.Parallel()
	f := newFixture(t, false, withAdminOTP)
	f.makeAdmin(t, true)
	e := f.enrolled(t)
	_, err := f.complete(adminGrant(f.user))
	ch, ok := login.ChallengeOf(err)
	if !ok {
		t.Fatalf("an admin with a second factor: %v, want the challenge", err)
	}
	out, err := f.second(ch.Token, f.totp(t, e.Secret))
	if err != nil || out.Credentials.Session.IdleTimeout != seed002Life.Idle || out.Credentials.AppToken == "" {
		t.Fatalf("second step: %+v, %v", out, err)
	}

	// With the code sent along: checked at once.
	f.clock.Advance(60 * time.Second)
	g := adminGrant(f.user)
	g.SecondFactor = f.totp(t, e.Secret)
	if out, err := f.complete(g); err != nil || out.Result != login.Signed {
		t.Fatalf("with the code: %+v, %v", out, err)
	}

	_, err = f.complete(adminGrant(f.user))
	ch, _ = login.ChallengeOf(err)
	if err := f.users.SetEmail(ctx, "shop", "u1", "new@example.com", "new@example.com", f.clock.Now()); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(60 * time.Second)
	f.audit.Reset()
	if _, err := f.second(ch.Token, f.totp(t, e.Secret)); !errors.Is(err, login.ErrInvalidCredentials) {
		t.Fatalf("pending activation at the second step: %v, want invalid_credentials", err)
	}
	if ev := f.wantEvents(t, audit.LoginFailed)[0]; ev.Reason != "email_unverified" {
		t.Fatalf("recorded %+v", ev)
	}
}
