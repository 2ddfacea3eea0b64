// Package mfatest provides in-memory mfa.TOTPs and mfa.BackupCodes for
// unit tests; both pass the contract suites every store must pass
// (contract.go).
package mfatest

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/portcullis/portcullis/application/audit/audittest"
	"github.com/portcullis/portcullis/application/mfa"
	"github.com/portcullis/portcullis/application/platform"
	"github.com/portcullis/portcullis/application/throttle"
	"github.com/portcullis/portcullis/domain/errs"
	"github.com/portcullis/portcullis/domain/message"
	"github.com/portcullis/portcullis/domain/tenant"
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

// Sealer is an mfa.Sealer for tests: AES-256-GCM under a fixed key, as the
// platform's sealer is under the master key.
type Sealer struct{ aead cipher.AEAD }

var _ mfa.Sealer = (*Sealer)(nil)

// NewSealer returns a test sealer.
func NewSealer() *Sealer {
	block, err := aes.NewCipher([]byte("a test key of thirty-two bytes!!"))
	if err != nil {
		panic(err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		panic(err)
	}
	return &Sealer{aead: aead}
}

// Seal encrypts plaintext bound to additionalData.
func (s *Sealer) Seal(plaintext, additionalData []byte) ([]byte, error) {
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return s.aead.Seal(nonce, nonce, plaintext, additionalData), nil
}

// Open decrypts what Seal sealed with the same additionalData.
func (s *Sealer) Open(ciphertext, additionalData []byte) ([]byte, error) {
	n := s.aead.NonceSize()
	if len(ciphertext) < n {
		return nil, errors.New("mfatest: short ciphertext")
	}
	return s.aead.Open(nil, ciphertext[:n], ciphertext[n:], additionalData)
}

// Fixture is a tenant's second factor on in-memory stores.
type Fixture struct {
	Service *mfa.Service
	TOTPs   *MemoryTOTPs
	Backup  *MemoryBackupCodes
	// Audit holds what the second factor recorded.
	Audit *audittest.Recorder
}

// NewFixture returns tenant t's second factor on in-memory stores and a
// test sealer, counting against limiter, mailing through mail and
// recording into rec (a new recorder when nil).
func NewFixture(tb testing.TB, t tenant.Tenant, clock platform.Clock, limiter throttle.Limiter, mail mfa.Mail, reauth mfa.Reauth,
	rec *audittest.Recorder) Fixture {
	tb.Helper()
	key, err := mfa.DeriveKey([]byte("a master key of at least sixteen bytes"), t.ID)
	if err != nil {
		tb.Fatal(err)
	}
	if rec == nil {
		rec = audittest.NewRecorder()
	}
	f := Fixture{TOTPs: NewMemoryTOTPs(), Backup: NewMemoryBackupCodes(), Audit: rec}
	f.Service = mfa.New(t, mfa.Deps{TOTPs: f.TOTPs, Backup: f.Backup, Sealer: NewSealer(), Key: key, Limiter: limiter,
		Reauth: reauth, Mail: mail, Audit: rec, Clock: clock, Random: rand.Reader})
	return f
}

// Discard is a mail port that sends nothing.
type Discard struct{}

// Send drops the mail.
func (Discard) Send(context.Context, message.MailKind, string, message.MailData, time.Time) error {
	return nil
}
