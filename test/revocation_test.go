package e2e_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"syscall"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/portcullis/portcullis/adapters/embedded"
)

// Issue 7, part 2, cases 1–3: credentials fail closed whatever Redis or
// the store does. The store and Redis run in the test process (each behind
// a fault proxy where the case needs one), shared by the server processes
// as production instances share them.

// ownStores starts a FerretDB and a miniredis of this test's own: the
// cases flush, stop and cut them, which must not reach other tests.
func ownStores(t *testing.T) (mongoURI, redisURL string) {
	t.Helper()
	uri, stopDB, err := embedded.StartFerretDB(context.Background(), embedded.FerretDBOptions{Dir: t.TempDir(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stopDB)
	url, stopRedis, err := embedded.StartRedis()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stopRedis)
	return uri, url
}

// storesEnv points a server at the given store and Redis.
func storesEnv(t *testing.T, mongoURI, redisURL string) map[string]string {
	return map[string]string{
		"PORTCULLIS_MONGODB_URI":      mongoURI,
		"PORTCULLIS_MONGODB_DATABASE": "failclosed",
		"PORTCULLIS_REDIS_URL":        redisURL,
		"PORTCULLIS_MASTER_KEY":       "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
	}
}

// hostOf is the host:port of a store URL.
func hostOf(t *testing.T, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		t.Fatalf("store URL %q: %v", raw, err)
	}
	return u.Host
}

// flushRedis empties the Redis at url, as a FLUSHALL or a restart without
// persistence would.
func flushRedis(t *testing.T, url string) {
	t.Helper()
	opt, err := goredis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	c := goredis.NewClient(opt)
	defer c.Close()
	if err := c.FlushAll(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
}

// refusedEverywhere checks that a credential is refused on every route
// that reads the principal, on every server given.
func refusedEverywhere(t *testing.T, when string, cred reqOption, servers ...*server) {
	t.Helper()
	for _, s := range servers {
		for _, path := range []string{"/auth/v1/me", "/auth/v1/sessions", "/api/user/me/"} {
			if r := s.get(t, path, withHost("localhost"), cred); r.Status != http.StatusUnauthorized {
				t.Errorf("%s: GET %s on %s answered %d, want 401: %s", when, path, s.URL, r.Status, r.Body)
			}
		}
	}
}

// Case 1: a logged-out access token stays refused on every instance after
// the Redis it uses is flushed — at once (the servers notice the lost set
// and ask the store) and after the set is rebuilt from the store's log.
func TestLoggedOutTokenStaysRefusedAfterRedisIsFlushed(t *testing.T) {
	t.Parallel()
	mongoURI, redisURL := ownStores(t)
	env := storesEnv(t, mongoURI, redisURL)
	a, b := start(t, options{Env: env}), start(t, options{Env: env})
	acct := newAccount("flush")
	register(t, a, "localhost", acct)

	bearer := withBearer(login(t, a, "localhost", acct, "").AccessToken)
	app := withAppToken(login(t, a, "localhost", acct, "app").AppToken)
	for _, cred := range []reqOption{bearer, app} {
		// Warm every cache on both instances first.
		for _, s := range []*server{a, b} {
			if r := me(t, s, "localhost", cred); r.Status != http.StatusOK {
				t.Fatalf("before logout on %s: %d %s", s.URL, r.Status, r.Body)
			}
		}
		if r := a.do(t, http.MethodPost, "/auth/v1/logout", withHost("localhost"), cred); r.Status != http.StatusNoContent {
			t.Fatalf("logout: %d %s", r.Status, r.Body)
		}
	}
	refusedEverywhere(t, "after logout", bearer, a, b)
	flushRedis(t, redisURL)
	refusedEverywhere(t, "right after the Redis flush", bearer, a, b)
	refusedEverywhere(t, "right after the Redis flush (app token)", app, a, b)
	// The sync rebuilds the set from the store within an interval or two.
	time.Sleep(5 * time.Second)
	refusedEverywhere(t, "after the set was rebuilt", bearer, a, b)
	// And the servers still work for a live credential.
	live := withBearer(login(t, b, "localhost", acct, "").AccessToken)
	if r := me(t, a, "localhost", live); r.Status != http.StatusOK {
		t.Fatalf("a new login after the flush: %d %s", r.Status, r.Body)
	}
}

// Case 1, embedded defaults: the embedded Redis is lost at every restart;
// the store (on disk under the data directory) is not. A token logged out
// before the restart stays refused after it.
func TestLoggedOutTokenStaysRefusedAfterARestartOnEmbeddedDefaults(t *testing.T) {
	t.Parallel()
	first := start(t, options{})
	acct := newAccount("restart")
	register(t, first, "localhost", acct)
	bearer := withBearer(login(t, first, "localhost", acct, "").AccessToken)
	if r := first.do(t, http.MethodPost, "/auth/v1/logout", withHost("localhost"), bearer); r.Status != http.StatusNoContent {
		t.Fatalf("logout: %d %s", r.Status, r.Body)
	}
	if code := first.stop(t, syscall.SIGTERM); code != 0 {
		t.Fatalf("first server exited %d", code)
	}
	second := start(t, options{DataDir: first.DataDir})
	refusedEverywhere(t, "after a restart", bearer, second)
	live := withBearer(login(t, second, "localhost", acct, "").AccessToken)
	if r := me(t, second, "localhost", live); r.Status != http.StatusOK {
		t.Fatalf("a new login after the restart: %d %s", r.Status, r.Body)
	}
}

// Case 2: with Redis down, a reused refresh token revokes the session
// durably before the answer says so: the session's newer refresh token no
// longer rotates, then or after Redis returns, and its access token stays
// refused.
func TestRefreshReuseWithRedisDownRevokesDurably(t *testing.T) {
	t.Parallel()
	mongoURI, redisURL := ownStores(t)
	proxy := newFaultProxy(t, hostOf(t, redisURL))
	s := start(t, options{Env: storesEnv(t, mongoURI, "redis://"+proxy.Addr())})
	acct := newAccount("reuse")
	register(t, s, "localhost", acct)
	first := login(t, s, "localhost", acct, "")
	refresh := func(token string) reply {
		return s.do(t, http.MethodPost, "/auth/v1/token/refresh", withHost("localhost"), withJSON(map[string]any{"refresh_token": token}))
	}
	r := refresh(first.RefreshToken)
	if r.Status != http.StatusOK {
		t.Fatalf("first refresh: %d %s", r.Status, r.Body)
	}
	second := decodeJSON[loginAnswer](t, r)

	proxy.SetMode(proxyRefuse)
	r = refresh(first.RefreshToken)
	switch {
	case r.Status == http.StatusUnauthorized:
		wantProblem(t, r, http.StatusUnauthorized, "refresh_token_reused")
		// Then the session must really be revoked.
		if r := refresh(second.RefreshToken); r.Status != http.StatusUnauthorized {
			t.Fatalf("the newer refresh token still rotates with Redis down after the reuse was reported: %d %s", r.Status, r.Body)
		}
	case r.Status == http.StatusServiceUnavailable:
		t.Fatalf("reuse answered 503; the store is up, so the revocation can be made durable: %s", r.Body)
	default:
		t.Fatalf("reuse of a rotated token with Redis down: %d %s", r.Status, r.Body)
	}
	proxy.SetMode(proxyPass)
	time.Sleep(3 * time.Second) // a sync pass
	if r := refresh(second.RefreshToken); r.Status != http.StatusUnauthorized {
		t.Fatalf("after Redis returned, the newer refresh token rotates: %d %s", r.Status, r.Body)
	}
	refusedEverywhere(t, "after Redis returned", withBearer(second.AccessToken), s)
}

// Case 3: a logout while the store is down fails with 503 and changes
// nothing a later request could undo; once the store is back, the
// credential still works (it was not half revoked), and a logout then
// ends it for good — also after its Redis entry would have lapsed.
func TestLogoutWithTheStoreDownChangesNothing(t *testing.T) {
	t.Parallel()
	mongoURI, redisURL := ownStores(t)
	proxy := newFaultProxy(t, hostOf(t, mongoURI))
	s := start(t, options{Env: storesEnv(t, "mongodb://"+proxy.Addr()+"/", redisURL)})
	acct := newAccount("storedown")
	register(t, s, "localhost", acct)
	app := withAppToken(login(t, s, "localhost", acct, "app").AppToken)
	if r := me(t, s, "localhost", app); r.Status != http.StatusOK {
		t.Fatalf("before: %d %s", r.Status, r.Body)
	}

	proxy.SetMode(proxyRefuse)
	began := time.Now()
	r := s.do(t, http.MethodPost, "/auth/v1/logout", withHost("localhost"), app)
	if took := time.Since(began); took > 8*time.Second {
		t.Errorf("logout with the store down took %s", took)
	}
	wantProblem(t, r, http.StatusServiceUnavailable, "unavailable")
	if r.Header.Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}
	proxy.SetMode(proxyPass)

	// Nothing was half done: the session is live and listed, and the
	// Redis set has no entry for it that could lapse later.
	list := s.get(t, "/auth/v1/sessions", withHost("localhost"), app)
	if list.Status != http.StatusOK {
		t.Fatalf("after the failed logout: %d %s", list.Status, list.Body)
	}
	if r := s.do(t, http.MethodPost, "/auth/v1/logout", withHost("localhost"), app); r.Status != http.StatusNoContent {
		t.Fatalf("logout once the store is back: %d %s", r.Status, r.Body)
	}
	flushRedis(t, redisURL) // the Redis entry lapses (or is lost): the store's revocation stands
	refusedEverywhere(t, "after logout and the loss of its Redis entry", app, s)
}

// Part 1: seed 001's register signs in through the login pipeline, so a
// tenant's policy applies to it as to a login. On a tenant that requires a
// verified address, a new account is created and answered (the user, no
// session), and nothing it answers works as a credential.
func TestSeed001RegisterSignsInOnlyThroughThePipeline(t *testing.T) {
	t.Parallel()
	s := startTenants(t, tenantSpec{ID: "strict", Domains: []string{"localhost"}, RequireVerifiedEmail: true})
	for _, mode := range []reqOption{withHeader("X-Requested-By", "mobile_app"), withHeader("X-Requested-By", "web")} {
		a := newAccount("strict")
		r := s.do(t, http.MethodPost, "/api/user/register/", withHost("localhost"), mode, withJSON(registerBody(a)))
		if r.Status != http.StatusOK {
			t.Fatalf("register: %d %s", r.Status, r.Body)
		}
		m := decodeJSON[map[string]any](t, r)
		if u, _ := m["user"].(map[string]any); u == nil || u["email"] != a.Email {
			t.Fatalf("register answered no user: %s", r.Body)
		}
		if _, ok := m["session"]; ok || sessionCookie(r) != nil {
			t.Fatalf("an unverified account got a session from register: %s (cookie %v)", r.Body, sessionCookie(r))
		}
		// The account exists: registering it again is a conflict, and
		// a login is refused like any unverified account's.
		if r := s.do(t, http.MethodPost, "/api/user/register/", withHost("localhost"), mode, withJSON(registerBody(a))); r.Status == http.StatusOK {
			t.Fatalf("registering the address again: %d %s", r.Status, r.Body)
		}
		if r := tryLogin(t, s, "localhost", a.Email, a.Password); r.Status != http.StatusUnauthorized {
			t.Fatalf("login of the unverified account: %d %s", r.Status, r.Body)
		}
	}
}
