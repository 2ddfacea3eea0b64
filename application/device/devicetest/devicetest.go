// Package devicetest provides an in-memory device.Places for unit tests,
// the contract suite every Places must pass, and a tenant's device service
// on it.
package devicetest

import (
	"context"
	"crypto/rand"
	"sync"
	"testing"
	"time"

	"github.com/portcullis/portcullis/application/device"
	"github.com/portcullis/portcullis/application/platform"
	"github.com/portcullis/portcullis/domain/tenant"
)

// NewService returns tenant t's device service on fresh in-memory places
// and clock, with a key derived from a fixed test master key.
func NewService(tb testing.TB, t tenant.Tenant, clock platform.Clock) *device.Service {
	tb.Helper()
	key, err := device.DeriveKey([]byte("a master key of at least sixteen bytes"), t.ID)
	if err != nil {
		tb.Fatal(err)
	}
	return device.New(t, device.Deps{Key: key, Places: NewMemoryPlaces(clock), Clock: clock, Random: rand.Reader})
}

var _ device.Places = (*MemoryPlaces)(nil)

// MemoryPlaces is an in-memory device.Places on a clock.
type MemoryPlaces struct {
	clock platform.Clock
	mu    sync.Mutex
	until map[string]time.Time
}

// NewMemoryPlaces returns an empty store on clock.
func NewMemoryPlaces(clock platform.Clock) *MemoryPlaces {
	return &MemoryPlaces{clock: clock, until: map[string]time.Time{}}
}

// Remember makes key known for ttl from now.
func (m *MemoryPlaces) Remember(_ context.Context, key string, ttl time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.until[key] = m.clock.Now().Add(ttl)
	return nil
}

// Known reports whether key was remembered less than its ttl ago.
func (m *MemoryPlaces) Known(_ context.Context, key string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.clock.Now().Before(m.until[key]), nil
}

type wallClock struct{}

func (wallClock) Now() time.Time { return time.Now() }

// WallClock is the clock the contract suite's stores must run on.
var WallClock platform.Clock = wallClock{}

// RunPlacesContract checks the behaviour every device.Places must have.
// newPlaces returns a store whose keys no other test uses, on the wall
// clock (one case waits for a short TTL to pass).
func RunPlacesContract(t *testing.T, newPlaces func(t *testing.T) device.Places) {
	t.Helper()
	ctx := context.Background()
	known := func(t *testing.T, p device.Places, key string) bool {
		t.Helper()
		ok, err := p.Known(ctx, key)
		if err != nil {
			t.Fatalf("known %s: %v", key, err)
		}
		return ok
	}
	remember := func(t *testing.T, p device.Places, key string, ttl time.Duration) {
		t.Helper()
		if err := p.Remember(ctx, key, ttl); err != nil {
			t.Fatalf("remember %s: %v", key, err)
		}
	}

	t.Run("unknown until remembered; keys are independent", func(t *testing.T) {
		t.Parallel()
		p := newPlaces(t)
		if known(t, p, "a") {
			t.Fatal("a is known before any Remember")
		}
		remember(t, p, "a", time.Hour)
		if !known(t, p, "a") {
			t.Fatal("a is not known after Remember")
		}
		if known(t, p, "b") {
			t.Fatal("b is known after Remember of a")
		}
	})

	t.Run("forgotten after the ttl; a later Remember extends it", func(t *testing.T) {
		t.Parallel()
		p := newPlaces(t)
		const ttl = 600 * time.Millisecond
		remember(t, p, "k", ttl)
		time.Sleep(ttl / 2)
		remember(t, p, "k", ttl) // renewed: known until ttl from now
		time.Sleep(ttl * 3 / 4)
		if !known(t, p, "k") {
			t.Fatal("k forgotten before the ttl of its latest Remember")
		}
		deadline := time.Now().Add(5 * time.Second)
		for known(t, p, "k") {
			if time.Now().After(deadline) {
				t.Fatalf("k still known 5s after its %s ttl", ttl)
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
}
