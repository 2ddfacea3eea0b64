package login_test

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/portcullis/portcullis/application/captcha"
	"github.com/portcullis/portcullis/application/login"
	"github.com/portcullis/portcullis/application/session"
	"github.com/portcullis/portcullis/domain/errs"
	"github.com/portcullis/portcullis/domain/identity"
	"github.com/portcullis/portcullis/domain/tenant"
)

// provider is a CAPTCHA provider that accepts the tokens starting with
// "ok" and refuses the rest, counting what it is asked.
type provider struct{ calls atomic.Int64 }

func (p *provider) Verify(_ context.Context, t captcha.Token) (captcha.Result, error) {
	p.calls.Add(1)
	if strings.HasPrefix(t.Response, "ok") {
		return captcha.Result{Hostname: "shop.example"}, nil
	}
	return captcha.Result{}, captcha.ErrCaptchaInvalid
}

// withCaptcha gives the tenant a Turnstile CAPTCHA whose login route has
// mode; after_failures asks after 3 failed logins from an address or 2 on
// an account.
func withCaptcha(mode tenant.CaptchaMode) func(*tenant.Tenant) {
	return func(t *tenant.Tenant) {
		t.Captcha = tenant.DefaultCaptcha()
		t.Captcha.Provider, t.Captcha.SiteKey, t.Captcha.SecretEnv = tenant.CaptchaTurnstile, "0x4AAA-site", "SHOP_TURNSTILE_SECRET"
		t.Captcha.Policy = map[tenant.CaptchaRoute]tenant.CaptchaMode{captcha.RouteLogin: mode, captcha.RouteRegister: tenant.CaptchaAlways}
		t.Captcha.AfterFailures = tenant.CaptchaEscalation{PerIP: 3, PerAccount: 2, Window: tenant.DefaultCaptchaWindow}
	}
}

func noChange(*tenant.Tenant) {}

var (
	ipA = netip.MustParseAddr("203.0.113.7")
	ipB = netip.MustParseAddr("198.51.100.9")
)

func (f *fixture) grantFrom(ip netip.Addr) login.Grant {
	return login.Grant{User: f.user, Method: tenant.MethodPassword, AMR: []string{"pwd"}, Kind: identity.SessionAPI,
		Client: session.Client{IP: ip}}
}

// gate passes the login gate from ip for the account, with response.
func (f *fixture) gate(ip netip.Addr, account, response string) (login.Pass, error) {
	return f.pipe.Gate(ctx, captcha.RouteLogin, response, session.Client{IP: ip}, account)
}

// TestAGrantWithoutAPassOfTheGateIsRefused: a method that forgot the gate
// gets an internal error and no session, whatever the tenant's policy; a
// pass of a route that does not sign in, or of another tenant, is no
// pass for a sign-in.
func TestAGrantWithoutAPassOfTheGateIsRefused(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		mutate func(*tenant.Tenant)
		pass   func(f *fixture) login.Pass
	}{
		{"no pass, CAPTCHA off", noChange, func(*fixture) login.Pass { return login.Pass{} }},
		{"no pass, CAPTCHA always", withCaptcha(tenant.CaptchaAlways), func(*fixture) login.Pass { return login.Pass{} }},
		{"a pass of sms_send", noChange, func(f *fixture) login.Pass {
			p, err := f.pipe.Gate(ctx, captcha.RouteSMSSend, "", session.Client{IP: ipA}, "+905551112233")
			if err != nil {
				panic(err)
			}
			return p
		}},
		{"another tenant's pass", noChange, func(*fixture) login.Pass {
			other := newFixture(t, false, func(t *tenant.Tenant) { t.ID = "other" })
			p, err := other.gate(ipA, "ann@example.com", "")
			if err != nil {
				panic(err)
			}
			return p
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, false, tc.mutate)
			g := f.grantFrom(ipA)
			g.Pass = tc.pass(f)
			out, err := f.pipe.Complete(ctx, g)
			if errs.KindOf(err) != errs.Internal || out.Credentials.AccessToken != "" {
				t.Fatalf("a grant without a pass of the gate: %v, %+v; want an internal error and no session", err, out)
			}
			f.wantEvents(t) // nothing was decided
		})
	}
	// The register route's pass is the sign-in of a registration.
	f := newFixture(t, false)
	g := f.grantFrom(ipA)
	var err error
	if g.Pass, err = f.pipe.Gate(ctx, captcha.RouteRegister, "", g.Client, "ann@example.com"); err != nil {
		t.Fatal(err)
	}
	if out, err := f.pipe.Complete(ctx, g); err != nil || out.Result != login.Signed {
		t.Fatalf("a grant with the register route's pass: %v, %v", out.Result, err)
	}
}

// countingCaptcha fails the test on any use: an off route must not reach
// the CAPTCHA service (nor its store).
type countingCaptcha struct{ calls atomic.Int64 }

func (c *countingCaptcha) Check(context.Context, captcha.Route, string, captcha.Client) error {
	c.calls.Add(1)
	return nil
}

func (c *countingCaptcha) Demand(context.Context, captcha.Route, string, captcha.Client) error {
	c.calls.Add(1)
	return nil
}

func (c *countingCaptcha) RecordFailure(context.Context, netip.Addr, string) error {
	c.calls.Add(1)
	return nil
}

func (c *countingCaptcha) RecordSuccess(context.Context, netip.Addr, string) error {
	c.calls.Add(1)
	return nil
}

// TestAnOffRouteAsksNothing: a route whose mode is off lets a request
// through without a response and without asking the CAPTCHA service; the
// provider is never asked, whatever the response.
func TestAnOffRouteAsksNothing(t *testing.T) {
	t.Parallel()
	tn := tenant.Default()
	tn.ID = "shop"
	withCaptcha(tenant.CaptchaOff)(&tn)
	tn.Captcha.Policy = map[tenant.CaptchaRoute]tenant.CaptchaMode{captcha.RouteRegister: tenant.CaptchaAlways}
	spy := &countingCaptcha{}
	p := login.New(tn, login.Deps{Captcha: spy})
	for _, r := range []captcha.Route{captcha.RouteLogin, captcha.RouteSMSSend, captcha.RouteEmailSend, captcha.RouteForgot} {
		for _, response := range []string{"", "garbage"} {
			pass, err := p.Gate(ctx, r, response, session.Client{IP: ipA}, "ann@example.com")
			if err != nil || pass.Route() != r {
				t.Fatalf("%s off, response %q: %v, %+v", r, response, err, pass)
			}
		}
	}
	if n := spy.calls.Load(); n != 0 {
		t.Fatalf("off routes asked the CAPTCHA service %d times", n)
	}
	// The route that is on asks it.
	if _, err := p.Gate(ctx, captcha.RouteRegister, "", session.Client{IP: ipA}, "ann@example.com"); err != nil || spy.calls.Load() != 1 {
		t.Fatalf("register always: %v, %d calls", err, spy.calls.Load())
	}
	// A tenant with a route on and no service is a wiring error, never a
	// free pass.
	bare := login.New(tn, login.Deps{})
	if _, err := bare.Gate(ctx, captcha.RouteRegister, "ok", session.Client{IP: ipA}, ""); errs.KindOf(err) != errs.Internal {
		t.Fatalf("no CAPTCHA service: %v, want internal", err)
	}
}

// TestAlwaysAsksOnEveryLoginAndATokenIsUsedOnce: always mode refuses a
// login without a response (captcha_required, with the widget to render)
// before anything else happens, lets a solved one through once, and
// refuses it the second time.
func TestAlwaysAsksOnEveryLoginAndATokenIsUsedOnce(t *testing.T) {
	t.Parallel()
	f := newFixture(t, false, withCaptcha(tenant.CaptchaAlways))
	_, err := f.gate(ipA, f.user.EmailKey, "")
	if !errors.Is(err, captcha.ErrCaptchaRequired) {
		t.Fatalf("no response: %v, want captcha_required", err)
	}
	if w, _ := errs.As(err).Extensions["captcha"].(map[string]any); w["provider"] != "turnstile" || w["site_key"] != "0x4AAA-site" {
		t.Fatalf("captcha_required carries %v, want the widget", errs.As(err).Extensions)
	}
	if _, err := f.gate(ipA, f.user.EmailKey, "bot"); !errors.Is(err, captcha.ErrCaptchaInvalid) {
		t.Fatalf("a refused response: %v, want captcha_invalid", err)
	}
	pass, err := f.gate(ipA, f.user.EmailKey, "ok-1")
	if err != nil {
		t.Fatal(err)
	}
	g := f.grantFrom(ipA)
	g.Pass = pass
	if out, err := f.pipe.Complete(ctx, g); err != nil || out.Result != login.Signed {
		t.Fatalf("with a solved CAPTCHA: %v, %v", out.Result, err)
	}
	if _, err := f.gate(ipA, f.user.EmailKey, "ok-1"); !errors.Is(err, captcha.ErrCaptchaInvalid) {
		t.Fatalf("the same response again: %v, want captcha_invalid", err)
	}
	if n := f.provider.calls.Load(); n != 2 {
		t.Fatalf("the provider was asked %d times, want 2 (the replay is refused before it)", n)
	}
}

// TestEscalationAfterFailedLogins: after_failures asks nothing until the
// address had per_ip failed logins or the account per_account, and from
// then on asks; failed logins are a method's refusals (Refused) and the
// pipeline's own; a success forgets the account's, not the address's.
func TestEscalationAfterFailedLogins(t *testing.T) {
	t.Parallel()
	wrong := login.ErrInvalidCredentials
	t.Run("per address, not before the threshold", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, false, withCaptcha(tenant.CaptchaAfterFailures))
		for i := range 3 {
			pass, err := f.gate(ipA, "guess"+string(rune('a'+i))+"@example.com", "")
			if err != nil {
				t.Fatalf("failed login %d: asked for a CAPTCHA before the threshold: %v", i+1, err)
			}
			f.pipe.Refused(ctx, pass, wrong)
		}
		if _, err := f.gate(ipA, "another@example.com", ""); !errors.Is(err, captcha.ErrCaptchaRequired) {
			t.Fatalf("after 3 failed logins from the address: %v, want captcha_required", err)
		}
		if _, err := f.gate(ipB, "another@example.com", ""); err != nil {
			t.Fatalf("another address: %v", err)
		}
		if _, err := f.gate(ipA, "another@example.com", "ok-1"); err != nil {
			t.Fatalf("with a solved CAPTCHA: %v", err)
		}
	})
	t.Run("per account, from any address", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, false, withCaptcha(tenant.CaptchaAfterFailures))
		pass, _ := f.gate(ipA, f.user.EmailKey, "")
		f.pipe.Refused(ctx, pass, wrong)
		if _, err := f.gate(ipB, f.user.EmailKey, ""); err != nil {
			t.Fatalf("after 1 failed login on the account: %v", err)
		}
		// The pipeline's own refusal (a disabled account) counts too.
		f.user.Active = false
		g := f.grantFrom(ipB)
		if g.Pass, _ = f.gate(ipB, f.user.EmailKey, ""); g.Pass.Route() == "" {
			t.Fatal("no pass")
		}
		if _, err := f.pipe.Complete(ctx, g); !errors.Is(err, login.ErrInvalidCredentials) {
			t.Fatal(err)
		}
		if _, err := f.gate(netip.MustParseAddr("192.0.2.1"), f.user.EmailKey, ""); !errors.Is(err, captcha.ErrCaptchaRequired) {
			t.Fatalf("after 2 failed logins on the account: %v, want captcha_required", err)
		}
	})
	t.Run("what is no failed login counts nothing", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, false, withCaptcha(tenant.CaptchaAfterFailures))
		pass, _ := f.gate(ipA, f.user.EmailKey, "")
		for _, err := range []error{errs.ErrUnavailable, errs.InvalidFields(errs.FieldError{Field: "email", Reason: "is required"}),
			login.ErrMethodDisabled, login.ErrMFARequired, errs.E(errs.RateLimited, "throttled", "slow down")} {
			f.pipe.Refused(ctx, pass, err)
		}
		f.pipe.Refused(ctx, pass, nil)
		if n, _ := f.failures.Count(ctx, captcha.FailureKeyIP(ipA)); n != 0 {
			t.Fatalf("%d failures counted for answers that judged no secret", n)
		}
	})
	t.Run("a success forgets the account's failures, not the address's", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, false, withCaptcha(tenant.CaptchaAfterFailures))
		pass, _ := f.gate(ipA, f.user.EmailKey, "")
		f.pipe.Refused(ctx, pass, wrong)
		f.pipe.Refused(ctx, pass, wrong)
		if _, err := f.gate(ipB, f.user.EmailKey, ""); !errors.Is(err, captcha.ErrCaptchaRequired) {
			t.Fatalf("2 failures on the account: %v", err)
		}
		g := f.grantFrom(ipA)
		var err error
		if g.Pass, err = f.gate(ipA, f.user.EmailKey, "ok-1"); err != nil {
			t.Fatal(err)
		}
		if out, err := f.pipe.Complete(ctx, g); err != nil || out.Result != login.Signed {
			t.Fatalf("sign-in: %v, %v", out.Result, err)
		}
		if _, err := f.gate(ipB, f.user.EmailKey, ""); err != nil {
			t.Fatalf("after a success on the account: %v, want no CAPTCHA", err)
		}
		if n, _ := f.failures.Count(ctx, captcha.FailureKeyIP(ipA)); n != 2 {
			t.Fatalf("the address's count is %d after the success, want 2", n)
		}
	})
}
