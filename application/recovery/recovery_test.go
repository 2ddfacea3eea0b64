package recovery_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portcullis/portcullis/application/account/accounttest"
	"github.com/portcullis/portcullis/application/audit/audittest"
	"github.com/portcullis/portcullis/application/courier"
	"github.com/portcullis/portcullis/application/otp"
	"github.com/portcullis/portcullis/application/otp/otptest"
	"github.com/portcullis/portcullis/application/platform/platformtest"
	"github.com/portcullis/portcullis/application/recovery"
	"github.com/portcullis/portcullis/application/session"
	"github.com/portcullis/portcullis/application/session/sessiontest"
	"github.com/portcullis/portcullis/application/throttle"
	"github.com/portcullis/portcullis/application/throttle/throttletest"
	"github.com/portcullis/portcullis/domain/errs"
	"github.com/portcullis/portcullis/domain/identity"
	"github.com/portcullis/portcullis/domain/link"
	"github.com/portcullis/portcullis/domain/message"
	domain "github.com/portcullis/portcullis/domain/otp"
	"github.com/portcullis/portcullis/domain/tenant"
)

var ctx = context.Background()

var alice = session.Client{IP: netip.MustParseAddr("198.51.100.7"), UserAgent: "test"}

const base = "https://shop.example"

// users adds SetEmailVerified to the in-memory store: the account port
// gains it on another branch. A verified key is kept beside the store and
// shown on reads while it is still the user's key.
type users struct {
	mem      *accounttest.MemoryUsers
	mu       sync.Mutex
	verified map[string]string // tenant/id → the e-mail key verified
	// gate, when set, holds every lookup by address until it is closed;
	// lookups counts those that got through.
	gate    chan struct{}
	lookups atomic.Int64
	// fail, when set, is what every lookup by address answers.
	fail error
}

var _ recovery.Users = (*users)(nil)

func (u *users) show(v identity.User, err error) (identity.User, error) {
	if err != nil {
		return v, err
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if key, ok := u.verified[v.TenantID+"/"+v.ID]; ok && key == v.EmailKey {
		v.EmailVerified = true
	}
	return v, nil
}

func (u *users) ByEmail(ctx context.Context, tenantID, emailKey string) (identity.User, error) {
	if u.gate != nil {
		<-u.gate
	}
	u.lookups.Add(1)
	if u.fail != nil {
		return identity.User{}, u.fail
	}
	return u.show(u.mem.ByEmail(ctx, tenantID, emailKey))
}

func (u *users) ByID(ctx context.Context, tenantID, id string) (identity.User, error) {
	return u.show(u.mem.ByID(ctx, tenantID, id))
}

func (u *users) SetPasswordHash(ctx context.Context, tenantID, id, hash string, at time.Time) error {
	return u.mem.SetPasswordHash(ctx, tenantID, id, hash, at)
}

func (u *users) SetEmailVerified(ctx context.Context, tenantID, id, emailKey string, _ time.Time) error {
	v, err := u.mem.ByID(ctx, tenantID, id)
	if err != nil || v.EmailKey != emailKey {
		return errs.ErrNotFound
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	u.verified[tenantID+"/"+id] = emailKey
	return nil
}

// store counts the engine's issues.
type store struct {
	*otptest.MemoryStore
	issues atomic.Int64
}

func (s *store) Issue(ctx context.Context, tenantID string, c otp.Challenge, cooldown time.Duration, dayKey string, dailyCap int) (time.Duration, bool, error) {
	s.issues.Add(1)
	return s.MemoryStore.Issue(ctx, tenantID, c, cooldown, dayKey, dailyCap)
}

// limiter counts hits.
type limiter struct {
	*throttletest.MemoryLimiter
	hits atomic.Int64
}

func (l *limiter) Hit(ctx context.Context, key string, lim tenant.Limit) (bool, time.Duration, error) {
	l.hits.Add(1)
	return l.MemoryLimiter.Hit(ctx, key, lim)
}

// composer writes the link into the text, as a template would, and counts
// what it composed.
type composer struct{ calls atomic.Int64 }

func (c *composer) Compose(kind message.MailKind, to string, d message.MailData) (message.Mail, error) {
	c.calls.Add(1)
	return message.Mail{To: to, Subject: string(kind), Text: fmt.Sprintf("%s|%s|%s|%s|%s", kind, d.Name, d.Link, d.Expires, d.IP)}, nil
}

// mailer records what reaches it, with its deadline.
type mailer struct {
	mu        sync.Mutex
	sent      []message.Mail
	deadlines []time.Time
}

func (m *mailer) SendMail(ctx context.Context, mail message.Mail) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, _ := ctx.Deadline()
	m.sent, m.deadlines = append(m.sent, mail), append(m.deadlines, d)
	return nil
}

type hasher struct{}

func (hasher) Hash(_ context.Context, pw string, _ tenant.HashParams) (string, error) {
	return "fake$" + pw, nil
}

type common map[string]bool

func (c common) Contains(pw string) bool { return c[pw] }

// tokens is a fake access-token issuer: "at.<sid>.<sub>".
type tokens struct{}

func (tokens) Issue(_ context.Context, c session.AccessClaims) (string, error) {
	return "at." + c.SessionID + "." + c.Subject, nil
}

func (tokens) Verify(_ context.Context, tok string) (session.AccessClaims, error) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 || parts[0] != "at" {
		return session.AccessClaims{}, session.ErrInvalidToken
	}
	return session.AccessClaims{SessionID: parts[1], Subject: parts[2]}, nil
}

type fixture struct {
	svc     *recovery.Service
	sess    *session.Service
	issuer  *session.Issuer
	codes   *otp.Engine
	users   *users
	store   *store
	limiter *limiter
	comp    *composer
	box     *mailer
	courier *courier.Courier
	clock   *platformtest.Clock
	t       tenant.Tenant
	// audit holds what the reset and its session service recorded.
	audit *audittest.Recorder
}

type setup struct {
	tenantID string
	policy   recovery.Policy
	store    *store
	users    *users
	clock    *platformtest.Clock
}

func newFixture(t *testing.T, mutate ...func(*setup)) *fixture {
	t.Helper()
	c := platformtest.NewClock(time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC))
	s := setup{tenantID: "shop", policy: recovery.Policy{BaseURL: base}, clock: c,
		store: &store{MemoryStore: otptest.NewMemoryStore(c)},
		users: &users{mem: accounttest.NewMemoryUsers(), verified: map[string]string{}}}
	for _, m := range mutate {
		m(&s)
	}
	tn := tenant.Default()
	tn.ID = s.tenantID
	if err := tn.Validate(); err != nil {
		t.Fatal(err)
	}
	f := &fixture{users: s.users, store: s.store, clock: s.clock, t: tn, comp: &composer{}, box: &mailer{},
		limiter: &limiter{MemoryLimiter: throttletest.NewMemoryLimiter(s.clock)}, audit: audittest.NewRecorder()}
	sessions, revs := sessiontest.NewMemorySessions(), sessiontest.NewMemoryRevocations(s.clock)
	sync := session.NewSync(sessions, revs, s.clock, time.Second)
	if err := sync.Pass(ctx); err != nil {
		t.Fatal(err)
	}
	f.sess = session.New(tn, session.Deps{Users: s.users.mem, Sessions: sessions, Refresh: sessiontest.NewMemoryRefreshTokens(),
		Revocations: revs, Tokens: tokens{}, Sync: sync, Audit: f.audit, Clock: s.clock, Random: rand.Reader})
	f.issuer = session.NewIssuer(f.sess)
	key, err := otp.DeriveKey([]byte("a master key of at least sixteen bytes"), tn.ID)
	if err != nil {
		t.Fatal(err)
	}
	f.codes = otp.New(tn.ID, key, s.store, s.clock, rand.Reader)
	f.courier = courier.New(tn.ID, f.comp, f.box, nil)
	f.svc = recovery.New(tn, s.policy, recovery.Deps{
		Users: s.users, Codes: f.codes, Limiter: f.limiter, Hasher: hasher{}, Common: common{"password1": true},
		Mail: f.courier, Sessions: f.sess, Audit: f.audit, Clock: s.clock,
	})
	return f
}

func (f *fixture) addUser(t *testing.T, id, email string, mutate ...func(*identity.User)) identity.User {
	t.Helper()
	email, key, err := identity.NormalizeEmail(email)
	if err != nil {
		t.Fatal(err)
	}
	u := identity.User{ID: id, TenantID: f.t.ID, Email: email, EmailKey: key, FirstName: "Ann", LastName: "Lee",
		Role: identity.RoleUser, Active: true, PasswordHash: "fake$old password", CreatedAt: f.clock.Now()}
	for _, m := range mutate {
		m(&u)
	}
	if err := f.users.mem.Create(ctx, u); err != nil {
		t.Fatal(err)
	}
	return u
}

// mails waits for the courier and returns what was delivered.
func (f *fixture) mails(t *testing.T) []message.Mail {
	t.Helper()
	if err := f.courier.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	f.box.mu.Lock()
	defer f.box.mu.Unlock()
	return append([]message.Mail(nil), f.box.sent...)
}

// forgot asks for a link for email and returns the token of the last mail.
func (f *fixture) forgot(t *testing.T, email string) string {
	t.Helper()
	if err := f.svc.Forgot(ctx, recovery.ForgotInput{Email: email, Client: alice, Paths: link.Seed001}); err != nil {
		t.Fatalf("forgot %s: %v", email, err)
	}
	m := f.mails(t)
	if len(m) == 0 {
		t.Fatalf("no mail for %s", email)
	}
	return tokenOf(t, m[len(m)-1])
}

func tokenOf(t *testing.T, m message.Mail) string {
	t.Helper()
	parts := strings.Split(m.Text, "|")
	u, err := url.Parse(parts[2])
	if err != nil || u.Query().Get("token") == "" {
		t.Fatalf("no link in %q", m.Text)
	}
	return u.Query().Get("token")
}

func invalidToken(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, recovery.ErrInvalidToken) {
		t.Fatalf("%s: %v, want invalid_token", what, err)
	}
	if e := errs.As(err); e.Kind != errs.Invalid || e.Code != "invalid_token" || e.Message != "Token is invalid or expired." {
		t.Fatalf("%s: %v %q %q", what, e.Kind, e.Code, e.Message)
	}
}

func TestForgotMailsALinkUnderTheBaseURLToTheAccountsAddress(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.addUser(t, "u1", "Ann@Example.com")
	now := f.clock.Now()
	if err := f.svc.Forgot(ctx, recovery.ForgotInput{Email: " ANN@example.COM ", Client: alice, Paths: link.Seed001}); err != nil {
		t.Fatal(err)
	}
	m := f.mails(t)
	if len(m) != 1 || m[0].To != "Ann@Example.com" || m[0].Subject != string(message.MailPasswordReset) {
		t.Fatalf("mails %+v", m)
	}
	parts := strings.Split(m[0].Text, "|")
	if parts[1] != "Ann" || parts[3] != "30m0s" {
		t.Fatalf("mail data %q", m[0].Text)
	}
	tok := tokenOf(t, m[0])
	if want := link.Build(base, link.Seed001.ResetPassword, tok); parts[2] != want || !domain.EmailLink(domain.PurposePasswordReset, time.Hour, 1).WellFormed(tok) {
		t.Fatalf("link %q, want %q", parts[2], want)
	}
	if d := f.box.deadlines[0]; !d.Equal(now.Add(link.DefaultLinkTTL)) {
		t.Fatalf("delivery deadline %v, want the token's expiry %v", d, now.Add(link.DefaultLinkTTL))
	}

	// Without paths, the canonical API's.
	f.clock.Advance(link.DefaultCooldown)
	if err := f.svc.Forgot(ctx, recovery.ForgotInput{Email: "ann@example.com", Client: alice}); err != nil {
		t.Fatal(err)
	}
	m = f.mails(t)
	if len(m) != 2 || !strings.Contains(m[1].Text, base+link.Canonical.ResetPassword+"?token=") {
		t.Fatalf("mails %+v", m)
	}
}

// The answer comes before the address is looked up: what is done before
// it (the IP budget and the address's cooldown) is the same for every
// address, and the rest runs after it.
func TestForgotAnswersAlikeBeforeLookingTheAddressUp(t *testing.T) {
	t.Parallel()
	type work struct{ hits, issues, lookups int64 }
	for _, tc := range []struct {
		name  string
		email string
		mails int
	}{
		{"active account", "ann@example.com", 1},
		{"unknown address", "nobody@example.com", 0},
		{"disabled account", "off@example.com", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			f.addUser(t, "u1", "ann@example.com")
			f.addUser(t, "u2", "off@example.com", func(u *identity.User) { u.Active = false })
			f.users.gate = make(chan struct{})
			var got []work
			for range 2 { // the second within the cooldown
				if err := f.svc.Forgot(ctx, recovery.ForgotInput{Email: tc.email, Client: alice}); err != nil {
					t.Fatalf("forgot: %v", err)
				}
				got = append(got, work{f.limiter.hits.Load(), f.store.issues.Load(), f.users.lookups.Load()})
			}
			// Per IP and cooldown; then per IP and the refused cooldown;
			// no lookup and no token before the answers.
			if want := []work{{2, 0, 0}, {4, 0, 0}}; fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("work before the answers %v, want %v", got, want)
			}
			close(f.users.gate)
			if m := f.mails(t); len(m) != tc.mails {
				t.Fatalf("%d mails, want %d", len(m), tc.mails)
			}
			// After the answer: one lookup (the second request was within
			// the cooldown), and a token only for the account that gets it.
			if got, want := (work{f.limiter.hits.Load(), f.store.issues.Load(), f.users.lookups.Load()}), (work{4, int64(tc.mails), 1}); got != want {
				t.Fatalf("work after the answers %v, want %v", got, want)
			}
		})
	}
}

// A lookup that fails after the answer sends nothing and gives the
// address's cooldown back, so that asking again works at once.
func TestForgotWhoseLookupFailsAfterTheAnswerCanBeAskedAgainAtOnce(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.addUser(t, "u1", "ann@example.com")
	f.users.fail = errs.ErrUnavailable
	if err := f.svc.Forgot(ctx, recovery.ForgotInput{Email: "ann@example.com", Client: alice}); err != nil {
		t.Fatalf("forgot with the store away: %v, want the same answer", err)
	}
	if m := f.mails(t); len(m) != 0 {
		t.Fatalf("%d mails with the store away", len(m))
	}
	f.users.fail = nil
	if err := f.svc.Forgot(ctx, recovery.ForgotInput{Email: "ann@example.com", Client: alice}); err != nil {
		t.Fatal(err)
	}
	if m := f.mails(t); len(m) != 1 || f.users.lookups.Load() != 2 {
		t.Fatalf("%d mails after %d lookups, want a mail at once (the cooldown given back)", len(m), f.users.lookups.Load())
	}
}

func TestForgotRefusesAMalformedAddressBeforeAnyWork(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	for _, bad := range []string{"", "not an address", "ann@example.com\r\nBcc: x@evil.example"} {
		err := f.svc.Forgot(ctx, recovery.ForgotInput{Email: bad, Client: alice})
		e := errs.As(err)
		if e == nil || e.Kind != errs.Invalid || len(e.Fields) != 1 || e.Fields[0].Field != "email" {
			t.Fatalf("%q: %v", bad, err)
		}
	}
	if f.limiter.hits.Load() != 0 || f.store.issues.Load() != 0 {
		t.Fatal("a malformed address cost work")
	}
}

func TestForgotIsLimitedPerIPAlikeForEveryAddress(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(s *setup) { s.policy.PerIP = tenant.Limit{Count: 2, Window: time.Hour} })
	f.addUser(t, "u1", "ann@example.com")
	for _, email := range []string{"ann@example.com", "nobody@example.com"} {
		if err := f.svc.Forgot(ctx, recovery.ForgotInput{Email: email, Client: alice}); err != nil {
			t.Fatal(err)
		}
	}
	for _, email := range []string{"ann@example.com", "nobody@example.com", "bob@example.com"} {
		err := f.svc.Forgot(ctx, recovery.ForgotInput{Email: email, Client: alice})
		if e := errs.As(err); !errors.Is(err, throttle.ErrThrottled) || e.Kind != errs.RateLimited || e.RetryAfter <= 0 {
			t.Fatalf("%s over the limit: %v", email, err)
		}
	}
	other := session.Client{IP: netip.MustParseAddr("203.0.113.9")}
	f.clock.Advance(link.DefaultCooldown)
	if err := f.svc.Forgot(ctx, recovery.ForgotInput{Email: "ann@example.com", Client: other}); err != nil {
		t.Fatalf("another client: %v", err)
	}
}

func TestForgotWithinTheCooldownOrOverTheDailyCapAnswersAlikeAndSendsNothing(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(s *setup) { s.policy.DailyCap = 2 })
	f.addUser(t, "u1", "ann@example.com")
	send := func() {
		t.Helper()
		if err := f.svc.Forgot(ctx, recovery.ForgotInput{Email: "ann@example.com", Client: alice}); err != nil {
			t.Fatal(err)
		}
	}
	send()
	f.clock.Advance(link.DefaultCooldown - time.Second)
	send()
	if m := f.mails(t); len(m) != 1 {
		t.Fatalf("%d mails within the cooldown, want 1", len(m))
	}
	f.clock.Advance(time.Second)
	send()
	f.clock.Advance(link.DefaultCooldown)
	send() // the third of the day
	if m := f.mails(t); len(m) != 2 {
		t.Fatalf("%d mails, want 2 (the daily cap)", len(m))
	}
}

func TestValidateChecksWithoutUsingTheToken(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.addUser(t, "u1", "ann@example.com")
	tok := f.forgot(t, "ann@example.com")
	for range 3 {
		if err := f.svc.Validate(ctx, tok); err != nil {
			t.Fatalf("validate: %v", err)
		}
	}
	if _, err := f.svc.Reset(ctx, recovery.ResetInput{Token: tok, Password: "a new long password", Client: alice}); err != nil {
		t.Fatalf("reset after validating: %v", err)
	}
	invalidToken(t, "validate a used token", f.svc.Validate(ctx, tok))
	invalidToken(t, "validate garbage", f.svc.Validate(ctx, "garbage"))
	if err := f.svc.Validate(ctx, ""); !errors.Is(err, recovery.ErrTokenRequired) || errs.KindOf(err) != errs.Invalid {
		t.Fatalf("validate no token: %v", err)
	}
}

func TestALinkExpiresAfterItsLifetime(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.addUser(t, "u1", "ann@example.com")
	tok := f.forgot(t, "ann@example.com")
	f.clock.Advance(link.DefaultLinkTTL - time.Second)
	if err := f.svc.Validate(ctx, tok); err != nil {
		t.Fatalf("a second before expiry: %v", err)
	}
	f.clock.Advance(time.Second)
	invalidToken(t, "validate at expiry", f.svc.Validate(ctx, tok))
	_, err := f.svc.Reset(ctx, recovery.ResetInput{Token: tok, Password: "a new long password"})
	invalidToken(t, "reset at expiry", err)
}

func TestResetSetsThePasswordProvesTheMailboxAndEndsEverySession(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	u := f.addUser(t, "u1", "ann@example.com")
	// One credential of every form: an access JWT, an app token, a cookie.
	type credential struct {
		kind  session.CredentialKind
		value string
	}
	var creds []credential
	var refresh string
	for _, kind := range []identity.SessionKind{identity.SessionAPI, identity.SessionApp, identity.SessionWeb} {
		c, err := f.issuer.Start(ctx, u, kind, []string{"pwd"}, alice)
		if err != nil {
			t.Fatal(err)
		}
		switch kind {
		case identity.SessionAPI:
			creds, refresh = append(creds, credential{session.ByBearer, c.AccessToken}), c.RefreshToken
		case identity.SessionApp:
			creds = append(creds, credential{session.ByToken, c.AppToken})
		default:
			creds = append(creds, credential{session.ByCookie, c.Cookie})
		}
	}
	for _, c := range creds {
		if _, err := f.sess.Authenticate(ctx, c.kind, c.value); err != nil {
			t.Fatalf("%s before the reset: %v", c.kind, err)
		}
	}
	other := f.forgot(t, "ann@example.com")
	f.clock.Advance(link.DefaultCooldown)
	tok := f.forgot(t, "ann@example.com")

	got, err := f.svc.Reset(ctx, recovery.ResetInput{Token: tok, Password: "a new long password", Client: alice})
	if err != nil {
		t.Fatal(err)
	}
	stored, _ := f.users.ByID(ctx, f.t.ID, u.ID)
	if got.ID != u.ID || !got.EmailVerified || got.PasswordHash != "fake$a new long password" ||
		stored.PasswordHash != got.PasswordHash || !stored.EmailVerified {
		t.Fatalf("returned %+v, stored %+v", got, stored)
	}
	for _, c := range creds {
		if _, err := f.sess.Authenticate(ctx, c.kind, c.value); !errors.Is(err, session.ErrInvalidToken) {
			t.Fatalf("%s after the reset: %v", c.kind, err)
		}
	}
	if _, _, err := f.sess.Refresh(ctx, refresh); err == nil {
		t.Fatal("the refresh token works after the reset")
	}
	_, err = f.svc.Reset(ctx, recovery.ResetInput{Token: tok, Password: "another long password"})
	invalidToken(t, "the used token", err)
	invalidToken(t, "the other outstanding token", f.svc.Validate(ctx, other))
	m := f.mails(t)
	if last := m[len(m)-1]; last.To != "ann@example.com" || last.Subject != string(message.MailPasswordChanged) ||
		!strings.HasSuffix(last.Text, "|198.51.100.7") {
		t.Fatalf("notice %+v", last)
	}
}

func TestAPasswordChangedElsewhereKillsOutstandingTokens(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.addUser(t, "u1", "ann@example.com")
	tok := f.forgot(t, "ann@example.com")
	if err := f.users.SetPasswordHash(ctx, f.t.ID, "u1", "fake$changed", f.clock.Now()); err != nil {
		t.Fatal(err)
	}
	invalidToken(t, "validate", f.svc.Validate(ctx, tok))
	_, err := f.svc.Reset(ctx, recovery.ResetInput{Token: tok, Password: "a new long password"})
	invalidToken(t, "reset", err)
}

func TestADisabledAccountCannotBeReset(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.addUser(t, "u1", "ann@example.com")
	tok := f.forgot(t, "ann@example.com")
	if err := f.users.mem.SetActive(ctx, f.t.ID, "u1", false, f.clock.Now()); err != nil {
		t.Fatal(err)
	}
	invalidToken(t, "validate", f.svc.Validate(ctx, tok))
}

func TestAnAccountWithoutAPasswordCanSetOne(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.addUser(t, "u1", "ann@example.com", func(u *identity.User) { u.PasswordHash = "" })
	tok := f.forgot(t, "ann@example.com")
	got, err := f.svc.Reset(ctx, recovery.ResetInput{Token: tok, Password: "a new long password"})
	if err != nil || got.PasswordHash != "fake$a new long password" {
		t.Fatalf("%+v %v", got, err)
	}
}

func TestAWeakPasswordIsRefusedAndLeavesTheTokenWorking(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.addUser(t, "u1", "ann@example.com")
	tok := f.forgot(t, "ann@example.com")
	for _, weak := range []string{"", "short", "password1", "ann@example.com", strings.Repeat("x", 5000)} {
		_, err := f.svc.Reset(ctx, recovery.ResetInput{Token: tok, Password: weak})
		e := errs.As(err)
		if !errors.Is(err, identity.ErrWeakPassword) || e.Kind != errs.Invalid || len(e.Fields) != 1 || e.Fields[0].Field != "password" {
			t.Fatalf("%.10q: %v", weak, err)
		}
		if err := f.svc.Validate(ctx, tok); err != nil {
			t.Fatalf("after %.10q the token is %v", weak, err)
		}
	}
	if _, err := f.svc.Reset(ctx, recovery.ResetInput{Token: tok, Password: "a new long password"}); err != nil {
		t.Fatal(err)
	}
}

func TestResetRequiresAToken(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	_, err := f.svc.Reset(ctx, recovery.ResetInput{Password: "a new long password"})
	if e := errs.As(err); !errors.Is(err, recovery.ErrTokenRequired) || e.Kind != errs.Invalid || e.Fields[0].Field != "token" {
		t.Fatalf("%v", err)
	}
}

func TestConcurrentResetsWithOneTokenSucceedOnce(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.addUser(t, "u1", "ann@example.com")
	tok := f.forgot(t, "ann@example.com")
	var won, refused atomic.Int64
	var other sync.Map
	platformtest.Race(platformtest.Racers, func(i int) {
		_, err := f.svc.Reset(ctx, recovery.ResetInput{Token: tok, Password: fmt.Sprintf("new password number %d", i)})
		switch {
		case err == nil:
			won.Add(1)
		case errors.Is(err, recovery.ErrInvalidToken):
			refused.Add(1)
		default:
			other.Store(i, err)
		}
	})
	other.Range(func(k, v any) bool { t.Errorf("reset %v: %v", k, v); return true })
	if won.Load() != 1 || refused.Load() != platformtest.Racers-1 {
		t.Fatalf("%d won, %d refused; want 1 and %d", won.Load(), refused.Load(), platformtest.Racers-1)
	}
}

func TestAVerificationTokenIsNotAResetToken(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	u := f.addUser(t, "u1", "ann@example.com")
	// Issued for the very subject a reset token of the account has: only
	// the purpose differs.
	fp := func(v string) string { s := sha256.Sum256([]byte(v)); return hex.EncodeToString(s[:8]) }
	is, err := f.codes.Issue(ctx, domain.EmailLink(domain.PurposeEmailVerify, time.Hour, 10), fp(u.PasswordHash)+":"+fp(u.EmailKey)+":"+u.ID, u.EmailKey)
	if err != nil {
		t.Fatal(err)
	}
	invalidToken(t, "validate", f.svc.Validate(ctx, is.Secret))
	_, err = f.svc.Reset(ctx, recovery.ResetInput{Token: is.Secret, Password: "a new long password"})
	invalidToken(t, "reset", err)
}

func TestATokenOfOneTenantIsRefusedByAnother(t *testing.T) {
	t.Parallel()
	a := newFixture(t)
	b := newFixture(t, func(s *setup) { s.tenantID, s.store, s.users, s.clock = "other", a.store, a.users, a.clock })
	a.addUser(t, "u1", "ann@example.com")
	b.addUser(t, "u1", "ann@example.com") // the same account, in tenant b
	tok := a.forgot(t, "ann@example.com")
	invalidToken(t, "validate on b", b.svc.Validate(ctx, tok))
	_, err := b.svc.Reset(ctx, recovery.ResetInput{Token: tok, Password: "a new long password"})
	invalidToken(t, "reset on b", err)
	if err := a.svc.Validate(ctx, tok); err != nil {
		t.Fatalf("on a: %v", err)
	}
}

// TestAnInvitationSetsThePasswordOfANewAccountAndProvesItsAddress: an
// account without a password is mailed an invitation whose link, under
// the canonical reset path, works for InviteTTL (past a reset's
// lifetime), sets the password once and verifies the address.
func TestAnInvitationSetsThePasswordOfANewAccountAndProvesItsAddress(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	u := f.addUser(t, "u1", "Ann@Example.com", func(u *identity.User) { u.PasswordHash = "" })
	if err := f.svc.Invite(ctx, u); err != nil {
		t.Fatal(err)
	}
	m := f.mails(t)
	if len(m) != 1 || m[0].To != "Ann@Example.com" || m[0].Subject != string(message.MailInvite) {
		t.Fatalf("mails %+v", m)
	}
	parts := strings.Split(m[0].Text, "|")
	tok := tokenOf(t, m[0])
	if parts[1] != "Ann" || parts[2] != link.Build(base, link.Canonical.ResetPassword, tok) || parts[3] != recovery.InviteTTL.String() {
		t.Fatalf("mail data %q", m[0].Text)
	}
	f.clock.Advance(recovery.InviteTTL - time.Minute) // long past a reset link's lifetime
	if err := f.svc.Validate(ctx, tok); err != nil {
		t.Fatalf("validate the invitation after %s: %v", recovery.InviteTTL-time.Minute, err)
	}
	got, err := f.svc.Reset(ctx, recovery.ResetInput{Token: tok, Password: "a new long password", Client: alice})
	if err != nil {
		t.Fatal(err)
	}
	if got.PasswordHash != "fake$a new long password" || !got.EmailVerified {
		t.Fatalf("after the invitation: %+v, want the password set and the address verified", got)
	}
	if stored, _ := f.users.ByID(ctx, "shop", "u1"); !stored.EmailVerified || stored.PasswordHash != got.PasswordHash {
		t.Fatalf("stored %+v", stored)
	}
	_, err = f.svc.Reset(ctx, recovery.ResetInput{Token: tok, Password: "another long password"})
	invalidToken(t, "the invitation used again", err)
}

// TestAnInvitationExpiresAndDiesWithAChangeOfAddress: past InviteTTL the
// link is dead; before it, a move of the account to another address kills
// it; a disabled account is not invited.
func TestAnInvitationExpiresAndDiesWithAChangeOfAddress(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	u := f.addUser(t, "u1", "ann@example.com", func(u *identity.User) { u.PasswordHash = "" })
	v := f.addUser(t, "u2", "bob@example.com", func(u *identity.User) { u.PasswordHash = "" })
	for _, x := range []identity.User{u, v} {
		if err := f.svc.Invite(ctx, x); err != nil {
			t.Fatal(err)
		}
	}
	// The mails go out in the background: each is found by its address.
	to := map[string]message.Mail{}
	for _, m := range f.mails(t) {
		to[m.To] = m
	}
	if len(to) != 2 || to[u.Email].To == "" || to[v.Email].To == "" {
		t.Fatalf("mails to %v, want one to each account", to)
	}
	if err := f.users.mem.SetEmail(ctx, "shop", "u2", "bob@new.example", "bob@new.example", f.clock.Now()); err != nil {
		t.Fatal(err)
	}
	invalidToken(t, "after a change of address", f.svc.Validate(ctx, tokenOf(t, to[v.Email])))
	if err := f.svc.Validate(ctx, tokenOf(t, to[u.Email])); err != nil {
		t.Fatalf("the other account's invitation before InviteTTL: %v", err)
	}
	f.clock.Advance(recovery.InviteTTL + time.Second)
	invalidToken(t, "after InviteTTL", f.svc.Validate(ctx, tokenOf(t, to[u.Email])))

	off := f.addUser(t, "u3", "cyd@example.com", func(u *identity.User) { u.PasswordHash, u.Active = "", false })
	if err := f.svc.Invite(ctx, off); !errors.Is(err, recovery.ErrInviteInactive) {
		t.Fatalf("a disabled account: %v, want ErrInviteInactive", err)
	}
	if n := len(f.mails(t)); n != 2 {
		t.Fatalf("%d mails after inviting a disabled account, want none more", n)
	}
}
