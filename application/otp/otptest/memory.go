// Package otptest provides an in-memory otp.Store and the contract suite
// every otp.Store must pass.
package otptest

import (
	"context"
	"crypto/subtle"
	"sync"
	"time"

	"github.com/portcullis/portcullis/application/otp"
	"github.com/portcullis/portcullis/application/platform"
)

// MemoryStore is an in-memory otp.Store on a clock.
type MemoryStore struct {
	clock      platform.Clock
	mu         sync.Mutex
	challenges map[string]*entry
	cooldowns  map[string]time.Time // key → end of its cooldown
	days       map[string]int
}

type entry struct {
	c       otp.Challenge
	expires time.Time
	wrong   int
}

var _ otp.Store = (*MemoryStore)(nil)

// NewMemoryStore returns an empty store on clock.
func NewMemoryStore(clock platform.Clock) *MemoryStore {
	return &MemoryStore{clock: clock, challenges: map[string]*entry{}, cooldowns: map[string]time.Time{}, days: map[string]int{}}
}

// Issue stores c unless its key is cooling down or dayKey is at its cap.
func (m *MemoryStore) Issue(_ context.Context, tenantID string, c otp.Challenge, cooldown time.Duration, dayKey string, dailyCap int) (time.Duration, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.clock.Now()
	k := tenantID + "/" + c.Key
	if until, ok := m.cooldowns[k]; ok && now.Before(until) {
		return until.Sub(now), false, nil
	}
	d := tenantID + "/" + dayKey
	if m.days[d] >= dailyCap {
		return 0, true, nil
	}
	m.days[d]++
	if cooldown > 0 {
		m.cooldowns[k] = now.Add(cooldown)
	}
	m.challenges[k] = &entry{c: c, expires: now.Add(c.TTL)}
	return 0, false, nil
}

// Consume counts a submission and consumes the challenge when it matches.
func (m *MemoryStore) Consume(_ context.Context, tenantID, key, digest string) (otp.Verdict, string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := tenantID + "/" + key
	e, ok := m.challenges[k]
	if !ok || !m.clock.Now().Before(e.expires) {
		delete(m.challenges, k)
		return otp.Missing, "", nil
	}
	if e.wrong >= e.c.MaxAttempts {
		return otp.Dead, "", nil
	}
	if subtle.ConstantTimeCompare([]byte(e.c.Digest), []byte(digest)) != 1 {
		e.wrong++
		return otp.Wrong, "", nil
	}
	delete(m.challenges, k)
	return otp.Consumed, e.c.Subject, nil
}

// Peek reports the subject of a live matching challenge, changing nothing.
func (m *MemoryStore) Peek(_ context.Context, tenantID, key, digest string) (string, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.challenges[tenantID+"/"+key]
	if !ok || !m.clock.Now().Before(e.expires) || e.wrong >= e.c.MaxAttempts ||
		subtle.ConstantTimeCompare([]byte(e.c.Digest), []byte(digest)) != 1 {
		return "", false, nil
	}
	return e.c.Subject, true, nil
}

// Withdraw takes back an undelivered issue.
func (m *MemoryStore) Withdraw(_ context.Context, tenantID, key, digest, dayKey string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := tenantID + "/" + key
	e, ok := m.challenges[k]
	if !ok || e.c.Digest != digest {
		return nil
	}
	delete(m.challenges, k)
	delete(m.cooldowns, k)
	if d := tenantID + "/" + dayKey; m.days[d] > 0 {
		m.days[d]--
	}
	return nil
}
