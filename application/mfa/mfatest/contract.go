package mfatest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portcullis/portcullis/application/mfa"
	"github.com/portcullis/portcullis/application/platform/platformtest"
	"github.com/portcullis/portcullis/domain/errs"
)

// The suites' clock and concurrency, shared with the other contract suites.
const racers = platformtest.Racers

var (
	at   = platformtest.At
	race = platformtest.Race
)

func sampleTOTP(tenant, user, enrolment string) mfa.TOTP {
	return mfa.TOTP{TenantID: tenant, UserID: user, EnrolmentID: enrolment,
		// Not text: a sealed secret is arbitrary bytes, zeros included.
		Sealed:        []byte("\x00\xffsealed\x00" + tenant + "/" + user + "/" + enrolment),
		PendingBackup: []string{"backup-1-of-" + enrolment, "backup-2-of-" + enrolment, "backup-3-of-" + enrolment},
		CreatedAt:     at(0)}
}

func sameTOTP(a, b mfa.TOTP) bool {
	return a.TenantID == b.TenantID && a.UserID == b.UserID && a.EnrolmentID == b.EnrolmentID && slices.Equal(a.Sealed, b.Sealed) &&
		a.Confirmed == b.Confirmed && slices.Equal(a.PendingBackup, b.PendingBackup) &&
		a.CreatedAt.Equal(b.CreatedAt) && a.ConfirmedAt.Equal(b.ConfirmedAt)
}

// RunTOTPsContract checks the behaviour every mfa.TOTPs must have.
// newStore returns an empty store (or one in which the tenant ids the
// suite makes up are unused).
func RunTOTPsContract(t *testing.T, newStore func(t *testing.T) mfa.TOTPs) {
	t.Helper()
	ctx := context.Background()
	put := func(t *testing.T, s mfa.TOTPs, x mfa.TOTP) {
		t.Helper()
		if err := s.Put(ctx, x); err != nil {
			t.Fatalf("put %s/%s %s: %v", x.TenantID, x.UserID, x.EnrolmentID, err)
		}
	}
	confirm := func(t *testing.T, s mfa.TOTPs, x mfa.TOTP, when time.Time) mfa.TOTP {
		t.Helper()
		if err := s.Confirm(ctx, x.TenantID, x.UserID, x.EnrolmentID, when); err != nil {
			t.Fatalf("confirm %s/%s %s: %v", x.TenantID, x.UserID, x.EnrolmentID, err)
		}
		x.Confirmed, x.ConfirmedAt, x.PendingBackup = true, when, nil
		return x
	}
	expect := func(t *testing.T, s mfa.TOTPs, want mfa.TOTP) {
		t.Helper()
		if got, err := s.Get(ctx, want.TenantID, want.UserID); err != nil || !sameTOTP(got, want) {
			t.Fatalf("Get(%s, %s) = %+v, %v; want %+v", want.TenantID, want.UserID, got, err, want)
		}
	}
	absent := func(t *testing.T, s mfa.TOTPs, tenant, user string) {
		t.Helper()
		if got, err := s.Get(ctx, tenant, user); !errors.Is(err, errs.ErrNotFound) {
			t.Fatalf("Get(%s, %s) = %+v, %v; want ErrNotFound", tenant, user, got, err)
		}
	}
	useStep := func(t *testing.T, s mfa.TOTPs, tenant, user string, step int64) bool {
		t.Helper()
		ok, err := s.UseStep(ctx, tenant, user, step, at(time.Hour))
		if err != nil {
			t.Fatalf("UseStep(%s, %s, %d): %v", tenant, user, step, err)
		}
		return ok
	}

	t.Run("a user without one is not found", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		absent(t, s, "m-alpha", "user-1")
	})

	t.Run("Put then Get round-trips every field, pending", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		want := sampleTOTP("m-beta", "user-1", "enrol-1")
		put(t, s, want)
		expect(t, s, want)

		bare := sampleTOTP("m-beta", "user-2", "enrol-2")
		bare.PendingBackup = nil
		put(t, s, bare)
		expect(t, s, bare)

		// Put stores a pending TOTP: only Confirm turns one on.
		claimed := sampleTOTP("m-beta", "user-3", "enrol-3")
		claimed.Confirmed, claimed.ConfirmedAt = true, at(time.Minute)
		put(t, s, claimed)
		claimed.Confirmed, claimed.ConfirmedAt = false, time.Time{}
		expect(t, s, claimed)
	})

	t.Run("Put replaces a pending one, whose enrolment then confirms nothing", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		first := sampleTOTP("m-gamma", "user-1", "enrol-1")
		put(t, s, first)
		second := sampleTOTP("m-gamma", "user-1", "enrol-2")
		second.CreatedAt = at(time.Minute)
		put(t, s, second)
		expect(t, s, second)
		if err := s.Confirm(ctx, "m-gamma", "user-1", "enrol-1", at(2*time.Minute)); !errors.Is(err, errs.ErrNotFound) {
			t.Fatalf("Confirm of the replaced enrolment: %v, want ErrNotFound", err)
		}
		expect(t, s, second)
	})

	t.Run("Put over a confirmed one conflicts and leaves it", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		first := sampleTOTP("m-delta", "user-1", "enrol-1")
		put(t, s, first)
		on := confirm(t, s, first, at(time.Minute))
		again := sampleTOTP("m-delta", "user-1", "enrol-2")
		if err := s.Put(ctx, again); !errors.Is(err, errs.ErrConflict) {
			t.Fatalf("Put over a confirmed TOTP: %v, want ErrConflict", err)
		}
		expect(t, s, on)
	})

	t.Run("Confirm with the current enrolment confirms; a stale or unknown one changes nothing", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		x := sampleTOTP("m-epsilon", "user-1", "enrol-1")
		put(t, s, x)
		for _, tc := range []struct{ tenant, user, enrolment string }{
			{"m-epsilon", "user-1", "enrol-0"}, // stale
			{"m-epsilon", "user-1", ""},
			{"m-epsilon", "user-2", "enrol-1"}, // another user
			{"m-zeta", "user-1", "enrol-1"},    // another tenant
		} {
			if err := s.Confirm(ctx, tc.tenant, tc.user, tc.enrolment, at(time.Minute)); !errors.Is(err, errs.ErrNotFound) {
				t.Errorf("Confirm(%s, %s, %q): %v, want ErrNotFound", tc.tenant, tc.user, tc.enrolment, err)
			}
		}
		expect(t, s, x)
		absent(t, s, "m-epsilon", "user-2")
		absent(t, s, "m-zeta", "user-1")
		// Confirmed, when, and the pending backup codes are no longer
		// pending: they became the user's.
		expect(t, s, confirm(t, s, x, at(time.Minute)))
	})

	t.Run("Delete removes a pending or a confirmed one; Delete of none is nil", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		pending, on := sampleTOTP("m-eta", "user-1", "enrol-1"), sampleTOTP("m-eta", "user-2", "enrol-2")
		put(t, s, pending)
		put(t, s, on)
		confirm(t, s, on, at(time.Minute))
		for _, user := range []string{"user-1", "user-2"} {
			if err := s.Delete(ctx, "m-eta", user); err != nil {
				t.Fatalf("Delete(%s): %v", user, err)
			}
			absent(t, s, "m-eta", user)
		}
		for _, tc := range []struct{ tenant, user string }{{"m-eta", "user-1"}, {"m-eta", "nobody"}, {"m-theta", "user-1"}} {
			if err := s.Delete(ctx, tc.tenant, tc.user); err != nil {
				t.Errorf("Delete(%s, %s) of none: %v, want nil", tc.tenant, tc.user, err)
			}
		}
		// After a Delete the user enrols afresh.
		again := sampleTOTP("m-eta", "user-2", "enrol-3")
		put(t, s, again)
		expect(t, s, again)
	})

	t.Run("one user id in two tenants is two users", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		a, b := sampleTOTP("m-iota", "user-1", "enrol-a"), sampleTOTP("m-kappa", "user-1", "enrol-b")
		put(t, s, a)
		absent(t, s, "m-kappa", "user-1")
		put(t, s, b)
		onA := confirm(t, s, a, at(time.Minute))
		expect(t, s, b) // still pending
		if err := s.Put(ctx, sampleTOTP("m-kappa", "user-1", "enrol-c")); err != nil {
			t.Fatalf("Put in the tenant whose user has no confirmed TOTP: %v", err)
		}
		if err := s.Delete(ctx, "m-kappa", "user-1"); err != nil {
			t.Fatal(err)
		}
		absent(t, s, "m-kappa", "user-1")
		expect(t, s, onA)
	})

	t.Run("UseStep claims a step once per user", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		if !useStep(t, s, "m-lambda", "user-1", 1000) {
			t.Fatal("the first use of a step must be claimed")
		}
		if useStep(t, s, "m-lambda", "user-1", 1000) {
			t.Fatal("a second use of a step must be refused")
		}
		for _, tc := range []struct {
			tenant, user string
			step         int64
		}{
			{"m-lambda", "user-1", 1001}, // another step
			{"m-lambda", "user-1", 999},
			{"m-lambda", "user-2", 1000}, // another user
			{"m-mu", "user-1", 1000},     // another tenant
		} {
			if !useStep(t, s, tc.tenant, tc.user, tc.step) {
				t.Errorf("UseStep(%s, %s, %d) was refused: it is another claim", tc.tenant, tc.user, tc.step)
			}
		}
		if useStep(t, s, "m-lambda", "user-1", 1000) || useStep(t, s, "m-mu", "user-1", 1000) {
			t.Fatal("a used step was claimed again")
		}
		// The claim is independent of the secret: a new enrolment does not
		// free the steps used.
		put(t, s, sampleTOTP("m-lambda", "user-1", "enrol-1"))
		if err := s.Delete(ctx, "m-lambda", "user-1"); err != nil {
			t.Fatal(err)
		}
		if useStep(t, s, "m-lambda", "user-1", 1001) {
			t.Fatal("a used step was claimed again after a Delete")
		}
	})

	t.Run("concurrent UseStep of one step: exactly one claims it", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		for round := range 3 {
			step := int64(2000 + round)
			var won, lost, failed atomic.Int64
			race(racers, func(int) {
				ok, err := s.UseStep(ctx, "m-nu", "user-1", step, at(time.Hour))
				switch {
				case err != nil:
					failed.Add(1)
					t.Errorf("UseStep: %v", err)
				case ok:
					won.Add(1)
				default:
					lost.Add(1)
				}
			})
			if won.Load() != 1 || lost.Load() != racers-1 || failed.Load() != 0 {
				t.Fatalf("round %d: %d claimed, %d refused, %d failed; want 1, %d, 0", round, won.Load(), lost.Load(), failed.Load(), racers-1)
			}
		}
	})
}

// hashes returns n backup-code hashes named after prefix.
func hashes(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s-%02d", prefix, i)
	}
	return out
}

// RunBackupCodesContract checks the behaviour every mfa.BackupCodes must
// have. newStore returns an empty store (or one in which the tenant ids
// the suite makes up are unused).
func RunBackupCodesContract(t *testing.T, newStore func(t *testing.T) mfa.BackupCodes) {
	t.Helper()
	ctx := context.Background()
	replace := func(t *testing.T, s mfa.BackupCodes, tenant, user string, hs []string) {
		t.Helper()
		if err := s.Replace(ctx, tenant, user, hs, at(0)); err != nil {
			t.Fatalf("Replace(%s, %s): %v", tenant, user, err)
		}
	}
	use := func(t *testing.T, s mfa.BackupCodes, tenant, user, hash string) bool {
		t.Helper()
		ok, err := s.Use(ctx, tenant, user, hash, at(time.Minute))
		if err != nil {
			t.Fatalf("Use(%s, %s, %s): %v", tenant, user, hash, err)
		}
		return ok
	}
	left := func(t *testing.T, s mfa.BackupCodes, tenant, user string, want int) {
		t.Helper()
		if n, err := s.Left(ctx, tenant, user); err != nil || n != want {
			t.Fatalf("Left(%s, %s) = %d, %v; want %d", tenant, user, n, err, want)
		}
	}

	t.Run("Replace then Left counts the codes; a user without codes has none", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		left(t, s, "b-alpha", "user-1", 0)
		replace(t, s, "b-alpha", "user-1", hashes("h", 10))
		left(t, s, "b-alpha", "user-1", 10)
		left(t, s, "b-alpha", "user-2", 0)
	})

	t.Run("a code is used once", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		hs := hashes("h", 4)
		replace(t, s, "b-beta", "user-1", hs)
		if !use(t, s, "b-beta", "user-1", hs[2]) {
			t.Fatal("the first use of a code must succeed")
		}
		left(t, s, "b-beta", "user-1", 3)
		if use(t, s, "b-beta", "user-1", hs[2]) {
			t.Fatal("a used code was accepted again")
		}
		left(t, s, "b-beta", "user-1", 3)
		for _, h := range []string{hs[0], hs[1], hs[3]} {
			if !use(t, s, "b-beta", "user-1", h) {
				t.Fatalf("code %s refused", h)
			}
		}
		left(t, s, "b-beta", "user-1", 0)
	})

	t.Run("an unknown code or another user's code is refused and changes nothing", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		mine, theirs := hashes("mine", 3), hashes("theirs", 3)
		replace(t, s, "b-gamma", "user-1", mine)
		replace(t, s, "b-gamma", "user-2", theirs)
		for _, tc := range []struct{ user, hash string }{
			{"user-1", "no-such-hash"},
			{"user-1", ""},
			{"user-1", theirs[0]},
			{"user-3", mine[0]}, // a user without codes
		} {
			if use(t, s, "b-gamma", tc.user, tc.hash) {
				t.Errorf("Use(%s, %q) succeeded", tc.user, tc.hash)
			}
		}
		left(t, s, "b-gamma", "user-1", 3)
		left(t, s, "b-gamma", "user-2", 3)
		if !use(t, s, "b-gamma", "user-2", theirs[0]) {
			t.Fatal("the owner's use after another user's try was refused")
		}
	})

	t.Run("Replace drops the old codes, used or not", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		old, fresh := hashes("old", 5), hashes("new", 4)
		replace(t, s, "b-delta", "user-1", old)
		if !use(t, s, "b-delta", "user-1", old[0]) {
			t.Fatal("use of an old code before the replace refused")
		}
		replace(t, s, "b-delta", "user-1", fresh)
		left(t, s, "b-delta", "user-1", 4)
		for _, h := range old {
			if use(t, s, "b-delta", "user-1", h) {
				t.Errorf("replaced code %s accepted", h)
			}
		}
		if !use(t, s, "b-delta", "user-1", fresh[3]) {
			t.Fatal("a new code refused")
		}
		left(t, s, "b-delta", "user-1", 3)
		// The codes given are the user's unused codes, whatever became of
		// the same hash before.
		replace(t, s, "b-delta", "user-1", []string{fresh[3], old[0], "newer"})
		left(t, s, "b-delta", "user-1", 3)
		for _, h := range []string{fresh[3], old[0], "newer"} {
			if !use(t, s, "b-delta", "user-1", h) {
				t.Errorf("code %s of the latest Replace refused", h)
			}
		}
		left(t, s, "b-delta", "user-1", 0)
	})

	t.Run("DeleteAll removes every code; DeleteAll of none is nil", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		hs := hashes("h", 5)
		replace(t, s, "b-epsilon", "user-1", hs)
		use(t, s, "b-epsilon", "user-1", hs[0])
		if err := s.DeleteAll(ctx, "b-epsilon", "user-1"); err != nil {
			t.Fatal(err)
		}
		left(t, s, "b-epsilon", "user-1", 0)
		for _, h := range hs {
			if use(t, s, "b-epsilon", "user-1", h) {
				t.Errorf("deleted code %s accepted", h)
			}
		}
		for _, user := range []string{"user-1", "nobody"} {
			if err := s.DeleteAll(ctx, "b-epsilon", user); err != nil {
				t.Errorf("DeleteAll(%s) of none: %v, want nil", user, err)
			}
		}
		replace(t, s, "b-epsilon", "user-1", hs[:2])
		left(t, s, "b-epsilon", "user-1", 2)
	})

	t.Run("one user id in two tenants is two users", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		hs := hashes("h", 3)
		replace(t, s, "b-zeta", "user-1", hs)
		if use(t, s, "b-eta", "user-1", hs[0]) {
			t.Fatal("a code was used from another tenant")
		}
		left(t, s, "b-eta", "user-1", 0)
		replace(t, s, "b-eta", "user-1", hs) // the same hashes in the other tenant
		if !use(t, s, "b-zeta", "user-1", hs[0]) {
			t.Fatal("use in the first tenant refused")
		}
		left(t, s, "b-zeta", "user-1", 2)
		left(t, s, "b-eta", "user-1", 3)
		if !use(t, s, "b-eta", "user-1", hs[0]) {
			t.Fatal("the same hash in the other tenant was used up by the first")
		}
		if err := s.DeleteAll(ctx, "b-eta", "user-1"); err != nil {
			t.Fatal(err)
		}
		left(t, s, "b-zeta", "user-1", 2)
		if !use(t, s, "b-zeta", "user-1", hs[1]) {
			t.Fatal("DeleteAll in one tenant removed the other's codes")
		}
	})

	t.Run("concurrent uses of one code: exactly one succeeds", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		hs := hashes("h", 3)
		replace(t, s, "b-theta", "user-1", hs)
		for round, h := range hs {
			var won, lost, failed atomic.Int64
			race(racers, func(int) {
				ok, err := s.Use(ctx, "b-theta", "user-1", h, at(time.Minute))
				switch {
				case err != nil:
					failed.Add(1)
					t.Errorf("Use: %v", err)
				case ok:
					won.Add(1)
				default:
					lost.Add(1)
				}
			})
			if won.Load() != 1 || lost.Load() != racers-1 || failed.Load() != 0 {
				t.Fatalf("round %d: %d used, %d refused, %d failed; want 1, %d, 0", round, won.Load(), lost.Load(), failed.Load(), racers-1)
			}
			left(t, s, "b-theta", "user-1", len(hs)-round-1)
		}
	})

	t.Run("concurrent uses of different codes all succeed", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		hs := hashes("h", racers+2)
		replace(t, s, "b-iota", "user-1", hs)
		var won, failed atomic.Int64
		race(racers, func(i int) {
			ok, err := s.Use(ctx, "b-iota", "user-1", hs[i], at(time.Minute))
			switch {
			case err != nil:
				failed.Add(1)
				t.Errorf("Use: %v", err)
			case ok:
				won.Add(1)
			}
		})
		if won.Load() != racers || failed.Load() != 0 {
			t.Fatalf("%d used, %d failed; want %d, 0", won.Load(), failed.Load(), racers)
		}
		left(t, s, "b-iota", "user-1", 2)
		for i, h := range hs {
			if got := use(t, s, "b-iota", "user-1", h); got != (i >= racers) {
				t.Errorf("Use of code %d after the race = %v", i, got)
			}
		}
		left(t, s, "b-iota", "user-1", 0)
	})
}
