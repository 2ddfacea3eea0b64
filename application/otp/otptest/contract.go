package otptest

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portcullis/portcullis/application/otp"
	"github.com/portcullis/portcullis/application/platform/platformtest"
)

// RunStoreContract checks the behaviour every otp.Store must have.
// newStore returns a store and a tenant id no other test uses; the store
// runs on the wall clock (the expiry and cooldown cases wait a second or
// two).
func RunStoreContract(t *testing.T, newStore func(t *testing.T) (otp.Store, string)) {
	t.Helper()
	ctx := context.Background()
	challenge := func(key, digest string, max int, ttl time.Duration) otp.Challenge {
		return otp.Challenge{Key: key, Digest: digest, Subject: "subject-of-" + key, MaxAttempts: max, TTL: ttl}
	}
	issue := func(t *testing.T, s otp.Store, tn string, c otp.Challenge, cooldown time.Duration, day string, limit int) (time.Duration, bool) {
		t.Helper()
		left, capped, err := s.Issue(ctx, tn, c, cooldown, day, limit)
		if err != nil {
			t.Fatalf("issue %s: %v", c.Key, err)
		}
		return left, capped
	}
	consume := func(t *testing.T, s otp.Store, tn, key, digest string) (otp.Verdict, string) {
		t.Helper()
		v, subject, err := s.Consume(ctx, tn, key, digest)
		if err != nil {
			t.Fatalf("consume %s: %v", key, err)
		}
		return v, subject
	}

	t.Run("the right digest consumes the challenge once and returns its subject", func(t *testing.T) {
		t.Parallel()
		s, tn := newStore(t)
		issue(t, s, tn, challenge("k", "d1", 5, time.Minute), 0, "day", 10)
		if v, subject := consume(t, s, tn, "k", "d1"); v != otp.Consumed || subject != "subject-of-k" {
			t.Fatalf("first consume = %v %q", v, subject)
		}
		if v, _ := consume(t, s, tn, "k", "d1"); v != otp.Missing {
			t.Fatalf("a second consume = %v, want Missing", v)
		}
		if v, _ := consume(t, s, tn, "never", "d1"); v != otp.Missing {
			t.Fatalf("an unknown key = %v, want Missing", v)
		}
	})

	t.Run("peek reports a live matching challenge and changes nothing", func(t *testing.T) {
		t.Parallel()
		s, tn := newStore(t)
		issue(t, s, tn, challenge("k", "d1", 2, time.Minute), 0, "day", 10)
		peek := func(tenant, key, digest string) (string, bool) {
			t.Helper()
			subject, live, err := s.Peek(ctx, tenant, key, digest)
			if err != nil {
				t.Fatalf("peek %s: %v", key, err)
			}
			return subject, live
		}
		for range 3 { // peeking counts nothing: the limit is 2
			if subject, live := peek(tn, "k", "d1"); !live || subject != "subject-of-k" {
				t.Fatalf("peek = %q %v, want the subject", subject, live)
			}
		}
		for _, c := range []struct{ tenant, key, digest string }{{tn, "k", "d2"}, {tn, "other", "d1"}, {tn + "-other", "k", "d1"}} {
			if subject, live := peek(c.tenant, c.key, c.digest); live || subject != "" {
				t.Fatalf("peek %+v = %q %v, want nothing", c, subject, live)
			}
		}
		if v, _ := consume(t, s, tn, "k", "d1"); v != otp.Consumed {
			t.Fatalf("consume after peeks = %v, want Consumed", v)
		}
		if _, live := peek(tn, "k", "d1"); live {
			t.Fatal("a consumed challenge peeks live")
		}
		issue(t, s, tn, challenge("dead", "d1", 1, time.Minute), 0, "day", 10)
		if v, _ := consume(t, s, tn, "dead", "wrong"); v != otp.Wrong {
			t.Fatalf("wrong = %v", v)
		}
		if _, live := peek(tn, "dead", "d1"); live {
			t.Fatal("a dead challenge peeks live")
		}
		issue(t, s, tn, challenge("short", "d1", 5, time.Second), 0, "day", 10)
		time.Sleep(1100 * time.Millisecond)
		if _, live := peek(tn, "short", "d1"); live {
			t.Fatal("an expired challenge peeks live")
		}
	})

	t.Run("another tenant's challenge of the same key is not there", func(t *testing.T) {
		t.Parallel()
		s, tn := newStore(t)
		issue(t, s, tn, challenge("k", "d1", 5, time.Minute), 0, "day", 10)
		if v, _ := consume(t, s, tn+"-other", "k", "d1"); v != otp.Missing {
			t.Fatalf("another tenant consumed it: %v", v)
		}
		if v, _ := consume(t, s, tn, "k", "d1"); v != otp.Consumed {
			t.Fatalf("the tenant's own consume after the other tenant's try = %v", v)
		}
	})

	t.Run("wrong digests are counted; at the limit the challenge is dead, also to the right one", func(t *testing.T) {
		t.Parallel()
		s, tn := newStore(t)
		issue(t, s, tn, challenge("k", "right", 3, time.Minute), 0, "day", 10)
		for i := range 3 {
			if v, _ := consume(t, s, tn, "k", fmt.Sprintf("wrong-%d", i)); v != otp.Wrong {
				t.Fatalf("wrong %d = %v", i+1, v)
			}
		}
		if v, _ := consume(t, s, tn, "k", "right"); v != otp.Dead {
			t.Fatalf("the right digest after 3 wrong ones = %v, want Dead", v)
		}
	})

	t.Run("50 right submissions together: exactly one is consumed", func(t *testing.T) {
		t.Parallel()
		s, tn := newStore(t)
		issue(t, s, tn, challenge("k", "right", 5, time.Minute), 0, "day", 10)
		var consumed, missing, failed atomic.Int64
		platformtest.Race(50, func(int) {
			v, _, err := s.Consume(ctx, tn, "k", "right")
			switch {
			case err != nil:
				failed.Add(1)
			case v == otp.Consumed:
				consumed.Add(1)
			case v == otp.Missing:
				missing.Add(1)
			}
		})
		if consumed.Load() != 1 || missing.Load() != 49 || failed.Load() != 0 {
			t.Fatalf("consumed %d, missing %d, failed %d; want 1, 49, 0", consumed.Load(), missing.Load(), failed.Load())
		}
	})

	t.Run("50 wrong submissions together: every one counted, the challenge dead after the limit", func(t *testing.T) {
		t.Parallel()
		s, tn := newStore(t)
		issue(t, s, tn, challenge("k", "right", 5, time.Minute), 0, "day", 10)
		var wrong, dead, other atomic.Int64
		platformtest.Race(50, func(i int) {
			v, _, err := s.Consume(ctx, tn, "k", fmt.Sprintf("guess-%d", i))
			switch {
			case err != nil:
				other.Add(1)
			case v == otp.Wrong:
				wrong.Add(1)
			case v == otp.Dead:
				dead.Add(1)
			default:
				other.Add(1)
			}
		})
		if wrong.Load() != 5 || dead.Load() != 45 || other.Load() != 0 {
			t.Fatalf("wrong %d, dead %d, other %d; want 5 counted wrong and 45 refused as dead", wrong.Load(), dead.Load(), other.Load())
		}
		if v, _ := consume(t, s, tn, "k", "right"); v != otp.Dead {
			t.Fatalf("the right digest after the guesses = %v, want Dead", v)
		}
	})

	t.Run("a challenge expires with its ttl", func(t *testing.T) {
		t.Parallel()
		s, tn := newStore(t)
		issue(t, s, tn, challenge("k", "d", 5, time.Second), 0, "day", 10)
		time.Sleep(1500 * time.Millisecond)
		if v, _ := consume(t, s, tn, "k", "d"); v != otp.Missing {
			t.Fatalf("after its ttl = %v, want Missing", v)
		}
	})

	t.Run("within the cooldown nothing is stored; after it a new challenge replaces the old", func(t *testing.T) {
		t.Parallel()
		s, tn := newStore(t)
		issue(t, s, tn, challenge("k", "first", 5, time.Minute), time.Second, "day", 10)
		left, capped := issue(t, s, tn, challenge("k", "second", 5, time.Minute), time.Second, "day", 10)
		if left <= 0 || left > time.Second || capped {
			t.Fatalf("issue within the cooldown: left %s, capped %v", left, capped)
		}
		time.Sleep(1100 * time.Millisecond)
		if left, _ := issue(t, s, tn, challenge("k", "third", 5, time.Minute), time.Second, "day", 10); left != 0 {
			t.Fatalf("issue after the cooldown: left %s", left)
		}
		if v, _ := consume(t, s, tn, "k", "first"); v != otp.Wrong {
			t.Fatalf("the replaced secret = %v, want Wrong", v)
		}
		if v, _ := consume(t, s, tn, "k", "third"); v != otp.Consumed {
			t.Fatalf("the new secret = %v, want Consumed", v)
		}
	})

	t.Run("concurrent issues for one key within the cooldown: exactly one is stored", func(t *testing.T) {
		t.Parallel()
		s, tn := newStore(t)
		var stored atomic.Int64
		platformtest.Race(20, func(i int) {
			left, capped, err := s.Issue(ctx, tn, challenge("k", fmt.Sprintf("d%d", i), 5, time.Minute), time.Minute, "day", 100)
			if err == nil && left == 0 && !capped {
				stored.Add(1)
			}
		})
		if stored.Load() != 1 {
			t.Fatalf("%d of 20 concurrent issues were stored, want 1", stored.Load())
		}
	})

	t.Run("the daily cap counts exactly the stored issues of a destination", func(t *testing.T) {
		t.Parallel()
		s, tn := newStore(t)
		var stored, capped atomic.Int64
		platformtest.Race(20, func(i int) {
			left, c, err := s.Issue(ctx, tn, challenge(fmt.Sprintf("k%d", i), "d", 5, time.Minute), time.Minute, "dest", 10)
			switch {
			case err != nil || left > 0:
			case c:
				capped.Add(1)
			default:
				stored.Add(1)
			}
		})
		if stored.Load() != 10 || capped.Load() != 10 {
			t.Fatalf("stored %d, capped %d of 20; want 10 and 10", stored.Load(), capped.Load())
		}
		if _, c := issue(t, s, tn, challenge("other-dest", "d", 5, time.Minute), 0, "dest-2", 10); c {
			t.Fatal("another destination is capped too")
		}
		// A refused issue stores nothing.
		if v, _ := consume(t, s, tn, "k-never", "d"); v != otp.Missing {
			t.Fatalf("a capped issue left a challenge: %v", v)
		}
	})

	t.Run("a withdrawn issue leaves nothing: no challenge, no cooldown, its daily secret back", func(t *testing.T) {
		t.Parallel()
		s, tn := newStore(t)
		issue(t, s, tn, challenge("k", "d1", 5, time.Minute), time.Minute, "day", 1)
		if err := s.Withdraw(ctx, tn, "k", "d1", "day"); err != nil {
			t.Fatal(err)
		}
		if v, _ := consume(t, s, tn, "k", "d1"); v != otp.Missing {
			t.Fatalf("the withdrawn challenge = %v, want Missing", v)
		}
		if left, capped := issue(t, s, tn, challenge("k", "d2", 5, time.Minute), time.Minute, "day", 1); left != 0 || capped {
			t.Fatalf("issue after the withdrawal: left %s, capped %v", left, capped)
		}
		// Withdrawing a secret that was replaced leaves the newer one.
		if err := s.Withdraw(ctx, tn, "k", "d1", "day"); err != nil {
			t.Fatal(err)
		}
		if v, _ := consume(t, s, tn, "k", "d2"); v != otp.Consumed {
			t.Fatalf("the newer challenge after withdrawing an older secret = %v", v)
		}
	})

}
