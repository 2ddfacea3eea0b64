// Package profile is what a signed-in person changes about their own
// account: the password (the current one and a new one; every other
// session of the account ends), the name, and the e-mail address (the
// password required; the old address is told where the account went and
// the new one is mailed a verification link).
//
// Proving the current password is counted against one budget of the
// account, shared by both changes that ask for it, before any hashing
// (throttle.Reauth, with the tenant's login_per_account limit), so that a stolen session is no faster a way to guess the
// password than a login is; a right password gives its attempt back, and
// an attempt that was never judged (the hashing pool full) costs nothing.
// The budget is the account's own, apart from the login budgets: strangers
// failing to log in do not lock the owner out of these changes.
//
// An account without a password (one that signs in by a code only) can
// change neither its password nor its address here: both answer
// ErrNoPassword, and a password reset gives it one first.
package profile

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/portcullis/portcullis/application/audit"
	"github.com/portcullis/portcullis/application/platform"
	"github.com/portcullis/portcullis/application/session"
	"github.com/portcullis/portcullis/application/throttle"
	"github.com/portcullis/portcullis/domain/errs"
	"github.com/portcullis/portcullis/domain/identity"
	"github.com/portcullis/portcullis/domain/link"
	"github.com/portcullis/portcullis/domain/message"
	"github.com/portcullis/portcullis/domain/tenant"
)

// Users is the account store as the profile changes need it (account.Users
// is one). ByID answers errs.ErrNotFound for an unknown user; SetEmail
// answers identity.ErrEmailTaken when another user of the tenant has the
// key, and leaves the new address unverified.
type Users interface {
	ByID(ctx context.Context, tenantID, id string) (identity.User, error)
	SetPasswordHash(ctx context.Context, tenantID, id, hash string, at time.Time) error
	SetName(ctx context.Context, tenantID, id, firstName, lastName string, at time.Time) error
	SetEmail(ctx context.Context, tenantID, id, email, emailKey string, at time.Time) error
}

// Hasher hashes and verifies passwords with the tenant's parameters
// (password.Hasher is one).
type Hasher interface {
	Hash(ctx context.Context, password string, p tenant.HashParams) (string, error)
	Verify(ctx context.Context, password, encoded string, p tenant.HashParams) (ok, rehash bool, err error)
}

// Sessions ends every session of the principal's account but the one the
// principal came with (session.Service is one).
type Sessions interface {
	RevokeOtherSessions(ctx context.Context, p session.Principal) (int, error)
}

// Verifier mails a user the link that verifies their address, under the
// paths of a surface (verification.Service is one).
type Verifier interface {
	Send(ctx context.Context, u identity.User, paths link.Paths) error
}

// Mail delivers the tenant's mail in the background until deadline
// (courier.Courier is one).
type Mail interface {
	Send(ctx context.Context, kind message.MailKind, to string, d message.MailData, deadline time.Time) error
}

// Deps are the ports one tenant's profile changes use; all are required.
type Deps struct {
	Users    Users
	Hasher   Hasher
	Common   identity.CommonPasswords
	Sessions Sessions
	Verifier Verifier
	Mail     Mail
	Limiter  throttle.Limiter
	// Audit records the changes of password and address.
	Audit audit.Recorder
	Clock platform.Clock
}

// Errors the profile changes report; the codes are stable.
var (
	// ErrWrongPassword answers a current password that does not match. It
	// names the input that held it: "old_password" in ChangePassword,
	// "password" in ChangeEmail (seed 001's InvalidOldPassword for both).
	ErrWrongPassword = errs.E(errs.Invalid, "invalid_old_password", "The current password is wrong.")
	// ErrNoPassword answers a change that needs the current password on an
	// account that has none.
	ErrNoPassword = errs.E(errs.Invalid, "no_password",
		"The account has no password. Set one with a password reset first.")
	// ErrPasswordRequired answers a change of password without the current
	// or the new one, naming the missing fields "old_password" and
	// "new_password" (seed 001's OldNewPasswordRequired).
	ErrPasswordRequired = errs.E(errs.Invalid, "password_required", "The current and the new password are required.")
	// ErrInvalidNewPassword answers a new password the tenant's policy
	// refuses, or the current one again, with the reason on "new_password"
	// (seed 001's InvalidNewPassword). errors.Is also matches
	// identity.ErrWeakPassword, its cause.
	ErrInvalidNewPassword = errs.E(errs.Invalid, "invalid_new_password", "The new password does not meet the password policy.")
)

// maxPasswordBytes bounds what is hashed at all, whatever the tenant's
// policy (as at registration and login).
const maxPasswordBytes = 4096

// noticeLifetime is how long a notice of a change is retried.
const noticeLifetime = 24 * time.Hour

// Service is one tenant's profile changes.
type Service struct {
	t tenant.Tenant
	d Deps
}

// New returns the profile changes of tenant t.
func New(t tenant.Tenant, d Deps) *Service { return &Service{t: t, d: d} }

// ChangePassword replaces the principal's password: oldPassword must be
// the current one, newPassword must meet the tenant's policy and differ
// from it. Then
// every other session of the account ends (the principal's stays) and the
// account's address is mailed a "password changed" notice.
//
// Missing passwords answer ErrPasswordRequired; a refused new one
// ErrInvalidNewPassword, checked before the current one is, so that a
// request bound to fail spends no attempt; a wrong current one
// ErrWrongPassword on "old_password", and throttle.ErrThrottled (429) once
// the account's budget is spent; an account without a password
// ErrNoPassword. When ending the other sessions fails, the password is
// changed, the notice mailed and the error returned.
func (s *Service) ChangePassword(ctx context.Context, p session.Principal, oldPassword, newPassword string) error {
	var fields []errs.FieldError
	if oldPassword == "" {
		fields = append(fields, errs.FieldError{Field: "old_password", Reason: "is required"})
	}
	if newPassword == "" {
		fields = append(fields, errs.FieldError{Field: "new_password", Reason: "is required"})
	}
	if len(fields) > 0 {
		return ErrPasswordRequired.WithFields(fields...)
	}
	u, err := s.current(ctx, p)
	if err != nil {
		return err
	}
	if u.PasswordHash == "" {
		return ErrNoPassword
	}
	pw := identity.NormalizePassword(newPassword)
	if len(newPassword) > maxPasswordBytes {
		return newPasswordError(fmt.Sprintf("must be at most %d characters", s.t.Password.MaxLength))
	}
	if err := identity.CheckPassword(pw, s.t.Password, s.d.Common, u.Email, u.FirstName, u.LastName); err != nil {
		e := errs.As(err)
		if e.Code != identity.ErrWeakPassword.Code {
			return err
		}
		reasons := make([]string, len(e.Fields))
		for i, f := range e.Fields {
			reasons[i] = f.Reason
		}
		return newPasswordError(reasons...)
	}
	if err := s.prove(ctx, u, oldPassword, "old_password"); err != nil {
		return err
	}
	if pw == identity.NormalizePassword(oldPassword) {
		return newPasswordError("must differ from the current password")
	}
	hash, err := s.d.Hasher.Hash(ctx, pw, s.t.Password.Hash)
	if err != nil {
		return err
	}
	now := s.d.Clock.Now().UTC()
	if err := s.d.Users.SetPasswordHash(ctx, s.t.ID, u.ID, hash, now); err != nil {
		return fmt.Errorf("change password: %w", err)
	}
	s.d.Audit.Record(ctx, audit.Event{Type: audit.PasswordChanged, ActorID: u.ID, TargetID: u.ID, SessionID: p.Session.ID})
	p.User = u
	_, rerr := s.d.Sessions.RevokeOtherSessions(ctx, p)
	// The password is changed whatever becomes of the notice.
	_ = s.d.Mail.Send(ctx, message.MailPasswordChanged, u.Email,
		message.MailData{Name: u.FirstName, Email: u.Email, When: now}, now.Add(noticeLifetime))
	if rerr != nil {
		return fmt.Errorf("change password: %w", rerr)
	}
	return nil
}

// ChangeName replaces the principal's first and last name, checked as at
// registration (identity.CheckNames: fields "first_name", "last_name"),
// and returns the account as it is now.
func (s *Service) ChangeName(ctx context.Context, p session.Principal, first, last string) (identity.User, error) {
	first, last, err := identity.CheckNames(first, last)
	if err != nil {
		return identity.User{}, err
	}
	u, err := s.current(ctx, p)
	if err != nil {
		return identity.User{}, err
	}
	if u.FirstName == first && u.LastName == last {
		return u, nil
	}
	now := s.d.Clock.Now().UTC()
	if err := s.d.Users.SetName(ctx, s.t.ID, u.ID, first, last, now); err != nil {
		return identity.User{}, fmt.Errorf("change name: %w", err)
	}
	u.FirstName, u.LastName, u.UpdatedAt = first, last, now
	return u, nil
}

// ChangeEmailInput is a request to move the principal's account to
// another address.
type ChangeEmailInput struct {
	Email string
	// Password is the account's current password.
	Password string
	// Paths are where the verification link mailed to the new address
	// points; the zero value means link.Canonical.
	Paths link.Paths
}

// ChangeEmail moves the principal's account to the address in.Email,
// checked and normalised as at registration (field "email"), once
// in.Password has proven to be the current password (field "password";
// ErrWrongPassword, throttled and ErrNoPassword as in ChangePassword). It
// returns the account with the new, unverified address; an address with
// the key the account has already returns it unchanged (a change of case
// alone is no change). An address another account of the tenant has
// answers identity.ErrEmailTaken; each surface decides how to show it.
//
// The old address is mailed an "e-mail changed" notice with the new
// address in full: its owner must be able to see where the account went,
// to recognise a takeover and to tell support. The new address is mailed
// a verification link. The address is changed whatever becomes of either
// mail; a link that could not go can be asked for again.
func (s *Service) ChangeEmail(ctx context.Context, p session.Principal, in ChangeEmailInput) (identity.User, error) {
	var fields []errs.FieldError
	email, key, err := identity.NormalizeEmail(in.Email)
	if err != nil {
		fields = append(fields, errs.FieldError{Field: "email", Reason: err.Error()})
	}
	if in.Password == "" {
		fields = append(fields, errs.FieldError{Field: "password", Reason: "is required"})
	}
	if len(fields) > 0 {
		return identity.User{}, errs.InvalidFields(fields...)
	}
	u, err := s.current(ctx, p)
	if err != nil {
		return identity.User{}, err
	}
	if err := s.prove(ctx, u, in.Password, "password"); err != nil {
		return identity.User{}, err
	}
	if key == u.EmailKey {
		return u, nil
	}
	now := s.d.Clock.Now().UTC()
	err = s.d.Users.SetEmail(ctx, s.t.ID, u.ID, email, key, now)
	switch {
	case errors.Is(err, identity.ErrEmailTaken):
		return identity.User{}, identity.ErrEmailTaken
	case err != nil:
		return identity.User{}, fmt.Errorf("change e-mail: %w", err)
	}
	s.d.Audit.Record(ctx, audit.Event{Type: audit.EmailChanged, ActorID: u.ID, TargetID: u.ID, SessionID: p.Session.ID})
	old := u.Email
	u.Email, u.EmailKey, u.EmailVerified, u.UpdatedAt = email, key, false, now
	_ = s.d.Mail.Send(ctx, message.MailEmailChanged, old,
		message.MailData{Name: u.FirstName, Email: old, NewEmail: email, When: now}, now.Add(noticeLifetime))
	paths := in.Paths
	if paths == (link.Paths{}) {
		paths = link.Canonical
	}
	_ = s.d.Verifier.Send(ctx, u, paths)
	return u, nil
}

// current reads the principal's account afresh: the principal may be
// older than its last change. An account that is gone or disabled since
// answers like a dead credential.
func (s *Service) current(ctx context.Context, p session.Principal) (identity.User, error) {
	u, err := s.d.Users.ByID(ctx, s.t.ID, p.User.ID)
	switch {
	case errors.Is(err, errs.ErrNotFound):
		return identity.User{}, session.ErrInvalidToken
	case err != nil:
		return identity.User{}, fmt.Errorf("profile: %w", err)
	case !u.Active:
		return identity.User{}, session.ErrInvalidToken
	}
	return u, nil
}

// Reauthenticate checks that password is u's current one, as a change of
// password or address does (a wrong one is ErrWrongPassword on field
// "password", counted against the re-authentication budget): for steps
// elsewhere that a signed-in user proves again (turning the second factor
// off).
func (s *Service) Reauthenticate(ctx context.Context, u identity.User, password string) error {
	return s.prove(ctx, u, password, "password")
}

// prove checks that password is u's current one, the attempt counted
// against the account's budget first so that guesses sent together cannot
// all pass a check made before any was counted. A wrong password is
// ErrWrongPassword on field.
func (s *Service) prove(ctx context.Context, u identity.User, password, field string) error {
	if u.PasswordHash == "" {
		return ErrNoPassword
	}
	wrong := ErrWrongPassword.WithFields(errs.FieldError{Field: field, Reason: "is wrong"})
	if len(password) > maxPasswordBytes {
		return wrong // no password that long was ever set; no guess to count
	}
	key, lim := throttle.Reauth(u.ID), s.t.Throttling.LoginPerAccount
	if err := throttle.Hit(ctx, s.d.Limiter, key, lim); err != nil {
		return err
	}
	ok, _, err := s.d.Hasher.Verify(ctx, identity.NormalizePassword(password), u.PasswordHash, s.t.Password.Hash)
	if err != nil {
		// Never judged (the pool full, a hash unreadable): it costs no
		// attempt, or a burst of 503s would lock the account.
		_ = s.d.Limiter.Refund(ctx, key, lim)
		return err
	}
	if !ok {
		return wrong
	}
	_ = s.d.Limiter.Refund(ctx, key, lim)
	return nil
}

// newPasswordError is ErrInvalidNewPassword with reasons on
// "new_password".
func newPasswordError(reasons ...string) error {
	fields := make([]errs.FieldError, len(reasons))
	for i, r := range reasons {
		fields[i] = errs.FieldError{Field: "new_password", Reason: r}
	}
	return ErrInvalidNewPassword.WithFields(fields...).Wrap(identity.ErrWeakPassword)
}
