package verification_test

import (
	"context"
	"crypto/rand"
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
	"github.com/portcullis/portcullis/application/throttle"
	"github.com/portcullis/portcullis/application/throttle/throttletest"
	"github.com/portcullis/portcullis/application/verification"
	"github.com/portcullis/portcullis/domain/errs"
	"github.com/portcullis/portcullis/domain/identity"
	"github.com/portcullis/portcullis/domain/link"
	"github.com/portcullis/portcullis/domain/message"
	"github.com/portcullis/portcullis/domain/tenant"
)

var ctx = context.Background()

var alice = session.Client{IP: netip.MustParseAddr("198.51.100.7"), UserAgent: "test"}

const base = "https://shop.example"

// users adds SetEmailVerified to the in-memory store (the account port
// gains it on another branch), and lets a test move a user to another
// address. What it adds is kept beside the store and shown on reads.
type users struct {
	mem      *accounttest.MemoryUsers
	mu       sync.Mutex
	verified map[string]string    // tenant/id → the e-mail key verified
	moved    map[string][2]string // tenant/id → the address and key it moved to
	// gate, when set, holds every lookup by address until it is closed;
	// lookups counts those that got through.
	gate    chan struct{}
	lookups atomic.Int64
}

var _ verification.Users = (*users)(nil)
var _ recovery.Users = (*users)(nil)

func (u *users) show(v identity.User, err error) (identity.User, error) {
	if err != nil {
		return v, err
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if m, ok := u.moved[v.TenantID+"/"+v.ID]; ok {
		v.Email, v.EmailKey = m[0], m[1]
	}
	if key, ok := u.verified[v.TenantID+"/"+v.ID]; ok && key == v.EmailKey {
		v.EmailVerified = true
	}
	return v, nil
}

func (u *users) move(tenantID, id, email, key string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.moved[tenantID+"/"+id] = [2]string{email, key}
}

func (u *users) ByEmail(ctx context.Context, tenantID, emailKey string) (identity.User, error) {
	if u.gate != nil {
		<-u.gate
	}
	u.lookups.Add(1)
	return u.show(u.mem.ByEmail(ctx, tenantID, emailKey))
}

func (u *users) ByID(ctx context.Context, tenantID, id string) (identity.User, error) {
	return u.show(u.mem.ByID(ctx, tenantID, id))
}

func (u *users) SetPasswordHash(ctx context.Context, tenantID, id, hash string, at time.Time) error {
	return u.mem.SetPasswordHash(ctx, tenantID, id, hash, at)
}

func (u *users) SetEmailVerified(ctx context.Context, tenantID, id, emailKey string, _ time.Time) error {
	v, err := u.ByID(ctx, tenantID, id)
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

// composer writes the link and the code into the text, as a template
// would, and counts what it composed.
type composer struct{ calls atomic.Int64 }

func (c *composer) Compose(kind message.MailKind, to string, d message.MailData) (message.Mail, error) {
	c.calls.Add(1)
	return message.Mail{To: to, Subject: string(kind), Text: fmt.Sprintf("%s|%s|%s|%s|%s", kind, d.Name, d.Link, d.Expires, d.Code)}, nil
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

type fixture struct {
	svc     *verification.Service
	codes   *otp.Engine
	users   *users
	store   *store
	limiter *limiter
	comp    *composer
	box     *mailer
	courier *courier.Courier
	clock   *platformtest.Clock
	t       tenant.Tenant
}

type setup struct {
	tenantID string
	policy   verification.Policy
	store    *store
	users    *users
	clock    *platformtest.Clock
}

func newFixture(t *testing.T, mutate ...func(*setup)) *fixture {
	t.Helper()
	c := platformtest.NewClock(time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC))
	s := setup{tenantID: "shop", policy: verification.Policy{Policy: link.Policy{BaseURL: base}}, clock: c,
		store: &store{MemoryStore: otptest.NewMemoryStore(c)},
		users: &users{mem: accounttest.NewMemoryUsers(), verified: map[string]string{}, moved: map[string][2]string{}}}
	for _, m := range mutate {
		m(&s)
	}
	tn := tenant.Default()
	tn.ID = s.tenantID
	if err := tn.Validate(); err != nil {
		t.Fatal(err)
	}
	f := &fixture{users: s.users, store: s.store, clock: s.clock, t: tn, comp: &composer{}, box: &mailer{},
		limiter: &limiter{MemoryLimiter: throttletest.NewMemoryLimiter(s.clock)}}
	key, err := otp.DeriveKey([]byte("a master key of at least sixteen bytes"), tn.ID)
	if err != nil {
		t.Fatal(err)
	}
	f.codes = otp.New(tn.ID, key, s.store, s.clock, rand.Reader)
	f.courier = courier.New(tn.ID, f.comp, f.box, nil)
	f.svc = verification.New(tn, s.policy, verification.Deps{Users: s.users, Codes: f.codes, Limiter: f.limiter, Mail: f.courier, Clock: s.clock})
	return f
}

func (f *fixture) addUser(t *testing.T, id, email string, mutate ...func(*identity.User)) identity.User {
	t.Helper()
	email, key, err := identity.NormalizeEmail(email)
	if err != nil {
		t.Fatal(err)
	}
	u := identity.User{ID: id, TenantID: f.t.ID, Email: email, EmailKey: key, FirstName: "Ann", LastName: "Lee",
		Role: identity.RoleUser, Active: true, CreatedAt: f.clock.Now()}
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

// send mails u a link and returns its token.
func (f *fixture) send(t *testing.T, u identity.User) string {
	t.Helper()
	if err := f.svc.Send(ctx, u, link.Seed001); err != nil {
		t.Fatalf("send: %v", err)
	}
	m := f.mails(t)
	if len(m) == 0 {
		t.Fatal("no mail")
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
	if !errors.Is(err, verification.ErrInvalidToken) {
		t.Fatalf("%s: %v, want invalid_token", what, err)
	}
	if e := errs.As(err); e.Kind != errs.Invalid || e.Code != "invalid_token" || e.Message != "Token is invalid or expired." {
		t.Fatalf("%s: %v %q %q", what, e.Kind, e.Code, e.Message)
	}
}

func (f *fixture) verified(t *testing.T, id string) bool {
	t.Helper()
	u, err := f.users.ByID(ctx, f.t.ID, id)
	if err != nil {
		t.Fatal(err)
	}
	return u.EmailVerified
}

func TestSendThenVerifyMarksTheAddressVerified(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	u := f.addUser(t, "u1", "Ann@Example.com")
	now := f.clock.Now()
	tok := f.send(t, u)
	m := f.mails(t)
	parts := strings.Split(m[0].Text, "|")
	if len(m) != 1 || m[0].To != "Ann@Example.com" || m[0].Subject != string(message.MailVerification) || parts[1] != "Ann" || parts[3] != "30m0s" ||
		parts[2] != link.Build(base, link.Seed001.VerifyEmail, tok) {
		t.Fatalf("mails %+v", m)
	}
	if d := f.box.deadlines[0]; !d.Equal(now.Add(link.DefaultLinkTTL)) {
		t.Fatalf("delivery deadline %v, want the token's expiry", d)
	}
	got, err := f.svc.Verify(ctx, tok)
	if err != nil || got.ID != u.ID || !got.EmailVerified || !f.verified(t, u.ID) {
		t.Fatalf("verify: %+v %v", got, err)
	}
	_, err = f.svc.Verify(ctx, tok)
	invalidToken(t, "a used token", err)
}

func TestSendWithoutPathsLinksToTheCanonicalAPI(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	u := f.addUser(t, "u1", "ann@example.com")
	if err := f.svc.Send(ctx, u, link.Paths{}); err != nil {
		t.Fatal(err)
	}
	if m := f.mails(t); len(m) != 1 || !strings.Contains(m[0].Text, base+link.Canonical.VerifyEmail+"?token=") {
		t.Fatalf("mails %+v", m)
	}
}

func TestSendToAVerifiedAddressIsRefused(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	u := f.addUser(t, "u1", "ann@example.com", func(u *identity.User) { u.EmailVerified = true })
	err := f.svc.Send(ctx, u, link.Canonical)
	if e := errs.As(err); !errors.Is(err, verification.ErrAlreadyVerified) || e.Kind != errs.Invalid || e.Code != "email_verified" {
		t.Fatalf("%v", err)
	}
	if f.store.issues.Load() != 0 || len(f.mails(t)) != 0 {
		t.Fatal("a link was issued or sent")
	}
}

func TestSendWithinTheCooldownIsRefusedWithRetryAfter(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(s *setup) { s.policy.DailyCap = 2 })
	u := f.addUser(t, "u1", "ann@example.com")
	f.send(t, u)
	f.clock.Advance(20 * time.Second)
	err := f.svc.Send(ctx, u, link.Canonical)
	e := errs.As(err)
	if !errors.Is(err, verification.ErrSentRecently) || e.Kind != errs.RateLimited || e.Code != "email_verification_link_sent_recently" || e.RetryAfter != 40 {
		t.Fatalf("%v (retry after %d)", err, e.RetryAfter)
	}
	f.clock.Advance(40 * time.Second)
	f.send(t, u)
	f.clock.Advance(link.DefaultCooldown)
	if err := f.svc.Send(ctx, u, link.Canonical); !errors.Is(err, otp.ErrDailyCap) {
		t.Fatalf("over the daily cap: %v", err)
	}
	if m := f.mails(t); len(m) != 2 {
		t.Fatalf("%d mails, want 2", len(m))
	}
}

// The answer comes before the address is looked up: what is done before
// it (the IP budget and the address's cooldown) is the same for every
// address, and the rest runs after it.
func TestResendAnswersAlikeBeforeLookingTheAddressUp(t *testing.T) {
	t.Parallel()
	type work struct{ hits, issues, lookups int64 }
	for _, tc := range []struct {
		name  string
		email string
		mails int
	}{
		{"unverified account", "ann@example.com", 1},
		{"unknown address", "nobody@example.com", 0},
		{"verified account", "done@example.com", 0},
		{"disabled account", "off@example.com", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			f.addUser(t, "u1", "ann@example.com")
			f.addUser(t, "u2", "done@example.com", func(u *identity.User) { u.EmailVerified = true })
			f.addUser(t, "u3", "off@example.com", func(u *identity.User) { u.Active = false })
			f.users.gate = make(chan struct{})
			var got []work
			for range 2 { // the second within the cooldown
				if err := f.svc.Resend(ctx, verification.ResendInput{Email: tc.email, Client: alice}); err != nil {
					t.Fatalf("resend: %v", err)
				}
				got = append(got, work{f.limiter.hits.Load(), f.store.issues.Load(), f.users.lookups.Load()})
			}
			if want := []work{{2, 0, 0}, {4, 0, 0}}; fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("work before the answers %v, want %v", got, want)
			}
			close(f.users.gate)
			if m := f.mails(t); len(m) != tc.mails {
				t.Fatalf("%d mails, want %d", len(m), tc.mails)
			}
			if got, want := (work{f.limiter.hits.Load(), f.store.issues.Load(), f.users.lookups.Load()}), (work{4, int64(tc.mails), 1}); got != want {
				t.Fatalf("work after the answers %v, want %v", got, want)
			}
		})
	}
}

func TestResendOverTheDailyCapAnswersAlikeAndSendsNothing(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(s *setup) { s.policy.DailyCap = 1 })
	f.addUser(t, "u1", "ann@example.com")
	for range 3 {
		if err := f.svc.Resend(ctx, verification.ResendInput{Email: "ann@example.com", Client: alice}); err != nil {
			t.Fatal(err)
		}
		f.clock.Advance(link.DefaultCooldown)
	}
	if m := f.mails(t); len(m) != 1 {
		t.Fatalf("%d mails, want 1", len(m))
	}
}

func TestResendRefusesAMalformedAddressAndIsLimitedPerIP(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(s *setup) { s.policy.PerIP = tenant.Limit{Count: 1, Window: time.Hour} })
	f.addUser(t, "u1", "ann@example.com")
	err := f.svc.Resend(ctx, verification.ResendInput{Email: "ann@example.com\nBcc: x@evil.example", Client: alice})
	if e := errs.As(err); e == nil || e.Kind != errs.Invalid || len(e.Fields) != 1 || e.Fields[0].Field != "email" {
		t.Fatalf("malformed: %v", err)
	}
	if err := f.svc.Resend(ctx, verification.ResendInput{Email: "nobody@example.com", Client: alice}); err != nil {
		t.Fatal(err)
	}
	err = f.svc.Resend(ctx, verification.ResendInput{Email: "ann@example.com", Client: alice})
	if e := errs.As(err); !errors.Is(err, throttle.ErrThrottled) || e.RetryAfter <= 0 {
		t.Fatalf("over the per-IP limit: %v", err)
	}
}

func TestResendThenVerify(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.addUser(t, "u1", "ann@example.com")
	if err := f.svc.Resend(ctx, verification.ResendInput{Email: "ANN@example.com", Client: alice, Paths: link.Seed001}); err != nil {
		t.Fatal(err)
	}
	m := f.mails(t)
	if len(m) != 1 || m[0].To != "ann@example.com" {
		t.Fatalf("mails %+v", m)
	}
	if u, err := f.svc.Verify(ctx, tokenOf(t, m[0])); err != nil || !u.EmailVerified {
		t.Fatalf("%+v %v", u, err)
	}
}

func TestVerifyRefusesBadTokens(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	u := f.addUser(t, "u1", "ann@example.com")
	tok := f.send(t, u)
	_, err := f.svc.Verify(ctx, "garbage")
	invalidToken(t, "garbage", err)
	if _, err := f.svc.Verify(ctx, ""); !errors.Is(err, verification.ErrTokenRequired) || errs.KindOf(err) != errs.Invalid {
		t.Fatalf("no token: %v", err)
	}
	f.clock.Advance(link.DefaultLinkTTL)
	_, err = f.svc.Verify(ctx, tok)
	invalidToken(t, "expired", err)
	if f.verified(t, u.ID) {
		t.Fatal("verified by a refused token")
	}
}

func TestCheckConfirmsWithoutUsingTheToken(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	u := f.addUser(t, "u1", "ann@example.com")
	tok := f.send(t, u)
	for i := range 3 { // as often as a scanner fetches the link
		if err := f.svc.Check(ctx, tok); err != nil {
			t.Fatalf("check %d: %v", i+1, err)
		}
	}
	if f.verified(t, u.ID) {
		t.Fatal("a check verified the address")
	}
	if err := f.svc.Check(ctx, ""); !errors.Is(err, verification.ErrTokenRequired) {
		t.Fatalf("no token: %v", err)
	}
	invalidToken(t, "garbage", f.svc.Check(ctx, "garbage"))
	if _, err := f.svc.Verify(ctx, tok); err != nil {
		t.Fatalf("verify after the checks: %v", err)
	}
	invalidToken(t, "a used token", f.svc.Check(ctx, tok))

	// A link to an address the user has since left is dead to Check too.
	v := f.addUser(t, "u2", "bob@example.com")
	tok = f.send(t, v)
	f.users.move(f.t.ID, v.ID, "bob@new.example", "bob@new.example")
	invalidToken(t, "after the move", f.svc.Check(ctx, tok))
}

func TestALinkToAnAddressTheUserLeftVerifiesNothing(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	u := f.addUser(t, "u1", "ann@example.com")
	tok := f.send(t, u)
	f.users.move(f.t.ID, u.ID, "ann@new.example", "ann@new.example")
	_, err := f.svc.Verify(ctx, tok)
	invalidToken(t, "after the move", err)
	if f.verified(t, u.ID) {
		t.Fatal("the new address was verified by a link to the old one")
	}
}

func TestADisabledAccountIsNotVerified(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	u := f.addUser(t, "u1", "ann@example.com")
	tok := f.send(t, u)
	if err := f.users.mem.SetActive(ctx, f.t.ID, u.ID, false, f.clock.Now()); err != nil {
		t.Fatal(err)
	}
	_, err := f.svc.Verify(ctx, tok)
	invalidToken(t, "disabled", err)
}

func TestConcurrentVerificationsWithOneTokenSucceedOnce(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	tok := f.send(t, f.addUser(t, "u1", "ann@example.com"))
	var won, refused atomic.Int64
	platformtest.Race(platformtest.Racers, func(int) {
		switch _, err := f.svc.Verify(ctx, tok); {
		case err == nil:
			won.Add(1)
		case errors.Is(err, verification.ErrInvalidToken):
			refused.Add(1)
		}
	})
	if won.Load() != 1 || refused.Load() != platformtest.Racers-1 {
		t.Fatalf("%d won, %d refused", won.Load(), refused.Load())
	}
}

type hasher struct{}

func (hasher) Hash(_ context.Context, pw string, _ tenant.HashParams) (string, error) {
	return "fake$" + pw, nil
}

type noSessions struct{}

func (noSessions) RevokeUser(context.Context, string) (int, error) { return 0, nil }

func TestTokensOfOtherPurposesAreRefused(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	u := f.addUser(t, "u1", "ann@example.com")
	reset := recovery.New(f.t, recovery.Policy{BaseURL: base}, recovery.Deps{Users: f.users, Codes: f.codes,
		Limiter: f.limiter, Hasher: hasher{}, Mail: f.courier, Sessions: noSessions{}, Audit: audittest.NewRecorder(), Clock: f.clock})
	if err := reset.Forgot(ctx, recovery.ForgotInput{Email: u.Email, Client: alice}); err != nil {
		t.Fatal(err)
	}
	m := f.mails(t)
	resetToken := tokenOf(t, m[len(m)-1])
	_, err := f.svc.Verify(ctx, resetToken)
	invalidToken(t, "a reset token", err)
	if err := reset.Validate(ctx, resetToken); err != nil {
		t.Fatalf("the reset token was spent: %v", err)
	}
	// And the other way round.
	tok := f.send(t, u)
	if err := reset.Validate(ctx, tok); !errors.Is(err, recovery.ErrInvalidToken) {
		t.Fatalf("a verification token as a reset token: %v", err)
	}
}

func TestATokenOfOneTenantIsRefusedByAnother(t *testing.T) {
	t.Parallel()
	a := newFixture(t)
	b := newFixture(t, func(s *setup) { s.tenantID, s.store, s.users, s.clock = "other", a.store, a.users, a.clock })
	tok := a.send(t, a.addUser(t, "u1", "ann@example.com"))
	b.addUser(t, "u1", "ann@example.com") // the same account, in tenant b
	_, err := b.svc.Verify(ctx, tok)
	invalidToken(t, "on b", err)
	if b.verified(t, "u1") {
		t.Fatal("b's account was verified")
	}
	if _, err := a.svc.Verify(ctx, tok); err != nil {
		t.Fatalf("on a: %v", err)
	}
}
