package platform_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/portcullis/portcullis/application/platform"
)

// Work started by Go outlives its request's cancellation, keeps its
// values, ends at its deadline, and is waited for by Wait.
func TestBackgroundOutlivesTheRequestAndIsWaitedFor(t *testing.T) {
	t.Parallel()
	var b platform.Background
	req, cancel := context.WithCancel(platform.WithRequestID(context.Background(), "req-1"))
	deadline := time.Now().Add(time.Hour)
	release := make(chan struct{})
	seen := make(chan string, 1)
	b.Go(req, deadline, func(ctx context.Context) {
		<-release
		d, _ := ctx.Deadline()
		if ctx.Err() != nil || !d.Equal(deadline) {
			seen <- "cancelled or without the deadline"
			return
		}
		seen <- platform.RequestID(ctx)
	})
	cancel() // the request is answered
	short, stop := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer stop()
	if err := b.Wait(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wait while the work runs: %v, want the context's deadline", err)
	}
	close(release)
	if err := b.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := <-seen; got != "req-1" {
		t.Fatalf("the work saw %q, want the request id", got)
	}
}
