// Package keyringtest provides an in-memory keyring.Store and the contract
// suite every keyring.Store implementation must pass.
package keyringtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/portcullis/portcullis/application/keyring"
	"github.com/portcullis/portcullis/domain/errs"
)

// MemoryStore is an in-memory keyring.Store.
type MemoryStore struct {
	mu   sync.Mutex
	keys map[string]keyring.SealedKey // by tenant/generation
}

var _ keyring.Store = (*MemoryStore)(nil)

// NewMemoryStore returns an empty store.
func NewMemoryStore() *MemoryStore { return &MemoryStore{keys: map[string]keyring.SealedKey{}} }

// List returns the tenant's keys in generation order.
func (m *MemoryStore) List(_ context.Context, tenantID string) ([]keyring.SealedKey, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []keyring.SealedKey
	for _, k := range m.keys {
		if k.TenantID == tenantID {
			out = append(out, k)
		}
	}
	slices.SortFunc(out, func(a, b keyring.SealedKey) int { return a.Generation - b.Generation })
	return out, nil
}

// Insert adds a key unless the tenant has one of that generation already.
func (m *MemoryStore) Insert(_ context.Context, k keyring.SealedKey) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	id := fmt.Sprintf("%s/%d", k.TenantID, k.Generation)
	if _, ok := m.keys[id]; ok {
		return errs.ErrConflict.WithMessage("key generation %d exists", k.Generation)
	}
	k.Public = bytes.Clone(k.Public)
	k.SealedPrivate = bytes.Clone(k.SealedPrivate)
	m.keys[id] = k
	return nil
}

// RunStoreContract checks the behaviour every keyring.Store must have.
// newStore returns an empty store (or one in which the tenant ids the suite
// makes up are unused).
func RunStoreContract(t *testing.T, newStore func(t *testing.T) keyring.Store) {
	t.Helper()
	ctx := context.Background()
	created := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	key := func(tenant string, gen int) keyring.SealedKey {
		return keyring.SealedKey{TenantID: tenant, ID: fmt.Sprintf("kid-%s-%d", tenant, gen), Generation: gen, Algorithm: "EdDSA",
			Public: []byte{1, 2, 3, byte(gen)}, SealedPrivate: []byte{9, 8, 7, byte(gen)}, CreatedAt: created}
	}

	t.Run("empty tenant has no keys", func(t *testing.T) {
		s := newStore(t)
		got, err := s.List(ctx, "nobody")
		if err != nil || len(got) != 0 {
			t.Fatalf("List = %v, %v", got, err)
		}
	})

	t.Run("insert then list round-trips every field in generation order", func(t *testing.T) {
		s := newStore(t)
		for _, g := range []int{2, 1} {
			if err := s.Insert(ctx, key("alpha", g)); err != nil {
				t.Fatal(err)
			}
		}
		got, err := s.List(ctx, "alpha")
		if err != nil {
			t.Fatal(err)
		}
		want := []keyring.SealedKey{key("alpha", 1), key("alpha", 2)}
		if len(got) != 2 {
			t.Fatalf("got %d keys", len(got))
		}
		for i := range want {
			g, w := got[i], want[i]
			if g.TenantID != w.TenantID || g.ID != w.ID || g.Generation != w.Generation || g.Algorithm != w.Algorithm ||
				!bytes.Equal(g.Public, w.Public) || !bytes.Equal(g.SealedPrivate, w.SealedPrivate) || !g.CreatedAt.Equal(w.CreatedAt) {
				t.Fatalf("key %d: got %+v, want %+v", i, g, w)
			}
		}
	})

	t.Run("keys are scoped by tenant", func(t *testing.T) {
		s := newStore(t)
		if err := s.Insert(ctx, key("beta", 1)); err != nil {
			t.Fatal(err)
		}
		if err := s.Insert(ctx, key("gamma", 1)); err != nil {
			t.Fatalf("the same generation in another tenant must be allowed: %v", err)
		}
		got, _ := s.List(ctx, "beta")
		if len(got) != 1 || got[0].TenantID != "beta" {
			t.Fatalf("beta sees %+v", got)
		}
	})

	t.Run("a second key of one generation conflicts, also under concurrency", func(t *testing.T) {
		s := newStore(t)
		const n = 10
		var wg sync.WaitGroup
		results := make(chan error, n)
		start := make(chan struct{})
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				k := key("delta", 1)
				k.ID = fmt.Sprintf("racer-%d", i)
				<-start
				results <- s.Insert(ctx, k)
			}()
		}
		close(start)
		wg.Wait()
		close(results)
		wins := 0
		for err := range results {
			switch {
			case err == nil:
				wins++
			case !errors.Is(err, errs.ErrConflict):
				t.Errorf("loser must see ErrConflict, got %v", err)
			}
		}
		if wins != 1 {
			t.Fatalf("%d inserts of generation 1 succeeded, want exactly 1", wins)
		}
		got, _ := s.List(ctx, "delta")
		if len(got) != 1 {
			t.Fatalf("%d keys stored, want 1", len(got))
		}
	})
}
