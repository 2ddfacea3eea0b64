package tenant

import (
	"fmt"
	"slices"
	"time"
)

// MFAPolicy (configuration section mfa) is a tenant's second factor: the
// shape of its TOTP codes, its backup codes, the roles that must have a
// second factor, and the limits on wrong second-factor submissions.
type MFAPolicy struct {
	// TOTP is the shape of the codes authenticator apps compute.
	TOTP TOTPPolicy
	// BackupCodes is how many single-use backup codes a user gets at
	// enrolment (and at each regeneration), and how many characters each
	// has (Crockford base32, 5 bits a character).
	BackupCodes BackupCodePolicy
	// RequiredRoles lists the roles whose users must have a second factor:
	// a first factor alone signs such a user in only to enrol one.
	RequiredRoles []string
	// MaxAttempts is how many wrong codes one MFA challenge survives.
	MaxAttempts int
	// PerUser bounds the wrong second-factor codes of one user, over every
	// challenge and enrolment step.
	PerUser Limit
	// BackupLockout bounds the wrong backup codes of one user: past it,
	// backup codes are refused for the window (TOTP codes still work).
	BackupLockout Limit
}

// TOTPPolicy is the shape of a tenant's TOTP codes (RFC 6238).
type TOTPPolicy struct {
	// Digits is 6 or 8.
	Digits int
	// Period is the time step, 30 s by default.
	Period time.Duration
	// Algorithm is the HMAC hash: SHA1 (what every authenticator app
	// supports), SHA256 or SHA512.
	Algorithm string
	// Skew is how many steps before and after the current one are
	// accepted, for clocks that drift.
	Skew int
}

// BackupCodePolicy is the number and length of a user's backup codes.
type BackupCodePolicy struct {
	Count  int
	Length int
}

// Defaults and bounds of the MFA policy.
const (
	DefaultTOTPDigits    = 6
	DefaultTOTPPeriod    = 30 * time.Second
	DefaultTOTPAlgorithm = "SHA1"
	DefaultTOTPSkew      = 1
	MaxTOTPSkew          = 3

	DefaultBackupCodeCount  = 10
	DefaultBackupCodeLength = 10 // 50 bits
	// MinBackupCodeLength keeps a code at 40 bits or more.
	MinBackupCodeLength = 8
	MaxBackupCodeLength = 32
	MaxBackupCodeCount  = 30

	DefaultMFAMaxAttempts = 5
)

// Roles are the user roles a policy may name: identity.Role's values
// (identity imports this package, so they are listed here, and identity's
// tests check the two agree).
var Roles = []string{"user", "staff", "admin"}

// TOTPAlgorithms are the hashes a TOTP policy may name.
var TOTPAlgorithms = []string{"SHA1", "SHA256", "SHA512"}

// DefaultMFAPolicy is the policy of a tenant that sets none of it.
func DefaultMFAPolicy() MFAPolicy {
	return MFAPolicy{
		TOTP:          TOTPPolicy{Digits: DefaultTOTPDigits, Period: DefaultTOTPPeriod, Algorithm: DefaultTOTPAlgorithm, Skew: DefaultTOTPSkew},
		BackupCodes:   BackupCodePolicy{Count: DefaultBackupCodeCount, Length: DefaultBackupCodeLength},
		MaxAttempts:   DefaultMFAMaxAttempts,
		PerUser:       Limit{Count: 20, Window: time.Hour},
		BackupLockout: Limit{Count: 10, Window: time.Hour},
	}
}

// Seed001BackupCodes is the backup-code form of seed 001's original: 8
// codes of 8 characters, locked for 30 minutes after 3 wrong ones.
var (
	Seed001BackupCodes   = BackupCodePolicy{Count: 8, Length: 8}
	Seed001BackupLockout = Limit{Count: 3, Window: 30 * time.Minute}
)

// Requires reports whether the tenant requires a second factor of users
// with role.
func (p MFAPolicy) Requires(role string) bool { return slices.Contains(p.RequiredRoles, role) }

// problems lists what is wrong with the section of tenant t (whose roles
// required_roles may name).
func (p MFAPolicy) problems(t Tenant) []Problem {
	var ps []Problem
	add := func(field, format string, args ...any) {
		ps = append(ps, Problem{Field: "mfa." + field, Reason: fmt.Sprintf(format, args...)})
	}
	if p.TOTP.Digits != 6 && p.TOTP.Digits != 8 {
		add("totp.digits", "must be 6 or 8, got %d", p.TOTP.Digits)
	}
	if p.TOTP.Period < 15*time.Second || p.TOTP.Period > 5*time.Minute || p.TOTP.Period%time.Second != 0 {
		add("totp.period", "must be whole seconds between 15s and 5m0s, got %s", p.TOTP.Period)
	}
	if !slices.Contains(TOTPAlgorithms, p.TOTP.Algorithm) {
		add("totp.algorithm", "must be one of SHA1, SHA256, SHA512, got %q", p.TOTP.Algorithm)
	}
	if p.TOTP.Skew < 0 || p.TOTP.Skew > MaxTOTPSkew {
		add("totp.skew", "must be between 0 and %d, got %d", MaxTOTPSkew, p.TOTP.Skew)
	}
	if p.BackupCodes.Count < 1 || p.BackupCodes.Count > MaxBackupCodeCount {
		add("backup_codes.count", "must be between 1 and %d, got %d", MaxBackupCodeCount, p.BackupCodes.Count)
	}
	if p.BackupCodes.Length < MinBackupCodeLength || p.BackupCodes.Length > MaxBackupCodeLength {
		add("backup_codes.length", "must be between %d and %d characters (5 bits each), got %d", MinBackupCodeLength, MaxBackupCodeLength, p.BackupCodes.Length)
	}
	for i, r := range p.RequiredRoles {
		if !t.HasRole(r) {
			add(fmt.Sprintf("required_roles[%d]", i), "must be one of %v, got %q", t.RoleNames(), r)
		}
	}
	if p.MaxAttempts < 1 || p.MaxAttempts > 20 {
		add("max_attempts", "must be between 1 and 20, got %d", p.MaxAttempts)
	}
	for _, l := range []struct {
		field string
		v     Limit
	}{{"per_user", p.PerUser}, {"backup_lockout", p.BackupLockout}} {
		if l.v.Count < 1 {
			add(l.field+".limit", "must be at least 1, got %d", l.v.Count)
		}
		if l.v.Window < time.Second {
			add(l.field+".window", "must be at least 1s, got %s", l.v.Window)
		}
	}
	return ps
}
