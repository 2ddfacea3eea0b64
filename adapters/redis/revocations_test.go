package redis_test

import (
	"context"
	"testing"
	"time"

	"github.com/portcullis/portcullis/adapters/redis"
	"github.com/portcullis/portcullis/application/session"
	"github.com/portcullis/portcullis/application/session/sessiontest"
)

// TestRevocationsContract runs the Revocations contract suite on the Redis
// set: on miniredis in make test, on a real Redis where REDIS_URL is set.
// Losing the set deletes the tenant's keys and the completeness marker,
// which is what a flush does to them.
func TestRevocationsContract(t *testing.T) {
	c := client(t)
	sessiontest.RunRevocationsContract(t, func(t *testing.T) (session.Revocations, string, func()) {
		r, stop := redis.NewRevocations(c)
		t.Cleanup(stop)
		id := freshTenant(t, c)
		lose := func() {
			deleteKeys(c, redis.Key(id, "*"), redis.Key("_", "{revocations}", "complete"), redis.Key("_", "{revocations}", "filling"))
		}
		return r, id, lose
	})
}

func TestRevocationsAreStoredUnderTheTenantKey(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := client(t)
	id := freshTenant(t, c)
	r, stop := redis.NewRevocations(c)
	t.Cleanup(stop)
	if err := r.Revoke(ctx, id, "s1", time.Minute); err != nil {
		t.Fatal(err)
	}
	if n := c.Exists(ctx, redis.Key(id, "{revocations}", "s1")).Val(); n != 1 {
		t.Fatal("not stored under Key(tenant, \"{revocations}\", session)")
	}
}
