// Package otp describes one-time secrets: the numeric codes and link
// tokens that prove a person holds a phone or a mailbox. A Kind bundles
// what a purpose needs (form, length, lifetime, limits); a Challenge is one
// issued secret, bound to tenant, purpose, subject and channel, so that a
// secret issued for one of them never verifies another.
package otp

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"math"
	"math/big"
	"strings"
	"time"
)

// Purpose names what a one-time secret is for.
type Purpose string

// The purposes.
const (
	PurposeLoginSMS        Purpose = "login_sms"
	PurposeLoginEmail      Purpose = "login_email"
	PurposeMagicLink       Purpose = "magic_link"
	PurposeEmailVerify     Purpose = "email_verify"
	PurposePasswordReset   Purpose = "password_reset"
	PurposeAdminActivation Purpose = "admin_activation"
	PurposeAdminLink       Purpose = "admin_link"
	// PurposeMFAChallenge is the token a first factor of a user with a
	// second factor ends in: the second step presents it with a code.
	PurposeMFAChallenge Purpose = "mfa_challenge"
	// PurposeMFAEnrolment is the token a first factor of a user who must
	// have a second factor and has none ends in: it can only set one up.
	PurposeMFAEnrolment Purpose = "mfa_enrolment"
)

// Channel names how a secret reaches its holder.
type Channel string

// The channels.
const (
	ChannelSMS   Channel = "sms"
	ChannelEmail Channel = "email"
	ChannelLink  Channel = "link" // handed to an admin, who passes it on
	// ChannelClient: handed to the client in an answer (an MFA challenge).
	ChannelClient Channel = "client"
)

// Form is the shape of a secret.
type Form int

// The forms.
const (
	// FormCode is a numeric code a person types (Length digits).
	FormCode Form = iota + 1
	// FormLink is a URL-safe token of at least 256 random bits, carried in
	// a link.
	FormLink
)

// Limits a challenge and its destination are held to.
type Limits struct {
	// MaxAttempts is how many wrong submissions a challenge survives; the
	// next one kills it.
	MaxAttempts int
	// Cooldown is the least time between two secrets for one subject.
	Cooldown time.Duration
	// DailyCap is the most secrets one destination gets in a day.
	DailyCap int
}

// Kind is everything a purpose needs to issue and check its secrets.
type Kind struct {
	Purpose Purpose
	Channel Channel
	Form    Form
	// Length is the number of digits of a code.
	Length int
	// TTL is how long a secret can be used.
	TTL    time.Duration
	Limits Limits
}

// Defaults for a numeric code: 6 digits, 5 wrong attempts, a 60 s resend
// cooldown, 10 a day per destination. LinkBytes is the randomness of a
// link token.
const (
	DefaultLength      = 6
	DefaultMaxAttempts = 5
	DefaultCooldown    = 60 * time.Second
	DefaultDailyCap    = 10
	LinkBytes          = 32
	minLength          = 4
	maxLength          = 10
)

// DefaultLimits are the limits of a numeric code by default.
func DefaultLimits() Limits {
	return Limits{MaxAttempts: DefaultMaxAttempts, Cooldown: DefaultCooldown, DailyCap: DefaultDailyCap}
}

// WithDefaults is l with its zero fields at their defaults: zero limits
// are DefaultLimits; otherwise a zero attempt limit or daily cap takes its
// default, and a zero cooldown stays none.
func (l Limits) WithDefaults() Limits {
	if l == (Limits{}) {
		return DefaultLimits()
	}
	if l.MaxAttempts == 0 {
		l.MaxAttempts = DefaultMaxAttempts
	}
	if l.DailyCap == 0 {
		l.DailyCap = DefaultDailyCap
	}
	return l
}

// LoginSMS is the SMS login code of a tenant's policy: length digits,
// living ttl, held to limits. The values are not checked here; Validate
// (which the engine runs before issuing) refuses a kind they make unusable.
func LoginSMS(ttl time.Duration, length int, limits Limits) Kind {
	return Kind{Purpose: PurposeLoginSMS, Channel: ChannelSMS, Form: FormCode, Length: length, TTL: ttl, Limits: limits}
}

// EmailCode is the e-mail login code of a tenant's policy: length digits,
// living ttl, held to limits.
func EmailCode(ttl time.Duration, length int, limits Limits) Kind {
	return Kind{Purpose: PurposeLoginEmail, Channel: ChannelEmail, Form: FormCode, Length: length, TTL: ttl, Limits: limits}
}

// VerificationCode is the numeric code mailed with an address-verification
// link (the tenant's email.verification_code): length digits, living ttl
// (the link's), held to limits. Its purpose is the link's,
// PurposeEmailVerify, so that it never verifies as a sign-in code nor a
// sign-in code as it; being a code, its challenge is the subject's (one
// live code per subject), apart from the link tokens of that purpose.
func VerificationCode(ttl time.Duration, length int, limits Limits) Kind {
	return Kind{Purpose: PurposeEmailVerify, Channel: ChannelEmail, Form: FormCode, Length: length, TTL: ttl, Limits: limits}
}

// EmailLink is a link token of purpose p mailed to its holder (a magic
// link, an address verification, a password reset), living ttl. Only the
// daily cap of limits applies to a link (each token is new, so the
// engine's cooldown cannot); a flow that wants a resend cooldown keeps it
// per subject itself. MaxAttempts is 1: a token is its own key, so there is
// no wrong guess of a live link to count.
func EmailLink(p Purpose, ttl time.Duration, dailyCap int) Kind {
	return Kind{Purpose: p, Channel: ChannelEmail, Form: FormLink, TTL: ttl, Limits: Limits{MaxAttempts: 1, DailyCap: dailyCap}}
}

// AdminLink is a one-time login link an admin issues for a user and
// hands on (seed 000's passwordless login), living ttl; one user gets at
// most dailyCap of them a UTC day (the engine's destination is the user).
// A link-form token (256 random bits) is all its holder presents, so its
// first presentation uses it up (MaxAttempts 1).
func AdminLink(ttl time.Duration, dailyCap int) Kind {
	return Kind{Purpose: PurposeAdminLink, Channel: ChannelLink, Form: FormLink, TTL: ttl, Limits: Limits{MaxAttempts: 1, DailyCap: dailyCap}}
}

// AdminActivation is the code mailed to an admin whose account waits for
// activation (seed 002's admin login): six digits, as that seed's
// contract has them, living ttl, held to limits (its cooldown is the
// seed's "once per minute").
func AdminActivation(ttl time.Duration, limits Limits) Kind {
	return Kind{Purpose: PurposeAdminActivation, Channel: ChannelEmail, Form: FormCode, Length: DefaultLength, TTL: ttl, Limits: limits}
}

// MFAChallenge is the token of a pending second step, living ttl. It is a
// link-form token (256 random bits, used up once); the daily cap is not a
// limit anyone should meet (a stranger who has the password must not be
// able to use up the owner's sign-ins for the day), so it is the largest
// the engine takes.
func MFAChallenge(ttl time.Duration) Kind {
	return Kind{Purpose: PurposeMFAChallenge, Channel: ChannelClient, Form: FormLink, TTL: ttl, Limits: Limits{MaxAttempts: 1, DailyCap: math.MaxInt32}}
}

// MFAEnrolment is the token of a sign-in that must set up a second factor
// before it can finish, living ttl; like MFAChallenge otherwise.
func MFAEnrolment(ttl time.Duration) Kind {
	k := MFAChallenge(ttl)
	k.Purpose = PurposeMFAEnrolment
	return k
}

// Validate reports what is wrong with k.
func (k Kind) Validate() error {
	var bad []string
	if k.Purpose == "" {
		bad = append(bad, "purpose is required")
	}
	if k.Channel == "" {
		bad = append(bad, "channel is required")
	}
	switch k.Form {
	case FormCode:
		if k.Length < minLength || k.Length > maxLength {
			bad = append(bad, fmt.Sprintf("a code has %d to %d digits, got %d", minLength, maxLength, k.Length))
		}
	case FormLink:
	default:
		bad = append(bad, "unknown form")
	}
	if k.TTL < time.Second {
		bad = append(bad, fmt.Sprintf("ttl must be at least 1s, got %s", k.TTL))
	}
	if k.Limits.MaxAttempts < 1 {
		bad = append(bad, "max attempts must be at least 1")
	}
	if k.Limits.Cooldown < 0 {
		bad = append(bad, "cooldown must not be negative")
	}
	if k.Limits.DailyCap < 1 {
		bad = append(bad, "daily cap must be at least 1")
	}
	if len(bad) > 0 {
		return fmt.Errorf("otp kind %s: %s", k.Purpose, strings.Join(bad, "; "))
	}
	return nil
}

// NewSecret draws a fresh secret of k's form from r: Length uniform
// digits, or a URL-safe token of LinkBytes random bytes.
func (k Kind) NewSecret(r io.Reader) (string, error) {
	if r == nil {
		r = rand.Reader
	}
	if k.Form == FormLink {
		b := make([]byte, LinkBytes)
		if _, err := io.ReadFull(r, b); err != nil {
			return "", fmt.Errorf("otp: random: %w", err)
		}
		return base64.RawURLEncoding.EncodeToString(b), nil
	}
	max := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(k.Length)), nil)
	n, err := rand.Int(r, max)
	if err != nil {
		return "", fmt.Errorf("otp: random: %w", err)
	}
	return fmt.Sprintf("%0*d", k.Length, n), nil
}

// WellFormed reports whether s could be a secret of k: the right number of
// digits, or a token of the right length and alphabet. A submission that
// is not is refused before it costs an attempt.
func (k Kind) WellFormed(s string) bool {
	switch k.Form {
	case FormCode:
		if len(s) != k.Length {
			return false
		}
		for _, c := range s {
			if c < '0' || c > '9' {
				return false
			}
		}
		return true
	case FormLink:
		b, err := base64.RawURLEncoding.DecodeString(s)
		return err == nil && len(b) == LinkBytes
	}
	return false
}
