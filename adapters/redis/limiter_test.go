package redis_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-redis/redis_rate/v10"

	"github.com/portcullis/portcullis/adapters/redis"
	"github.com/portcullis/portcullis/domain/tenant"
)

// client connects to the server under test and closes the client when the
// test ends.
func client(t *testing.T) redis.Client {
	t.Helper()
	c, err := redis.NewClient(server(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

var tenantSeq atomic.Int64

// freshTenant returns a tenant id no other test or earlier run uses, and
// deletes the tenant's keys when the test ends (they would otherwise stay in
// a shared REDIS_URL database until they expire).
func freshTenant(t *testing.T, c redis.Client) string {
	t.Helper()
	id := fmt.Sprintf("test-%d-%d", time.Now().UnixNano(), tenantSeq.Add(1))
	t.Cleanup(func() {
		ctx := context.Background()
		keys, err := c.Keys(ctx, redis.Key(id, "*")).Result()
		if err == nil && len(keys) > 0 {
			_ = c.Del(ctx, keys...).Err()
		}
	})
	return id
}

// eventually polls cond every 50ms until it holds or within has passed.
func eventually(t *testing.T, within time.Duration, cond func() bool) bool {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
	return true
}

func mustHit(t *testing.T, l *redis.Limiter, key string, lim tenant.Limit) (bool, time.Duration) {
	t.Helper()
	ok, retry, err := l.Hit(context.Background(), key, lim)
	if err != nil {
		t.Fatalf("hit %s: %v", key, err)
	}
	if ok && retry != 0 {
		t.Fatalf("hit %s: allowed with retryAfter %s", key, retry)
	}
	return ok, retry
}

func mustPeek(t *testing.T, l *redis.Limiter, key string, lim tenant.Limit) (bool, time.Duration) {
	t.Helper()
	ok, retry, err := l.Peek(context.Background(), key, lim)
	if err != nil {
		t.Fatalf("peek %s: %v", key, err)
	}
	if ok && retry != 0 {
		t.Fatalf("peek %s: allowed with retryAfter %s", key, retry)
	}
	return ok, retry
}

func TestLimiterRefusesAfterCount(t *testing.T) {
	t.Parallel()
	c := client(t)
	l := redis.NewLimiter(c, freshTenant(t, c))
	lim := tenant.Limit{Count: 3, Window: time.Minute}

	for i := range lim.Count {
		if ok, _ := mustPeek(t, l, "k", lim); !ok {
			t.Fatalf("peek before hit %d: refused", i+1)
		}
		if ok, _ := mustHit(t, l, "k", lim); !ok {
			t.Fatalf("hit %d of %d: refused", i+1, lim.Count)
		}
	}
	ok, retry := mustHit(t, l, "k", lim)
	if ok {
		t.Fatalf("hit %d: allowed", lim.Count+1)
	}
	if retry <= 0 || retry > lim.Window {
		t.Fatalf("hit retryAfter %s, want in (0, %s]", retry, lim.Window)
	}
	ok, peekRetry := mustPeek(t, l, "k", lim)
	if ok {
		t.Fatal("peek after the limit: allowed")
	}
	if peekRetry <= 0 || peekRetry > retry {
		t.Fatalf("peek retryAfter %s, want in (0, %s]", peekRetry, retry)
	}
	// A refused hit is not counted: refusals do not push the wait out.
	for range 5 {
		mustHit(t, l, "k", lim)
	}
	if _, again := mustHit(t, l, "k", lim); again > retry {
		t.Fatalf("retryAfter grew from %s to %s on refused hits", retry, again)
	}
}

func TestLimiterPeekDoesNotCount(t *testing.T) {
	t.Parallel()
	c := client(t)
	l := redis.NewLimiter(c, freshTenant(t, c))
	lim := tenant.Limit{Count: 2, Window: time.Minute}

	for range 10 {
		if ok, _ := mustPeek(t, l, "k", lim); !ok {
			t.Fatal("peek refused on an unused key")
		}
	}
	for i := range lim.Count {
		if ok, _ := mustHit(t, l, "k", lim); !ok {
			t.Fatalf("hit %d after peeks: refused", i+1)
		}
		for range 5 {
			mustPeek(t, l, "k", lim)
		}
	}
	if ok, _ := mustHit(t, l, "k", lim); ok {
		t.Fatal("hit beyond the limit allowed")
	}
}

// Peek relies on redis_rate's AllowN with n = 0 reporting the state without
// changing it. Check that directly: the stored value stays as it is, an
// unused key is not created, and the reported ResetAfter matches the use.
func TestRedisRateAllowZeroChangesNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := client(t)
	id := freshTenant(t, c)
	key := redis.Key(id, "probe")
	t.Cleanup(func() { _ = c.Del(context.Background(), "rate:"+key).Err() })
	rl := redis_rate.NewLimiter(c)
	lim := redis_rate.Limit{Rate: 4, Burst: 4, Period: time.Minute}

	res, err := rl.AllowN(ctx, key, lim, 0)
	if err != nil {
		t.Fatal(err)
	}
	if res.ResetAfter != 0 || res.Remaining != lim.Burst {
		t.Fatalf("unused key: %+v", res)
	}
	if n := c.Exists(ctx, "rate:"+key).Val(); n != 0 {
		t.Fatal("AllowN(0) created the key")
	}

	if _, err := rl.AllowN(ctx, key, lim, 3); err != nil {
		t.Fatal(err)
	}
	before := c.Get(ctx, "rate:"+key).Val()
	for range 5 {
		res, err = rl.AllowN(ctx, key, lim, 0)
		if err != nil {
			t.Fatal(err)
		}
	}
	if after := c.Get(ctx, "rate:"+key).Val(); after != before {
		t.Fatalf("stored value changed from %s to %s", before, after)
	}
	// 3 of 4 used: a bucket of 4 per minute is full again in about 45s, and
	// one more event fits.
	if res.Allowed != 0 || res.RetryAfter != -1 {
		t.Fatalf("AllowN(0) reports Allowed %d, RetryAfter %s; Peek assumes 0 and -1", res.Allowed, res.RetryAfter)
	}
	if res.ResetAfter < 40*time.Second || res.ResetAfter > 45*time.Second || res.Remaining != 1 {
		t.Fatalf("after 3 of 4: %+v", res)
	}
}

func TestLimiterKeysInTenantNamespace(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := client(t)
	id := freshTenant(t, c)
	l := redis.NewLimiter(c, id)
	mustHit(t, l, "login:alice", tenant.Limit{Count: 5, Window: time.Minute})
	if n := c.Exists(ctx, redis.Key(id, "rl", "login:alice")).Val(); n != 1 {
		t.Fatalf("no key %s", redis.Key(id, "rl", "login:alice"))
	}
	if keys := c.Keys(ctx, "rate:*"+id+"*").Val(); len(keys) != 0 {
		t.Fatalf("keys outside the namespace: %v", keys)
	}
}

func TestLimiterKeysAreIndependent(t *testing.T) {
	t.Parallel()
	c := client(t)
	a, b := freshTenant(t, c), freshTenant(t, c)
	la, lb := redis.NewLimiter(c, a), redis.NewLimiter(c, b)
	lim := tenant.Limit{Count: 2, Window: time.Minute}

	for range lim.Count {
		mustHit(t, la, "k1", lim)
	}
	if ok, _ := mustHit(t, la, "k1", lim); ok {
		t.Fatal("a/k1 not exhausted")
	}
	cases := []struct {
		name string
		l    *redis.Limiter
		key  string
	}{
		{"same tenant, other key", la, "k2"},
		{"other tenant, same key", lb, "k1"},
	}
	for _, tc := range cases {
		if ok, _ := mustPeek(t, tc.l, tc.key, lim); !ok {
			t.Errorf("%s: peek refused", tc.name)
		}
		if ok, _ := mustHit(t, tc.l, tc.key, lim); !ok {
			t.Errorf("%s: hit refused", tc.name)
		}
	}
}

func TestLimiterReset(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := client(t)
	l := redis.NewLimiter(c, freshTenant(t, c))
	lim := tenant.Limit{Count: 2, Window: time.Hour}

	for range lim.Count {
		mustHit(t, l, "k", lim)
	}
	if ok, _ := mustPeek(t, l, "k", lim); ok {
		t.Fatal("not exhausted")
	}
	if err := l.Reset(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	for i := range lim.Count {
		if ok, _ := mustHit(t, l, "k", lim); !ok {
			t.Fatalf("hit %d after reset: refused", i+1)
		}
	}
	if err := l.Reset(ctx, "never-used"); err != nil {
		t.Fatalf("reset of an unused key: %v", err)
	}
}

func TestLimiterAllowsAgainAfterWindow(t *testing.T) {
	t.Parallel()
	c := client(t)
	l := redis.NewLimiter(c, freshTenant(t, c))
	lim := tenant.Limit{Count: 2, Window: time.Second}

	for range lim.Count {
		mustHit(t, l, "k", lim)
	}
	ok, retry := mustHit(t, l, "k", lim)
	if ok || retry <= 0 || retry > lim.Window {
		t.Fatalf("hit beyond the limit: allowed %v, retryAfter %s", ok, retry)
	}
	if !eventually(t, 5*time.Second, func() bool { ok, _ := mustPeek(t, l, "k", lim); return ok }) {
		t.Fatal("still refused 5s after a 1s window")
	}
	if ok, _ := mustHit(t, l, "k", lim); !ok {
		t.Fatal("peek allowed but hit refused")
	}
}

// However many instances hit one key at once, exactly Count get through:
// the check and the update are one script on the server.
func TestLimiterConcurrentHitsExactCount(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := client(t)
	l := redis.NewLimiter(c, freshTenant(t, c))
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
}

func TestLimiterRejectsInvalidLimit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := client(t)
	l := redis.NewLimiter(c, freshTenant(t, c))
	for _, lim := range []tenant.Limit{{Count: 0, Window: time.Minute}, {Count: 5, Window: 0}, {Count: -1, Window: -time.Second}} {
		if _, _, err := l.Hit(ctx, "k", lim); err == nil || !strings.Contains(err.Error(), "invalid limit") {
			t.Errorf("hit with %+v: err %v", lim, err)
		}
		if _, _, err := l.Peek(ctx, "k", lim); err == nil {
			t.Errorf("peek with %+v: no error", lim)
		}
	}
}

func TestLimiterRefundGivesOneBackAndNeverMore(t *testing.T) {
	t.Parallel()
	c := client(t)
	l := redis.NewLimiter(c, freshTenant(t, c))
	lim := tenant.Limit{Count: 3, Window: time.Hour}
	ctx := context.Background()
	// Refunds on an untouched key must not create credit beyond Count.
	for range 5 {
		if err := l.Refund(ctx, "k", lim); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 3 {
		if ok, _ := mustHit(t, l, "k", lim); !ok {
			t.Fatalf("hit %d refused", i+1)
		}
	}
	if ok, _ := mustHit(t, l, "k", lim); ok {
		t.Fatal("a 4th hit of 3 allowed: refunds made extra credit")
	}
	if err := l.Refund(ctx, "k", lim); err != nil {
		t.Fatal(err)
	}
	if ok, _ := mustHit(t, l, "k", lim); !ok {
		t.Fatal("after a refund one more hit must be allowed")
	}
	if ok, _ := mustHit(t, l, "k", lim); ok {
		t.Fatal("a refund gives back one hit, not more")
	}
}
