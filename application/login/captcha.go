package login

import (
	"context"
	"errors"
	"fmt"
	"net/netip"

	"github.com/portcullis/portcullis/application/captcha"
	"github.com/portcullis/portcullis/application/session"
	"github.com/portcullis/portcullis/domain/errs"
	"github.com/portcullis/portcullis/domain/tenant"
)

// Captcha is the tenant's CAPTCHA policy as the pipeline applies it
// (captcha.Service is one): Check lets a request on a route through or
// refuses it (captcha.ErrCaptchaRequired, ErrCaptchaInvalid,
// ErrCaptchaUnavailable); RecordFailure and RecordSuccess keep the counts
// of failed logins the after_failures routes escalate on.
//
// Demand is Check for a surface that asks for a solved CAPTCHA whatever
// the route's mode (captcha.Service.Demand).
type Captcha interface {
	Check(ctx context.Context, route captcha.Route, response string, c captcha.Client) error
	Demand(ctx context.Context, route captcha.Route, response string, c captcha.Client) error
	RecordFailure(ctx context.Context, ip netip.Addr, accountKey string) error
	RecordSuccess(ctx context.Context, ip netip.Addr, accountKey string) error
}

// Pass is what Gate gives a request that may go on: proof, for Complete,
// that the request went through the tenant's CAPTCHA policy, and the
// client address and account key its failed or successful login is
// counted against. Only Gate makes one; the zero Pass is none.
type Pass struct {
	tenantID string
	route    captcha.Route
	ip       netip.Addr
	account  string
}

// Route is the route the pass was made for ("" for none).
func (p Pass) Route() captcha.Route { return p.route }

// Gate applies the tenant's CAPTCHA policy to a request on route, from
// client, naming the account accountKey: the normalised e-mail key when
// the request names an address (password, e-mail code, magic-link
// request, registration, reset), the E.164 number when it names a phone
// (SMS code), and "" when it names no account (a magic link, a login
// link or a token login name theirs only in their secret: they count by
// address alone). response is the client's CAPTCHA response ("" for
// none).
//
// Every login method, and every request that registers or sends a code
// or link, calls it before any work of its first factor (a password hash,
// a code's check, a message): a route that asks and has no (valid)
// response ends there, costing no budget and counting as no failed login.
// A route that is off costs nothing (no store is asked). The Pass it
// returns goes into the Grant: Complete refuses a grant without a pass of
// the login or register route.
func (p *Pipeline) Gate(ctx context.Context, route captcha.Route, response string, client session.Client, accountKey string) (Pass, error) {
	pass := Pass{tenantID: p.t.ID, route: route, ip: client.IP, account: accountKey}
	if p.t.Captcha.Mode(route) == tenant.CaptchaOff {
		return pass, nil
	}
	if p.d.Captcha == nil {
		return Pass{}, errs.ErrInternal.Wrap(fmt.Errorf("login: the CAPTCHA route %s is on but the pipeline has no CAPTCHA service", route))
	}
	if err := p.d.Captcha.Check(ctx, route, response, captcha.Client{IP: client.IP, Account: accountKey}); err != nil {
		return Pass{}, err
	}
	return pass, nil
}

// Demand is Gate for a request whose surface asks for a solved CAPTCHA
// whatever the tenant's mode of route (seed 003's /api/v3/login): the
// response is checked as on a route that is always on, and the Pass it
// returns is Gate's. A tenant without a CAPTCHA service, or without a
// provider, is unavailable: a surface that demands a CAPTCHA is not
// served there.
func (p *Pipeline) Demand(ctx context.Context, route captcha.Route, response string, client session.Client, accountKey string) (Pass, error) {
	if p.d.Captcha == nil {
		return Pass{}, captcha.ErrCaptchaUnavailable.Wrap(fmt.Errorf("login: the CAPTCHA of route %s is demanded but the pipeline has no CAPTCHA service", route))
	}
	if err := p.d.Captcha.Demand(ctx, route, response, captcha.Client{IP: client.IP, Account: accountKey}); err != nil {
		return Pass{}, err
	}
	return Pass{tenantID: p.t.ID, route: route, ip: client.IP, account: accountKey}, nil
}

// errNotGated is the cause of the internal error Complete answers for a
// grant that did not go through Gate: a method that forgot the gate
// fails (and its tests with it) instead of silently skipping the CAPTCHA.
var errNotGated = errors.New("login: the grant carries no pass of the CAPTCHA gate for login or register")

// gated refuses a grant without a pass of this tenant's gate for a route
// that ends in a sign-in: login, or register (the sign-in right after a
// registration, whose request passed the register route).
func (p *Pipeline) gated(g Grant) error {
	if g.Pass.tenantID != p.t.ID || (g.Pass.route != captcha.RouteLogin && g.Pass.route != captcha.RouteRegister) {
		return errs.ErrInternal.Wrap(fmt.Errorf("%w (method %s)", errNotGated, g.Method))
	}
	return nil
}

// Refused counts a login that a method refused with err against the
// pass's address and account, when err is a failed login: an answer about
// the client's secret (a wrong password or code, a dead link: any
// Unauthenticated error but ErrMFARequired). A limit, an outage or a
// malformed request counts nothing. A count that cannot be written is let
// go: the login is refused either way, and a store that is away makes
// the next Gate unavailable rather than free.
func (p *Pipeline) Refused(ctx context.Context, pass Pass, err error) {
	if failedLogin(err) {
		p.recordFailure(ctx, pass.ip, pass.account)
	}
}

// settle counts what Complete decided for the grant g: a failed login
// (failedLogin) as a failure; a proven first factor (a session, an
// activation pending, or a second factor to answer) as a success, which
// forgets the account's failures.
func (p *Pipeline) settle(ctx context.Context, g Grant, err error) {
	switch {
	case err == nil, errors.Is(err, ErrMFARequired), errors.Is(err, ErrMFAEnrolmentRequired):
		if p.d.Captcha != nil && g.Pass.account != "" {
			_ = p.d.Captcha.RecordSuccess(ctx, g.Pass.ip, g.Pass.account)
		}
	case failedLogin(err):
		p.recordFailure(ctx, g.Pass.ip, g.Pass.account)
	}
}

func (p *Pipeline) recordFailure(ctx context.Context, ip netip.Addr, account string) {
	if p.d.Captcha != nil {
		_ = p.d.Captcha.RecordFailure(ctx, ip, account)
	}
}

// failedLogin reports whether err refuses a login for its secret.
func failedLogin(err error) bool {
	return err != nil && errs.KindOf(err) == errs.Unauthenticated && !errors.Is(err, ErrMFARequired)
}
