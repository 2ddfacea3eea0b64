package redis

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/portcullis/portcullis/application/platform"
	"github.com/portcullis/portcullis/application/session"
)

var _ session.Revocations = (*Revocations)(nil)

// minRevocationTTL is the shortest time a revocation is kept.
const minRevocationTTL = time.Second

// Revocations is the session.Revocations set (each call bounded by the
// context's platform.StoreTimeout): one key per revoked session,
// revokedKey(tenant, sessionID), that expires with its TTL.
//
// On a Redis Cluster every revocation and the completeness marker share
// one hash slot (the tag {revocations}), so they live on one node: a node
// that comes back empty takes the marker with the revocations it held, and
// the loss is seen and the set refilled. Spread over nodes, a node lost
// alone would take revocations while the marker, elsewhere, said the set
// was whole. The set holds only the revoked sessions still alive, so one
// node holds it easily.
//
// Every authenticated request asks it, so checks are pipelined: concurrent
// Revoked calls are sent to Redis together, one round trip for all the
// checks that queued while the previous batch was in flight (no added
// delay when idle). Each answer still reflects Redis after the call began.
type Revocations struct {
	c       Client
	queries chan revocationQuery
	quit    chan struct{}
	done    sync.WaitGroup
}

type revocationQuery struct {
	key      string
	deadline time.Time // of the caller, who stops waiting then
	reply    chan revocationAnswer
}

type revocationAnswer struct {
	revoked, complete bool
	err               error
}

// completeKey is the set's completeness marker. It has no TTL and no
// tenant (tenant ids cannot contain "_"): a flush or a restart without
// persistence takes it with the revocations, which is how a lost set is
// told from an empty one.
var (
	completeKey = Key("_", "{revocations}", "complete")
	fillingKey  = Key("_", "{revocations}", "filling")
)

// revokedKey is the key of a revoked session, in the set's hash slot.
func revokedKey(tenantID, sessionID string) string { return Key(tenantID, "{revocations}", sessionID) }

// markComplete sets the marker only if the fill that Complete began is
// still there: a flush during the fill takes the filling key too, and the
// fill must then start again rather than mark a set it did not fill.
var markComplete = goredis.NewScript(`
if redis.call("EXISTS", KEYS[2]) == 1 then
  redis.call("SET", KEYS[1], "1")
  redis.call("DEL", KEYS[2])
  return 1
end
return 0
`)

// Batching bounds: how many pipelines may be in flight and how many checks
// one may carry.
const (
	revocationWorkers  = 4
	revocationMaxBatch = 256
)

// NewRevocations returns the revocation set kept in c and a function that
// stops its pipelining workers.
func NewRevocations(c Client) (*Revocations, func()) {
	r := &Revocations{c: c, queries: make(chan revocationQuery), quit: make(chan struct{})}
	for range revocationWorkers {
		r.done.Add(1)
		go r.work()
	}
	var once sync.Once
	return r, func() { once.Do(func() { close(r.quit); r.done.Wait() }) }
}

func (r *Revocations) work() {
	defer r.done.Done()
	batch := make([]revocationQuery, 0, revocationMaxBatch)
	for {
		select {
		case <-r.quit:
			return
		case q := <-r.queries:
			batch = append(batch[:0], q)
		}
	drain:
		for len(batch) < revocationMaxBatch {
			select {
			case q := <-r.queries:
				batch = append(batch, q)
			default:
				break drain
			}
		}
		r.check(batch)
	}
}

// check answers a batch with one pipeline: an EXISTS per query and one
// for the completeness marker, given until the latest deadline of its
// callers (tenants' store timeouts differ): a Redis that hangs holds a
// worker no longer than someone waits for its answer. The pipeline is a
// transaction (MULTI/EXEC; every key shares one hash slot), so that the
// marker and the revocations are read at one moment: a flush between
// them would otherwise answer "complete, not revoked" for a revocation
// the set had lost.
func (r *Revocations) check(batch []revocationQuery) {
	var deadline time.Time
	for _, q := range batch {
		if q.deadline.After(deadline) {
			deadline = q.deadline
		}
	}
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	cmds := make([]*goredis.IntCmd, len(batch))
	var marker *goredis.IntCmd
	_, err := r.c.TxPipelined(ctx, func(p goredis.Pipeliner) error {
		marker = p.Exists(ctx, completeKey)
		for i, q := range batch {
			cmds[i] = p.Exists(ctx, q.key)
		}
		return nil
	})
	if err == nil {
		err = marker.Err()
	}
	for i, q := range batch {
		a := revocationAnswer{}
		if cerr := cmds[i].Err(); cerr != nil {
			a.err = fmt.Errorf("revocations: check: %w", cerr)
		} else if err != nil && !errors.Is(err, goredis.Nil) {
			a.err = fmt.Errorf("revocations: check: %w", err)
		} else {
			a.revoked, a.complete = cmds[i].Val() == 1, marker.Val() == 1
		}
		q.reply <- a // buffered: never blocks
	}
}

// Complete reports whether the completeness marker is set. When it is
// not, it begins a fill (a filling key, which MarkComplete requires).
func (r *Revocations) Complete(ctx context.Context) (bool, error) {
	n, err := r.c.Exists(ctx, completeKey).Result()
	if err != nil {
		return false, fmt.Errorf("revocations: complete: %w", err)
	}
	if n == 1 {
		return true, nil
	}
	if err := r.c.Set(ctx, fillingKey, "1", time.Hour).Err(); err != nil {
		return false, fmt.Errorf("revocations: begin fill: %w", err)
	}
	return false, nil
}

// MarkComplete sets the completeness marker, unless the set was lost
// since the fill began.
func (r *Revocations) MarkComplete(ctx context.Context) error {
	ok, err := markComplete.Run(ctx, r.c, []string{completeKey, fillingKey}).Int()
	if err != nil {
		return fmt.Errorf("revocations: mark complete: %w", err)
	}
	if ok != 1 {
		return errors.New("revocations: the set was lost while it was being filled")
	}
	return nil
}

// revoke sets the key with a TTL of ARGV[1] milliseconds unless it is
// already set to live longer: revoking a session twice must not cut short
// the first revocation, which may cover tokens with a longer lifetime. A key
// without a TTL (PTTL -1) is left alone. A script rather than PEXPIRE GT so
// that it runs on Redis before 7.0 too.
var revoke = goredis.NewScript(`
local ttl = tonumber(ARGV[1])
local cur = redis.call("PTTL", KEYS[1])
if cur == -2 or (cur >= 0 and cur < ttl) then
  redis.call("SET", KEYS[1], "1", "PX", ttl)
end
return 1
`)

// Revoke records sessionID as revoked for ttl, at least a second; a sub-
// millisecond remainder is rounded up.
func (r *Revocations) Revoke(ctx context.Context, tenantID, sessionID string, ttl time.Duration) error {
	ctx, cancel := platform.BoundStore(ctx)
	defer cancel()
	ttl = max(ttl, minRevocationTTL)
	ms := (ttl + time.Millisecond - 1) / time.Millisecond
	if err := revoke.Run(ctx, r.c, []string{revokedKey(tenantID, sessionID)}, int64(ms)).Err(); err != nil {
		return fmt.Errorf("revocations: revoke: %w", err)
	}
	return nil
}

// Revoked reports whether sessionID is in the set, and whether the set is
// complete.
func (r *Revocations) Revoked(ctx context.Context, tenantID, sessionID string) (bool, bool, error) {
	ctx, cancel := platform.BoundStore(ctx)
	defer cancel()
	if err := ctx.Err(); err != nil {
		return false, false, fmt.Errorf("revocations: check: %w", err)
	}
	deadline, _ := ctx.Deadline() // BoundStore set one
	q := revocationQuery{key: revokedKey(tenantID, sessionID), deadline: deadline, reply: make(chan revocationAnswer, 1)}
	select {
	case r.queries <- q:
	case <-ctx.Done():
		return false, false, fmt.Errorf("revocations: check: %w", ctx.Err())
	case <-r.quit:
		return false, false, errors.New("revocations: closed")
	}
	select {
	case a := <-q.reply:
		return a.revoked, a.complete, a.err
	case <-ctx.Done():
		return false, false, fmt.Errorf("revocations: check: %w", ctx.Err())
	}
}
