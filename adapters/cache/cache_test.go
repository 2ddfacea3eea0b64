package cache_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portcullis/portcullis/adapters/cache"
	"github.com/portcullis/portcullis/application/account"
	"github.com/portcullis/portcullis/application/account/accounttest"
	"github.com/portcullis/portcullis/application/session"
	"github.com/portcullis/portcullis/application/session/sessiontest"
	"github.com/portcullis/portcullis/domain/errs"
	"github.com/portcullis/portcullis/domain/identity"
)

var ctx = context.Background()

type clock struct{ now atomic.Pointer[time.Time] }

func newClock() *clock {
	c := &clock{}
	t := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	c.now.Store(&t)
	return c
}
func (c *clock) Now() time.Time { return *c.now.Load() }
func (c *clock) advance(d time.Duration) {
	t := c.Now().Add(d)
	c.now.Store(&t)
}

type countingUsers struct {
	account.Users
	byID atomic.Int64
}

func (c *countingUsers) ByID(ctx context.Context, tenantID, id string) (identity.User, error) {
	c.byID.Add(1)
	return c.Users.ByID(ctx, tenantID, id)
}

func TestUsersCacheReadsOnceAndDropsOnWrite(t *testing.T) {
	t.Parallel()
	inner := &countingUsers{Users: accounttest.NewMemoryUsers()}
	u := identity.User{ID: "u1", TenantID: "a", Email: "x@example.com", EmailKey: "x@example.com", Role: identity.RoleUser, Active: true}
	if err := inner.Create(ctx, u); err != nil {
		t.Fatal(err)
	}
	c := cache.NewUsers(inner, 10, time.Minute)
	for range 3 {
		if got, err := c.ByID(ctx, "a", "u1"); err != nil || !got.Active {
			t.Fatal(got, err)
		}
	}
	if inner.byID.Load() != 1 {
		t.Fatalf("%d store reads for 3 lookups", inner.byID.Load())
	}
	if err := c.SetActive(ctx, "a", "u1", false, time.Now()); err != nil {
		t.Fatal(err)
	}
	if got, _ := c.ByID(ctx, "a", "u1"); got.Active {
		t.Fatal("a disabled user served active from the cache after a local write")
	}
	if _, err := c.ByID(ctx, "b", "u1"); err == nil {
		t.Fatal("another tenant's user served")
	}
}

func TestUsersCacheExpires(t *testing.T) {
	t.Parallel()
	inner := &countingUsers{Users: accounttest.NewMemoryUsers()}
	_ = inner.Create(ctx, identity.User{ID: "u1", TenantID: "a", EmailKey: "k", Active: true})
	c := cache.NewUsers(inner, 10, 20*time.Millisecond)
	_, _ = c.ByID(ctx, "a", "u1")
	deadline := time.Now().Add(5 * time.Second)
	for inner.byID.Load() < 2 {
		if time.Now().After(deadline) {
			t.Fatal("a cached user never expired")
		}
		time.Sleep(10 * time.Millisecond)
		_, _ = c.ByID(ctx, "a", "u1")
	}
}

type countingSessions struct {
	session.Sessions
	bySecret atomic.Int64
}

func (c *countingSessions) BySecret(ctx context.Context, tenantID, hash string) (identity.Session, error) {
	c.bySecret.Add(1)
	return c.Sessions.BySecret(ctx, tenantID, hash)
}

func TestSessionsCacheDropsOnRevokeAndTouchAndRereadsDeadEntries(t *testing.T) {
	t.Parallel()
	clk := newClock()
	inner := &countingSessions{Sessions: sessiontest.NewMemorySessions()}
	now := clk.Now()
	s := identity.Session{ID: "s1", TenantID: "a", UserID: "u1", Kind: identity.SessionApp, SecretHash: "h1",
		CreatedAt: now, LastSeenAt: now, IdleExpiresAt: now.Add(time.Hour), ExpiresAt: now.Add(24 * time.Hour)}
	if err := inner.Create(ctx, s); err != nil {
		t.Fatal(err)
	}
	c := cache.NewSessions(inner, clk, 10, time.Minute)
	for range 3 {
		if _, err := c.BySecret(ctx, "a", "h1"); err != nil {
			t.Fatal(err)
		}
	}
	if inner.bySecret.Load() != 1 {
		t.Fatalf("%d store reads for 3 lookups", inner.bySecret.Load())
	}
	// Another instance slides the idle expiry; here the cached copy looks
	// dead an hour later, so it is read again rather than refused.
	if err := inner.Touch(ctx, "a", "s1", now.Add(50*time.Minute), now.Add(110*time.Minute)); err != nil {
		t.Fatal(err)
	}
	clk.advance(61 * time.Minute)
	got, err := c.BySecret(ctx, "a", "h1")
	if err != nil || !got.Live(clk.Now()) {
		t.Fatalf("a stale dead-looking entry must be re-read: %+v %v", got, err)
	}
	if _, err := c.Revoke(ctx, "a", "s1", clk.Now(), clk.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	got, _ = c.BySecret(ctx, "a", "h1")
	if got.RevokedAt.IsZero() {
		t.Fatal("a revoked session served from the cache after a local revoke")
	}
}

type fakeVerifier struct {
	calls atomic.Int64
	exp   time.Time
}

func (f *fakeVerifier) Issue(context.Context, session.AccessClaims) (string, error) { return "", nil }
func (f *fakeVerifier) Verify(_ context.Context, tok string) (session.AccessClaims, error) {
	f.calls.Add(1)
	if tok != "good" {
		return session.AccessClaims{}, session.ErrInvalidToken
	}
	return session.AccessClaims{Subject: "u1", SessionID: "s1", ExpiresAt: f.exp}, nil
}

func TestAccessTokensCacheOnlyVerifiedUnexpiredTokensPerTenant(t *testing.T) {
	t.Parallel()
	clk := newClock()
	store := cache.NewTokens(100, time.Hour)
	inner := &fakeVerifier{exp: clk.Now().Add(10 * time.Minute)}
	a := cache.NewAccessTokens(inner, "a", store, clk)
	for range 3 {
		if _, err := a.Verify(ctx, "good"); err != nil {
			t.Fatal(err)
		}
	}
	if inner.calls.Load() != 1 {
		t.Fatalf("%d verifications for 3 uses of one token", inner.calls.Load())
	}
	for range 2 {
		if _, err := a.Verify(ctx, "forged"); !errors.Is(err, session.ErrInvalidToken) {
			t.Fatal(err)
		}
	}
	if inner.calls.Load() != 3 {
		t.Fatal("failed verifications must not be cached")
	}
	otherInner := &fakeVerifier{exp: inner.exp}
	b := cache.NewAccessTokens(otherInner, "b", store, clk)
	_, _ = b.Verify(ctx, "good")
	if otherInner.calls.Load() != 1 {
		t.Fatal("tenant b was answered from tenant a's verification")
	}
	clk.advance(11 * time.Minute)
	_, _ = a.Verify(ctx, "good")
	if inner.calls.Load() != 4 {
		t.Fatal("an expired token must not be served from the cache")
	}
}

type countingByEmail struct {
	account.Users
	byEmail, byPhone, byID atomic.Int64
}

func (c *countingByEmail) ByPhone(ctx context.Context, tenantID, phone string) (identity.User, error) {
	c.byPhone.Add(1)
	return c.Users.ByPhone(ctx, tenantID, phone)
}

func (c *countingByEmail) ByEmail(ctx context.Context, tenantID, key string) (identity.User, error) {
	c.byEmail.Add(1)
	return c.Users.ByEmail(ctx, tenantID, key)
}

func (c *countingByEmail) ByID(ctx context.Context, tenantID, id string) (identity.User, error) {
	c.byID.Add(1)
	return c.Users.ByID(ctx, tenantID, id)
}

func TestUsersByEmailReadsFreshByIDOnceTheIDIsKnown(t *testing.T) {
	t.Parallel()
	mem := accounttest.NewMemoryUsers()
	inner := &countingByEmail{Users: mem}
	_ = mem.Create(ctx, identity.User{ID: "u1", TenantID: "a", EmailKey: "k@example.com", PasswordHash: "h1", Active: true})
	c := cache.NewUsers(inner, 10, time.Minute)
	for range 3 {
		if u, err := c.ByEmail(ctx, "a", "k@example.com"); err != nil || u.ID != "u1" {
			t.Fatal(u, err)
		}
	}
	if inner.byEmail.Load() != 1 || inner.byID.Load() != 2 {
		t.Fatalf("by e-mail %d, by id %d; want 1 and 2", inner.byEmail.Load(), inner.byID.Load())
	}
	// The hash a login sees is fresh, never cached.
	if err := mem.SetPasswordHash(ctx, "a", "u1", "h2", time.Now()); err != nil {
		t.Fatal(err)
	}
	if u, _ := c.ByEmail(ctx, "a", "k@example.com"); u.PasswordHash != "h2" {
		t.Fatalf("stale password hash %q", u.PasswordHash)
	}
	if _, err := c.ByEmail(ctx, "b", "k@example.com"); err == nil {
		t.Fatal("another tenant's user found by e-mail")
	}
}

func TestUsersByPhoneReadsFreshByIDOnceTheIDIsKnown(t *testing.T) {
	t.Parallel()
	mem := accounttest.NewMemoryUsers()
	inner := &countingByEmail{Users: mem}
	_ = mem.Create(ctx, identity.User{ID: "u1", TenantID: "a", EmailKey: "k@example.com", Phone: "+447400123456", Active: true})
	c := cache.NewUsers(inner, 10, time.Minute)
	for range 3 {
		if u, err := c.ByPhone(ctx, "a", "+447400123456"); err != nil || u.ID != "u1" {
			t.Fatal(u, err)
		}
	}
	if inner.byPhone.Load() != 1 || inner.byID.Load() != 2 {
		t.Fatalf("by phone %d, by id %d; want 1 and 2", inner.byPhone.Load(), inner.byID.Load())
	}
	if _, err := c.ByPhone(ctx, "b", "+447400123456"); !errors.Is(err, errs.ErrNotFound) {
		t.Fatalf("another tenant's user found by phone: %v", err)
	}
}

func TestUsersSetPhoneVerifiedDropsTheCachedUser(t *testing.T) {
	t.Parallel()
	mem := accounttest.NewMemoryUsers()
	_ = mem.Create(ctx, identity.User{ID: "u1", TenantID: "a", EmailKey: "k@example.com", Phone: "+447400123456", Active: true})
	c := cache.NewUsers(mem, 10, time.Minute)
	if u, _ := c.ByID(ctx, "a", "u1"); u.PhoneVerified {
		t.Fatal("verified before")
	}
	if err := c.SetPhoneVerified(ctx, "a", "u1", time.Now()); err != nil {
		t.Fatal(err)
	}
	if u, _ := c.ByID(ctx, "a", "u1"); !u.PhoneVerified {
		t.Fatal("the cached unverified user was served after SetPhoneVerified")
	}
}

// SetName, SetEmailVerified and SetEmail drop the cached user; SetEmail
// also forgets the id remembered for the key the user left, so a lookup of
// that key does not read the user by id first.
func TestUsersProfileWritesDropTheCachedUserAndTheLeftKey(t *testing.T) {
	t.Parallel()
	mem := accounttest.NewMemoryUsers()
	inner := &countingByEmail{Users: mem}
	_ = mem.Create(ctx, identity.User{ID: "u1", TenantID: "a", Email: "k@example.com", EmailKey: "k@example.com", Active: true})
	c := cache.NewUsers(inner, 10, time.Minute)
	if u, err := c.ByEmail(ctx, "a", "k@example.com"); err != nil || u.ID != "u1" { // remembers k@'s id
		t.Fatal(u, err)
	}
	for _, w := range []struct {
		name  string
		write func() error
		seen  func(identity.User) bool
	}{
		{"SetName", func() error { return c.SetName(ctx, "a", "u1", "Ada", "King", time.Now()) }, func(u identity.User) bool { return u.LastName == "King" }},
		{"SetEmailVerified", func() error { return c.SetEmailVerified(ctx, "a", "u1", "k@example.com", time.Now()) }, func(u identity.User) bool { return u.EmailVerified }},
		{"SetEmail", func() error { return c.SetEmail(ctx, "a", "u1", "n@example.com", "n@example.com", time.Now()) }, func(u identity.User) bool { return u.EmailKey == "n@example.com" }},
	} {
		if _, err := c.ByID(ctx, "a", "u1"); err != nil {
			t.Fatal(err)
		}
		if err := w.write(); err != nil {
			t.Fatalf("%s: %v", w.name, err)
		}
		if u, _ := c.ByID(ctx, "a", "u1"); !w.seen(u) {
			t.Fatalf("the cached user was served after %s: %+v", w.name, u)
		}
	}
	before := inner.byID.Load()
	if _, err := c.ByEmail(ctx, "a", "k@example.com"); !errors.Is(err, errs.ErrNotFound) {
		t.Fatalf("ByEmail(left key): %v, want ErrNotFound", err)
	}
	if n := inner.byID.Load() - before; n != 0 {
		t.Fatalf("%d reads by id for the key the user left; its remembered id was not dropped", n)
	}
	if u, err := c.ByEmail(ctx, "a", "n@example.com"); err != nil || u.ID != "u1" {
		t.Fatalf("ByEmail(new key) = %+v, %v", u, err)
	}
}

// SetPhone drops the cached user and forgets the id remembered for the
// number the user left, so a lookup of it does not read the user by id
// first; the new number finds the user.
func TestUsersSetPhoneDropsTheCachedUserAndTheLeftNumber(t *testing.T) {
	t.Parallel()
	mem := accounttest.NewMemoryUsers()
	inner := &countingByEmail{Users: mem}
	_ = mem.Create(ctx, identity.User{ID: "u1", TenantID: "a", EmailKey: "k@example.com", Phone: "+447400123456", PhoneVerified: true, Active: true})
	c := cache.NewUsers(inner, 10, time.Minute)
	if u, err := c.ByPhone(ctx, "a", "+447400123456"); err != nil || u.ID != "u1" { // remembers the number's id
		t.Fatal(u, err)
	}
	if _, err := c.ByID(ctx, "a", "u1"); err != nil {
		t.Fatal(err)
	}
	if err := c.SetPhone(ctx, "a", "u1", "+447400123457", time.Now()); err != nil {
		t.Fatal(err)
	}
	if u, _ := c.ByID(ctx, "a", "u1"); u.Phone != "+447400123457" || u.PhoneVerified {
		t.Fatalf("the cached user was served after SetPhone: %+v", u)
	}
	before := inner.byID.Load()
	if _, err := c.ByPhone(ctx, "a", "+447400123456"); !errors.Is(err, errs.ErrNotFound) {
		t.Fatalf("ByPhone(left number): %v, want ErrNotFound", err)
	}
	if n := inner.byID.Load() - before; n != 0 {
		t.Fatalf("%d reads by id for the number the user left; its remembered id was not dropped", n)
	}
	if u, err := c.ByPhone(ctx, "a", "+447400123457"); err != nil || u.ID != "u1" {
		t.Fatalf("ByPhone(new number) = %+v, %v", u, err)
	}
}

// List is never served from the cache: a change made behind it (another
// instance's) shows at once.
func TestUsersListReadsThrough(t *testing.T) {
	t.Parallel()
	mem := accounttest.NewMemoryUsers()
	_ = mem.Create(ctx, identity.User{ID: "u1", TenantID: "a", EmailKey: "k@example.com", Role: identity.RoleUser, Active: true})
	c := cache.NewUsers(mem, 10, time.Minute)
	active := true
	if got, err := c.List(ctx, "a", account.UserFilter{Active: &active}, account.UserPosition{}, 10); err != nil || len(got) != 1 {
		t.Fatalf("List = %+v, %v", got, err)
	}
	if _, err := c.ByID(ctx, "a", "u1"); err != nil { // cached active
		t.Fatal(err)
	}
	if err := mem.SetActive(ctx, "a", "u1", false, time.Now()); err != nil {
		t.Fatal(err)
	}
	if got, err := c.List(ctx, "a", account.UserFilter{Active: &active}, account.UserPosition{}, 10); err != nil || len(got) != 0 {
		t.Fatalf("List after a change behind the cache = %+v, %v; want none", got, err)
	}
}

func TestSessionsTouchUpdatesTheCachedSession(t *testing.T) {
	t.Parallel()
	clk := newClock()
	inner := &countingSessions{Sessions: sessiontest.NewMemorySessions()}
	now := clk.Now()
	_ = inner.Create(ctx, identity.Session{ID: "s1", TenantID: "a", UserID: "u1", Kind: identity.SessionWeb, SecretHash: "h1",
		CreatedAt: now, LastSeenAt: now, IdleExpiresAt: now.Add(time.Hour), ExpiresAt: now.Add(24 * time.Hour)})
	c := cache.NewSessions(inner, clk, 10, time.Minute)
	_, _ = c.BySecret(ctx, "a", "h1")
	later := now.Add(2 * time.Minute)
	if err := c.Touch(ctx, "a", "s1", later, later.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	got, _ := c.BySecret(ctx, "a", "h1")
	if !got.LastSeenAt.Equal(later) || inner.bySecret.Load() != 1 {
		t.Fatalf("last seen %s after %d store reads; want the touched time from the cache", got.LastSeenAt, inner.bySecret.Load())
	}
}

func (c *countingSessions) ByID(ctx context.Context, tenantID, id string) (identity.Session, error) {
	return c.Sessions.ByID(ctx, tenantID, id)
}

func TestSessionsRereadAKnownSecretByID(t *testing.T) {
	t.Parallel()
	clk := newClock()
	inner := &countingSessions{Sessions: sessiontest.NewMemorySessions()}
	now := clk.Now()
	_ = inner.Create(ctx, identity.Session{ID: "s1", TenantID: "a", UserID: "u1", Kind: identity.SessionApp, SecretHash: "h1",
		CreatedAt: now, LastSeenAt: now, IdleExpiresAt: now.Add(time.Hour), ExpiresAt: now.Add(24 * time.Hour)})
	c := cache.NewSessions(inner, clk, 10, 20*time.Millisecond)
	_, _ = c.BySecret(ctx, "a", "h1")
	time.Sleep(50 * time.Millisecond) // the cached session expires; its id is still known
	got, err := c.BySecret(ctx, "a", "h1")
	if err != nil || got.ID != "s1" {
		t.Fatal(got, err)
	}
	if inner.bySecret.Load() != 1 {
		t.Fatalf("%d lookups by secret; a known secret must be re-read by id", inner.bySecret.Load())
	}
	if _, err := c.BySecret(ctx, "b", "h1"); err == nil {
		t.Fatal("another tenant's session found by secret")
	}
}

// The decorators pass the contract suites of the ports they decorate, so
// that a use case cannot tell a cached store from the store.
func TestUsersCachePassesTheUsersContract(t *testing.T) {
	accounttest.RunUsersContract(t, func(*testing.T) account.Users {
		return cache.NewUsers(accounttest.NewMemoryUsers(), 100, time.Minute)
	})
}

func TestSessionsCachePassesTheSessionsContract(t *testing.T) {
	sessiontest.RunSessionsContract(t, func(*testing.T) session.Sessions {
		return cache.NewSessions(sessiontest.NewMemorySessions(), wallClock{}, 100, time.Minute)
	})
}

type wallClock struct{}

func (wallClock) Now() time.Time { return time.Now() }

// failingUsers and failingSessions answer every read with a store outage
// once down is set, and count the reads that reached them.
type failingUsers struct {
	account.Users
	down          atomic.Bool
	byEmail, byID atomic.Int64
}

var errStoreDown = errs.ErrUnavailable.Wrap(errors.New("users: find: server selection error"))

func (f *failingUsers) ByEmail(ctx context.Context, tenantID, key string) (identity.User, error) {
	f.byEmail.Add(1)
	if f.down.Load() {
		return identity.User{}, errStoreDown
	}
	return f.Users.ByEmail(ctx, tenantID, key)
}

func (f *failingUsers) ByID(ctx context.Context, tenantID, id string) (identity.User, error) {
	f.byID.Add(1)
	if f.down.Load() {
		return identity.User{}, errStoreDown
	}
	return f.Users.ByID(ctx, tenantID, id)
}

type failingSessions struct {
	session.Sessions
	down           atomic.Bool
	bySecret, byID atomic.Int64
}

func (f *failingSessions) BySecret(ctx context.Context, tenantID, hash string) (identity.Session, error) {
	f.bySecret.Add(1)
	if f.down.Load() {
		return identity.Session{}, errStoreDown
	}
	return f.Sessions.BySecret(ctx, tenantID, hash)
}

func (f *failingSessions) ByID(ctx context.Context, tenantID, id string) (identity.Session, error) {
	f.byID.Add(1)
	if f.down.Load() {
		return identity.Session{}, errStoreDown
	}
	return f.Sessions.ByID(ctx, tenantID, id)
}

// TestStoreOutagePassesThroughInOneRead: when the store is down, a lookup
// whose id the cache knows returns the store's error after that one read —
// it neither hides it nor waits for the store a second time by the slower
// lookup — and the id is still known once the store is back.
func TestStoreOutagePassesThroughInOneRead(t *testing.T) {
	t.Parallel()
	t.Run("users by e-mail", func(t *testing.T) {
		t.Parallel()
		inner := &failingUsers{Users: accounttest.NewMemoryUsers()}
		_ = inner.Users.Create(ctx, identity.User{ID: "u1", TenantID: "a", EmailKey: "k@example.com", Active: true})
		c := cache.NewUsers(inner, 10, time.Minute)
		if _, err := c.ByEmail(ctx, "a", "k@example.com"); err != nil {
			t.Fatal(err)
		}
		inner.down.Store(true)
		before := inner.byEmail.Load() + inner.byID.Load()
		if _, err := c.ByEmail(ctx, "a", "k@example.com"); !errors.Is(err, errs.ErrUnavailable) {
			t.Fatalf("error %v, want the store's unavailable error", err)
		}
		if reads := inner.byEmail.Load() + inner.byID.Load() - before; reads != 1 {
			t.Fatalf("%d store reads during the outage, want 1", reads)
		}
		inner.down.Store(false)
		before = inner.byEmail.Load()
		if u, err := c.ByEmail(ctx, "a", "k@example.com"); err != nil || u.ID != "u1" || inner.byEmail.Load() != before {
			t.Fatalf("after the outage: %v %v, %d lookups by e-mail; want the user by id", u, err, inner.byEmail.Load()-before)
		}
	})
	t.Run("sessions by secret", func(t *testing.T) {
		t.Parallel()
		clk := newClock()
		now := clk.Now()
		inner := &failingSessions{Sessions: sessiontest.NewMemorySessions()}
		_ = inner.Sessions.Create(ctx, identity.Session{ID: "s1", TenantID: "a", UserID: "u1", Kind: identity.SessionApp, SecretHash: "h1",
			CreatedAt: now, LastSeenAt: now, IdleExpiresAt: now.Add(time.Hour), ExpiresAt: now.Add(24 * time.Hour)})
		c := cache.NewSessions(inner, clk, 10, time.Minute)
		if _, err := c.BySecret(ctx, "a", "h1"); err != nil {
			t.Fatal(err)
		}
		clk.advance(2 * time.Hour) // the cached entry looks dead: the store is asked again
		inner.down.Store(true)
		before := inner.bySecret.Load() + inner.byID.Load()
		if _, err := c.BySecret(ctx, "a", "h1"); !errors.Is(err, errs.ErrUnavailable) {
			t.Fatalf("error %v, want the store's unavailable error", err)
		}
		if reads := inner.bySecret.Load() + inner.byID.Load() - before; reads != 1 {
			t.Fatalf("%d store reads during the outage, want 1", reads)
		}
	})
}
