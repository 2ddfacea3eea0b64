package captchatest

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portcullis/portcullis/application/captcha"
	"github.com/portcullis/portcullis/application/platform/platformtest"
)

// RunFailuresContract checks the behaviour every captcha.Failures must
// have. newFailures returns counts whose keys no other test uses; it runs
// on the wall clock (two cases wait for a window of about two seconds).
func RunFailuresContract(t *testing.T, newFailures func(t *testing.T) captcha.Failures) {
	t.Helper()
	ctx := context.Background()
	add := func(t *testing.T, f captcha.Failures, key string, window time.Duration) {
		t.Helper()
		if err := f.Add(ctx, key, window); err != nil {
			t.Fatalf("add %s: %v", key, err)
		}
	}
	count := func(t *testing.T, f captcha.Failures, key string) int {
		t.Helper()
		n, err := f.Count(ctx, key)
		if err != nil {
			t.Fatalf("count %s: %v", key, err)
		}
		return n
	}

	t.Run("counts each failure; keys are independent; reset forgets", func(t *testing.T) {
		t.Parallel()
		f := newFailures(t)
		if n := count(t, f, "never"); n != 0 {
			t.Fatalf("a key never added counts %d", n)
		}
		for range 3 {
			add(t, f, "a", time.Hour)
		}
		add(t, f, "b", time.Hour)
		if a, b := count(t, f, "a"), count(t, f, "b"); a != 3 || b != 1 {
			t.Fatalf("a %d, b %d; want 3 and 1", a, b)
		}
		if err := f.Reset(ctx, "a"); err != nil {
			t.Fatal(err)
		}
		if a, b := count(t, f, "a"), count(t, f, "b"); a != 0 || b != 1 {
			t.Fatalf("after reset of a: a %d, b %d; want 0 and 1", a, b)
		}
		if err := f.Reset(ctx, "never"); err != nil {
			t.Fatalf("reset of a key never added: %v", err)
		}
	})

	t.Run("concurrent failures are all counted", func(t *testing.T) {
		t.Parallel()
		f := newFailures(t)
		var failed atomic.Int64
		platformtest.Race(platformtest.Racers, func(int) {
			if err := f.Add(ctx, "k", time.Hour); err != nil {
				failed.Add(1)
			}
		})
		if n := count(t, f, "k"); failed.Load() != 0 || n != platformtest.Racers {
			t.Fatalf("%d concurrent adds (%d failed) count %d", platformtest.Racers, failed.Load(), n)
		}
	})

	t.Run("each failure restarts the window; a window without one forgets them", func(t *testing.T) {
		t.Parallel()
		f := newFailures(t)
		const window = 2 * time.Second
		add(t, f, "k", window)
		time.Sleep(window * 6 / 10)
		add(t, f, "k", window)
		time.Sleep(window * 6 / 10)
		// 1.2 windows after the first failure, 0.6 after the last.
		if n := count(t, f, "k"); n != 2 {
			t.Fatalf("count %d a window after the first failure but not the last, want 2", n)
		}
		deadline := time.Now().Add(window + 3*time.Second)
		for count(t, f, "k") != 0 {
			if time.Now().After(deadline) {
				t.Fatalf("still counted %s after the last failure, window %s", window+3*time.Second, window)
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
}

// RunUsedTokensContract checks the behaviour every captcha.UsedTokens
// must have. newUsed returns a set whose digests no other test uses; it
// runs on the wall clock (one case waits for a short lifetime to pass).
func RunUsedTokensContract(t *testing.T, newUsed func(t *testing.T) captcha.UsedTokens) {
	t.Helper()
	ctx := context.Background()
	claim := func(t *testing.T, u captcha.UsedTokens, digest string, ttl time.Duration) bool {
		t.Helper()
		first, err := u.Claim(ctx, digest, ttl)
		if err != nil {
			t.Fatalf("claim %s: %v", digest, err)
		}
		return first
	}

	t.Run("a digest is claimed once; others are independent", func(t *testing.T) {
		t.Parallel()
		u := newUsed(t)
		if !claim(t, u, "d1", time.Minute) {
			t.Fatal("first claim refused")
		}
		if claim(t, u, "d1", time.Minute) {
			t.Fatal("second claim accepted")
		}
		if !claim(t, u, "d2", time.Minute) {
			t.Fatal("another digest refused")
		}
	})

	t.Run("of concurrent claims exactly one wins", func(t *testing.T) {
		t.Parallel()
		u := newUsed(t)
		var won, failed atomic.Int64
		platformtest.Race(platformtest.Racers, func(int) {
			first, err := u.Claim(ctx, "race", time.Minute)
			switch {
			case err != nil:
				failed.Add(1)
			case first:
				won.Add(1)
			}
		})
		if won.Load() != 1 || failed.Load() != 0 {
			t.Fatalf("%d concurrent claims: %d won, %d failed; want exactly 1 and 0", platformtest.Racers, won.Load(), failed.Load())
		}
	})

	t.Run("after its lifetime a digest is forgotten", func(t *testing.T) {
		t.Parallel()
		u := newUsed(t)
		const ttl = 300 * time.Millisecond
		claim(t, u, "d", ttl)
		deadline := time.Now().Add(ttl + 3*time.Second)
		for !claim(t, u, "d", ttl) {
			if time.Now().After(deadline) {
				t.Fatalf("still used %s after a lifetime of %s", ttl+3*time.Second, ttl)
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
}
