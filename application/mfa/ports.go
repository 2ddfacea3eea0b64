package mfa

import (
	"context"
	"time"

	"github.com/portcullis/portcullis/domain/identity"
	"github.com/portcullis/portcullis/domain/message"
)

// TOTP is a user's authenticator-app secret as stored: sealed, and
// pending until a code from it confirms it.
type TOTP struct {
	TenantID string
	UserID   string
	// EnrolmentID names this enrolment: a new start replaces a pending
	// one, and a confirmation confirms only the enrolment it checked.
	EnrolmentID string
	// Sealed is the base32 secret sealed under the platform key, bound to
	// tenant and user (see Service.seal).
	Sealed []byte
	// Confirmed is set once a code from the secret confirmed it: only then
	// is the second factor on.
	Confirmed bool
	// PendingBackup are the hashes of the backup codes shown with the
	// secret, which become the user's backup codes at confirmation.
	PendingBackup []string
	CreatedAt     time.Time
	ConfirmedAt   time.Time
}

// TOTPs stores the users' TOTP secrets, one per user.
//
// UseStep is the replay guard: of concurrent UseStep calls for one user
// and step exactly one answers true, and every later one false; the
// claims are kept until expires. Confirm confirms the user's pending TOTP
// only when its EnrolmentID is still enrolmentID (another start did not
// replace it), and answers errs.ErrNotFound otherwise. Get answers
// errs.ErrNotFound for a user without one.
type TOTPs interface {
	Get(ctx context.Context, tenantID, userID string) (TOTP, error)
	// Put stores a pending TOTP, replacing the user's pending one; it
	// answers errs.ErrConflict when the user has a confirmed one.
	Put(ctx context.Context, t TOTP) error
	Confirm(ctx context.Context, tenantID, userID, enrolmentID string, at time.Time) error
	Delete(ctx context.Context, tenantID, userID string) error
	UseStep(ctx context.Context, tenantID, userID string, step int64, expires time.Time) (bool, error)
}

// BackupCodes stores the users' single-use backup codes, by hash.
//
// Use is atomic: of concurrent uses of one code exactly one answers true;
// a code that is not the user's, or was used, answers false.
type BackupCodes interface {
	// Replace makes hashes the user's codes; the others are gone.
	Replace(ctx context.Context, tenantID, userID string, hashes []string, at time.Time) error
	Use(ctx context.Context, tenantID, userID, hash string, at time.Time) (bool, error)
	// Left counts the user's unused codes.
	Left(ctx context.Context, tenantID, userID string) (int, error)
	// DeleteAll removes every code of the user.
	DeleteAll(ctx context.Context, tenantID, userID string) error
}

// Sealer encrypts secrets at rest, bound to additional data
// (aesgcm.Sealer is one).
type Sealer interface {
	Seal(plaintext, additionalData []byte) ([]byte, error)
	Open(ciphertext, additionalData []byte) ([]byte, error)
}

// Reauth checks that password is the signed-in user's current one, counted
// against the account's re-authentication budget (profile.Service is one).
type Reauth interface {
	Reauthenticate(ctx context.Context, u identity.User, password string) error
}

// Mail delivers the tenant's mail in the background (courier.Courier is
// one).
type Mail interface {
	Send(ctx context.Context, kind message.MailKind, to string, d message.MailData, deadline time.Time) error
}
