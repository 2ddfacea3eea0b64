package tenant

import (
	"fmt"
	"time"
)

// EmailPolicy (configuration section email) says how long the secrets
// mailed to a tenant's users live and how often one address may be sent
// one: address verification, password reset, sign-in code and magic link.
type EmailPolicy struct {
	// VerificationTTL is the life of an address-verification link.
	VerificationTTL time.Duration
	// ResetTTL is the life of a password-reset link.
	ResetTTL time.Duration
	// CodeTTL, CodeLength and MaxAttempts shape the sign-in code.
	CodeTTL     time.Duration
	CodeLength  int
	MaxAttempts int
	// MagicLinkTTL is the life of a magic sign-in link.
	MagicLinkTTL time.Duration
	// ResendCooldown is the least time between two mails of one flow to
	// one address; within it a request sends nothing new.
	ResendCooldown time.Duration
	// DailyCap is the most mails of one flow one address gets a UTC day.
	DailyCap int
	// SameDevice binds a magic link to the browser that asked for it: it
	// signs in only there.
	SameDevice bool
	// NewSigninNotice mails the account's owner a "new sign-in" notice
	// after a sign-in from a device and an address (IPv6 by /64) the
	// account has not signed in from within the last 30 days.
	NewSigninNotice bool
	// VerificationCode puts a numeric code (CodeLength digits, MaxAttempts
	// wrong tries, living VerificationTTL) in every address-verification
	// mail, besides the link: either verifies the address.
	VerificationCode bool
}

// Defaults and bounds of the EmailPolicy fields. The link lifetimes are
// seed 001's.
const (
	DefaultEmailVerificationTTL = 30 * time.Minute
	DefaultEmailResetTTL        = 30 * time.Minute
	DefaultEmailCodeTTL         = 10 * time.Minute
	DefaultEmailCodeLength      = 6
	DefaultEmailMaxAttempts     = 5
	DefaultEmailMagicLinkTTL    = time.Hour
	DefaultEmailResendCooldown  = 60 * time.Second
	DefaultEmailDailyCap        = 10

	MinEmailTTL = time.Minute
	MaxEmailTTL = 7 * 24 * time.Hour
)

// DefaultEmailPolicy is the policy of a tenant that sets none of it.
func DefaultEmailPolicy() EmailPolicy {
	return EmailPolicy{VerificationTTL: DefaultEmailVerificationTTL, ResetTTL: DefaultEmailResetTTL, CodeTTL: DefaultEmailCodeTTL,
		CodeLength: DefaultEmailCodeLength, MaxAttempts: DefaultEmailMaxAttempts, MagicLinkTTL: DefaultEmailMagicLinkTTL,
		ResendCooldown: DefaultEmailResendCooldown, DailyCap: DefaultEmailDailyCap}
}

// problems lists what is wrong with the section.
func (p EmailPolicy) problems() []Problem {
	var ps []Problem
	add := func(field, format string, args ...any) {
		ps = append(ps, Problem{Field: "email." + field, Reason: fmt.Sprintf(format, args...)})
	}
	for _, d := range []struct {
		field string
		v     time.Duration
	}{{"verification_ttl", p.VerificationTTL}, {"reset_ttl", p.ResetTTL}, {"code_ttl", p.CodeTTL}, {"magic_link_ttl", p.MagicLinkTTL}} {
		if d.v < MinEmailTTL || d.v > MaxEmailTTL {
			add(d.field, "must be between %s and %s, got %s", MinEmailTTL, MaxEmailTTL, d.v)
		}
	}
	if p.CodeTTL > time.Hour {
		add("code_ttl", "must be at most 1h (a typed code is short-lived), got %s", p.CodeTTL)
	}
	if p.CodeLength < MinSMSCodeLength || p.CodeLength > MaxSMSCodeLength {
		add("code_length", "must be between %d and %d, got %d", MinSMSCodeLength, MaxSMSCodeLength, p.CodeLength)
	}
	if p.MaxAttempts < MinSMSMaxAttempts || p.MaxAttempts > MaxSMSMaxAttempts {
		add("max_attempts", "must be between %d and %d, got %d", MinSMSMaxAttempts, MaxSMSMaxAttempts, p.MaxAttempts)
	}
	if p.ResendCooldown < time.Second || p.ResendCooldown > time.Hour {
		add("resend_cooldown", "must be between 1s and 1h0m0s, got %s", p.ResendCooldown)
	}
	if p.DailyCap < MinSMSDailyCap || p.DailyCap > MaxSMSDailyCap {
		add("daily_cap", "must be between %d and %d, got %d", MinSMSDailyCap, MaxSMSDailyCap, p.DailyCap)
	}
	return ps
}
