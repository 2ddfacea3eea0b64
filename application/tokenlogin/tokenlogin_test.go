package tokenlogin_test

import (
	"context"
	"crypto/rand"
	"errors"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/portcullis/portcullis/application/account/accounttest"
	"github.com/portcullis/portcullis/application/audit"
	"github.com/portcullis/portcullis/application/audit/audittest"
	"github.com/portcullis/portcullis/application/login"
	"github.com/portcullis/portcullis/application/login/logintest"
	"github.com/portcullis/portcullis/application/mfa/mfatest"
	"github.com/portcullis/portcullis/application/platform/platformtest"
	"github.com/portcullis/portcullis/application/session"
	"github.com/portcullis/portcullis/application/session/sessiontest"
	"github.com/portcullis/portcullis/application/throttle"
	"github.com/portcullis/portcullis/application/throttle/throttletest"
	"github.com/portcullis/portcullis/application/tokenlogin"
	"github.com/portcullis/portcullis/domain/errs"
	"github.com/portcullis/portcullis/domain/identity"
	"github.com/portcullis/portcullis/domain/tenant"
)

var ctx = context.Background()

type tokens struct{}

func (tokens) Issue(_ context.Context, c session.AccessClaims) (string, error) {
	return "at." + c.SessionID, nil
}
func (tokens) Verify(context.Context, string) (session.AccessClaims, error) {
	return session.AccessClaims{}, session.ErrInvalidToken
}

type fixture struct {
	svc      *tokenlogin.Service
	sess     *session.Service
	issuer   *session.Issuer
	users    *accounttest.MemoryUsers
	sessions *sessiontest.MemorySessions
	clock    *platformtest.Clock
	t        tenant.Tenant
	factors  mfatest.Fixture
	audit    *audittest.Recorder
}

var client = session.Client{IP: netip.MustParseAddr("198.51.100.4"), UserAgent: "test"}

func newFixture(t *testing.T, mutate func(*tenant.Tenant)) *fixture {
	t.Helper()
	tn := tenant.Default()
	tn.ID = "shop"
	tn.LoginMethods = []tenant.LoginMethod{tenant.MethodPassword, tenant.MethodTokenLogin, tenant.MethodTOTP}
	tn.Throttling.TokenLoginPerIP = tenant.Limit{Count: 3, Window: time.Hour}
	if mutate != nil {
		mutate(&tn)
	}
	if err := tn.Validate(); err != nil {
		t.Fatal(err)
	}
	c := platformtest.NewClock(time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC))
	us := accounttest.NewMemoryUsers()
	sessions, revs := sessiontest.NewMemorySessions(), sessiontest.NewMemoryRevocations(c)
	sess := session.New(tn, session.Deps{Users: us, Sessions: sessions, Refresh: sessiontest.NewMemoryRefreshTokens(),
		Revocations: revs, Tokens: tokens{}, Sync: session.NewSync(sessions, revs, c, time.Second), Audit: audittest.NewRecorder(), Clock: c, Random: rand.Reader})
	issuer := session.NewIssuer(sess)
	rec := audittest.NewRecorder()
	pipe := logintest.New(t, tn, logintest.Options{Users: us, Issuer: issuer, Clock: c, Audit: rec})
	svc := tokenlogin.New(tn, tn.Throttling.TokenLoginPerIP, tokenlogin.Deps{Tokens: sess, Limiter: throttletest.NewMemoryLimiter(c), Login: pipe.Pipeline, Audit: rec})
	return &fixture{svc: svc, sess: sess, issuer: issuer, users: us, sessions: sessions, clock: c, t: tn, factors: pipe.Factors, audit: rec}
}

func (f *fixture) user(t *testing.T, id string) identity.User {
	t.Helper()
	u := identity.User{ID: id, TenantID: f.t.ID, Email: id + "@example.com", EmailKey: id + "@example.com", Active: true, Role: identity.RoleUser}
	if err := f.users.Create(ctx, u); err != nil {
		t.Fatal(err)
	}
	return u
}

// appToken signs u in for an app token, as seed 000's login does.
func (f *fixture) appToken(t *testing.T, u identity.User) string {
	t.Helper()
	creds, err := f.issuer.Start(ctx, u, identity.SessionApp, []string{"pwd"}, client)
	if err != nil {
		t.Fatal(err)
	}
	return creds.AppToken
}

func (f *fixture) webSessions(t *testing.T, userID string) int {
	t.Helper()
	list, err := f.sessions.ListLive(ctx, f.t.ID, userID, f.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, s := range list {
		if s.Kind == identity.SessionWeb {
			n++
		}
	}
	return n
}

func TestAnAppTokenOpensABrowserSessionOfItsUser(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	ann := f.user(t, "ann")
	key := f.appToken(t, ann)
	for i := range 5 { // more than the budget: a success costs nothing
		out, err := f.svc.Login(ctx, tokenlogin.Input{UserID: ann.ID, Token: key, Client: client})
		if err != nil {
			t.Fatalf("login %d: %v", i+1, err)
		}
		s := out.Credentials.Session
		if out.Result != login.Signed || s.Kind != identity.SessionWeb || s.UserID != ann.ID || out.Credentials.Cookie == "" ||
			!slices.Equal(s.AMR, []string{"pwd"}) {
			t.Fatalf("outcome %+v; want a web session of ann with the app session's amr", out)
		}
		p, err := f.sess.Authenticate(ctx, session.ByCookie, out.Credentials.Cookie)
		if err != nil || p.User.ID != ann.ID {
			t.Fatalf("the cookie: %+v, %v", p, err)
		}
	}
	if _, err := f.sess.Authenticate(ctx, session.ByToken, key); err != nil {
		t.Fatalf("the app token after the token logins: %v, want it still live", err)
	}
}

// TestEveryRefusalIsOneAnswer: an unknown user, an inactive one, another
// user's token, a revoked or unknown token, a cookie value: all
// login.ErrInvalidCredentials, and no session.
func TestEveryRefusalIsOneAnswer(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(tn *tenant.Tenant) { tn.Throttling.TokenLoginPerIP.Count = 100 })
	ann, bob, gone := f.user(t, "ann"), f.user(t, "bob"), f.user(t, "gone")
	annKey, bobKey, goneKey := f.appToken(t, ann), f.appToken(t, bob), f.appToken(t, gone)
	if err := f.users.SetActive(ctx, f.t.ID, gone.ID, false, f.clock.Now()); err != nil {
		t.Fatal(err)
	}
	revoked := f.appToken(t, ann)
	if _, err := f.sess.Logout(ctx, session.ByToken, revoked); err != nil {
		t.Fatal(err)
	}
	web, err := f.issuer.Start(ctx, ann, identity.SessionWeb, []string{"pwd"}, client)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct{ name, user, token string }{
		{"unknown user with a live token", "nobody", annKey},
		{"another user's token", ann.ID, bobKey},
		{"own id, another's token", bob.ID, annKey},
		{"inactive user's own token", gone.ID, goneKey},
		{"revoked token", ann.ID, revoked},
		{"unknown token", ann.ID, "9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b"},
		{"a web session's cookie", ann.ID, web.Cookie},
	}
	for _, tc := range cases {
		_, err := f.svc.Login(ctx, tokenlogin.Input{UserID: tc.user, Token: tc.token, Client: client})
		if !errors.Is(err, login.ErrInvalidCredentials) || err.Error() != login.ErrInvalidCredentials.Error() {
			t.Errorf("%s: %v, want exactly invalid_credentials", tc.name, err)
		}
	}
	for _, u := range []identity.User{ann, bob, gone} {
		want := 0
		if u.ID == ann.ID {
			want = 1 // the one started above for its cookie
		}
		if n := f.webSessions(t, u.ID); n != want {
			t.Errorf("%s has %d web sessions, want %d", u.ID, n, want)
		}
	}
}

func TestMissingFields(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	_, err := f.svc.Login(ctx, tokenlogin.Input{UserID: " ", Client: client})
	e := errs.As(err)
	if e == nil || e.Kind != errs.Invalid || len(e.Fields) != 2 || e.Fields[0] != (errs.FieldError{Field: "user", Reason: "is required"}) ||
		e.Fields[1] != (errs.FieldError{Field: "token", Reason: "is required"}) {
		t.Fatalf("%v, want user and token required", err)
	}
}

// TestWrongTokensAreThrottledPerAddress: the budget counts every attempt
// from one address; once spent, even a right token is refused until the
// window passes, and another address has its own budget.
func TestWrongTokensAreThrottledPerAddress(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil) // 3 an hour
	ann := f.user(t, "ann")
	key := f.appToken(t, ann)
	for i := range 3 {
		if _, err := f.svc.Login(ctx, tokenlogin.Input{UserID: ann.ID, Token: "wrong", Client: client}); !errors.Is(err, login.ErrInvalidCredentials) {
			t.Fatalf("attempt %d: %v", i+1, err)
		}
	}
	_, err := f.svc.Login(ctx, tokenlogin.Input{UserID: ann.ID, Token: key, Client: client})
	if e := errs.As(err); !errors.Is(err, throttle.ErrThrottled) || e.RetryAfter < 1 {
		t.Fatalf("the right token over the budget: %v, want throttled with Retry-After", err)
	}
	other := session.Client{IP: netip.MustParseAddr("2001:db8::1")}
	if _, err := f.svc.Login(ctx, tokenlogin.Input{UserID: ann.ID, Token: key, Client: other}); err != nil {
		t.Fatalf("another address: %v", err)
	}
	f.clock.Advance(time.Hour)
	if _, err := f.svc.Login(ctx, tokenlogin.Input{UserID: ann.ID, Token: key, Client: client}); err != nil {
		t.Fatalf("after the window: %v", err)
	}
}

// enrol gives u a confirmed TOTP factor.
func (f *fixture) enrol(t *testing.T, u identity.User) {
	t.Helper()
	e, err := f.factors.Service.Start(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	code, err := totp.GenerateCode(e.Secret, f.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := f.factors.Service.Confirm(ctx, u, code); err != nil {
		t.Fatal(err)
	}
}

// TestAnAppSessionThatPassedTheSecondFactorIsNotAskedAgain: the browser
// session of an app token whose sign-in passed the second factor stands
// on that sign-in (its amr, "mfa" included); an app token of a sign-in by
// one factor still meets the challenge.
func TestAnAppSessionThatPassedTheSecondFactorIsNotAskedAgain(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	ann := f.user(t, "ann")
	f.enrol(t, ann)
	creds, err := f.issuer.Start(ctx, ann, identity.SessionApp, []string{"pwd", "otp", "mfa"}, client)
	if err != nil {
		t.Fatal(err)
	}
	out, err := f.svc.Login(ctx, tokenlogin.Input{UserID: ann.ID, Token: creds.AppToken, Client: client})
	if err != nil || out.Result != login.Signed || !slices.Equal(out.Credentials.Session.AMR, []string{"pwd", "otp", "mfa"}) {
		t.Fatalf("%+v, %v; want a web session with the app session's amr", out, err)
	}
	_, err = f.svc.Login(ctx, tokenlogin.Input{UserID: ann.ID, Token: f.appToken(t, ann), Client: client})
	if !errors.Is(err, login.ErrMFARequired) {
		t.Fatalf("a one-factor app token: %v, want mfa_required", err)
	}
	if n := f.webSessions(t, ann.ID); n != 1 {
		t.Fatalf("%d web sessions, want 1", n)
	}
}

// TestRefusalsAreAudited: each refusal before the pipeline is
// login.failed with its reason, never with the token in it.
func TestRefusalsAreAudited(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil) // 3 an hour
	ann, bob := f.user(t, "ann"), f.user(t, "bob")
	annKey := f.appToken(t, ann)
	for _, in := range []tokenlogin.Input{
		{UserID: ann.ID, Token: "not-a-token"},
		{UserID: bob.ID, Token: annKey},
		{UserID: ann.ID, Token: "not-a-token"},
		{UserID: ann.ID, Token: annKey}, // over the budget
	} {
		in.Client = client
		if _, err := f.svc.Login(ctx, in); err == nil {
			t.Fatalf("%+v signed in", in)
		}
	}
	var got []string
	for _, e := range f.audit.Of(audit.LoginFailed) {
		if e.Method != "token_login" || e.IP != client.IP {
			t.Errorf("event %+v; want method token_login from the client", e)
		}
		got = append(got, e.Reason+"/"+e.TargetID)
	}
	want := []string{"invalid_credentials/", "token_user_mismatch/" + ann.ID, "invalid_credentials/", "throttled/"}
	if !slices.Equal(got, want) {
		t.Fatalf("login.failed %v, want %v", got, want)
	}
	if held := f.audit.Holding(annKey, "not-a-token"); len(held) > 0 {
		t.Fatalf("events hold a token: %+v", held)
	}
}

func TestAUserWithASecondFactorGetsNoSession(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	ann := f.user(t, "ann")
	key := f.appToken(t, ann)
	f.enrol(t, ann)
	_, err := f.svc.Login(ctx, tokenlogin.Input{UserID: ann.ID, Token: key, Client: client})
	if _, ok := login.ChallengeOf(err); !errors.Is(err, login.ErrMFARequired) || !ok {
		t.Fatalf("%v, want mfa_required with a challenge", err)
	}
	if f.webSessions(t, ann.ID) != 0 {
		t.Fatal("a web session was started past the second factor")
	}
}

func TestTheMethodMustBeEnabled(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(tn *tenant.Tenant) { tn.LoginMethods = []tenant.LoginMethod{tenant.MethodPassword} })
	ann := f.user(t, "ann")
	if _, err := f.svc.Login(ctx, tokenlogin.Input{UserID: ann.ID, Token: f.appToken(t, ann), Client: client}); !errors.Is(err, login.ErrMethodDisabled) {
		t.Fatalf("%v, want method_disabled", err)
	}
}
