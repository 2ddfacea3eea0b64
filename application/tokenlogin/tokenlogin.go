// Package tokenlogin is the token login, the tenant's login method
// token_login (seed 000): a client holding a user's app token (the key a
// password or SMS login answered) presents it with the user's id and gets
// a browser session of that user, as an app opens its site in a web view
// already signed in.
//
// The token is authenticated by the session service, exactly as an
// Authorization: Token header is; the user id is never looked up, only
// compared with the token's owner (in constant time), so an unknown user,
// an inactive one and a token of someone else are one answer
// (login.ErrInvalidCredentials) after the same work. Every attempt counts
// against the client address's budget (throttling.token_login_per_ip)
// first; a success gives it back. The sign-in ends in the login pipeline
// with tenant.MethodTokenLogin. Before the budget, an attempt passes the
// tenant's CAPTCHA gate for the route login (login.Pipeline.Gate), naming
// no account (the token names it), and a refused token counts as a
// failed login from the address towards the CAPTCHA's escalation.
//
// A token standing on a sign-in that passed the user's second factor (its
// session's amr has "mfa") carries that to the pipeline
// (Grant.SecondFactorPassed): the browser session is the app session's
// sign-in, not a new one by one factor. A token without it leaves a user
// with a second factor to the pipeline's challenge, like any first factor.
//
// Audit: a refused token login is login.failed with method token_login
// and the reason — throttled, invalid_credentials (no live app token), or
// token_user_mismatch (a live app token presented for another user id;
// the event names the token's owner). Never the token.
package tokenlogin

import (
	"context"
	"crypto/subtle"
	"errors"
	"slices"
	"strings"

	"github.com/portcullis/portcullis/application/audit"
	"github.com/portcullis/portcullis/application/captcha"
	"github.com/portcullis/portcullis/application/login"
	"github.com/portcullis/portcullis/application/session"
	"github.com/portcullis/portcullis/application/throttle"
	"github.com/portcullis/portcullis/domain/errs"
	"github.com/portcullis/portcullis/domain/identity"
	"github.com/portcullis/portcullis/domain/tenant"
)

// Tokens authenticates credentials (session.Service is one): every
// credential it refuses answers session.ErrInvalidToken; any other error
// is the store's.
type Tokens interface {
	Authenticate(ctx context.Context, kind session.CredentialKind, value string) (session.Principal, error)
}

// Deps are what one tenant's token login uses.
type Deps struct {
	Tokens  Tokens
	Limiter throttle.Limiter
	Login   *login.Pipeline
	// Audit records the refused attempts (the pipeline records the rest).
	Audit audit.Recorder
}

// Service is one tenant's token login.
type Service struct {
	t     tenant.Tenant
	perIP tenant.Limit
	d     Deps
}

// New returns the token login of tenant t, its attempts counted per client
// address against perIP (a zero Count: the tenant default,
// tenant.DefaultThrottling().TokenLoginPerIP).
func New(t tenant.Tenant, perIP tenant.Limit, d Deps) *Service {
	if perIP.Count == 0 {
		perIP = tenant.DefaultThrottling().TokenLoginPerIP
	}
	return &Service{t: t, perIP: perIP, d: d}
}

// Input is a token login.
type Input struct {
	// UserID is the user the token must belong to.
	UserID string
	// Token is that user's app token.
	Token  string
	Client session.Client
	// Captcha is the client's CAPTCHA response, for the tenant's login
	// route ("" for none).
	Captcha string
}

// IPKey is the limiter key of token logins from an address.
func IPKey(c session.Client) string { return "token-login:ip:" + throttle.IPKey(c.IP) }

// Login exchanges a user's app token for a browser session of the user.
// The fields user and token are required (field errors); over the
// address's budget the answer is throttle.ErrThrottled (429, Retry-After)
// whatever was sent; a token that is not a live app token of the active
// user with that id answers login.ErrInvalidCredentials. The pipeline
// may answer login.ErrMFARequired (a user with a second factor). The new
// session records the app token's session's amr: it stands on the same
// sign-in.
func (s *Service) Login(ctx context.Context, in Input) (login.Outcome, error) {
	if err := s.d.Login.Allowed(tenant.MethodTokenLogin); err != nil {
		return login.Outcome{}, err
	}
	userID, token := strings.TrimSpace(in.UserID), strings.TrimSpace(in.Token)
	var fields []errs.FieldError
	if userID == "" {
		fields = append(fields, errs.FieldError{Field: "user", Reason: "is required"})
	}
	if token == "" {
		fields = append(fields, errs.FieldError{Field: "token", Reason: "is required"})
	}
	if len(fields) > 0 {
		return login.Outcome{}, errs.InvalidFields(fields...)
	}
	pass, err := s.d.Login.Gate(ctx, captcha.RouteLogin, in.Captcha, in.Client, "")
	if err != nil {
		return login.Outcome{}, err
	}
	key := IPKey(in.Client)
	if err := throttle.Hit(ctx, s.d.Limiter, key, s.perIP); err != nil {
		if reason, ok := audit.Refusal(err); ok {
			s.record(ctx, in.Client, "", reason)
		}
		return login.Outcome{}, err
	}
	out, err := s.login(ctx, userID, token, in.Client, pass)
	switch {
	case err == nil, errors.Is(err, login.ErrMFARequired), errs.KindOf(err) == errs.Unavailable:
		// A right token, or an attempt never judged: it costs nothing.
		_ = s.d.Limiter.Refund(ctx, key, s.perIP)
	}
	return out, err
}

func (s *Service) login(ctx context.Context, userID, token string, c session.Client, pass login.Pass) (login.Outcome, error) {
	p, err := s.d.Tokens.Authenticate(ctx, session.ByToken, token)
	switch {
	case errors.Is(err, session.ErrInvalidToken):
		return login.Outcome{}, s.reject(ctx, c, pass, "", login.ErrInvalidCredentials.Code)
	case err != nil:
		return login.Outcome{}, err // the store, not the token
	}
	if subtle.ConstantTimeCompare([]byte(p.User.ID), []byte(userID)) != 1 {
		return login.Outcome{}, s.reject(ctx, c, pass, p.User.ID, reasonMismatch)
	}
	return s.d.Login.Complete(ctx, login.Grant{User: p.User, Method: tenant.MethodTokenLogin, AMR: slices.Clone(p.Session.AMR),
		Kind: identity.SessionWeb, Client: c, SecondFactorPassed: p.Session.HasAMR("mfa"), Pass: pass})
}

// reasonMismatch is the audit reason of a live app token presented for
// another user.
const reasonMismatch = "token_user_mismatch"

// reject answers a token judged wrong: login.ErrInvalidCredentials,
// recorded with reason (owner: the presented token's user when the token
// was live) and counted as a failed login for the CAPTCHA's escalation.
func (s *Service) reject(ctx context.Context, c session.Client, pass login.Pass, owner, reason string) error {
	s.record(ctx, c, owner, reason)
	s.d.Login.Refused(ctx, pass, login.ErrInvalidCredentials)
	return login.ErrInvalidCredentials
}

// record records a token login refused before the pipeline.
func (s *Service) record(ctx context.Context, c session.Client, owner, reason string) {
	s.d.Audit.Record(ctx, audit.Event{Type: audit.LoginFailed, TargetID: owner, Method: string(tenant.MethodTokenLogin),
		Reason: reason, IP: c.IP, UserAgent: c.UserAgent})
}
