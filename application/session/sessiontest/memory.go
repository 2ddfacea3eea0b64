// Package sessiontest provides in-memory session.Sessions,
// session.RefreshTokens and session.Revocations, and the contract suites
// every implementation of those ports must pass.
package sessiontest

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/portcullis/portcullis/application/platform"
	"github.com/portcullis/portcullis/application/platform/platformtest"
	"github.com/portcullis/portcullis/application/session"
	"github.com/portcullis/portcullis/domain/errs"
	"github.com/portcullis/portcullis/domain/identity"
)

var ms = platformtest.MS

// MemorySessions is an in-memory session.Sessions.
type MemorySessions struct {
	mu       sync.Mutex
	log      []session.Revocation
	byID     map[string]identity.Session // by tenant/id
	bySecret map[string]string           // tenant/secret hash -> tenant/id
}

var _ session.Sessions = (*MemorySessions)(nil)

// NewMemorySessions returns an empty session store.
func NewMemorySessions() *MemorySessions {
	return &MemorySessions{byID: map[string]identity.Session{}, bySecret: map[string]string{}}
}

// Create adds a session unless the tenant has its id or secret hash.
func (m *MemorySessions) Create(_ context.Context, s identity.Session) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	id := s.TenantID + "/" + s.ID
	_, idTaken := m.byID[id]
	_, secretTaken := m.bySecret[s.TenantID+"/"+s.SecretHash]
	if idTaken || (s.SecretHash != "" && secretTaken) {
		return errs.ErrConflict.WithMessage("the session id or secret exists")
	}
	s.CreatedAt, s.LastSeenAt, s.IdleExpiresAt, s.ExpiresAt, s.RevokedAt = ms(s.CreatedAt), ms(s.LastSeenAt), ms(s.IdleExpiresAt), ms(s.ExpiresAt), ms(s.RevokedAt)
	s.AMR = slices.Clone(s.AMR)
	m.byID[id] = s
	if s.SecretHash != "" {
		m.bySecret[s.TenantID+"/"+s.SecretHash] = id
	}
	return nil
}

func (m *MemorySessions) get(key string) (identity.Session, error) {
	s, ok := m.byID[key]
	if !ok {
		return identity.Session{}, errs.ErrNotFound
	}
	s.AMR = slices.Clone(s.AMR)
	return s, nil
}

// ByID returns the tenant's session with the id, live or not.
func (m *MemorySessions) ByID(_ context.Context, tenantID, id string) (identity.Session, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.get(tenantID + "/" + id)
}

// BySecret returns the tenant's session with the secret hash, live or not.
func (m *MemorySessions) BySecret(_ context.Context, tenantID, secretHash string) (identity.Session, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	id, ok := m.bySecret[tenantID+"/"+secretHash]
	if !ok || secretHash == "" {
		return identity.Session{}, errs.ErrNotFound
	}
	return m.get(id)
}

// live returns the user's sessions live at now, newest first.
func (m *MemorySessions) live(tenantID, userID string, now time.Time) []identity.Session {
	var out []identity.Session
	for _, s := range m.byID {
		if s.TenantID == tenantID && s.UserID == userID && s.Live(now) {
			s.AMR = slices.Clone(s.AMR)
			out = append(out, s)
		}
	}
	slices.SortFunc(out, func(a, b identity.Session) int {
		return cmp.Or(b.CreatedAt.Compare(a.CreatedAt), cmp.Compare(b.ID, a.ID))
	})
	return out
}

// ListLive returns the user's sessions live at now, newest first.
func (m *MemorySessions) ListLive(_ context.Context, tenantID, userID string, now time.Time) ([]identity.Session, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.live(tenantID, userID, now), nil
}

// Touch records activity: the last-seen time and the slid idle expiry.
func (m *MemorySessions) Touch(_ context.Context, tenantID, id string, lastSeen, idleExpires time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.byID[tenantID+"/"+id]
	if !ok {
		return errs.ErrNotFound
	}
	s.LastSeenAt, s.IdleExpiresAt = ms(lastSeen), ms(idleExpires)
	m.byID[tenantID+"/"+id] = s
	return nil
}

// Revoke revokes the session unless it is revoked already, and reports
// whether it did. An unknown session is not an error: nothing changed.
func (m *MemorySessions) Revoke(_ context.Context, tenantID, id string, at, until time.Time) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.revoke(tenantID, id, at, until), nil
}

func (m *MemorySessions) revoke(tenantID, id string, at, until time.Time) bool {
	key := tenantID + "/" + id
	s, ok := m.byID[key]
	if !ok || !s.RevokedAt.IsZero() {
		return false
	}
	s.RevokedAt = ms(at)
	m.byID[key] = s
	m.log = append(m.log, session.Revocation{TenantID: tenantID, SessionID: id, At: ms(at), Until: ms(until)})
	return true
}

// RevokedSince lists the revocations made at or after since whose until
// is after now, oldest first.
func (m *MemorySessions) RevokedSince(_ context.Context, since, now time.Time) ([]session.Revocation, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := []session.Revocation{}
	for _, r := range m.log {
		if !r.At.Before(since) && r.Until.After(now) {
			out = append(out, r)
		}
	}
	slices.SortStableFunc(out, func(a, b session.Revocation) int { return a.At.Compare(b.At) })
	return out, nil
}

// RevokeOthers revokes every session of the user live at at except keepID
// and returns the ids it revoked, newest first.
func (m *MemorySessions) RevokeOthers(_ context.Context, tenantID, userID, keepID string, at, until time.Time) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	revoked := []string{}
	for _, s := range m.live(tenantID, userID, at) {
		if s.ID != keepID && m.revoke(tenantID, s.ID, at, until) {
			revoked = append(revoked, s.ID)
		}
	}
	return revoked, nil
}

// MemoryRefreshTokens is an in-memory session.RefreshTokens.
type MemoryRefreshTokens struct {
	mu     sync.Mutex
	tokens map[string]identity.RefreshToken // by tenant/hash
}

var _ session.RefreshTokens = (*MemoryRefreshTokens)(nil)

// NewMemoryRefreshTokens returns an empty refresh token store.
func NewMemoryRefreshTokens() *MemoryRefreshTokens {
	return &MemoryRefreshTokens{tokens: map[string]identity.RefreshToken{}}
}

// Create adds a token unless the tenant has its hash.
func (m *MemoryRefreshTokens) Create(_ context.Context, t identity.RefreshToken) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	key := t.TenantID + "/" + t.Hash
	if _, ok := m.tokens[key]; ok {
		return errs.ErrConflict.WithMessage("the refresh token exists")
	}
	t.CreatedAt, t.ExpiresAt, t.UsedAt = ms(t.CreatedAt), ms(t.ExpiresAt), ms(t.UsedAt)
	m.tokens[key] = t
	return nil
}

// Use marks the token used at at and returns it as it was before.
func (m *MemoryRefreshTokens) Use(_ context.Context, tenantID, hash string, at time.Time) (identity.RefreshToken, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	key := tenantID + "/" + hash
	t, ok := m.tokens[key]
	if !ok {
		return identity.RefreshToken{}, errs.ErrNotFound
	}
	if t.UsedAt.IsZero() {
		used := t
		used.UsedAt = ms(at)
		m.tokens[key] = used
	}
	return t, nil
}

// MemoryRevocations is an in-memory session.Revocations. Flush loses its
// contents as a Redis flush would.
type MemoryRevocations struct {
	clock    platform.Clock
	mu       sync.Mutex
	until    map[string]time.Time // tenant/session id → end of the entry
	complete bool
	filling  bool
}

var _ session.Revocations = (*MemoryRevocations)(nil)

// NewMemoryRevocations returns an empty revocation set on clock, not
// marked complete.
func NewMemoryRevocations(clock platform.Clock) *MemoryRevocations {
	return &MemoryRevocations{clock: clock, until: map[string]time.Time{}}
}

// Revoke records sessionID as revoked for ttl (at least a second), unless
// it is recorded for longer already.
func (m *MemoryRevocations) Revoke(_ context.Context, tenantID, sessionID string, ttl time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	until := m.clock.Now().Add(max(ttl, time.Second))
	if k := tenantID + "/" + sessionID; until.After(m.until[k]) {
		m.until[k] = until
	}
	return nil
}

// Revoked reports whether sessionID is in the set, and whether the set is
// marked complete.
func (m *MemoryRevocations) Revoked(_ context.Context, tenantID, sessionID string) (bool, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.clock.Now().Before(m.until[tenantID+"/"+sessionID]), m.complete, nil
}

// Complete reports the marker; when it is absent, a fill begins.
func (m *MemoryRevocations) Complete(context.Context) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.complete {
		m.filling = true
	}
	return m.complete, nil
}

// MarkComplete sets the marker unless the set was flushed since the fill
// began.
func (m *MemoryRevocations) MarkComplete(context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.filling {
		return errors.New("revocations: the set was lost while it was being filled")
	}
	m.complete, m.filling = true, false
	return nil
}

// Flush loses every entry and the marker.
func (m *MemoryRevocations) Flush() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.until, m.complete, m.filling = map[string]time.Time{}, false, false
}
