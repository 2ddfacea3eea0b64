// Package account is the password-account use cases: register, password
// login, the credentials a login issues (access JWT + refresh token, app
// token, browser session), authenticating requests with them, sessions,
// logout and the current user.
package account

import (
	"context"
	"time"

	"github.com/portcullis/portcullis/domain/identity"
	"github.com/portcullis/portcullis/domain/tenant"
)

// Users stores accounts. Create must fail with identity.ErrEmailTaken when
// the tenant has the e-mail key already — also when two creates race (a
// unique index on tenant_id + email_key). Lookups answer errs.ErrNotFound.
type Users interface {
	Create(ctx context.Context, u identity.User) error
	ByEmail(ctx context.Context, tenantID, emailKey string) (identity.User, error)
	ByID(ctx context.Context, tenantID, id string) (identity.User, error)
	SetPasswordHash(ctx context.Context, tenantID, id, hash string, at time.Time) error
	RecordLogin(ctx context.Context, tenantID, id string, at time.Time) error
	// SetActive enables or disables an account; a disabled account's
	// credentials are refused from the next request on.
	SetActive(ctx context.Context, tenantID, id string, active bool, at time.Time) error
}

// Sessions stores sessions. Lookups answer errs.ErrNotFound, also for
// sessions that are revoked or expired at now when the method takes now.
// Revoke is conditional: it reports whether it revoked a live session.
type Sessions interface {
	Create(ctx context.Context, s identity.Session) error
	ByID(ctx context.Context, tenantID, id string) (identity.Session, error)
	BySecret(ctx context.Context, tenantID, secretHash string) (identity.Session, error)
	ListLive(ctx context.Context, tenantID, userID string, now time.Time) ([]identity.Session, error)
	Touch(ctx context.Context, tenantID, id string, lastSeen, idleExpires time.Time) error
	Revoke(ctx context.Context, tenantID, id string, at time.Time) (bool, error)
	// RevokeOthers revokes every live session of the user except keepID and
	// returns the ids it revoked.
	RevokeOthers(ctx context.Context, tenantID, userID, keepID string, at time.Time) ([]string, error)
}

// RefreshTokens stores refresh tokens by hash. Use marks a token used in a
// single atomic step and returns it as it was before: exactly one of several
// concurrent uses sees UsedAt zero. Unknown hashes answer errs.ErrNotFound.
type RefreshTokens interface {
	Create(ctx context.Context, t identity.RefreshToken) error
	Use(ctx context.Context, tenantID, hash string, at time.Time) (identity.RefreshToken, error)
}

// Revocations is the set of revoked session ids that every server instance
// checks on each access-token request; an entry lives as long as an access
// token issued before the revocation could.
type Revocations interface {
	Revoke(ctx context.Context, tenantID, sessionID string, ttl time.Duration) error
	Revoked(ctx context.Context, tenantID, sessionID string) (bool, error)
}

// Limiter counts events against per-key limits, shared by every server
// instance. Hit counts one when it is allowed (a refused Hit counts
// nothing); Refund gives one counted event back; Reset forgets them all.
// retryAfter is set when not allowed.
type Limiter interface {
	Hit(ctx context.Context, key string, l tenant.Limit) (allowed bool, retryAfter time.Duration, err error)
	Refund(ctx context.Context, key string, l tenant.Limit) error
	Reset(ctx context.Context, key string) error
}

// PasswordHasher hashes and verifies passwords with the tenant's argon2id
// parameters on a bounded pool. When the pool is full for too long it fails
// with an errs.Unavailable error carrying RetryAfter.
type PasswordHasher interface {
	Hash(ctx context.Context, password string, p tenant.HashParams) (string, error)
	// Verify reports whether password matches encoded, and whether encoded
	// was made with parameters other than p (then it should be rehashed).
	Verify(ctx context.Context, password, encoded string, p tenant.HashParams) (ok, rehash bool, err error)
}

// AccessClaims are what an access token asserts.
type AccessClaims struct {
	Subject   string // user id
	SessionID string
	Role      identity.Role
	AMR       []string
	ID        string // jti
	IssuedAt  time.Time
	ExpiresAt time.Time
}

// AccessTokens issues and verifies one tenant's access JWTs (EdDSA, signed
// with the tenant's current key, kid in the header; iss and aud name the
// tenant; typ "at+jwt"). Verify fails with ErrInvalidToken for any token
// that is malformed, not EdDSA, signed by an unknown key or another
// tenant's, expired, or not an access token.
type AccessTokens interface {
	Issue(ctx context.Context, c AccessClaims) (string, error)
	Verify(ctx context.Context, token string) (AccessClaims, error)
}

// CommonPasswords is the common-password list.
type CommonPasswords = identity.CommonPasswords
