package captcha_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portcullis/portcullis/application/captcha"
	"github.com/portcullis/portcullis/application/captcha/captchatest"
	"github.com/portcullis/portcullis/application/platform/platformtest"
	"github.com/portcullis/portcullis/domain/errs"
	"github.com/portcullis/portcullis/domain/tenant"
)

const token = "0.tOkEn-of-a-solved-challenge"

var (
	alice = "alice@example.com"
	ip1   = netip.MustParseAddr("203.0.113.7")
	ip2   = netip.MustParseAddr("198.51.100.9")
)

// fixture is one tenant's service on fakes.
type fixture struct {
	svc      *captcha.Service
	clock    *platformtest.Clock
	calls    atomic.Int64
	lastTok  atomic.Value // captcha.Token
	verify   func(captcha.Token) (captcha.Result, error)
	logs     *platformtest.LogBuffer
	failures *captchatest.MemoryFailures
}

func config(edit func(*tenant.Captcha)) tenant.Tenant {
	t := tenant.Default()
	t.ID = "shop"
	t.Captcha = tenant.DefaultCaptcha()
	t.Captcha.Provider = tenant.CaptchaTurnstile
	t.Captcha.SiteKey = "0x4AAAAAAA-site"
	t.Captcha.SecretEnv = "SHOP_TURNSTILE_SECRET"
	t.Captcha.Policy = map[tenant.CaptchaRoute]tenant.CaptchaMode{
		captcha.RouteLogin: tenant.CaptchaAfterFailures, captcha.RouteRegister: tenant.CaptchaAlways, captcha.RouteForgot: tenant.CaptchaOff,
	}
	if edit != nil {
		edit(&t.Captcha)
	}
	return t
}

func newFixture(t *testing.T, tn tenant.Tenant) *fixture {
	t.Helper()
	if err := tn.Validate(); err != nil {
		t.Fatal(err)
	}
	f := &fixture{clock: platformtest.NewClock(platformtest.T0), logs: &platformtest.LogBuffer{},
		verify: func(captcha.Token) (captcha.Result, error) { return captcha.Result{Hostname: "shop.example"}, nil }}
	f.failures = captchatest.NewMemoryFailures(f.clock)
	var v captcha.Verifier = captchatest.VerifierFunc(func(_ context.Context, tok captcha.Token) (captcha.Result, error) {
		f.calls.Add(1)
		f.lastTok.Store(tok)
		return f.verify(tok)
	})
	if !tn.Captcha.Configured() {
		v = nil
	}
	f.svc = captcha.New(tn, captcha.Deps{Verifier: v, Failures: f.failures, Used: captchatest.NewMemoryUsedTokens(f.clock),
		Logger: slog.New(slog.NewTextHandler(f.logs, nil))})
	return f
}

func (f *fixture) required(t *testing.T, route captcha.Route, ip netip.Addr, account string) bool {
	t.Helper()
	ok, err := f.svc.Required(context.Background(), route, ip, account)
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

func (f *fixture) fail(t *testing.T, n int, ip netip.Addr, account string) {
	t.Helper()
	for range n {
		if err := f.svc.RecordFailure(context.Background(), ip, account); err != nil {
			t.Fatal(err)
		}
	}
}

func TestRequiredFollowsEachRoutesMode(t *testing.T) {
	t.Parallel()
	f := newFixture(t, config(nil))
	for route, want := range map[captcha.Route]bool{
		captcha.RouteLogin:     false, // after_failures, none yet
		captcha.RouteRegister:  true,  // always
		captcha.RouteForgot:    false, // off
		captcha.RouteSMSSend:   false, // not named: off
		captcha.RouteEmailSend: false,
	} {
		if got := f.required(t, route, ip1, alice); got != want {
			t.Errorf("%s: required %v, want %v", route, got, want)
		}
	}
	plain := tenant.Default()
	plain.ID = "plain"
	off := newFixture(t, plain)
	for _, r := range tenant.CaptchaRoutes {
		if off.required(t, r, ip1, alice) {
			t.Errorf("a tenant without a provider requires a CAPTCHA on %s", r)
		}
	}
}

func TestEscalationAfterFailures(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		edit      func(*tenant.Captcha)
		failIP    netip.Addr
		failAcct  string
		failures  int
		askIP     netip.Addr
		askAcct   string
		wantAfter bool
	}{
		{"per ip: 4 of 5 from the address", nil, ip1, "", 4, ip1, "", false},
		{"per ip: 5 of 5 from the address", nil, ip1, "", 5, ip1, "", true},
		{"per ip: another address is not asked", nil, ip1, "", 5, ip2, "", false},
		{"per ip: on any account from the address", nil, ip1, "", 5, ip1, "bob@example.com", true},
		{"per ip: one IPv6 /64 is one address", nil, netip.MustParseAddr("2001:db8:1:2::1"), "", 5, netip.MustParseAddr("2001:db8:1:2:ffff::9"), "", true},
		{"per ip: another /64 is another address", nil, netip.MustParseAddr("2001:db8:1:2::1"), "", 5, netip.MustParseAddr("2001:db8:1:3::1"), "", false},
		{"per account: 2 of 3 on the account", nil, ip1, alice, 2, ip2, alice, false},
		{"per account: 3 of 3 on the account, from anywhere", nil, ip1, alice, 3, ip2, alice, true},
		{"per account: another account is not asked", nil, ip1, alice, 3, ip2, "bob@example.com", false},
		{"per account off", func(c *tenant.Captcha) { c.AfterFailures.PerAccount = 0 }, ip1, alice, 4, ip2, alice, false},
		{"per ip off", func(c *tenant.Captcha) { c.AfterFailures.PerIP = 0 }, ip1, "", 10, ip1, "", false},
		{"thresholds of the tenant", func(c *tenant.Captcha) { c.AfterFailures.PerIP = 1 }, ip1, "", 1, ip1, "", true},
		{"a failure without address or account counts nothing", nil, netip.Addr{}, "", 10, ip1, alice, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, config(tc.edit))
			f.fail(t, tc.failures, tc.failIP, tc.failAcct)
			if got := f.required(t, captcha.RouteLogin, tc.askIP, tc.askAcct); got != tc.wantAfter {
				t.Fatalf("required %v after %d failures, want %v", got, tc.failures, tc.wantAfter)
			}
		})
	}
}

func TestEscalationWindowSuccessAndRoutesWithoutEscalation(t *testing.T) {
	t.Parallel()
	f := newFixture(t, config(nil))
	ctx := context.Background()
	f.fail(t, 3, ip1, alice)
	if !f.required(t, captcha.RouteLogin, ip2, alice) {
		t.Fatal("not required after 3 failures on the account")
	}
	// Each failure restarts the window: 14 minutes later the count stands.
	f.clock.Advance(14 * time.Minute)
	f.fail(t, 2, ip1, "")
	f.clock.Advance(14 * time.Minute)
	if !f.required(t, captcha.RouteLogin, ip1, "") {
		t.Fatal("5 failures from the address, the last 14 minutes ago: not required")
	}
	if f.required(t, captcha.RouteLogin, ip2, alice) {
		t.Fatal("the account's last failure was 28 minutes ago, window 15m: still required")
	}

	// A success forgets the account's failures, not the address's.
	f.fail(t, 3, ip1, alice)
	if err := f.svc.RecordSuccess(ctx, ip1, alice); err != nil {
		t.Fatal(err)
	}
	if f.required(t, captcha.RouteLogin, ip2, alice) {
		t.Fatal("required on the account after a successful login")
	}
	if !f.required(t, captcha.RouteLogin, ip1, "") {
		t.Fatal("a successful login cleared the address's failures")
	}

	// A tenant without an after_failures route counts nothing.
	always := newFixture(t, config(func(c *tenant.Captcha) {
		c.Policy = map[tenant.CaptchaRoute]tenant.CaptchaMode{captcha.RouteLogin: tenant.CaptchaAlways}
	}))
	always.fail(t, 10, ip1, alice)
	if n, _ := always.failures.Count(ctx, captcha.FailureKeyIP(ip1)); n != 0 {
		t.Fatalf("counted %d failures without an after_failures route", n)
	}
}

func TestCheck(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	invalid := func(captcha.Token) (captcha.Result, error) {
		return captcha.Result{}, captcha.ErrCaptchaInvalid.Wrap(errors.New("provider error codes [invalid-input-response]"))
	}
	down := func(captcha.Token) (captcha.Result, error) {
		return captcha.Result{}, captcha.ErrCaptchaUnavailable.Wrap(errors.New("siteverify: context deadline exceeded"))
	}
	cases := []struct {
		name      string
		edit      func(*tenant.Captcha)
		route     captcha.Route
		response  string
		verify    func(captcha.Token) (captcha.Result, error)
		want      error // nil: let through
		wantCalls int64
		wantLog   string
	}{
		{"not required: the token is not looked at", nil, captcha.RouteLogin, "", invalid, nil, 0, ""},
		{"off route", nil, captcha.RouteForgot, "garbage", invalid, nil, 0, ""},
		{"required, no token", nil, captcha.RouteRegister, "", nil, captcha.ErrCaptchaRequired, 0, ""},
		{"required, blank token", nil, captcha.RouteRegister, "  \t", nil, captcha.ErrCaptchaRequired, 0, ""},
		{"required, accepted", nil, captcha.RouteRegister, token, nil, nil, 1, ""},
		{"required, refused", nil, captcha.RouteRegister, token, invalid, captcha.ErrCaptchaInvalid, 1, ""},
		{"a token too long for any provider", nil, captcha.RouteRegister, strings.Repeat("x", captcha.MaxResponseLength+1), nil, captcha.ErrCaptchaInvalid, 0, ""},
		{"provider down, fail closed", nil, captcha.RouteRegister, token, down, captcha.ErrCaptchaUnavailable, 1,
			"on_unavailable: closed"},
		{"provider down, fail open", func(c *tenant.Captcha) { c.OnUnavailable = tenant.CaptchaFailOpen }, captcha.RouteRegister, token, down, nil, 1,
			"on_unavailable: open"},
		{"misconfigured secret is never failed open", func(c *tenant.Captcha) { c.OnUnavailable = tenant.CaptchaFailOpen }, captcha.RouteRegister, token,
			func(captcha.Token) (captcha.Result, error) {
				return captcha.Result{}, captcha.ErrCaptchaUnavailable.Wrap(fmt.Errorf("%w: [invalid-input-secret]", captcha.ErrMisconfigured))
			}, captcha.ErrCaptchaUnavailable, 1, "refuses the tenant's configuration"},
		{"an error the port does not promise is never failed open", func(c *tenant.Captcha) { c.OnUnavailable = tenant.CaptchaFailOpen }, captcha.RouteRegister, token,
			func(captcha.Token) (captcha.Result, error) { return captcha.Result{}, errors.New("boom") }, captcha.ErrCaptchaUnavailable, 1, "verifier failed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, config(tc.edit))
			if tc.verify != nil {
				f.verify = tc.verify
			}
			err := f.svc.Check(ctx, tc.route, tc.response, captcha.Client{IP: ip1, Account: alice})
			switch {
			case tc.want == nil && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != nil && !errors.Is(err, tc.want):
				t.Fatalf("error %v, want %v", err, tc.want)
			}
			if n := f.calls.Load(); n != tc.wantCalls {
				t.Fatalf("provider asked %d times, want %d", n, tc.wantCalls)
			}
			if tc.wantCalls > 0 {
				if got := f.lastTok.Load().(captcha.Token); got.Response != tc.response || got.RemoteIP != ip1 {
					t.Fatalf("provider got %+v", got)
				}
			}
			if errors.Is(tc.want, captcha.ErrCaptchaRequired) || errors.Is(tc.want, captcha.ErrCaptchaInvalid) {
				ext, _ := errs.As(err).Extensions["captcha"].(map[string]any)
				if ext["provider"] != "turnstile" || ext["site_key"] != "0x4AAAAAAA-site" {
					t.Fatalf("extensions %v, want the provider and site key", ext)
				}
			}
			logs := f.logs.String()
			if tc.wantLog != "" && (!strings.Contains(logs, tc.wantLog) || !strings.Contains(logs, "tenant=shop") || !strings.Contains(logs, "provider=turnstile") ||
				!strings.Contains(logs, "route=register")) {
				t.Fatalf("log %q, want %q with the tenant, provider and route", logs, tc.wantLog)
			}
			if tc.wantLog == "" && logs != "" {
				t.Fatalf("unexpected log %q", logs)
			}
			if strings.Contains(logs, token) || (err != nil && strings.Contains(err.Error(), token)) {
				t.Fatalf("the token was logged or returned: %q / %v", logs, err)
			}
		})
	}
}

func TestCheckOnAfterFailuresRoute(t *testing.T) {
	t.Parallel()
	f := newFixture(t, config(nil))
	ctx := context.Background()
	c := captcha.Client{IP: ip1, Account: alice}
	if err := f.svc.Check(ctx, captcha.RouteLogin, "", c); err != nil {
		t.Fatalf("no failures yet: %v", err)
	}
	f.fail(t, 3, ip2, alice)
	if err := f.svc.Check(ctx, captcha.RouteLogin, "", c); !errors.Is(err, captcha.ErrCaptchaRequired) {
		t.Fatalf("3 failures on the account: %v, want captcha_required", err)
	}
	if err := f.svc.Check(ctx, captcha.RouteLogin, token, c); err != nil {
		t.Fatalf("with a token: %v", err)
	}
}

func TestATokenIsUsedOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := captcha.Client{IP: ip1}

	t.Run("in turn, also when the provider refused it", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, config(nil))
		if err := f.svc.Check(ctx, captcha.RouteRegister, token, c); err != nil {
			t.Fatal(err)
		}
		if err := f.svc.Check(ctx, captcha.RouteRegister, token, c); !errors.Is(err, captcha.ErrCaptchaInvalid) {
			t.Fatalf("second use: %v, want captcha_invalid", err)
		}
		f.verify = func(captcha.Token) (captcha.Result, error) { return captcha.Result{}, captcha.ErrCaptchaInvalid }
		if err := f.svc.Check(ctx, captcha.RouteRegister, "other", c); !errors.Is(err, captcha.ErrCaptchaInvalid) {
			t.Fatal(err)
		}
		f.verify = func(captcha.Token) (captcha.Result, error) { return captcha.Result{}, nil }
		if err := f.svc.Check(ctx, captcha.RouteRegister, "other", c); !errors.Is(err, captcha.ErrCaptchaInvalid) {
			t.Fatalf("a refused token sent again: %v, want captcha_invalid", err)
		}
		if n := f.calls.Load(); n != 2 {
			t.Fatalf("provider asked %d times, want 2 (once per token)", n)
		}
		// Past the provider's token lifetime (Turnstile: 5 minutes) the
		// provider itself refuses it; it is forgotten here.
		f.clock.Advance(5*time.Minute + time.Second)
		if err := f.svc.Check(ctx, captcha.RouteRegister, token, c); err != nil {
			t.Fatalf("after the lifetime: %v", err)
		}
	})

	t.Run("of concurrent uses exactly one passes", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, config(nil))
		var passed, replayed atomic.Int64
		platformtest.Race(platformtest.Racers, func(int) {
			err := f.svc.Check(ctx, captcha.RouteRegister, token, c)
			switch {
			case err == nil:
				passed.Add(1)
			case errors.Is(err, captcha.ErrCaptchaInvalid):
				replayed.Add(1)
			}
		})
		if passed.Load() != 1 || replayed.Load() != platformtest.Racers-1 || f.calls.Load() != 1 {
			t.Fatalf("%d concurrent uses: %d passed, %d refused as used, provider asked %d times; want 1, %d, 1",
				platformtest.Racers, passed.Load(), replayed.Load(), f.calls.Load(), platformtest.Racers-1)
		}
	})
}

// brokenStore fails every call, as a Redis that is down does.
type brokenStore struct{}

func (brokenStore) Add(context.Context, string, time.Duration) error {
	return errors.New("redis: down")
}
func (brokenStore) Count(context.Context, string) (int, error) { return 0, errors.New("redis: down") }
func (brokenStore) Reset(context.Context, string) error        { return errors.New("redis: down") }
func (brokenStore) Claim(context.Context, string, time.Duration) (bool, error) {
	return false, errors.New("redis: down")
}

func TestAStoreThatIsDownMakesTheRequestUnavailableNeverFree(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tn := config(func(c *tenant.Captcha) { c.OnUnavailable = tenant.CaptchaFailOpen })
	ok := captchatest.VerifierFunc(func(context.Context, captcha.Token) (captcha.Result, error) { return captcha.Result{}, nil })
	counts := captcha.New(tn, captcha.Deps{Verifier: ok, Failures: brokenStore{}, Used: captchatest.NewMemoryUsedTokens(platformtest.NewClock(platformtest.T0))})
	used := captcha.New(tn, captcha.Deps{Verifier: ok, Failures: captchatest.NewMemoryFailures(platformtest.NewClock(platformtest.T0)), Used: brokenStore{}})
	for name, err := range map[string]error{
		"required":       func() error { _, err := counts.Required(ctx, captcha.RouteLogin, ip1, alice); return err }(),
		"check":          counts.Check(ctx, captcha.RouteLogin, "", captcha.Client{IP: ip1, Account: alice}),
		"record failure": counts.RecordFailure(ctx, ip1, alice),
		"record success": counts.RecordSuccess(ctx, ip1, alice),
		"used tokens":    used.Check(ctx, captcha.RouteRegister, token, captcha.Client{IP: ip1}),
	} {
		if errs.KindOf(err) != errs.Unavailable {
			t.Errorf("%s: %v, want unavailable", name, err)
		}
	}
}

func TestWidget(t *testing.T) {
	t.Parallel()
	f := newFixture(t, config(nil))
	if w := f.svc.Widget(); w != (captcha.Widget{Provider: tenant.CaptchaTurnstile, SiteKey: "0x4AAAAAAA-site"}) {
		t.Fatalf("widget %+v", w)
	}
}

func TestDescribeNamesTheWidgetAndEveryRoutesMode(t *testing.T) {
	t.Parallel()
	d := newFixture(t, config(nil)).svc.Describe()
	want := map[captcha.Route]tenant.CaptchaMode{captcha.RouteLogin: tenant.CaptchaAfterFailures, captcha.RouteRegister: tenant.CaptchaAlways,
		captcha.RouteSMSSend: tenant.CaptchaOff, captcha.RouteEmailSend: tenant.CaptchaOff, captcha.RouteForgot: tenant.CaptchaOff}
	if d.Widget != (captcha.Widget{Provider: tenant.CaptchaTurnstile, SiteKey: "0x4AAAAAAA-site"}) || !maps.Equal(d.Modes, want) {
		t.Fatalf("description %+v, want the widget and modes %v", d, want)
	}
	plain := tenant.Default()
	plain.ID = "plain"
	d = newFixture(t, plain).svc.Describe()
	if d.Widget != (captcha.Widget{}) || len(d.Modes) != len(tenant.CaptchaRoutes) {
		t.Fatalf("a tenant without a provider: %+v", d)
	}
	for r, m := range d.Modes {
		if m != tenant.CaptchaOff {
			t.Fatalf("a tenant without a provider: %s is %s", r, m)
		}
	}
}

// TestDemandChecksWhateverTheRoutesMode: a surface that demands a CAPTCHA
// gets the checks of a route that is always on, on a route that is off or
// after_failures without failures: no token, a refused one, one used
// before; a tenant without a provider is unavailable.
func TestDemandChecksWhateverTheRoutesMode(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := captcha.Client{IP: ip1, Account: alice}
	for _, route := range []captcha.Route{captcha.RouteLogin, captcha.RouteForgot} {
		f := newFixture(t, config(nil))
		if f.required(t, route, ip1, alice) {
			t.Fatalf("%s: required without failures", route)
		}
		if err := f.svc.Demand(ctx, route, "", c); !errors.Is(err, captcha.ErrCaptchaRequired) {
			t.Fatalf("%s, no token: %v, want captcha_required", route, err)
		}
		if err := f.svc.Demand(ctx, route, token, c); err != nil {
			t.Fatalf("%s, a solved one: %v", route, err)
		}
		if err := f.svc.Demand(ctx, route, token, c); !errors.Is(err, captcha.ErrCaptchaInvalid) {
			t.Fatalf("%s, the same token again: %v, want captcha_invalid", route, err)
		}
		f.verify = func(captcha.Token) (captcha.Result, error) { return captcha.Result{}, captcha.ErrCaptchaInvalid }
		if err := f.svc.Demand(ctx, route, "another", c); !errors.Is(err, captcha.ErrCaptchaInvalid) {
			t.Fatalf("%s, a refused one: %v, want captcha_invalid", route, err)
		}
		if n := f.calls.Load(); n != 2 {
			t.Fatalf("%s: provider asked %d times, want 2 (the replay is refused before it)", route, n)
		}
	}
	none := newFixture(t, config(func(c *tenant.Captcha) { *c = tenant.DefaultCaptcha() }))
	if err := none.svc.Demand(ctx, captcha.RouteLogin, token, c); !errors.Is(err, captcha.ErrCaptchaUnavailable) {
		t.Fatalf("a tenant without a provider: %v, want captcha_unavailable", err)
	}
	if !strings.Contains(none.logs.String(), "no provider") {
		t.Fatalf("log %q, want the missing provider told", none.logs.String())
	}
}
