// Package keyring is the use case that owns a tenant's signing keys: it
// creates the first key on first use, keeps private keys sealed at rest, and
// serves the public keys that verifiers fetch from the JWKS endpoint.
package keyring

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/portcullis/portcullis/application/platform"
	"github.com/portcullis/portcullis/domain/errs"
	"github.com/portcullis/portcullis/domain/signing"
)

// SealedKey is a signing key as it is stored: the private key encrypted.
type SealedKey struct {
	TenantID      string
	ID            string
	Generation    int
	Algorithm     string
	Public        []byte
	SealedPrivate []byte
	CreatedAt     time.Time
}

// Store keeps sealed keys. Insert must fail with an error matching
// errs.ErrConflict when the tenant already has a key of that generation, so
// that two servers creating a tenant's first key at once agree on one.
type Store interface {
	List(ctx context.Context, tenantID string) ([]SealedKey, error)
	Insert(ctx context.Context, key SealedKey) error
}

// Sealer encrypts and authenticates secrets at rest. The additional data
// binds a ciphertext to the record it belongs to.
type Sealer interface {
	Seal(plaintext, additionalData []byte) ([]byte, error)
	Open(ciphertext, additionalData []byte) ([]byte, error)
}

// Ring serves one tenant's keys. It is safe for concurrent use.
type Ring struct {
	tenantID string
	store    Store
	sealer   Sealer
	clock    platform.Clock
	random   platform.Random

	mu   sync.Mutex
	keys []signing.Key // sorted by generation, newest last; nil until loaded
}

// New returns the key ring of one tenant.
func New(tenantID string, store Store, sealer Sealer, clock platform.Clock, random platform.Random) *Ring {
	return &Ring{tenantID: tenantID, store: store, sealer: sealer, clock: clock, random: random}
}

// Current returns the key new tokens are signed with, creating the tenant's
// first key if it has none.
func (r *Ring) Current(ctx context.Context) (signing.Key, error) {
	keys, err := r.load(ctx)
	if err != nil {
		return signing.Key{}, err
	}
	return keys[len(keys)-1], nil
}

// Keys returns every key that tokens may still be verified with, newest last,
// creating the first key if there is none.
func (r *Ring) Keys(ctx context.Context) ([]signing.Key, error) {
	keys, err := r.load(ctx)
	if err != nil {
		return nil, err
	}
	return slices.Clone(keys), nil
}

// Lookup returns the key with the given kid.
func (r *Ring) Lookup(ctx context.Context, kid string) (signing.Key, bool, error) {
	keys, err := r.load(ctx)
	if err != nil {
		return signing.Key{}, false, err
	}
	for _, k := range keys {
		if k.ID == kid {
			return k, true, nil
		}
	}
	return signing.Key{}, false, nil
}

func (r *Ring) load(ctx context.Context) ([]signing.Key, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.keys != nil {
		return r.keys, nil
	}
	keys, err := r.fetch(ctx)
	if err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		if err := r.create(ctx, 1); err != nil && !errors.Is(err, errs.ErrConflict) {
			return nil, err
		}
		// Whether this server or another won the race, the stored key is
		// the one to use.
		if keys, err = r.fetch(ctx); err != nil {
			return nil, err
		}
		if len(keys) == 0 {
			return nil, fmt.Errorf("keyring %s: key created but not found", r.tenantID)
		}
	}
	r.keys = keys
	return keys, nil
}

func (r *Ring) fetch(ctx context.Context) ([]signing.Key, error) {
	sealed, err := r.store.List(ctx, r.tenantID)
	if err != nil {
		return nil, fmt.Errorf("keyring %s: list keys: %w", r.tenantID, err)
	}
	keys := make([]signing.Key, 0, len(sealed))
	for _, s := range sealed {
		if s.Algorithm != signing.AlgEdDSA {
			return nil, fmt.Errorf("keyring %s: key %s: unsupported algorithm %q", r.tenantID, s.ID, s.Algorithm)
		}
		seed, err := r.sealer.Open(s.SealedPrivate, additionalData(s.TenantID, s.ID))
		if err != nil {
			return nil, fmt.Errorf("keyring %s: key %s cannot be opened (wrong master key?): %w", r.tenantID, s.ID, err)
		}
		if len(seed) != ed25519.SeedSize {
			return nil, fmt.Errorf("keyring %s: key %s: sealed seed has %d bytes", r.tenantID, s.ID, len(seed))
		}
		k := signing.NewKey(s.TenantID, s.Generation, ed25519.NewKeyFromSeed(seed), s.CreatedAt)
		if k.ID != s.ID || !slices.Equal([]byte(k.Public), s.Public) {
			return nil, fmt.Errorf("keyring %s: key %s: stored public key or kid does not match the private key", r.tenantID, s.ID)
		}
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b signing.Key) int { return a.Generation - b.Generation })
	return keys, nil
}

func (r *Ring) create(ctx context.Context, generation int) error {
	_, priv, err := ed25519.GenerateKey(r.random)
	if err != nil {
		return fmt.Errorf("keyring %s: generate key: %w", r.tenantID, err)
	}
	k := signing.NewKey(r.tenantID, generation, priv, r.clock.Now())
	sealed, err := r.sealer.Seal(priv.Seed(), additionalData(k.TenantID, k.ID))
	if err != nil {
		return fmt.Errorf("keyring %s: seal key: %w", r.tenantID, err)
	}
	return r.store.Insert(ctx, SealedKey{
		TenantID: k.TenantID, ID: k.ID, Generation: k.Generation, Algorithm: signing.AlgEdDSA,
		Public: k.Public, SealedPrivate: sealed, CreatedAt: k.CreatedAt,
	})
}

// additionalData binds a sealed key to its tenant and kid, so that a sealed
// key copied into another tenant's record does not open.
func additionalData(tenantID, kid string) []byte {
	return []byte("portcullis/signing-key/v1/" + tenantID + "/" + kid)
}
