// Package loginlink is the admin-issued one-time login link, the tenant's
// login method admin_link (seed 000's passwordless login). A member of
// staff whose role has the scope login_links:issue issues a link for an
// active user of a lower rank, bound to a secret key of their choosing;
// whoever presents the link's token with the user's id and that secret key
// within the link's lifetime signs in as the user, in a browser, once.
//
// The token comes from the one-time-code engine (a link-form secret of
// purpose admin_link: 256 random bits, stored only as an HMAC under the
// tenant's key, so bound to the tenant); the challenge's subject binds the
// user and a hash of the secret key.
//
// Opening a link is safe from mail and link scanners: Check only looks at
// a token (it never uses it up, whoever asks how often), and only Consume,
// which a surface runs for an explicit sign-in (a POST), uses it. Consume
// uses the link up whatever comes of it: a wrong user or secret key
// presented with a live token spends it, so that a secret key, which may
// be a short word, cannot be guessed against a live link.
//
// Every sign-in ends in the login pipeline with tenant.MethodAdminLink: a
// disabled account gets no session, nor does a user with a second factor
// (this method has no second step; the pipeline answers
// login.ErrMFARequired). Consume passes the tenant's CAPTCHA gate for the
// route login (login.Pipeline.Gate) before the link is looked at, naming
// no account (the link names it); a refused link counts as a failed login
// from the address towards the CAPTCHA's escalation.
//
// Audit: an issued link is link.issued (the actor who issued it, the user
// it signs in); a used one is link.used (the user, whoever presented it,
// recorded once the engine let this use through, whatever the pipeline
// then decides); a link refused before the pipeline — unknown, expired,
// used, or presented with another user or secret key — is login.failed
// with the reason login_link_invalid (and the link's user when the token
// was live). The pipeline records the sign-in or its refusal. No event
// holds the token, the secret key or the link.
package loginlink

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/portcullis/portcullis/application/audit"
	"github.com/portcullis/portcullis/application/captcha"
	"github.com/portcullis/portcullis/application/login"
	"github.com/portcullis/portcullis/application/otp"
	"github.com/portcullis/portcullis/application/session"
	"github.com/portcullis/portcullis/domain/errs"
	"github.com/portcullis/portcullis/domain/identity"
	domain "github.com/portcullis/portcullis/domain/otp"
	"github.com/portcullis/portcullis/domain/redirect"
	"github.com/portcullis/portcullis/domain/tenant"
)

// Users finds accounts by id; an unknown id answers errs.ErrNotFound.
type Users interface {
	ByID(ctx context.Context, tenantID, id string) (identity.User, error)
}

// Defaults of the Policy fields left zero: seed 000's lifetime of 300 s,
// and at most 50 links for one user in a UTC day.
const (
	DefaultTTL      = tenant.DefaultSeed000LoginLinkTTL
	DefaultDailyCap = 50
)

// Bounds of the values a link is bound to. A secret key is compared by
// its hash, so its length costs nothing after the issue; the bound only
// keeps requests small.
const (
	MaxSecretKeyLength = 256
	maxUserIDLength    = 256
)

// Home is where a browser goes after a sign-in whose target was not given
// or not allowed: seed 000's home page.
const Home = "/"

// Policy is one tenant's policy for login links; zero fields take the
// defaults.
type Policy struct {
	// TTL is how long a link works (profiles.seed000.passwordless_login_max_age).
	TTL time.Duration
	// DailyCap is the most links one user gets in a UTC day; more answer
	// otp.ErrDailyCap (429).
	DailyCap int
	// Rights are the tenant's roles' rights; nil means
	// identity.DefaultRights().
	Rights identity.Rights
}

func (p Policy) withDefaults() Policy {
	if p.TTL == 0 {
		p.TTL = DefaultTTL
	}
	if p.DailyCap == 0 {
		p.DailyCap = DefaultDailyCap
	}
	if p.Rights == nil {
		p.Rights = identity.DefaultRights()
	}
	return p
}

// Deps are what one tenant's login links use.
type Deps struct {
	Users Users
	// Links is the tenant's one-time-code engine.
	Links *otp.Engine
	Login *login.Pipeline
	// Audit records the links issued and used, and the links refused.
	Audit audit.Recorder
}

// ErrLinkInvalid answers a link that cannot sign anyone in: a token that
// is malformed, unknown, expired, used, another tenant's or of another
// purpose, presented with another user's id or another secret key, or
// whose user is gone.
var ErrLinkInvalid = errs.E(errs.Unauthenticated, "login_link_invalid", "This login link is invalid, has expired or was already used.")

// amr is what a sign-in by a login link records. RFC 8176 has no value
// for a link an admin hands on: "otp" is the one for a one-time secret
// delivered out of band, and what a magic link records here too.
var amr = []string{"otp"}

// Service is one tenant's login links.
type Service struct {
	t    tenant.Tenant
	p    Policy
	kind domain.Kind
	d    Deps
}

// New returns the login links of tenant t under policy p (zero fields at
// their defaults).
func New(t tenant.Tenant, p Policy, d Deps) *Service {
	p = p.withDefaults()
	return &Service{t: t, p: p, kind: domain.AdminLink(p.TTL, p.DailyCap), d: d}
}

// Kind is the engine's kind of this tenant's link tokens.
func (s *Service) Kind() domain.Kind { return s.kind }

// IssueInput asks for a link.
type IssueInput struct {
	// Actor is the authenticated user asking.
	Actor identity.User
	// UserID is the user the link signs in.
	UserID string
	// SecretKey is what the link's holder must present with it.
	SecretKey string
	// Client is where the request came from (for the audit log).
	Client session.Client
}

// Issued is a link's token and when it stops working.
type Issued struct {
	Token     string
	ExpiresAt time.Time
}

// Issue issues a link for a user. In this order: the method must be
// enabled (login.ErrMethodDisabled); the actor's role must have the scope
// login_links:issue (identity.ErrForbidden naming it); the fields user and
// secret_key are required, and the user must exist and be active (field
// errors, all at once; on "user": "does not exist", "is not active"); the
// actor must outrank the user (identity.ErrForbidden). A user who had DailyCap links
// today gets no more (otp.ErrDailyCap).
func (s *Service) Issue(ctx context.Context, in IssueInput) (Issued, error) {
	if err := s.d.Login.Allowed(tenant.MethodAdminLink); err != nil {
		return Issued{}, err
	}
	if in.Actor.TenantID != s.t.ID || !in.Actor.Active {
		return Issued{}, identity.ErrForbidden
	}
	if err := s.p.Rights.Require(in.Actor.Role, identity.ScopeLoginLinksIssue); err != nil {
		return Issued{}, err
	}
	userID, key := strings.TrimSpace(in.UserID), strings.TrimSpace(in.SecretKey)
	var (
		fields []errs.FieldError
		u      identity.User
	)
	if userID == "" {
		fields = append(fields, errs.FieldError{Field: "user", Reason: "is required"})
	} else {
		var err error
		u, err = s.user(ctx, userID)
		switch {
		case errors.Is(err, errs.ErrNotFound):
			fields = append(fields, errs.FieldError{Field: "user", Reason: "does not exist"})
		case err != nil:
			return Issued{}, err
		case !u.Active:
			fields = append(fields, errs.FieldError{Field: "user", Reason: "is not active"})
		}
	}
	switch {
	case key == "":
		fields = append(fields, errs.FieldError{Field: "secret_key", Reason: "is required"})
	case len(key) > MaxSecretKeyLength:
		fields = append(fields, errs.FieldError{Field: "secret_key", Reason: fmt.Sprintf("must be at most %d bytes", MaxSecretKeyLength)})
	}
	if len(fields) > 0 {
		return Issued{}, errs.InvalidFields(fields...)
	}
	if !s.p.Rights.Outranks(in.Actor.Role, u.Role) {
		return Issued{}, identity.ErrForbidden.WithMessage("The role %q does not rank above the role %q of this user.", in.Actor.Role, u.Role)
	}
	issued, err := s.d.Links.Issue(ctx, s.kind, subject{UserID: u.ID, Key: keyHash(u.ID, key)}.encode(), u.ID)
	if err != nil {
		return Issued{}, err
	}
	s.d.Audit.Record(ctx, audit.Event{Type: audit.LinkIssued, ActorID: in.Actor.ID, TargetID: u.ID, Method: string(tenant.MethodAdminLink),
		IP: in.Client.IP, UserAgent: in.Client.UserAgent})
	return Issued{Token: issued.Secret, ExpiresAt: issued.ExpiresAt}, nil
}

// Presented is a link as its holder presents it: the token, and the user
// id and secret key that must come with it.
type Presented struct {
	Token     string
	UserID    string
	SecretKey string
}

// Check reports whether a link is live and presented with its user's id
// and secret key (nil), or ErrLinkInvalid, without using it up or
// changing anything: what a surface runs for a GET or HEAD of the link (a
// mail scanner's, a browser's prefetch), as often as it is run. The
// pipeline's checks (an active account, a second factor) come only with
// Consume. The store being away answers errs.Unavailable.
func (s *Service) Check(ctx context.Context, in Presented) error {
	if err := s.d.Login.Allowed(tenant.MethodAdminLink); err != nil {
		return err
	}
	token := strings.TrimSpace(in.Token)
	if token == "" {
		return ErrLinkInvalid
	}
	raw, err := s.d.Links.Check(ctx, s.kind, token)
	if err != nil {
		return linkError(err)
	}
	if sub, ok := decode(raw); !ok || !sub.presentedWith(in.UserID, in.SecretKey) {
		return ErrLinkInvalid
	}
	return nil
}

// ConsumeInput uses a link.
type ConsumeInput struct {
	Presented
	// Next is where the browser should go once signed in; it is used when
	// the tenant's redirect policy allows it, else Home.
	Next   string
	Client session.Client
	// Captcha is the client's CAPTCHA response, for the tenant's login
	// route ("" for none).
	Captcha string
}

// Outcome is a sign-in by a link: the pipeline's outcome (a browser
// session) and where the browser goes next.
type Outcome struct {
	login.Outcome
	Next string
}

// Consume uses a link up and, when it was presented with its user's id
// and secret key, hands the user to the login pipeline for a browser
// session. The token is spent by its first presentation, whatever comes
// of it: of concurrent uses exactly one gets past the engine, and a token
// presented with another user or secret key is spent too (ErrLinkInvalid
// then and for every later use). A disabled account answers
// login.ErrInvalidCredentials, a user with a second factor
// login.ErrMFARequired: no session in either case.
func (s *Service) Consume(ctx context.Context, in ConsumeInput) (Outcome, error) {
	if err := s.d.Login.Allowed(tenant.MethodAdminLink); err != nil {
		return Outcome{}, err
	}
	pass, err := s.d.Login.Gate(ctx, captcha.RouteLogin, in.Captcha, in.Client, "")
	if err != nil {
		return Outcome{}, err
	}
	token := strings.TrimSpace(in.Token)
	if token == "" {
		return Outcome{}, s.refused(ctx, in.Client, pass, "")
	}
	raw, err := s.d.Links.Verify(ctx, s.kind, "", token)
	if err != nil {
		if errs.KindOf(err) == errs.Unavailable {
			return Outcome{}, err
		}
		return Outcome{}, s.refused(ctx, in.Client, pass, "")
	}
	sub, ok := decode(raw)
	if !ok {
		return Outcome{}, s.refused(ctx, in.Client, pass, "")
	}
	if !sub.presentedWith(in.UserID, in.SecretKey) {
		return Outcome{}, s.refused(ctx, in.Client, pass, sub.UserID)
	}
	u, err := s.user(ctx, sub.UserID)
	switch {
	case errors.Is(err, errs.ErrNotFound):
		return Outcome{}, s.refused(ctx, in.Client, pass, sub.UserID)
	case err != nil:
		return Outcome{}, err
	}
	s.d.Audit.Record(ctx, audit.Event{Type: audit.LinkUsed, TargetID: u.ID, Method: string(tenant.MethodAdminLink),
		IP: in.Client.IP, UserAgent: in.Client.UserAgent})
	out, err := s.d.Login.Complete(ctx, login.Grant{User: u, Method: tenant.MethodAdminLink, AMR: amr,
		Kind: identity.SessionWeb, Client: in.Client, Pass: pass})
	if err != nil {
		return Outcome{}, err
	}
	return Outcome{Outcome: out, Next: s.Target(in.Next)}, nil
}

// Target is where a browser goes after a sign-in that asked for next:
// next when the tenant's redirect policy allows it, else Home.
func (s *Service) Target(next string) string {
	if t, ok := redirect.Check(strings.TrimSpace(next), s.t.Redirects); ok {
		return t
	}
	return Home
}

func (s *Service) user(ctx context.Context, id string) (identity.User, error) {
	if len(id) > maxUserIDLength {
		return identity.User{}, errs.ErrNotFound
	}
	u, err := s.d.Users.ByID(ctx, s.t.ID, id)
	if err != nil && !errors.Is(err, errs.ErrNotFound) {
		return identity.User{}, fmt.Errorf("login link: %w", err)
	}
	return u, err
}

// refused records a link refused before the pipeline (see the package
// doc), counts it as a failed login of the sign-in that passed the gate
// with pass, and answers ErrLinkInvalid; userID is the live link's user,
// or empty when the token was not live.
func (s *Service) refused(ctx context.Context, c session.Client, pass login.Pass, userID string) error {
	s.d.Audit.Record(ctx, audit.Event{Type: audit.LoginFailed, TargetID: userID, Method: string(tenant.MethodAdminLink),
		Reason: ErrLinkInvalid.Code, IP: c.IP, UserAgent: c.UserAgent})
	s.d.Login.Refused(ctx, pass, ErrLinkInvalid)
	return ErrLinkInvalid
}

// linkError is how a token the engine refused is answered: the store
// away is itself, anything else an invalid link.
func linkError(err error) error {
	if errs.KindOf(err) == errs.Unavailable {
		return err
	}
	return ErrLinkInvalid
}

// subject is what a link's token is bound to, stored as its challenge's
// subject: the user, and the hash of the secret key (keyHash).
type subject struct {
	UserID string
	Key    string
}

const subjectVersion = "1"

func (s subject) encode() string {
	return url.Values{"v": {subjectVersion}, "u": {s.UserID}, "k": {s.Key}}.Encode()
}

// decode reads a subject; anything else is not a login link's.
func decode(raw string) (subject, bool) {
	v, err := url.ParseQuery(raw)
	if err != nil || v.Get("v") != subjectVersion || v.Get("u") == "" || v.Get("k") == "" {
		return subject{}, false
	}
	return subject{UserID: v.Get("u"), Key: v.Get("k")}, true
}

// presentedWith reports, in time independent of the secret key, whether
// the link was presented with its user's id and secret key.
func (s subject) presentedWith(userID, secretKey string) bool {
	userID = strings.TrimSpace(userID)
	sameUser := subtle.ConstantTimeCompare([]byte(s.UserID), []byte(userID))
	sameKey := subtle.ConstantTimeCompare([]byte(s.Key), []byte(keyHash(s.UserID, strings.TrimSpace(secretKey))))
	return sameUser&sameKey == 1
}

// keyHash is how a secret key is kept in a link's subject: a hash bound to
// the user, never the key.
func keyHash(userID, key string) string {
	sum := sha256.Sum256([]byte("portcullis login-link secret key\x00" + userID + "\x00" + key))
	return hex.EncodeToString(sum[:])
}
