// Package accounttest provides an in-memory account.Users and the
// contract suite every implementation of it must pass.
package accounttest

import (
	"context"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/portcullis/portcullis/application/account"
	"github.com/portcullis/portcullis/application/platform/platformtest"
	"github.com/portcullis/portcullis/domain/errs"
	"github.com/portcullis/portcullis/domain/identity"
)

var ms = platformtest.MS

// MemoryUsers is an in-memory account.Users.
type MemoryUsers struct {
	mu      sync.Mutex
	byID    map[string]identity.User // by tenant/id
	byEmail map[string]string        // tenant/email key -> tenant/id
	byPhone map[string]string        // tenant/phone -> tenant/id, for users with a phone
}

var _ account.Users = (*MemoryUsers)(nil)

// NewMemoryUsers returns an empty user store.
func NewMemoryUsers() *MemoryUsers {
	return &MemoryUsers{byID: map[string]identity.User{}, byEmail: map[string]string{}, byPhone: map[string]string{}}
}

// Create adds a user unless the tenant has its e-mail key, its phone or its id.
func (m *MemoryUsers) Create(_ context.Context, u identity.User) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	id, email := u.TenantID+"/"+u.ID, u.TenantID+"/"+u.EmailKey
	if _, ok := m.byEmail[email]; ok {
		return identity.ErrEmailTaken
	}
	phone := u.TenantID + "/" + u.Phone
	if _, ok := m.byPhone[phone]; ok && u.Phone != "" {
		return identity.ErrPhoneTaken
	}
	if _, ok := m.byID[id]; ok {
		return errs.ErrConflict.WithMessage("user id %s exists", u.ID)
	}
	u.CreatedAt, u.UpdatedAt, u.LastLoginAt = ms(u.CreatedAt), ms(u.UpdatedAt), ms(u.LastLoginAt)
	u.Extra = maps.Clone(u.Extra) // the caller's map stays the caller's
	m.byID[id] = u
	m.byEmail[email] = id
	if u.Phone != "" {
		m.byPhone[phone] = id
	}
	return nil
}

// ByPhone returns the tenant's user with the phone number.
func (m *MemoryUsers) ByPhone(_ context.Context, tenantID, phone string) (identity.User, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	id, ok := m.byPhone[tenantID+"/"+phone]
	if !ok || phone == "" {
		return identity.User{}, errs.ErrNotFound
	}
	return m.byID[id], nil
}

// ByEmail returns the tenant's user with the e-mail key.
func (m *MemoryUsers) ByEmail(_ context.Context, tenantID, emailKey string) (identity.User, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	id, ok := m.byEmail[tenantID+"/"+emailKey]
	if !ok {
		return identity.User{}, errs.ErrNotFound
	}
	return m.byID[id], nil
}

// ByID returns the tenant's user with the id.
func (m *MemoryUsers) ByID(_ context.Context, tenantID, id string) (identity.User, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	u, ok := m.byID[tenantID+"/"+id]
	if !ok {
		return identity.User{}, errs.ErrNotFound
	}
	return u, nil
}

// SetPasswordHash replaces the user's password hash.
func (m *MemoryUsers) SetPasswordHash(_ context.Context, tenantID, id, hash string, at time.Time) error {
	return m.update(tenantID, id, func(u *identity.User) { u.PasswordHash, u.UpdatedAt = hash, ms(at) })
}

// RecordLogin stamps the user's last login.
func (m *MemoryUsers) RecordLogin(_ context.Context, tenantID, id string, at time.Time) error {
	return m.update(tenantID, id, func(u *identity.User) { u.LastLoginAt = ms(at) })
}

// SetActive enables or disables the user.
func (m *MemoryUsers) SetActive(_ context.Context, tenantID, id string, active bool, at time.Time) error {
	return m.update(tenantID, id, func(u *identity.User) { u.Active, u.UpdatedAt = active, ms(at) })
}

// SetPhoneVerified marks the user's phone number verified.
func (m *MemoryUsers) SetPhoneVerified(_ context.Context, tenantID, id string, at time.Time) error {
	return m.update(tenantID, id, func(u *identity.User) { u.PhoneVerified, u.UpdatedAt = true, ms(at) })
}

// SetEmailVerified marks the user's e-mail address verified if its key is
// still emailKey.
func (m *MemoryUsers) SetEmailVerified(_ context.Context, tenantID, id, emailKey string, at time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	u, ok := m.byID[tenantID+"/"+id]
	if !ok || u.EmailKey != emailKey {
		return errs.ErrNotFound
	}
	u.EmailVerified, u.UpdatedAt = true, ms(at)
	m.byID[tenantID+"/"+id] = u
	return nil
}

// SetName replaces the user's first and last name.
func (m *MemoryUsers) SetName(_ context.Context, tenantID, id, firstName, lastName string, at time.Time) error {
	return m.update(tenantID, id, func(u *identity.User) { u.FirstName, u.LastName, u.UpdatedAt = firstName, lastName, ms(at) })
}

// SetRole gives the user role.
func (m *MemoryUsers) SetRole(_ context.Context, tenantID, id string, role identity.Role, at time.Time) error {
	return m.update(tenantID, id, func(u *identity.User) { u.Role, u.UpdatedAt = role, ms(at) })
}

// SetEmail moves the user to a new, unverified address unless another user
// of the tenant has its key.
func (m *MemoryUsers) SetEmail(_ context.Context, tenantID, id, email, emailKey string, at time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	uid := tenantID + "/" + id
	u, ok := m.byID[uid]
	switch {
	case !ok:
		return errs.ErrNotFound
	case u.EmailKey == emailKey:
		return nil
	}
	if _, taken := m.byEmail[tenantID+"/"+emailKey]; taken {
		return identity.ErrEmailTaken
	}
	delete(m.byEmail, tenantID+"/"+u.EmailKey)
	m.byEmail[tenantID+"/"+emailKey] = uid
	u.Email, u.EmailKey, u.EmailVerified, u.UpdatedAt = email, emailKey, false, ms(at)
	m.byID[uid] = u
	return nil
}

// SetPhone gives the user a new, unverified phone number, or none, unless
// another user of the tenant has it.
func (m *MemoryUsers) SetPhone(_ context.Context, tenantID, id, phone string, at time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	uid := tenantID + "/" + id
	u, ok := m.byID[uid]
	switch {
	case !ok:
		return errs.ErrNotFound
	case u.Phone == phone:
		return nil
	}
	if phone != "" {
		if _, taken := m.byPhone[tenantID+"/"+phone]; taken {
			return identity.ErrPhoneTaken
		}
		m.byPhone[tenantID+"/"+phone] = uid
	}
	if u.Phone != "" {
		delete(m.byPhone, tenantID+"/"+u.Phone)
	}
	u.Phone, u.PhoneVerified, u.UpdatedAt = phone, false, ms(at)
	m.byID[uid] = u
	return nil
}

// List returns a page of the tenant's users matching f, newest first.
func (m *MemoryUsers) List(_ context.Context, tenantID string, f account.UserFilter, after account.UserPosition, limit int) ([]identity.User, error) {
	if limit < 1 {
		return nil, errs.ErrInvalid.WithMessage("users: limit must be at least 1")
	}
	m.mu.Lock()
	var out []identity.User
	for _, u := range m.byID {
		if u.TenantID == tenantID && matches(u, f) && (after.IsZero() || listedBefore(after, account.PositionOf(u))) {
			out = append(out, u)
		}
	}
	m.mu.Unlock()
	slices.SortFunc(out, func(a, b identity.User) int {
		switch {
		case listedBefore(account.PositionOf(a), account.PositionOf(b)):
			return -1
		case listedBefore(account.PositionOf(b), account.PositionOf(a)):
			return 1
		}
		return 0
	})
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// listedBefore reports whether a comes before b in List's order: later
// created, or created at the same instant with a greater id.
func listedBefore(a, b account.UserPosition) bool {
	if !a.CreatedAt.Equal(b.CreatedAt) {
		return a.CreatedAt.After(b.CreatedAt)
	}
	return a.ID > b.ID
}

func matches(u identity.User, f account.UserFilter) bool {
	return strings.HasPrefix(u.EmailKey, f.EmailPrefix) && (f.Phone == "" || u.Phone == f.Phone) &&
		(f.Role == "" || u.Role == f.Role) && (f.Active == nil || u.Active == *f.Active)
}

func (m *MemoryUsers) update(tenantID, id string, f func(*identity.User)) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	u, ok := m.byID[tenantID+"/"+id]
	if !ok {
		return errs.ErrNotFound
	}
	f(&u)
	m.byID[tenantID+"/"+id] = u
	return nil
}
