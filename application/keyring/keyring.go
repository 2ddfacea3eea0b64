// Package keyring is the use case that owns a tenant's signing keys: it
// creates the first key on first use, keeps private keys sealed at rest,
// serves the public keys that verifiers fetch from the JWKS endpoint, and
// rotates them.
//
// Rotation, without a moment where a valid token fails: a new key is
// stored with an activation time PublishLead ahead, so that every instance
// (which rereads the keys every Refresh) and every verifier that caches the
// JWKS (max-age 5 minutes) knows it before it signs. From its activation it
// signs new tokens; the key before it is still published and accepted
// until every token it signed has expired (Policy.TokenLifetime, plus
// Refresh for instances still signing with it, plus a minute of clock
// skew), and then it is retired: no longer published nor accepted. A
// rotation is an insert of the next generation, so instances rotating at
// once agree on one new key.
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
	// ActivatesAt is when the key begins to sign; zero means CreatedAt.
	ActivatesAt time.Time
}

// Policy says how a tenant's keys turn over.
type Policy struct {
	// TokenLifetime is the longest a token signed by a key lives (the
	// access token TTL): a replaced key stays accepted this long after its
	// successor began to sign.
	TokenLifetime time.Duration
	// Rotation, when not zero, replaces the signing key by a new one this
	// long after the current key began to sign.
	Rotation time.Duration
}

const (
	// PublishLead is how long a new key is published before it signs:
	// longer than the JWKS max-age (5 minutes) and Refresh.
	PublishLead = 6 * time.Minute
	// Refresh is how long a ring trusts the keys it read: another
	// instance's rotation reaches it within this.
	Refresh = 30 * time.Second
	// clockSkew is how far verifiers' clocks may be off.
	clockSkew = time.Minute
)

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
	policy   Policy

	mu       sync.Mutex
	keys     []signing.Key // sorted by generation, newest last; nil until loaded
	loadedAt time.Time
}

// New returns the key ring of one tenant.
func New(tenantID string, store Store, sealer Sealer, clock platform.Clock, random platform.Random, policy Policy) *Ring {
	return &Ring{tenantID: tenantID, store: store, sealer: sealer, clock: clock, random: random, policy: policy}
}

// Current returns the key new tokens are signed with: the newest active
// one, creating the tenant's first key if it has none. When the policy
// rotates and the key has signed for its period, it also stores the next
// key (published now, signing after PublishLead); a failure to do so
// leaves the current key signing, and the next call tries again.
func (r *Ring) Current(ctx context.Context) (signing.Key, error) {
	keys, err := r.load(ctx, Refresh)
	if err != nil {
		return signing.Key{}, err
	}
	now := r.clock.Now()
	cur := current(keys, now)
	if p := r.policy.Rotation; p > 0 && cur.ID == keys[len(keys)-1].ID && !now.Before(cur.ActivatesAt.Add(p)) {
		_, _ = r.rotateAfter(ctx, cur.Generation, PublishLead)
	}
	return cur, nil
}

// current is the newest key of keys active at now (the first key, when
// none is: it signs from its creation).
func current(keys []signing.Key, now time.Time) signing.Key {
	for i := len(keys) - 1; i >= 0; i-- {
		if !now.Before(keys[i].ActivatesAt) {
			return keys[i]
		}
	}
	return keys[0]
}

// Keys returns every key that tokens may be verified with, newest last:
// the keys not yet retired, including one published ahead of its
// activation. The first key is created if there is none.
func (r *Ring) Keys(ctx context.Context) ([]signing.Key, error) {
	keys, err := r.load(ctx, Refresh)
	if err != nil {
		return nil, err
	}
	return r.live(keys), nil
}

// live drops the retired keys: those whose successor began to sign longer
// ago than a token lives (and Refresh, and the clock skew).
func (r *Ring) live(keys []signing.Key) []signing.Key {
	now := r.clock.Now()
	keep := r.policy.TokenLifetime + Refresh + clockSkew
	out := make([]signing.Key, 0, len(keys))
	for i, k := range keys {
		if i+1 < len(keys) && !now.Before(keys[i+1].ActivatesAt.Add(keep)) {
			continue
		}
		out = append(out, k)
	}
	return out
}

// Lookup returns the live key with the given kid. A kid it does not know
// makes it read the store again (at most once a second): another
// instance may have rotated.
func (r *Ring) Lookup(ctx context.Context, kid string) (signing.Key, bool, error) {
	for _, maxAge := range []time.Duration{Refresh, time.Second} {
		keys, err := r.load(ctx, maxAge)
		if err != nil {
			return signing.Key{}, false, err
		}
		for _, k := range r.live(keys) {
			if k.ID == kid {
				return k, true, nil
			}
		}
	}
	return signing.Key{}, false, nil
}

// Rotate stores a key after the newest, signing lead from now (PublishLead
// for a planned rotation; zero replaces the key at once, for a key that
// must go now, at the cost of the tokens it signed failing with verifiers
// that cached the JWKS), and returns it.
func (r *Ring) Rotate(ctx context.Context, lead time.Duration) (signing.Key, error) {
	keys, err := r.load(ctx, 0)
	if err != nil {
		return signing.Key{}, err
	}
	return r.rotateAfter(ctx, keys[len(keys)-1].Generation, lead)
}

// rotateAfter stores the key of the generation after gen, signing lead
// from now, and returns it. Of rotations racing on one generation one
// stores its key; the others return that one, so that instances rotating
// the same key at once agree on one successor.
func (r *Ring) rotateAfter(ctx context.Context, gen int, lead time.Duration) (signing.Key, error) {
	next := gen + 1
	if err := r.create(ctx, next, r.clock.Now().Add(lead)); err != nil && !errors.Is(err, errs.ErrConflict) {
		return signing.Key{}, err
	}
	keys, err := r.load(ctx, 0)
	if err != nil {
		return signing.Key{}, err
	}
	for _, k := range keys {
		if k.Generation == next {
			return k, nil
		}
	}
	return signing.Key{}, fmt.Errorf("keyring %s: key %d stored but not found", r.tenantID, next)
}

// load returns the tenant's keys, read again when those read before are
// maxAge old. When the store cannot be read, keys read before serve on.
func (r *Ring) load(ctx context.Context, maxAge time.Duration) ([]signing.Key, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.clock.Now()
	if r.keys != nil && now.Sub(r.loadedAt) < maxAge {
		return r.keys, nil
	}
	keys, err := r.fetch(ctx)
	if err != nil {
		if r.keys != nil && maxAge > 0 {
			return r.keys, nil
		}
		return nil, err
	}
	if len(keys) == 0 {
		if err := r.create(ctx, 1, now); err != nil && !errors.Is(err, errs.ErrConflict) {
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
	r.keys, r.loadedAt = keys, now
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
		if !s.ActivatesAt.IsZero() {
			k.ActivatesAt = s.ActivatesAt.UTC()
		}
		if k.ID != s.ID || !slices.Equal([]byte(k.Public), s.Public) {
			return nil, fmt.Errorf("keyring %s: key %s: stored public key or kid does not match the private key", r.tenantID, s.ID)
		}
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b signing.Key) int { return a.Generation - b.Generation })
	return keys, nil
}

func (r *Ring) create(ctx context.Context, generation int, activates time.Time) error {
	_, priv, err := ed25519.GenerateKey(r.random)
	if err != nil {
		return fmt.Errorf("keyring %s: generate key: %w", r.tenantID, err)
	}
	k := signing.NewKey(r.tenantID, generation, priv, r.clock.Now())
	k.ActivatesAt = activates.UTC()
	sealed, err := r.sealer.Seal(priv.Seed(), additionalData(k.TenantID, k.ID))
	if err != nil {
		return fmt.Errorf("keyring %s: seal key: %w", r.tenantID, err)
	}
	return r.store.Insert(ctx, SealedKey{
		TenantID: k.TenantID, ID: k.ID, Generation: k.Generation, Algorithm: signing.AlgEdDSA,
		Public: k.Public, SealedPrivate: sealed, CreatedAt: k.CreatedAt, ActivatesAt: k.ActivatesAt,
	})
}

// additionalData binds a sealed key to its tenant and kid, so that a sealed
// key copied into another tenant's record does not open.
func additionalData(tenantID, kid string) []byte {
	return []byte("portcullis/signing-key/v1/" + tenantID + "/" + kid)
}
