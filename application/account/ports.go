// Package account declares the account store: the port through which every
// use case reads and writes users. The use cases themselves live by concern
// in application/password, application/login and application/session.
package account

import (
	"context"
	"time"

	"github.com/portcullis/portcullis/domain/identity"
)

// Users stores accounts. Create must fail with identity.ErrEmailTaken when
// the tenant has the e-mail key already, and with identity.ErrPhoneTaken
// when the user has a phone number another user of the tenant has — also
// when two creates race (unique indexes on tenant_id + email_key and on
// tenant_id + phone). Users without a phone number never collide; when
// both the e-mail key and the phone are taken, ErrEmailTaken is reported.
// Lookups answer errs.ErrNotFound.
type Users interface {
	Create(ctx context.Context, u identity.User) error
	ByEmail(ctx context.Context, tenantID, emailKey string) (identity.User, error)
	// ByPhone returns the tenant's user with the phone number, in E.164
	// form as stored; an empty phone finds nobody.
	ByPhone(ctx context.Context, tenantID, phone string) (identity.User, error)
	ByID(ctx context.Context, tenantID, id string) (identity.User, error)
	SetPasswordHash(ctx context.Context, tenantID, id, hash string, at time.Time) error
	RecordLogin(ctx context.Context, tenantID, id string, at time.Time) error
	// SetActive enables or disables an account; a disabled account's
	// credentials are refused from the next request on.
	SetActive(ctx context.Context, tenantID, id string, active bool, at time.Time) error
	// SetPhoneVerified marks the user's phone number as verified and stamps
	// updated_at. The caller has checked that the user proved the number
	// the user has now.
	SetPhoneVerified(ctx context.Context, tenantID, id string, at time.Time) error
	// SetEmailVerified marks the user's e-mail address verified and stamps
	// updated_at, if the user's e-mail key is still emailKey: a link mailed to
	// an address the user has since left verifies nothing (errs.ErrNotFound,
	// as for an unknown user).
	SetEmailVerified(ctx context.Context, tenantID, id, emailKey string, at time.Time) error
	// SetName replaces the user's first and last name and stamps updated_at.
	SetName(ctx context.Context, tenantID, id, firstName, lastName string, at time.Time) error
	// SetRole gives the user role and stamps updated_at. The caller ends
	// the user's sessions: their access tokens carry the old role.
	SetRole(ctx context.Context, tenantID, id string, role identity.Role, at time.Time) error
	// SetEmail moves the user to a new address: email as typed, emailKey its
	// lookup key. The address becomes unverified. identity.ErrEmailTaken when
	// another user of the tenant has the key; of concurrent moves (or a move
	// and a Create) to one key exactly one wins. Moving to the key the user
	// already has changes nothing and succeeds. After it, ByEmail finds the
	// user by the new key and nobody by the old one.
	SetEmail(ctx context.Context, tenantID, id, email, emailKey string, at time.Time) error
	// SetPhone gives the user the phone number phone (E.164), or none when
	// phone is "", and stamps updated_at; the number becomes unverified.
	// identity.ErrPhoneTaken when another user of the tenant has it; of
	// concurrent changes (or a change and a Create) to one number exactly
	// one wins. Setting the number the user already has changes nothing and
	// succeeds. After it, ByPhone finds the user by the new number and
	// nobody by the old one, which another user may then take.
	SetPhone(ctx context.Context, tenantID, id, phone string, at time.Time) error
	// List returns at most limit (≥ 1) of the tenant's users that match f,
	// newest first: by CreatedAt, latest first, and among users created at
	// one instant by ID, greatest first. It starts after the position
	// after (the CreatedAt and ID of the last user of the previous page;
	// the zero UserPosition for the first page). A walk of the pages is
	// stable under concurrent creates: a user stored before the first page
	// was read and not changed meanwhile appears on exactly one page, and
	// none appears twice.
	List(ctx context.Context, tenantID string, f UserFilter, after UserPosition, limit int) ([]identity.User, error)
}

// UserFilter selects users for Users.List; its zero value selects all.
type UserFilter struct {
	// EmailPrefix keeps the users whose e-mail key begins with it (a
	// prefix of a key, as identity.EmailKeyPrefix makes it).
	EmailPrefix string
	// Phone keeps the user with this phone number, in E.164 form.
	Phone string
	// Role keeps the users of this role.
	Role identity.Role
	// Active, when set, keeps the active users (true) or the disabled ones
	// (false).
	Active *bool
}

// UserPosition is a place in Users.List's order: a user's CreatedAt and
// ID. The zero value is before the first user.
type UserPosition struct {
	CreatedAt time.Time
	ID        string
}

// IsZero reports whether p is the start of the list.
func (p UserPosition) IsZero() bool { return p.CreatedAt.IsZero() && p.ID == "" }

// PositionOf is the position of u in Users.List's order.
func PositionOf(u identity.User) UserPosition { return UserPosition{CreatedAt: u.CreatedAt, ID: u.ID} }
