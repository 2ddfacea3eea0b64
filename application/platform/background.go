package platform

import (
	"context"
	"sync"
	"time"
)

// Background runs work a request leaves behind (a message delivered after
// the answer), detached from the request's cancellation, and lets the
// owner wait for it at shutdown. The zero value is ready.
type Background struct{ wg sync.WaitGroup }

// Go runs f in its own goroutine under a context that keeps ctx's values
// (the request id) but not its cancellation, ending at deadline.
func (b *Background) Go(ctx context.Context, deadline time.Time, f func(ctx context.Context)) {
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		dctx, cancel := context.WithDeadline(context.WithoutCancel(ctx), deadline)
		defer cancel()
		f(dctx)
	}()
}

// Wait waits until the work started by Go is done, or ctx ends.
func (b *Background) Wait(ctx context.Context) error {
	done := make(chan struct{})
	go func() { b.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
