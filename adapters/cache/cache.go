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
	"sync/atomic"
	"time"

	"github.com/hashicorp/golang-lru/v2/expirable"

	"github.com/portcullis/portcullis/application/account"
	"github.com/portcullis/portcullis/application/platform"
	"github.com/portcullis/portcullis/application/session"
	"github.com/portcullis/portcullis/domain/errs"
	"github.com/portcullis/portcullis/domain/identity"
)

// Defaults: TTLs bound how long another instance's write can go unseen
// here. Sizes, which bound memory (a user or session is a few hundred
// bytes, a token key about 600), are the platform's cache_entries.
const (
	DefaultUserTTL   = 5 * time.Second
	DefaultRecordTTL = 10 * time.Second
	DefaultTokenTTL  = 5 * time.Minute
)

func key(tenantID, id string) string { return tenantID + "\x00" + id }

// Users caches account.Users lookups by id, and remembers which id an
// e-mail key or a phone number belongs to so that a login reads its user by
// primary key (a lookup by e-mail or phone scans the collection on the
// embedded store). The user a
// login gets is always read fresh from the store: a password hash is never
// served from a cache.
type Users struct {
	Counts
	inner   account.Users
	byID    *expirable.LRU[string, identity.User]
	emailID *expirable.LRU[string, string] // tenant/email key → user id
	phoneID *expirable.LRU[string, string] // tenant/phone → user id
}

var _ account.Users = (*Users)(nil)

// NewUsers wraps inner with a cache of size users kept for ttl.
func NewUsers(inner account.Users, size int, ttl time.Duration) *Users {
	return &Users{inner: inner, byID: expirable.NewLRU[string, identity.User](size, nil, ttl),
		emailID: expirable.NewLRU[string, string](size, nil, time.Hour),
		phoneID: expirable.NewLRU[string, string](size, nil, time.Hour)}
}

// ByEmail reads the user fresh from the store, by id when the e-mail key's
// id is known (and still matches), else by e-mail key. A store error other
// than not-found is returned as it is: falling back to the lookup by e-mail
// would only wait for a store that is down a second time.
func (c *Users) ByEmail(ctx context.Context, tenantID, emailKey string) (identity.User, error) {
	k := key(tenantID, emailKey)
	if id, ok := c.emailID.Get(k); ok {
		u, err := c.inner.ByID(ctx, tenantID, id)
		if err == nil && u.EmailKey == emailKey {
			return u, nil
		}
		if err != nil && !errors.Is(err, errs.ErrNotFound) {
			return identity.User{}, err
		}
		c.emailID.Remove(k)
	}
	u, err := c.inner.ByEmail(ctx, tenantID, emailKey)
	if err == nil {
		c.emailID.Add(k, u.ID)
	}
	return u, err
}

// ByPhone reads the user fresh from the store like ByEmail: by id when the
// phone's id is known (and the user still has that phone), else by phone.
func (c *Users) ByPhone(ctx context.Context, tenantID, phone string) (identity.User, error) {
	k := key(tenantID, phone)
	if id, ok := c.phoneID.Get(k); ok {
		u, err := c.inner.ByID(ctx, tenantID, id)
		if err == nil && u.Phone == phone {
			return u, nil
		}
		if err != nil && !errors.Is(err, errs.ErrNotFound) {
			return identity.User{}, err
		}
		c.phoneID.Remove(k)
	}
	u, err := c.inner.ByPhone(ctx, tenantID, phone)
	if err == nil {
		c.phoneID.Add(k, u.ID)
	}
	return u, err
}

// Create writes through; nothing is cached for a new user.
func (c *Users) Create(ctx context.Context, u identity.User) error { return c.inner.Create(ctx, u) }

// ByID returns the cached user or reads it through.
func (c *Users) ByID(ctx context.Context, tenantID, id string) (identity.User, error) {
	k := key(tenantID, id)
	u, ok := c.byID.Get(k)
	c.count(ok)
	if ok {
		return u, nil
	}
	u, err := c.inner.ByID(ctx, tenantID, id)
	if err == nil {
		c.byID.Add(k, u)
	}
	return u, err
}

// SetPasswordHash writes through and drops the cached user.
func (c *Users) SetPasswordHash(ctx context.Context, tenantID, id, hash string, at time.Time) error {
	defer c.byID.Remove(key(tenantID, id))
	return c.inner.SetPasswordHash(ctx, tenantID, id, hash, at)
}

// RecordLogin writes through and drops the cached user.
func (c *Users) RecordLogin(ctx context.Context, tenantID, id string, at time.Time) error {
	defer c.byID.Remove(key(tenantID, id))
	return c.inner.RecordLogin(ctx, tenantID, id, at)
}

// SetActive writes through and drops the cached user.
func (c *Users) SetActive(ctx context.Context, tenantID, id string, active bool, at time.Time) error {
	defer c.byID.Remove(key(tenantID, id))
	return c.inner.SetActive(ctx, tenantID, id, active, at)
}

// SetPhoneVerified writes through and drops the cached user.
func (c *Users) SetPhoneVerified(ctx context.Context, tenantID, id string, at time.Time) error {
	defer c.byID.Remove(key(tenantID, id))
	return c.inner.SetPhoneVerified(ctx, tenantID, id, at)
}

// SetEmailVerified writes through and drops the cached user.
func (c *Users) SetEmailVerified(ctx context.Context, tenantID, id, emailKey string, at time.Time) error {
	defer c.byID.Remove(key(tenantID, id))
	return c.inner.SetEmailVerified(ctx, tenantID, id, emailKey, at)
}

// SetName writes through and drops the cached user.
func (c *Users) SetName(ctx context.Context, tenantID, id, firstName, lastName string, at time.Time) error {
	defer c.byID.Remove(key(tenantID, id))
	return c.inner.SetName(ctx, tenantID, id, firstName, lastName, at)
}

// SetRole writes through and drops the cached user: the next request reads
// the new role.
func (c *Users) SetRole(ctx context.Context, tenantID, id string, role identity.Role, at time.Time) error {
	defer c.byID.Remove(key(tenantID, id))
	return c.inner.SetRole(ctx, tenantID, id, role, at)
}

// SetEmail writes through and drops the cached user and the ids remembered
// for its old and its new e-mail key. The old key is read from the store
// first, not from the cached user, which another instance's move may have
// made stale. ByEmail would notice a remembered id whose user has left the
// key anyway; dropping it spares that read.
func (c *Users) SetEmail(ctx context.Context, tenantID, id, email, emailKey string, at time.Time) error {
	if old, err := c.inner.ByID(ctx, tenantID, id); err == nil {
		defer c.emailID.Remove(key(tenantID, old.EmailKey))
	}
	defer c.emailID.Remove(key(tenantID, emailKey))
	defer c.byID.Remove(key(tenantID, id))
	return c.inner.SetEmail(ctx, tenantID, id, email, emailKey, at)
}

// SetPhone writes through and drops the cached user and the ids
// remembered for its old and its new number, the old one read from the
// store as SetEmail does.
func (c *Users) SetPhone(ctx context.Context, tenantID, id, phone string, at time.Time) error {
	if old, err := c.inner.ByID(ctx, tenantID, id); err == nil && old.Phone != "" {
		defer c.phoneID.Remove(key(tenantID, old.Phone))
	}
	if phone != "" {
		defer c.phoneID.Remove(key(tenantID, phone))
	}
	defer c.byID.Remove(key(tenantID, id))
	return c.inner.SetPhone(ctx, tenantID, id, phone, at)
}

// List reads through and caches nothing: a list is an admin's read, rare
// and wanted fresh, and its users may be many.
func (c *Users) List(ctx context.Context, tenantID string, f account.UserFilter, after account.UserPosition, limit int) ([]identity.User, error) {
	return c.inner.List(ctx, tenantID, f, after, limit)
}

// Sessions caches session.Sessions lookups by secret hash (the per-request
// path of app tokens and cookies).
type Sessions struct {
	Counts
	inner    session.Sessions
	clock    platform.Clock
	bySecret *expirable.LRU[string, identity.Session]
	secretID *expirable.LRU[string, string] // tenant/secret hash → session id

	mu     sync.Mutex
	secret map[string]string // tenant/id → tenant/secret hash of cached entries
}

var _ session.Sessions = (*Sessions)(nil)

// NewSessions wraps inner with a cache of size sessions kept for ttl.
func NewSessions(inner session.Sessions, clock platform.Clock, size int, ttl time.Duration) *Sessions {
	c := &Sessions{inner: inner, clock: clock, secret: map[string]string{},
		secretID: expirable.NewLRU[string, string](size, nil, time.Hour)}
	c.bySecret = expirable.NewLRU[string, identity.Session](size, func(_ string, s identity.Session) {
		c.mu.Lock()
		delete(c.secret, key(s.TenantID, s.ID))
		c.mu.Unlock()
	}, ttl)
	return c
}

// Create writes through; the session is cached on its first lookup.
func (c *Sessions) Create(ctx context.Context, s identity.Session) error {
	return c.inner.Create(ctx, s)
}

// ByID reads through: revocation checks and session management must see
// the store, not a cached copy.
func (c *Sessions) ByID(ctx context.Context, tenantID, id string) (identity.Session, error) {
	return c.inner.ByID(ctx, tenantID, id)
}

// ListLive reads through.
func (c *Sessions) ListLive(ctx context.Context, tenantID, userID string, now time.Time) ([]identity.Session, error) {
	return c.inner.ListLive(ctx, tenantID, userID, now)
}

// BySecret returns the cached session or reads it through. A cached
// session that looks dead is read again: another instance may have slid
// its idle expiry since it was cached.
func (c *Sessions) BySecret(ctx context.Context, tenantID, hash string) (identity.Session, error) {
	k := key(tenantID, hash)
	s, ok := c.bySecret.Get(k)
	ok = ok && s.Live(c.clock.Now())
	c.count(ok)
	if ok {
		return s, nil
	}
	// A secret seen before is read again by its session's id: a lookup by
	// secret scans the collection on the embedded store. A store error
	// other than not-found is returned as it is, like in Users.ByEmail.
	if id, ok := c.secretID.Get(k); ok {
		s, err := c.inner.ByID(ctx, tenantID, id)
		if err == nil && s.SecretHash == hash {
			c.remember(k, s)
			return s, nil
		}
		if err != nil && !errors.Is(err, errs.ErrNotFound) {
			return identity.Session{}, err
		}
		c.secretID.Remove(k)
	}
	s, err := c.inner.BySecret(ctx, tenantID, hash)
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
	err := c.inner.Touch(ctx, tenantID, id, lastSeen, idleExpires)
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
func (c *Sessions) Revoke(ctx context.Context, tenantID, id string, at, until time.Time) (bool, error) {
	defer c.drop(tenantID, id)
	return c.inner.Revoke(ctx, tenantID, id, at, until)
}

// RevokeOthers writes through and drops the revoked sessions.
func (c *Sessions) RevokeOthers(ctx context.Context, tenantID, userID, keepID string, at, until time.Time) ([]string, error) {
	ids, err := c.inner.RevokeOthers(ctx, tenantID, userID, keepID, at, until)
	for _, id := range ids {
		c.drop(tenantID, id)
	}
	return ids, err
}

// RevokedSince reads through: the revocation log is never cached.
func (c *Sessions) RevokedSince(ctx context.Context, since, now time.Time) ([]session.Revocation, error) {
	return c.inner.RevokedSince(ctx, since, now)
}

// Tokens is the process-wide store of verified access tokens, shared by the
// tenants' AccessTokens decorators.
type Tokens struct {
	Counts
	lru *expirable.LRU[string, session.AccessClaims]
}

// Counts are a cache's lookups answered from it (hits) and read through
// (misses), for its hit ratio.
type Counts struct{ hits, misses atomic.Int64 }

// Hits and Misses return the counts so far.
func (c *Counts) Hits() int64   { return c.hits.Load() }
func (c *Counts) Misses() int64 { return c.misses.Load() }

// count records a lookup's outcome.
func (c *Counts) count(hit bool) {
	if hit {
		c.hits.Add(1)
	} else {
		c.misses.Add(1)
	}
}

// NewTokens returns a store of size verified tokens kept at most ttl.
func NewTokens(size int, ttl time.Duration) *Tokens {
	return &Tokens{lru: expirable.NewLRU[string, session.AccessClaims](size, nil, ttl)}
}

// AccessTokens caches one tenant's successful verifications: a token seen
// verified before is not verified again until it expires. Only tokens that
// passed verification are stored, under the exact token string and the
// tenant, so nothing unverified or foreign can be served from it.
type AccessTokens struct {
	inner    session.AccessTokens
	tenantID string
	store    *Tokens
	clock    platform.Clock
}

var _ session.AccessTokens = (*AccessTokens)(nil)

// NewAccessTokens wraps a tenant's verifier with the shared store.
func NewAccessTokens(inner session.AccessTokens, tenantID string, store *Tokens, clock platform.Clock) *AccessTokens {
	return &AccessTokens{inner: inner, tenantID: tenantID, store: store, clock: clock}
}

// Issue issues through the inner issuer; the token is cached when it is
// first verified.
func (c *AccessTokens) Issue(ctx context.Context, claims session.AccessClaims) (string, error) {
	return c.inner.Issue(ctx, claims)
}

// Verify answers from the cache while the token is unexpired, else verifies.
func (c *AccessTokens) Verify(ctx context.Context, token string) (session.AccessClaims, error) {
	k := key(c.tenantID, token)
	if claims, ok := c.store.lru.Get(k); ok {
		if c.clock.Now().Before(claims.ExpiresAt) {
			c.store.count(true)
			return claims, nil
		}
		c.store.lru.Remove(k)
	}
	c.store.count(false)
	claims, err := c.inner.Verify(ctx, token)
	if err == nil && c.clock.Now().Before(claims.ExpiresAt) {
		c.store.lru.Add(k, claims)
	}
	return claims, err
}
