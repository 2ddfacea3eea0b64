package redis_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	goredis "github.com/redis/go-redis/v9"

	"github.com/portcullis/portcullis/adapters/redis"
	"github.com/portcullis/portcullis/application/platform"
	"github.com/portcullis/portcullis/application/platform/platformtest"
)

// TestBreakerFailsFastWhileRedisIsAwayAndProbesItBack: two commands
// failing for want of Redis open the breaker; then commands and pipelines
// fail at once with ErrUnreachable without reaching Redis, even one that is
// back; after the cooldown one probe closes it, and both changes are
// logged.
func TestBreakerFailsFastWhileRedisIsAwayAndProbesItBack(t *testing.T) {
	t.Parallel()
	m := miniredis.RunT(t)
	c, err := redis.NewClient("redis://" + m.Addr() + "/0?max_retries=-1")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	var logs platformtest.LogBuffer
	const cooldown = 2 * time.Second
	b := redis.NewBreaker(2, cooldown, slog.New(slog.NewTextHandler(&logs, nil)))
	c.AddHook(b)
	ctx := context.Background()
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}

	m.Close()
	for i := range 2 {
		if err := c.Get(ctx, "k").Err(); err == nil || errors.Is(err, redis.ErrUnreachable) {
			t.Fatalf("GET %d with Redis down: %v, want the network's error", i+1, err)
		}
	}
	if err := m.Restart(); err != nil {
		t.Fatal(err)
	}
	m.Set("k", "v")
	before := m.CommandCount()
	if err := c.Get(ctx, "k").Err(); !errors.Is(err, redis.ErrUnreachable) {
		t.Fatalf("GET with the breaker open: %v, want ErrUnreachable", err)
	}
	cmds, err := c.Pipelined(ctx, func(p goredis.Pipeliner) error {
		p.Get(ctx, "k")
		p.Incr(ctx, "n")
		return nil
	})
	if !errors.Is(err, redis.ErrUnreachable) || len(cmds) != 2 || !errors.Is(cmds[0].Err(), redis.ErrUnreachable) || !errors.Is(cmds[1].Err(), redis.ErrUnreachable) {
		t.Fatalf("pipeline with the breaker open: %v, %v", err, cmds)
	}
	if n := m.CommandCount(); n != before {
		t.Errorf("Redis got %d commands while the breaker was open, want none", n-before)
	}
	if !b.Open() || b.Opened() != 1 || b.Refused() != 2 {
		t.Errorf("open %t, opened %d, refused %d; want true, 1, 2 (a command and a pipeline)", b.Open(), b.Opened(), b.Refused())
	}
	if !strings.Contains(logs.String(), "redis unreachable") {
		t.Errorf("the opening is not logged: %s", logs.String())
	}

	deadline := time.Now().Add(cooldown + 5*time.Second)
	for {
		v, err := c.Get(ctx, "k").Result()
		if err == nil && v == "v" {
			break
		}
		if !errors.Is(err, redis.ErrUnreachable) || time.Now().After(deadline) {
			t.Fatalf("GET after the cooldown, Redis back: %q, %v", v, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if b.Open() || b.Opened() != 1 {
		t.Errorf("after the probe: open %t, opened %d; want false, 1", b.Open(), b.Opened())
	}
	if !strings.Contains(logs.String(), "redis reachable again") {
		t.Errorf("the closing is not logged: %s", logs.String())
	}
}

// TestBreakerCountsNoReplyAsAFailure: replies, however many in a row (a
// missing key, an unknown command, a script's error), and a caller giving
// up do not open the breaker.
func TestBreakerCountsNoReplyAsAFailure(t *testing.T) {
	t.Parallel()
	m := miniredis.RunT(t)
	c, err := redis.NewClient("redis://" + m.Addr() + "/0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	c.AddHook(redis.NewBreaker(2, time.Hour, slog.New(slog.DiscardHandler)))
	ctx := context.Background()
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	for range 3 {
		if err := c.Get(ctx, "missing").Err(); !errors.Is(err, goredis.Nil) {
			t.Fatalf("GET of a missing key: %v", err)
		}
		if err := c.Do(ctx, "NOSUCHCOMMAND").Err(); err == nil || errors.Is(err, redis.ErrUnreachable) {
			t.Fatalf("an unknown command: %v, want the server's error", err)
		}
		if err := c.Eval(ctx, "return redis.error_reply('no')", nil).Err(); err == nil || errors.Is(err, redis.ErrUnreachable) {
			t.Fatalf("a script's error: %v", err)
		}
		if err := c.Get(canceled, "k").Err(); !errors.Is(err, context.Canceled) {
			t.Fatalf("GET with a canceled context: %v", err)
		}
	}
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatalf("SET after replies of errors: %v, want the breaker closed", err)
	}
}

// TestBreakerBoundsARequestOfManyCallsToAHangingRedis: against a Redis
// that hangs, the first two calls each cost the store timeout and the
// breaker then answers the rest at once, so that a request making five
// calls in turn does not wait five timeouts.
func TestBreakerBoundsARequestOfManyCallsToAHangingRedis(t *testing.T) {
	t.Parallel()
	c, err := redis.NewClient(hangingRedis(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	c.AddHook(redis.NewBreaker(2, time.Hour, slog.New(slog.DiscardHandler)))
	for i := range 5 {
		ctx, cancel := platform.BoundStore(platform.WithStoreTimeout(context.Background(), 300*time.Millisecond))
		err := c.Get(ctx, "k").Err()
		cancel()
		if fast := errors.Is(err, redis.ErrUnreachable); fast != (i >= 2) {
			t.Fatalf("call %d: %v (failing fast: %t, want %t)", i+1, err, fast, i >= 2)
		}
	}
}
