package session

import "github.com/portcullis/portcullis/domain/errs"

// Errors the session use cases report. API surfaces render them in their
// own shapes; the codes are stable.
var (
	// ErrInvalidToken answers a credential that is malformed, forged,
	// expired, revoked, or belongs to another tenant.
	ErrInvalidToken = errs.E(errs.Unauthenticated, "invalid_token", "The credential is invalid or has expired.")
	// ErrUnauthenticated answers a request that carries no credential.
	ErrUnauthenticated = errs.E(errs.Unauthenticated, "unauthenticated", "Authentication is required.")
	// ErrRefreshReused answers a refresh token presented a second time; the
	// session it belonged to has been revoked.
	ErrRefreshReused = errs.E(errs.Unauthenticated, "refresh_token_reused", "The refresh token was already used; the session has been revoked.")
	// ErrCSRF answers an unsafe cookie-authenticated request that failed the
	// cross-site request forgery checks.
	ErrCSRF = errs.E(errs.Forbidden, "csrf_failed", "The request failed cross-site request forgery checks.")
	// ErrSessionNotFound answers a revoke of a session that is not the
	// principal's.
	ErrSessionNotFound = errs.E(errs.NotFound, "session_not_found", "No such session.")
)
