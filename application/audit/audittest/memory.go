// Package audittest provides an in-memory audit.Log, the contract suite
// every audit.Log must pass, and a Recorder fake that keeps what the use
// cases record.
package audittest

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/portcullis/portcullis/application/audit"
	"github.com/portcullis/portcullis/application/platform/platformtest"
)

// MemoryLog is an in-memory audit.Log. Like a store, it keeps times to
// the millisecond.
type MemoryLog struct {
	mu     sync.Mutex
	events map[string]map[string]audit.Event // tenant → id → event
}

var _ audit.Log = (*MemoryLog)(nil)

// NewMemoryLog returns an empty log.
func NewMemoryLog() *MemoryLog { return &MemoryLog{events: map[string]map[string]audit.Event{}} }

// Append stores the events whose ids are new, or none when one is
// malformed.
func (m *MemoryLog) Append(_ context.Context, events ...audit.Event) error {
	var problems []error
	for _, e := range events {
		problems = append(problems, e.Check())
	}
	if err := errors.Join(problems...); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, e := range events {
		tenant := m.events[e.TenantID]
		if tenant == nil {
			tenant = map[string]audit.Event{}
			m.events[e.TenantID] = tenant
		}
		if _, ok := tenant[e.ID]; ok {
			continue
		}
		e.Time, e.ExpiresAt = platformtest.MS(e.Time), platformtest.MS(e.ExpiresAt)
		e.AMR, e.Changes = slices.Clone(e.AMR), slices.Clone(e.Changes)
		tenant[e.ID] = e
	}
	return nil
}

// Query returns a page of the tenant's live events matching f, newest
// first.
func (m *MemoryLog) Query(_ context.Context, tenantID string, f audit.Filter, cursor string, limit int, now time.Time) (audit.Page, error) {
	if cursor != "" && !audit.ValidID(cursor) {
		return audit.Page{}, audit.ErrInvalidCursor
	}
	if limit < 1 {
		return audit.Page{}, errors.New("audittest: limit must be at least 1")
	}
	m.mu.Lock()
	var out []audit.Event
	for _, e := range m.events[tenantID] {
		if Matches(e, f, cursor, now) {
			e.AMR, e.Changes = slices.Clone(e.AMR), slices.Clone(e.Changes)
			out = append(out, e)
		}
	}
	m.mu.Unlock()
	slices.SortFunc(out, func(a, b audit.Event) int { return strings.Compare(b.ID, a.ID) })
	var page audit.Page
	if len(out) > limit {
		out = out[:limit]
		page.Next = out[limit-1].ID
	}
	page.Events = out
	return page, nil
}

// Matches reports whether e is one Query returns for f after cursor at
// now: the rule a store's query implements.
func Matches(e audit.Event, f audit.Filter, cursor string, now time.Time) bool {
	switch {
	case !e.ExpiresAt.After(now):
		return false
	case cursor != "" && e.ID >= cursor:
		return false
	case !f.Since.IsZero() && e.ID < audit.IDAt(f.Since):
		return false
	case !f.Until.IsZero() && e.ID >= audit.IDAt(f.Until):
		return false
	case len(f.Types) > 0 && !slices.Contains(f.Types, e.Type):
		return false
	case f.UserID != "" && e.ActorID != f.UserID && e.TargetID != f.UserID:
		return false
	case f.TargetID != "" && e.TargetID != f.TargetID:
		return false
	}
	return true
}

// Sweep deletes the events expired at now, as a store's sweep does, and
// returns how many it deleted.
func (m *MemoryLog) Sweep(now time.Time) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, tenant := range m.events {
		for id, e := range tenant {
			if !e.ExpiresAt.After(now) {
				delete(tenant, id)
				n++
			}
		}
	}
	return n
}

// All returns every stored event of every tenant, in id order.
func (m *MemoryLog) All() []audit.Event {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []audit.Event
	for _, tenant := range m.events {
		for _, e := range tenant {
			out = append(out, e)
		}
	}
	slices.SortFunc(out, func(a, b audit.Event) int { return strings.Compare(a.ID, b.ID) })
	return out
}
