// Package verification proves that a user holds the mailbox of their
// account's address: a link is mailed to the address (right after
// registration, to a signed-in user on request, or to an address typed in),
// and using the link marks the address verified.
//
// A link is bound to the account and to the address it was mailed to: a
// link to an address the user has since left verifies nothing.
//
// A tenant may also put a numeric code in every verification mail
// (Policy.Code, the tenant's email.verification_code): the code is issued
// with the link, through the same engine, for the verification purpose and
// the same subject (the account and the address), so it is bound alike,
// and lives as long as the link. Either verifies the address; the code is
// typed back with the address (VerifyCode), which names the account and
// so the challenge. Wrong codes count against the code's attempts, and
// the code of a newer mail replaces the older one (the older links keep
// working until they expire). An address without an active account
// answers a code as one that was never mailed a code, in body and in
// time; a wrong code for an address that has a live code answers
// otp_invalid, as the sign-in code does, and so tells whoever guesses
// that the address was mailed a code within the code's lifetime.
//
// No enumeration on the form that takes an address (Resend), in body or
// in time: it answers nil whatever the address, before looking it up.
// What it does before the answer (the address's form, the client's IP
// budget, the address's cooldown) costs the same for every address; the
// account lookup, the token (and the code) and the mail run after the
// answer, in the courier's background (courier.Courier.Later), and only
// an active account whose address is not verified yet gets a mail. Within
// the address's cooldown, and once it had its links for the day, nothing
// new is sent. Only a malformed address (400, field "email") and too many
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

// Policy is one tenant's address-verification policy: the policy of a
// flow that mails links, and whether its mails carry a code. A zero field
// takes its default (link.DefaultLinkTTL and the rest, and the engine's
// code length and attempts).
type Policy struct {
	link.Policy
	// Code puts a numeric code in every verification mail besides the
	// link. The code lives as long as the link (LinkTTL).
	Code bool
	// CodeLength is the number of digits of a code.
	CodeLength int
	// MaxAttempts is how many wrong codes a code survives; the next
	// submission, right or wrong, finds it dead.
	MaxAttempts int
}

// WithDefaults returns p with each zero field set to its default.
func (p Policy) WithDefaults() Policy {
	p.Policy = p.Policy.WithDefaults()
	if p.CodeLength == 0 {
		p.CodeLength = domain.DefaultLength
	}
	if p.MaxAttempts == 0 {
		p.MaxAttempts = domain.DefaultMaxAttempts
	}
	return p
}

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
	// ErrProofRequired answers a Submit with neither a token nor an
	// address and a code, on a tenant that mails codes: ErrTokenRequired's
	// code, naming each way.
	ErrProofRequired = errs.E(errs.Invalid, "token_required", "A token, or the address and the code of the mail, is required.").WithFields(
		errs.FieldError{Field: "token", Reason: "is required, unless email and code are sent"},
		errs.FieldError{Field: "email", Reason: "is required with code, unless token is sent"},
		errs.FieldError{Field: "code", Reason: "is required with email, unless token is sent"})
	// ErrCodeDisabled answers a code submitted to a tenant whose
	// verification mails carry no code (email.verification_code off).
	ErrCodeDisabled = errs.E(errs.Forbidden, "verification_code_disabled",
		"This tenant verifies e-mail addresses by link only: open the link in the mail.")
)

// Service is one tenant's address verification.
type Service struct {
	t    tenant.Tenant
	p    Policy
	kind domain.Kind
	code domain.Kind
	d    Deps
}

// New returns the verification flow of tenant t under policy p.
func New(t tenant.Tenant, p Policy, d Deps) *Service {
	p = p.WithDefaults()
	return &Service{t: t, p: p, d: d,
		kind: domain.EmailLink(domain.PurposeEmailVerify, p.LinkTTL, p.DailyCap),
		// No engine cooldown: the flow holds its mails to the address's
		// cooldown itself, and a code goes out only with a link.
		code: domain.VerificationCode(p.LinkTTL, p.CodeLength, domain.Limits{MaxAttempts: p.MaxAttempts, DailyCap: p.DailyCap}),
	}
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

// mail issues a verification link for u, and a code when the policy says
// so, and mails them to u's address.
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
	var code otp.Issued
	if s.p.Code {
		if code, err = s.d.Codes.Issue(ctx, s.code, subj, codeCounter(u.EmailKey)); err != nil {
			_ = s.d.Codes.Withdraw(ctx, s.kind, subj, u.EmailKey, issued)
			return fmt.Errorf("verification mail: code: %w", err)
		}
		data.Code = code.Secret
	}
	if err := s.d.Mail.Send(ctx, message.MailVerification, u.Email, data, issued.ExpiresAt); err != nil {
		_ = s.d.Codes.Withdraw(ctx, s.kind, subj, u.EmailKey, issued)
		if s.p.Code {
			_ = s.d.Codes.Withdraw(ctx, s.code, subj, codeCounter(u.EmailKey), code)
		}
		return fmt.Errorf("verification mail: %w", err)
	}
	return nil
}

// codeCounter names the engine's daily count of an address's verification
// codes. The link and the code of one mail share a purpose, and so would
// share the address's daily count and use up two of its mails a day: the
// link's count is the one that holds the address to the policy's daily
// cap, and the code, which goes out only with a link, is counted apart
// (to the same cap, which it therefore never reaches first).
func codeCounter(emailKey string) string { return "verification code\x00" + emailKey }

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

// CodeInput submits the code of a verification mail with the address it
// was mailed to.
type CodeInput struct {
	Email string
	Code  string
}

// VerifyCode uses the code of a verification mail: it marks the address
// verified and returns the account, with EmailVerified set. The address
// names the account, and the account and the address the challenge, so a
// code mailed to an address the account has since left, or to another
// account, verifies nothing. It answers as the e-mail sign-in code does:
// otp.ErrInvalid for a wrong code (which counts against the code's
// attempts), otp.ErrExhausted once the code had its wrong attempts, and
// otp.ErrExpired for a code expired, used, or never sent (an address
// without an active account included, looked up alike). A malformed
// address or a missing code is a field error; a tenant whose mails carry
// no code answers ErrCodeDisabled.
func (s *Service) VerifyCode(ctx context.Context, in CodeInput) (identity.User, error) {
	if !s.p.Code {
		return identity.User{}, ErrCodeDisabled
	}
	var fields []errs.FieldError
	_, key, err := identity.NormalizeEmail(in.Email)
	if err != nil {
		fields = append(fields, errs.FieldError{Field: "email", Reason: err.Error()})
	}
	code := strings.TrimSpace(in.Code)
	if code == "" {
		fields = append(fields, errs.FieldError{Field: "code", Reason: "is required"})
	}
	if len(fields) > 0 {
		return identity.User{}, errs.InvalidFields(fields...)
	}
	u, err := s.d.Users.ByEmail(ctx, s.t.ID, key)
	found := err == nil && u.Active
	switch {
	case err != nil && !errors.Is(err, errs.ErrNotFound):
		return identity.User{}, fmt.Errorf("verify e-mail: %w", err)
	case !found:
		// The engine is asked all the same, for a subject no code is ever
		// issued for (no account has an empty id), so that an address
		// without an active account answers as one without a code, in
		// body and in time.
		u = identity.User{EmailKey: key}
	}
	if _, err := s.d.Codes.Verify(ctx, s.code, subject(u), code); err != nil {
		return identity.User{}, err
	}
	if !found {
		return identity.User{}, otp.ErrExpired
	}
	// The key is checked again by the store, in case the address changes
	// meanwhile.
	err = s.d.Users.SetEmailVerified(ctx, s.t.ID, u.ID, u.EmailKey, s.d.Clock.Now().UTC())
	switch {
	case errors.Is(err, errs.ErrNotFound):
		return identity.User{}, otp.ErrExpired
	case err != nil:
		return identity.User{}, fmt.Errorf("verify e-mail: %w", err)
	}
	u.EmailVerified = true
	return u, nil
}

// Submission is what the canonical form takes: the token of a mailed
// link, or the address and the code of a mail; one or the other.
type Submission struct {
	Token string
	Email string
	Code  string
}

// Submit verifies an address by whichever proof in carries: the token
// (Verify) or the address and the code (VerifyCode). Both at once is a
// field error naming them; neither is ErrTokenRequired, or
// ErrProofRequired naming every field where the tenant mails codes.
func (s *Service) Submit(ctx context.Context, in Submission) (identity.User, error) {
	byCode := in.Email != "" || in.Code != ""
	switch {
	case in.Token != "" && byCode:
		fields := []errs.FieldError{{Field: "token", Reason: "must not be sent with email or code: send the token, or the address and the code"}}
		if in.Email != "" {
			fields = append(fields, errs.FieldError{Field: "email", Reason: "must not be sent with token"})
		}
		if in.Code != "" {
			fields = append(fields, errs.FieldError{Field: "code", Reason: "must not be sent with token"})
		}
		return identity.User{}, errs.InvalidFields(fields...)
	case byCode:
		return s.VerifyCode(ctx, CodeInput{Email: in.Email, Code: in.Code})
	case in.Token == "" && s.p.Code:
		return identity.User{}, ErrProofRequired
	}
	return s.Verify(ctx, in.Token)
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
