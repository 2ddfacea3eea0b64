package redis

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/portcullis/portcullis/application/account"
	"github.com/portcullis/portcullis/application/platform"
)

var _ account.Revocations = (*Revocations)(nil)

// minRevocationTTL is the shortest time a revocation is kept.
const minRevocationTTL = time.Second

// Revocations is the account.Revocations set (each call bounded by the
// context's platform.StoreTimeout): one key per revoked session,
// Key(tenant, "revoked", sessionID), that expires with its TTL.
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
	revoked bool
	err     error
}

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

// check answers a batch with one pipeline of EXISTS, given until the
// latest deadline of its callers (tenants' store timeouts differ): a Redis
// that hangs holds a worker no longer than someone waits for its answer.
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
	_, err := r.c.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for i, q := range batch {
			cmds[i] = p.Exists(ctx, q.key)
		}
		return nil
	})
	for i, q := range batch {
		a := revocationAnswer{}
		if cerr := cmds[i].Err(); cerr != nil {
			a.err = fmt.Errorf("revocations: check: %w", cerr)
		} else if err != nil && !errors.Is(err, goredis.Nil) {
			a.err = fmt.Errorf("revocations: check: %w", err)
		} else {
			a.revoked = cmds[i].Val() == 1
		}
		q.reply <- a // buffered: never blocks
	}
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
	if err := revoke.Run(ctx, r.c, []string{Key(tenantID, "revoked", sessionID)}, int64(ms)).Err(); err != nil {
		return fmt.Errorf("revocations: revoke: %w", err)
	}
	return nil
}

// Revoked reports whether sessionID is in the set.
func (r *Revocations) Revoked(ctx context.Context, tenantID, sessionID string) (bool, error) {
	ctx, cancel := platform.BoundStore(ctx)
	defer cancel()
	if err := ctx.Err(); err != nil {
		return false, fmt.Errorf("revocations: check: %w", err)
	}
	deadline, _ := ctx.Deadline() // BoundStore set one
	q := revocationQuery{key: Key(tenantID, "revoked", sessionID), deadline: deadline, reply: make(chan revocationAnswer, 1)}
	select {
	case r.queries <- q:
	case <-ctx.Done():
		return false, fmt.Errorf("revocations: check: %w", ctx.Err())
	case <-r.quit:
		return false, errors.New("revocations: closed")
	}
	select {
	case a := <-q.reply:
		return a.revoked, a.err
	case <-ctx.Done():
		return false, fmt.Errorf("revocations: check: %w", ctx.Err())
	}
}
