package password_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/application/captcha"
	"github.com/portcullis/portcullis/application/login"
	"github.com/portcullis/portcullis/application/password"
	"github.com/portcullis/portcullis/domain/identity"
	"github.com/portcullis/portcullis/domain/tenant"
)

// solvedOK is a CAPTCHA provider that accepts the tokens starting with
// "ok" and refuses the rest.
type solvedOK struct{}

func (solvedOK) Verify(_ context.Context, t captcha.Token) (captcha.Result, error) {
	if strings.HasPrefix(t.Response, "ok") {
		return captcha.Result{}, nil
	}
	return captcha.Result{}, captcha.ErrCaptchaInvalid
}

// withCaptcha gives the tenant a CAPTCHA with these route modes; the
// escalation asks after 2 failed logins from an address.
func withCaptcha(policy map[tenant.CaptchaRoute]tenant.CaptchaMode) func(*tenant.Tenant) {
	return func(t *tenant.Tenant) {
		t.Captcha = tenant.DefaultCaptcha()
		t.Captcha.Provider, t.Captcha.SiteKey, t.Captcha.SecretEnv = tenant.CaptchaHCaptcha, "site", "SHOP_HCAPTCHA_SECRET"
		t.Captcha.Policy = policy
		t.Captcha.AfterFailures.PerIP = 2
	}
}

// TestTheCaptchaComesBeforeAnyPasswordWork: a login or registration the
// tenant's CAPTCHA refuses hashes nothing, spends no budget and creates
// nothing; a solved one goes on, once.
func TestTheCaptchaComesBeforeAnyPasswordWork(t *testing.T) {
	t.Parallel()
	f := newFixture(t, withCaptcha(map[tenant.CaptchaRoute]tenant.CaptchaMode{captcha.RouteLogin: tenant.CaptchaAlways, captcha.RouteRegister: tenant.CaptchaAlways}))
	in := password.RegisterInput{Profile: identity.Profile{Email: "ann@example.com", FirstName: "Ann", LastName: "Lee"}, Password: "correct horse battery", Client: alice}
	if _, err := f.svc.Register(ctx, in); !errors.Is(err, captcha.ErrCaptchaRequired) {
		t.Fatalf("register without a CAPTCHA: %v", err)
	}
	if _, err := f.users.ByEmail(ctx, "shop", "ann@example.com"); err == nil || f.hasher.hashes.Load() != 0 {
		t.Fatalf("a refused registration created the account or hashed (%d hashes)", f.hasher.hashes.Load())
	}
	in.Captcha = "ok-register"
	k := identity.SessionAPI
	in.SignIn = &k
	r, err := f.svc.Register(ctx, in)
	if err != nil || r.Login == nil || r.Login.Result != login.Signed {
		t.Fatalf("register with a CAPTCHA, signing in: %+v, %v", r.Login, err)
	}

	// Many more refused logins than any budget: none is judged or counted.
	verifies := f.hasher.verifies.Load()
	for range 20 {
		_, err := f.svc.Login(ctx, password.LoginInput{Email: "ann@example.com", Password: "wrong password", Kind: identity.SessionAPI, Client: alice})
		if !errors.Is(err, captcha.ErrCaptchaRequired) {
			t.Fatalf("login without a CAPTCHA: %v", err)
		}
		_, err = f.svc.Login(ctx, password.LoginInput{Email: "ann@example.com", Password: "wrong password", Kind: identity.SessionAPI, Client: alice,
			Captcha: "bot"})
		if !errors.Is(err, captcha.ErrCaptchaInvalid) {
			t.Fatalf("login with a refused CAPTCHA: %v", err)
		}
	}
	if n := f.hasher.verifies.Load() - verifies; n != 0 {
		t.Fatalf("%d passwords verified for logins the CAPTCHA refused", n)
	}
	ok := password.LoginInput{Email: "ann@example.com", Password: "correct horse battery", Kind: identity.SessionAPI, Client: alice, Captcha: "ok-1"}
	if out, err := f.svc.Login(ctx, ok); err != nil || out.Result != login.Signed {
		t.Fatalf("the right password with a CAPTCHA: %v, %v", out.Result, err)
	}
	if _, err := f.svc.Login(ctx, ok); !errors.Is(err, captcha.ErrCaptchaInvalid) {
		t.Fatalf("the same CAPTCHA again: %v, want captcha_invalid", err)
	}
}

// TestAWrongPasswordCountsTowardsTheEscalation: after_failures asks once
// the address had its failed logins (2 here), and not before.
func TestAWrongPasswordCountsTowardsTheEscalation(t *testing.T) {
	t.Parallel()
	f := newFixture(t, withCaptcha(map[tenant.CaptchaRoute]tenant.CaptchaMode{captcha.RouteLogin: tenant.CaptchaAfterFailures}))
	f.register(t, "ann@example.com", "correct horse battery")
	for i := range 2 {
		if _, _, err := f.login("nobody@example.com", "wrong password", identity.SessionAPI); !errors.Is(err, login.ErrInvalidCredentials) {
			t.Fatalf("failed login %d: %v, want invalid_credentials without a CAPTCHA", i+1, err)
		}
	}
	if _, _, err := f.login("ann@example.com", "correct horse battery", identity.SessionAPI); !errors.Is(err, captcha.ErrCaptchaRequired) {
		t.Fatalf("after 2 failed logins from the address: %v, want captcha_required", err)
	}
}

// TestADemandedCaptchaIsCheckedWhateverThePolicy: a login that demands a
// CAPTCHA (seed 003's /api/v3/login) is checked on a tenant whose login
// route is off: without one, or with one refused or used before, nothing
// is hashed; with a solved one it signs in.
func TestADemandedCaptchaIsCheckedWhateverThePolicy(t *testing.T) {
	t.Parallel()
	f := newFixture(t, withCaptcha(map[tenant.CaptchaRoute]tenant.CaptchaMode{captcha.RouteLogin: tenant.CaptchaOff, captcha.RouteForgot: tenant.CaptchaAlways}))
	f.register(t, "ann@example.com", "correct horse battery")
	in := password.LoginInput{Email: "ann@example.com", Password: "correct horse battery", Kind: identity.SessionAPI, Client: alice, DemandCaptcha: true}
	verifies := f.hasher.verifies.Load()
	for what, c := range map[string]struct {
		response string
		want     error
	}{"none": {"", captcha.ErrCaptchaRequired}, "refused": {"bot", captcha.ErrCaptchaInvalid}} {
		in := in
		in.Captcha = c.response
		if _, err := f.svc.Login(ctx, in); !errors.Is(err, c.want) {
			t.Fatalf("%s: %v, want %v", what, err, c.want)
		}
	}
	if n := f.hasher.verifies.Load() - verifies; n != 0 {
		t.Fatalf("%d passwords verified for logins the CAPTCHA refused", n)
	}
	in.Captcha = "ok-v3"
	if out, err := f.svc.Login(ctx, in); err != nil || out.Result != login.Signed {
		t.Fatalf("with a solved CAPTCHA: %v, %v", out.Result, err)
	}
	if _, err := f.svc.Login(ctx, in); !errors.Is(err, captcha.ErrCaptchaInvalid) {
		t.Fatalf("the same CAPTCHA again: %v, want captcha_invalid", err)
	}
	// The same login without the demand is not asked: the route is off.
	in.DemandCaptcha, in.Captcha = false, ""
	if out, err := f.svc.Login(ctx, in); err != nil || out.Result != login.Signed {
		t.Fatalf("without the demand: %v, %v", out.Result, err)
	}
}
