// Package session is the credentials a login issues and everything done
// with them afterwards: starting a session (an access JWT with a rotating
// refresh token, an app token, or a browser cookie with its CSRF token),
// refreshing it, authenticating requests, listing and revoking sessions,
// and logout.
//
// Only the login pipeline (application/login) starts sessions: it alone is
// given the Issuer.
package session

import (
	"context"
	"time"

	"github.com/portcullis/portcullis/domain/identity"
)

// Sessions stores sessions; it is the durable word on revocation. Lookups
// answer errs.ErrNotFound, also for sessions that are revoked or expired at
// now when the method takes now. Revoke is conditional: it reports whether
// it revoked a live session (of concurrent revokes of one session exactly
// one reports true). Every revocation is logged until its until, and
// RevokedSince lists the log: the revocation set is rebuilt from it.
type Sessions interface {
	Create(ctx context.Context, s identity.Session) error
	ByID(ctx context.Context, tenantID, id string) (identity.Session, error)
	BySecret(ctx context.Context, tenantID, secretHash string) (identity.Session, error)
	ListLive(ctx context.Context, tenantID, userID string, now time.Time) ([]identity.Session, error)
	Touch(ctx context.Context, tenantID, id string, lastSeen, idleExpires time.Time) error
	Revoke(ctx context.Context, tenantID, id string, at, until time.Time) (bool, error)
	// RevokeOthers revokes every live session of the user except keepID and
	// returns the ids it revoked.
	RevokeOthers(ctx context.Context, tenantID, userID, keepID string, at, until time.Time) ([]string, error)
	// RevokedSince lists, across tenants, the revocations made at or after
	// since whose until is after now, oldest first.
	RevokedSince(ctx context.Context, since, now time.Time) ([]Revocation, error)
}

// Revocation is one logged revocation: the session, when, and until when
// the revocation set must announce it (the end of the last access token it
// covers).
type Revocation struct {
	TenantID, SessionID string
	At, Until           time.Time
}

// RefreshTokens stores refresh tokens by hash. Use marks a token used in a
// single atomic step and returns it as it was before: exactly one of several
// concurrent uses sees UsedAt zero. Unknown hashes answer errs.ErrNotFound.
type RefreshTokens interface {
	Create(ctx context.Context, t identity.RefreshToken) error
	Use(ctx context.Context, tenantID, hash string, at time.Time) (identity.RefreshToken, error)
}

// Revocations is the set of revoked session ids that every server instance
// checks on each request; an entry lives as long as an access token issued
// before the revocation could. It is a fast copy of the store's revocation
// log, and may lose its contents (a Redis flush, failover or restart
// without persistence): so it carries a completeness marker that only
// MarkComplete sets, after the set was filled from the log, and that a
// loss of the contents takes with it. Revoked reports the marker with each
// answer, in the same round trip. Complete, when the marker is absent,
// begins a fill; MarkComplete fails when the set was lost again since.
type Revocations interface {
	Revoke(ctx context.Context, tenantID, sessionID string, ttl time.Duration) error
	Revoked(ctx context.Context, tenantID, sessionID string) (revoked, complete bool, err error)
	Complete(ctx context.Context) (bool, error)
	MarkComplete(ctx context.Context) error
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
