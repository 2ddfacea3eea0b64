package mfa_test

import (
	"slices"
	"testing"
	"time"

	"github.com/portcullis/portcullis/application/audit"
	"github.com/portcullis/portcullis/application/mfa"
)

func typesOf(es []audit.Event) []audit.Type {
	var out []audit.Type
	for _, e := range es {
		out = append(out, e.Type)
	}
	return out
}

// TestTheFactorsChangesAreRecorded: turning the factor on, using a backup
// code, replacing the codes and turning it off (with the proof it took)
// are recorded; refused steps are not (the pipeline records a refused
// sign-in); no event holds a secret or a code.
func TestTheFactorsChangesAreRecorded(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	e := f.enrol(t)
	if err := f.Service.Verify(ctx, f.user, "000000", mfa.Client{}); err == nil {
		t.Fatal("a wrong code passed")
	}
	if err := f.Service.Verify(ctx, f.user, e.BackupCodes[0], mfa.Client{}); err != nil {
		t.Fatal(err)
	}
	totp := f.code(t, e.Secret, 0)
	codes, err := f.Service.RegenerateBackupCodes(ctx, f.user, totp)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Service.Disable(ctx, f.user, mfa.Proof{Code: codes[0]}); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(90 * time.Second) // past the step the regeneration claimed
	f.enrol(t)
	if err := f.Service.Disable(ctx, f.user, mfa.Proof{Password: "the password"}); err != nil {
		t.Fatal(err)
	}
	got := f.Audit.Events()
	want := []audit.Type{audit.MFAEnabled, audit.MFABackupCodeUsed, audit.MFABackupCodesRegenerated, audit.MFABackupCodeUsed, audit.MFADisabled,
		audit.MFAEnabled, audit.MFADisabled}
	if !slices.Equal(typesOf(got), want) {
		t.Fatalf("recorded %v, want %v", typesOf(got), want)
	}
	for _, ev := range got {
		if ev.TargetID != f.user.ID {
			t.Fatalf("event %+v is not about the user", ev)
		}
	}
	if got[0].Method != "totp" || got[0].ActorID != f.user.ID || got[1].Method != "backup_code" || got[4].Method != "backup_code" || got[6].Method != "password" {
		t.Fatalf("methods: %+v", got)
	}
	secrets := append([]string{e.Secret, totp, "the password"}, append(e.BackupCodes, codes...)...)
	if held := f.Audit.Holding(secrets...); len(held) > 0 {
		t.Fatalf("events hold a secret: %+v", held)
	}
}
