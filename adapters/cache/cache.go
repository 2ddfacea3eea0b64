// Package cache keeps hot reads off the database: in-process, bounded,
// expiring caches in front of the account stores and the access-token
// verifier. Each is a decorator of the port it caches.
//
// Staleness is bounded and safe: every cached entry expires after a short
// TTL, writes through this process drop their entries at once, and
// revocation does not depend on a cache at all — every authenticated
// request checks the Redis revocation set, which a logout on any instance
// writes first.
package cache

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/expirable"

	"github.com/portcullis/portcullis/application/account"
	"github.com/portcullis/portcullis/application/platform"
	"github.com/portcullis/portcullis/domain/errs"
	"github.com/portcullis/portcullis/domain/identity"
)

// Defaults: sizes bound memory (a user or session is a few hundred bytes, a
// token key about 600); TTLs bound how long another instance's write can go
// unseen here.
const (
	DefaultUsers     = 50_000
	DefaultSessions  = 50_000
	DefaultTokens    = 50_000
	DefaultUserTTL   = 5 * time.Second
	DefaultRecordTTL = 10 * time.Second
	DefaultTokenTTL  = 5 * time.Minute
)

func key(tenantID, id string) string { return tenantID + "\x00" + id }

// Users caches account.Users lookups by id, and remembers which id an
// e-mail key belongs to so that a login reads its user by primary key (a
// lookup by e-mail scans the collection on the embedded store). The user a
// login gets is always read fresh from the store: a password hash is never
// served from a cache.
type Users struct {
	account.Users
	byID    *expirable.LRU[string, identity.User]
	emailID *expirable.LRU[string, string] // tenant/email key → user id
}

var _ account.Users = (*Users)(nil)

// NewUsers wraps inner with a cache of size users kept for ttl.
func NewUsers(inner account.Users, size int, ttl time.Duration) *Users {
	return &Users{Users: inner, byID: expirable.NewLRU[string, identity.User](size, nil, ttl),
		emailID: expirable.NewLRU[string, string](size, nil, time.Hour)}
}

// ByEmail reads the user fresh from the store, by id when the e-mail key's
// id is known (and still matches), else by e-mail key. A store error other
// than not-found is returned as it is: falling back to the lookup by e-mail
// would only wait for a store that is down a second time.
func (c *Users) ByEmail(ctx context.Context, tenantID, emailKey string) (identity.User, error) {
	k := key(tenantID, emailKey)
	if id, ok := c.emailID.Get(k); ok {
		u, err := c.Users.ByID(ctx, tenantID, id)
		if err == nil && u.EmailKey == emailKey {
			return u, nil
		}
		if err != nil && !errors.Is(err, errs.ErrNotFound) {
			return identity.User{}, err
		}
		c.emailID.Remove(k)
	}
	u, err := c.Users.ByEmail(ctx, tenantID, emailKey)
	if err == nil {
		c.emailID.Add(k, u.ID)
	}
	return u, err
}

// ByID returns the cached user or reads it through.
func (c *Users) ByID(ctx context.Context, tenantID, id string) (identity.User, error) {
	k := key(tenantID, id)
	if u, ok := c.byID.Get(k); ok {
		return u, nil
	}
	u, err := c.Users.ByID(ctx, tenantID, id)
	if err == nil {
		c.byID.Add(k, u)
	}
	return u, err
}

// SetPasswordHash writes through and drops the cached user.
func (c *Users) SetPasswordHash(ctx context.Context, tenantID, id, hash string, at time.Time) error {
	defer c.byID.Remove(key(tenantID, id))
	return c.Users.SetPasswordHash(ctx, tenantID, id, hash, at)
}

// RecordLogin writes through and drops the cached user.
func (c *Users) RecordLogin(ctx context.Context, tenantID, id string, at time.Time) error {
	defer c.byID.Remove(key(tenantID, id))
	return c.Users.RecordLogin(ctx, tenantID, id, at)
}

// SetActive writes through and drops the cached user.
func (c *Users) SetActive(ctx context.Context, tenantID, id string, active bool, at time.Time) error {
	defer c.byID.Remove(key(tenantID, id))
	return c.Users.SetActive(ctx, tenantID, id, active, at)
}

// Sessions caches account.Sessions lookups by secret hash (the per-request
// path of app tokens and cookies).
type Sessions struct {
	account.Sessions
	clock    platform.Clock
	bySecret *expirable.LRU[string, identity.Session]
	secretID *expirable.LRU[string, string] // tenant/secret hash → session id

	mu     sync.Mutex
	secret map[string]string // tenant/id → tenant/secret hash of cached entries
}

var _ account.Sessions = (*Sessions)(nil)

// NewSessions wraps inner with a cache of size sessions kept for ttl.
func NewSessions(inner account.Sessions, clock platform.Clock, size int, ttl time.Duration) *Sessions {
	c := &Sessions{Sessions: inner, clock: clock, secret: map[string]string{},
		secretID: expirable.NewLRU[string, string](size, nil, time.Hour)}
	c.bySecret = expirable.NewLRU[string, identity.Session](size, func(_ string, s identity.Session) {
		c.mu.Lock()
		delete(c.secret, key(s.TenantID, s.ID))
		c.mu.Unlock()
	}, ttl)
	return c
}

// BySecret returns the cached session or reads it through. A cached
// session that looks dead is read again: another instance may have slid
// its idle expiry since it was cached.
func (c *Sessions) BySecret(ctx context.Context, tenantID, hash string) (identity.Session, error) {
	k := key(tenantID, hash)
	if s, ok := c.bySecret.Get(k); ok && s.Live(c.clock.Now()) {
		return s, nil
	}
	// A secret seen before is read again by its session's id: a lookup by
	// secret scans the collection on the embedded store. A store error
	// other than not-found is returned as it is, like in Users.ByEmail.
	if id, ok := c.secretID.Get(k); ok {
		s, err := c.Sessions.ByID(ctx, tenantID, id)
		if err == nil && s.SecretHash == hash {
			c.remember(k, s)
			return s, nil
		}
		if err != nil && !errors.Is(err, errs.ErrNotFound) {
			return identity.Session{}, err
		}
		c.secretID.Remove(k)
	}
	s, err := c.Sessions.BySecret(ctx, tenantID, hash)
	if err == nil {
		c.remember(k, s)
	}
	return s, err
}

func (c *Sessions) remember(k string, s identity.Session) {
	c.mu.Lock()
	c.secret[key(s.TenantID, s.ID)] = k
	c.mu.Unlock()
	c.secretID.Add(k, s.ID)
	c.bySecret.Add(k, s)
}

func (c *Sessions) drop(tenantID, id string) {
	c.mu.Lock()
	k, ok := c.secret[key(tenantID, id)]
	c.mu.Unlock()
	if ok {
		c.bySecret.Remove(k)
	}
}

// Touch writes through and updates the cached session in place, so that
// the requests right after it see the new last-seen time and do not touch
// again.
func (c *Sessions) Touch(ctx context.Context, tenantID, id string, lastSeen, idleExpires time.Time) error {
	err := c.Sessions.Touch(ctx, tenantID, id, lastSeen, idleExpires)
	c.mu.Lock()
	k, ok := c.secret[key(tenantID, id)]
	c.mu.Unlock()
	if !ok {
		return err
	}
	if s, hit := c.bySecret.Peek(k); hit && err == nil {
		s.LastSeenAt, s.IdleExpiresAt = lastSeen.UTC(), idleExpires.UTC()
		c.bySecret.Add(k, s)
	} else {
		c.bySecret.Remove(k)
	}
	return err
}

// Revoke writes through and drops the cached session.
func (c *Sessions) Revoke(ctx context.Context, tenantID, id string, at time.Time) (bool, error) {
	defer c.drop(tenantID, id)
	return c.Sessions.Revoke(ctx, tenantID, id, at)
}

// RevokeOthers writes through and drops the revoked sessions.
func (c *Sessions) RevokeOthers(ctx context.Context, tenantID, userID, keepID string, at time.Time) ([]string, error) {
	ids, err := c.Sessions.RevokeOthers(ctx, tenantID, userID, keepID, at)
	for _, id := range ids {
		c.drop(tenantID, id)
	}
	return ids, err
}

// Tokens is the process-wide store of verified access tokens, shared by the
// tenants' AccessTokens decorators.
type Tokens struct {
	lru *expirable.LRU[string, account.AccessClaims]
}

// NewTokens returns a store of size verified tokens kept at most ttl.
func NewTokens(size int, ttl time.Duration) *Tokens {
	return &Tokens{lru: expirable.NewLRU[string, account.AccessClaims](size, nil, ttl)}
}

// AccessTokens caches one tenant's successful verifications: a token seen
// verified before is not verified again until it expires. Only tokens that
// passed verification are stored, under the exact token string and the
// tenant, so nothing unverified or foreign can be served from it.
type AccessTokens struct {
	account.AccessTokens
	tenantID string
	store    *Tokens
	clock    platform.Clock
}

var _ account.AccessTokens = (*AccessTokens)(nil)

// NewAccessTokens wraps a tenant's verifier with the shared store.
func NewAccessTokens(inner account.AccessTokens, tenantID string, store *Tokens, clock platform.Clock) *AccessTokens {
	return &AccessTokens{AccessTokens: inner, tenantID: tenantID, store: store, clock: clock}
}

// Verify answers from the cache while the token is unexpired, else verifies.
func (c *AccessTokens) Verify(ctx context.Context, token string) (account.AccessClaims, error) {
	k := key(c.tenantID, token)
	if claims, ok := c.store.lru.Get(k); ok {
		if c.clock.Now().Before(claims.ExpiresAt) {
			return claims, nil
		}
		c.store.lru.Remove(k)
	}
	claims, err := c.AccessTokens.Verify(ctx, token)
	if err == nil && c.clock.Now().Before(claims.ExpiresAt) {
		c.store.lru.Add(k, claims)
	}
	return claims, err
}
