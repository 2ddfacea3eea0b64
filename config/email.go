package config

import (
	"time"

	"github.com/portcullis/portcullis/domain/tenant"
)

// emailSpec is the email section of the tenant schema: the policy of the
// secrets mailed to users (tenant.EmailPolicy).
type emailSpec struct {
	VerificationTTL  time.Duration `mapstructure:"verification_ttl"`
	ResetTTL         time.Duration `mapstructure:"reset_ttl"`
	CodeTTL          time.Duration `mapstructure:"code_ttl"`
	CodeLength       int           `mapstructure:"code_length"`
	MaxAttempts      int           `mapstructure:"max_attempts"`
	MagicLinkTTL     time.Duration `mapstructure:"magic_link_ttl"`
	ResendCooldown   time.Duration `mapstructure:"resend_cooldown"`
	DailyCap         int           `mapstructure:"daily_cap"`
	SameDevice       bool          `mapstructure:"same_device"`
	NewSigninNotice  bool          `mapstructure:"new_signin_notice"`
	VerificationCode bool          `mapstructure:"verification_code"`
}

func emailSpecFrom(p tenant.EmailPolicy) emailSpec {
	return emailSpec{VerificationTTL: p.VerificationTTL, ResetTTL: p.ResetTTL, CodeTTL: p.CodeTTL, CodeLength: p.CodeLength,
		MaxAttempts: p.MaxAttempts, MagicLinkTTL: p.MagicLinkTTL, ResendCooldown: p.ResendCooldown, DailyCap: p.DailyCap, SameDevice: p.SameDevice,
		NewSigninNotice: p.NewSigninNotice, VerificationCode: p.VerificationCode}
}

func (s emailSpec) policy() tenant.EmailPolicy {
	return tenant.EmailPolicy{VerificationTTL: s.VerificationTTL, ResetTTL: s.ResetTTL, CodeTTL: s.CodeTTL, CodeLength: s.CodeLength,
		MaxAttempts: s.MaxAttempts, MagicLinkTTL: s.MagicLinkTTL, ResendCooldown: s.ResendCooldown, DailyCap: s.DailyCap, SameDevice: s.SameDevice,
		NewSigninNotice: s.NewSigninNotice, VerificationCode: s.VerificationCode}
}

func (s emailSpec) document() map[string]any {
	return map[string]any{
		"verification_ttl": s.VerificationTTL.String(), "reset_ttl": s.ResetTTL.String(), "code_ttl": s.CodeTTL.String(),
		"code_length": s.CodeLength, "max_attempts": s.MaxAttempts, "magic_link_ttl": s.MagicLinkTTL.String(),
		"resend_cooldown": s.ResendCooldown.String(), "daily_cap": s.DailyCap, "same_device": s.SameDevice,
		"new_signin_notice": s.NewSigninNotice, "verification_code": s.VerificationCode,
	}
}
