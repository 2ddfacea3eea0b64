// Package mfatest provides in-memory mfa.TOTPs and mfa.BackupCodes for
// unit tests; both pass the contract suites every store must pass
// (contract.go).
package mfatest

import (
	"context"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/portcullis/portcullis/application/mfa"
	"github.com/portcullis/portcullis/domain/errs"
)

var (
	_ mfa.TOTPs       = (*MemoryTOTPs)(nil)
	_ mfa.BackupCodes = (*MemoryBackupCodes)(nil)
)

// MemoryTOTPs is an in-memory mfa.TOTPs.
type MemoryTOTPs struct {
	mu    sync.Mutex
	byKey map[string]mfa.TOTP
	steps map[string]bool
}

// NewMemoryTOTPs returns an empty store.
func NewMemoryTOTPs() *MemoryTOTPs {
	return &MemoryTOTPs{byKey: map[string]mfa.TOTP{}, steps: map[string]bool{}}
}

func key(tenantID, userID string) string { return tenantID + "\x00" + userID }

// Get returns the user's TOTP.
func (m *MemoryTOTPs) Get(_ context.Context, tenantID, userID string) (mfa.TOTP, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t, ok := m.byKey[key(tenantID, userID)]
	if !ok {
		return mfa.TOTP{}, errs.ErrNotFound
	}
	t.Sealed, t.PendingBackup = slices.Clone(t.Sealed), slices.Clone(t.PendingBackup)
	return t, nil
}

// Put stores a pending TOTP unless a confirmed one is there.
func (m *MemoryTOTPs) Put(_ context.Context, t mfa.TOTP) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := key(t.TenantID, t.UserID)
	if old, ok := m.byKey[k]; ok && old.Confirmed {
		return errs.ErrConflict
	}
	t.Confirmed, t.ConfirmedAt = false, time.Time{}
	t.Sealed, t.PendingBackup = slices.Clone(t.Sealed), slices.Clone(t.PendingBackup)
	m.byKey[k] = t
	return nil
}

// Confirm confirms the pending enrolment enrolmentID.
func (m *MemoryTOTPs) Confirm(_ context.Context, tenantID, userID, enrolmentID string, at time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := key(tenantID, userID)
	t, ok := m.byKey[k]
	if !ok || t.EnrolmentID != enrolmentID {
		return errs.ErrNotFound
	}
	t.Confirmed, t.ConfirmedAt, t.PendingBackup = true, at.UTC(), nil
	m.byKey[k] = t
	return nil
}

// Delete removes the user's TOTP.
func (m *MemoryTOTPs) Delete(_ context.Context, tenantID, userID string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.byKey, key(tenantID, userID))
	return nil
}

// UseStep claims step for the user.
func (m *MemoryTOTPs) UseStep(_ context.Context, tenantID, userID string, step int64, _ time.Time) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := key(tenantID, userID) + "\x00" + strconv.FormatInt(step, 10)
	if m.steps[k] {
		return false, nil
	}
	m.steps[k] = true
	return true, nil
}

// MemoryBackupCodes is an in-memory mfa.BackupCodes.
type MemoryBackupCodes struct {
	mu    sync.Mutex
	codes map[string]map[string]bool // user key → hash → unused
}

// NewMemoryBackupCodes returns an empty store.
func NewMemoryBackupCodes() *MemoryBackupCodes {
	return &MemoryBackupCodes{codes: map[string]map[string]bool{}}
}

// Replace makes hashes the user's codes.
func (m *MemoryBackupCodes) Replace(_ context.Context, tenantID, userID string, hashes []string, _ time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	set := make(map[string]bool, len(hashes))
	for _, h := range hashes {
		set[h] = true
	}
	m.codes[key(tenantID, userID)] = set
	return nil
}

// Use uses the user's code with hash.
func (m *MemoryBackupCodes) Use(_ context.Context, tenantID, userID, hash string, _ time.Time) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	set := m.codes[key(tenantID, userID)]
	if !set[hash] {
		return false, nil
	}
	delete(set, hash)
	return true, nil
}

// Left counts the user's unused codes.
func (m *MemoryBackupCodes) Left(_ context.Context, tenantID, userID string) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.codes[key(tenantID, userID)]), nil
}

// DeleteAll removes the user's codes.
func (m *MemoryBackupCodes) DeleteAll(_ context.Context, tenantID, userID string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.codes, key(tenantID, userID))
	return nil
}
