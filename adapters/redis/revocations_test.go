package redis_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/portcullis/portcullis/adapters/redis"
)

func mustRevoked(t *testing.T, r *redis.Revocations, tenantID, sessionID string) bool {
	t.Helper()
	ok, err := r.Revoked(context.Background(), tenantID, sessionID)
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

func TestRevocationsRevokedIsSeen(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := client(t)
	id := freshTenant(t, c)
	r, stop := redis.NewRevocations(c)
	t.Cleanup(stop)

	if mustRevoked(t, r, id, "s1") {
		t.Fatal("revoked before Revoke")
	}
	if err := r.Revoke(ctx, id, "s1", time.Minute); err != nil {
		t.Fatal(err)
	}
	if !mustRevoked(t, r, id, "s1") {
		t.Fatal("revocation not seen")
	}
	if mustRevoked(t, r, id, "s2") {
		t.Fatal("another session is revoked too")
	}
	if n := c.Exists(ctx, redis.Key(id, "revoked", "s1")).Val(); n != 1 {
		t.Fatal("not stored under Key(tenant, \"revoked\", session)")
	}
}

func TestRevocationsAreTenantScoped(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := client(t)
	a, b := freshTenant(t, c), freshTenant(t, c)
	r, stop := redis.NewRevocations(c)
	t.Cleanup(stop)

	if err := r.Revoke(ctx, a, "same-id", time.Minute); err != nil {
		t.Fatal(err)
	}
	if mustRevoked(t, r, b, "same-id") {
		t.Fatal("another tenant's session with the same id is revoked")
	}
}

func TestRevocationExpiresAfterTTL(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := client(t)
	id := freshTenant(t, c)
	r, stop := redis.NewRevocations(c)
	t.Cleanup(stop)

	// 100ms is raised to the 1s minimum.
	if err := r.Revoke(ctx, id, "s", 100*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if ttl := c.PTTL(ctx, redis.Key(id, "revoked", "s")).Val(); ttl < 900*time.Millisecond || ttl > time.Second {
		t.Fatalf("TTL %s, want the 1s minimum", ttl)
	}
	if !mustRevoked(t, r, id, "s") {
		t.Fatal("revocation not seen")
	}
	if !eventually(t, 5*time.Second, func() bool { return !mustRevoked(t, r, id, "s") }) {
		t.Fatal("still revoked 5s after a 1s TTL")
	}
}

// Revoking a session again keeps the longer of the two lifetimes: the first
// revocation may cover access tokens that live longer than the second's TTL.
func TestRevokeAgainKeepsLongerTTL(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := client(t)
	id := freshTenant(t, c)
	r, stop := redis.NewRevocations(c)
	t.Cleanup(stop)
	ttl := func(s string) time.Duration { return c.PTTL(ctx, redis.Key(id, "revoked", s)).Val() }

	cases := []struct {
		name          string
		first, second time.Duration
	}{
		{"shorter second does not shorten", time.Hour, time.Second},
		{"longer second extends", time.Second, time.Hour},
	}
	for _, tc := range cases {
		if err := r.Revoke(ctx, id, tc.name, tc.first); err != nil {
			t.Fatal(err)
		}
		if err := r.Revoke(ctx, id, tc.name, tc.second); err != nil {
			t.Fatal(err)
		}
		if got := ttl(tc.name); got < 59*time.Minute {
			t.Errorf("%s: TTL %s, want about an hour", tc.name, got)
		}
	}
}

// TestRevocationChecksArePipelinedAndExact sends many checks at once: each
// must get its own answer, revoked or not.
func TestRevocationChecksArePipelinedAndExact(t *testing.T) {
	t.Parallel()
	c := client(t)
	r, stop := redis.NewRevocations(c)
	t.Cleanup(stop)
	ctx := context.Background()
	tenant := freshTenant(t, c)
	for i := 0; i < 200; i += 3 {
		if err := r.Revoke(ctx, tenant, fmt.Sprintf("s%d", i), time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range 200 {
		wg.Go(func() {
			<-start
			got, err := r.Revoked(ctx, tenant, fmt.Sprintf("s%d", i))
			if err != nil {
				t.Error(err)
			} else if want := i%3 == 0; got != want {
				t.Errorf("s%d: revoked=%v, want %v", i, got, want)
			}
		})
	}
	close(start)
	wg.Wait()
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := r.Revoked(cancelled, tenant, "s0"); err == nil {
		t.Fatal("a cancelled check must fail, not answer")
	}
}
