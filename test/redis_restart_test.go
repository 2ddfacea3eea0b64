package e2e_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// TestRedisRestartedEmpty (issue 14, fault suite): Redis comes back from a
// restart without persistence — every connection dropped, every key gone.
// No revoked credential works again: not an app token, not an access JWT
// whose revocation lived only in Redis. Throttling is re-established: the
// per-account limit counts from zero again and refuses at its limit.
func TestRedisRestartedEmpty(t *testing.T) {
	t.Parallel()
	b := startBehindProxiesWith(t, tenantSpec{ID: "local", Domains: []string{"localhost"}, LoginPerAccount: "{limit: 3, window: 10m}"})
	s := b.srv
	acct := newAccount("redis-restart")
	register(t, s, "localhost", acct)
	revokedApp := login(t, s, "localhost", acct, "app").AppToken
	revokedJWT := login(t, s, "localhost", acct, "").AccessToken
	liveJWT := login(t, s, "localhost", acct, "").AccessToken
	for what, opt := range map[string]reqOption{"app token": withAppToken(revokedApp), "access token": withBearer(revokedJWT)} {
		if r := s.do(t, http.MethodPost, "/auth/v1/logout", withHost("localhost"), opt); r.Status != http.StatusNoContent {
			t.Fatalf("logout of the %s: %d %s", what, r.Status, r.Body)
		}
	}
	other := newAccount("redis-restart-throttled")
	register(t, s, "localhost", other)
	wrongLogins := func(what string) {
		t.Helper()
		for i := range 3 {
			if r := tryLogin(t, s, "localhost", other.Email, "wrong-"+other.Password); r.Status != http.StatusUnauthorized {
				t.Fatalf("%s: wrong login %d: %d, want 401", what, i+1, r.Status)
			}
		}
		if r := tryLogin(t, s, "localhost", other.Email, other.Password); r.Status != http.StatusTooManyRequests {
			t.Fatalf("%s: the login after 3 wrong ones: %d, want 429", what, r.Status)
		}
	}
	wrongLogins("before the restart")

	// The restart: connections refused, then an empty Redis.
	b.redis.SetMode(proxyRefuse)
	opt, err := goredis.ParseURL(b.redisURL)
	if err != nil {
		t.Fatal(err)
	}
	direct := goredis.NewClient(opt)
	defer direct.Close()
	if err := direct.FlushAll(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	b.redis.SetMode(proxyPass)

	eventuallyStatus(t, "/readyz after the restart", http.StatusOK, func() reply { return s.get(t, "/readyz") })
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		for what, opt := range map[string]reqOption{"app token": withAppToken(revokedApp), "access token": withBearer(revokedJWT)} {
			if r := me(t, s, "localhost", opt); r.Status == http.StatusOK {
				t.Fatalf("the revoked %s works again after Redis came back empty", what)
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	if r := me(t, s, "localhost", withBearer(liveJWT)); r.Status != http.StatusOK {
		t.Errorf("a live access token after the restart: %d %s", r.Status, r.Body)
	}
	wrongLogins("after the restart")
}
