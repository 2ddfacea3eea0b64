package storefront

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/portcullis/portcullis/domain/errs"
)

// RetryPolicy says how the Retrier retries: after First, then after
// twice as long each time up to Max, Attempts times in all; at most
// Capacity merges wait at once (more are refused, not queued).
type RetryPolicy struct {
	Attempts int
	First    time.Duration
	Max      time.Duration
	Capacity int
}

// The defaults of RetryPolicy: six attempts over about two minutes
// (2s, 4s, 8s, 16s, 32s, 60s), enough for a cart service to restart; a
// thousand merges waiting at most.
const (
	DefaultRetryAttempts = 6
	DefaultRetryFirst    = 2 * time.Second
	DefaultRetryMax      = time.Minute
	DefaultRetryCapacity = 1000
)

// Retrier runs work that failed because a store was unavailable (a merge
// at login) again later, with exponential backoff, in the background of
// this process. Work that fails with any other kind of error is not
// retried. What waits is in memory only: a restart loses it. One Retrier
// serves every tenant; Close stops it.
type Retrier struct {
	policy RetryPolicy
	log    *slog.Logger
	root   context.Context
	stop   context.CancelFunc
	slots  chan struct{}

	mu     sync.Mutex // guards closed and the wg.Add that must not race Close's Wait
	closed bool
	wg     sync.WaitGroup
}

// NewRetrier returns a running Retrier; zero fields of p take the
// defaults.
func NewRetrier(p RetryPolicy, log *slog.Logger) *Retrier {
	if p.Attempts <= 0 {
		p.Attempts = DefaultRetryAttempts
	}
	if p.First <= 0 {
		p.First = DefaultRetryFirst
	}
	if p.Max < p.First {
		p.Max = max(DefaultRetryMax, p.First)
	}
	if p.Capacity <= 0 {
		p.Capacity = DefaultRetryCapacity
	}
	root, stop := context.WithCancel(context.Background())
	return &Retrier{policy: p, log: log, root: root, stop: stop, slots: make(chan struct{}, p.Capacity)}
}

// Go runs f after the policy's first wait, and again after each wait
// while it fails with errs.Unavailable, until it succeeds, fails
// otherwise, runs out of attempts or the Retrier closes. f's context keeps
// ctx's values (the request id) but not its cancellation. Go reports
// false, and runs nothing, when Capacity runs wait already or the Retrier
// is closed. what names the work in logs; it must hold no secret.
func (r *Retrier) Go(ctx context.Context, what string, f func(ctx context.Context) error) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return false
	}
	select {
	case r.slots <- struct{}{}:
	default:
		r.log.Warn("retry queue full: work dropped", "work", what, "capacity", r.policy.Capacity)
		return false
	}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		defer func() { <-r.slots }()
		ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		defer cancel()
		defer context.AfterFunc(r.root, cancel)()
		r.run(ctx, what, f)
	}()
	return true
}

func (r *Retrier) run(ctx context.Context, what string, f func(ctx context.Context) error) {
	wait := r.policy.First
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for attempt := 1; ; attempt++ {
		select {
		case <-timer.C:
		case <-ctx.Done():
			r.log.Warn("retry abandoned: shutting down", "work", what, "attempt", attempt)
			return
		}
		err := f(ctx)
		switch {
		case err == nil:
			r.log.Info("retry succeeded", "work", what, "attempt", attempt)
			return
		case errs.KindOf(err) != errs.Unavailable:
			r.log.Error("retry failed for good", "work", what, "attempt", attempt, "error", err)
			return
		case attempt >= r.policy.Attempts:
			r.log.Error("retry gave up", "work", what, "attempts", attempt, "error", err)
			return
		}
		wait = min(2*wait, r.policy.Max)
		timer.Reset(wait)
	}
}

// Pending returns how many runs wait or run now.
func (r *Retrier) Pending() int { return len(r.slots) }

// Close stops the Retrier: waiting work is abandoned (it is lost, as at
// a restart) and running attempts see their context cancelled; Close
// waits for them until ctx ends.
func (r *Retrier) Close(ctx context.Context) error {
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
	r.stop()
	done := make(chan struct{})
	go func() { r.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
