package login_test

import (
	"context"
	"crypto/rand"
	"errors"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portcullis/portcullis/application/account/accounttest"
	"github.com/portcullis/portcullis/application/audit/audittest"
	"github.com/portcullis/portcullis/application/captcha"
	"github.com/portcullis/portcullis/application/captcha/captchatest"
	"github.com/portcullis/portcullis/application/device"
	"github.com/portcullis/portcullis/application/device/devicetest"
	"github.com/portcullis/portcullis/application/login"
	"github.com/portcullis/portcullis/application/login/logintest"
	"github.com/portcullis/portcullis/application/mfa"
	"github.com/portcullis/portcullis/application/mfa/mfatest"
	"github.com/portcullis/portcullis/application/platform/platformtest"
	"github.com/portcullis/portcullis/application/session"
	"github.com/portcullis/portcullis/application/session/sessiontest"
	"github.com/portcullis/portcullis/domain/errs"
	"github.com/portcullis/portcullis/domain/identity"
	"github.com/portcullis/portcullis/domain/message"
	"github.com/portcullis/portcullis/domain/tenant"
	"github.com/pquerna/otp/totp"
)

var ctx = context.Background()

const firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"

type tokens struct{}

func (tokens) Issue(_ context.Context, c session.AccessClaims) (string, error) {
	return "at." + c.SessionID, nil
}

func (tokens) Verify(context.Context, string) (session.AccessClaims, error) {
	return session.AccessClaims{}, session.ErrInvalidToken
}

// mailbox records what the pipeline mails.
type mailbox struct {
	mu   sync.Mutex
	sent []sent
}

type sent struct {
	kind message.MailKind
	to   string
	d    message.MailData
}

func (m *mailbox) Send(_ context.Context, kind message.MailKind, to string, d message.MailData, _ time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sent = append(m.sent, sent{kind, to, d})
	return nil
}

func (m *mailbox) take() []sent {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.sent
	m.sent = nil
	return s
}

type fixture struct {
	pipe   *login.Pipeline
	places *device.Service
	// factors is the tenant's second factor.
	factors mfatest.Fixture
	mail    *mailbox
	clock   *platformtest.Clock
	user    identity.User
	users   *accounttest.MemoryUsers
	// audit holds what the pipeline recorded.
	audit *audittest.Recorder
	// provider is the tenant's CAPTCHA provider; failures the counts of
	// failed logins.
	provider *provider
	failures *captchatest.MemoryFailures
	// firstSignIns remembers who signed in.
	firstSignIns *logintest.MemoryFirstSignIns
	// shop is the tenant's cart and wishlist (storefront_test.go).
	shop *shopFixture
}

func newFixture(t *testing.T, notice bool, mutate ...func(*tenant.Tenant)) *fixture {
	t.Helper()
	tn := tenant.Default()
	tn.ID, tn.DisplayName = "shop", "Shop"
	tn.Email.NewSigninNotice = notice
	tn.LoginMethods = []tenant.LoginMethod{tenant.MethodPassword, tenant.MethodTOTP}
	for _, m := range mutate {
		m(&tn)
	}
	if err := tn.Validate(); err != nil {
		t.Fatal(err)
	}
	c := platformtest.NewClock(time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC))
	users := accounttest.NewMemoryUsers()
	u := identity.User{ID: "u1", TenantID: tn.ID, Email: "Ann@Example.com", EmailKey: "ann@example.com", FirstName: "Ann",
		Active: true, Role: identity.RoleUser, CreatedAt: c.Now()}
	if err := users.Create(ctx, u); err != nil {
		t.Fatal(err)
	}
	sessions, revs := sessiontest.NewMemorySessions(), sessiontest.NewMemoryRevocations(c)
	sess := session.New(tn, session.Deps{Users: users, Sessions: sessions, Refresh: sessiontest.NewMemoryRefreshTokens(),
		Revocations: revs, Tokens: tokens{}, Sync: session.NewSync(sessions, revs, c, time.Second), Audit: audittest.NewRecorder(), Clock: c,
		Random: rand.Reader})
	f := &fixture{mail: &mailbox{}, clock: c, user: u, users: users, places: devicetest.NewService(t, tn, c)}
	f.provider, f.shop = &provider{}, newShopFixture(t, tn)
	lp := logintest.New(t, tn, logintest.Options{Users: users, Issuer: session.NewIssuer(sess), Places: f.places, Mail: f.mail, Clock: c,
		Verifier: f.provider, Storefront: f.shop.svc, Log: f.shop.log})
	f.pipe, f.factors, f.audit, f.failures, f.firstSignIns = lp.Pipeline, lp.Factors, lp.Audit, lp.Failures, lp.FirstSignIns
	return f
}

// complete hands g to the pipeline as a method does: through the gate of
// the login route first (the grant's client, no CAPTCHA response, the
// user's e-mail key).
func (f *fixture) complete(g login.Grant) (login.Outcome, error) {
	pass, err := f.pipe.Gate(ctx, captcha.RouteLogin, "", g.Client, g.User.EmailKey)
	if err != nil {
		return login.Outcome{}, err
	}
	g.Pass = pass
	return f.pipe.Complete(ctx, g)
}

func (f *fixture) signIn(t *testing.T, ip string, knownDevice bool) {
	t.Helper()
	out, err := f.complete(login.Grant{User: f.user, Method: tenant.MethodPassword, AMR: []string{"pwd"}, Kind: identity.SessionAPI,
		Client: session.Client{IP: netip.MustParseAddr(ip), UserAgent: firefox}, KnownDevice: knownDevice})
	if err != nil || out.Result != login.Signed {
		t.Fatalf("sign-in from %s: %v, %v", ip, out.Result, err)
	}
}

func TestASignInFromANewPlaceMailsTheOwnerOnce(t *testing.T) {
	t.Parallel()
	f := newFixture(t, true)
	f.signIn(t, "203.0.113.7", false)
	got := f.mail.take()
	if len(got) != 1 {
		t.Fatalf("%d mails after a first sign-in, want the notice", len(got))
	}
	n := got[0]
	if n.kind != message.MailNewSignIn || n.to != "Ann@Example.com" || n.d.Name != "Ann" || n.d.IP != "203.0.113.7" ||
		n.d.Device != "Firefox on Linux" || !n.d.When.Equal(f.clock.Now()) {
		t.Fatalf("notice %+v", n)
	}
	// The same address again, and another of its /64 for IPv6: nothing new.
	f.signIn(t, "203.0.113.7", false)
	f.signIn(t, "2001:db8:1:2::1", false)
	f.mail.take()
	f.signIn(t, "2001:db8:1:2::99", false)
	if got := f.mail.take(); len(got) != 0 {
		t.Fatalf("%d mails for a sign-in from a known place", len(got))
	}
	// Another address is new; past the memory of the places, so is the first.
	f.signIn(t, "198.51.100.9", false)
	f.clock.Advance(device.AddressTTL + time.Second)
	f.signIn(t, "203.0.113.7", false)
	if got := f.mail.take(); len(got) != 2 {
		t.Fatalf("%d mails for a new address and a forgotten one, want 2", len(got))
	}
}

func TestAKnownDeviceSignsInWithoutANoticeAndMakesItsAddressKnown(t *testing.T) {
	t.Parallel()
	f := newFixture(t, true)
	f.signIn(t, "203.0.113.7", true)
	f.signIn(t, "203.0.113.7", false) // the address is known by now
	if got := f.mail.take(); len(got) != 0 {
		t.Fatalf("%d mails, want none", len(got))
	}
}

func TestWithoutTheNoticeNothingIsMailedButPlacesAreRemembered(t *testing.T) {
	t.Parallel()
	f := newFixture(t, false)
	f.signIn(t, "203.0.113.7", false)
	if got := f.mail.take(); len(got) != 0 {
		t.Fatalf("%d mails from a tenant without the notice", len(got))
	}
	if !f.places.Seen(ctx, f.user.EmailKey, netip.MustParseAddr("203.0.113.7")) {
		t.Fatal("the sign-in's address was not remembered")
	}
}

func TestTheNoticeNamesTheDeviceAsPeopleReadIt(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ ua, want string }{
		{firefox, "Firefox on Linux"},
		{"Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1", "Safari on iOS"},
		{"", ""},
	} {
		f := newFixture(t, true)
		if _, err := f.complete(login.Grant{User: f.user, Method: tenant.MethodPassword, Kind: identity.SessionAPI,
			Client: session.Client{IP: netip.MustParseAddr("203.0.113.7"), UserAgent: tc.ua}}); err != nil {
			t.Fatal(err)
		}
		if got := f.mail.take(); len(got) != 1 || got[0].d.Device != tc.want {
			t.Errorf("user agent %q: notice %+v, want device %q", tc.ua, got, tc.want)
		}
	}
}

// enrolled turns the second factor on for the fixture's user and returns
// its enrolment; the clock is then past the confirming code's steps.
func (f *fixture) enrolled(t *testing.T) mfa.Enrolment {
	t.Helper()
	e, err := f.factors.Service.Start(ctx, f.user)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.factors.Service.Confirm(ctx, f.user, f.totp(t, e.Secret)); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(90 * time.Second)
	return e
}

func (f *fixture) totp(t *testing.T, secret string) string {
	t.Helper()
	c, err := totp.GenerateCode(secret, f.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// firstFactor completes a password first factor for the user and returns
// the challenge it ends in.
func (f *fixture) firstFactor(t *testing.T) login.Challenge {
	t.Helper()
	out, err := f.complete(login.Grant{User: f.user, Method: tenant.MethodPassword, AMR: []string{"pwd"}, Kind: identity.SessionAPI,
		Client: session.Client{IP: netip.MustParseAddr("203.0.113.7")}})
	ch, ok := login.ChallengeOf(err)
	if !errors.Is(err, login.ErrMFARequired) || !ok || out.Credentials.AccessToken != "" {
		t.Fatalf("first factor: %+v, %v; want mfa_required with a challenge", out, err)
	}
	return ch
}

func (f *fixture) second(token, code string) (login.Outcome, error) {
	return f.pipe.CompleteSecondFactor(ctx, login.SecondStep{Token: token, Code: code, Client: session.Client{IP: netip.MustParseAddr("203.0.113.7")}})
}

func TestAFirstFactorOfAUserWithASecondEndsInAChallenge(t *testing.T) {
	t.Parallel()
	f := newFixture(t, false)
	e := f.enrolled(t)
	ch := f.firstFactor(t)
	if ch.Token == "" || !ch.ExpiresAt.Equal(f.clock.Now().Add(login.ChallengeTTL)) || !slices.Equal(ch.Methods, []string{"totp", "backup_code"}) {
		t.Fatalf("challenge %+v", ch)
	}
	if _, err := f.second(ch.Token, "000000"); !errors.Is(err, mfa.ErrInvalidCode) {
		t.Fatalf("a wrong code: %v", err)
	}
	done, err := f.second(ch.Token, f.totp(t, e.Secret))
	if err != nil || done.Result != login.Signed || done.Credentials.AccessToken == "" || !slices.Equal(done.Credentials.Session.AMR, []string{"pwd", "otp", "mfa"}) {
		t.Fatalf("second step: %+v, %v", done, err)
	}
	f.clock.Advance(30 * time.Second)
	if _, err := f.second(ch.Token, f.totp(t, e.Secret)); !errors.Is(err, login.ErrMFATokenInvalid) {
		t.Fatalf("the challenge again: %v, want mfa_token_invalid", err)
	}
}

func TestACodeSentWithTheFirstFactorIsCheckedAtOnce(t *testing.T) {
	t.Parallel()
	f := newFixture(t, false)
	e := f.enrolled(t)
	if _, err := f.complete(login.Grant{User: f.user, Method: tenant.MethodPassword, AMR: []string{"pwd"}, Kind: identity.SessionAPI,
		SecondFactor: "000000"}); !errors.Is(err, mfa.ErrInvalidCode) {
		t.Fatalf("a wrong code with the first factor: %v", err)
	}
	out, err := f.complete(login.Grant{User: f.user, Method: tenant.MethodPassword, AMR: []string{"pwd"}, Kind: identity.SessionAPI,
		SecondFactor: e.BackupCodes[0]})
	if err != nil || out.Result != login.Signed || !slices.Equal(out.Credentials.Session.AMR, []string{"pwd", "otp", "mfa"}) {
		t.Fatalf("outcome %+v, %v", out, err)
	}
}

func TestAChallengeDiesAfterTooManyWrongCodes(t *testing.T) {
	t.Parallel()
	f := newFixture(t, false)
	e := f.enrolled(t)
	token := f.firstFactor(t).Token
	for i := range tenant.DefaultMFAMaxAttempts {
		if _, err := f.second(token, "00000"+string(rune('0'+i))); !errors.Is(err, mfa.ErrInvalidCode) {
			t.Fatalf("wrong code %d: %v", i+1, err)
		}
	}
	if _, err := f.second(token, f.totp(t, e.Secret)); !errors.Is(err, login.ErrMFAAttemptsExceeded) {
		t.Fatalf("the right code after %d wrong ones: %v, want mfa_attempts_exceeded", tenant.DefaultMFAMaxAttempts, err)
	}
	if _, err := f.second(token, f.totp(t, e.Secret)); !errors.Is(err, login.ErrMFATokenInvalid) {
		t.Fatalf("the dead challenge: %v, want mfa_token_invalid", err)
	}
}

func TestAChallengeExpiresAfterFiveMinutes(t *testing.T) {
	t.Parallel()
	f := newFixture(t, false)
	e := f.enrolled(t)
	token := f.firstFactor(t).Token
	f.clock.Advance(login.ChallengeTTL + time.Second)
	if _, err := f.second(token, f.totp(t, e.Secret)); !errors.Is(err, login.ErrMFATokenInvalid) {
		t.Fatalf("an expired challenge: %v, want mfa_token_invalid", err)
	}
}

func TestParallelRightAnswersToOneChallengeSignInOnce(t *testing.T) {
	t.Parallel()
	f := newFixture(t, false)
	e := f.enrolled(t)
	token := f.firstFactor(t).Token
	var signed atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	for _, code := range e.BackupCodes[:5] { // five right answers, each a different code
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			if out, err := f.second(token, code); err == nil && out.Result == login.Signed {
				signed.Add(1)
			}
		}()
	}
	close(start)
	wg.Wait()
	if signed.Load() != 1 {
		t.Fatalf("%d sessions from one challenge, want 1", signed.Load())
	}
}

func TestAnAMROfAOneTimeSecretGetsMFA(t *testing.T) {
	t.Parallel()
	f := newFixture(t, false)
	e := f.enrolled(t)
	_, err := f.complete(login.Grant{User: f.user, Method: tenant.MethodPassword, AMR: []string{"otp"}, Kind: identity.SessionAPI})
	ch, ok := login.ChallengeOf(err)
	if !ok {
		t.Fatalf("%v, want mfa_required", err)
	}
	done, err := f.second(ch.Token, f.totp(t, e.Secret))
	if err != nil || !slices.Equal(done.Credentials.Session.AMR, []string{"otp", "mfa"}) {
		t.Fatalf("%+v, %v", done.Credentials.Session.AMR, err)
	}
}

func TestARoleThatMustHaveASecondFactorEnrolsBeforeSigningIn(t *testing.T) {
	t.Parallel()
	f := newFixture(t, false, func(tn *tenant.Tenant) { tn.MFA.RequiredRoles = []string{"user"} })
	_, err := f.complete(login.Grant{User: f.user, Method: tenant.MethodPassword, AMR: []string{"pwd"}, Kind: identity.SessionAPI})
	e := errs.As(err)
	token, _ := e.Extensions["enrolment_token"].(string)
	if !errors.Is(err, login.ErrMFAEnrolmentRequired) || token == "" {
		t.Fatalf("%v, want mfa_enrolment_required with a token", err)
	}
	// The token is no challenge, and no session.
	if _, err := f.second(token, "123456"); !errors.Is(err, login.ErrMFATokenInvalid) {
		t.Fatalf("the enrolment token as a challenge: %v", err)
	}
	u, err := f.pipe.EnrolmentUser(ctx, token)
	if err != nil || u.ID != f.user.ID {
		t.Fatalf("enrolment user %+v, %v", u, err)
	}
	en, err := f.factors.Service.Start(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	step := login.SecondStep{Token: token, Code: "000000"}
	if _, err := f.pipe.CompleteEnrolment(ctx, step); !errors.Is(err, mfa.ErrInvalidCode) {
		t.Fatalf("a wrong code: %v", err)
	}
	step.Code = f.totp(t, en.Secret)
	out, err := f.pipe.CompleteEnrolment(ctx, step)
	if err != nil || out.Result != login.Signed || !slices.Equal(out.Credentials.Session.AMR, []string{"pwd", "otp", "mfa"}) {
		t.Fatalf("completed enrolment: %+v, %v", out, err)
	}
	if _, err := f.pipe.EnrolmentUser(ctx, token); !errors.Is(err, login.ErrMFATokenInvalid) {
		t.Fatalf("the used enrolment token: %v", err)
	}
	// From now on the sign-in asks for the factor.
	f.firstFactor(t)
}

// TestAGrantSpendsItsProofOnlyWhenItSignsIn: Spend is called once every
// check passed, the second factor's included; a missing or wrong code
// leaves the proof unspent (and issues no challenge), and a Spend that
// fails ends the sign-in.
func TestAGrantSpendsItsProofOnlyWhenItSignsIn(t *testing.T) {
	t.Parallel()
	f := newFixture(t, false)
	var spent atomic.Int64
	var refuse error
	grant := func(code string) login.Grant {
		return login.Grant{User: f.user, Method: tenant.MethodPassword, AMR: []string{"pwd"}, Kind: identity.SessionAPI, SecondFactor: code,
			Spend: func(context.Context) error {
				spent.Add(1)
				return refuse
			}}
	}
	// Without a second factor: spent, signed in.
	if out, err := f.complete(grant("")); err != nil || out.Result != login.Signed || spent.Load() != 1 {
		t.Fatalf("no second factor: %+v, %v, spent %d times", out, err, spent.Load())
	}
	e := f.enrolled(t)
	_, err := f.complete(grant(""))
	if _, ok := login.ChallengeOf(err); !errors.Is(err, login.ErrMFARequired) || ok {
		t.Fatalf("no code: %v, want mfa_required without a challenge", err)
	}
	if _, err := f.complete(grant("000000")); !errors.Is(err, mfa.ErrInvalidCode) {
		t.Fatalf("a wrong code: %v", err)
	}
	if spent.Load() != 1 {
		t.Fatalf("spent %d times by sign-ins refused for their second factor", spent.Load()-1)
	}
	refuse = errors.New("used meanwhile")
	if out, err := f.complete(grant(e.BackupCodes[0])); !errors.Is(err, refuse) || out.Credentials.AccessToken != "" {
		t.Fatalf("a proof that cannot be spent: %+v, %v", out, err)
	}
	refuse = nil
	out, err := f.complete(grant(f.totp(t, e.Secret)))
	if err != nil || out.Result != login.Signed || spent.Load() != 3 || !slices.Equal(out.Credentials.Session.AMR, []string{"pwd", "otp", "mfa"}) {
		t.Fatalf("a right code: %+v, %v, spent %d times", out, err, spent.Load())
	}
}
