package password_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portcullis/portcullis/application/account/accounttest"
	"github.com/portcullis/portcullis/application/audit/audittest"
	"github.com/portcullis/portcullis/application/device"
	"github.com/portcullis/portcullis/application/device/devicetest"
	"github.com/portcullis/portcullis/application/login"
	"github.com/portcullis/portcullis/application/login/logintest"
	"github.com/portcullis/portcullis/application/password"
	"github.com/portcullis/portcullis/application/platform/platformtest"
	"github.com/portcullis/portcullis/application/session"
	"github.com/portcullis/portcullis/application/session/sessiontest"
	"github.com/portcullis/portcullis/application/throttle"
	"github.com/portcullis/portcullis/application/throttle/throttletest"
	"github.com/portcullis/portcullis/domain/errs"
	"github.com/portcullis/portcullis/domain/identity"
	"github.com/portcullis/portcullis/domain/link"
	"github.com/portcullis/portcullis/domain/message"
	"github.com/portcullis/portcullis/domain/tenant"
)

// --- fakes for the ports without an in-memory twin elsewhere ---

// hasher is a transparent fake that counts hashes and verifications.
type hasher struct {
	hashes   atomic.Int64
	verifies atomic.Int64
	busy     atomic.Bool
}

func params(p tenant.HashParams) string {
	return fmt.Sprintf("m=%d,t=%d,p=%d", p.MemoryKiB, p.Iterations, p.Parallelism)
}

func (h *hasher) Hash(_ context.Context, pw string, p tenant.HashParams) (string, error) {
	h.hashes.Add(1)
	return "fake$" + params(p) + "$" + pw, nil
}

func (h *hasher) Verify(_ context.Context, pw, encoded string, p tenant.HashParams) (bool, bool, error) {
	if h.busy.Load() {
		return false, false, password.ErrBusy.WithRetryAfter(1)
	}
	h.verifies.Add(1)
	parts := strings.SplitN(encoded, "$", 3)
	if len(parts) != 3 {
		return false, false, errors.New("malformed")
	}
	ok := parts[2] == pw
	return ok, ok && parts[1] != params(p), nil
}

// tokens is a fake issuer: "at.<sid>.<sub>.<exp unix>".
type tokens struct{ clock *platformtest.Clock }

func (k tokens) Issue(_ context.Context, c session.AccessClaims) (string, error) {
	return fmt.Sprintf("at.%s.%s.%d", c.SessionID, c.Subject, c.ExpiresAt.Unix()), nil
}

func (k tokens) Verify(_ context.Context, tok string) (session.AccessClaims, error) {
	var sid, sub string
	var exp int64
	parts := strings.Split(tok, ".")
	if len(parts) != 4 || parts[0] != "at" {
		return session.AccessClaims{}, session.ErrInvalidToken
	}
	sid, sub = parts[1], parts[2]
	fmt.Sscan(parts[3], &exp)
	if !k.clock.Now().Before(time.Unix(exp, 0)) {
		return session.AccessClaims{}, session.ErrInvalidToken
	}
	return session.AccessClaims{Subject: sub, SessionID: sid}, nil
}

type common map[string]bool

func (c common) Contains(pw string) bool { return c[pw] }

type mailbox struct {
	mu   sync.Mutex
	sent []message.Mail
}

// Send records the mail as a template would write it: the notice's subject.
func (m *mailbox) Send(_ context.Context, kind message.MailKind, to string, d message.MailData, _ time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	subject := string(kind)
	if kind == message.MailSignupNotice {
		subject = "Sign-up attempt: someone tried to create an account " + d.Reason
	}
	m.sent = append(m.sent, message.Mail{To: to, Subject: subject, Text: d.Reason})
	return nil
}

// verifier counts the verification links it is asked to mail.
type verifier struct{ sent atomic.Int64 }

func (v *verifier) Send(context.Context, identity.User, link.Paths) error {
	v.sent.Add(1)
	return nil
}

type fixture struct {
	svc         *password.Service
	sess        *session.Service
	sync        *session.Sync
	revocations *sessiontest.MemoryRevocations
	clock       *platformtest.Clock
	users       *accounttest.MemoryUsers
	hasher      *hasher
	mail        *mailbox
	verifier    *verifier
	limiter     *throttletest.MemoryLimiter
	t           tenant.Tenant
	// devices is the device service the password service uses.
	devices *device.Service
	// audit holds what the login and its pipeline recorded.
	audit *audittest.Recorder
}

func newFixture(t *testing.T, mutate ...func(*tenant.Tenant)) *fixture {
	t.Helper()
	tn := tenant.Default()
	tn.ID = "shop"
	for _, m := range mutate {
		m(&tn)
	}
	if err := tn.Validate(); err != nil {
		t.Fatal(err)
	}
	c := platformtest.NewClock(time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC))
	f := &fixture{clock: c, users: accounttest.NewMemoryUsers(), hasher: &hasher{}, mail: &mailbox{}, verifier: &verifier{},
		limiter: throttletest.NewMemoryLimiter(c), t: tn, audit: audittest.NewRecorder()}
	sessions, revocations := sessiontest.NewMemorySessions(), sessiontest.NewMemoryRevocations(c)
	f.sync = session.NewSync(sessions, revocations, c, time.Second)
	if err := f.sync.Pass(ctx); err != nil {
		t.Fatal(err)
	}
	f.revocations = revocations
	f.sess = session.New(tn, session.Deps{
		Users: f.users, Sessions: sessions, Refresh: sessiontest.NewMemoryRefreshTokens(),
		Revocations: revocations, Tokens: tokens{clock: c}, Sync: f.sync, Audit: f.audit, Clock: c, Random: rand.Reader,
	})
	key, err := device.DeriveKey([]byte("a master key of at least 16 bytes"), tn.ID)
	if err != nil {
		t.Fatal(err)
	}
	f.devices = device.New(tn, device.Deps{Key: key, Places: devicetest.NewMemoryPlaces(c), Clock: c, Random: rand.Reader})
	f.svc = password.New(tn, password.Deps{
		Users: f.users, Limiter: f.limiter, Hasher: f.hasher, Common: common{"password1": true},
		Mail: f.mail, Verifier: f.verifier,
		Login: logintest.New(t, tn, logintest.Options{Users: f.users, Issuer: session.NewIssuer(f.sess), Places: f.devices, Mail: f.mail, Clock: c,
			Audit: f.audit, Verifier: solvedOK{}}).Pipeline,
		Devices: f.devices, Audit: f.audit, Clock: c, Random: rand.Reader,
	})
	return f
}

var ctx = context.Background()

var alice = session.Client{IP: netip.MustParseAddr("198.51.100.7"), UserAgent: "test"}

func (f *fixture) register(t *testing.T, email, pw string) identity.User {
	t.Helper()
	r, err := f.svc.Register(ctx, password.RegisterInput{Profile: identity.Profile{Email: email, FirstName: "Ann", LastName: "Lee"}, Password: pw, Client: alice})
	if err != nil {
		t.Fatalf("register %s: %v", email, err)
	}
	return r.User
}

func (f *fixture) login(email, pw string, kind identity.SessionKind) (identity.User, session.Credentials, error) {
	out, err := f.svc.Login(ctx, password.LoginInput{Email: email, Password: pw, Kind: kind, Client: alice})
	return out.User, out.Credentials, err
}

func TestRegisterThenLoginWithEveryCredentialKind(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	u := f.register(t, "Ann@Example.com", "correct horse battery")
	if u.Role != identity.RoleUser || !u.Active || u.EmailVerified || u.EmailKey != "ann@example.com" || u.Email != "Ann@Example.com" {
		t.Fatalf("registered %+v", u)
	}
	for _, tc := range []struct {
		kind  identity.SessionKind
		cred  session.CredentialKind
		value func(session.Credentials) string
	}{
		{identity.SessionAPI, session.ByBearer, func(c session.Credentials) string { return c.AccessToken }},
		{identity.SessionApp, session.ByToken, func(c session.Credentials) string { return c.AppToken }},
		{identity.SessionWeb, session.ByCookie, func(c session.Credentials) string { return c.Cookie }},
	} {
		_, creds, err := f.login("ANN@example.COM", "correct horse battery", tc.kind)
		if err != nil {
			t.Fatalf("%s: %v", tc.kind, err)
		}
		if creds.Session.Kind != tc.kind || creds.Session.SecretHash == tc.value(creds) {
			t.Fatalf("%s: session %+v", tc.kind, creds.Session)
		}
		p, err := f.sess.Authenticate(ctx, tc.cred, tc.value(creds))
		if err != nil || p.User.ID != u.ID || p.Session.ID != creds.Session.ID {
			t.Fatalf("%s: authenticate %+v %v", tc.kind, p, err)
		}
		// The wrong scheme for the credential fails.
		other := session.ByToken
		if tc.cred == session.ByToken {
			other = session.ByCookie
		}
		if _, err := f.sess.Authenticate(ctx, other, tc.value(creds)); !errors.Is(err, session.ErrInvalidToken) {
			t.Fatalf("%s presented as %s: %v", tc.kind, other, err)
		}
	}
	_, creds, _ := f.login("ann@example.com", "correct horse battery", identity.SessionApp)
	if len(creds.AppToken) != 40 || strings.Trim(creds.AppToken, "0123456789abcdef") != "" {
		t.Fatalf("app token %q is not 40 hex characters", creds.AppToken)
	}
	_, web, _ := f.login("ann@example.com", "correct horse battery", identity.SessionWeb)
	if !session.CheckCSRF(web.Cookie, web.CSRFToken) || session.CheckCSRF(web.Cookie, "forged") || session.CheckCSRF(creds.AppToken, web.CSRFToken) {
		t.Fatal("CSRF token must be bound to its session cookie")
	}
}

func TestFailedLoginsLookAlikeAndHashAlike(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.register(t, "ann@example.com", "correct horse battery")
	before := f.hasher.verifies.Load()
	_, _, errUnknown := f.login("nobody@example.com", "correct horse battery", identity.SessionAPI)
	_, _, errWrong := f.login("ann@example.com", "wrong horse battery", identity.SessionAPI)
	_, _, errMalformed := f.login("not-an-address", "wrong horse battery", identity.SessionAPI)
	for _, err := range []error{errUnknown, errWrong, errMalformed} {
		if !errors.Is(err, login.ErrInvalidCredentials) || errs.As(err).Message != login.ErrInvalidCredentials.Message {
			t.Fatalf("got %v", err)
		}
	}
	if n := f.hasher.verifies.Load() - before; n != 3 {
		t.Fatalf("%d password verifications for 3 failed logins: unknown accounts must be verified against a dummy hash", n)
	}
}

func TestUnverifiedAndDisabledAccountsLookLikeWrongPasswords(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(t *tenant.Tenant) { t.RequireVerifiedEmail = true })
	f.register(t, "ann@example.com", "correct horse battery")
	if _, _, err := f.login("ann@example.com", "correct horse battery", identity.SessionAPI); !errors.Is(err, login.ErrInvalidCredentials) {
		t.Fatalf("unverified: %v", err)
	}
	g := newFixture(t)
	if err := g.users.Create(ctx, identity.User{ID: "u1", TenantID: "shop", Email: "off@example.com", EmailKey: "off@example.com",
		Role: identity.RoleUser, Active: false, PasswordHash: "fake$" + params(g.t.Password.Hash) + "$correct horse battery"}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := g.login("off@example.com", "correct horse battery", identity.SessionAPI); !errors.Is(err, login.ErrInvalidCredentials) {
		t.Fatalf("disabled: %v", err)
	}
}

func TestDisablingAUserRejectsItsLiveCredentials(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	u := f.register(t, "ann@example.com", "correct horse battery")
	_, api, _ := f.login("ann@example.com", "correct horse battery", identity.SessionAPI)
	_, app, _ := f.login("ann@example.com", "correct horse battery", identity.SessionApp)
	_, web, _ := f.login("ann@example.com", "correct horse battery", identity.SessionWeb)
	if err := f.users.SetActive(ctx, "shop", u.ID, false, f.clock.Now()); err != nil {
		t.Fatal(err)
	}
	for kind, value := range map[session.CredentialKind]string{session.ByBearer: api.AccessToken, session.ByToken: app.AppToken, session.ByCookie: web.Cookie} {
		if _, err := f.sess.Authenticate(ctx, kind, value); !errors.Is(err, session.ErrInvalidToken) {
			t.Errorf("%s of a disabled user: %v", kind, err)
		}
	}
	if _, _, err := f.sess.Refresh(ctx, api.RefreshToken); !errors.Is(err, session.ErrInvalidToken) {
		t.Errorf("refresh of a disabled user: %v", err)
	}
	if _, _, err := f.login("ann@example.com", "correct horse battery", identity.SessionAPI); !errors.Is(err, login.ErrInvalidCredentials) {
		t.Errorf("login of a disabled user: %v", err)
	}
}

func TestLastLoginIsRecordedToTheMinute(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	u := f.register(t, "ann@example.com", "correct horse battery")
	first := f.clock.Now()
	if _, _, err := f.login("ann@example.com", "correct horse battery", identity.SessionAPI); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(30 * time.Second)
	if _, _, err := f.login("ann@example.com", "correct horse battery", identity.SessionAPI); err != nil {
		t.Fatal(err)
	}
	if got, _ := f.users.ByID(ctx, "shop", u.ID); !got.LastLoginAt.Equal(first.Truncate(time.Millisecond)) {
		t.Fatalf("a login 30 s after the last one must not rewrite last_login_at: %s", got.LastLoginAt)
	}
	f.clock.Advance(31 * time.Second)
	if _, _, err := f.login("ann@example.com", "correct horse battery", identity.SessionAPI); err != nil {
		t.Fatal(err)
	}
	if got, _ := f.users.ByID(ctx, "shop", u.ID); !got.LastLoginAt.Equal(f.clock.Now().Truncate(time.Millisecond)) {
		t.Fatalf("a login a minute later must record it: %s", got.LastLoginAt)
	}
}

func TestRehashOnLoginWhenParametersChange(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	old := f.t.Password.Hash
	old.Iterations = 1
	if err := f.users.Create(ctx, identity.User{ID: "u1", TenantID: "shop", Email: "ann@example.com", EmailKey: "ann@example.com",
		Role: identity.RoleUser, Active: true, PasswordHash: "fake$" + params(old) + "$correct horse battery"}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.login("ann@example.com", "correct horse battery", identity.SessionAPI); err != nil {
		t.Fatal(err)
	}
	u, _ := f.users.ByID(ctx, "shop", "u1")
	if u.PasswordHash != "fake$"+params(f.t.Password.Hash)+"$correct horse battery" {
		t.Fatalf("not rehashed: %s", u.PasswordHash)
	}
}

func TestPasswordPolicy(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	reg := func(email, pw string) error {
		_, err := f.svc.Register(ctx, password.RegisterInput{Profile: identity.Profile{Email: email, FirstName: "Ann", LastName: "Lee"}, Password: pw, Client: alice})
		return err
	}
	for name, pw := range map[string]string{
		"too short": "short", "129 characters": strings.Repeat("a", 129), "common": "Password1", "same as e-mail": "ann@example.com",
		"huge": strings.Repeat("x", 100_000),
	} {
		err := reg("ann@example.com", pw)
		if errs.KindOf(err) != errs.Invalid || len(errs.As(err).Fields) == 0 || errs.As(err).Fields[0].Field != "password" {
			t.Errorf("%s: %v", name, err)
		}
	}
	if err := reg("b@example.com", strings.Repeat("日", 100)); err != nil {
		t.Fatalf("100 multi-byte characters are 100 code points: %v", err)
	}
	// NFD and NFC spellings of one password are the same password.
	if err := reg("c@example.com", "caf\u00e9 au lait!"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.login("c@example.com", "cafe\u0301 au lait!", identity.SessionAPI); err != nil {
		t.Fatalf("NFD spelling of the password: %v", err)
	}
}

func TestDuplicateRegistrationIsToldByMailAndCaseFolded(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.register(t, "Ann@Example.com", "correct horse battery")
	for _, email := range []string{"ann@example.com", "ＡＮＮ@example.com"} {
		_, err := f.svc.Register(ctx, password.RegisterInput{Profile: identity.Profile{Email: email, FirstName: "X", LastName: "Y"}, Password: "another good one", Client: alice})
		if !errors.Is(err, identity.ErrEmailTaken) {
			t.Fatalf("%s: %v", email, err)
		}
	}
	if len(f.mail.sent) != 2 || !strings.Contains(f.mail.sent[0].Subject, "Sign-up attempt") {
		t.Fatalf("owner not told: %+v", f.mail.sent)
	}
	for _, m := range f.mail.sent {
		if m.To != "Ann@Example.com" {
			t.Fatalf("the notice must go to the account's own address, not the one typed: %q", m.To)
		}
	}
	if _, _, err := f.login("ann@example.com", "another good one", identity.SessionAPI); !errors.Is(err, login.ErrInvalidCredentials) {
		t.Fatal("the duplicate's password must not work")
	}
}

func TestClosedRegistrationCreatesNothingAndSpendsNothing(t *testing.T) {
	t.Parallel()
	perIP := tenant.Limit{Count: 1, Window: time.Hour}
	f := newFixture(t, func(t *tenant.Tenant) {
		t.Registration.Enabled = false
		t.Throttling.RegisterPerIP = perIP
	})
	if err := f.users.Create(ctx, identity.User{ID: "u1", TenantID: "shop", Email: "ann@example.com", EmailKey: "ann@example.com",
		Role: identity.RoleUser, Active: true, PasswordHash: "fake$" + params(f.t.Password.Hash) + "$correct horse battery"}); err != nil {
		t.Fatal(err)
	}
	kind := identity.SessionAPI
	attempts := map[string]password.RegisterInput{
		"a new address":   {Profile: identity.Profile{Email: "new@example.com", FirstName: "N", LastName: "U"}, Password: "correct horse battery", SignIn: &kind},
		"a taken address": {Profile: identity.Profile{Email: "ann@example.com", FirstName: "X", LastName: "Y"}, Password: "another good one"},
		"invalid input":   {Profile: identity.Profile{Email: "not an address"}, Password: "x"},
	}
	for name, in := range attempts {
		for range 3 { // over the per-IP limit, were it counted
			in.Client = alice
			r, err := f.svc.Register(ctx, in)
			if !errors.Is(err, password.ErrRegistrationDisabled) || errs.KindOf(err) != errs.Forbidden {
				t.Fatalf("%s: %v, want registration_disabled (forbidden) whatever the input", name, err)
			}
			if r.User.ID != "" || r.Login != nil {
				t.Fatalf("%s: a refused registration answered %+v", name, r)
			}
		}
	}
	if _, err := f.users.ByEmail(ctx, "shop", "new@example.com"); !errors.Is(err, errs.ErrNotFound) {
		t.Fatalf("the new address has an account: %v", err)
	}
	if n := f.hasher.hashes.Load(); n != 0 {
		t.Errorf("%d passwords hashed, want none", n)
	}
	if n := f.verifier.sent.Load(); n != 0 || len(f.mail.sent) != 0 {
		t.Errorf("%d verification links and mail %+v sent, want none", n, f.mail.sent)
	}
	if ok, _, err := f.limiter.Hit(ctx, throttle.RegisterIP(alice.IP), perIP); err != nil || !ok {
		t.Errorf("the per-IP registration budget was spent: hit %v, %v", ok, err)
	}
	// Closing sign-up closes only sign-up.
	if _, _, err := f.login("ann@example.com", "correct horse battery", identity.SessionAPI); err != nil {
		t.Errorf("an existing account cannot sign in: %v", err)
	}
}

func TestConcurrentRegistrationsCreateOneAccount(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(t *tenant.Tenant) { t.Throttling.RegisterPerIP.Count = 100 })
	var created, taken atomic.Int64
	platformtest.Race(20, func(i int) {
		_, err := f.svc.Register(ctx, password.RegisterInput{Profile: identity.Profile{Email: "race@example.com", FirstName: "R", LastName: "C"}, Password: fmt.Sprintf("password number %d", i), Client: alice})
		switch {
		case err == nil:
			created.Add(1)
		case errors.Is(err, identity.ErrEmailTaken):
			taken.Add(1)
		default:
			t.Error(err)
		}
	})
	if created.Load() != 1 || taken.Load() != 19 {
		t.Fatalf("created %d, taken %d", created.Load(), taken.Load())
	}
}

func TestLoginThrottlingPerAccountAndReset(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(t *tenant.Tenant) { t.Throttling.LoginPerAccount = tenant.Limit{Count: 3, Window: time.Minute} })
	f.register(t, "ann@example.com", "correct horse battery")
	for range 3 {
		if _, _, err := f.login("ann@example.com", "wrong", identity.SessionAPI); !errors.Is(err, login.ErrInvalidCredentials) {
			t.Fatal(err)
		}
	}
	_, _, err := f.login("ann@example.com", "correct horse battery", identity.SessionAPI)
	if !errors.Is(err, throttle.ErrThrottled) || errs.As(err).RetryAfter < 1 {
		t.Fatalf("4th attempt: %v", err)
	}
	f.clock.Advance(time.Minute)
	if _, _, err := f.login("ann@example.com", "correct horse battery", identity.SessionAPI); err != nil {
		t.Fatalf("after the window: %v", err)
	}
}

func TestRefreshRotatesAndReuseRevokesTheFamily(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.register(t, "ann@example.com", "correct horse battery")
	_, first, err := f.login("ann@example.com", "correct horse battery", identity.SessionAPI)
	if err != nil {
		t.Fatal(err)
	}
	_, second, err := f.sess.Refresh(ctx, first.RefreshToken)
	if err != nil || second.RefreshToken == first.RefreshToken || second.Session.ID != first.Session.ID {
		t.Fatalf("rotate: %v", err)
	}
	if _, _, err := f.sess.Refresh(ctx, first.RefreshToken); !errors.Is(err, session.ErrRefreshReused) {
		t.Fatalf("reuse: %v", err)
	}
	if _, _, err := f.sess.Refresh(ctx, second.RefreshToken); !errors.Is(err, session.ErrInvalidToken) {
		t.Fatalf("the newest token of a revoked family: %v", err)
	}
	if _, err := f.sess.Authenticate(ctx, session.ByBearer, second.AccessToken); !errors.Is(err, session.ErrInvalidToken) {
		t.Fatalf("access token of a revoked family: %v", err)
	}
	if _, _, err := f.sess.Refresh(ctx, "never-issued"); !errors.Is(err, session.ErrInvalidToken) {
		t.Fatal(err)
	}
}

func TestLogoutRevokesAtOnce(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.register(t, "ann@example.com", "correct horse battery")
	_, api, _ := f.login("ann@example.com", "correct horse battery", identity.SessionAPI)
	_, app, _ := f.login("ann@example.com", "correct horse battery", identity.SessionApp)
	for kind, value := range map[session.CredentialKind]string{session.ByBearer: api.AccessToken, session.ByToken: app.AppToken} {
		if _, err := f.sess.Logout(ctx, kind, value); err != nil {
			t.Fatal(err)
		}
		if _, err := f.sess.Authenticate(ctx, kind, value); !errors.Is(err, session.ErrInvalidToken) {
			t.Fatalf("%s after logout: %v", kind, err)
		}
	}
	if _, _, err := f.sess.Refresh(ctx, api.RefreshToken); !errors.Is(err, session.ErrInvalidToken) {
		t.Fatalf("refresh after logout: %v", err)
	}
}

func TestSessionsIdleTimeoutSlidesAndOthersCanBeRevoked(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(t *tenant.Tenant) {
		t.Sessions = tenant.SessionPolicy{IdleTimeout: time.Hour, AbsoluteTimeout: 3 * time.Hour}
	})
	f.register(t, "ann@example.com", "correct horse battery")
	_, web, _ := f.login("ann@example.com", "correct horse battery", identity.SessionWeb)
	for range 4 { // 4 × 50 min > absolute timeout only at the end
		f.clock.Advance(50 * time.Minute)
		_, err := f.sess.Authenticate(ctx, session.ByCookie, web.Cookie)
		if f.clock.Now().Sub(web.Session.CreatedAt) < 3*time.Hour {
			if err != nil {
				t.Fatalf("used every 50 minutes, the session must stay alive: %v", err)
			}
		} else if !errors.Is(err, session.ErrInvalidToken) {
			t.Fatalf("past the absolute timeout: %v", err)
		}
	}
	_, idle, _ := f.login("ann@example.com", "correct horse battery", identity.SessionWeb)
	f.clock.Advance(61 * time.Minute)
	if _, err := f.sess.Authenticate(ctx, session.ByCookie, idle.Cookie); !errors.Is(err, session.ErrInvalidToken) {
		t.Fatalf("idle for longer than the timeout: %v", err)
	}

	_, a, _ := f.login("ann@example.com", "correct horse battery", identity.SessionApp)
	_, b, _ := f.login("ann@example.com", "correct horse battery", identity.SessionApp)
	pa, _ := f.sess.Authenticate(ctx, session.ByToken, a.AppToken)
	list, _ := f.sess.Sessions(ctx, pa)
	if len(list) != 2 {
		t.Fatalf("live sessions: %d", len(list))
	}
	if n, err := f.sess.RevokeOtherSessions(ctx, pa); err != nil || n != 1 {
		t.Fatalf("revoke others: %d %v", n, err)
	}
	if _, err := f.sess.Authenticate(ctx, session.ByToken, b.AppToken); !errors.Is(err, session.ErrInvalidToken) {
		t.Fatal("the other session must be revoked")
	}
	if _, err := f.sess.Authenticate(ctx, session.ByToken, a.AppToken); err != nil {
		t.Fatal("the current session must survive")
	}
	// Someone else's session cannot be revoked, nor found.
	f.register(t, "bob@example.com", "another good one")
	_, bob, _ := f.login("bob@example.com", "another good one", identity.SessionApp)
	if err := f.sess.RevokeSession(ctx, pa, bob.Session.ID); !errors.Is(err, session.ErrSessionNotFound) {
		t.Fatalf("revoking another user's session: %v", err)
	}

	// RevokeUser ends every session of the user, of every kind, and no one else's.
	_, api, _ := f.login("ann@example.com", "correct horse battery", identity.SessionAPI)
	_, web2, _ := f.login("ann@example.com", "correct horse battery", identity.SessionWeb)
	if n, err := f.sess.RevokeUser(ctx, pa.User.ID); err != nil || n != 3 {
		t.Fatalf("revoke user: %d %v, want 3 (app, api, web)", n, err)
	}
	for name, c := range map[string]struct {
		kind  session.CredentialKind
		value string
	}{"app": {session.ByToken, a.AppToken}, "bearer": {session.ByBearer, api.AccessToken}, "cookie": {session.ByCookie, web2.Cookie}} {
		if _, err := f.sess.Authenticate(ctx, c.kind, c.value); !errors.Is(err, session.ErrInvalidToken) {
			t.Errorf("%s after RevokeUser: %v, want ErrInvalidToken", name, err)
		}
	}
	if _, _, err := f.sess.Refresh(ctx, api.RefreshToken); !errors.Is(err, session.ErrInvalidToken) {
		t.Errorf("refresh after RevokeUser: %v", err)
	}
	if _, err := f.sess.Authenticate(ctx, session.ByToken, bob.AppToken); err != nil {
		t.Errorf("another user's session after RevokeUser: %v", err)
	}
}

func TestLoginThrottlingPerIPKeysIPv6ByPrefix64(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(t *tenant.Tenant) { t.Throttling.LoginPerIP = tenant.Limit{Count: 2, Window: time.Hour} })
	fail := func(ip string) error {
		_, err := f.svc.Login(ctx, password.LoginInput{Email: "nobody@example.com", Password: "wrong", Kind: identity.SessionAPI,
			Client: session.Client{IP: netip.MustParseAddr(ip)}})
		return err
	}
	// Two addresses of one /64 share a budget...
	for _, ip := range []string{"2001:db8:1:2::1", "2001:db8:1:2:ffff::9"} {
		if err := fail(ip); !errors.Is(err, login.ErrInvalidCredentials) {
			t.Fatal(err)
		}
	}
	if err := fail("2001:db8:1:2:abcd::1"); !errors.Is(err, throttle.ErrThrottled) {
		t.Fatalf("third failure from the same /64: %v", err)
	}
	// ...another /64 and an IPv4 client have their own.
	if err := fail("2001:db8:1:3::1"); !errors.Is(err, login.ErrInvalidCredentials) {
		t.Fatalf("another /64: %v", err)
	}
	if err := fail("203.0.113.5"); !errors.Is(err, login.ErrInvalidCredentials) {
		t.Fatalf("IPv4: %v", err)
	}
}

func TestConcurrentGuessesCannotOutrunTheAccountLimit(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(t *tenant.Tenant) { t.Throttling.LoginPerAccount = tenant.Limit{Count: 3, Window: time.Hour} })
	f.register(t, "ann@example.com", "correct horse battery")
	var checked, throttled atomic.Int64
	platformtest.Race(20, func(i int) {
		_, _, err := f.login("ann@example.com", fmt.Sprintf("guess %d", i), identity.SessionAPI)
		switch {
		case errors.Is(err, login.ErrInvalidCredentials):
			checked.Add(1)
		case errors.Is(err, throttle.ErrThrottled):
			throttled.Add(1)
		default:
			t.Error(err)
		}
	})
	if checked.Load() != 3 || throttled.Load() != 17 {
		t.Fatalf("%d guesses checked and %d throttled; want 3 and 17", checked.Load(), throttled.Load())
	}
}

func TestSuccessfulLoginsDoNotSpendTheIPBudget(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(t *tenant.Tenant) { t.Throttling.LoginPerIP = tenant.Limit{Count: 2, Window: time.Hour} })
	f.register(t, "ann@example.com", "correct horse battery")
	for i := range 5 {
		if _, _, err := f.login("ann@example.com", "correct horse battery", identity.SessionAPI); err != nil {
			t.Fatalf("login %d from one IP: %v", i+1, err)
		}
	}
}

// A registration that asks to be signed in goes through the login
// pipeline: where the tenant requires a verified address, the account is
// created and answered, but no session is started for it.
func TestRegisterSignsInOnlyThroughThePipeline(t *testing.T) {
	t.Parallel()
	kind := identity.SessionApp
	open := newFixture(t)
	r, err := open.svc.Register(ctx, password.RegisterInput{Profile: identity.Profile{Email: "new@example.com", FirstName: "N", LastName: "U"}, Password: "correct horse battery", Client: alice, SignIn: &kind})
	if err != nil || r.Login == nil || r.Login.Credentials.AppToken == "" {
		t.Fatalf("register with sign-in on an open tenant: %+v, %v", r, err)
	}
	if _, err := open.sess.Authenticate(ctx, session.ByToken, r.Login.Credentials.AppToken); err != nil {
		t.Fatalf("the new session does not authenticate: %v", err)
	}

	strict := newFixture(t, func(t *tenant.Tenant) { t.RequireVerifiedEmail = true })
	r, err = strict.svc.Register(ctx, password.RegisterInput{Profile: identity.Profile{Email: "new@example.com", FirstName: "N", LastName: "U"}, Password: "correct horse battery", Client: alice, SignIn: &kind})
	if err != nil {
		t.Fatalf("register on a tenant requiring verification: %v", err)
	}
	if r.Login != nil {
		t.Fatalf("an unverified account got a session: %+v", r.Login)
	}
	if _, err := strict.users.ByID(ctx, strict.t.ID, r.User.ID); err != nil || r.User.Email != "new@example.com" {
		t.Fatalf("the account must exist and be answered: %+v, %v", r.User, err)
	}
}

// A login the server could not judge (the hash pool full) spends neither
// budget: a burst of 503s must not lock the account.
func TestLoginsAnsweredBusyCostNoBudget(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(t *tenant.Tenant) { t.Throttling.LoginPerAccount = tenant.Limit{Count: 3, Window: time.Hour} })
	f.register(t, "ann@example.com", "correct horse battery")
	f.hasher.busy.Store(true)
	for i := range 10 {
		if _, _, err := f.login("ann@example.com", "correct horse battery", identity.SessionAPI); !errors.Is(err, password.ErrBusy) {
			t.Fatalf("login %d with the pool full: %v", i+1, err)
		}
	}
	f.hasher.busy.Store(false)
	if _, _, err := f.login("ann@example.com", "correct horse battery", identity.SessionAPI); err != nil {
		t.Fatalf("after 10 busy answers the account is locked: %v", err)
	}
}
