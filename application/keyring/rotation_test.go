package keyring_test

import (
	"context"
	"crypto/rand"
	"sync"
	"testing"
	"time"

	"github.com/portcullis/portcullis/application/keyring"
	"github.com/portcullis/portcullis/application/keyring/keyringtest"
	"github.com/portcullis/portcullis/application/platform/platformtest"
	"github.com/portcullis/portcullis/domain/signing"
)

// setClock moves c to t.
func setClock(c *platformtest.Clock, t time.Time) { c.Advance(t.Sub(c.Now())) }

func kids(keys []signing.Key) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = k.ID
	}
	return out
}

func mustCurrent(t *testing.T, r *keyring.Ring) signing.Key {
	t.Helper()
	k, err := r.Current(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func mustKeys(t *testing.T, r *keyring.Ring) []string {
	t.Helper()
	keys, err := r.Keys(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return kids(keys)
}

// A rotation publishes the new key at once, signs with it after
// PublishLead (on every instance: the other reads the store again after
// Refresh), and retires the old key once the tokens it signed have expired.
func TestRotationPublishesThenSignsThenRetires(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	clock := platformtest.NewClock(t0)
	store := keyringtest.NewMemoryStore()
	policy := keyring.Policy{TokenLifetime: 15 * time.Minute}
	a := keyring.New("shop", store, fakeSealer{7}, clock, rand.Reader, policy)
	b := keyring.New("shop", store, fakeSealer{7}, clock, rand.Reader, policy) // another instance
	k1 := mustCurrent(t, a)
	if got := mustCurrent(t, b); got.ID != k1.ID {
		t.Fatalf("the instances sign with %s and %s", k1.ID, got.ID)
	}

	k2, err := a.Rotate(ctx, keyring.PublishLead)
	if err != nil {
		t.Fatal(err)
	}
	if k2.Generation != 2 || !k2.ActivatesAt.Equal(t0.Add(keyring.PublishLead)) {
		t.Fatalf("rotated to generation %d activating %s", k2.Generation, k2.ActivatesAt)
	}
	if got := mustKeys(t, a); len(got) != 2 || got[1] != k2.ID {
		t.Fatalf("JWKS right after the rotation: %v, want both keys", got)
	}
	if got := mustCurrent(t, a); got.ID != k1.ID {
		t.Fatal("the new key signs before its activation")
	}
	// The other instance learns of it within Refresh, before it signs.
	setClock(clock, t0.Add(keyring.Refresh))
	if got := mustKeys(t, b); len(got) != 2 {
		t.Fatalf("the other instance publishes %v after Refresh, want both keys", got)
	}

	setClock(clock, t0.Add(keyring.PublishLead))
	for name, r := range map[string]*keyring.Ring{"a": a, "b": b} {
		if got := mustCurrent(t, r); got.ID != k2.ID {
			t.Fatalf("instance %s signs with %s at the activation, want the new key", name, got.ID)
		}
		if _, ok, _ := r.Lookup(ctx, k1.ID); !ok {
			t.Fatalf("instance %s no longer accepts the old key's tokens", name)
		}
	}

	retire := t0.Add(keyring.PublishLead + policy.TokenLifetime + keyring.Refresh + time.Minute)
	setClock(clock, retire.Add(-time.Second))
	if got := mustKeys(t, a); len(got) != 2 {
		t.Fatalf("the old key left before its tokens expired: %v", got)
	}
	setClock(clock, retire)
	if got := mustKeys(t, a); len(got) != 1 || got[0] != k2.ID {
		t.Fatalf("JWKS %v once the old key's tokens have expired, want the new key alone", got)
	}
	if _, ok, _ := a.Lookup(ctx, k1.ID); ok {
		t.Fatal("a retired key is still accepted")
	}
}

// Instances whose key's period ends at once agree on one successor.
func TestRacingRotationsStoreOneKey(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	clock := platformtest.NewClock(t0)
	store := keyringtest.NewMemoryStore()
	policy := keyring.Policy{TokenLifetime: time.Minute, Rotation: time.Hour}
	if _, err := keyring.New("shop", store, fakeSealer{7}, clock, rand.Reader, policy).Current(ctx); err != nil {
		t.Fatal(err)
	}
	setClock(clock, t0.Add(time.Hour))
	const n = 10
	got := make([]signing.Key, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := keyring.New("shop", store, fakeSealer{7}, clock, rand.Reader, policy)
			<-start
			got[i], errs[i] = r.Current(ctx)
		}()
	}
	close(start)
	wg.Wait()
	for i := range n {
		if errs[i] != nil || got[i].Generation != 1 {
			t.Fatalf("instance %d: %v, generation %d; want the first key signing through the lead", i, errs[i], got[i].Generation)
		}
	}
	if keys, _ := store.List(ctx, "shop"); len(keys) != 2 {
		t.Fatalf("%d keys stored, want 2", len(keys))
	}
}

// With a rotation period, the key that has signed for the period has its
// successor published, which signs PublishLead later.
func TestAutomaticRotation(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	clock := platformtest.NewClock(t0)
	r := keyring.New("shop", keyringtest.NewMemoryStore(), fakeSealer{7}, clock, rand.Reader,
		keyring.Policy{TokenLifetime: 15 * time.Minute, Rotation: 24 * time.Hour})
	k1 := mustCurrent(t, r)
	setClock(clock, t0.Add(24*time.Hour-time.Second))
	if mustCurrent(t, r); len(mustKeys(t, r)) != 1 {
		t.Fatal("rotated before the period")
	}
	setClock(clock, t0.Add(24*time.Hour))
	if got := mustCurrent(t, r); got.ID != k1.ID {
		t.Fatal("the successor signs at once")
	}
	if got := mustKeys(t, r); len(got) != 2 {
		t.Fatalf("JWKS %v at the period's end, want the successor published", got)
	}
	setClock(clock, t0.Add(24*time.Hour+keyring.PublishLead))
	if got := mustCurrent(t, r); got.ID == k1.ID || got.Generation != 2 {
		t.Fatalf("still signing with generation %d after the lead", got.Generation)
	}
	if got := mustKeys(t, r); len(got) != 2 {
		t.Fatalf("JWKS %v right after the switch, want both", got)
	}
}

// An explicit rotation adds a key each time, after the newest.
func TestRotateAddsAKeyEachTime(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r := keyring.New("shop", keyringtest.NewMemoryStore(), fakeSealer{7}, platformtest.NewClock(time.Now()), rand.Reader, keyring.Policy{TokenLifetime: time.Hour})
	mustCurrent(t, r)
	for want := 2; want <= 3; want++ {
		k, err := r.Rotate(ctx, 0)
		if err != nil || k.Generation != want {
			t.Fatalf("rotation: generation %d, %v; want %d", k.Generation, err, want)
		}
		if got := mustCurrent(t, r); got.ID != k.ID {
			t.Fatal("a rotation with no lead does not sign at once")
		}
	}
}
