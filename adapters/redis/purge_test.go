package redis_test

import (
	"context"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/portcullis/portcullis/adapters/redis"
)

// seedKeys writes n plain keys of tenant id and one of each kind the
// adapters write (a limiter counter, a hash-tagged OTP challenge and its
// cooldown, a revocation), and returns their names.
func seedKeys(t *testing.T, c redis.Client, r *redis.Revocations, id string, n int) []string {
	t.Helper()
	ctx := context.Background()
	var keys []string
	for i := range n {
		keys = append(keys, redis.Key(id, "kp", strconv.Itoa(i)))
	}
	keys = append(keys, redis.Key(id, "rl", "login:ip:203.0.113.9"), redis.Key(id, "{otp:sms:+15550100}"), redis.Key(id, "{otp:sms:+15550100}", "cd"))
	// Written one at a time: on a Cluster they lie in many slots.
	for _, k := range keys {
		if err := c.Set(ctx, k, "1", time.Hour).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.Revoke(ctx, id, "sess-"+id, time.Hour); err != nil {
		t.Fatal(err)
	}
	return append(keys, redis.Key(id, "{revocations}", "sess-"+id))
}

func existing(t *testing.T, c redis.Client, keys []string) []string {
	t.Helper()
	var out []string
	for _, k := range keys {
		n, err := c.Exists(context.Background(), k).Result()
		if err != nil {
			t.Fatal(err)
		}
		if n == 1 {
			out = append(out, k)
		}
	}
	return out
}

// TestPurgerDeletesTheTenantsKeysOnly: a purge deletes every key of the
// tenant — more than one SCAN batch of them, its revocations included —
// and none of another tenant's: not of one whose id begins with the
// purged one's ("acme2" for "acme"), nor of one whose id the purged one
// begins with, nor of one the purged id would match as a glob. On the
// embedded Redis in make test, a real one with REDIS_URL, a Cluster with
// make test-redis-cluster.
func TestPurgerDeletesTheTenantsKeysOnly(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := client(t)
	r, stop := redis.NewRevocations(c)
	t.Cleanup(stop)
	base := freshTenant(t, c) // test-<nanos>-<n>: nobody else's keys start so
	victim, longer, shorter := base+"-acme", base+"-acme2", base
	for _, id := range []string{victim, longer, base + "-acm"} {
		t.Cleanup(func() { deleteKeys(c, redis.Key(id, "*")) })
	}
	gone := seedKeys(t, c, r, victim, 2500)
	kept := slices.Concat(seedKeys(t, c, r, longer, 20), seedKeys(t, c, r, shorter, 20), seedKeys(t, c, r, base+"-acm", 20))

	if err := redis.NewPurger(c).PurgeTenant(ctx, victim); err != nil {
		t.Fatal(err)
	}
	if left := existing(t, c, gone); len(left) != 0 {
		t.Fatalf("%d of the purged tenant's %d keys are left, such as %v", len(left), len(gone), left[:min(3, len(left))])
	}
	if left := keysOf(c, redis.Key(victim, "*")); len(left) != 0 {
		t.Fatalf("keys of the purged tenant are left: %v", left[:min(3, len(left))])
	}
	if got := existing(t, c, kept); len(got) != len(kept) {
		t.Fatalf("the purge took other tenants' keys: %d of %d left", len(got), len(kept))
	}
	// Another tenant's revocation still answers.
	revoked, _, err := r.Revoked(ctx, longer, "sess-"+longer)
	if err != nil || !revoked {
		t.Fatalf("another tenant's revocation after the purge: %v, %v", revoked, err)
	}
	// Purging again, and purging a tenant without keys, is no error.
	for _, id := range []string{victim, base + "-nobody"} {
		if err := redis.NewPurger(c).PurgeTenant(ctx, id); err != nil {
			t.Fatalf("purge %s: %v", id, err)
		}
	}
	if err := redis.NewPurger(c).PurgeTenant(ctx, ""); err == nil {
		t.Fatal("a purge without a tenant id is accepted")
	}
}

// TestPurgerEscapesTheTenantID: a tenant id is matched as itself, not as
// a glob: purging "x*" or "x?" or "x[ab]" leaves "xa"'s keys.
func TestPurgerEscapesTheTenantID(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := client(t)
	r, stop := redis.NewRevocations(c)
	t.Cleanup(stop)
	base := freshTenant(t, c)
	other := base + "-xa"
	t.Cleanup(func() { deleteKeys(c, redis.Key(other, "*")) })
	kept := seedKeys(t, c, r, other, 5)
	for _, odd := range []string{"-x*", "-x?", "-x[ab]", `-x\`} {
		id := base + odd
		gone := seedKeys(t, c, r, id, 5)
		if err := redis.NewPurger(c).PurgeTenant(ctx, id); err != nil {
			t.Fatal(err)
		}
		if left := existing(t, c, gone); len(left) != 0 {
			t.Errorf("purge %q left its keys %v", id, left)
		}
		if got := existing(t, c, kept); len(got) != len(kept) {
			t.Fatalf("purge %q took %s's keys: %d of %d left", id, other, len(got), len(kept))
		}
	}
}

func TestTenantPattern(t *testing.T) {
	t.Parallel()
	for id, want := range map[string]string{
		"acme":     "pc:acme:*",
		"a-b-1":    "pc:a-b-1:*",
		"a*":       `pc:a\*:*`,
		"a?[b]\\c": `pc:a\?\[b\]\\c:*`,
	} {
		if got := redis.TenantPattern(id); got != want {
			t.Errorf("TenantPattern(%q) = %q, want %q", id, got, want)
		}
	}
}
