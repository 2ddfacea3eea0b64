package redis_test

import (
	"context"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/portcullis/portcullis/adapters/internal/nettest"
	"github.com/portcullis/portcullis/adapters/redis"
	"github.com/portcullis/portcullis/application/platform"
	"github.com/portcullis/portcullis/domain/tenant"
)

func TestNewClientHonoursContextsAndBoundsSockets(t *testing.T) {
	t.Parallel()
	cases := []struct {
		url               string
		dial, read, write time.Duration
	}{
		{"redis://127.0.0.1:6390/0", redis.DefaultDialTimeout, redis.DefaultIOTimeout, redis.DefaultIOTimeout},
		{"redis://127.0.0.1:6390/0?dial_timeout=7s&read_timeout=9s", 7 * time.Second, 9 * time.Second, 9 * time.Second},
		{"redis://127.0.0.1:6390/0?write_timeout=4s", redis.DefaultDialTimeout, redis.DefaultIOTimeout, 4 * time.Second},
		{"redis+sentinel://s1.example:26379/?master_name=main", redis.DefaultDialTimeout, redis.DefaultIOTimeout, redis.DefaultIOTimeout},
		{"redis+cluster://a.example:7000,b.example:7001?read_timeout=5s", redis.DefaultDialTimeout, 5 * time.Second, 5 * time.Second},
	}
	for _, tc := range cases {
		c, err := redis.NewClient(tc.url)
		if err != nil {
			t.Fatalf("%s: %v", tc.url, err)
		}
		var ctxTimeouts bool
		var dial, read, write time.Duration
		switch cl := c.(type) {
		case *goredis.Client:
			o := cl.Options()
			ctxTimeouts, dial, read, write = o.ContextTimeoutEnabled, o.DialTimeout, o.ReadTimeout, o.WriteTimeout
		case *goredis.ClusterClient:
			o := cl.Options()
			ctxTimeouts, dial, read, write = o.ContextTimeoutEnabled, o.DialTimeout, o.ReadTimeout, o.WriteTimeout
		default:
			t.Fatalf("%s: unexpected %T", tc.url, c)
		}
		_ = c.Close()
		if !ctxTimeouts {
			t.Errorf("%s: context deadlines are ignored for socket I/O", tc.url)
		}
		if dial != tc.dial || read != tc.read || write != tc.write {
			t.Errorf("%s: dial %s read %s write %s, want %s %s %s", tc.url, dial, read, write, tc.dial, tc.read, tc.write)
		}
	}
}

// hangingRedis accepts connections and never answers on them.
func hangingRedis(t *testing.T) string {
	t.Helper()
	return "redis://" + nettest.BlackHole(t) + "/0"
}

// TestHangingRedisCostsTheStoreTimeout: against a Redis that accepts
// connections and never answers, every limiter and revocation call fails
// once the context's store timeout has passed, and a ping once its own
// deadline has — not after go-redis' socket timeouts and retries.
func TestHangingRedisCostsTheStoreTimeout(t *testing.T) {
	t.Parallel()
	c, err := redis.NewClient(hangingRedis(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	revocations, stop := redis.NewRevocations(c)
	t.Cleanup(stop)
	limiter := redis.NewLimiter(c, "t")
	lim := tenant.Limit{Count: 5, Window: time.Minute}
	const bound = 400 * time.Millisecond
	ops := map[string]func(context.Context) error{
		"limiter.Hit":        func(ctx context.Context) error { _, _, err := limiter.Hit(ctx, "k", lim); return err },
		"limiter.Refund":     func(ctx context.Context) error { return limiter.Refund(ctx, "k", lim) },
		"revocations.Revoke": func(ctx context.Context) error { return revocations.Revoke(ctx, "t", "s", time.Minute) },
		"revocations.Revoked": func(ctx context.Context) error {
			_, _, err := revocations.Revoked(ctx, "t", "s")
			return err
		},
		"ping": func(ctx context.Context) error {
			ctx, cancel := context.WithTimeout(ctx, bound)
			defer cancel()
			return redis.Ping(ctx, c)
		},
	}
	for name, op := range ops {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			err := op(platform.WithStoreTimeout(context.Background(), bound))
			if took := time.Since(start); err == nil || took > bound+2*time.Second {
				t.Fatalf("error %v after %s; want an error after about %s", err, took, bound)
			}
		})
	}
}
