package redis_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/portcullis/portcullis/adapters/redis"
	"github.com/portcullis/portcullis/application/throttle"
	"github.com/portcullis/portcullis/application/throttle/throttletest"
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
	t.Cleanup(func() { deleteKeys(c, redis.Key(id, "*")) })
	return id
}

// keysOf lists the keys matching pattern, on every master of a Cluster.
func keysOf(c redis.Client, pattern string) []string {
	ctx := context.Background()
	if cc, ok := c.(*goredis.ClusterClient); ok {
		var mu sync.Mutex
		var all []string
		_ = cc.ForEachMaster(ctx, func(ctx context.Context, node *goredis.Client) error {
			keys, err := node.Keys(ctx, pattern).Result()
			mu.Lock()
			all = append(all, keys...)
			mu.Unlock()
			return err
		})
		return all
	}
	keys, _ := c.Keys(ctx, pattern).Result()
	return keys
}

// deleteKeys deletes the keys matching pattern and the keys named, one at
// a time (on a Cluster they lie in many slots).
func deleteKeys(c redis.Client, pattern string, more ...string) {
	ctx := context.Background()
	for _, k := range append(keysOf(c, pattern), more...) {
		_ = c.Del(ctx, k).Err()
	}
}

// TestLimiterContract runs the Limiter contract suite on the Redis limiter:
// on miniredis in make test, on a real Redis where REDIS_URL is set.
func TestLimiterContract(t *testing.T) {
	c := client(t)
	throttletest.RunLimiterContract(t, func(t *testing.T) throttle.Limiter { return redis.NewLimiter(c, freshTenant(t, c)) })
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
	if keys := keysOf(c, "rate:*"+id+"*"); len(keys) != 0 {
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
		if ok, _ := mustHit(t, tc.l, tc.key, lim); !ok {
			t.Errorf("%s: hit refused", tc.name)
		}
	}
}
