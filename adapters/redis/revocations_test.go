package redis_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/portcullis/portcullis/adapters/redis"
	"github.com/portcullis/portcullis/application/session"
	"github.com/portcullis/portcullis/application/session/sessiontest"
)

// TestRevocationsContract runs the Revocations contract suite on the Redis
// set: on miniredis in make test, on a real Redis where REDIS_URL is set.
// Losing the set deletes the tenant's keys and the completeness marker,
// which is what a flush does to them.
func TestRevocationsContract(t *testing.T) {
	c := client(t)
	sessiontest.RunRevocationsContract(t, func(t *testing.T) (session.Revocations, string, func()) {
		r, stop := redis.NewRevocations(c)
		t.Cleanup(stop)
		id := freshTenant(t, c)
		lose := func() {
			deleteKeys(c, redis.Key(id, "*"), redis.Key("_", "{revocations}", "complete"), redis.Key("_", "{revocations}", "filling"))
		}
		return r, id, lose
	})
}

func TestRevocationsAreStoredUnderTheTenantKey(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := client(t)
	id := freshTenant(t, c)
	r, stop := redis.NewRevocations(c)
	t.Cleanup(stop)
	if err := r.Revoke(ctx, id, "s1", time.Minute); err != nil {
		t.Fatal(err)
	}
	if n := c.Exists(ctx, redis.Key(id, "{revocations}", "s1")).Val(); n != 1 {
		t.Fatal("not stored under Key(tenant, \"{revocations}\", session)")
	}
}

// pipelineRecorder is a go-redis hook that keeps the names of the commands
// of every pipeline sent.
type pipelineRecorder struct {
	mu        sync.Mutex
	pipelines [][]string
}

func (*pipelineRecorder) DialHook(next goredis.DialHook) goredis.DialHook          { return next }
func (*pipelineRecorder) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook { return next }
func (h *pipelineRecorder) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error {
		names := make([]string, len(cmds))
		for i, c := range cmds {
			names[i] = c.Name()
		}
		h.mu.Lock()
		h.pipelines = append(h.pipelines, names)
		h.mu.Unlock()
		return next(ctx, cmds)
	}
}

// A check reads the completeness marker and the revocations in one
// transaction: were they read apart, a flush between the two reads would
// answer "complete, not revoked" for a revocation the set had lost.
func TestRevocationChecksReadTheMarkerAndTheKeysAtOneMoment(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c, err := redis.NewClient(server(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	rec := &pipelineRecorder{}
	c.AddHook(rec)
	id := freshTenant(t, c)
	r, stop := redis.NewRevocations(c)
	t.Cleanup(stop)
	if err := r.Revoke(ctx, id, "s1", time.Minute); err != nil {
		t.Fatal(err)
	}
	if revoked, _, err := r.Revoked(ctx, id, "s1"); err != nil || !revoked {
		t.Fatalf("Revoked(s1) = %v, %v; want true", revoked, err)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	// Besides the check, the pipelines of a new connection's set-up
	// (CLIENT SETINFO) pass the hook.
	var checks [][]string
	for _, p := range rec.pipelines {
		if slices.Contains(p, "exists") {
			checks = append(checks, p)
		}
	}
	want := []string{"multi", "exists", "exists", "exec"}
	if len(checks) != 1 || !slices.Equal(checks[0], want) {
		t.Fatalf("one check sent %v, want one pipeline %v (the marker and the key in one transaction)", checks, want)
	}
}

// BenchmarkRevocationCheckRoundTrip measures, side by side, one check's
// reads (the completeness marker and one key) as the MULTI/EXEC the
// adapter sends and as a plain pipeline: the cost of the transaction per
// round trip at a batch of one, its worst case (concurrent checks share a
// batch). Run it against a real Redis with REDIS_URL; without, it
// measures the embedded miniredis.
func BenchmarkRevocationCheckRoundTrip(b *testing.B) {
	ctx := context.Background()
	c, err := redis.NewClient(server(b))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = c.Close() })
	marker, key := redis.Key("_", "{revocations}", "complete"), redis.Key("bench", "{revocations}", "s1")
	reads := func(p goredis.Pipeliner) error {
		p.Exists(ctx, marker)
		p.Exists(ctx, key)
		return nil
	}
	for _, v := range []struct {
		name string
		send func(context.Context, func(goredis.Pipeliner) error) ([]goredis.Cmder, error)
	}{{"transaction", c.TxPipelined}, {"pipeline", c.Pipelined}} {
		b.Run(v.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := v.send(ctx, reads); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
