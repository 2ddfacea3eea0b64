package e2e_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/portcullis/portcullis/adapters/embedded"
)

// Bounds of the outage tests: what a client may wait for its 503 (the
// default store_timeout is 3 s), what /readyz may take (it gives its checks
// 2 s), and how long a store that is back may take to be used again.
const (
	outageAnswerBound = 5 * time.Second
	readyzBound       = 3500 * time.Millisecond
	recoveryTimeout   = 45 * time.Second
)

// behindProxies is a server process whose MongoDB-compatible store and
// Redis, both run in the test process, are each reached through a
// faultProxy.
type behindProxies struct {
	srv          *server
	store, redis *faultProxy
	// redisURL is the embedded Redis itself, not its proxy.
	redisURL string
}

// startBehindProxies starts the stores, their proxies and a server with one
// tenant, "local", on localhost, with the default store_timeout. It always
// uses the embedded stores, even when MONGODB_URI is set: a proxy stands in
// front of one address, not a replica set.
func startBehindProxies(t *testing.T) *behindProxies {
	t.Helper()
	return startBehindProxiesWith(t, tenantSpec{ID: "local", Domains: []string{"localhost"}})
}

// startBehindProxiesWith is startBehindProxies with the tenant spec, and
// keeps the embedded Redis's own URL (b.redisURL) for a test that empties
// it.
func startBehindProxiesWith(t *testing.T, spec tenantSpec) *behindProxies {
	t.Helper()
	mongoURI, stopMongo, err := embedded.StartFerretDB(context.Background(), embedded.FerretDBOptions{Dir: t.TempDir(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stopMongo)
	redisURL, stopRedis, err := embedded.StartRedis()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stopRedis)

	b := &behindProxies{redisURL: redisURL}
	var proxied [2]string
	for i, raw := range []string{mongoURI, redisURL} {
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		p := newFaultProxy(t, u.Host)
		u.Host = p.Addr()
		proxied[i] = u.String()
		if i == 0 {
			b.store = p
		} else {
			b.redis = p
		}
	}
	tenants := writeTenants(t, map[string]string{spec.ID + ".yaml": spec.yaml()})
	b.srv = start(t, options{Env: map[string]string{
		"PORTCULLIS_MONGODB_URI":      proxied[0],
		"PORTCULLIS_MONGODB_DATABASE": "outage",
		"PORTCULLIS_REDIS_URL":        proxied[1],
		"PORTCULLIS_TENANTS_DIR":      tenants,
	}})
	return b
}

// timed sends a request and returns the reply with how long it took.
func timed(t *testing.T, s *server, method, path string, opts ...reqOption) (reply, time.Duration) {
	t.Helper()
	start := time.Now()
	r := s.do(t, method, path, append([]reqOption{withHost("localhost")}, opts...)...)
	return r, time.Since(start)
}

// wantUnavailable checks a canonical-API answer during an outage: 503
// problem+json with code "unavailable", a Retry-After of whole seconds,
// and no longer than the bound.
func wantUnavailable(t *testing.T, what string, r reply, took time.Duration) {
	t.Helper()
	wantProblem(t, r, http.StatusServiceUnavailable, "unavailable")
	wantRetryAfter(t, what, r)
	if took > outageAnswerBound {
		t.Errorf("%s: answered after %s, want within %s", what, took.Round(time.Millisecond), outageAnswerBound)
	}
}

func wantRetryAfter(t *testing.T, what string, r reply) {
	t.Helper()
	if n, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || n < 1 {
		t.Errorf("%s: Retry-After %q, want whole seconds, at least 1", what, r.Header.Get("Retry-After"))
	}
}

// wantReadyzUnavailable checks that /readyz answers 503 in time, naming
// the dependency.
func wantReadyzUnavailable(t *testing.T, s *server, dependency string) {
	t.Helper()
	start := time.Now()
	r := s.get(t, "/readyz")
	took := time.Since(start)
	p := wantProblem(t, r, http.StatusServiceUnavailable, "unavailable")
	wantRetryAfter(t, "/readyz", r)
	if want := "Not ready: " + dependency + " unreachable."; p.Detail != want {
		t.Errorf("/readyz detail %q, want %q", p.Detail, want)
	}
	if took > readyzBound {
		t.Errorf("/readyz answered after %s, want within %s", took.Round(time.Millisecond), readyzBound)
	}
}

// eventuallyStatus repeats send until it answers want, and fails the test
// if that does not happen within recoveryTimeout.
func eventuallyStatus(t *testing.T, what string, want int, send func() reply) reply {
	t.Helper()
	deadline := time.Now().Add(recoveryTimeout)
	for {
		r := send()
		if r.Status == want {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still %d %s after %s, want %d", what, r.Status, r.Body, recoveryTimeout, want)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestStoreOutageAnswers503WithRetryAfter (issue 7, cases 4 and 5): with
// the store refusing connections, and separately with it hanging, login,
// /me, register and logout answer 503 "unavailable" with Retry-After within
// the store timeout, not 500 after the driver's timeouts; /readyz answers
// 503 within its 2 s; the compatibility profiles' 503s carry Retry-After
// too; and once the store is back, the same credentials work again.
func TestStoreOutageAnswers503WithRetryAfter(t *testing.T) {
	t.Parallel()
	b := startBehindProxies(t)
	s := b.srv
	for _, mode := range []proxyMode{proxyRefuse, proxyHang} {
		t.Run(mode.String(), func(t *testing.T) {
			// Credentials obtained before the outage and not used yet, so
			// that no cache of the server holds their sessions: the
			// requests below must reach the store.
			acct := newAccount("outage-" + mode.String())
			register(t, s, "localhost", acct)
			forMe := login(t, s, "localhost", acct, "app").AppToken
			forLogout := login(t, s, "localhost", acct, "app").AppToken
			newcomer := newAccount("outage-newcomer-" + mode.String())

			b.store.SetMode(mode)
			r, took := timed(t, s, http.MethodPost, "/auth/v1/login", withJSON(map[string]any{"email": acct.Email, "password": acct.Password, "session": "app"}))
			wantUnavailable(t, "login", r, took)
			r, took = timed(t, s, http.MethodGet, "/auth/v1/me", withAppToken(forMe))
			wantUnavailable(t, "/me", r, took)
			r, took = timed(t, s, http.MethodPost, "/auth/v1/register", withJSON(registerBody(newcomer)))
			wantUnavailable(t, "register", r, took)
			r, took = timed(t, s, http.MethodPost, "/auth/v1/logout", withAppToken(forLogout))
			wantUnavailable(t, "logout", r, took)
			wantReadyzUnavailable(t, s, "mongodb")
			if mode == proxyRefuse {
				creds := withJSON(map[string]any{"email": acct.Email, "password": acct.Password})
				for _, path := range []string{"/users/login/", "/api/user/login/"} {
					r, took := timed(t, s, http.MethodPost, path, creds)
					if r.Status != http.StatusServiceUnavailable || took > outageAnswerBound {
						t.Errorf("%s: %d after %s, want 503 within %s; body %s", path, r.Status, took.Round(time.Millisecond), outageAnswerBound, r.Body)
					}
					wantRetryAfter(t, path, r)
				}
			}

			b.store.SetMode(proxyPass)
			eventuallyStatus(t, "login after the store is back", http.StatusOK, func() reply {
				return tryLogin(t, s, "localhost", acct.Email, acct.Password)
			})
			if r := me(t, s, "localhost", withAppToken(forMe)); r.Status != http.StatusOK {
				t.Errorf("/me after the store is back: %d %s", r.Status, r.Body)
			}
			if r := s.do(t, http.MethodPost, "/auth/v1/logout", withHost("localhost"), withAppToken(forLogout)); r.Status != http.StatusNoContent {
				t.Errorf("logout after the store is back: %d %s", r.Status, r.Body)
			}
			if r := me(t, s, "localhost", withAppToken(forLogout)); r.Status != http.StatusUnauthorized {
				t.Errorf("/me with the logged-out token: %d %s, want 401", r.Status, r.Body)
			}
			register(t, s, "localhost", newAccount("outage-after-"+mode.String()))
			eventuallyStatus(t, "/readyz after the store is back", http.StatusOK, func() reply { return s.get(t, "/readyz") })
		})
	}
}

// TestRedisOutageAnswers503WithRetryAfter (issue 7, cases 4 and 5): with
// Redis hanging, and separately refusing, login and register (which must
// count the attempt in Redis) answer 503 "unavailable" with Retry-After
// within the store timeout (a hanging Redis used to hold them for the
// socket timeouts and retries), and /readyz answers 503 within its 2 s.
// Credentials fail closed on the store instead of failing: /me is
// answered from the store, and a logout is durable there and refused from
// then on. Everything works once Redis is back.
func TestRedisOutageAnswers503WithRetryAfter(t *testing.T) {
	t.Parallel()
	b := startBehindProxies(t)
	s := b.srv
	for _, mode := range []proxyMode{proxyHang, proxyRefuse} {
		t.Run(mode.String(), func(t *testing.T) {
			acct := newAccount("redis-" + mode.String())
			register(t, s, "localhost", acct)
			forMe := login(t, s, "localhost", acct, "app").AppToken
			forLogout := login(t, s, "localhost", acct, "app").AppToken

			b.redis.SetMode(mode)
			r, took := timed(t, s, http.MethodPost, "/auth/v1/login", withJSON(map[string]any{"email": acct.Email, "password": acct.Password, "session": "app"}))
			wantUnavailable(t, "login", r, took)
			r, took = timed(t, s, http.MethodPost, "/auth/v1/register", withJSON(registerBody(newAccount("redis-newcomer"))))
			wantUnavailable(t, "register", r, took)
			answeredFromStore := func(what string, want int, r reply, took time.Duration) {
				t.Helper()
				if r.Status != want || took > outageAnswerBound {
					t.Errorf("%s with Redis %s: %d after %s, want %d within %s; body %s", what, mode, r.Status, took.Round(time.Millisecond), want, outageAnswerBound, r.Body)
				}
			}
			r, took = timed(t, s, http.MethodGet, "/auth/v1/me", withAppToken(forMe))
			answeredFromStore("/me", http.StatusOK, r, took)
			r, took = timed(t, s, http.MethodPost, "/auth/v1/logout", withAppToken(forLogout))
			answeredFromStore("logout", http.StatusNoContent, r, took)
			r, took = timed(t, s, http.MethodGet, "/auth/v1/me", withAppToken(forLogout))
			answeredFromStore("/me with the token just logged out", http.StatusUnauthorized, r, took)
			wantReadyzUnavailable(t, s, "redis")

			b.redis.SetMode(proxyPass)
			eventuallyStatus(t, "login after Redis is back", http.StatusOK, func() reply {
				return tryLogin(t, s, "localhost", acct.Email, acct.Password)
			})
			if r := me(t, s, "localhost", withAppToken(forMe)); r.Status != http.StatusOK {
				t.Errorf("/me after Redis is back: %d %s", r.Status, r.Body)
			}
			time.Sleep(3 * time.Second) // a revocation sync pass
			if r := me(t, s, "localhost", withAppToken(forLogout)); r.Status != http.StatusUnauthorized {
				t.Errorf("the token logged out while Redis was away, after it is back: %d %s, want 401", r.Status, r.Body)
			}
			if r := s.do(t, http.MethodPost, "/auth/v1/logout", withHost("localhost"), withAppToken(forMe)); r.Status != http.StatusNoContent {
				t.Errorf("logout after Redis is back: %d %s", r.Status, r.Body)
			}
			eventuallyStatus(t, "/readyz after Redis is back", http.StatusOK, func() reply { return s.get(t, "/readyz") })
		})
	}
}
