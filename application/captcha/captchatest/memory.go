// Package captchatest provides in-memory captcha.Failures and
// captcha.UsedTokens for unit tests, a Verifier made of a function, and
// the contract suites every Failures and UsedTokens must pass.
package captchatest

import (
	"context"
	"sync"
	"time"

	"github.com/portcullis/portcullis/application/captcha"
	"github.com/portcullis/portcullis/application/platform"
)

var (
	_ captcha.Failures   = (*MemoryFailures)(nil)
	_ captcha.UsedTokens = (*MemoryUsedTokens)(nil)
	_ captcha.Verifier   = VerifierFunc(nil)
)

// MemoryFailures is an in-memory captcha.Failures on a clock.
type MemoryFailures struct {
	clock platform.Clock
	mu    sync.Mutex
	keys  map[string]failureCount
}

type failureCount struct {
	n       int
	expires time.Time
}

// NewMemoryFailures returns empty counts on clock.
func NewMemoryFailures(clock platform.Clock) *MemoryFailures {
	return &MemoryFailures{clock: clock, keys: map[string]failureCount{}}
}

// Add counts one failure against key and restarts its window.
func (m *MemoryFailures) Add(_ context.Context, key string, window time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.clock.Now()
	c := m.live(key, now)
	m.keys[key] = failureCount{n: c.n + 1, expires: now.Add(window)}
	return nil
}

// Count returns key's failures not yet forgotten.
func (m *MemoryFailures) Count(_ context.Context, key string) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.live(key, m.clock.Now()).n, nil
}

// Reset forgets key's failures.
func (m *MemoryFailures) Reset(_ context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.keys, key)
	return nil
}

func (m *MemoryFailures) live(key string, now time.Time) failureCount {
	c, ok := m.keys[key]
	if !ok || !now.Before(c.expires) {
		delete(m.keys, key)
		return failureCount{}
	}
	return c
}

// MemoryUsedTokens is an in-memory captcha.UsedTokens on a clock.
type MemoryUsedTokens struct {
	clock platform.Clock
	mu    sync.Mutex
	until map[string]time.Time
}

// NewMemoryUsedTokens returns an empty set on clock.
func NewMemoryUsedTokens(clock platform.Clock) *MemoryUsedTokens {
	return &MemoryUsedTokens{clock: clock, until: map[string]time.Time{}}
}

// Claim marks digest used for ttl; it reports whether it was not used.
func (m *MemoryUsedTokens) Claim(_ context.Context, digest string, ttl time.Duration) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.clock.Now()
	if until, ok := m.until[digest]; ok && now.Before(until) {
		return false, nil
	}
	m.until[digest] = now.Add(ttl)
	return true, nil
}

// VerifierFunc is a captcha.Verifier made of a function.
type VerifierFunc func(ctx context.Context, t captcha.Token) (captcha.Result, error)

// Verify calls f.
func (f VerifierFunc) Verify(ctx context.Context, t captcha.Token) (captcha.Result, error) {
	return f(ctx, t)
}
