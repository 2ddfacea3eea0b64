package config

import (
	"slices"
	"time"

	"github.com/go-viper/mapstructure/v2"

	"github.com/portcullis/portcullis/domain/tenant"
)

// mfaSpec is the mfa section of the tenant schema: the second-factor
// policy (tenant.MFAPolicy).
type mfaSpec struct {
	TOTP          totpSpec       `mapstructure:"totp"`
	BackupCodes   backupCodeSpec `mapstructure:"backup_codes"`
	RequiredRoles []string       `mapstructure:"required_roles"`
	MaxAttempts   int            `mapstructure:"max_attempts"`
	PerUser       limitSpec      `mapstructure:"per_user"`
	BackupLockout limitSpec      `mapstructure:"backup_lockout"`
}

type totpSpec struct {
	Digits    int           `mapstructure:"digits"`
	Period    time.Duration `mapstructure:"period"`
	Algorithm string        `mapstructure:"algorithm"`
	Skew      int           `mapstructure:"skew"`
}

type backupCodeSpec struct {
	Count  int `mapstructure:"count"`
	Length int `mapstructure:"length"`
}

func mfaSpecFrom(p tenant.MFAPolicy) mfaSpec {
	return mfaSpec{
		TOTP:          totpSpec{Digits: p.TOTP.Digits, Period: p.TOTP.Period, Algorithm: p.TOTP.Algorithm, Skew: p.TOTP.Skew},
		BackupCodes:   backupCodeSpec{Count: p.BackupCodes.Count, Length: p.BackupCodes.Length},
		RequiredRoles: slices.Clone(p.RequiredRoles),
		MaxAttempts:   p.MaxAttempts,
		PerUser:       limitSpec{Limit: p.PerUser.Count, Window: p.PerUser.Window},
		BackupLockout: limitSpec{Limit: p.BackupLockout.Count, Window: p.BackupLockout.Window},
	}
}

func (s mfaSpec) policy() tenant.MFAPolicy {
	return tenant.MFAPolicy{
		TOTP:          tenant.TOTPPolicy{Digits: s.TOTP.Digits, Period: s.TOTP.Period, Algorithm: s.TOTP.Algorithm, Skew: s.TOTP.Skew},
		BackupCodes:   tenant.BackupCodePolicy{Count: s.BackupCodes.Count, Length: s.BackupCodes.Length},
		RequiredRoles: s.RequiredRoles,
		MaxAttempts:   s.MaxAttempts,
		PerUser:       tenant.Limit{Count: s.PerUser.Limit, Window: s.PerUser.Window},
		BackupLockout: tenant.Limit{Count: s.BackupLockout.Limit, Window: s.BackupLockout.Window},
	}
}

func (s mfaSpec) document() map[string]any {
	limit := func(l limitSpec) map[string]any { return map[string]any{"limit": l.Limit, "window": l.Window.String()} }
	return map[string]any{
		"totp":           map[string]any{"digits": s.TOTP.Digits, "period": s.TOTP.Period.String(), "algorithm": s.TOTP.Algorithm, "skew": s.TOTP.Skew},
		"backup_codes":   map[string]any{"count": s.BackupCodes.Count, "length": s.BackupCodes.Length},
		"required_roles": orEmpty(s.RequiredRoles),
		"max_attempts":   s.MaxAttempts,
		"per_user":       limit(s.PerUser),
		"backup_lockout": limit(s.BackupLockout),
	}
}

// defaultMFA is the policy a document's mfa section is read over. A tenant
// that serves seed 001 takes that profile's original backup-code form
// (tenant.Seed001BackupCodes, tenant.Seed001BackupLockout) for whatever of
// backup_codes and backup_lockout it does not set; the rest of the defaults
// are everyone's.
func defaultMFA(doc map[string]any) tenant.MFAPolicy {
	p := tenant.DefaultMFAPolicy()
	var probe struct {
		Profiles struct {
			Seed001 struct {
				Enabled bool `mapstructure:"enabled"`
			} `mapstructure:"seed001"`
		} `mapstructure:"profiles"`
	}
	// A malformed profiles section is the full decode's to report; here
	// it only leaves the general defaults.
	if err := mapstructure.Decode(doc, &probe); err == nil && probe.Profiles.Seed001.Enabled {
		p.BackupCodes = tenant.Seed001BackupCodes
		p.BackupLockout = tenant.Seed001BackupLockout
	}
	return p
}
