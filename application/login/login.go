// Package login is the pipeline every login method ends in. A method
// (password, and the one-time codes and links that follow) only proves a
// first factor and hands the pipeline a Grant; Complete applies the
// tenant's policy in one place for every method and every API surface —
// method enabled, account active, verified address, (later) the second
// factor — runs the after-login hooks and starts the session. It is the
// only holder of the session Issuer.
//
// The pipeline also owns the tenant's CAPTCHA gate (Gate): every method
// calls it before its first factor's work, for the route of its request
// (login, register, sms_send, email_send), and hands the Pass it gets to
// Complete with the grant; Complete refuses a grant without one. The
// pipeline counts the failed logins the after_failures routes escalate
// on: a method's refusals of a secret (Refused) and its own, and forgets
// the account's on a proven first factor.
//
// The after-login hooks: the last login is recorded, and the user's first
// sign-in ever told (Outcome.FirstSignIn); the client's address
// is remembered as one the account signs in from (Places); and, when the
// tenant has email.new_signin_notice, a sign-in from neither a device the
// account knows nor an address it signed in from within 30 days mails its
// owner a "new sign-in" notice, with the time, the address and the device;
// and, for a storefront tenant, the guest's local cart and wishlist the
// grant carries are merged into the user's (storefront.go), once the
// session has started — after the second step for a user with a second
// factor — and never at the cost of the sign-in.
//
// The pipeline writes the audit events of what it decides: a sign-in
// (login.succeeded, with the method, amr and session), a sign-in it
// refuses (login.failed: the method disabled, the account disabled, its
// address unverified, a wrong or missing second factor, a spent proof),
// a first factor that goes on to a second (mfa.challenged,
// mfa.enrolment_required), and an admin's sign-in by admin_otp that waits
// for activation (activation.pending). A method records the refusals of
// its own first factor (a wrong password, a wrong code).
package login

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"time"
	"unicode"

	"github.com/mileusna/useragent"

	"github.com/portcullis/portcullis/application/account"
	"github.com/portcullis/portcullis/application/audit"
	"github.com/portcullis/portcullis/application/otp"
	"github.com/portcullis/portcullis/application/platform"
	"github.com/portcullis/portcullis/application/session"
	shop "github.com/portcullis/portcullis/application/storefront"
	"github.com/portcullis/portcullis/application/throttle"
	"github.com/portcullis/portcullis/domain/errs"
	"github.com/portcullis/portcullis/domain/identity"
	"github.com/portcullis/portcullis/domain/message"
	"github.com/portcullis/portcullis/domain/storefront"
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
	// KnownDevice says the method recognised the client as one of the
	// account's devices (a valid device credential), or that there is
	// nothing new to tell the owner (the sign-in right after the client
	// created the account): no "new sign-in" notice is mailed.
	KnownDevice bool
	// SecondFactor is a code of the user's second factor sent with the
	// first (seed 001's login "code"): when the user has one, it is
	// checked here instead of ending in a challenge. Ignored for a user
	// without one.
	SecondFactor string
	// SecondFactorPassed says the first factor stands on a sign-in that
	// passed the user's second factor already (a token login with an app
	// token whose session's amr has "mfa"): the pipeline asks for no
	// second factor, and the amr the grant carries says so. Only a method
	// that proved such a sign-in sets it.
	SecondFactorPassed bool
	// Spend, when set, spends the first factor's single-use proof (a
	// magic link): Complete calls it once every check has passed, the
	// second factor's included, right before the session starts, and its
	// error ends the sign-in. A sign-in refused for its second factor (no
	// code, a wrong one) so leaves the proof usable, for the client to
	// send again with the code, as seed 001's original magic link is. Of
	// concurrent sign-ins with one proof, Spend must let one through. A
	// grant with Spend and no code ends in ErrMFARequired without a
	// challenge: the challenge's second step would sign in without
	// spending the proof.
	Spend func(ctx context.Context) error
	// Lifetime, when set, is how long the session lives instead of the
	// tenant's sessions policy (seed 002's tokens: 30 days without use).
	Lifetime session.Lifetime
	// Pass is what the request's CAPTCHA gate (Gate) gave the method:
	// Complete refuses a grant without one.
	Pass Pass
	// Local is the guest's local cart and wishlist the client sent with
	// the login: for a storefront tenant, merged into the user's once the
	// session starts (see Outcome.Storefront); kept with the challenge of
	// a second factor until then.
	Local storefront.Local
}

// Result says what a completed login produced.
type Result int

// The results. A first factor that needs a second ends in the error
// ErrMFARequired (with its challenge), not in an outcome. A surface
// renders each in its own shape.
const (
	// Signed: a session was started and its credentials are in the outcome.
	Signed Result = iota + 1
	// ActivationPending: the account must be activated first (seed 002):
	// a grant of method admin_otp whose user is an admin with an address
	// not verified yet. No session was started and no credential is in
	// the outcome; the method mails the activation code.
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
	// FirstSignIn says this is the user's first sign-in ever, by any
	// method on any surface: of concurrent first sign-ins exactly one
	// says so (see FirstSignIns).
	FirstSignIn bool
	// Storefront is, for a storefront tenant's sign-in, the user's cart
	// and wishlist after the grant's local ones were merged in, the local
	// entries dropped, and whether the merge is pending; nil otherwise.
	Storefront *shop.MergeResult
}

// Places recognises the addresses an account signs in from
// (device.Service is one). Remember records a sign-in of the account with
// the e-mail key from ip; Seen reports whether the account signed in from
// ip lately, and records this sign-in too.
type Places interface {
	Remember(ctx context.Context, emailKey string, ip netip.Addr)
	Seen(ctx context.Context, emailKey string, ip netip.Addr) bool
}

// Mail delivers the tenant's mail in the background (courier.Courier is
// one).
type Mail interface {
	Send(ctx context.Context, kind message.MailKind, to string, d message.MailData, deadline time.Time) error
}

// Deps are what one tenant's pipeline uses.
type Deps struct {
	Users  account.Users
	Issuer *session.Issuer
	Places Places
	Mail   Mail
	// Factors are the users' second factors; Challenges issues and uses
	// the tokens of the second step; Limiter counts its submissions.
	Factors    SecondFactors
	Challenges *otp.Engine
	Limiter    throttle.Limiter
	// Audit records the sign-ins, the refusals and the challenges.
	Audit audit.Recorder
	// Captcha is the tenant's CAPTCHA policy (Gate); nil only for a
	// tenant whose every route is off.
	Captcha Captcha
	// FirstSignIns tells a user's first sign-in (Outcome.FirstSignIn);
	// nil tells none.
	FirstSignIns FirstSignIns
	Clock        platform.Clock
	// Storefront merges a guest's cart and wishlist at sign-in; nil
	// merges nothing. Log is where a merge that failed is told (nil:
	// slog's default).
	Storefront Storefront
	Log        *slog.Logger
}

// Pipeline is one tenant's login pipeline.
type Pipeline struct {
	t tenant.Tenant
	d Deps
}

// New returns the pipeline of tenant t. It takes the whole tenant: the
// pipeline is where the tenant's login policy is applied.
func New(t tenant.Tenant, d Deps) *Pipeline {
	return &Pipeline{t: t, d: d}
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
// account, an unverified address the tenant requires verified, anyone but
// an admin signing in by admin_otp) answers ErrInvalidCredentials, like a
// wrong secret. A grant of admin_otp whose admin has not verified the
// address yet ends in the outcome ActivationPending, before the second
// factor: no session, nothing else happens. A user with a second factor
// gets no session here: the answer is ErrMFARequired with a challenge
// (CompleteSecondFactor answers it), unless the grant carries a code of
// the factor, which is checked at once. A user without one whose role the
// tenant requires one of gets ErrMFAEnrolmentRequired (CompleteEnrolment
// finishes the sign-in once one is set up).
// A grant's single-use proof is spent last when the grant says how
// (Grant.Spend).
//
// The grant must carry the Pass of the request's CAPTCHA gate (Gate, for
// the route login, or register for the sign-in of a registration): one
// without is an internal error, whatever the tenant's policy, so that no
// method can skip the gate. A grant the policy refuses, or whose second
// factor is wrong, counts as a failed login against the pass's address
// and account; a proven first factor forgets the account's failures.
func (p *Pipeline) Complete(ctx context.Context, g Grant) (Outcome, error) {
	if err := p.gated(g); err != nil {
		return Outcome{}, err
	}
	out, err := p.complete(ctx, g)
	p.settle(ctx, g, err)
	return out, err
}

// complete is Complete for a grant that passed the CAPTCHA gate.
func (p *Pipeline) complete(ctx context.Context, g Grant) (Outcome, error) {
	if err := p.admit(ctx, g); errors.Is(err, errActivationPending) {
		p.d.Audit.Record(ctx, attempt(audit.ActivationPending, g, ""))
		return Outcome{Result: ActivationPending, User: g.User}, nil
	} else if err != nil {
		return Outcome{}, err
	}
	u := g.User
	enrolled, err := p.d.Factors.Enrolled(ctx, u)
	if err != nil {
		return Outcome{}, err // a second factor that cannot be looked up is not skipped
	}
	if enrolled && !g.SecondFactorPassed {
		switch {
		case g.SecondFactor == "" && g.Spend != nil:
			p.d.Audit.Record(ctx, attempt(audit.MFAChallenged, g, ""))
			return Outcome{}, ErrMFARequired
		case g.SecondFactor == "":
			return Outcome{}, p.challenge(ctx, g)
		}
		if err := p.d.Factors.Verify(ctx, u, g.SecondFactor, factorClient(g.Client)); err != nil {
			p.refused(ctx, g, err)
			return Outcome{}, err
		}
		g.AMR = withSecondFactor(g.AMR)
	} else if !enrolled && p.t.MFA.Requires(string(u.Role)) {
		return Outcome{}, p.enrolment(ctx, g)
	}
	if g.Spend != nil {
		if err := g.Spend(ctx); err != nil {
			p.refused(ctx, g, err)
			return Outcome{}, err
		}
	}
	return p.finish(ctx, g)
}

// errActivationPending is what admit answers for a grant of admin_otp
// whose admin has not verified the address yet: Complete makes it the
// outcome ActivationPending (and records it); a second step refuses it
// like a policy refusal (see admitNow).
var errActivationPending = errs.E(errs.Forbidden, "activation_pending", "The account must be activated first.")

// Why the pipeline refuses a grant, as the audit log records it (the
// client is told ErrInvalidCredentials).
const (
	reasonDisabled   = "account_disabled"
	reasonUnverified = "email_unverified"
	// reasonNotAdmin: a right password of anyone but an admin at the
	// admin login (admin_otp).
	reasonNotAdmin = "not_admin"
)

// admit applies the tenant's policy on methods and accounts to a grant.
// A refusal is recorded with the reason the client is not told. Only an
// admin is admitted by admin_otp, and one whose address is not verified
// is not refused but pending activation (errActivationPending, not
// recorded here).
func (p *Pipeline) admit(ctx context.Context, g Grant) error {
	u := g.User
	var reason string
	switch {
	case !p.t.Enabled(g.Method):
		p.d.Audit.Record(ctx, attempt(audit.LoginFailed, g, ErrMethodDisabled.Code))
		return ErrMethodDisabled
	case u.TenantID != p.t.ID:
		reason = ErrInvalidCredentials.Code
	case !u.Active:
		reason = reasonDisabled
	case g.Method == tenant.MethodAdminOTP && u.Role != identity.RoleAdmin:
		reason = reasonNotAdmin
	case g.Method == tenant.MethodAdminOTP && !u.EmailVerified:
		return errActivationPending
	case p.t.RequireVerifiedEmail && !u.EmailVerified:
		reason = reasonUnverified
	default:
		return nil
	}
	p.d.Audit.Record(ctx, attempt(audit.LoginFailed, g, reason))
	return ErrInvalidCredentials
}

// admitNow is admit for a second step, which finishes a sign-in or
// refuses it: an account pending activation by then (its address was
// changed since the first step) is refused like a wrong secret.
func (p *Pipeline) admitNow(ctx context.Context, g Grant) error {
	err := p.admit(ctx, g)
	if errors.Is(err, errActivationPending) {
		p.d.Audit.Record(ctx, attempt(audit.LoginFailed, g, reasonUnverified))
		return ErrInvalidCredentials
	}
	return err
}

// attempt is the audit event of a sign-in of g that is not (yet) a
// session: about g's user, acted by nobody signed in.
func attempt(typ audit.Type, g Grant, reason string) audit.Event {
	return audit.Event{Type: typ, TargetID: g.User.ID, Method: string(g.Method), AMR: g.AMR, Reason: reason,
		IP: g.Client.IP, UserAgent: g.Client.UserAgent}
}

// refused records a sign-in of g refused with err, when err is a refusal
// and not an outage (see audit.Refusal).
func (p *Pipeline) refused(ctx context.Context, g Grant, err error) {
	if reason, ok := audit.Refusal(err); ok {
		p.d.Audit.Record(ctx, attempt(audit.LoginFailed, g, reason))
	}
}

// finish starts the session of a grant that passed every check, and runs
// the hooks of a sign-in.
func (p *Pipeline) finish(ctx context.Context, g Grant) (Outcome, error) {
	u := g.User
	now := p.d.Clock.Now().UTC()
	before := u // as it was before this sign-in: its last login is the previous one
	if now.Sub(u.LastLoginAt) >= lastLoginPrecision {
		if err := p.d.Users.RecordLogin(ctx, p.t.ID, u.ID, now); err == nil {
			u.LastLoginAt = now
		}
	}
	out := Outcome{Result: Signed, User: u}
	if g.WithLatest {
		var err error
		if out.LatestWeb, out.LatestApp, err = p.d.Issuer.Latest(ctx, u.ID); err != nil {
			return Outcome{}, err
		}
	}
	creds, err := p.d.Issuer.StartFor(ctx, u, g.Kind, g.AMR, g.Client, g.Lifetime)
	if err != nil {
		return Outcome{}, fmt.Errorf("login: %w", err)
	}
	out.Credentials = creds
	out.FirstSignIn = p.firstSignIn(ctx, before, now)
	signed := attempt(audit.LoginSucceeded, g, "")
	signed.ActorID, signed.SessionID = u.ID, creds.Session.ID
	p.d.Audit.Record(ctx, signed)
	p.signedIn(ctx, u, g, now)
	out.Storefront = p.mergeLocal(ctx, u, g.Local)
	return out, nil
}

// noticeLifetime is how long a "new sign-in" notice is retried.
const noticeLifetime = 24 * time.Hour

// signedIn runs the hooks of a started session: the client's address is
// remembered, and a sign-in from a new place is told to the account's
// owner when the tenant asks for it. Neither can undo the sign-in.
func (p *Pipeline) signedIn(ctx context.Context, u identity.User, g Grant, now time.Time) {
	if g.KnownDevice || !p.t.Email.NewSigninNotice || u.Email == "" {
		p.d.Places.Remember(ctx, u.EmailKey, g.Client.IP)
		return
	}
	if p.d.Places.Seen(ctx, u.EmailKey, g.Client.IP) {
		return
	}
	d := message.MailData{Name: u.FirstName, Email: u.Email, When: now, Device: DeviceName(g.Client.UserAgent)}
	if g.Client.IP.IsValid() {
		d.IP = g.Client.IP.String()
	}
	_ = p.d.Mail.Send(ctx, message.MailNewSignIn, u.Email, d, now.Add(noticeLifetime))
}

// maxDeviceName bounds what a notice shows of a user agent.
const maxDeviceName = 80

// DeviceName summarises a user agent as people read it ("Firefox on
// Linux"); "" when it names nothing recognisable.
func DeviceName(ua string) string {
	if strings.TrimSpace(ua) == "" {
		return ""
	}
	parsed := useragent.Parse(ua)
	name := parsed.Name
	switch {
	case name != "" && parsed.OS != "":
		name += " on " + parsed.OS
	case name == "":
		name = parsed.OS
	}
	name = strings.Map(func(r rune) rune {
		if !unicode.IsPrint(r) {
			return -1
		}
		return r
	}, name)
	if r := []rune(name); len(r) > maxDeviceName {
		name = string(r[:maxDeviceName])
	}
	return name
}
