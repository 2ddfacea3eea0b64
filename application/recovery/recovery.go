// Package recovery is the forgotten-password flow: a reset link is mailed
// to the address of an account, the link is validated without being used
// (the page that asks for the new password), and the link with a new
// password sets it, proves the mailbox and ends every session of the user.
//
// No enumeration, in body or in time: Forgot answers nil whatever the
// address, and before it looks the address up. What it does before the
// answer — check the address's form, count the request against the
// client's IP budget and the address's cooldown — costs the same for
// every address; the rest (the account lookup, the token, the mail) runs
// after the answer, in the courier's background (courier.Courier.Later),
// and only an active account's address gets a mail. Within an address's
// cooldown, and once it had its links for the day, nothing new is sent,
// whoever owns it. Only two answers differ from nil, and neither depends
// on the address having an account: a malformed address (400, field
// "email") and too many requests from the client's IP (429 with
// Retry-After); a limiter that cannot be reached is 503. Before the
// budget, a request passes the tenant's CAPTCHA policy for the route
// forgot (Captcha): a CAPTCHA asked for and missing or refused is 400
// (captcha_required, captcha_invalid), a provider away 503
// (captcha_unavailable), for every address alike.
//
// A reset token is bound to the account and to the account's state when it
// was mailed (its password hash and its e-mail key): after any password
// change, and after an address change, every reset token of the account
// still outstanding is dead, and a reset proves (and marks verified) only
// the address the link was mailed to.
//
// Wherever a reset token is taken, so is a set-password link of the admin
// CLI (`portcullis admin create -link`, package setuplink): stateless,
// bound the same way to the account's password hash and e-mail key, and
// used once (see setup.go). It proves nothing about the mailbox: the
// operator printed it.
package recovery

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/portcullis/portcullis/application/audit"
	"github.com/portcullis/portcullis/application/captcha"
	"github.com/portcullis/portcullis/application/otp"
	"github.com/portcullis/portcullis/application/platform"
	"github.com/portcullis/portcullis/application/session"
	"github.com/portcullis/portcullis/application/setuplink"
	"github.com/portcullis/portcullis/application/throttle"
	"github.com/portcullis/portcullis/domain/errs"
	"github.com/portcullis/portcullis/domain/identity"
	"github.com/portcullis/portcullis/domain/link"
	"github.com/portcullis/portcullis/domain/message"
	domain "github.com/portcullis/portcullis/domain/otp"
	"github.com/portcullis/portcullis/domain/tenant"
)

// Users is the account store as the flow needs it. Lookups answer
// errs.ErrNotFound.
type Users interface {
	ByEmail(ctx context.Context, tenantID, emailKey string) (identity.User, error)
	ByID(ctx context.Context, tenantID, id string) (identity.User, error)
	SetPasswordHash(ctx context.Context, tenantID, id, hash string, at time.Time) error
	// SetEmailVerified marks the user's address verified when its e-mail
	// key is still emailKey, and answers errs.ErrNotFound otherwise.
	SetEmailVerified(ctx context.Context, tenantID, id, emailKey string, at time.Time) error
}

// Hasher hashes a new password with the tenant's parameters
// (password.Hasher is one).
type Hasher interface {
	Hash(ctx context.Context, password string, p tenant.HashParams) (string, error)
}

// Mail delivers the tenant's mail in the background (courier.Courier is
// one). Later runs the address-dependent part of a request after its
// answer, and logs what it returns.
type Mail interface {
	Send(ctx context.Context, kind message.MailKind, to string, d message.MailData, deadline time.Time) error
	Later(ctx context.Context, deadline time.Time, flow string, f func(ctx context.Context) error)
}

// Sessions ends every session of a user, of every kind, on every instance
// (session.Service is one).
type Sessions interface {
	RevokeUser(ctx context.Context, userID string) (int, error)
}

// Captcha lets a request on a CAPTCHA route through or refuses it
// (captcha.Service is one): captcha.ErrCaptchaRequired, ErrCaptchaInvalid
// or ErrCaptchaUnavailable. A route that is off asks no store.
type Captcha interface {
	Check(ctx context.Context, route captcha.Route, response string, c captcha.Client) error
}

// Policy is one tenant's reset policy: the policy of a flow that mails
// links. A zero field takes its default (link.DefaultLinkTTL and the rest).
type Policy = link.Policy

// Deps are what one tenant's reset flow uses.
type Deps struct {
	Users    Users
	Codes    *otp.Engine
	Limiter  throttle.Limiter
	Hasher   Hasher
	Common   identity.CommonPasswords
	Mail     Mail
	Sessions Sessions
	// Audit records the passwords reset.
	Audit audit.Recorder
	Clock platform.Clock
	// Setup verifies the tenant's set-password links; the zero Key
	// refuses them all.
	Setup setuplink.Key
	// Captcha is the tenant's CAPTCHA policy; nil only for a tenant whose
	// forgot route is off.
	Captcha Captcha
}

// Errors the flow reports.
var (
	// ErrInvalidToken answers a reset token that is unknown, expired, used,
	// of another purpose or tenant, or whose account has since changed its
	// password or address or been disabled (seed 001's InvalidToken).
	ErrInvalidToken = otp.ErrLinkInvalid
	// ErrTokenRequired answers a request without a token (seed 001's
	// TokenRequired).
	ErrTokenRequired = otp.ErrTokenRequired
)

// maxPasswordBytes bounds what is checked and hashed at all, whatever the
// tenant's policy (as at registration).
const maxPasswordBytes = 4096

// noticeLifetime is how long the "password changed" notice is retried.
const noticeLifetime = time.Hour

// InviteTTL is how long the link of an invitation works: longer than a
// reset's, since its recipient did not ask for it and may read it days
// later.
const InviteTTL = 72 * time.Hour

// Service is one tenant's password reset.
type Service struct {
	t    tenant.Tenant
	p    Policy
	kind domain.Kind
	// invite is kind with InviteTTL: the same purpose, channel and form,
	// so that an invitation's token is a reset token that Validate and
	// Reset take (the engine finds a link by its purpose and token; the
	// lifetime is the challenge's own, set when it was issued).
	invite domain.Kind
	d      Deps
}

// New returns the reset flow of tenant t under policy p.
func New(t tenant.Tenant, p Policy, d Deps) *Service {
	p = p.WithDefaults()
	return &Service{t: t, p: p, kind: domain.EmailLink(domain.PurposePasswordReset, p.LinkTTL, p.DailyCap),
		invite: domain.EmailLink(domain.PurposePasswordReset, InviteTTL, p.DailyCap), d: d}
}

// ForgotInput asks for a reset link.
type ForgotInput struct {
	Email  string
	Client session.Client
	// Paths are the surface's; the link is BaseURL + Paths.ResetPassword
	// + ?token=. Zero means link.Canonical.
	Paths link.Paths
	// Captcha is the client's CAPTCHA response, for the tenant's forgot
	// route ("" for none).
	Captcha string
}

// Forgot mails a reset link to the address when it belongs to an active
// account, and answers nil whatever the address, before looking it up
// (see the package doc for the enumeration rule).
func (s *Service) Forgot(ctx context.Context, in ForgotInput) error {
	_, key, err := identity.NormalizeEmail(in.Email)
	if err != nil {
		return errs.InvalidFields(errs.FieldError{Field: "email", Reason: err.Error()})
	}
	if err := s.checkCaptcha(ctx, in, key); err != nil {
		return err
	}
	if err := throttle.Hit(ctx, s.d.Limiter, throttle.ForgotIP(in.Client.IP), s.p.PerIP); err != nil {
		return err
	}
	cool, coolLimit := throttle.ResetCooldown(key), tenant.Limit{Count: 1, Window: s.p.Cooldown}
	ok, _, err := s.d.Limiter.Hit(ctx, cool, coolLimit)
	if err != nil {
		return errs.ErrUnavailable.Wrap(fmt.Errorf("forgot password: rate limiter: %w", err))
	}
	if !ok {
		return nil // a link went to this address a moment ago
	}
	paths := in.Paths
	if paths == (link.Paths{}) {
		paths = link.Canonical
	}
	s.d.Mail.Later(ctx, s.d.Clock.Now().Add(s.p.LinkTTL), "password reset", func(ctx context.Context) error {
		if err := s.mailLink(ctx, key, paths); err != nil {
			// Nothing went out: the address may ask again at once.
			_ = s.d.Limiter.Refund(ctx, cool, coolLimit)
			return err
		}
		return nil
	})
	return nil
}

// checkCaptcha applies the tenant's CAPTCHA policy for the route forgot
// to the request for the address with the key.
func (s *Service) checkCaptcha(ctx context.Context, in ForgotInput, key string) error {
	if s.t.Captcha.Mode(captcha.RouteForgot) == tenant.CaptchaOff {
		return nil
	}
	if s.d.Captcha == nil {
		return errs.ErrInternal.Wrap(errors.New("forgot password: the CAPTCHA route forgot is on but the flow has no CAPTCHA service"))
	}
	return s.d.Captcha.Check(ctx, captcha.RouteForgot, in.Captcha, captcha.Client{IP: in.Client.IP, Account: key})
}

// mailLink is the part of Forgot that depends on the address, run after
// the answer: it mails a reset link when the address is an active
// account's, and does nothing otherwise, or once the address had its
// links for the day.
func (s *Service) mailLink(ctx context.Context, key string, paths link.Paths) error {
	u, err := s.d.Users.ByEmail(ctx, s.t.ID, key)
	switch {
	case errors.Is(err, errs.ErrNotFound) || (err == nil && !u.Active):
		return nil
	case err != nil:
		return fmt.Errorf("forgot password: %w", err)
	}
	subj := subject(u)
	issued, err := s.d.Codes.Issue(ctx, s.kind, subj, key)
	switch {
	case errors.Is(err, otp.ErrDailyCap):
		return nil // the address had its links for today
	case err != nil:
		return fmt.Errorf("forgot password: %w", err)
	}
	// To the account's address: the one typed may be another mailbox that
	// folds to the same key.
	data := message.MailData{Name: u.FirstName, Email: u.Email, Link: link.Build(s.p.BaseURL, paths.ResetPassword, issued.Secret), Expires: s.p.LinkTTL}
	if err := s.d.Mail.Send(ctx, message.MailPasswordReset, u.Email, data, issued.ExpiresAt); err != nil {
		_ = s.d.Codes.Withdraw(ctx, s.kind, subj, key, issued)
		return fmt.Errorf("forgot password: %w", err)
	}
	return nil
}

// Invite mails u, an account an admin has just created without a
// password, an invitation (message.MailInvite) whose link sets its
// password: a reset link, under the canonical API's path, that works
// InviteTTL and once. Setting the password through it proves the mailbox,
// so the address becomes verified, as with any reset; the link dies with
// any change of the account's password or address before it is used.
//
// Unlike Forgot it answers what became of the mail, for the admin who
// asked: otp.ErrDailyCap once the address had its links of the day (reset
// links and invitations count together), or the courier's error, when
// nothing goes out (the link is then withdrawn). A disabled account gets
// no invitation (ErrInviteInactive).
func (s *Service) Invite(ctx context.Context, u identity.User) error {
	if !u.Active {
		return ErrInviteInactive
	}
	subj := subject(u)
	issued, err := s.d.Codes.Issue(ctx, s.invite, subj, u.EmailKey)
	if err != nil {
		return fmt.Errorf("invite: %w", err)
	}
	data := message.MailData{Name: u.FirstName, Email: u.Email, Link: link.Build(s.p.BaseURL, link.Canonical.ResetPassword, issued.Secret), Expires: InviteTTL}
	// Delivered within a reset link's lifetime: a mail server away for
	// longer fails the invitation's delivery, not its link, and the admin
	// may invite again.
	if err := s.d.Mail.Send(ctx, message.MailInvite, u.Email, data, s.d.Clock.Now().Add(s.p.LinkTTL)); err != nil {
		_ = s.d.Codes.Withdraw(ctx, s.invite, subj, u.EmailKey, issued)
		return fmt.Errorf("invite: %w", err)
	}
	return nil
}

// ErrInviteInactive answers an invitation to a disabled account, whose
// link could not be used.
var ErrInviteInactive = errs.E(errs.Conflict, "user_disabled", "The account is disabled: it cannot be invited.")

// Validate reports whether token would reset a password now, without
// using it: nil, ErrInvalidToken, or ErrTokenRequired for none.
func (s *Service) Validate(ctx context.Context, token string) error {
	_, err := s.check(ctx, token)
	return err
}

// ResetInput sets a new password with a reset token.
type ResetInput struct {
	Token    string
	Password string
	Client   session.Client
}

// Reset sets the password of the token's account and returns the account.
// The new password is checked against the tenant's policy before the token
// is used, so that a refused password leaves the token working. Of
// concurrent resets with one token exactly one succeeds; the others get
// ErrInvalidToken. A reset with a mailed token marks the address verified
// (the link proved the mailbox; a set-password link leaves it as it is),
// ends every session of the user at once (every access
// token, refresh token, app token and cookie), kills every other reset
// token of the account, and mails a "password changed" notice.
//
// When ending the sessions fails, the password is changed and the error is
// returned.
func (s *Service) Reset(ctx context.Context, in ResetInput) (identity.User, error) {
	if in.Token == "" {
		return identity.User{}, ErrTokenRequired
	}
	if len(in.Password) > maxPasswordBytes {
		return identity.User{}, identity.ErrWeakPassword.WithFields(errs.FieldError{Field: "password",
			Reason: fmt.Sprintf("must be at most %d characters", s.t.Password.MaxLength)})
	}
	u, err := s.check(ctx, in.Token)
	if err != nil {
		return identity.User{}, err
	}
	pw := identity.NormalizePassword(in.Password)
	if err := identity.CheckPassword(pw, s.t.Password, s.d.Common, u.Email, u.FirstName, u.LastName); err != nil {
		return identity.User{}, err
	}
	// Hashed before the token is used: a saturated hashing pool (503)
	// leaves it working for a retry.
	hash, err := s.d.Hasher.Hash(ctx, pw, s.t.Password.Hash)
	if err != nil {
		return identity.User{}, err
	}
	mailed := !setuplink.IsToken(in.Token)
	if mailed {
		subj, err := s.d.Codes.Verify(ctx, s.kind, "", in.Token)
		if err != nil {
			return identity.User{}, otp.LinkError(err)
		}
		// Again, now that the token is ours: the account may have changed
		// between the check and the use.
		if u, err = s.holder(ctx, subj); err != nil {
			return identity.User{}, err
		}
	} else if u, err = s.useSetupLink(ctx, in.Token); err != nil {
		return identity.User{}, err
	}
	now := s.d.Clock.Now().UTC()
	if err := s.d.Users.SetPasswordHash(ctx, s.t.ID, u.ID, hash, now); err != nil {
		return identity.User{}, fmt.Errorf("reset password: %w", err)
	}
	ev := audit.Event{Type: audit.PasswordReset, TargetID: u.ID, IP: in.Client.IP, UserAgent: in.Client.UserAgent}
	if !mailed {
		ev.Method = SetupLinkMethod
	}
	s.d.Audit.Record(ctx, ev)
	u.PasswordHash, u.UpdatedAt = hash, now
	// The address may have changed since the link was checked; then it is
	// not the one proven, and stays as it is. Whatever becomes of this, the
	// password is set. A set-password link was not mailed, and proves no
	// mailbox.
	if mailed && !u.EmailVerified && s.d.Users.SetEmailVerified(ctx, s.t.ID, u.ID, u.EmailKey, now) == nil {
		u.EmailVerified = true
	}
	if _, err := s.d.Sessions.RevokeUser(ctx, u.ID); err != nil {
		return u, fmt.Errorf("reset password: %w", err)
	}
	notice := message.MailData{Name: u.FirstName, Email: u.Email, When: now}
	if in.Client.IP.IsValid() {
		notice.IP = in.Client.IP.String()
	}
	// The password is set whatever becomes of the notice.
	_ = s.d.Mail.Send(ctx, message.MailPasswordChanged, u.Email, notice, now.Add(noticeLifetime))
	return u, nil
}

// check returns the account a live token would reset, without using the
// token.
func (s *Service) check(ctx context.Context, token string) (identity.User, error) {
	if token == "" {
		return identity.User{}, ErrTokenRequired
	}
	if setuplink.IsToken(token) {
		return s.setupHolder(ctx, token)
	}
	subj, err := s.d.Codes.Check(ctx, s.kind, token)
	if err != nil {
		return identity.User{}, otp.LinkError(err)
	}
	return s.holder(ctx, subj)
}

// holder returns the active account of a token's subject while the
// account is still in the state the token was mailed for.
func (s *Service) holder(ctx context.Context, subj string) (identity.User, error) {
	parts := strings.SplitN(subj, ":", 3)
	if len(parts) != 3 {
		return identity.User{}, ErrInvalidToken
	}
	u, err := s.d.Users.ByID(ctx, s.t.ID, parts[2])
	switch {
	case errors.Is(err, errs.ErrNotFound):
		return identity.User{}, ErrInvalidToken
	case err != nil:
		return identity.User{}, fmt.Errorf("reset password: %w", err)
	case !u.Active || subject(u) != subj:
		return identity.User{}, ErrInvalidToken
	}
	return u, nil
}

// subject is what a reset token is issued for: fingerprints of the
// account's password hash and e-mail key, and its id. The fingerprints
// are hex (no ":"), so the id is everything after the second ":".
func subject(u identity.User) string {
	return fingerprint(u.PasswordHash) + ":" + fingerprint(u.EmailKey) + ":" + u.ID
}

// fingerprint tells one stored value from another without holding it:
// the first 8 bytes of its SHA-256, in hex; "" for an empty value (an
// account without a password).
func fingerprint(v string) string {
	if v == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(v))
	return hex.EncodeToString(sum[:8])
}
