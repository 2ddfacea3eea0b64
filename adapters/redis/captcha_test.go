package redis_test

import (
	"context"
	"testing"
	"time"

	"github.com/portcullis/portcullis/adapters/redis"
	"github.com/portcullis/portcullis/application/captcha"
	"github.com/portcullis/portcullis/application/captcha/captchatest"
)

// TestCaptchaFailuresContract runs the Failures contract suite on Redis:
// on miniredis in make test, on a real Redis where REDIS_URL is set.
func TestCaptchaFailuresContract(t *testing.T) {
	c := client(t)
	captchatest.RunFailuresContract(t, func(t *testing.T) captcha.Failures { return redis.NewCaptchaFailures(c, freshTenant(t, c)) })
}

// TestCaptchaTokensContract runs the UsedTokens contract suite on Redis.
func TestCaptchaTokensContract(t *testing.T) {
	c := client(t)
	captchatest.RunUsedTokensContract(t, func(t *testing.T) captcha.UsedTokens { return redis.NewCaptchaTokens(c, freshTenant(t, c)) })
}

func TestCaptchaKeysInTenantNamespaceWithTTL(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := client(t)
	a, b := freshTenant(t, c), freshTenant(t, c)
	fa, fb := redis.NewCaptchaFailures(c, a), redis.NewCaptchaFailures(c, b)
	ua, ub := redis.NewCaptchaTokens(c, a), redis.NewCaptchaTokens(c, b)

	if err := fa.Add(ctx, "ip:203.0.113.7", 15*time.Minute); err != nil {
		t.Fatal(err)
	}
	if first, err := ua.Claim(ctx, "d1", 2*time.Minute); err != nil || !first {
		t.Fatalf("claim: %v %v", first, err)
	}
	for key, max := range map[string]time.Duration{
		redis.Key(a, "captcha", "fail", "ip:203.0.113.7"): 15 * time.Minute,
		redis.Key(a, "captcha", "used", "d1"):             2 * time.Minute,
	} {
		ttl, err := c.PTTL(ctx, key).Result()
		if err != nil || ttl <= 0 || ttl > max {
			t.Errorf("%s: TTL %s (%v), want in (0, %s]", key, ttl, err, max)
		}
	}
	// Another tenant's counts and tokens are its own.
	if n, err := fb.Count(ctx, "ip:203.0.113.7"); err != nil || n != 0 {
		t.Fatalf("other tenant counts %d, %v", n, err)
	}
	if first, err := ub.Claim(ctx, "d1", 2*time.Minute); err != nil || !first {
		t.Fatalf("other tenant's claim of the same digest: %v %v", first, err)
	}
}

func TestCaptchaRefusesTTLsRedisWouldNotKeep(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := client(t)
	id := freshTenant(t, c)
	if _, err := redis.NewCaptchaTokens(c, id).Claim(ctx, "d", 0); err == nil {
		t.Fatal("a claim without a lifetime was accepted (it would be remembered for ever)")
	}
	if err := redis.NewCaptchaFailures(c, id).Add(ctx, "k", 0); err == nil {
		t.Fatal("a failure without a window was accepted")
	}
}
