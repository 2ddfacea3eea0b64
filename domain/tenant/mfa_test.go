package tenant_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/portcullis/portcullis/domain/tenant"
)

func TestMFADefaults(t *testing.T) {
	t.Parallel()
	want := tenant.MFAPolicy{
		TOTP:          tenant.TOTPPolicy{Digits: 6, Period: 30 * time.Second, Algorithm: "SHA1", Skew: 1},
		BackupCodes:   tenant.BackupCodePolicy{Count: 10, Length: 10},
		MaxAttempts:   5,
		PerUser:       tenant.Limit{Count: 20, Window: time.Hour},
		BackupLockout: tenant.Limit{Count: 10, Window: time.Hour},
	}
	got := tenant.DefaultMFAPolicy()
	if !equalMFA(got, want) || !equalMFA(tenant.Default().MFA, want) {
		t.Fatalf("default mfa %+v, tenant.Default().MFA %+v; want %+v", got, tenant.Default().MFA, want)
	}
	if got.Requires("admin") || got.Requires("user") {
		t.Fatal("the default policy requires a second factor of some role; want of none")
	}
	if tenant.Seed001BackupCodes != (tenant.BackupCodePolicy{Count: 8, Length: 8}) ||
		tenant.Seed001BackupLockout != (tenant.Limit{Count: 3, Window: 30 * time.Minute}) {
		t.Fatalf("seed 001 backup codes %+v, lockout %+v; want 8 of 8 characters, 3 per 30m", tenant.Seed001BackupCodes, tenant.Seed001BackupLockout)
	}
	seed := valid()
	seed.MFA.BackupCodes, seed.MFA.BackupLockout = tenant.Seed001BackupCodes, tenant.Seed001BackupLockout
	if err := seed.Validate(); err != nil {
		t.Fatalf("seed 001's backup-code form is refused: %v", err)
	}
}

func TestMFAAcceptedSettings(t *testing.T) {
	t.Parallel()
	cases := map[string]func(*tenant.MFAPolicy){
		"8 digits":                  func(p *tenant.MFAPolicy) { p.TOTP.Digits = 8 },
		"shortest period":           func(p *tenant.MFAPolicy) { p.TOTP.Period = 15 * time.Second },
		"longest period":            func(p *tenant.MFAPolicy) { p.TOTP.Period = 5 * time.Minute },
		"SHA256":                    func(p *tenant.MFAPolicy) { p.TOTP.Algorithm = "SHA256" },
		"SHA512":                    func(p *tenant.MFAPolicy) { p.TOTP.Algorithm = "SHA512" },
		"no skew":                   func(p *tenant.MFAPolicy) { p.TOTP.Skew = 0 },
		"most skew":                 func(p *tenant.MFAPolicy) { p.TOTP.Skew = tenant.MaxTOTPSkew },
		"one backup code":           func(p *tenant.MFAPolicy) { p.BackupCodes.Count = 1 },
		"most backup codes":         func(p *tenant.MFAPolicy) { p.BackupCodes.Count = tenant.MaxBackupCodeCount },
		"shortest backup code":      func(p *tenant.MFAPolicy) { p.BackupCodes.Length = tenant.MinBackupCodeLength },
		"longest backup code":       func(p *tenant.MFAPolicy) { p.BackupCodes.Length = tenant.MaxBackupCodeLength },
		"every role":                func(p *tenant.MFAPolicy) { p.RequiredRoles = slices.Clone(tenant.Roles) },
		"one attempt":               func(p *tenant.MFAPolicy) { p.MaxAttempts = 1 },
		"most attempts":             func(p *tenant.MFAPolicy) { p.MaxAttempts = 20 },
		"per user, smallest":        func(p *tenant.MFAPolicy) { p.PerUser = tenant.Limit{Count: 1, Window: time.Second} },
		"backup lockout, smallest":  func(p *tenant.MFAPolicy) { p.BackupLockout = tenant.Limit{Count: 1, Window: time.Second} },
		"backup lockout, long":      func(p *tenant.MFAPolicy) { p.BackupLockout = tenant.Limit{Count: 50, Window: 24 * time.Hour} },
		"admins need a second one":  func(p *tenant.MFAPolicy) { p.RequiredRoles = []string{"admin"} },
		"staff and admins need one": func(p *tenant.MFAPolicy) { p.RequiredRoles = []string{"staff", "admin"} },
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			x := valid()
			mutate(&x.MFA)
			if err := x.Validate(); err != nil {
				t.Fatalf("refused: %v", err)
			}
		})
	}
	p := tenant.DefaultMFAPolicy()
	p.RequiredRoles = []string{"staff", "admin"}
	if !p.Requires("admin") || !p.Requires("staff") || p.Requires("user") {
		t.Fatalf("Requires with %v: admin %v, staff %v, user %v", p.RequiredRoles, p.Requires("admin"), p.Requires("staff"), p.Requires("user"))
	}
}

// TestMFAProblems: each bad value is reported as exactly one problem,
// named by its field in the configuration.
func TestMFAProblems(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		mutate func(*tenant.MFAPolicy)
		want   []tenant.Problem
	}{
		{"7 digits", func(p *tenant.MFAPolicy) { p.TOTP.Digits = 7 }, []tenant.Problem{{Field: "mfa.totp.digits", Reason: "must be 6 or 8, got 7"}}},
		{"no digits", func(p *tenant.MFAPolicy) { p.TOTP.Digits = 0 }, []tenant.Problem{{Field: "mfa.totp.digits", Reason: "must be 6 or 8, got 0"}}},
		{"period too short", func(p *tenant.MFAPolicy) { p.TOTP.Period = 10 * time.Second },
			[]tenant.Problem{{Field: "mfa.totp.period", Reason: "must be whole seconds between 15s and 5m0s, got 10s"}}},
		{"period too long", func(p *tenant.MFAPolicy) { p.TOTP.Period = 6 * time.Minute },
			[]tenant.Problem{{Field: "mfa.totp.period", Reason: "must be whole seconds between 15s and 5m0s, got 6m0s"}}},
		{"period not whole seconds", func(p *tenant.MFAPolicy) { p.TOTP.Period = 30*time.Second + 500*time.Millisecond },
			[]tenant.Problem{{Field: "mfa.totp.period", Reason: "must be whole seconds between 15s and 5m0s, got 30.5s"}}},
		{"unknown algorithm", func(p *tenant.MFAPolicy) { p.TOTP.Algorithm = "MD5" },
			[]tenant.Problem{{Field: "mfa.totp.algorithm", Reason: `must be one of SHA1, SHA256, SHA512, got "MD5"`}}},
		{"lower-case algorithm", func(p *tenant.MFAPolicy) { p.TOTP.Algorithm = "sha1" },
			[]tenant.Problem{{Field: "mfa.totp.algorithm", Reason: `must be one of SHA1, SHA256, SHA512, got "sha1"`}}},
		{"negative skew", func(p *tenant.MFAPolicy) { p.TOTP.Skew = -1 }, []tenant.Problem{{Field: "mfa.totp.skew", Reason: "must be between 0 and 3, got -1"}}},
		{"skew too wide", func(p *tenant.MFAPolicy) { p.TOTP.Skew = 4 }, []tenant.Problem{{Field: "mfa.totp.skew", Reason: "must be between 0 and 3, got 4"}}},
		{"no backup codes", func(p *tenant.MFAPolicy) { p.BackupCodes.Count = 0 },
			[]tenant.Problem{{Field: "mfa.backup_codes.count", Reason: "must be between 1 and 30, got 0"}}},
		{"too many backup codes", func(p *tenant.MFAPolicy) { p.BackupCodes.Count = 31 },
			[]tenant.Problem{{Field: "mfa.backup_codes.count", Reason: "must be between 1 and 30, got 31"}}},
		{"backup code too short", func(p *tenant.MFAPolicy) { p.BackupCodes.Length = 7 },
			[]tenant.Problem{{Field: "mfa.backup_codes.length", Reason: "must be between 8 and 32 characters (5 bits each), got 7"}}},
		{"backup code too long", func(p *tenant.MFAPolicy) { p.BackupCodes.Length = 33 },
			[]tenant.Problem{{Field: "mfa.backup_codes.length", Reason: "must be between 8 and 32 characters (5 bits each), got 33"}}},
		{"unknown role", func(p *tenant.MFAPolicy) { p.RequiredRoles = []string{"admin", "root"} },
			[]tenant.Problem{{Field: "mfa.required_roles[1]", Reason: `must be one of [user staff admin], got "root"`}}},
		{"role in upper case", func(p *tenant.MFAPolicy) { p.RequiredRoles = []string{"Admin"} },
			[]tenant.Problem{{Field: "mfa.required_roles[0]", Reason: `must be one of [user staff admin], got "Admin"`}}},
		{"no attempts", func(p *tenant.MFAPolicy) { p.MaxAttempts = 0 }, []tenant.Problem{{Field: "mfa.max_attempts", Reason: "must be between 1 and 20, got 0"}}},
		{"too many attempts", func(p *tenant.MFAPolicy) { p.MaxAttempts = 21 }, []tenant.Problem{{Field: "mfa.max_attempts", Reason: "must be between 1 and 20, got 21"}}},
		{"per user limit zero", func(p *tenant.MFAPolicy) { p.PerUser.Count = 0 }, []tenant.Problem{{Field: "mfa.per_user.limit", Reason: "must be at least 1, got 0"}}},
		{"per user window too short", func(p *tenant.MFAPolicy) { p.PerUser.Window = 500 * time.Millisecond },
			[]tenant.Problem{{Field: "mfa.per_user.window", Reason: "must be at least 1s, got 500ms"}}},
		{"backup lockout limit negative", func(p *tenant.MFAPolicy) { p.BackupLockout.Count = -1 },
			[]tenant.Problem{{Field: "mfa.backup_lockout.limit", Reason: "must be at least 1, got -1"}}},
		{"backup lockout without window", func(p *tenant.MFAPolicy) { p.BackupLockout.Window = 0 },
			[]tenant.Problem{{Field: "mfa.backup_lockout.window", Reason: "must be at least 1s, got 0s"}}},
		{"every problem at once", func(p *tenant.MFAPolicy) { *p = tenant.MFAPolicy{RequiredRoles: []string{"root"}} }, []tenant.Problem{
			{Field: "mfa.totp.digits", Reason: "must be 6 or 8, got 0"},
			{Field: "mfa.totp.period", Reason: "must be whole seconds between 15s and 5m0s, got 0s"},
			{Field: "mfa.totp.algorithm", Reason: `must be one of SHA1, SHA256, SHA512, got ""`},
			{Field: "mfa.backup_codes.count", Reason: "must be between 1 and 30, got 0"},
			{Field: "mfa.backup_codes.length", Reason: "must be between 8 and 32 characters (5 bits each), got 0"},
			{Field: "mfa.required_roles[0]", Reason: `must be one of [user staff admin], got "root"`},
			{Field: "mfa.max_attempts", Reason: "must be between 1 and 20, got 0"},
			{Field: "mfa.per_user.limit", Reason: "must be at least 1, got 0"},
			{Field: "mfa.per_user.window", Reason: "must be at least 1s, got 0s"},
			{Field: "mfa.backup_lockout.limit", Reason: "must be at least 1, got 0"},
			{Field: "mfa.backup_lockout.window", Reason: "must be at least 1s, got 0s"},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			x := valid()
			tc.mutate(&x.MFA)
			var ve *tenant.ValidationError
			if err := x.Validate(); !errors.As(err, &ve) {
				t.Fatalf("want ValidationError, got %v", err)
			}
			if !slices.Equal(ve.Problems, tc.want) {
				t.Fatalf("problems\n %q\nwant\n %q", ve.Problems, tc.want)
			}
		})
	}
}

func equalMFA(a, b tenant.MFAPolicy) bool {
	return a.TOTP == b.TOTP && a.BackupCodes == b.BackupCodes && slices.Equal(a.RequiredRoles, b.RequiredRoles) &&
		a.MaxAttempts == b.MaxAttempts && a.PerUser == b.PerUser && a.BackupLockout == b.BackupLockout
}
