package redis

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/go-redis/redis_rate/v10"
	goredis "github.com/redis/go-redis/v9"

	"github.com/portcullis/portcullis/application/platform"
	"github.com/portcullis/portcullis/application/throttle"
	"github.com/portcullis/portcullis/domain/tenant"
)

var _ throttle.Limiter = (*Limiter)(nil)

// minRetryAfter is the smallest retry-after a refusal reports, so that a
// refusal never comes with a zero or negative wait after float rounding.
const minRetryAfter = time.Millisecond

// Limiter is one tenant's throttle.Limiter (each call bounded by the
// context's platform.StoreTimeout): a GCRA limiter
// (github.com/go-redis/redis_rate) that keeps one value per key, under
// Key(tenant, "rl", key), updated atomically by a Lua script on the server.
//
// A tenant.Limit{Count, Window} is a bucket of Count events that refills at
// Count per Window: Count events may come at once, then one more every
// Window/Count. A refused Hit is not counted.
type Limiter struct {
	tenantID string
	rate     *redis_rate.Limiter
}

// NewLimiter returns the limiter of one tenant.
func NewLimiter(c Client, tenantID string) *Limiter {
	return &Limiter{tenantID: tenantID, rate: redis_rate.NewLimiter(unprefixed{c})}
}

// Hit counts one event if it is allowed. When not, nothing is counted and
// retryAfter is the time until one more would be allowed.
func (l *Limiter) Hit(ctx context.Context, key string, lim tenant.Limit) (bool, time.Duration, error) {
	ctx, cancel := platform.BoundStore(ctx)
	defer cancel()
	rl, err := toRate(lim)
	if err != nil {
		return false, 0, err
	}
	res, err := l.rate.AllowN(ctx, l.key(key), rl, 1)
	if err != nil {
		return false, 0, fmt.Errorf("limiter: hit %q: %w", key, err)
	}
	if res.Allowed > 0 {
		return true, 0, nil
	}
	return false, max(res.RetryAfter, minRetryAfter), nil
}

// Refund gives one counted event back (GCRA with a cost of -1: the bucket
// never holds more than Count). When that leaves the bucket full, the key
// is deleted, since the script only writes a key that still has a wait.
func (l *Limiter) Refund(ctx context.Context, key string, lim tenant.Limit) error {
	ctx, cancel := platform.BoundStore(ctx)
	defer cancel()
	rl, err := toRate(lim)
	if err != nil {
		return err
	}
	res, err := l.rate.AllowN(ctx, l.key(key), rl, -1)
	if err != nil {
		return fmt.Errorf("limiter: refund %q: %w", key, err)
	}
	if res.ResetAfter <= 0 {
		return l.Reset(ctx, key)
	}
	return nil
}

// Reset forgets every event counted against key.
func (l *Limiter) Reset(ctx context.Context, key string) error {
	ctx, cancel := platform.BoundStore(ctx)
	defer cancel()
	if err := l.rate.Reset(ctx, l.key(key)); err != nil {
		return fmt.Errorf("limiter: reset %q: %w", key, err)
	}
	return nil
}

func (l *Limiter) key(k string) string { return Key(l.tenantID, "rl", k) }

// toRate maps a tenant limit to redis_rate's. The script divides by Count
// and Window, so a limit that tenant.Validate would refuse is an error here
// rather than a limiter that allows or refuses everything.
func toRate(lim tenant.Limit) (redis_rate.Limit, error) {
	if lim.Count < 1 || lim.Window <= 0 {
		return redis_rate.Limit{}, fmt.Errorf("limiter: invalid limit %d per %s", lim.Count, lim.Window)
	}
	return redis_rate.Limit{Rate: lim.Count, Burst: lim.Count, Period: lim.Window}, nil
}

// rateKeyPrefix is what redis_rate puts in front of every key it is given.
const rateKeyPrefix = "rate:"

// unprefixed hands redis_rate the client with its "rate:" key prefix taken
// off again, so that limiter keys stay inside the tenant's "pc:<tenant>:"
// namespace like every other key (a tenant's keys can then be found, or an
// ACL written, by that one pattern).
type unprefixed struct{ Client }

func (u unprefixed) Eval(ctx context.Context, script string, keys []string, args ...any) *goredis.Cmd {
	return u.Client.Eval(ctx, script, trimRatePrefix(keys), args...)
}

func (u unprefixed) EvalSha(ctx context.Context, sha1 string, keys []string, args ...any) *goredis.Cmd {
	return u.Client.EvalSha(ctx, sha1, trimRatePrefix(keys), args...)
}

func (u unprefixed) EvalRO(ctx context.Context, script string, keys []string, args ...any) *goredis.Cmd {
	return u.Client.EvalRO(ctx, script, trimRatePrefix(keys), args...)
}

func (u unprefixed) EvalShaRO(ctx context.Context, sha1 string, keys []string, args ...any) *goredis.Cmd {
	return u.Client.EvalShaRO(ctx, sha1, trimRatePrefix(keys), args...)
}

func (u unprefixed) Del(ctx context.Context, keys ...string) *goredis.IntCmd {
	return u.Client.Del(ctx, trimRatePrefix(keys)...)
}

func trimRatePrefix(keys []string) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = strings.TrimPrefix(k, rateKeyPrefix)
	}
	return out
}
