package redis

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/sony/gobreaker/v2"
)

// ErrUnreachable is what every command gets, at once, while the Breaker is
// open.
var ErrUnreachable = errors.New("redis: unreachable (failing fast after failed commands)")

// Breaker defaults: two commands in a row failing for want of Redis open
// it, and it lets one probe through a second later.
const (
	DefaultBreakerFailures = 2
	DefaultBreakerCooldown = time.Second
)

// Breaker is a go-redis hook, a circuit breaker (sony/gobreaker), that
// stops requests waiting on a Redis that is away. Each command against a
// hanging Redis costs its caller the store timeout, and a request that
// makes several in turn (a login's limiter and device checks after its
// password hash) would wait that long for each. Once Failures commands in
// a row have failed for want of Redis (a network error or a timeout, not
// a reply such as a missing key or a script error), every command fails at
// once with ErrUnreachable, which the use cases answer like any Redis
// failure (503 "unavailable", or the store's answer where they fall back
// to it); after Cooldown one command goes through as a probe, the others
// still failing at once, and its success closes the breaker. It is safe
// for concurrent use.
type Breaker struct {
	cb *gobreaker.CircuitBreaker[struct{}]
	// opened counts the openings from closed, refused the commands
	// failed at once.
	opened, refused atomic.Uint64
}

var _ goredis.Hook = (*Breaker)(nil)

// NewBreaker returns a breaker that opens after failures commands in a
// row fail for want of Redis and probes after cooldown; zero values take
// the defaults. It logs when it opens and when it closes.
func NewBreaker(failures int, cooldown time.Duration, log *slog.Logger) *Breaker {
	if failures <= 0 {
		failures = DefaultBreakerFailures
	}
	if cooldown <= 0 {
		cooldown = DefaultBreakerCooldown
	}
	b := &Breaker{}
	b.cb = gobreaker.NewCircuitBreaker[struct{}](gobreaker.Settings{
		Name:        "redis",
		MaxRequests: 1,
		Timeout:     cooldown,
		ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= uint32(failures) },
		IsSuccessful: func(err error) bool {
			return !unreachable(err)
		},
		OnStateChange: func(_ string, from, to gobreaker.State) {
			switch to {
			case gobreaker.StateOpen:
				if from == gobreaker.StateClosed {
					b.opened.Add(1)
					log.Warn("redis unreachable: commands fail at once, with a probe every cooldown", "cooldown", cooldown)
				}
			case gobreaker.StateClosed:
				log.Info("redis reachable again")
			}
		},
	})
	return b
}

// Open says whether commands fail at once now (open, or half-open with
// its probe under way).
func (b *Breaker) Open() bool { return b.cb.State() != gobreaker.StateClosed }

// Opened is how many times the breaker has opened from closed.
func (b *Breaker) Opened() uint64 { return b.opened.Load() }

// Refused is how many commands and pipelines it has failed at once.
func (b *Breaker) Refused() uint64 { return b.refused.Load() }

// unreachable says whether err is a failure for want of Redis: not a
// reply of the server (a missing key, a script's or a command's error),
// not the caller giving up.
func unreachable(err error) bool {
	if err == nil || errors.Is(err, goredis.Nil) || errors.Is(err, context.Canceled) {
		return false
	}
	var reply goredis.Error
	return !errors.As(err, &reply)
}

// DialHook is next: dials are commands' work, counted with them.
func (b *Breaker) DialHook(next goredis.DialHook) goredis.DialHook { return next }

// inside marks the context of a command the breaker let through. The
// commands go-redis runs within it to set up a new connection (HELLO,
// CLIENT SETINFO, AUTH, SELECT) pass the hooks again with that context:
// they are part of the command, and must not be refused as a second one
// while it is the half-open breaker's probe.
type inside struct{}

// ProcessHook runs a command through the breaker.
func (b *Breaker) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		return b.run(ctx, func(ctx context.Context) error { return next(ctx, cmd) }, cmd)
	}
}

// ProcessPipelineHook runs a pipeline (or transaction) through the
// breaker as one command.
func (b *Breaker) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error {
		return b.run(ctx, func(ctx context.Context) error { return next(ctx, cmds) }, cmds...)
	}
}

// run sends cmds (by send) through the breaker, unless ctx is already
// inside a command it let through. When the breaker refuses, each of cmds
// fails with ErrUnreachable, unsent.
func (b *Breaker) run(ctx context.Context, send func(context.Context) error, cmds ...goredis.Cmder) error {
	if ctx.Value(inside{}) != nil {
		return send(ctx)
	}
	ctx = context.WithValue(ctx, inside{}, true)
	_, err := b.cb.Execute(func() (struct{}, error) { return struct{}{}, send(ctx) })
	if rejected(err) {
		b.refused.Add(1)
		for _, c := range cmds {
			c.SetErr(ErrUnreachable)
		}
		return ErrUnreachable
	}
	return err
}

// rejected says whether the breaker refused the command without running
// it.
func rejected(err error) bool {
	return errors.Is(err, gobreaker.ErrOpenState) || errors.Is(err, gobreaker.ErrTooManyRequests)
}
