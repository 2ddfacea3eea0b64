package account

import "github.com/portcullis/portcullis/domain/errs"

// Errors the account use cases report. API surfaces render them in their
// own shapes; the codes are stable.
var (
	// ErrInvalidCredentials answers every failed login alike: unknown
	// account, wrong password, disabled account, unverified e-mail where the
	// tenant requires verification.
	ErrInvalidCredentials = errs.E(errs.Unauthenticated, "invalid_credentials", "The e-mail address or password is incorrect.")
	// ErrInvalidToken answers a credential that is malformed, forged,
	// expired, revoked, or belongs to another tenant.
	ErrInvalidToken = errs.E(errs.Unauthenticated, "invalid_token", "The credential is invalid or has expired.")
	// ErrUnauthenticated answers a request that carries no credential.
	ErrUnauthenticated = errs.E(errs.Unauthenticated, "unauthenticated", "Authentication is required.")
	// ErrRefreshReused answers a refresh token presented a second time; the
	// session it belonged to has been revoked.
	ErrRefreshReused = errs.E(errs.Unauthenticated, "refresh_token_reused", "The refresh token was already used; the session has been revoked.")
	// ErrThrottled answers too many attempts.
	ErrThrottled = errs.E(errs.RateLimited, "throttled", "Too many attempts. Try again later.")
	// ErrBusy answers when the password-hashing pool is saturated.
	ErrBusy = errs.E(errs.Unavailable, "busy", "The server is busy. Try again shortly.")
	// ErrCSRF answers an unsafe cookie-authenticated request that failed the
	// cross-site request forgery checks.
	ErrCSRF = errs.E(errs.Forbidden, "csrf_failed", "The request failed cross-site request forgery checks.")
	// ErrMethodDisabled answers a login method the tenant has not enabled.
	ErrMethodDisabled = errs.E(errs.Forbidden, "method_disabled", "This sign-in method is not enabled for this tenant.")
)
