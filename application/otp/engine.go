package otp

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/portcullis/portcullis/application/platform"
	"github.com/portcullis/portcullis/domain/errs"
	"github.com/portcullis/portcullis/domain/otp"
)

// Errors the engine reports. A surface renders each in its own shape.
var (
	// ErrInvalid answers a secret that does not match.
	ErrInvalid = errs.E(errs.Unauthenticated, "otp_invalid", "The code is incorrect.")
	// ErrExpired answers a secret with no challenge behind it: never
	// issued, expired, or used already.
	ErrExpired = errs.E(errs.Unauthenticated, "otp_expired", "The code has expired or was already used. Request a new one.")
	// ErrExhausted answers any submission to a challenge that has had its
	// wrong attempts.
	ErrExhausted = errs.E(errs.Unauthenticated, "otp_attempts_exceeded", "Too many wrong codes. Request a new one.")
	// ErrCooldown answers a new secret asked for too soon after the last.
	ErrCooldown = errs.E(errs.RateLimited, "otp_cooldown", "A code was sent a moment ago. Wait before asking for another.")
	// ErrDailyCap answers a destination that had its secrets for the day.
	ErrDailyCap = errs.E(errs.RateLimited, "otp_daily_cap", "Too many codes were sent to this destination today.")
	// ErrLinkInvalid is what a flow that mails links (a reset, an address
	// verification) answers for a token that is unknown, expired, used, of
	// another purpose or tenant, or no longer matches its account (seed
	// 001's InvalidToken). It is a 400: the token came in a body, not as
	// a credential.
	ErrLinkInvalid = errs.E(errs.Invalid, "invalid_token", "Token is invalid or expired.")
	// ErrTokenRequired answers a link request without its token (seed
	// 001's TokenRequired).
	ErrTokenRequired = errs.E(errs.Invalid, "token_required", "A token is required.").
				WithFields(errs.FieldError{Field: "token", Reason: "is required"})
)

// LinkError is what a flow that mails links answers for a token the
// engine refused: ErrLinkInvalid, unless the store could not be asked.
func LinkError(err error) error {
	if errs.KindOf(err) == errs.Unavailable {
		return err
	}
	return ErrLinkInvalid
}

// Key is a tenant's HMAC key for one-time secrets.
type Key []byte

// DeriveKey derives a tenant's key from the platform master key (HKDF-SHA256,
// the purpose and tenant in the info).
func DeriveKey(master []byte, tenantID string) (Key, error) {
	return platform.DeriveTenantKey(master, "portcullis otp v1", tenantID)
}

// Engine issues and verifies one tenant's one-time secrets.
type Engine struct {
	tenantID string
	key      Key
	store    Store
	clock    platform.Clock
	random   platform.Random
}

// New returns the engine of a tenant.
func New(tenantID string, key Key, store Store, clock platform.Clock, random platform.Random) *Engine {
	return &Engine{tenantID: tenantID, key: key, store: store, clock: clock, random: random}
}

// Issued is a secret to deliver and when it stops working.
type Issued struct {
	Secret    string
	ExpiresAt time.Time
	issuedAt  time.Time
}

// Issue draws a secret of kind k for subject, to be sent to destination,
// and stores its challenge. It refuses with ErrCooldown (carrying
// Retry-After) within the cooldown of the subject's last secret, and with
// ErrDailyCap once the destination had DailyCap secrets today (UTC).
func (e *Engine) Issue(ctx context.Context, k otp.Kind, subject, destination string) (Issued, error) {
	if err := k.Validate(); err != nil {
		return Issued{}, err
	}
	secret, err := k.NewSecret(e.random)
	if err != nil {
		return Issued{}, err
	}
	now := e.clock.Now().UTC()
	c := Challenge{Key: e.challengeKey(k, subject, secret), Digest: e.digest(k, subject, secret), Subject: subject,
		MaxAttempts: k.Limits.MaxAttempts, TTL: k.TTL}
	left, capped, err := e.store.Issue(ctx, e.tenantID, c, e.cooldown(k), e.dayKey(k, destination, now), k.Limits.DailyCap)
	switch {
	case err != nil:
		return Issued{}, errs.ErrUnavailable.Wrap(fmt.Errorf("otp: issue: %w", err))
	case capped:
		return Issued{}, ErrDailyCap.WithRetryAfter(int(now.Truncate(24*time.Hour).Add(24*time.Hour).Sub(now)/time.Second) + 1)
	case left > 0:
		return Issued{}, ErrCooldown.WithRetryAfter(int((left + time.Second - 1) / time.Second))
	}
	return Issued{Secret: secret, ExpiresAt: now.Add(k.TTL), issuedAt: now}, nil
}

// Withdraw takes back a secret that could not be delivered: its challenge
// goes (unless a newer secret replaced it), its cooldown ends and its
// daily secret is given back, so that the holder can ask again at once.
func (e *Engine) Withdraw(ctx context.Context, k otp.Kind, subject, destination string, is Issued) error {
	err := e.store.Withdraw(ctx, e.tenantID, e.challengeKey(k, subject, is.Secret), e.digest(k, subject, is.Secret), e.dayKey(k, destination, is.issuedAt))
	if err != nil {
		return errs.ErrUnavailable.Wrap(fmt.Errorf("otp: withdraw: %w", err))
	}
	return nil
}

// dayKey names a destination's count of secrets of one purpose on the UTC
// day of at: the sign-in codes someone asked for do not use up the
// password reset of the same mailbox.
func (e *Engine) dayKey(k otp.Kind, destination string, at time.Time) string {
	return "otp-day:" + string(k.Purpose) + ":" + string(k.Channel) + ":" + e.hash(destination) + ":" + at.UTC().Format("20060102")
}

// cooldown of a link is per token, which is new each time: links are
// limited by the daily cap alone.
func (e *Engine) cooldown(k otp.Kind) time.Duration {
	if k.Form == otp.FormLink {
		return 0
	}
	return k.Limits.Cooldown
}

// Verify checks secret against the challenge of kind k for subject (for a
// link, the subject is the token's and may be empty) and consumes it when
// it matches. It returns the challenge's subject. A malformed secret is
// refused without costing an attempt.
func (e *Engine) Verify(ctx context.Context, k otp.Kind, subject, secret string) (string, error) {
	if !k.WellFormed(secret) {
		return "", ErrInvalid
	}
	v, owner, err := e.store.Consume(ctx, e.tenantID, e.challengeKey(k, subject, secret), e.digest(k, subject, secret))
	if err != nil {
		return "", errs.ErrUnavailable.Wrap(fmt.Errorf("otp: verify: %w", err))
	}
	switch v {
	case Consumed:
		return owner, nil
	case Wrong:
		return "", ErrInvalid
	case Dead:
		return "", ErrExhausted
	}
	return "", ErrExpired
}

// Check reports the subject of a live link token of kind k without using
// it up or counting an attempt: a link that opens a page to be confirmed,
// or a reset token validated before the new password is typed. Codes
// cannot be checked this way (guesses of a code must count); a kind of
// that form is refused.
func (e *Engine) Check(ctx context.Context, k otp.Kind, secret string) (string, error) {
	if k.Form != otp.FormLink {
		return "", errors.New("otp: only link tokens can be checked without being consumed")
	}
	if !k.WellFormed(secret) {
		return "", ErrExpired
	}
	subject, live, err := e.store.Peek(ctx, e.tenantID, e.challengeKey(k, "", secret), e.digest(k, "", secret))
	if err != nil {
		return "", errs.ErrUnavailable.Wrap(fmt.Errorf("otp: check: %w", err))
	}
	if !live {
		return "", ErrExpired
	}
	return subject, nil
}

// challengeKey names the challenge: for a code, its purpose and subject
// (one live code per subject and purpose); for a link, its purpose and the
// token, since a link is all its holder presents.
func (e *Engine) challengeKey(k otp.Kind, subject, secret string) string {
	if k.Form == otp.FormLink {
		return "otp:" + string(k.Purpose) + ":link:" + e.hash("token\x00"+secret)
	}
	return "otp:" + string(k.Purpose) + ":" + e.hash("subject\x00"+subject)
}

// digest is the stored form of a secret: an HMAC under the tenant's key
// of everything it is bound to, so that the same digits issued for another
// purpose, channel or subject are another digest.
func (e *Engine) digest(k otp.Kind, subject, secret string) string {
	if k.Form == otp.FormLink {
		subject = ""
	}
	m := hmac.New(sha256.New, e.key)
	m.Write([]byte(e.tenantID + "\x00" + string(k.Purpose) + "\x00" + string(k.Channel) + "\x00" + subject + "\x00" + secret))
	return hex.EncodeToString(m.Sum(nil))
}

// hash names a value in a key without revealing it.
func (e *Engine) hash(v string) string {
	m := hmac.New(sha256.New, e.key)
	m.Write([]byte("otp key\x00" + v))
	return hex.EncodeToString(m.Sum(nil)[:16])
}
