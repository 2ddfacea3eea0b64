package config_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/config"
	"github.com/portcullis/portcullis/domain/tenant"
)

func TestMFABlock(t *testing.T) {
	t.Parallel()
	def, err := config.ParseTenantYAML([]byte("id: mfa\n"), "mfa")
	if err != nil {
		t.Fatal(err)
	}
	if want := tenant.DefaultMFAPolicy(); mfaString(def.MFA) != mfaString(want) {
		t.Fatalf("default mfa policy %s, want %s", mfaString(def.MFA), mfaString(want))
	}
	got, err := config.ParseTenantYAML([]byte("id: mfa\nmfa:\n  totp: {digits: 8, period: 60s, algorithm: SHA256, skew: 2}\n"+
		"  backup_codes: {count: 12, length: 16}\n  required_roles: [staff, admin]\n  max_attempts: 3\n"+
		"  per_user: {limit: 7, window: 2h}\n  backup_lockout: {limit: 4, window: 45m}\n"), "mfa")
	if err != nil {
		t.Fatal(err)
	}
	want := tenant.MFAPolicy{
		TOTP:          tenant.TOTPPolicy{Digits: 8, Period: time.Minute, Algorithm: "SHA256", Skew: 2},
		BackupCodes:   tenant.BackupCodePolicy{Count: 12, Length: 16},
		RequiredRoles: []string{"staff", "admin"},
		MaxAttempts:   3,
		PerUser:       tenant.Limit{Count: 7, Window: 2 * time.Hour},
		BackupLockout: tenant.Limit{Count: 4, Window: 45 * time.Minute},
	}
	if mfaString(got.MFA) != mfaString(want) {
		t.Fatalf("mfa policy %s, want %s", mfaString(got.MFA), mfaString(want))
	}
	for _, in := range []tenant.Tenant{def, got} {
		doc := config.EncodeTenant(in)
		mfa := doc["mfa"].(map[string]any)
		for _, field := range []string{"totp", "backup_codes", "required_roles", "max_attempts", "per_user", "backup_lockout"} {
			if _, ok := mfa[field]; !ok {
				t.Errorf("the document lacks mfa.%s: %v", field, mfa)
			}
		}
		out, err := config.DecodeTenant(doc, "mfa")
		if err != nil || mfaString(out.MFA) != mfaString(in.MFA) {
			t.Fatalf("round trip: %s, %v; want %s", mfaString(out.MFA), err, mfaString(in.MFA))
		}
	}
}

// TestPartialMFABlockKeepsTheOtherDefaults: a field set alone, even one
// inside totp or a limit, leaves every other field at its default.
func TestPartialMFABlockKeepsTheOtherDefaults(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, yaml string
		change     func(*tenant.MFAPolicy)
	}{
		{"digits", "mfa:\n  totp: {digits: 8}\n", func(p *tenant.MFAPolicy) { p.TOTP.Digits = 8 }},
		{"algorithm", "mfa:\n  totp:\n    algorithm: SHA512\n", func(p *tenant.MFAPolicy) { p.TOTP.Algorithm = "SHA512" }},
		{"backup code count", "mfa:\n  backup_codes: {count: 5}\n", func(p *tenant.MFAPolicy) { p.BackupCodes.Count = 5 }},
		{"required roles", "mfa:\n  required_roles: [admin]\n", func(p *tenant.MFAPolicy) { p.RequiredRoles = []string{"admin"} }},
		{"max attempts", "mfa:\n  max_attempts: 10\n", func(p *tenant.MFAPolicy) { p.MaxAttempts = 10 }},
		{"per user window", "mfa:\n  per_user: {window: 10m}\n", func(p *tenant.MFAPolicy) { p.PerUser.Window = 10 * time.Minute }},
		{"backup lockout limit", "mfa:\n  backup_lockout: {limit: 2}\n", func(p *tenant.MFAPolicy) { p.BackupLockout.Count = 2 }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := config.ParseTenantYAML([]byte("id: mfa\n"+tc.yaml), "mfa")
			if err != nil {
				t.Fatal(err)
			}
			want := tenant.DefaultMFAPolicy()
			tc.change(&want)
			if mfaString(got.MFA) != mfaString(want) {
				t.Fatalf("mfa policy %s, want %s", mfaString(got.MFA), mfaString(want))
			}
		})
	}
}

// TestSeed001BackupCodeDefaults: a tenant serving seed 001 takes that
// profile's backup-code form for what it does not set, keeps what it
// sets, and keeps both through a round trip.
func TestSeed001BackupCodeDefaults(t *testing.T) {
	t.Parallel()
	const seed = "id: s1\nprofiles:\n  seed001: {enabled: true}\n"
	general := tenant.DefaultMFAPolicy()
	withSeed := func(change func(*tenant.MFAPolicy)) tenant.MFAPolicy {
		p := tenant.DefaultMFAPolicy()
		p.BackupCodes, p.BackupLockout = tenant.Seed001BackupCodes, tenant.Seed001BackupLockout
		if change != nil {
			change(&p)
		}
		return p
	}
	cases := []struct {
		name, yaml string
		want       tenant.MFAPolicy
	}{
		{"seed 001 on, nothing set", seed, withSeed(nil)},
		{"seed 001 on, other mfa fields set", seed + "mfa:\n  max_attempts: 3\n  totp: {digits: 8}\n",
			withSeed(func(p *tenant.MFAPolicy) { p.MaxAttempts, p.TOTP.Digits = 3, 8 })},
		{"seed 001 on, backup codes set", seed + "mfa:\n  backup_codes: {count: 10, length: 10}\n",
			withSeed(func(p *tenant.MFAPolicy) { p.BackupCodes = general.BackupCodes })},
		{"seed 001 on, backup lockout set", seed + "mfa:\n  backup_lockout: {limit: 10, window: 1h}\n",
			withSeed(func(p *tenant.MFAPolicy) { p.BackupLockout = general.BackupLockout })},
		{"seed 001 on, both set", seed + "mfa:\n  backup_codes: {count: 12, length: 12}\n  backup_lockout: {limit: 5, window: 2h}\n",
			withSeed(func(p *tenant.MFAPolicy) {
				p.BackupCodes = tenant.BackupCodePolicy{Count: 12, Length: 12}
				p.BackupLockout = tenant.Limit{Count: 5, Window: 2 * time.Hour}
			})},
		// A field set alone keeps the seed 001 value of the other.
		{"seed 001 on, backup code count set alone", seed + "mfa:\n  backup_codes: {count: 5}\n",
			withSeed(func(p *tenant.MFAPolicy) { p.BackupCodes.Count = 5 })},
		{"seed 001 off", "id: s1\nprofiles:\n  seed001: {enabled: false}\n  seed000: {enabled: true}\n", general},
		{"seed 001 prefix only", "id: s1\nprofiles:\n  seed001: {prefix: /api}\n", general},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := config.ParseTenantYAML([]byte(tc.yaml), "s1")
			if err != nil {
				t.Fatal(err)
			}
			if mfaString(got.MFA) != mfaString(tc.want) {
				t.Fatalf("mfa policy %s\nwant %s", mfaString(got.MFA), mfaString(tc.want))
			}
			// Stored and read back (the tenants collection), the policy
			// is the same: the document spells every value out, so the
			// seed 001 defaults cannot replace one set to the general
			// default, nor the general defaults a seed 001 one.
			out, err := config.DecodeTenant(config.EncodeTenant(got), "store")
			if err != nil || mfaString(out.MFA) != mfaString(got.MFA) {
				t.Fatalf("round trip: %s, %v\nwant %s", mfaString(out.MFA), err, mfaString(got.MFA))
			}
			again, err := config.DecodeTenant(config.EncodeTenant(out), "store")
			if err != nil || mfaString(again.MFA) != mfaString(got.MFA) {
				t.Fatalf("second round trip: %s, %v\nwant %s", mfaString(again.MFA), err, mfaString(got.MFA))
			}
		})
	}
	// Switching seed 001 off in a stored document that spells the seed
	// values out keeps them: they are the tenant's settings now.
	on, err := config.ParseTenantYAML([]byte(seed), "s1")
	if err != nil {
		t.Fatal(err)
	}
	on.Profiles.Seed001 = false
	off, err := config.DecodeTenant(config.EncodeTenant(on), "store")
	if err != nil || off.MFA.BackupCodes != tenant.Seed001BackupCodes || off.MFA.BackupLockout != tenant.Seed001BackupLockout {
		t.Fatalf("seed 001 off after a round trip: %s, %v", mfaString(off.MFA), err)
	}
}

func TestBadMFABlockNamesFieldAndReason(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"totp: {digits: 7}":                   `tenant "bad": mfa.totp.digits: must be 6 or 8, got 7`,
		"totp: {digits: six}":                 `tenant "bad": mfa.totp.digits: must be a whole number, got a string`,
		"totp: {period: 30}":                  `tenant "bad": mfa.totp.period: must be a duration with a unit such as 15m or 1h30m, got 30`,
		"totp: {period: 10s}":                 `tenant "bad": mfa.totp.period: must be whole seconds between 15s and 5m0s, got 10s`,
		"totp: {period: 30500ms}":             `tenant "bad": mfa.totp.period: must be whole seconds between 15s and 5m0s, got 30.5s`,
		"totp: {algorithm: sha1}":             `tenant "bad": mfa.totp.algorithm: must be one of SHA1, SHA256, SHA512, got "sha1"`,
		"totp: {skew: 4}":                     `tenant "bad": mfa.totp.skew: must be between 0 and 3, got 4`,
		"totp: {step: 30s}":                   `tenant "bad": mfa.totp.step: is not a known setting`,
		"backup_codes: {count: 0}":            `tenant "bad": mfa.backup_codes.count: must be between 1 and 30, got 0`,
		"backup_codes: {length: 6}":           `tenant "bad": mfa.backup_codes.length: must be between 8 and 32 characters (5 bits each), got 6`,
		"backup_codes: {size: 6}":             `tenant "bad": mfa.backup_codes.size: is not a known setting`,
		"required_roles: admin":               `tenant "bad": mfa.required_roles: must be a list, got a string`,
		"required_roles: [admin, root]":       `tenant "bad": mfa.required_roles[1]: must be one of [user staff admin], got "root"`,
		"max_attempts: 0":                     `tenant "bad": mfa.max_attempts: must be between 1 and 20, got 0`,
		"per_user: {limit: 0, window: 1h}":    `tenant "bad": mfa.per_user.limit: must be at least 1, got 0`,
		"per_user: {limit: 5, window: 60}":    `tenant "bad": mfa.per_user.window: must be a duration with a unit such as 15m or 1h30m, got 60`,
		"backup_lockout: {window: 10ms}":      `tenant "bad": mfa.backup_lockout.window: must be at least 1s, got 10ms`,
		"backup_lockout: {limit: 3, for: 1h}": `tenant "bad": mfa.backup_lockout.for: is not a known setting`,
		"lockout: {limit: 3}":                 `tenant "bad": mfa.lockout: is not a known setting`,
	}
	for line, want := range cases {
		_, err := config.ParseTenantYAML([]byte(fmt.Sprintf("id: bad\nmfa:\n  %s\n", line)), "bad")
		var ve *tenant.ValidationError
		if !errors.As(err, &ve) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want a problem %q", line, err, want)
		}
	}
}

// mfaString prints a policy for comparison: MFAPolicy holds a slice, so it
// is not comparable with ==.
func mfaString(p tenant.MFAPolicy) string { return fmt.Sprintf("%+v", p) }
