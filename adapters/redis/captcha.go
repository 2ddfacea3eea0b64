package redis

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/portcullis/portcullis/application/captcha"
	"github.com/portcullis/portcullis/application/platform"
)

var (
	_ captcha.Failures   = (*CaptchaFailures)(nil)
	_ captcha.UsedTokens = (*CaptchaTokens)(nil)
)

// CaptchaFailures is one tenant's captcha.Failures (each call bounded by
// the context's platform.StoreTimeout): one counter per key, under
// Key(tenant, "captcha", "fail", key), incremented and given a new TTL of
// the window in one MULTI, so that Redis forgets it a window after its
// last failure.
type CaptchaFailures struct {
	c        Client
	tenantID string
}

// NewCaptchaFailures returns the failed-login counts of one tenant.
func NewCaptchaFailures(c Client, tenantID string) *CaptchaFailures {
	return &CaptchaFailures{c: c, tenantID: tenantID}
}

// Add counts one failure against key and restarts its window.
func (f *CaptchaFailures) Add(ctx context.Context, key string, window time.Duration) error {
	if window < time.Millisecond {
		return fmt.Errorf("captcha failures: window %s is shorter than a millisecond", window)
	}
	ctx, cancel := platform.BoundStore(ctx)
	defer cancel()
	k := f.key(key)
	// One transaction: a counter never stays without its TTL, whatever
	// fails between the two commands.
	_, err := f.c.TxPipelined(ctx, func(p goredis.Pipeliner) error {
		p.Incr(ctx, k)
		p.PExpire(ctx, k, window)
		return nil
	})
	if err != nil {
		return fmt.Errorf("captcha failures: add: %w", err)
	}
	return nil
}

// Count returns key's failures not yet forgotten.
func (f *CaptchaFailures) Count(ctx context.Context, key string) (int, error) {
	ctx, cancel := platform.BoundStore(ctx)
	defer cancel()
	v, err := f.c.Get(ctx, f.key(key)).Result()
	if errors.Is(err, goredis.Nil) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("captcha failures: count: %w", err)
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, fmt.Errorf("captcha failures: count: not a number: %q", v)
	}
	return n, nil
}

// Reset forgets key's failures.
func (f *CaptchaFailures) Reset(ctx context.Context, key string) error {
	ctx, cancel := platform.BoundStore(ctx)
	defer cancel()
	if err := f.c.Del(ctx, f.key(key)).Err(); err != nil {
		return fmt.Errorf("captcha failures: reset: %w", err)
	}
	return nil
}

func (f *CaptchaFailures) key(k string) string { return Key(f.tenantID, "captcha", "fail", k) }

// CaptchaTokens is one tenant's captcha.UsedTokens (each call bounded by
// the context's platform.StoreTimeout): one key per used token, under
// Key(tenant, "captcha", "used", digest), written with SET NX and the
// token's lifetime as TTL. SET NX is one atomic step on the server, so of
// concurrent claims of one digest, on any instance, exactly one sets it.
type CaptchaTokens struct {
	c        Client
	tenantID string
}

// NewCaptchaTokens returns the used CAPTCHA tokens of one tenant.
func NewCaptchaTokens(c Client, tenantID string) *CaptchaTokens {
	return &CaptchaTokens{c: c, tenantID: tenantID}
}

// Claim marks digest used for ttl; it reports whether it was not used.
func (u *CaptchaTokens) Claim(ctx context.Context, digest string, ttl time.Duration) (bool, error) {
	if ttl < time.Millisecond {
		// SET without a TTL would remember the digest for ever.
		return false, fmt.Errorf("captcha tokens: lifetime %s is shorter than a millisecond", ttl)
	}
	ctx, cancel := platform.BoundStore(ctx)
	defer cancel()
	first, err := u.c.SetNX(ctx, Key(u.tenantID, "captcha", "used", digest), "1", ttl).Result()
	if err != nil {
		return false, fmt.Errorf("captcha tokens: claim: %w", err)
	}
	return first, nil
}
