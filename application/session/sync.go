package session

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/portcullis/portcullis/application/platform"
)

// Sync keeps the revocation set (Redis) a complete copy of the store's
// revocation log, and tells the session services whether they may trust
// it. One runs per process, for every tenant.
//
// The store is the durable word on revocation: a revoke writes it first.
// The set is what every request asks, because asking the store on every
// access-token check would put the store on the hot path. The two can
// disagree when the set loses its contents (a flush, a failover, a restart
// of a Redis without persistence — the embedded one at every server
// restart) or when a revoke could not reach Redis. Then a revoked access
// token must not come back to life, so:
//
//   - The set carries a completeness marker that only Sync sets, after
//     copying every revocation that can still matter from the store. A
//     loss of the set takes the marker with it, and Revoked reports the
//     marker with each answer.
//   - Every interval, Sync copies the revocations logged since its last
//     pass (with an overlap for clock skew between instances), so a
//     revoke whose Redis write failed reaches the set within one interval
//     of Redis answering again.
//   - Trusted is false from the start, after any failed pass, and after
//     any Redis error a session service reports (Distrust), until the next
//     good pass.
//
// While the set is incomplete or not trusted, the session services confirm
// every credential against the store, so the cost of a Redis loss is a
// store read per request for a few seconds, never a revoked credential
// accepted.
type Sync struct {
	store    Sessions
	set      Revocations
	clock    platform.Clock
	interval time.Duration

	// trusted is read on every request, without a lock. It is written
	// under mu, with distrusts: a Distrust during a pass (a revoke that
	// missed Redis after the pass read the log) must leave the set
	// untrusted when that pass ends, so a pass trusts the set only if no
	// Distrust came since it began.
	trusted   atomic.Bool
	mu        sync.Mutex
	distrusts uint64
	watermark time.Time // revocations at or after it are copied on the next pass
}

// SyncHorizon is how far back a full copy reaches: the longest access-token
// lifetime a tenant may configure (24 h) plus the minute of slack every
// revocation carries.
const SyncHorizon = 24*time.Hour + time.Minute

// syncOverlap is how far before the last pass the next one reads again, so
// that a revocation logged by an instance whose clock is behind, or whose
// write landed late, is not skipped.
const syncOverlap = 30 * time.Second

// DefaultSyncInterval is how often Sync reads the log.
const DefaultSyncInterval = 2 * time.Second

// NewSync returns the process's revocation sync; Run drives it.
func NewSync(store Sessions, set Revocations, clock platform.Clock, interval time.Duration) *Sync {
	if interval <= 0 {
		interval = DefaultSyncInterval
	}
	return &Sync{store: store, set: set, clock: clock, interval: interval}
}

// Trusted reports whether the revocation set may be believed on its own.
func (s *Sync) Trusted() bool { return s.trusted.Load() }

// Distrust marks the set as not to be believed until the next good pass;
// a session service calls it when Redis failed it.
func (s *Sync) Distrust() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.distrusts++
	s.trusted.Store(false)
}

// Run passes every interval until ctx ends; the first pass is at once.
func (s *Sync) Run(ctx context.Context) {
	t := time.NewTicker(s.interval)
	defer t.Stop()
	for {
		_ = s.Pass(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Pass copies what the set lacks from the log: everything within
// SyncHorizon when the set is not marked complete, else what was logged
// since the last pass. The set is trusted when it succeeds.
func (s *Sync) Pass(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.interval+5*time.Second)
	defer cancel()
	now := s.clock.Now().UTC()
	s.mu.Lock()
	began := s.distrusts
	s.mu.Unlock()
	err := s.pass(ctx, now)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.trusted.Store(false)
		return err
	}
	s.watermark = now.Add(-syncOverlap)
	s.trusted.Store(s.distrusts == began)
	return nil
}

func (s *Sync) pass(ctx context.Context, now time.Time) error {
	complete, err := s.set.Complete(ctx)
	if err != nil {
		return err
	}
	s.mu.Lock()
	since := s.watermark
	s.mu.Unlock()
	if !complete || since.IsZero() {
		since = now.Add(-SyncHorizon)
	}
	log, err := s.store.RevokedSince(ctx, since, now)
	if err != nil {
		return fmt.Errorf("revocation sync: read the log: %w", err)
	}
	for _, r := range log {
		if err := s.set.Revoke(ctx, r.TenantID, r.SessionID, r.Until.Sub(now)); err != nil {
			return fmt.Errorf("revocation sync: %w", err)
		}
	}
	if !complete {
		return s.set.MarkComplete(ctx)
	}
	return nil
}
