// Package captcha decides when a request must carry a solved CAPTCHA and
// checks it: the Verifier port (one adapter per provider: reCAPTCHA v2 and
// v3, hCaptcha, Turnstile), the ports that keep the escalation counters
// and the used tokens (Failures, UsedTokens), and the Service that applies
// one tenant's policy (tenant.Captcha).
//
// A route is off, always asks, or asks after failed logins: once
// after_failures.per_ip failed logins came from the client's address (IPv6
// by /64), or after_failures.per_account were made on the account, with no
// gap of after_failures.window between two of them. A token is single
// use: its SHA-256 is remembered for the provider's token lifetime, and a
// second use is refused as invalid, also by another server instance. A
// provider that cannot be reached refuses the request (fail closed, the
// default) or lets it through with a warning in the log (fail open, a
// tenant's choice); a provider that refuses the tenant's own secret or
// site key is never failed open. No error and no log line carries a token
// or the secret.
package captcha

import (
	"context"
	"errors"
	"net/netip"
	"time"

	"github.com/portcullis/portcullis/domain/errs"
	"github.com/portcullis/portcullis/domain/tenant"
)

// Route names the request a CAPTCHA guards (a key of captcha.policy).
type Route = tenant.CaptchaRoute

// The routes.
const (
	RouteLogin     = tenant.CaptchaLogin
	RouteRegister  = tenant.CaptchaRegister
	RouteSMSSend   = tenant.CaptchaSMSSend
	RouteEmailSend = tenant.CaptchaEmailSend
	RouteForgot    = tenant.CaptchaForgot
)

// Token is what a client sends to prove it solved a challenge.
type Token struct {
	// Response is the provider's token from the client's widget
	// (g-recaptcha-response, h-captcha-response, cf-turnstile-response).
	Response string
	// RemoteIP is the client's address, passed on to the provider; the
	// zero Addr sends none.
	RemoteIP netip.Addr
	// Action, when set, is the action the provider's answer must name
	// (reCAPTCHA v3, Turnstile); empty means the verifier's own (for
	// reCAPTCHA v3 the tenant's captcha.action, for the others none).
	Action string
}

// Result is what the provider says of an accepted token.
type Result struct {
	// Hostname is the site the challenge was solved on.
	Hostname string
	// Score is reCAPTCHA v3's score (1.0 very likely a human, 0.0 very
	// likely a bot); zero for the other providers.
	Score float64
	// Action is the action the token names (reCAPTCHA v3, Turnstile).
	Action string
	// ChallengeTS is when the challenge was solved; zero when the
	// provider did not say.
	ChallengeTS time.Time
}

// Verifier asks a CAPTCHA provider whether a token is a solved challenge
// for the tenant's site. It answers a Result, or one of
// ErrCaptchaRequired (an empty Response), ErrCaptchaInvalid (the provider
// refuses the token, or accepts it with a score below the threshold, for
// another action or for a host name not allowed), or ErrCaptchaUnavailable
// (the provider cannot be reached, times out, or answers something that is
// not a siteverify answer; when the provider refuses the tenant's own
// secret or site key the cause is also ErrMisconfigured). It sends each
// token once and never retries: the provider refuses a token it has
// already seen. No error carries the token or the secret.
type Verifier interface {
	Verify(ctx context.Context, t Token) (Result, error)
}

// Errors. ErrCaptchaRequired and ErrCaptchaInvalid are 400s; the client
// solves a (new) challenge. ErrCaptchaUnavailable is a 503 with
// Retry-After.
var (
	ErrCaptchaRequired    = errs.E(errs.Invalid, "captcha_required", "Solve the CAPTCHA to continue.")
	ErrCaptchaInvalid     = errs.E(errs.Invalid, "captcha_invalid", "The CAPTCHA was not accepted. Solve a new one and try again.")
	ErrCaptchaUnavailable = errs.E(errs.Unavailable, "captcha_unavailable", "The CAPTCHA cannot be checked right now; try again later.")
)

// ErrMisconfigured is the cause of an ErrCaptchaUnavailable when the
// provider refuses the tenant's configuration (its secret or site key, or
// a reCAPTCHA v3 tenant with v2 keys), not the client's token: an operator
// must act, and the Service never fails open on it.
var ErrMisconfigured = errors.New("captcha: the provider refuses the tenant's secret or site key: check the tenant's captcha section")
