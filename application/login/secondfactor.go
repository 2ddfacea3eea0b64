package login

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/portcullis/portcullis/application/audit"
	"github.com/portcullis/portcullis/application/mfa"
	"github.com/portcullis/portcullis/application/session"
	"github.com/portcullis/portcullis/application/throttle"
	"github.com/portcullis/portcullis/domain/errs"
	"github.com/portcullis/portcullis/domain/identity"
	domain "github.com/portcullis/portcullis/domain/otp"
	"github.com/portcullis/portcullis/domain/storefront"
	"github.com/portcullis/portcullis/domain/tenant"
)

// SecondFactors are the users' second factors (mfa.Service is one).
// Enrolled reports whether u has one on; Verify checks a code of it (a
// TOTP or backup code), accepting each code once and counting wrong ones
// against the user's budget.
type SecondFactors interface {
	Enrolled(ctx context.Context, u identity.User) (bool, error)
	Verify(ctx context.Context, u identity.User, code string, c mfa.Client) error
	// Confirm turns on the factor u started setting up, with a code of it.
	Confirm(ctx context.Context, u identity.User, code string) error
}

// ChallengeTTL is how long the second step of a sign-in may take.
const ChallengeTTL = 5 * time.Minute

// EnrolmentTTL is how long a sign-in that must set up a second factor
// may take to do it.
const EnrolmentTTL = 15 * time.Minute

// The engine's kinds of the second step's tokens.
var (
	challengeKind = domain.MFAChallenge(ChallengeTTL)
	enrolmentKind = domain.MFAEnrolment(EnrolmentTTL)
)

// Challenge is the second step a first factor ended in.
type Challenge struct {
	// Token is the opaque MFA token the second step presents: single use,
	// bound to the tenant, the user and the first factor, and no
	// credential of any other kind.
	Token     string
	ExpiresAt time.Time
	// Methods are the second factors that answer it.
	Methods []string
}

// Errors of the second step.
var (
	// ErrMFARequired is how a first factor of a user with a second factor
	// ends: no session, and the error carries the challenge (ChallengeOf)
	// in its extension members mfa_token, mfa_expires_at and methods. An
	// error rather than an outcome, so that no surface can mistake it for
	// a sign-in.
	ErrMFARequired = errs.E(errs.Unauthenticated, "mfa_required",
		"A second factor is required: answer with a code of your authenticator app, or a backup code.")
	// ErrMFAEnrolmentRequired is how a first factor ends for a user whose
	// role the tenant requires a second factor of (mfa.required_roles)
	// and who has none: no session, and the error carries an
	// enrolment_token (and enrolment_expires_at) with which the client can
	// set one up (mfa.Service.Start for EnrolmentUser) and finish the
	// sign-in (CompleteEnrolment). The token is good for nothing else.
	ErrMFAEnrolmentRequired = errs.E(errs.Forbidden, "mfa_enrolment_required",
		"This account must set up two-step verification before it can sign in.")
	// ErrMFATokenInvalid answers an MFA token that is unknown, expired,
	// used, or another tenant's.
	ErrMFATokenInvalid = errs.E(errs.Unauthenticated, "mfa_token_invalid", "This sign-in has expired or was completed. Sign in again.")
	// ErrMFATokenRequired answers a second step without its token.
	ErrMFATokenRequired = errs.E(errs.Invalid, "mfa_token_required", "The mfa_token of the sign-in is required.")
	// ErrMFAAttemptsExceeded answers the submission after too many wrong
	// codes for one challenge: it is dead, the sign-in starts over.
	ErrMFAAttemptsExceeded = errs.E(errs.Unauthenticated, "mfa_attempts_exceeded", "Too many wrong codes for this sign-in. Sign in again.")
)

// challenge ends a first factor of a user with a second factor: the
// grant is kept under a new MFA token, returned in ErrMFARequired, and
// nothing else happens (no session, no last login, no notice).
func (p *Pipeline) challenge(ctx context.Context, g Grant) error {
	g.Local = p.pendingLocal(ctx, g.Local)
	issued, err := p.d.Challenges.Issue(ctx, challengeKind, pending{g}.encode(), g.User.ID)
	if err != nil {
		return fmt.Errorf("login: mfa challenge: %w", err)
	}
	p.d.Audit.Record(ctx, attempt(audit.MFAChallenged, g, ""))
	return ErrMFARequired.WithExtensions(map[string]any{
		"mfa_token": issued.Secret, "mfa_expires_at": issued.ExpiresAt.UTC().Format(time.RFC3339),
		"methods": []string{mfa.MethodTOTP, mfa.MethodBackupCode},
	})
}

// enrolment ends a first factor of a user who must set up a second
// factor first.
func (p *Pipeline) enrolment(ctx context.Context, g Grant) error {
	g.Local = p.pendingLocal(ctx, g.Local)
	issued, err := p.d.Challenges.Issue(ctx, enrolmentKind, pending{g}.encode(), g.User.ID)
	if err != nil {
		return fmt.Errorf("login: mfa enrolment: %w", err)
	}
	p.d.Audit.Record(ctx, attempt(audit.MFAEnrolmentRequired, g, ""))
	return ErrMFAEnrolmentRequired.WithExtensions(map[string]any{
		"enrolment_token": issued.Secret, "enrolment_expires_at": issued.ExpiresAt.UTC().Format(time.RFC3339)})
}

// EnrolmentUser returns the user of a live enrolment token, for setting
// up the factor (mfa.Service.Start) without a session.
func (p *Pipeline) EnrolmentUser(ctx context.Context, token string) (identity.User, error) {
	_, u, err := p.enrolling(ctx, token)
	return u, err
}

// CompleteEnrolment turns on the factor the enrolment token's user set
// up, with a code of it, and finishes the sign-in the first factor began
// (amr plus "otp"). The token is used up; of concurrent completions one
// signs in.
func (p *Pipeline) CompleteEnrolment(ctx context.Context, in SecondStep) (Outcome, error) {
	pg, u, err := p.enrolling(ctx, in.Token)
	if err != nil {
		return Outcome{}, err
	}
	if strings.TrimSpace(in.Code) == "" {
		return Outcome{}, mfa.ErrCodeRequired
	}
	g := pg.grant(u, in.Client)
	if err := p.admitNow(ctx, g); err != nil {
		return Outcome{}, err
	}
	if err := p.d.Factors.Confirm(ctx, u, in.Code); err != nil {
		p.refused(ctx, g, err)
		return Outcome{}, err
	}
	if _, err := p.d.Challenges.Verify(ctx, enrolmentKind, "", strings.TrimSpace(in.Token)); err != nil {
		p.refused(ctx, g, tokenError(err))
		return Outcome{}, tokenError(err)
	}
	g.AMR = withSecondFactor(g.AMR)
	return p.finish(ctx, g)
}

// enrolling reads a live enrolment token and its user.
func (p *Pipeline) enrolling(ctx context.Context, token string) (pendingDecoded, identity.User, error) {
	token = strings.TrimSpace(token)
	if token == "" {
		return pendingDecoded{}, identity.User{}, ErrMFATokenRequired
	}
	raw, err := p.d.Challenges.Check(ctx, enrolmentKind, token)
	if err != nil {
		return pendingDecoded{}, identity.User{}, tokenError(err)
	}
	pg, ok := decodePending(raw)
	if !ok {
		return pendingDecoded{}, identity.User{}, ErrMFATokenInvalid
	}
	u, err := p.d.Users.ByID(ctx, p.t.ID, pg.userID)
	switch {
	case errors.Is(err, errs.ErrNotFound):
		return pendingDecoded{}, identity.User{}, ErrMFATokenInvalid
	case err != nil:
		return pendingDecoded{}, identity.User{}, fmt.Errorf("login: %w", err)
	case !u.Active:
		return pendingDecoded{}, identity.User{}, ErrMFATokenInvalid
	}
	return pg, u, nil
}

// ChallengeOf returns the challenge an ErrMFARequired carries.
func ChallengeOf(err error) (Challenge, bool) {
	e := errs.As(err)
	if e == nil || e.Code != ErrMFARequired.Code {
		return Challenge{}, false
	}
	token, _ := e.Extensions["mfa_token"].(string)
	at, _ := e.Extensions["mfa_expires_at"].(string)
	methods, _ := e.Extensions["methods"].([]string)
	exp, err := time.Parse(time.RFC3339, at)
	if token == "" || err != nil {
		return Challenge{}, false
	}
	return Challenge{Token: token, ExpiresAt: exp, Methods: methods}, true
}

// SecondStep answers an MFA challenge.
type SecondStep struct {
	Token  string
	Code   string
	Client session.Client
}

// CompleteSecondFactor answers the challenge of token with a code of the
// user's second factor and, when it is right, finishes the sign-in the
// first factor began: the session of the kind it asked for, its amr with
// the second factor's ("otp") added. A wrong code is the factor's error
// (mfa.ErrInvalidCode) and leaves the challenge open until it had
// mfa.max_attempts submissions; the next one kills it
// (ErrMFAAttemptsExceeded). Of concurrent right answers to one challenge
// exactly one signs in; the others get ErrMFATokenInvalid.
func (p *Pipeline) CompleteSecondFactor(ctx context.Context, in SecondStep) (Outcome, error) {
	token := strings.TrimSpace(in.Token)
	if token == "" {
		return Outcome{}, ErrMFATokenRequired
	}
	if strings.TrimSpace(in.Code) == "" {
		return Outcome{}, mfa.ErrCodeRequired
	}
	raw, err := p.d.Challenges.Check(ctx, challengeKind, token)
	if err != nil {
		return Outcome{}, tokenError(err)
	}
	pg, ok := decodePending(raw)
	if !ok {
		return Outcome{}, ErrMFATokenInvalid
	}
	// Counted before the code is looked at, so that codes sent together
	// cannot all pass a check made before any was counted.
	budget, limit := throttle.MFAChallenge(token), tenant.Limit{Count: p.t.MFA.MaxAttempts, Window: ChallengeTTL}
	ok, _, err = p.d.Limiter.Hit(ctx, budget, limit)
	switch {
	case err != nil:
		return Outcome{}, errs.ErrUnavailable.Wrap(fmt.Errorf("login: rate limiter: %w", err))
	case !ok:
		_, _ = p.d.Challenges.Verify(ctx, challengeKind, "", token) // dead: used up
		p.refused(ctx, pg.grant(identity.User{ID: pg.userID}, in.Client), ErrMFAAttemptsExceeded)
		return Outcome{}, ErrMFAAttemptsExceeded
	}
	u, err := p.d.Users.ByID(ctx, p.t.ID, pg.userID)
	switch {
	case errors.Is(err, errs.ErrNotFound):
		return Outcome{}, ErrMFATokenInvalid
	case err != nil:
		return Outcome{}, fmt.Errorf("login: %w", err)
	}
	g := pg.grant(u, in.Client)
	if err := p.admitNow(ctx, g); err != nil {
		return Outcome{}, err
	}
	if err := p.d.Factors.Verify(ctx, u, in.Code, factorClient(in.Client)); err != nil {
		p.refused(ctx, g, err)
		// A wrong code is a failed login from the address; the account
		// proved its first factor, and the challenge limits its codes.
		if failedLogin(err) {
			p.recordFailure(ctx, in.Client.IP, "")
		}
		return Outcome{}, err
	}
	if _, err := p.d.Challenges.Verify(ctx, challengeKind, "", token); err != nil {
		p.refused(ctx, g, tokenError(err))
		return Outcome{}, tokenError(err) // another answer completed it first
	}
	g.AMR = withSecondFactor(g.AMR)
	return p.finish(ctx, g)
}

// tokenError is how a refused challenge token is answered: the store away
// is 503, anything else an invalid token.
func tokenError(err error) error {
	if errs.KindOf(err) == errs.Unavailable {
		return err
	}
	return ErrMFATokenInvalid
}

// withSecondFactor is amr with the second factor's references: "otp"
// (RFC 8176's one-time password, which a TOTP code and a backup code
// are), unless the first factor was a one-time secret already, and "mfa"
// (RFC 8176: more than one factor was used) — what a later grant standing
// on this sign-in (a token login) tells a second factor by.
func withSecondFactor(amr []string) []string {
	out := slices.Clone(amr)
	if !slices.Contains(out, "otp") {
		out = append(out, "otp")
	}
	if !slices.Contains(out, "mfa") {
		out = append(out, "mfa")
	}
	return out
}

// factorClient describes the client for the factor's notices.
func factorClient(c session.Client) mfa.Client {
	out := mfa.Client{Device: DeviceName(c.UserAgent)}
	if c.IP.IsValid() {
		out.IP = c.IP.String()
	}
	return out
}

// pending is a grant waiting for its second step, as the challenge keeps
// it: who, by which method, which session (and its lifetime, when it has
// one of its own), and the first factor's amr.
type pending struct{ Grant }

// pendingDecoded is a pending grant read back: the user by id only (the
// second step reads the account again).
type pendingDecoded struct {
	userID      string
	method      tenant.LoginMethod
	amr         []string
	kind        identity.SessionKind
	withLatest  bool
	knownDevice bool
	lifetime    session.Lifetime
	local       storefront.Local
}

const pendingVersion = "1"

func (p pending) encode() string {
	v := url.Values{"v": {pendingVersion}, "u": {p.User.ID}, "m": {string(p.Method)}, "a": {strings.Join(p.AMR, " ")},
		"k": {string(p.Kind)}, "l": {strconv.FormatBool(p.WithLatest)}, "d": {strconv.FormatBool(p.KnownDevice)}}
	if p.Lifetime != (session.Lifetime{}) {
		v.Set("li", strconv.FormatInt(int64(p.Lifetime.Idle/time.Second), 10))
		v.Set("la", strconv.FormatInt(int64(p.Lifetime.Absolute/time.Second), 10))
	}
	if local := encodeLocal(p.Local); local != "" {
		return v.Encode() + "\n" + local // see encodeLocal
	}
	return v.Encode()
}

func decodePending(raw string) (pendingDecoded, bool) {
	var local storefront.Local
	if grant, rest, ok := strings.Cut(raw, "\n"); ok {
		if local, ok = decodeLocal(rest); !ok {
			return pendingDecoded{}, false
		}
		raw = grant
	}
	v, err := url.ParseQuery(raw)
	if err != nil || v.Get("v") != pendingVersion || v.Get("u") == "" {
		return pendingDecoded{}, false
	}
	seconds := func(k string) time.Duration {
		n, _ := strconv.ParseInt(v.Get(k), 10, 64) // absent: 0, the tenant's
		return time.Duration(max(n, 0)) * time.Second
	}
	return pendingDecoded{userID: v.Get("u"), method: tenant.LoginMethod(v.Get("m")), amr: strings.Fields(v.Get("a")),
		kind: identity.SessionKind(v.Get("k")), withLatest: v.Get("l") == "true", knownDevice: v.Get("d") == "true",
		lifetime: session.Lifetime{Idle: seconds("li"), Absolute: seconds("la")}, local: local}, true
}

func (d pendingDecoded) grant(u identity.User, c session.Client) Grant {
	return Grant{User: u, Method: d.method, AMR: d.amr, Kind: d.kind, Client: c, WithLatest: d.withLatest, KnownDevice: d.knownDevice,
		Lifetime: d.lifetime, Local: d.local}
}
