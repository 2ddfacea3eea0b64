package logintest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/portcullis/portcullis/application/login"
	"github.com/portcullis/portcullis/application/platform/platformtest"
)

// MemoryFirstSignIns is an in-memory login.FirstSignIns.
type MemoryFirstSignIns struct {
	mu  sync.Mutex
	at  map[string]time.Time // tenant/user
	err error
}

var _ login.FirstSignIns = (*MemoryFirstSignIns)(nil)

// NewMemoryFirstSignIns returns a store in which nobody has signed in.
func NewMemoryFirstSignIns() *MemoryFirstSignIns {
	return &MemoryFirstSignIns{at: map[string]time.Time{}}
}

// Claim records the user's first sign-in unless there is one.
func (m *MemoryFirstSignIns) Claim(_ context.Context, tenantID, userID string, at time.Time) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return false, m.err
	}
	k := tenantID + "/" + userID
	if _, ok := m.at[k]; ok {
		return false, nil
	}
	m.at[k] = at
	return true, nil
}

// Fail makes every Claim answer err (nil: work again).
func (m *MemoryFirstSignIns) Fail(err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.err = err
}

// RunFirstSignInsContract checks the behaviour every login.FirstSignIns
// must have. newStore returns an empty store (or one in which the tenant
// ids the suite makes up are unused).
func RunFirstSignInsContract(t *testing.T, newStore func(t *testing.T) login.FirstSignIns) {
	t.Helper()
	ctx := context.Background()

	t.Run("the first claim of a user is the first, every later one is not", func(t *testing.T) {
		s := newStore(t)
		for i, want := range []bool{true, false, false} {
			got, err := s.Claim(ctx, "f-alpha", "user-1", platformtest.At(time.Duration(i)*time.Minute))
			if err != nil || got != want {
				t.Fatalf("claim %d = %v, %v; want %v", i+1, got, err, want)
			}
		}
	})

	t.Run("users and tenants are apart", func(t *testing.T) {
		s := newStore(t)
		for _, c := range []struct{ tenant, user string }{{"f-beta", "user-1"}, {"f-beta", "user-2"}, {"f-gamma", "user-1"}} {
			if got, err := s.Claim(ctx, c.tenant, c.user, platformtest.T0); err != nil || !got {
				t.Fatalf("%s/%s: %v, %v; want the first", c.tenant, c.user, got, err)
			}
		}
		if got, err := s.Claim(ctx, "f-beta", "user-1", platformtest.T0); err != nil || got {
			t.Fatalf("f-beta/user-1 again: %v, %v; want not the first", got, err)
		}
	})

	t.Run("of concurrent claims for one user exactly one is the first", func(t *testing.T) {
		s := newStore(t)
		var mu sync.Mutex
		firsts := 0
		var errs []error
		platformtest.Race(platformtest.Racers, func(int) {
			got, err := s.Claim(ctx, "f-delta", "user-1", platformtest.T0)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
			}
			if got {
				firsts++
			}
		})
		if len(errs) > 0 || firsts != 1 {
			t.Fatalf("%d of %d concurrent claims were the first (errors %v); want exactly 1", firsts, platformtest.Racers, errs)
		}
	})
}
