// Package throttletest provides an in-memory throttle.Limiter for unit
// tests and the contract suite every Limiter must pass.
package throttletest

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/portcullis/portcullis/application/platform"
	"github.com/portcullis/portcullis/domain/tenant"
)

// MemoryLimiter is an in-memory throttle.Limiter with the Redis limiter's
// semantics: a bucket of Count events that refills at Count per Window.
type MemoryLimiter struct {
	clock platform.Clock
	mu    sync.Mutex
	// tat is each key's theoretical arrival time (GCRA): the bucket is full
	// when tat <= now, and an event fits while tat - now <= Window - Window/Count.
	tat map[string]time.Time
}

// NewMemoryLimiter returns an empty limiter on clock.
func NewMemoryLimiter(clock platform.Clock) *MemoryLimiter {
	return &MemoryLimiter{clock: clock, tat: map[string]time.Time{}}
}

func check(l tenant.Limit) error {
	if l.Count < 1 || l.Window <= 0 {
		return fmt.Errorf("limiter: invalid limit %d per %s", l.Count, l.Window)
	}
	return nil
}

// Hit counts one event if it is allowed.
func (m *MemoryLimiter) Hit(_ context.Context, key string, l tenant.Limit) (bool, time.Duration, error) {
	if err := check(l); err != nil {
		return false, 0, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.clock.Now()
	interval := l.Window / time.Duration(l.Count)
	tat := m.tat[key]
	if tat.Before(now) {
		tat = now
	}
	next := tat.Add(interval)
	if wait := next.Sub(now) - l.Window; wait > 0 {
		return false, wait, nil
	}
	m.tat[key] = next
	return true, 0, nil
}

// Refund gives one counted event back, never more than the bucket holds.
func (m *MemoryLimiter) Refund(_ context.Context, key string, l tenant.Limit) error {
	if err := check(l); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.clock.Now()
	tat, ok := m.tat[key]
	if !ok {
		return nil
	}
	tat = tat.Add(-l.Window / time.Duration(l.Count))
	if !tat.After(now) {
		delete(m.tat, key)
		return nil
	}
	m.tat[key] = tat
	return nil
}

// Reset forgets every event counted against key.
func (m *MemoryLimiter) Reset(_ context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.tat, key)
	return nil
}
