// Package emaillogin is the e-mail first factor, the tenant's login method
// email_link, in its two forms: a numeric code mailed to an account's
// address and typed back with the address, and a magic link whose token
// signs its holder in. Each hands the login pipeline a grant and marks the
// address verified, since holding the code or the link proves the mailbox.
//
// Neither form tells whether an address has an account, in its answer or
// in the answer's time: before answering, a request only does what costs
// the same for every address (the form of the address, the client's
// budget, the address's cooldown, and for a code the code itself, issued
// for every well-formed address so that the engine's cooldown and daily
// cap answer alike). The account lookup and the mail come after the
// answer, in the courier's background (courier.Courier.Later), and only
// an active account's address gets the mail.
//
// A magic link is safe from mail scanners: opening it only confirms it
// (ConfirmLink peeks at the token and never uses it up, whatever the HTTP
// method — GET, HEAD, a prefetch); only an explicit ConsumeLink, the POST
// the page or client makes, signs in. Optionally (Policy.SameDevice) a
// link works only in the browser that asked for it.
//
// Every request passes the tenant's CAPTCHA gate (login.Pipeline.Gate)
// before its first factor's work: a code or link asked for on the route
// email_send, a code submitted or a link used on the route login. A code
// request, a link request and a code name the account by its e-mail key;
// a link names none (its account is in its secret), so a link counts by
// address alone. A wrong code or a dead link counts as a failed login
// towards the CAPTCHA's escalation.
package emaillogin

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/portcullis/portcullis/application/audit"
	"github.com/portcullis/portcullis/application/captcha"
	"github.com/portcullis/portcullis/application/courier"
	"github.com/portcullis/portcullis/application/login"
	"github.com/portcullis/portcullis/application/otp"
	"github.com/portcullis/portcullis/application/platform"
	"github.com/portcullis/portcullis/application/session"
	"github.com/portcullis/portcullis/application/throttle"
	"github.com/portcullis/portcullis/domain/errs"
	"github.com/portcullis/portcullis/domain/identity"
	"github.com/portcullis/portcullis/domain/link"
	"github.com/portcullis/portcullis/domain/message"
	domain "github.com/portcullis/portcullis/domain/otp"
	"github.com/portcullis/portcullis/domain/redirect"
	"github.com/portcullis/portcullis/domain/storefront"
	"github.com/portcullis/portcullis/domain/tenant"
)

// Users finds accounts by e-mail key and by id, and marks an address
// verified. Lookups answer errs.ErrNotFound; SetEmailVerified answers it
// too when the user's key is no longer emailKey (the address was changed
// since the code or link was sent), and then changes nothing.
type Users interface {
	ByEmail(ctx context.Context, tenantID, emailKey string) (identity.User, error)
	ByID(ctx context.Context, tenantID, id string) (identity.User, error)
	SetEmailVerified(ctx context.Context, tenantID, id, emailKey string, at time.Time) error
}

// Defaults of the Policy fields left zero. A code lives 10 minutes and has
// the engine's default length; a magic link lives an hour (seed 001's
// lifetime); SendPerIP is the tenant's default throttling.email_login_per_ip.
const (
	DefaultCodeTTL    = 10 * time.Minute
	DefaultCodeLength = domain.DefaultLength
	DefaultLinkTTL    = time.Hour
)

// Policy is one tenant's e-mail login policy; the wiring maps the
// tenant's configuration to it. Zero fields take the defaults above.
type Policy struct {
	// BaseURL is the tenant's public base URL (its validated
	// mail.base_url): every link mailed starts with it, never with the
	// request's Host.
	BaseURL string
	// CodeTTL is how long a mailed code stays valid.
	CodeTTL time.Duration
	// CodeLength is the number of digits of a code.
	CodeLength int
	// Limits are the codes' wrong-attempt limit, resend cooldown and daily
	// cap per address. The zero value means the engine's defaults (5
	// attempts, 60 s, 10 a day); otherwise a zero MaxAttempts or DailyCap
	// takes its default and a zero Cooldown means none. The cooldown and
	// the daily cap hold magic links to one address as well.
	Limits domain.Limits
	// LinkTTL is how long a magic link stays valid.
	LinkTTL time.Duration
	// SameDevice binds a magic link to the browser that asked for it:
	// the link signs in only where the surface presents the same device
	// value it presented when the link was requested.
	SameDevice bool
	// SendPerIP is how many codes and links one client address (IPv6 by
	// /64) may ask for, whatever the addresses; it keeps one client from
	// making the tenant's mail a flood. A zero Count takes the default.
	SendPerIP tenant.Limit
}

// withDefaults returns p with its zero fields at their defaults.
func (p Policy) withDefaults() Policy {
	if p.CodeTTL == 0 {
		p.CodeTTL = DefaultCodeTTL
	}
	if p.CodeLength == 0 {
		p.CodeLength = DefaultCodeLength
	}
	p.Limits = p.Limits.WithDefaults()
	if p.LinkTTL == 0 {
		p.LinkTTL = DefaultLinkTTL
	}
	if p.SendPerIP.Count == 0 {
		p.SendPerIP = tenant.DefaultThrottling().EmailLoginPerIP
	}
	return p
}

// Deps are what one tenant's e-mail login uses.
type Deps struct {
	Users   Users
	Codes   *otp.Engine
	Courier *courier.Courier
	Limiter throttle.Limiter
	Login   *login.Pipeline
	// Audit records the refused codes and links (the pipeline records
	// the rest).
	Audit audit.Recorder
	Clock platform.Clock
}

// ErrOtherDevice answers a magic link bound to the browser that asked for
// it and opened in another one (or by a client without that browser's
// cookie). The link is not used up: it still works where it was asked
// for.
var ErrOtherDevice = errs.E(errs.Forbidden, "magic_link_other_device",
	"This sign-in link works only in the browser where it was requested. Open it in that browser, or request a new link here.")

// amr is what an e-mail sign-in records, code and link alike. RFC 8176 has
// no value for a link: "otp" is the one that fits a one-time secret
// delivered out of band, and it is what authgear records for its primary
// e-mail OOB OTP in both its code and its link form (["otp",
// "x_primary_oob_otp_email"]) and what supabase/auth's /verify records for
// a magic link on its implicit flow (models.OTP). A relying party that
// must tell them apart has no registered value to ask for.
var amr = []string{"otp"}

// Service is one tenant's e-mail login.
type Service struct {
	t    tenant.Tenant
	p    Policy
	code domain.Kind
	link domain.Kind
	d    Deps
}

// New returns the e-mail login of tenant t under policy p (zero fields
// at their defaults).
func New(t tenant.Tenant, p Policy, d Deps) *Service {
	p = p.withDefaults()
	return &Service{
		t: t, p: p, d: d,
		code: domain.EmailCode(p.CodeTTL, p.CodeLength, p.Limits),
		link: domain.EmailLink(domain.PurposeMagicLink, p.LinkTTL, p.Limits.DailyCap),
	}
}

// Policy is the service's policy with the defaults filled in.
func (s *Service) Policy() Policy { return s.p }

// CodeKind is the kind of the codes this method mails.
func (s *Service) CodeKind() domain.Kind { return s.code }

// LinkKind is the kind of the magic-link tokens this method mails.
func (s *Service) LinkKind() domain.Kind { return s.link }

// SendInput asks for a code.
type SendInput struct {
	Email  string
	Client session.Client
	// Captcha is the client's CAPTCHA response, for the tenant's
	// email_send route ("" for none).
	Captcha string
}

// SendCode issues a code for the address and, after answering, mails it
// when the address is an active account's. The code is issued in any case
// (the engine's cooldown and daily cap then answer alike for every
// address). A malformed address is a field error on "email"; a request
// over a limit is 429 with Retry-After.
func (s *Service) SendCode(ctx context.Context, in SendInput) error {
	if err := s.d.Login.Allowed(tenant.MethodEmailLink); err != nil {
		return err
	}
	key, err := normalize(in.Email)
	if err != nil {
		return err
	}
	if _, err := s.d.Login.Gate(ctx, captcha.RouteEmailSend, in.Captcha, in.Client, key); err != nil {
		return err
	}
	if err := s.guardIP(ctx, in.Client); err != nil {
		return err
	}
	issued, err := s.d.Codes.Issue(ctx, s.code, key, key)
	if err != nil {
		return err
	}
	s.d.Courier.Later(ctx, issued.ExpiresAt, "email code", func(ctx context.Context) error {
		u, mail, err := s.recipient(ctx, key)
		if err != nil || !mail {
			return err
		}
		d := message.MailData{Name: u.FirstName, Email: u.Email, Code: issued.Secret, Expires: s.code.TTL}
		if err := s.d.Courier.Send(ctx, message.MailEmailCode, u.Email, d, issued.ExpiresAt); err != nil {
			// Nothing went out: take the code back so that asking again
			// works at once.
			_ = s.d.Codes.Withdraw(ctx, s.code, key, key, issued)
			return fmt.Errorf("email login: %w", err)
		}
		return nil
	})
	return nil
}

// VerifyInput submits a code.
type VerifyInput struct {
	Email  string
	Code   string
	Kind   identity.SessionKind
	Client session.Client
	// WithLatest: see login.Grant.
	WithLatest bool
	// Captcha is the client's CAPTCHA response, for the tenant's login
	// route ("" for none).
	Captcha string
	// Local is the guest's local cart and wishlist sent with the login,
	// for a storefront tenant to merge once the session starts: see
	// login.Grant.
	Local storefront.Local
}

// VerifyCode checks the code for the address and hands its account to the
// login pipeline; the sign-in marks the address verified. A code of an
// address without an account (never sent) is otp.ErrInvalid, like a wrong
// one.
func (s *Service) VerifyCode(ctx context.Context, in VerifyInput) (login.Outcome, error) {
	if err := s.d.Login.Allowed(tenant.MethodEmailLink); err != nil {
		return login.Outcome{}, err
	}
	key, err := normalize(in.Email)
	if err != nil {
		return login.Outcome{}, err
	}
	code := strings.TrimSpace(in.Code)
	if code == "" {
		return login.Outcome{}, errs.InvalidFields(errs.FieldError{Field: "code", Reason: "is required"})
	}
	pass, err := s.d.Login.Gate(ctx, captcha.RouteLogin, in.Captcha, in.Client, key)
	if err != nil {
		return login.Outcome{}, err
	}
	if _, err := s.d.Codes.Verify(ctx, s.code, key, code); err != nil {
		s.refused(ctx, "", in.Client, pass, err)
		return login.Outcome{}, err
	}
	u, err := s.d.Users.ByEmail(ctx, s.t.ID, key)
	if errors.Is(err, errs.ErrNotFound) {
		s.refused(ctx, "", in.Client, pass, otp.ErrInvalid)
		return login.Outcome{}, otp.ErrInvalid
	}
	if err != nil {
		return login.Outcome{}, fmt.Errorf("email login: %w", err)
	}
	return s.complete(ctx, u, key, login.Grant{Kind: in.Kind, Client: in.Client, WithLatest: in.WithLatest, Pass: pass, Local: in.Local})
}

// LinkInput asks for a magic link.
type LinkInput struct {
	Email string
	// Next is where the browser should go once signed in; optional. It
	// must pass the tenant's redirect policy (a path on the tenant's host,
	// or an allowed origin); anything else is a field error on "next".
	Next   string
	Client session.Client
	// Paths are the paths of the surface the flow was started on; the
	// link is BaseURL + Paths.MagicLink + "?token=".
	Paths link.Paths
	// Device is an opaque value of the requesting browser, which the
	// surface keeps in a cookie of its own and presents again at
	// ConsumeLink. Required when the policy binds links to the browser.
	Device string
	// Captcha is the client's CAPTCHA response, for the tenant's
	// email_send route ("" for none).
	Captcha string
}

// SendLink mails a magic link to the address when it is an active
// account's, after answering; the answer is the same nil for any address.
// Within the cooldown since the address's last request it answers
// otp.ErrCooldown (429, Retry-After), for every address alike; once the
// address had its links for the day nothing new is sent.
func (s *Service) SendLink(ctx context.Context, in LinkInput) error {
	if err := s.d.Login.Allowed(tenant.MethodEmailLink); err != nil {
		return err
	}
	var fields []errs.FieldError
	_, key, err := identity.NormalizeEmail(in.Email)
	if err != nil {
		fields = append(fields, errs.FieldError{Field: "email", Reason: err.Error()})
	}
	next := strings.TrimSpace(in.Next)
	if next != "" {
		if _, ok := redirect.Check(next, s.t.Redirects); !ok {
			fields = append(fields, errs.FieldError{Field: "next", Reason: "is not an allowed redirect target"})
		}
	}
	if len(fields) > 0 {
		return errs.InvalidFields(fields...)
	}
	sub := subject{EmailKey: key, Next: next, ExpiresAt: s.d.Clock.Now().Add(s.link.TTL)}
	if s.p.SameDevice {
		if in.Device == "" {
			// The surface sets the device cookie when the link is asked
			// for; without it the link could open nowhere.
			return errors.New("email login: a same-device link needs the requesting browser's device value")
		}
		sub.Device = deviceHash(in.Device)
	}
	if _, err := s.d.Login.Gate(ctx, captcha.RouteEmailSend, in.Captcha, in.Client, key); err != nil {
		return err
	}
	if err := s.guardIP(ctx, in.Client); err != nil {
		return err
	}
	if err := s.guardLinkCooldown(ctx, key); err != nil {
		return err
	}
	paths := in.Paths
	s.d.Courier.Later(ctx, sub.ExpiresAt, "magic link", func(ctx context.Context) error {
		u, mail, err := s.recipient(ctx, key)
		if err != nil || !mail {
			return err
		}
		sub.UserID = u.ID
		issued, err := s.d.Codes.Issue(ctx, s.link, sub.encode(), key)
		switch {
		case errors.Is(err, otp.ErrDailyCap):
			return nil // the address had its links for today
		case err != nil:
			return fmt.Errorf("email login: %w", err)
		}
		d := message.MailData{Name: u.FirstName, Email: u.Email, Link: link.Build(s.p.BaseURL, paths.MagicLink, issued.Secret), Expires: s.link.TTL}
		if err := s.d.Courier.Send(ctx, message.MailMagicLink, u.Email, d, issued.ExpiresAt); err != nil {
			_ = s.d.Codes.Withdraw(ctx, s.link, "", key, issued)
			return fmt.Errorf("email login: %w", err)
		}
		return nil
	})
	return nil
}

// LinkInfo is what a page opened by a magic link may show before the
// user confirms the sign-in.
type LinkInfo struct {
	// Email is the account's address, masked ("a***@example.com").
	Email string
	// ExpiresAt is when the link stops working.
	ExpiresAt time.Time
	// Next is where the browser goes once signed in; empty when the
	// request named no target.
	Next string
}

// ConfirmLink reports whether a magic link is live, without using it up
// or counting anything: it is what any GET or HEAD of the link (a mail
// scanner's, a browser's prefetch) runs, as often as it is run. A dead,
// used, foreign (another tenant's, another purpose's) or malformed token
// answers otp.ErrExpired.
func (s *Service) ConfirmLink(ctx context.Context, token string) (LinkInfo, error) {
	if err := s.d.Login.Allowed(tenant.MethodEmailLink); err != nil {
		return LinkInfo{}, err
	}
	token, err := requireToken(token)
	if err != nil {
		return LinkInfo{}, err
	}
	raw, err := s.d.Codes.Check(ctx, s.link, token)
	if err != nil {
		return LinkInfo{}, err
	}
	sub, ok := decode(raw)
	if !ok {
		return LinkInfo{}, otp.ErrExpired
	}
	u, err := s.holder(ctx, sub)
	if err != nil {
		return LinkInfo{}, err
	}
	return LinkInfo{Email: mask(u.Email), ExpiresAt: sub.ExpiresAt, Next: sub.Next}, nil
}

// ConsumeInput uses a magic link.
type ConsumeInput struct {
	Token  string
	Kind   identity.SessionKind
	Client session.Client
	// Device is the browser's device value (see LinkInput.Device).
	Device string
	// WithLatest: see login.Grant.
	WithLatest bool
	// SecondFactor is a code of the user's second factor sent with the
	// link (seed 001's "code"): see login.Grant.
	SecondFactor string
	// Resubmit spends the link only with a sign-in that completes: a
	// user with a second factor who sent no code (login.ErrMFARequired,
	// without a challenge) or a wrong one keeps the link, to send it
	// again with the code, as seed 001's original lets its clients do.
	// Without it the link is spent first and a missing code ends in the
	// challenge of the canonical second step.
	Resubmit bool
	// Captcha is the client's CAPTCHA response, for the tenant's login
	// route ("" for none).
	Captcha string
	// Local is the guest's local cart and wishlist sent with the login,
	// for a storefront tenant to merge once the session starts: see
	// login.Grant.
	Local storefront.Local
}

// LinkOutcome is what a consumed magic link produced: the pipeline's
// outcome and where the browser should go next (empty: the surface's
// default).
type LinkOutcome struct {
	login.Outcome
	Next string
}

// ConsumeLink uses a magic link up and hands its account to the login
// pipeline (in.Resubmit: the pipeline uses it up, last); the sign-in
// marks the address verified. A link bound to
// another browser answers ErrOtherDevice and stays usable. Of concurrent
// uses of one link exactly one signs in; the others, and every later one,
// answer otp.ErrExpired. A link whose account has another address by now
// answers otp.ErrExpired too.
func (s *Service) ConsumeLink(ctx context.Context, in ConsumeInput) (LinkOutcome, error) {
	if err := s.d.Login.Allowed(tenant.MethodEmailLink); err != nil {
		return LinkOutcome{}, err
	}
	token, err := requireToken(in.Token)
	if err != nil {
		return LinkOutcome{}, err
	}
	pass, err := s.d.Login.Gate(ctx, captcha.RouteLogin, in.Captcha, in.Client, "")
	if err != nil {
		return LinkOutcome{}, err
	}
	// The device is checked on a peek, so that opening the link in the
	// wrong browser does not use it up.
	raw, err := s.d.Codes.Check(ctx, s.link, token)
	if err != nil {
		s.refused(ctx, "", in.Client, pass, err)
		return LinkOutcome{}, err
	}
	sub, ok := decode(raw)
	if !ok {
		s.refused(ctx, "", in.Client, pass, otp.ErrExpired)
		return LinkOutcome{}, otp.ErrExpired
	}
	if !sub.openedOn(in.Device) {
		s.refused(ctx, sub.UserID, in.Client, pass, ErrOtherDevice)
		return LinkOutcome{}, ErrOtherDevice
	}
	spend := func(ctx context.Context) error {
		raw, err := s.d.Codes.Verify(ctx, s.link, "", token)
		if err != nil {
			return err
		}
		if used, ok := decode(raw); !ok || used != sub {
			return otp.ErrExpired
		}
		return nil
	}
	g := login.Grant{Kind: in.Kind, Client: in.Client, WithLatest: in.WithLatest, SecondFactor: in.SecondFactor, Pass: pass, Local: in.Local}
	if in.Resubmit {
		g.Spend = spend // by the pipeline, once the second factor passed
	} else if err := spend(ctx); err != nil {
		s.refused(ctx, sub.UserID, in.Client, pass, err)
		return LinkOutcome{}, err
	}
	u, err := s.holder(ctx, sub)
	if err != nil {
		s.refused(ctx, sub.UserID, in.Client, pass, err)
		return LinkOutcome{}, err
	}
	out, err := s.complete(ctx, u, sub.EmailKey, g)
	if err != nil {
		return LinkOutcome{}, err
	}
	return LinkOutcome{Outcome: out, Next: sub.Next}, nil
}

// complete hands u, who just proved the mailbox of the address with the
// key, to the pipeline (g says the session asked for) and marks the
// address verified. The grant's user carries that proof (EmailVerified),
// so that a tenant requiring verified addresses lets an address's first
// e-mail sign-in through; the pipeline still refuses a disabled account,
// and then nothing is written. A sign-in that goes on to a second factor
// (login.ErrMFARequired) proved the mailbox all the same: the address is
// marked, and the error returned.
func (s *Service) complete(ctx context.Context, u identity.User, key string, g login.Grant) (login.Outcome, error) {
	proven := u
	proven.EmailVerified = true
	g.User, g.Method, g.AMR = proven, tenant.MethodEmailLink, amr
	out, err := s.d.Login.Complete(ctx, g)
	if err != nil && !errors.Is(err, login.ErrMFARequired) {
		return login.Outcome{}, err
	}
	if !u.EmailVerified {
		// The sign-in stands if the mark cannot be written; the answer
		// says what the store holds.
		if werr := s.d.Users.SetEmailVerified(ctx, s.t.ID, u.ID, key, s.d.Clock.Now().UTC()); werr != nil {
			out.User.EmailVerified = false
		}
	}
	return out, err
}

// refused records a code or link refused with err (wrong, expired, used,
// opened in another browser) for the account with userID ("" when the
// code or link names none), when err is a refusal and not an outage, and
// counts a failed login against the pass (login.Pipeline.Refused).
func (s *Service) refused(ctx context.Context, userID string, c session.Client, pass login.Pass, err error) {
	s.d.Login.Refused(ctx, pass, err)
	if reason, ok := audit.Refusal(err); ok {
		s.d.Audit.Record(ctx, audit.Event{Type: audit.LoginFailed, TargetID: userID, Method: string(tenant.MethodEmailLink), Reason: reason,
			IP: c.IP, UserAgent: c.UserAgent})
	}
}

// recipient is the account with the e-mail key and whether it gets mail:
// only an active account does.
func (s *Service) recipient(ctx context.Context, key string) (identity.User, bool, error) {
	u, err := s.d.Users.ByEmail(ctx, s.t.ID, key)
	switch {
	case errors.Is(err, errs.ErrNotFound):
		return identity.User{}, false, nil
	case err != nil:
		return identity.User{}, false, fmt.Errorf("email login: %w", err)
	}
	return u, u.Active, nil
}

// holder is the account a link was mailed to, as long as it still has the
// address the link was mailed to; otherwise the link is dead.
func (s *Service) holder(ctx context.Context, sub subject) (identity.User, error) {
	if sub.UserID == "" {
		return identity.User{}, otp.ErrExpired // issued for an address without an account: never mailed
	}
	u, err := s.d.Users.ByID(ctx, s.t.ID, sub.UserID)
	switch {
	case errors.Is(err, errs.ErrNotFound):
		return identity.User{}, otp.ErrExpired
	case err != nil:
		return identity.User{}, fmt.Errorf("email login: %w", err)
	case u.EmailKey != sub.EmailKey:
		return identity.User{}, otp.ErrExpired
	}
	return u, nil
}

// guardIP counts the request against the client address's budget, before
// anything is looked up, whatever the address asked for.
func (s *Service) guardIP(ctx context.Context, c session.Client) error {
	return throttle.Hit(ctx, s.d.Limiter, "email-login:ip:"+throttle.IPKey(c.IP), s.p.SendPerIP)
}

// guardLinkCooldown holds links to one address to the resend cooldown of
// the policy. The engine cannot (each token is a challenge of its own), so
// it is a limiter bucket of one per cooldown, counted for every address,
// and answered like the code's cooldown.
func (s *Service) guardLinkCooldown(ctx context.Context, key string) error {
	if s.p.Limits.Cooldown <= 0 {
		return nil
	}
	ok, retry, err := s.d.Limiter.Hit(ctx, "magic-link:addr:"+hash(key), tenant.Limit{Count: 1, Window: s.p.Limits.Cooldown})
	switch {
	case err != nil:
		return errs.ErrUnavailable.Wrap(fmt.Errorf("rate limiter: %w", err))
	case !ok:
		return otp.ErrCooldown.WithRetryAfter(max(1, int((retry+time.Second-1)/time.Second)))
	}
	return nil
}

// subject is what a magic-link token is bound to, stored as the
// challenge's subject: the account (empty for an address without one),
// the address's key, the checked redirect target, the hash of the
// requesting browser's device value (when bound) and the expiry shown on
// the confirmation page.
type subject struct {
	UserID    string
	EmailKey  string
	Next      string
	Device    string
	ExpiresAt time.Time
}

const subjectVersion = "1"

func (s subject) encode() string {
	v := url.Values{"v": {subjectVersion}, "u": {s.UserID}, "e": {s.EmailKey}, "x": {strconv.FormatInt(s.ExpiresAt.Unix(), 10)}}
	if s.Next != "" {
		v.Set("n", s.Next)
	}
	if s.Device != "" {
		v.Set("d", s.Device)
	}
	return v.Encode()
}

// decode reads a subject; anything else (a challenge of another shape)
// is not a magic link.
func decode(raw string) (subject, bool) {
	v, err := url.ParseQuery(raw)
	if err != nil || v.Get("v") != subjectVersion || v.Get("e") == "" {
		return subject{}, false
	}
	x, err := strconv.ParseInt(v.Get("x"), 10, 64)
	if err != nil {
		return subject{}, false
	}
	return subject{UserID: v.Get("u"), EmailKey: v.Get("e"), Next: v.Get("n"), Device: v.Get("d"), ExpiresAt: time.Unix(x, 0).UTC()}, true
}

// openedOn reports whether a link may be used by the browser presenting
// device. A link bound when it was asked for stays bound, whatever the
// policy says by the time it is opened.
func (s subject) openedOn(device string) bool {
	if s.Device == "" {
		return true
	}
	return subtle.ConstantTimeCompare([]byte(s.Device), []byte(deviceHash(device))) == 1
}

// deviceHash is how a device value is kept in a token's subject: the value
// is a secret of the browser's, so only its hash is stored.
func deviceHash(device string) string {
	sum := sha256.Sum256([]byte("portcullis magic-link device\x00" + device))
	return hex.EncodeToString(sum[:])
}

// hash names an address in a limiter key without revealing it.
func hash(v string) string {
	sum := sha256.Sum256([]byte(v))
	return hex.EncodeToString(sum[:16])
}

// normalize reads an address as registration does and returns its key,
// or reports a field error on "email".
func normalize(raw string) (key string, err error) {
	_, key, err = identity.NormalizeEmail(raw)
	if err != nil {
		return "", errs.InvalidFields(errs.FieldError{Field: "email", Reason: err.Error()})
	}
	return key, nil
}

func requireToken(token string) (string, error) {
	token = strings.TrimSpace(token)
	if token == "" {
		return "", ErrTokenRequired
	}
	return token, nil
}

// ErrTokenRequired answers a link request without its token (seed 001's
// TokenRequired), as the other mailed-link flows do.
var ErrTokenRequired = otp.ErrTokenRequired

// mask shows an address's first character and its domain:
// "ann@example.com" → "a***@example.com".
func mask(email string) string {
	at := strings.LastIndexByte(email, '@')
	if at < 1 {
		return "***"
	}
	r, _ := utf8.DecodeRuneInString(email)
	return string(r) + "***" + email[at:]
}
