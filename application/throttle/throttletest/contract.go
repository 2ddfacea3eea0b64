package throttletest

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portcullis/portcullis/application/throttle"
	"github.com/portcullis/portcullis/domain/tenant"
)

// RunLimiterContract checks the behaviour every throttle.Limiter must have.
// newLimiter returns a limiter whose keys no other test uses; it runs on the
// wall clock (one case waits for a one-second window to pass).
func RunLimiterContract(t *testing.T, newLimiter func(t *testing.T) throttle.Limiter) {
	t.Helper()
	ctx := context.Background()
	hit := func(t *testing.T, l throttle.Limiter, key string, lim tenant.Limit) (bool, time.Duration) {
		t.Helper()
		ok, retry, err := l.Hit(ctx, key, lim)
		if err != nil {
			t.Fatalf("hit %s: %v", key, err)
		}
		if ok && retry != 0 {
			t.Fatalf("hit %s: allowed with retryAfter %s", key, retry)
		}
		return ok, retry
	}

	t.Run("refuses after Count with a retry-after within the window; refusals are not counted", func(t *testing.T) {
		t.Parallel()
		l := newLimiter(t)
		lim := tenant.Limit{Count: 3, Window: time.Minute}
		for i := range lim.Count {
			if ok, _ := hit(t, l, "k", lim); !ok {
				t.Fatalf("hit %d of %d: refused", i+1, lim.Count)
			}
		}
		ok, retry := hit(t, l, "k", lim)
		if ok {
			t.Fatalf("hit %d: allowed", lim.Count+1)
		}
		if retry <= 0 || retry > lim.Window {
			t.Fatalf("retryAfter %s, want in (0, %s]", retry, lim.Window)
		}
		for range 5 {
			hit(t, l, "k", lim)
		}
		if _, again := hit(t, l, "k", lim); again > retry {
			t.Fatalf("retryAfter grew from %s to %s on refused hits", retry, again)
		}
	})

	t.Run("keys are independent", func(t *testing.T) {
		t.Parallel()
		l := newLimiter(t)
		lim := tenant.Limit{Count: 2, Window: time.Minute}
		for range lim.Count {
			hit(t, l, "k1", lim)
		}
		if ok, _ := hit(t, l, "k1", lim); ok {
			t.Fatal("k1 not exhausted")
		}
		if ok, _ := hit(t, l, "k2", lim); !ok {
			t.Fatal("k2 refused after k1 was exhausted")
		}
	})

	t.Run("reset forgets every event", func(t *testing.T) {
		t.Parallel()
		l := newLimiter(t)
		lim := tenant.Limit{Count: 2, Window: time.Hour}
		for range lim.Count {
			hit(t, l, "k", lim)
		}
		if err := l.Reset(ctx, "k"); err != nil {
			t.Fatal(err)
		}
		for i := range lim.Count {
			if ok, _ := hit(t, l, "k", lim); !ok {
				t.Fatalf("hit %d after reset: refused", i+1)
			}
		}
		if err := l.Reset(ctx, "never-used"); err != nil {
			t.Fatalf("reset of an unused key: %v", err)
		}
	})

	t.Run("allows again once the window has passed", func(t *testing.T) {
		t.Parallel()
		l := newLimiter(t)
		lim := tenant.Limit{Count: 2, Window: time.Second}
		for range lim.Count {
			hit(t, l, "k", lim)
		}
		if ok, retry := hit(t, l, "k", lim); ok || retry <= 0 || retry > lim.Window {
			t.Fatalf("hit beyond the limit: allowed %v, retryAfter %s", ok, retry)
		}
		deadline := time.Now().Add(5 * time.Second)
		for {
			if ok, _ := hit(t, l, "k", lim); ok {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("still refused 5s after a 1s window")
			}
			time.Sleep(50 * time.Millisecond)
		}
	})

	t.Run("concurrent hits: exactly Count are allowed", func(t *testing.T) {
		t.Parallel()
		l := newLimiter(t)
		lim := tenant.Limit{Count: 10, Window: time.Hour}
		const n = 50
		var allowed, failed atomic.Int64
		var wg sync.WaitGroup
		start := make(chan struct{})
		for range n {
			wg.Go(func() {
				<-start
				ok, _, err := l.Hit(ctx, "k", lim)
				switch {
				case err != nil:
					failed.Add(1)
				case ok:
					allowed.Add(1)
				}
			})
		}
		close(start)
		wg.Wait()
		if failed.Load() != 0 {
			t.Fatalf("%d hits failed", failed.Load())
		}
		if got := allowed.Load(); got != int64(lim.Count) {
			t.Fatalf("%d of %d concurrent hits allowed, want %d", got, n, lim.Count)
		}
	})

	t.Run("an invalid limit is an error, not allow-all or deny-all", func(t *testing.T) {
		t.Parallel()
		l := newLimiter(t)
		for _, lim := range []tenant.Limit{{Count: 0, Window: time.Minute}, {Count: 5, Window: 0}, {Count: -1, Window: -time.Second}} {
			if _, _, err := l.Hit(ctx, "k", lim); err == nil || !strings.Contains(err.Error(), "invalid limit") {
				t.Errorf("hit with %+v: err %v", lim, err)
			}
			if err := l.Refund(ctx, "k", lim); err == nil {
				t.Errorf("refund with %+v: no error", lim)
			}
		}
	})

	t.Run("refund gives one back and never more than the bucket holds", func(t *testing.T) {
		t.Parallel()
		l := newLimiter(t)
		lim := tenant.Limit{Count: 3, Window: time.Hour}
		for range 5 {
			if err := l.Refund(ctx, "k", lim); err != nil {
				t.Fatal(err)
			}
		}
		for i := range 3 {
			if ok, _ := hit(t, l, "k", lim); !ok {
				t.Fatalf("hit %d refused", i+1)
			}
		}
		if ok, _ := hit(t, l, "k", lim); ok {
			t.Fatal("a 4th hit of 3 allowed: refunds made extra credit")
		}
		if err := l.Refund(ctx, "k", lim); err != nil {
			t.Fatal(err)
		}
		if ok, _ := hit(t, l, "k", lim); !ok {
			t.Fatal("after a refund one more hit must be allowed")
		}
		if ok, _ := hit(t, l, "k", lim); ok {
			t.Fatal("a refund gives back one hit, not more")
		}
	})
}
