package admin

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/portcullis/portcullis/application/account"
	"github.com/portcullis/portcullis/application/audit"
	"github.com/portcullis/portcullis/domain/errs"
	"github.com/portcullis/portcullis/domain/identity"
)

// Page sizes of ListUsers.
const (
	DefaultUserLimit = 50
	MaxUserLimit     = 200
)

// The states a list may be filtered by (UserQuery.Status).
const (
	StatusActive   = "active"
	StatusDisabled = "disabled"
)

// UserQuery asks for a page of the tenant's users, as a client typed it;
// empty fields do not filter.
type UserQuery struct {
	// Email keeps the users whose address begins with it, compared as
	// e-mail keys are (without regard to case or Unicode form).
	Email string
	// Phone keeps the user with this number, in any form the tenant's
	// SMS policy reads (its default region, its countries).
	Phone string
	// Role keeps the users of this role of the tenant.
	Role string
	// Status keeps the active (StatusActive) or the disabled
	// (StatusDisabled) users.
	Status string
	// Limit is the page size: 0 means DefaultUserLimit, at most
	// MaxUserLimit.
	Limit int
	// Cursor is the Next of the previous page; "" for the first.
	Cursor string
}

// UserPage is one page of users, newest first, and the cursor of the
// next page ("" when this is the last).
type UserPage struct {
	Users []identity.User
	Next  string
}

// ErrInvalidUserCursor answers a cursor that no page gave.
var ErrInvalidUserCursor = errs.InvalidFields(errs.FieldError{Field: "cursor", Reason: "is not a cursor of this list"})

// ListUsers returns a page of the tenant's users that match q (users:read),
// newest first (by creation, then by id), with the cursor of the next
// page: a walk of the pages lists every user stored before it began once
// (account.Users.List). Bad input is an errs.Invalid error naming every
// bad field: "email", "phone" (as NormalizePhone reads it), "role" (not a
// role of the tenant), "status", "limit", "cursor".
func (s *Service) ListUsers(ctx context.Context, actor identity.User, q UserQuery) (UserPage, error) {
	if err := s.require(ctx, actor, ActionListUsers, "", identity.ScopeUsersRead); err != nil {
		return UserPage{}, err
	}
	var (
		f      account.UserFilter
		fields []errs.FieldError
		err    error
	)
	if f.EmailPrefix, err = identity.EmailKeyPrefix(q.Email); err != nil {
		fields = append(fields, errs.FieldError{Field: "email", Reason: err.Error()})
	}
	if strings.TrimSpace(q.Phone) != "" {
		if f.Phone, err = identity.NormalizePhone(q.Phone, s.t.SMS.DefaultRegion, s.t.SMS.AllowedCountries); err != nil {
			fields = append(fields, errs.As(err).Fields...)
		}
	}
	if q.Role != "" {
		if _, ok := s.rights[identity.Role(q.Role)]; !ok {
			fields = append(fields, errs.FieldError{Field: "role", Reason: fmt.Sprintf("%q is not a role of this tenant", q.Role)})
		}
		f.Role = identity.Role(q.Role)
	}
	switch q.Status {
	case "":
	case StatusActive, StatusDisabled:
		active := q.Status == StatusActive
		f.Active = &active
	default:
		fields = append(fields, errs.FieldError{Field: "status", Reason: fmt.Sprintf("must be %s or %s", StatusActive, StatusDisabled)})
	}
	limit := q.Limit
	switch {
	case limit == 0:
		limit = DefaultUserLimit
	case limit < 0 || limit > MaxUserLimit:
		fields = append(fields, errs.FieldError{Field: "limit", Reason: fmt.Sprintf("must be between 1 and %d", MaxUserLimit)})
	}
	after, ok := decodeUserCursor(q.Cursor)
	if !ok {
		fields = append(fields, ErrInvalidUserCursor.Fields...)
	}
	if len(fields) > 0 {
		return UserPage{}, errs.InvalidFields(fields...)
	}
	// One more than the page, to know whether another follows.
	users, err := s.d.Users.List(ctx, s.t.ID, f, after, limit+1)
	if err != nil {
		return UserPage{}, fmt.Errorf("admin: list users: %w", err)
	}
	page := UserPage{Users: users}
	if len(users) > limit {
		page.Users = users[:limit]
		page.Next = encodeUserCursor(account.PositionOf(page.Users[limit-1]))
	}
	return page, nil
}

// A user cursor is the position of the last user of a page: its creation
// time (RFC 3339 with nanoseconds, in UTC: it holds every time, the zero
// one of an account stored without one too) and its id, "<time> <id>", in
// unpadded base64url so that it reads as one opaque token.
func encodeUserCursor(p account.UserPosition) string {
	return base64.RawURLEncoding.EncodeToString([]byte(p.CreatedAt.UTC().Format(time.RFC3339Nano) + " " + p.ID))
}

// decodeUserCursor reads a cursor; "" is the start of the list.
func decodeUserCursor(c string) (account.UserPosition, bool) {
	if c == "" {
		return account.UserPosition{}, true
	}
	if len(c) > 512 {
		return account.UserPosition{}, false
	}
	raw, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return account.UserPosition{}, false
	}
	at, id, ok := strings.Cut(string(raw), " ")
	t, err := time.Parse(time.RFC3339Nano, at)
	if !ok || err != nil || id == "" {
		return account.UserPosition{}, false
	}
	return account.UserPosition{CreatedAt: t.UTC(), ID: id}, true
}

// NewUser is an account an admin creates.
type NewUser struct {
	Email     string
	FirstName string
	LastName  string
	// Phone is optional; any form the tenant's SMS policy reads.
	Phone string
	// Role is the account's role; "" means identity.RoleUser.
	Role identity.Role
}

// Created is an account an admin created, and whether its invitation went
// out (see CreateUser).
type Created struct {
	User    identity.User
	Invited bool
}

// CreateUser creates an account (users:write): active, without a
// password, its address unverified, of role in.Role (the user role when
// empty; any other needs what SetRole needs: roles:assign, every scope of
// the role, and a rank above it, or an admin's giving admin). Then the
// account is mailed an invitation whose link sets its password (and so
// proves its address); the account exists whatever becomes of the mail,
// and Created.Invited says whether it went out. The address and the
// phone are checked as at registration, and the role is one of the
// tenant's (errs.Invalid naming every bad field); a taken one is identity.ErrEmailTaken or identity.ErrPhoneTaken.
// It is recorded (admin.action user.created, with the role).
func (s *Service) CreateUser(ctx context.Context, actor identity.User, in NewUser) (Created, error) {
	if err := s.require(ctx, actor, ActionCreateUser, "", identity.ScopeUsersWrite); err != nil {
		return Created{}, err
	}
	role := in.Role
	if role == "" {
		role = identity.RoleUser
	}
	var fields []errs.FieldError
	if _, known := s.rights[role]; !known {
		fields = append(fields, errs.FieldError{Field: "role", Reason: fmt.Sprintf("%q is not a role of this tenant", role)})
	} else if role != identity.RoleUser {
		if err := s.rights.CanGrant(actor.Role, role); err != nil {
			return Created{}, s.denied(ctx, actor, ActionCreateUser, "", err)
		}
	}
	p, key, err := identity.CheckProfile(identity.Profile{Email: in.Email, FirstName: in.FirstName, LastName: in.LastName, Phone: in.Phone}, s.t.SMS)
	if err != nil {
		fields = append(errs.As(err).Fields, fields...)
	}
	if len(fields) > 0 {
		return Created{}, errs.InvalidFields(fields...)
	}
	id, err := s.newID()
	if err != nil {
		return Created{}, err
	}
	now := s.d.Clock.Now().UTC()
	u := identity.User{ID: id, TenantID: s.t.ID, Email: p.Email, EmailKey: key, FirstName: p.FirstName, LastName: p.LastName,
		Phone: p.Phone, Role: role, Active: true, CreatedAt: now, UpdatedAt: now}
	switch err := s.d.Users.Create(ctx, u); {
	case errors.Is(err, identity.ErrEmailTaken):
		return Created{}, identity.ErrEmailTaken
	case errors.Is(err, identity.ErrPhoneTaken):
		return Created{}, identity.ErrPhoneTaken
	case err != nil:
		return Created{}, fmt.Errorf("admin: create a user: %w", err)
	}
	s.record(ctx, audit.Event{Type: audit.AdminAction, Reason: audit.AdminUserCreated, ActorID: actor.ID, TargetID: u.ID, NewRole: string(role)})
	return Created{User: u, Invited: s.d.Invites.Invite(ctx, u) == nil}, nil
}

// ProfileChange is what an admin changes of a user's profile: the fields
// that are not nil. A Phone of "" removes the number.
type ProfileChange struct {
	FirstName, LastName *string
	Email               *string
	Phone               *string
}

// UpdateProfile changes the profile fields of user id that ch sets
// (users:write, outranking the user), each checked as at registration;
// every bad field is reported at once (errs.Invalid) and nothing changes
// then. A new address moves the account to it, unverified
// (identity.ErrEmailTaken when another account has it); a new phone
// number is unverified (identity.ErrPhoneTaken when another account has
// it). Both are checked before anything is written; should another
// account take one between the check and the write, the changes written
// before it stay. A change is recorded (admin.action profile.updated); a
// change to what the user has already changes and records nothing.
func (s *Service) UpdateProfile(ctx context.Context, actor identity.User, id string, ch ProfileChange) (identity.User, error) {
	u, err := s.target(ctx, actor, ActionUpdateProfile, identity.ScopeUsersWrite, id)
	if err != nil {
		return identity.User{}, err
	}
	var fields []errs.FieldError
	// Each name given is checked alone (beside a valid stand-in for the
	// other): a name left as it is may predate the rule.
	name := func(field string, v *string, keep string) string {
		if v == nil {
			return keep
		}
		first, last := *v, "x"
		if field == "last_name" {
			first, last = "x", *v
		}
		first, last, err := identity.CheckNames(first, last)
		if err != nil {
			for _, fe := range errs.As(err).Fields {
				if fe.Field == field {
					fields = append(fields, fe)
				}
			}
		}
		if field == "last_name" {
			return last
		}
		return first
	}
	first, last := name("first_name", ch.FirstName, u.FirstName), name("last_name", ch.LastName, u.LastName)
	email, key := u.Email, u.EmailKey
	if ch.Email != nil {
		if email, key, err = identity.NormalizeEmail(*ch.Email); err != nil {
			fields = append(fields, errs.FieldError{Field: "email", Reason: err.Error()})
		}
	}
	phone := u.Phone
	if ch.Phone != nil {
		phone = ""
		if strings.TrimSpace(*ch.Phone) != "" {
			if phone, err = identity.NormalizePhone(*ch.Phone, s.t.SMS.DefaultRegion, s.t.SMS.AllowedCountries); err != nil {
				fields = append(fields, errs.As(err).Fields...)
			}
		}
	}
	if len(fields) > 0 {
		return identity.User{}, errs.InvalidFields(fields...)
	}
	moveEmail, movePhone := key != u.EmailKey, phone != u.Phone
	rename := first != u.FirstName || last != u.LastName
	if !moveEmail && !movePhone && !rename {
		return u, nil
	}
	if moveEmail {
		if other, err := s.d.Users.ByEmail(ctx, s.t.ID, key); err == nil && other.ID != u.ID {
			return identity.User{}, identity.ErrEmailTaken
		} else if err != nil && !errors.Is(err, errs.ErrNotFound) {
			return identity.User{}, fmt.Errorf("admin: %w", err)
		}
	}
	if movePhone && phone != "" {
		if other, err := s.d.Users.ByPhone(ctx, s.t.ID, phone); err == nil && other.ID != u.ID {
			return identity.User{}, identity.ErrPhoneTaken
		} else if err != nil && !errors.Is(err, errs.ErrNotFound) {
			return identity.User{}, fmt.Errorf("admin: %w", err)
		}
	}
	now := s.d.Clock.Now().UTC()
	changed := false
	defer func() {
		if changed {
			s.record(ctx, audit.Event{Type: audit.AdminAction, Reason: audit.AdminProfileUpdated, ActorID: actor.ID, TargetID: u.ID})
		}
	}()
	if moveEmail {
		if err := s.d.Users.SetEmail(ctx, s.t.ID, u.ID, email, key, now); err != nil {
			return identity.User{}, storeChangeErr(err)
		}
		u.Email, u.EmailKey, u.EmailVerified, changed = email, key, false, true
	}
	if movePhone {
		if err := s.d.Users.SetPhone(ctx, s.t.ID, u.ID, phone, now); err != nil {
			return identity.User{}, storeChangeErr(err)
		}
		u.Phone, u.PhoneVerified, changed = phone, false, true
	}
	if rename {
		if err := s.d.Users.SetName(ctx, s.t.ID, u.ID, first, last, now); err != nil {
			return identity.User{}, storeChangeErr(err)
		}
		u.FirstName, u.LastName, changed = first, last, true
	}
	u.UpdatedAt = now
	return u, nil
}

// storeChangeErr is how a refused write of a profile change is answered:
// a taken address or number as itself, a user gone as not found.
func storeChangeErr(err error) error {
	switch {
	case errors.Is(err, identity.ErrEmailTaken):
		return identity.ErrEmailTaken
	case errors.Is(err, identity.ErrPhoneTaken):
		return identity.ErrPhoneTaken
	case errors.Is(err, errs.ErrNotFound):
		return ErrUserNotFound
	}
	return fmt.Errorf("admin: %w", err)
}

// newID draws a user id as registration does: 128 random bits, base64url.
func (s *Service) newID() (string, error) {
	b := make([]byte, 16)
	if _, err := io.ReadFull(s.d.Random, b); err != nil {
		return "", fmt.Errorf("admin: random: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}
