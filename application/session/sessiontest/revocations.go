package sessiontest

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portcullis/portcullis/application/session"
)

// RunRevocationsContract checks the behaviour every session.Revocations
// must have. newSet returns a set whose tenant ids the suite may make up
// freely (tenantID is one no other test uses), and lose, which loses the
// set's contents and its completeness marker as a flush would. The cases
// run one after another: the marker is shared by the whole set.
func RunRevocationsContract(t *testing.T, newSet func(t *testing.T) (set session.Revocations, tenantID string, lose func())) {
	t.Helper()
	ctx := context.Background()
	revoked := func(t *testing.T, r session.Revocations, tenantID, id string) (bool, bool) {
		t.Helper()
		rev, complete, err := r.Revoked(ctx, tenantID, id)
		if err != nil {
			t.Fatalf("revoked %s/%s: %v", tenantID, id, err)
		}
		return rev, complete
	}

	t.Run("a revocation is seen, for its session and tenant only", func(t *testing.T) {
		r, tn, _ := newSet(t)
		if rev, _ := revoked(t, r, tn, "s1"); rev {
			t.Fatal("revoked before Revoke")
		}
		if err := r.Revoke(ctx, tn, "s1", time.Minute); err != nil {
			t.Fatal(err)
		}
		if rev, _ := revoked(t, r, tn, "s1"); !rev {
			t.Fatal("revocation not seen")
		}
		if rev, _ := revoked(t, r, tn, "s2"); rev {
			t.Fatal("another session is revoked too")
		}
		if rev, _ := revoked(t, r, tn+"-other", "s1"); rev {
			t.Fatal("another tenant's session with the same id is revoked")
		}
	})

	t.Run("an entry lapses after its ttl; revoking again never shortens it", func(t *testing.T) {
		r, tn, _ := newSet(t)
		if err := r.Revoke(ctx, tn, "short", time.Second); err != nil {
			t.Fatal(err)
		}
		if err := r.Revoke(ctx, tn, "long", time.Hour); err != nil {
			t.Fatal(err)
		}
		if err := r.Revoke(ctx, tn, "long", time.Second); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(5 * time.Second)
		for {
			if rev, _ := revoked(t, r, tn, "short"); !rev {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("a 1s revocation is still there after 5s")
			}
			time.Sleep(50 * time.Millisecond)
		}
		if rev, _ := revoked(t, r, tn, "long"); !rev {
			t.Fatal("a second, shorter revoke cut the first one short")
		}
	})

	t.Run("the completeness marker: set only by a fill, lost with the contents", func(t *testing.T) {
		r, tn, lose := newSet(t)
		lose()
		if _, complete := revoked(t, r, tn, "x"); complete {
			t.Fatal("a lost set reports itself complete")
		}
		if complete, err := r.Complete(ctx); err != nil || complete {
			t.Fatalf("Complete on a lost set = %v, %v", complete, err)
		}
		if err := r.Revoke(ctx, tn, "filled", time.Minute); err != nil {
			t.Fatal(err)
		}
		if err := r.MarkComplete(ctx); err != nil {
			t.Fatalf("MarkComplete after a fill: %v", err)
		}
		if rev, complete := revoked(t, r, tn, "filled"); !rev || !complete {
			t.Fatalf("after the fill: revoked %v, complete %v", rev, complete)
		}
		if complete, err := r.Complete(ctx); err != nil || !complete {
			t.Fatalf("Complete after the fill = %v, %v", complete, err)
		}
		lose()
		if rev, complete := revoked(t, r, tn, "filled"); rev || complete {
			t.Fatalf("after a loss: revoked %v, complete %v", rev, complete)
		}
		// A loss while a fill is under way: the fill must not mark a set it
		// did not fill.
		if complete, err := r.Complete(ctx); err != nil || complete {
			t.Fatalf("Complete = %v, %v", complete, err)
		}
		lose()
		if err := r.MarkComplete(ctx); err == nil {
			t.Fatal("MarkComplete succeeded for a set lost during its fill")
		}
		if _, complete := revoked(t, r, tn, "x"); complete {
			t.Fatal("the set lost during its fill is marked complete")
		}
	})

	t.Run("concurrent checks each get their own session's answer", func(t *testing.T) {
		r, tn, _ := newSet(t)
		const n = 200
		for i := 0; i < n; i += 2 {
			if err := r.Revoke(ctx, tn, sid(i), time.Minute); err != nil {
				t.Fatal(err)
			}
		}
		var wrong, failed atomic.Int64
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Go(func() {
				<-start
				rev, _, err := r.Revoked(ctx, tn, sid(i))
				switch {
				case err != nil:
					failed.Add(1)
				case rev != (i%2 == 0):
					wrong.Add(1)
				}
			})
		}
		close(start)
		wg.Wait()
		if failed.Load() != 0 || wrong.Load() != 0 {
			t.Fatalf("%d checks failed, %d answered for another session", failed.Load(), wrong.Load())
		}
	})
}

func sid(i int) string { return "s" + string(rune('a'+i%26)) + time.Duration(i).String() }
