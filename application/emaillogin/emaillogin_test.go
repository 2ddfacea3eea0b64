package emaillogin_test

import (
	"context"
	"crypto/rand"
	"errors"
	"io"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portcullis/portcullis/application/account/accounttest"
	"github.com/portcullis/portcullis/application/audit/audittest"
	"github.com/portcullis/portcullis/application/courier"
	"github.com/portcullis/portcullis/application/emaillogin"
	"github.com/portcullis/portcullis/application/login"
	"github.com/portcullis/portcullis/application/login/logintest"
	"github.com/portcullis/portcullis/application/mfa"
	"github.com/portcullis/portcullis/application/mfa/mfatest"
	"github.com/portcullis/portcullis/application/otp"
	"github.com/portcullis/portcullis/application/otp/otptest"
	"github.com/portcullis/portcullis/application/platform/platformtest"
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
	"github.com/pquerna/otp/totp"
)

var ctx = context.Background()

// users is the account store with SetEmailVerified, which the real port
// is gaining elsewhere: the mark is kept here and shown by the lookups,
// and refused (ErrNotFound) when the user's key is not the one given.
// moved makes a user appear to have changed address since.
type users struct {
	*accounttest.MemoryUsers
	mu       sync.Mutex
	verified map[string]string // id → the key that was verified
	moved    map[string]string // id → the key the user has now
	calls    *calls
	// gate, when set, holds every lookup by address until it is closed.
	gate chan struct{}
}

func newUsers(c *calls) *users {
	return &users{MemoryUsers: accounttest.NewMemoryUsers(), verified: map[string]string{}, moved: map[string]string{}, calls: c}
}

func (u *users) overlay(x identity.User) identity.User {
	u.mu.Lock()
	defer u.mu.Unlock()
	if k, ok := u.moved[x.ID]; ok {
		x.EmailKey = k
	}
	if k, ok := u.verified[x.ID]; ok && k == x.EmailKey {
		x.EmailVerified = true
	}
	return x
}

func (u *users) ByID(ctx context.Context, tenantID, id string) (identity.User, error) {
	x, err := u.MemoryUsers.ByID(ctx, tenantID, id)
	if err != nil {
		return x, err
	}
	return u.overlay(x), nil
}

func (u *users) ByEmail(ctx context.Context, tenantID, key string) (identity.User, error) {
	if u.gate != nil {
		<-u.gate
	}
	u.calls.add("users.ByEmail")
	x, err := u.MemoryUsers.ByEmail(ctx, tenantID, key)
	if err != nil {
		return x, err
	}
	x = u.overlay(x)
	if x.EmailKey != key {
		return identity.User{}, errs.ErrNotFound
	}
	return x, nil
}

func (u *users) SetEmailVerified(ctx context.Context, tenantID, id, emailKey string, _ time.Time) error {
	x, err := u.ByID(ctx, tenantID, id)
	if err != nil {
		return err
	}
	if x.EmailKey != emailKey {
		return errs.ErrNotFound
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	u.verified[id] = emailKey
	return nil
}

func (u *users) move(id, key string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.moved[id] = key
}

// calls is a log of the port calls one request made, for comparing the
// work done for two addresses.
type calls struct {
	mu  sync.Mutex
	log []string
}

func (c *calls) add(s string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.log = append(c.log, s)
}

func (c *calls) take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	l := c.log
	c.log = nil
	return l
}

// composer writes the code and the link into the text, as a template
// would, and records every composition, rehearsals too.
type composer struct {
	calls    *calls
	mu       sync.Mutex
	composed []message.MailData
}

func (c *composer) Compose(kind message.MailKind, to string, d message.MailData) (message.Mail, error) {
	c.calls.add("compose " + string(kind))
	c.mu.Lock()
	c.composed = append(c.composed, d)
	c.mu.Unlock()
	return message.Mail{To: to, Subject: string(kind), Text: "code " + d.Code + " link " + d.Link + " expires " + d.Expires.String()}, nil
}

func (c *composer) last() message.MailData {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.composed[len(c.composed)-1]
}

// mailer records what is sent.
type mailer struct {
	mu   sync.Mutex
	sent []message.Mail
}

func (m *mailer) SendMail(_ context.Context, mail message.Mail) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sent = append(m.sent, mail)
	return nil
}

func (m *mailer) mails() []message.Mail {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]message.Mail(nil), m.sent...)
}

// store and limiter log the engine's and the budgets' work.
type store struct {
	*otptest.MemoryStore
	calls *calls
}

func (s store) Issue(ctx context.Context, tenantID string, c otp.Challenge, cooldown time.Duration, dayKey string, dailyCap int) (time.Duration, bool, error) {
	s.calls.add("otp.Issue")
	return s.MemoryStore.Issue(ctx, tenantID, c, cooldown, dayKey, dailyCap)
}

func (s store) Consume(ctx context.Context, tenantID, key, digest string) (otp.Verdict, string, error) {
	s.calls.add("otp.Consume")
	return s.MemoryStore.Consume(ctx, tenantID, key, digest)
}

func (s store) Peek(ctx context.Context, tenantID, key, digest string) (string, bool, error) {
	s.calls.add("otp.Peek")
	return s.MemoryStore.Peek(ctx, tenantID, key, digest)
}

type limiter struct {
	*throttletest.MemoryLimiter
	calls *calls
}

func (l limiter) Hit(ctx context.Context, key string, lim tenant.Limit) (bool, time.Duration, error) {
	l.calls.add("limiter.Hit " + key[:strings.LastIndexByte(key, ':')])
	return l.MemoryLimiter.Hit(ctx, key, lim)
}

type tokens struct{}

func (tokens) Issue(_ context.Context, c session.AccessClaims) (string, error) {
	return "at." + c.SessionID, nil
}
func (tokens) Verify(context.Context, string) (session.AccessClaims, error) {
	return session.AccessClaims{}, session.ErrInvalidToken
}

type fixture struct {
	svc     *emaillogin.Service
	codes   *otp.Engine
	users   *users
	comp    *composer
	mail    *mailer
	courier *courier.Courier
	calls   *calls
	clock   *platformtest.Clock
	t       tenant.Tenant
	// factors is the tenant's second factor (the pipeline's).
	factors mfatest.Fixture
	// audit holds what the method and its pipeline recorded.
	audit *audittest.Recorder
}

type options struct {
	id     string
	policy emaillogin.Policy
	tenant func(*tenant.Tenant)
	store  *otptest.MemoryStore // shared by tenants, as Redis is
	random io.Reader            // the engine's randomness; crypto/rand when nil
}

func newFixture(t *testing.T, o options) *fixture {
	t.Helper()
	if o.id == "" {
		o.id = "shop"
	}
	if o.policy.BaseURL == "" {
		o.policy.BaseURL = "https://shop.example"
	}
	tn := tenant.Default()
	tn.ID, tn.DisplayName = o.id, "Shop"
	tn.LoginMethods = []tenant.LoginMethod{tenant.MethodPassword, tenant.MethodEmailLink}
	tn.Redirects.Allow = []string{"https://app.shop.example"}
	if o.tenant != nil {
		o.tenant(&tn)
	}
	if err := tn.Validate(); err != nil {
		t.Fatal(err)
	}
	c := platformtest.NewClock(time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC))
	if o.store == nil {
		o.store = otptest.NewMemoryStore(c)
	}
	cl := &calls{}
	us := newUsers(cl)
	sessions, revs := sessiontest.NewMemorySessions(), sessiontest.NewMemoryRevocations(c)
	sess := session.New(tn, session.Deps{Users: us, Sessions: sessions, Refresh: sessiontest.NewMemoryRefreshTokens(),
		Revocations: revs, Tokens: tokens{}, Sync: session.NewSync(sessions, revs, c, time.Second), Audit: audittest.NewRecorder(), Clock: c, Random: rand.Reader})
	key, err := otp.DeriveKey([]byte("a master key of at least sixteen bytes"), tn.ID)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{users: us, comp: &composer{calls: cl}, mail: &mailer{}, calls: cl, clock: c, t: tn}
	if o.random == nil {
		o.random = rand.Reader
	}
	f.codes = otp.New(tn.ID, key, store{o.store, cl}, c, o.random)
	f.courier = courier.New(tn.ID, f.comp, f.mail, nil)
	f.audit = audittest.NewRecorder()
	pipe := logintest.New(t, tn, logintest.Options{Users: us, Issuer: session.NewIssuer(sess), Mail: f.courier, Clock: c, Audit: f.audit})
	f.factors = pipe.Factors
	f.svc = emaillogin.New(tn, o.policy, emaillogin.Deps{
		Users: us, Codes: f.codes, Courier: f.courier, Limiter: limiter{throttletest.NewMemoryLimiter(c), cl},
		Login: pipe.Pipeline, Audit: f.audit, Clock: c,
	})
	return f
}

func (f *fixture) user(t *testing.T, id string) identity.User {
	t.Helper()
	u := identity.User{ID: id, TenantID: f.t.ID, Email: strings.ToUpper(id[:1]) + id[1:] + "@Example.com", EmailKey: id + "@example.com",
		FirstName: strings.ToUpper(id[:1]) + id[1:], Active: true, Role: identity.RoleUser}
	if err := f.users.Create(ctx, u); err != nil {
		t.Fatal(err)
	}
	return u
}

// delivered waits for the background deliveries and returns the mails.
func (f *fixture) delivered(t *testing.T) []message.Mail {
	t.Helper()
	if err := f.courier.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	return f.mail.mails()
}

var codeInText = regexp.MustCompile(`code (\d+) `)

func (f *fixture) lastCode(t *testing.T, to string) string {
	t.Helper()
	mails := f.delivered(t)
	for i := len(mails) - 1; i >= 0; i-- {
		if mails[i].To == to {
			if m := codeInText.FindStringSubmatch(mails[i].Text); m != nil {
				return m[1]
			}
		}
	}
	t.Fatalf("no code mailed to %s (mailed: %+v)", to, mails)
	return ""
}

var linkInText = regexp.MustCompile(`link (\S+) `)

// lastLink is the link last mailed to to, and its token.
func (f *fixture) lastLink(t *testing.T, to string) (string, string) {
	t.Helper()
	mails := f.delivered(t)
	for i := len(mails) - 1; i >= 0; i-- {
		if mails[i].To == to {
			if m := linkInText.FindStringSubmatch(mails[i].Text); m != nil {
				u, err := url.Parse(m[1])
				if err != nil {
					t.Fatal(err)
				}
				return m[1], u.Query().Get("token")
			}
		}
	}
	t.Fatalf("no link mailed to %s (mailed: %+v)", to, mails)
	return "", ""
}

func (f *fixture) sendLink(t *testing.T, in emaillogin.LinkInput) string {
	t.Helper()
	if in.Paths == (link.Paths{}) {
		in.Paths = link.Canonical
	}
	if err := f.svc.SendLink(ctx, in); err != nil {
		t.Fatal(err)
	}
	u, err := f.users.ByEmail(ctx, f.t.ID, strings.ToLower(in.Email))
	if err != nil {
		t.Fatal(err)
	}
	_, token := f.lastLink(t, u.Email)
	return token
}

func (f *fixture) verified(t *testing.T, id string) bool {
	t.Helper()
	u, err := f.users.ByID(ctx, f.t.ID, id)
	if err != nil {
		t.Fatal(err)
	}
	return u.EmailVerified
}

func wantField(t *testing.T, what string, err error, field string) {
	t.Helper()
	e := errs.As(err)
	if e == nil || e.Kind != errs.Invalid || len(e.Fields) == 0 || e.Fields[0].Field != field {
		t.Fatalf("%s: %v, want a field error on %q", what, err, field)
	}
}

func TestTheDefaultsAreThePolicysZeroValues(t *testing.T) {
	t.Parallel()
	f := newFixture(t, options{})
	code, lnk := f.svc.CodeKind(), f.svc.LinkKind()
	if code.TTL != 10*time.Minute || code.Length != 6 || code.Limits != domain.DefaultLimits() || code.Purpose != domain.PurposeLoginEmail {
		t.Fatalf("code kind %+v", code)
	}
	if lnk.TTL != time.Hour || lnk.Form != domain.FormLink || lnk.Purpose != domain.PurposeMagicLink || lnk.Limits.DailyCap != domain.DefaultDailyCap {
		t.Fatalf("link kind %+v", lnk)
	}
	if err := code.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := lnk.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestAnEmailCodeSignsInAndVerifiesTheAddress(t *testing.T) {
	t.Parallel()
	f := newFixture(t, options{})
	f.user(t, "ann")
	if err := f.svc.SendCode(ctx, emaillogin.SendInput{Email: " ANN@example.com "}); err != nil {
		t.Fatal(err)
	}
	code := f.lastCode(t, "Ann@Example.com")
	if d := f.comp.last(); len(code) != 6 || d.Expires != 10*time.Minute || d.Name != "Ann" || d.Email != "Ann@Example.com" {
		t.Fatalf("code %q, mail data %+v", code, d)
	}
	out, err := f.svc.VerifyCode(ctx, emaillogin.VerifyInput{Email: "ann@example.com", Code: code, Kind: identity.SessionApp})
	if err != nil {
		t.Fatal(err)
	}
	if out.Result != login.Signed || out.Credentials.AppToken == "" || strings.Join(out.Credentials.Session.AMR, ",") != "otp" || !out.User.EmailVerified {
		t.Fatalf("outcome %+v", out)
	}
	if !f.verified(t, "ann") {
		t.Fatal("an e-mail code sign-in did not mark the address verified")
	}
	if _, err := f.svc.VerifyCode(ctx, emaillogin.VerifyInput{Email: "ann@example.com", Code: code, Kind: identity.SessionApp}); !errors.Is(err, otp.ErrExpired) {
		t.Fatalf("the code again: %v, want otp_expired", err)
	}
}

// A tenant that requires verified addresses lets an address's first
// e-mail sign-in through: the code is the proof.
func TestAnEmailCodeProvesTheAddressOnATenantRequiringIt(t *testing.T) {
	t.Parallel()
	f := newFixture(t, options{tenant: func(tn *tenant.Tenant) { tn.RequireVerifiedEmail = true }})
	f.user(t, "ann")
	if err := f.svc.SendCode(ctx, emaillogin.SendInput{Email: "ann@example.com"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.VerifyCode(ctx, emaillogin.VerifyInput{Email: "ann@example.com", Code: f.lastCode(t, "Ann@Example.com"), Kind: identity.SessionAPI}); err != nil {
		t.Fatalf("an unverified address's code sign-in: %v", err)
	}
	if !f.verified(t, "ann") {
		t.Fatal("not marked verified")
	}
}

// The answers come before the address is looked up: what is done before
// them is the same for every address, and only an active account's
// address gets mail afterwards.
func TestAnswersComeAlikeBeforeTheAddressIsLookedUp(t *testing.T) {
	t.Parallel()
	f := newFixture(t, options{})
	f.user(t, "ann")
	off := f.user(t, "off")
	if err := f.users.SetActive(ctx, f.t.ID, off.ID, false, f.clock.Now()); err != nil {
		t.Fatal(err)
	}
	f.users.gate = make(chan struct{})
	work := map[string][]string{}
	for _, email := range []string{"ann@example.com", "nobody@example.com", "off@example.com"} {
		f.calls.take()
		if err := f.svc.SendCode(ctx, emaillogin.SendInput{Email: email}); err != nil {
			t.Fatalf("%s: %v", email, err)
		}
		if err := f.svc.SendLink(ctx, emaillogin.LinkInput{Email: email, Paths: link.Canonical}); err != nil {
			t.Fatalf("%s: %v", email, err)
		}
		work[email] = f.calls.take()
	}
	want := strings.Join(work["ann@example.com"], "; ")
	if want != "limiter.Hit email-login:ip; otp.Issue; limiter.Hit email-login:ip; limiter.Hit magic-link:addr" {
		t.Errorf("work before the answers: %s; want the budgets and the code only", want)
	}
	for email, w := range work {
		if got := strings.Join(w, "; "); got != want {
			t.Errorf("%s: work\n  %s\nwant the known address's\n  %s", email, got, want)
		}
	}
	close(f.users.gate)
	if mails := f.delivered(t); len(mails) != 2 || mails[0].To != "Ann@Example.com" || mails[1].To != "Ann@Example.com" {
		t.Fatalf("mailed %+v, want the code and the link to ann only", mails)
	}
	// The cooldowns answer alike too.
	for _, email := range []string{"ann@example.com", "nobody@example.com", "off@example.com"} {
		if err := f.svc.SendCode(ctx, emaillogin.SendInput{Email: email}); !errors.Is(err, otp.ErrCooldown) || errs.As(err).RetryAfter < 1 {
			t.Errorf("%s: a second code at once: %v, want otp_cooldown with Retry-After", email, err)
		}
		if err := f.svc.SendLink(ctx, emaillogin.LinkInput{Email: email, Paths: link.Canonical}); !errors.Is(err, otp.ErrCooldown) || errs.As(err).RetryAfter < 1 {
			t.Errorf("%s: a second link at once: %v, want otp_cooldown with Retry-After", email, err)
		}
	}
	f.clock.Advance(domain.DefaultCooldown)
	if err := f.svc.SendLink(ctx, emaillogin.LinkInput{Email: "ann@example.com", Paths: link.Canonical}); err != nil {
		t.Fatalf("a link after the cooldown: %v", err)
	}
}

// A code issued for an address without an account was never sent; even
// the right digits do not sign anyone in.
func TestACodeOfAnAddressWithoutAnAccountIsInvalid(t *testing.T) {
	t.Parallel()
	// With randomness of zeros every code is the same digits: the code of
	// ann's address, mailed to her, is the one issued for nobody's.
	f := newFixture(t, options{random: zeros{}})
	f.user(t, "ann")
	for _, email := range []string{"ann@example.com", "nobody@example.com"} {
		if err := f.svc.SendCode(ctx, emaillogin.SendInput{Email: email}); err != nil {
			t.Fatal(err)
		}
	}
	code := f.lastCode(t, "Ann@Example.com")
	if mails := f.delivered(t); len(mails) != 1 {
		t.Fatalf("%d mails, want ann's only", len(mails))
	}
	if _, err := f.svc.VerifyCode(ctx, emaillogin.VerifyInput{Email: "nobody@example.com", Code: code, Kind: identity.SessionAPI}); !errors.Is(err, otp.ErrInvalid) {
		t.Fatalf("%v, want otp_invalid", err)
	}
	if _, err := f.svc.VerifyCode(ctx, emaillogin.VerifyInput{Email: "ann@example.com", Code: code, Kind: identity.SessionAPI}); err != nil {
		t.Fatalf("the same digits for ann, to whom they were mailed: %v", err)
	}
}

// zeros is randomness that is all zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// A magic link over the address's daily cap answers like any other and
// sends nothing.
func TestAMagicLinkOverTheDailyCapAnswersAlikeAndSendsNothing(t *testing.T) {
	t.Parallel()
	f := newFixture(t, options{policy: emaillogin.Policy{Limits: domain.Limits{MaxAttempts: 5, DailyCap: 1}}}) // no cooldown
	f.user(t, "ann")
	for i := range 3 {
		if err := f.svc.SendLink(ctx, emaillogin.LinkInput{Email: "ann@example.com", Paths: link.Canonical}); err != nil {
			t.Fatalf("link %d: %v", i+1, err)
		}
		f.delivered(t)
	}
	if mails := f.delivered(t); len(mails) != 1 {
		t.Fatalf("%d links mailed, want 1 (the daily cap)", len(mails))
	}
}

func TestWrongCodesKillTheChallengeAtTheLimit(t *testing.T) {
	t.Parallel()
	f := newFixture(t, options{})
	f.user(t, "ann")
	if err := f.svc.SendCode(ctx, emaillogin.SendInput{Email: "ann@example.com"}); err != nil {
		t.Fatal(err)
	}
	code := f.lastCode(t, "Ann@Example.com")
	wrong := []byte(code)
	wrong[0] = '0' + (wrong[0]-'0'+1)%10
	for i := range domain.DefaultMaxAttempts {
		if _, err := f.svc.VerifyCode(ctx, emaillogin.VerifyInput{Email: "ann@example.com", Code: string(wrong), Kind: identity.SessionAPI}); !errors.Is(err, otp.ErrInvalid) {
			t.Fatalf("wrong code %d: %v, want otp_invalid", i+1, err)
		}
	}
	if _, err := f.svc.VerifyCode(ctx, emaillogin.VerifyInput{Email: "ann@example.com", Code: code, Kind: identity.SessionAPI}); !errors.Is(err, otp.ErrExhausted) {
		t.Fatalf("the right code after %d wrong ones: %v, want otp_attempts_exceeded", domain.DefaultMaxAttempts, err)
	}
	if f.verified(t, "ann") {
		t.Fatal("a failed sign-in marked the address verified")
	}
}

func TestTheDailyCapAndTheIPBudgetAnswer429(t *testing.T) {
	t.Parallel()
	f := newFixture(t, options{policy: emaillogin.Policy{
		Limits:    domain.Limits{MaxAttempts: 5, DailyCap: 2}, // no cooldown
		SendPerIP: tenant.Limit{Count: 5, Window: time.Hour},
	}})
	f.user(t, "ann")
	for i := range 2 {
		if err := f.svc.SendCode(ctx, emaillogin.SendInput{Email: "ann@example.com"}); err != nil {
			t.Fatalf("code %d: %v", i+1, err)
		}
	}
	err := f.svc.SendCode(ctx, emaillogin.SendInput{Email: "ann@example.com"})
	if !errors.Is(err, otp.ErrDailyCap) || errs.KindOf(err) != errs.RateLimited || errs.As(err).RetryAfter < 1 {
		t.Fatalf("a third code of the day: %v, want otp_daily_cap with Retry-After", err)
	}
	// Each purpose has its own cap: the codes did not use up the links.
	if err := f.svc.SendLink(ctx, emaillogin.LinkInput{Email: "ann@example.com", Paths: link.Canonical}); err != nil {
		t.Fatalf("a link after the day's codes: %v", err)
	}
	for _, email := range []string{"b@example.com"} {
		if err := f.svc.SendCode(ctx, emaillogin.SendInput{Email: email}); err != nil {
			t.Fatal(err)
		}
	}
	err = f.svc.SendCode(ctx, emaillogin.SendInput{Email: "d@example.com"})
	if !errors.Is(err, throttle.ErrThrottled) || errs.As(err).RetryAfter < 1 {
		t.Fatalf("the sixth request from one address: %v, want throttled with Retry-After", err)
	}
}

func TestBadInputIsAFieldError(t *testing.T) {
	t.Parallel()
	f := newFixture(t, options{})
	for _, email := range []string{"", "ann", "ann@example", "Ann <ann@example.com>", "ann@example.com\r\nBcc: x@evil.example"} {
		wantField(t, "send code to "+email, f.svc.SendCode(ctx, emaillogin.SendInput{Email: email}), "email")
		wantField(t, "send link to "+email, f.svc.SendLink(ctx, emaillogin.LinkInput{Email: email}), "email")
		_, err := f.svc.VerifyCode(ctx, emaillogin.VerifyInput{Email: email, Code: "123456"})
		wantField(t, "verify for "+email, err, "email")
	}
	_, err := f.svc.VerifyCode(ctx, emaillogin.VerifyInput{Email: "ann@example.com"})
	wantField(t, "verify without a code", err, "code")
	_, err = f.svc.ConfirmLink(ctx, " ")
	wantField(t, "confirm without a token", err, "token")
	_, err = f.svc.ConsumeLink(ctx, emaillogin.ConsumeInput{})
	wantField(t, "consume without a token", err, "token")
	if len(f.delivered(t)) != 0 {
		t.Fatal("bad input sent mail")
	}
}

func TestTheMethodMustBeEnabled(t *testing.T) {
	t.Parallel()
	f := newFixture(t, options{tenant: func(tn *tenant.Tenant) { tn.LoginMethods = []tenant.LoginMethod{tenant.MethodPassword} }})
	f.user(t, "ann")
	_, errConfirm := f.svc.ConfirmLink(ctx, "t")
	_, errConsume := f.svc.ConsumeLink(ctx, emaillogin.ConsumeInput{Token: "t"})
	_, errVerify := f.svc.VerifyCode(ctx, emaillogin.VerifyInput{Email: "ann@example.com", Code: "123456"})
	for name, err := range map[string]error{
		"send code": f.svc.SendCode(ctx, emaillogin.SendInput{Email: "ann@example.com"}),
		"send link": f.svc.SendLink(ctx, emaillogin.LinkInput{Email: "ann@example.com"}),
		"verify":    errVerify, "confirm": errConfirm, "consume": errConsume,
	} {
		if !errors.Is(err, login.ErrMethodDisabled) {
			t.Errorf("%s: %v, want method_disabled", name, err)
		}
	}
}

func TestAMagicLinkIsTheTenantsBaseURLAndTheSurfacesPath(t *testing.T) {
	t.Parallel()
	f := newFixture(t, options{policy: emaillogin.Policy{BaseURL: "https://accounts.shop.example/"}})
	f.user(t, "ann")
	for _, paths := range []link.Paths{link.Canonical, link.Seed001} {
		f.clock.Advance(domain.DefaultCooldown)
		if err := f.svc.SendLink(ctx, emaillogin.LinkInput{Email: "ann@example.com", Paths: paths}); err != nil {
			t.Fatal(err)
		}
		l, token := f.lastLink(t, "Ann@Example.com")
		if want := "https://accounts.shop.example" + paths.MagicLink + "?token=" + token; l != want || !f.svc.LinkKind().WellFormed(token) {
			t.Fatalf("link %q, want %q", l, want)
		}
		if d := f.comp.last(); d.Expires != time.Hour || d.Name != "Ann" {
			t.Fatalf("mail data %+v", d)
		}
	}
}

// Opening the link (a scanner's GET or HEAD, a prefetch, the user's own
// visit) confirms it as often as it is opened; only the consume uses it.
func TestConfirmingALinkNeverUsesItUp(t *testing.T) {
	t.Parallel()
	f := newFixture(t, options{})
	f.user(t, "ann")
	token := f.sendLink(t, emaillogin.LinkInput{Email: "ann@example.com", Next: "/orders"})
	for i := range 10 {
		info, err := f.svc.ConfirmLink(ctx, token)
		if err != nil {
			t.Fatalf("confirm %d: %v", i+1, err)
		}
		if info.Email != "A***@Example.com" || info.Next != "/orders" || !info.ExpiresAt.Equal(f.clock.Now().Add(time.Hour)) {
			t.Fatalf("confirm %d: %+v", i+1, info)
		}
	}
	if f.verified(t, "ann") {
		t.Fatal("confirming marked the address verified")
	}
	out, err := f.svc.ConsumeLink(ctx, emaillogin.ConsumeInput{Token: token, Kind: identity.SessionWeb})
	if err != nil {
		t.Fatal(err)
	}
	if out.Result != login.Signed || out.Credentials.Cookie == "" || strings.Join(out.Credentials.Session.AMR, ",") != "otp" || out.Next != "/orders" {
		t.Fatalf("outcome %+v", out)
	}
	if !f.verified(t, "ann") || !out.User.EmailVerified {
		t.Fatal("consuming the link did not mark the address verified")
	}
	if _, err := f.svc.ConfirmLink(ctx, token); !errors.Is(err, otp.ErrExpired) {
		t.Fatalf("confirming a used link: %v, want otp_expired", err)
	}
	if _, err := f.svc.ConsumeLink(ctx, emaillogin.ConsumeInput{Token: token, Kind: identity.SessionWeb}); !errors.Is(err, otp.ErrExpired) {
		t.Fatalf("the link again: %v, want otp_expired", err)
	}
}

func TestAnExpiredLinkIsRefused(t *testing.T) {
	t.Parallel()
	f := newFixture(t, options{})
	f.user(t, "ann")
	token := f.sendLink(t, emaillogin.LinkInput{Email: "ann@example.com"})
	f.clock.Advance(time.Hour)
	if _, err := f.svc.ConfirmLink(ctx, token); !errors.Is(err, otp.ErrExpired) {
		t.Fatalf("confirm: %v", err)
	}
	if _, err := f.svc.ConsumeLink(ctx, emaillogin.ConsumeInput{Token: token, Kind: identity.SessionWeb}); !errors.Is(err, otp.ErrExpired) {
		t.Fatalf("consume: %v", err)
	}
	if _, err := f.svc.ConsumeLink(ctx, emaillogin.ConsumeInput{Token: "not-a-token", Kind: identity.SessionWeb}); !errors.Is(err, otp.ErrExpired) {
		t.Fatalf("a malformed token: %v", err)
	}
}

func TestOneOfTwentyConcurrentConsumesSignsIn(t *testing.T) {
	t.Parallel()
	f := newFixture(t, options{})
	f.user(t, "ann")
	token := f.sendLink(t, emaillogin.LinkInput{Email: "ann@example.com"})
	var signed, expired, other atomic.Int32
	platformtest.Race(platformtest.Racers, func(int) {
		out, err := f.svc.ConsumeLink(ctx, emaillogin.ConsumeInput{Token: token, Kind: identity.SessionAPI})
		switch {
		case err == nil && out.Result == login.Signed:
			signed.Add(1)
		case errors.Is(err, otp.ErrExpired):
			expired.Add(1)
		default:
			other.Add(1)
		}
	})
	if signed.Load() != 1 || expired.Load() != platformtest.Racers-1 || other.Load() != 0 {
		t.Fatalf("%d signed in, %d expired, %d other; want 1, %d, 0", signed.Load(), expired.Load(), other.Load(), platformtest.Racers-1)
	}
}

func TestASameDeviceLinkWorksOnlyInTheBrowserThatAskedForIt(t *testing.T) {
	t.Parallel()
	f := newFixture(t, options{policy: emaillogin.Policy{SameDevice: true}})
	f.user(t, "ann")
	if err := f.svc.SendLink(ctx, emaillogin.LinkInput{Email: "ann@example.com", Paths: link.Canonical}); err == nil || errs.KindOf(err) != errs.Internal {
		t.Fatalf("a same-device link without the device value: %v, want an internal error (the surface must set it)", err)
	}
	token := f.sendLink(t, emaillogin.LinkInput{Email: "ann@example.com", Device: "browser-1"})
	for _, device := range []string{"", "browser-2"} {
		_, err := f.svc.ConsumeLink(ctx, emaillogin.ConsumeInput{Token: token, Kind: identity.SessionWeb, Device: device})
		if !errors.Is(err, emaillogin.ErrOtherDevice) || errs.KindOf(err) != errs.Forbidden || !strings.Contains(errs.As(err).Message, "browser where it was requested") {
			t.Fatalf("device %q: %v, want magic_link_other_device", device, err)
		}
	}
	if _, err := f.svc.ConfirmLink(ctx, token); err != nil {
		t.Fatalf("the refused attempts used the link up: %v", err)
	}
	if f.verified(t, "ann") {
		t.Fatal("a refused attempt marked the address verified")
	}
	if _, err := f.svc.ConsumeLink(ctx, emaillogin.ConsumeInput{Token: token, Kind: identity.SessionWeb, Device: "browser-1"}); err != nil {
		t.Fatalf("the browser that asked: %v", err)
	}
}

func TestNextIsCheckedAgainstTheTenantsRedirectPolicy(t *testing.T) {
	t.Parallel()
	f := newFixture(t, options{})
	f.user(t, "ann")
	for _, bad := range []string{"//evil.example", "https://evil.example/x", "javascript:alert(1)", `/\evil.example`, "https://app.shop.example@evil.example"} {
		err := f.svc.SendLink(ctx, emaillogin.LinkInput{Email: "ann@example.com", Next: bad, Paths: link.Canonical})
		wantField(t, "next "+bad, err, "next")
	}
	if len(f.delivered(t)) != 0 {
		t.Fatal("a refused next sent mail")
	}
	token := f.sendLink(t, emaillogin.LinkInput{Email: "ann@example.com", Next: "https://app.shop.example/welcome?x=1&y=2"})
	info, err := f.svc.ConfirmLink(ctx, token)
	if err != nil || info.Next != "https://app.shop.example/welcome?x=1&y=2" {
		t.Fatalf("confirm: %+v, %v", info, err)
	}
	out, err := f.svc.ConsumeLink(ctx, emaillogin.ConsumeInput{Token: token, Kind: identity.SessionWeb})
	if err != nil || out.Next != "https://app.shop.example/welcome?x=1&y=2" {
		t.Fatalf("consume: next %q, %v", out.Next, err)
	}
}

// A token of another purpose (a password reset of the same tenant, on the
// same engine) is no magic link.
func TestAResetTokenIsNoMagicLink(t *testing.T) {
	t.Parallel()
	f := newFixture(t, options{})
	f.user(t, "ann")
	reset := domain.EmailLink(domain.PurposePasswordReset, 30*time.Minute, 10)
	issued, err := f.codes.Issue(ctx, reset, "v=1&u=ann&e=ann%40example.com&x=0", "ann@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.ConfirmLink(ctx, issued.Secret); !errors.Is(err, otp.ErrExpired) {
		t.Fatalf("confirm a reset token: %v, want otp_expired", err)
	}
	if _, err := f.svc.ConsumeLink(ctx, emaillogin.ConsumeInput{Token: issued.Secret, Kind: identity.SessionWeb}); !errors.Is(err, otp.ErrExpired) {
		t.Fatalf("consume a reset token: %v, want otp_expired", err)
	}
	if _, err := f.codes.Verify(ctx, reset, "", issued.Secret); err != nil {
		t.Fatalf("the reset token was touched: %v", err)
	}
}

func TestAnotherTenantsLinkIsRefused(t *testing.T) {
	t.Parallel()
	shared := otptest.NewMemoryStore(platformtest.NewClock(time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)))
	a := newFixture(t, options{id: "shop", store: shared})
	b := newFixture(t, options{id: "other", store: shared})
	a.user(t, "ann")
	b.user(t, "ann") // the same id and address in tenant B
	token := a.sendLink(t, emaillogin.LinkInput{Email: "ann@example.com"})
	if _, err := b.svc.ConfirmLink(ctx, token); !errors.Is(err, otp.ErrExpired) {
		t.Fatalf("tenant A's link confirmed on B: %v", err)
	}
	if _, err := b.svc.ConsumeLink(ctx, emaillogin.ConsumeInput{Token: token, Kind: identity.SessionWeb}); !errors.Is(err, otp.ErrExpired) {
		t.Fatalf("tenant A's link consumed on B: %v", err)
	}
	if _, err := a.svc.ConsumeLink(ctx, emaillogin.ConsumeInput{Token: token, Kind: identity.SessionWeb}); err != nil {
		t.Fatalf("on A: %v", err)
	}
}

func TestADisabledAccountCannotConsume(t *testing.T) {
	t.Parallel()
	f := newFixture(t, options{})
	f.user(t, "ann")
	token := f.sendLink(t, emaillogin.LinkInput{Email: "ann@example.com"})
	if err := f.svc.SendCode(ctx, emaillogin.SendInput{Email: "ann@example.com"}); err != nil {
		t.Fatal(err)
	}
	code := f.lastCode(t, "Ann@Example.com")
	if err := f.users.SetActive(ctx, f.t.ID, "ann", false, f.clock.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.ConsumeLink(ctx, emaillogin.ConsumeInput{Token: token, Kind: identity.SessionWeb}); !errors.Is(err, login.ErrInvalidCredentials) {
		t.Fatalf("link: %v, want invalid_credentials", err)
	}
	if _, err := f.svc.VerifyCode(ctx, emaillogin.VerifyInput{Email: "ann@example.com", Code: code, Kind: identity.SessionWeb}); !errors.Is(err, login.ErrInvalidCredentials) {
		t.Fatalf("code: %v, want invalid_credentials", err)
	}
	if f.verified(t, "ann") {
		t.Fatal("a disabled account's address was marked verified")
	}
}

// A link mailed to an address the account has since left does not sign
// in: whoever reads the old mailbox is no longer the account's owner.
func TestALinkToAnAddressTheAccountLeftIsRefused(t *testing.T) {
	t.Parallel()
	f := newFixture(t, options{})
	f.user(t, "ann")
	token := f.sendLink(t, emaillogin.LinkInput{Email: "ann@example.com"})
	f.users.move("ann", "ann@new.example")
	if _, err := f.svc.ConfirmLink(ctx, token); !errors.Is(err, otp.ErrExpired) {
		t.Fatalf("confirm: %v, want otp_expired", err)
	}
	if _, err := f.svc.ConsumeLink(ctx, emaillogin.ConsumeInput{Token: token, Kind: identity.SessionWeb}); !errors.Is(err, otp.ErrExpired) {
		t.Fatalf("consume: %v, want otp_expired", err)
	}
	if f.verified(t, "ann") {
		t.Fatal("the new address was marked verified by a link to the old one")
	}
}

// TestAResubmittedLinkIsSpentOnlyBySigningIn: with Resubmit, a link of a
// user with a second factor sent without a code, or with a wrong one,
// stays usable; sent again with a right code it signs in, once.
func TestAResubmittedLinkIsSpentOnlyBySigningIn(t *testing.T) {
	t.Parallel()
	f := newFixture(t, options{tenant: func(tn *tenant.Tenant) {
		tn.LoginMethods = append(tn.LoginMethods, tenant.MethodTOTP)
	}})
	u := f.user(t, "ann")
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
	token := f.sendLink(t, emaillogin.LinkInput{Email: "ann@example.com"})
	consume := func(code string) (emaillogin.LinkOutcome, error) {
		return f.svc.ConsumeLink(ctx, emaillogin.ConsumeInput{Token: token, Kind: identity.SessionApp, SecondFactor: code, Resubmit: true})
	}
	_, err = consume("")
	if _, ok := login.ChallengeOf(err); !errors.Is(err, login.ErrMFARequired) || ok {
		t.Fatalf("no code: %v, want mfa_required without a challenge", err)
	}
	if _, err := consume("zzzzzzzz"); !errors.Is(err, mfa.ErrInvalidCode) {
		t.Fatalf("a wrong code: %v", err)
	}
	if _, err := f.svc.ConfirmLink(ctx, token); err != nil {
		t.Fatalf("the link after sign-ins refused for their second factor: %v, want usable", err)
	}
	out, err := consume(e.BackupCodes[0])
	if err != nil || out.Result != login.Signed || out.Credentials.AppToken == "" {
		t.Fatalf("a right code: %+v, %v", out, err)
	}
	if _, err := consume(e.BackupCodes[1]); !errors.Is(err, otp.ErrExpired) {
		t.Fatalf("the link again: %v, want otp_expired", err)
	}
	// Without Resubmit the link is spent first, and the sign-in ends in
	// the challenge.
	f.clock.Advance(2 * time.Minute) // the resend cooldown
	token = f.sendLink(t, emaillogin.LinkInput{Email: "ann@example.com"})
	_, err = f.svc.ConsumeLink(ctx, emaillogin.ConsumeInput{Token: token, Kind: identity.SessionApp})
	if _, ok := login.ChallengeOf(err); !ok {
		t.Fatalf("without Resubmit: %v, want a challenge", err)
	}
	if _, err := f.svc.ConfirmLink(ctx, token); !errors.Is(err, otp.ErrExpired) {
		t.Fatalf("the link after the challenge: %v, want spent", err)
	}
}
