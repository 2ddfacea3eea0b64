// Package verification proves that a user holds the mailbox of their
// account's address: a link is mailed to the address (right after
// registration, to a signed-in user on request, or to an address typed in),
// and using the link marks the address verified.
//
// A link is bound to the account and to the address it was mailed to: a
// link to an address the user has since left verifies nothing.
//
// No enumeration on the form that takes an address (Resend), in body or
// in time: it answers nil whatever the address, before looking it up.
// What it does before the answer (the address's form, the client's IP
// budget, the address's cooldown) costs the same for every address; the
// account lookup, the token and the mail run after the answer, in the
// courier's background (courier.Courier.Later), and only an active
// account whose address is not verified yet gets a mail. Within the
// address's cooldown, and once it had its links for the day, nothing new
// is sent. Only a malformed address (400, field "email") and too many
// requests from the client's IP (429 with Retry-After) answer otherwise,
// whoever owns the address. The signed-in form (Send) tells its user what
// it did, since the account is theirs.
package verification

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/portcullis/portcullis/application/otp"
	"github.com/portcullis/portcullis/application/platform"
	"github.com/portcullis/portcullis/application/session"
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
	// SetEmailVerified marks the user's address verified when its e-mail
	// key is still emailKey, and answers errs.ErrNotFound otherwise.
	SetEmailVerified(ctx context.Context, tenantID, id, emailKey string, at time.Time) error
}

// Mail delivers the tenant's mail in the background (courier.Courier is
// one). Later runs the address-dependent part of a request after its
// answer, and logs what it returns.
type Mail interface {
	Send(ctx context.Context, kind message.MailKind, to string, d message.MailData, deadline time.Time) error
	Later(ctx context.Context, deadline time.Time, flow string, f func(ctx context.Context) error)
}

// Policy is one tenant's address-verification policy: the policy of a flow that mails
// links. A zero field takes its default (link.DefaultLinkTTL and the rest).
type Policy = link.Policy

// Deps are what one tenant's verification flow uses.
type Deps struct {
	Users   Users
	Codes   *otp.Engine
	Limiter throttle.Limiter
	Mail    Mail
	Clock   platform.Clock
}

// Errors the flow reports.
var (
	// ErrAlreadyVerified answers a request to verify an address that is
	// verified (seed 001's EmailVerified).
	ErrAlreadyVerified = errs.E(errs.Invalid, "email_verified", "The e-mail address is already verified.")
	// ErrSentRecently answers a request within the cooldown of the last
	// link (seed 001's EmailVerificationLinkSentRecently); it carries
	// Retry-After.
	ErrSentRecently = errs.E(errs.RateLimited, "email_verification_link_sent_recently",
		"A verification link was sent a moment ago. Wait before asking for another.")
	// ErrInvalidToken answers a verification token that is unknown,
	// expired, used, of another purpose or tenant, or mailed to an address
	// the account no longer has (seed 001's InvalidToken).
	ErrInvalidToken = otp.ErrLinkInvalid
	// ErrTokenRequired answers a request without a token (seed 001's
	// TokenRequired).
	ErrTokenRequired = otp.ErrTokenRequired
)

// Service is one tenant's address verification.
type Service struct {
	t    tenant.Tenant
	p    Policy
	kind domain.Kind
	d    Deps
}

// New returns the verification flow of tenant t under policy p.
func New(t tenant.Tenant, p Policy, d Deps) *Service {
	p = p.WithDefaults()
	return &Service{t: t, p: p, kind: domain.EmailLink(domain.PurposeEmailVerify, p.LinkTTL, p.DailyCap), d: d}
}

// Send mails a verification link to u's address: u is the signed-in user,
// or the account just registered. paths are the surface's (zero means
// link.Canonical). It answers ErrAlreadyVerified for a verified address,
// ErrSentRecently (with Retry-After) within the address's cooldown and
// otp.ErrDailyCap once it had its links for the day.
func (s *Service) Send(ctx context.Context, u identity.User, paths link.Paths) error {
	if u.EmailVerified {
		return ErrAlreadyVerified
	}
	cool, coolLimit := throttle.VerifyCooldown(u.EmailKey), tenant.Limit{Count: 1, Window: s.p.Cooldown}
	ok, retry, err := s.d.Limiter.Hit(ctx, cool, coolLimit)
	if err != nil {
		return errs.ErrUnavailable.Wrap(fmt.Errorf("verification mail: rate limiter: %w", err))
	}
	if !ok {
		return ErrSentRecently.WithRetryAfter(max(1, int((retry+time.Second-1)/time.Second)))
	}
	err = s.mail(ctx, u, paths)
	if err != nil && !errors.Is(err, otp.ErrDailyCap) {
		_ = s.d.Limiter.Refund(ctx, cool, coolLimit)
	}
	return err
}

// ResendInput asks for a verification link for an address typed in.
type ResendInput struct {
	Email  string
	Client session.Client
	// Paths are the surface's; zero means link.Canonical.
	Paths link.Paths
}

// Resend mails a verification link to the address when it belongs to an
// active account whose address is not verified yet, and answers nil
// whatever the address (see the package doc for the enumeration rule).
func (s *Service) Resend(ctx context.Context, in ResendInput) error {
	_, key, err := identity.NormalizeEmail(in.Email)
	if err != nil {
		return errs.InvalidFields(errs.FieldError{Field: "email", Reason: err.Error()})
	}
	if err := throttle.Hit(ctx, s.d.Limiter, throttle.VerifyIP(in.Client.IP), s.p.PerIP); err != nil {
		return err
	}
	cool, coolLimit := throttle.VerifyCooldown(key), tenant.Limit{Count: 1, Window: s.p.Cooldown}
	ok, _, err := s.d.Limiter.Hit(ctx, cool, coolLimit)
	if err != nil {
		return errs.ErrUnavailable.Wrap(fmt.Errorf("verification mail: rate limiter: %w", err))
	}
	if !ok {
		return nil // a link went to this address a moment ago
	}
	s.d.Mail.Later(ctx, s.d.Clock.Now().Add(s.p.LinkTTL), "verification mail", func(ctx context.Context) error {
		u, err := s.d.Users.ByEmail(ctx, s.t.ID, key)
		switch {
		case errors.Is(err, errs.ErrNotFound) || (err == nil && (!u.Active || u.EmailVerified)):
			return nil
		case err != nil:
			_ = s.d.Limiter.Refund(ctx, cool, coolLimit)
			return fmt.Errorf("verification mail: %w", err)
		}
		switch err := s.mail(ctx, u, in.Paths); {
		case errors.Is(err, otp.ErrDailyCap):
			return nil // the address had its links for today
		case err != nil:
			_ = s.d.Limiter.Refund(ctx, cool, coolLimit)
			return err
		}
		return nil
	})
	return nil
}

// mail issues a verification link for u and mails it to u's address.
func (s *Service) mail(ctx context.Context, u identity.User, paths link.Paths) error {
	subj := subject(u)
	issued, err := s.d.Codes.Issue(ctx, s.kind, subj, u.EmailKey)
	if err != nil {
		return err
	}
	if paths == (link.Paths{}) {
		paths = link.Canonical
	}
	data := message.MailData{Name: u.FirstName, Email: u.Email, Link: link.Build(s.p.BaseURL, paths.VerifyEmail, issued.Secret), Expires: s.p.LinkTTL}
	if err := s.d.Mail.Send(ctx, message.MailVerification, u.Email, data, issued.ExpiresAt); err != nil {
		_ = s.d.Codes.Withdraw(ctx, s.kind, subj, u.EmailKey, issued)
		return fmt.Errorf("verification mail: %w", err)
	}
	return nil
}

// Verify uses a verification token: it marks the address the link was
// mailed to verified and returns the account, with EmailVerified set. A
// token that is not a live verification link of this tenant, or whose
// account has since changed its address or been disabled, answers
// ErrInvalidToken.
func (s *Service) Verify(ctx context.Context, token string) (identity.User, error) {
	if token == "" {
		return identity.User{}, ErrTokenRequired
	}
	subj, err := s.d.Codes.Verify(ctx, s.kind, "", token)
	if err != nil {
		return identity.User{}, otp.LinkError(err)
	}
	u, err := s.holder(ctx, subj)
	if err != nil {
		return identity.User{}, err
	}
	// The key is checked again by the store, in case the address changes
	// meanwhile.
	err = s.d.Users.SetEmailVerified(ctx, s.t.ID, u.ID, u.EmailKey, s.d.Clock.Now().UTC())
	switch {
	case errors.Is(err, errs.ErrNotFound):
		return identity.User{}, ErrInvalidToken
	case err != nil:
		return identity.User{}, fmt.Errorf("verify e-mail: %w", err)
	}
	u.EmailVerified = true
	return u, nil
}

// Check reports whether token would verify an address now, without using
// it or writing anything: what a GET of the mailed link (a mail scanner's,
// a browser's prefetch) runs, as often as it is run. It answers nil,
// ErrInvalidToken where Verify would, or ErrTokenRequired for none.
func (s *Service) Check(ctx context.Context, token string) error {
	if token == "" {
		return ErrTokenRequired
	}
	subj, err := s.d.Codes.Check(ctx, s.kind, token)
	if err != nil {
		return otp.LinkError(err)
	}
	_, err = s.holder(ctx, subj)
	return err
}

// holder returns the active account a token's subject names while it
// still has the address the link was mailed to.
func (s *Service) holder(ctx context.Context, subj string) (identity.User, error) {
	fp, id, ok := strings.Cut(subj, ":")
	if !ok {
		return identity.User{}, ErrInvalidToken
	}
	u, err := s.d.Users.ByID(ctx, s.t.ID, id)
	switch {
	case errors.Is(err, errs.ErrNotFound):
		return identity.User{}, ErrInvalidToken
	case err != nil:
		return identity.User{}, fmt.Errorf("verify e-mail: %w", err)
	case !u.Active || fingerprint(u.EmailKey) != fp:
		return identity.User{}, ErrInvalidToken
	}
	return u, nil
}

// subject is what a verification token is issued for: a fingerprint of
// the address's key and the account's id. The fingerprint is hex (no ":"),
// so the id is everything after the first ":".
func subject(u identity.User) string { return fingerprint(u.EmailKey) + ":" + u.ID }

// fingerprint tells one e-mail key from another without holding it: the
// first 8 bytes of its SHA-256, in hex.
func fingerprint(v string) string {
	sum := sha256.Sum256([]byte(v))
	return hex.EncodeToString(sum[:8])
}
