package adminlogin_test

import (
	"context"
	"crypto/rand"
	"errors"
	"net/netip"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portcullis/portcullis/application/account/accounttest"
	"github.com/portcullis/portcullis/application/adminlogin"
	"github.com/portcullis/portcullis/application/audit"
	"github.com/portcullis/portcullis/application/audit/audittest"
	"github.com/portcullis/portcullis/application/courier"
	"github.com/portcullis/portcullis/application/device/devicetest"
	"github.com/portcullis/portcullis/application/login"
	"github.com/portcullis/portcullis/application/login/logintest"
	"github.com/portcullis/portcullis/application/mfa"
	"github.com/portcullis/portcullis/application/mfa/mfatest"
	"github.com/portcullis/portcullis/application/otp"
	"github.com/portcullis/portcullis/application/otp/otptest"
	"github.com/portcullis/portcullis/application/password"
	"github.com/portcullis/portcullis/application/platform/platformtest"
	"github.com/portcullis/portcullis/application/session"
	"github.com/portcullis/portcullis/application/session/sessiontest"
	"github.com/portcullis/portcullis/application/throttle"
	"github.com/portcullis/portcullis/application/throttle/throttletest"
	"github.com/portcullis/portcullis/domain/errs"
	"github.com/portcullis/portcullis/domain/identity"
	"github.com/portcullis/portcullis/domain/message"
	"github.com/portcullis/portcullis/domain/tenant"
	"github.com/pquerna/otp/totp"
)

var ctx = context.Background()

const day = 24 * time.Hour

// hasher is a transparent fake: "fake$" + the password.
type hasher struct{}

func (hasher) Hash(_ context.Context, pw string, _ tenant.HashParams) (string, error) {
	return "fake$" + pw, nil
}

func (hasher) Verify(_ context.Context, pw, encoded string, _ tenant.HashParams) (bool, bool, error) {
	return encoded == "fake$"+pw, false, nil
}

type tokens struct{}

func (tokens) Issue(_ context.Context, c session.AccessClaims) (string, error) {
	return "at." + c.SessionID, nil
}
func (tokens) Verify(context.Context, string) (session.AccessClaims, error) {
	return session.AccessClaims{}, session.ErrInvalidToken
}

// composer writes the code into the text, as a template would.
type composer struct{}

func (composer) Compose(kind message.MailKind, to string, d message.MailData) (message.Mail, error) {
	return message.Mail{To: to, Subject: string(kind), Text: "code " + d.Code + " expires " + d.Expires.String()}, nil
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

type fixture struct {
	svc      *adminlogin.Service
	sessions *session.Service
	issuer   *session.Issuer
	users    *accounttest.MemoryUsers
	courier  *courier.Courier
	mail     *mailer
	clock    *platformtest.Clock
	factors  mfatest.Fixture
	audit    *audittest.Recorder
	t        tenant.Tenant
}

const pw = "correct horse battery"

func newFixture(t *testing.T, mutate ...func(*tenant.Tenant)) *fixture {
	t.Helper()
	tn := tenant.Default()
	tn.ID, tn.DisplayName = "shop", "Shop"
	tn.LoginMethods = []tenant.LoginMethod{tenant.MethodAdminOTP, tenant.MethodTOTP}
	tn.Profiles.Seed002 = true
	for _, m := range mutate {
		m(&tn)
	}
	if err := tn.Validate(); err != nil {
		t.Fatal(err)
	}
	c := platformtest.NewClock(time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC))
	f := &fixture{users: accounttest.NewMemoryUsers(), mail: &mailer{}, clock: c, audit: audittest.NewRecorder(), t: tn}
	ss, revs := sessiontest.NewMemorySessions(), sessiontest.NewMemoryRevocations(c)
	f.sessions = session.New(tn, session.Deps{Users: f.users, Sessions: ss, Refresh: sessiontest.NewMemoryRefreshTokens(),
		Revocations: revs, Tokens: tokens{}, Sync: session.NewSync(ss, revs, c, time.Second), Audit: f.audit, Clock: c, Random: rand.Reader})
	f.issuer = session.NewIssuer(f.sessions)
	f.courier = courier.New(tn.ID, composer{}, f.mail, nil)
	devices := devicetest.NewService(t, tn, c)
	pipe := logintest.New(t, tn, logintest.Options{Users: f.users, Issuer: f.issuer, Places: devices, Mail: f.courier, Clock: c, Audit: f.audit})
	f.factors = pipe.Factors
	limiter := throttletest.NewMemoryLimiter(c)
	passwords := password.New(tn, password.Deps{Users: f.users, Limiter: limiter, Hasher: hasher{}, Login: pipe.Pipeline, Devices: devices,
		Audit: f.audit, Clock: c, Random: rand.Reader})
	key, err := otp.DeriveKey([]byte("a master key of at least sixteen bytes"), tn.ID)
	if err != nil {
		t.Fatal(err)
	}
	codes := otp.New(tn.ID, key, otptest.NewMemoryStore(c), c, rand.Reader)
	f.svc = adminlogin.New(tn, adminlogin.Policy{SendPerIP: tenant.Limit{Count: 1000, Window: time.Hour}}, adminlogin.Deps{
		Users: f.users, Passwords: passwords, Codes: codes, Courier: f.courier, Limiter: limiter, Sessions: f.sessions,
		Audit: f.audit, Clock: c,
	})
	return f
}

// account stores an account of role with the password pw.
func (f *fixture) account(t *testing.T, id string, role identity.Role, active, verified bool) identity.User {
	t.Helper()
	u := identity.User{ID: id, TenantID: "shop", Email: strings.ToUpper(id[:1]) + id[1:] + "@Example.com", EmailKey: id + "@example.com",
		FirstName: "Ann", Role: role, Active: active, EmailVerified: verified, PasswordHash: "fake$" + pw, CreatedAt: f.clock.Now()}
	if err := f.users.Create(ctx, u); err != nil {
		t.Fatal(err)
	}
	return u
}

var alice = session.Client{IP: netip.MustParseAddr("198.51.100.7"), UserAgent: "test"}

func (f *fixture) login(email, password, code string) (login.Outcome, error) {
	return f.svc.Login(ctx, adminlogin.LoginInput{Email: email, Password: password, SecondFactor: code, Client: alice})
}

func (f *fixture) confirm(email, code string) error {
	return f.svc.Confirm(ctx, adminlogin.ConfirmInput{Email: email, Code: code, Client: alice})
}

func (f *fixture) resend(email string) error {
	return f.svc.Resend(ctx, adminlogin.ResendInput{Email: email, Client: alice})
}

var sixDigits = regexp.MustCompile(`code (\d{6}) `)

// codes waits for the background deliveries and returns the activation
// codes mailed since the last call, by recipient.
func (f *fixture) codes(t *testing.T) map[string][]string {
	t.Helper()
	if err := f.courier.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	f.mail.mu.Lock()
	defer f.mail.mu.Unlock()
	out := map[string][]string{}
	for _, m := range f.mail.sent {
		if m.Subject != string(message.MailAdminActivation) {
			continue
		}
		c := sixDigits.FindStringSubmatch(m.Text)
		if c == nil {
			t.Fatalf("an activation mail without a six-digit code: %q", m.Text)
		}
		out[m.To] = append(out[m.To], c[1])
	}
	f.mail.sent = nil
	return out
}

// TestAnAdminSignsInWithATokenThatLivesWhileItIsUsed: an active admin
// gets an app token whose session slides by the seed's 30 days; it
// authenticates the seed's routes for 290 days of use every 29 days and
// ends 30 days after its last use.
func TestAnAdminSignsInWithATokenThatLivesWhileItIsUsed(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.account(t, "boss", identity.RoleAdmin, true, true)
	out, err := f.login("Boss@Example.com", pw, "")
	if err != nil || out.Result != login.Signed || out.Credentials.AppToken == "" || out.User.ID != "boss" {
		t.Fatalf("login: %+v, %v", out, err)
	}
	s := out.Credentials.Session
	if s.Kind != identity.SessionApp || s.IdleTimeout != 30*day || !s.ExpiresAt.Equal(s.CreatedAt.Add(365*day)) {
		t.Fatalf("the token's session %+v: want seed 002's lifetime", s)
	}
	token := out.Credentials.AppToken
	for i := range 10 {
		f.clock.Advance(29 * day)
		p, err := f.svc.Authenticate(ctx, token)
		if err != nil || p.User.ID != "boss" {
			t.Fatalf("use %d: %+v, %v", i+1, p, err)
		}
	}
	f.clock.Advance(30 * day)
	if _, err := f.svc.Authenticate(ctx, token); !errors.Is(err, session.ErrInvalidToken) {
		t.Fatalf("30 days without use: %v, want invalid_token", err)
	}
	if got := f.codes(t); len(got) != 0 {
		t.Fatalf("an active admin was mailed codes: %v", got)
	}
}

// TestAnyoneButAnActiveAdminLooksLikeAWrongPassword: the right password
// of a user, a member of staff or a disabled admin (pending activation or
// not) answers exactly what a wrong password and an unknown address
// answer, and mails nothing.
func TestAnyoneButAnActiveAdminLooksLikeAWrongPassword(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.account(t, "ann", identity.RoleUser, true, true)
	f.account(t, "pending", identity.RoleUser, true, false)
	f.account(t, "staff", identity.RoleStaff, true, true)
	f.account(t, "gone", identity.RoleAdmin, false, true)
	f.account(t, "gonepending", identity.RoleAdmin, false, false)
	_, want := f.login("ann@example.com", "wrong horse battery", "")
	if !errors.Is(want, login.ErrInvalidCredentials) {
		t.Fatalf("a wrong password: %v", want)
	}
	for _, email := range []string{"ann@example.com", "pending@example.com", "staff@example.com", "gone@example.com", "gonepending@example.com", "nobody@example.com"} {
		out, err := f.login(email, pw, "")
		if !reflect.DeepEqual(errs.As(err), errs.As(want)) || out.Credentials.AppToken != "" {
			t.Errorf("%s: %+v, %v; want exactly %v", email, out, err, want)
		}
	}
	if got := f.codes(t); len(got) != 0 {
		t.Fatalf("mailed %v", got)
	}
	// The audit log keeps the reason the client is not told.
	reasons := map[string]string{}
	for _, e := range f.audit.Of(audit.LoginFailed) {
		reasons[e.TargetID] = e.Reason
	}
	for id, want := range map[string]string{"pending": "not_admin", "staff": "not_admin", "gone": "account_disabled", "gonepending": "account_disabled"} {
		if reasons[id] != want {
			t.Errorf("%s recorded as %q, want %q", id, reasons[id], want)
		}
	}
}

// TestAnAdminPendingActivationIsMailedACodeOncePerCooldown: the right
// password of an admin whose address is not verified mails a six-digit
// code and answers activation_pending; within 60 s a second sign-in
// answers otp_cooldown with Retry-After and mails nothing; after it a new
// code. A wrong password mails nothing. The audit log holds no code or
// password.
func TestAnAdminPendingActivationIsMailedACodeOncePerCooldown(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.account(t, "boss", identity.RoleAdmin, true, false)
	if _, err := f.login("boss@example.com", "wrong horse battery", ""); !errors.Is(err, login.ErrInvalidCredentials) {
		t.Fatalf("a wrong password: %v", err)
	}
	out, err := f.login("boss@example.com", pw, "")
	if !errors.Is(err, adminlogin.ErrActivationPending) || out.Credentials.AppToken != "" {
		t.Fatalf("pending: %+v, %v", out, err)
	}
	first := f.codes(t)["Boss@Example.com"]
	if len(first) != 1 {
		t.Fatalf("codes mailed: %v; want one to the account's address", first)
	}
	f.clock.Advance(59 * time.Second)
	_, err = f.login("boss@example.com", pw, "")
	if !errors.Is(err, otp.ErrCooldown) || errs.RetryAfter(errs.As(err)) != 1 {
		t.Fatalf("again within the cooldown: %v (retry after %d), want otp_cooldown", err, errs.RetryAfter(errs.As(err)))
	}
	if got := f.codes(t); len(got) != 0 {
		t.Fatalf("mailed within the cooldown: %v", got)
	}
	f.clock.Advance(time.Second)
	if _, err := f.login("boss@example.com", pw, ""); !errors.Is(err, adminlogin.ErrActivationPending) {
		t.Fatalf("after the cooldown: %v", err)
	}
	second := f.codes(t)["Boss@Example.com"]
	if len(second) != 1 {
		t.Fatalf("after the cooldown mailed %v", second)
	}
	// The first code was replaced by the second.
	if first[0] != second[0] {
		if err := f.confirm("boss@example.com", first[0]); !errors.Is(err, otp.ErrInvalid) {
			t.Fatalf("the replaced code: %v", err)
		}
	}
	if err := f.confirm("boss@example.com", second[0]); err != nil {
		t.Fatalf("the new code: %v", err)
	}
	types := f.audit.Types()
	for _, want := range []audit.Type{audit.ActivationPending, audit.ActivationCodeSent, audit.ActivationConfirmed} {
		if !slices.Contains(types, want) {
			t.Errorf("no %s recorded: %v", want, types)
		}
	}
	if held := f.audit.Holding(first[0], second[0], pw, "wrong horse battery"); len(held) > 0 {
		t.Fatalf("events hold a secret: %+v", held)
	}
}

// TestAConfirmedCodeActivatesTheAdmin: a wrong code is otp_invalid and
// changes nothing; the right one marks the address verified once (it is
// used up) and the admin then signs in.
func TestAConfirmedCodeActivatesTheAdmin(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.account(t, "boss", identity.RoleAdmin, true, false)
	if _, err := f.login("boss@example.com", pw, ""); !errors.Is(err, adminlogin.ErrActivationPending) {
		t.Fatal(err)
	}
	code := f.codes(t)["Boss@Example.com"][0]
	if err := f.confirm("boss@example.com", wrong(code)); !errors.Is(err, otp.ErrInvalid) {
		t.Fatalf("a wrong code: %v", err)
	}
	if err := f.confirm("BOSS@example.com", code); err != nil {
		t.Fatalf("the right code: %v", err)
	}
	if u, _ := f.users.ByID(ctx, "shop", "boss"); !u.EmailVerified || !u.Active {
		t.Fatalf("after confirming: %+v", u)
	}
	if err := f.confirm("boss@example.com", code); !errors.Is(err, otp.ErrExpired) {
		t.Fatalf("the code again: %v, want otp_expired (used)", err)
	}
	out, err := f.login("boss@example.com", pw, "")
	if err != nil || out.Credentials.AppToken == "" {
		t.Fatalf("sign-in after activation: %+v, %v", out, err)
	}
	confirmed := f.audit.Of(audit.ActivationConfirmed)
	if len(confirmed) != 1 || confirmed[0].TargetID != "boss" {
		t.Fatalf("confirmations recorded %+v", confirmed)
	}
}

// TestGuessingStopsAtTheAttemptLimit: after the tenant's wrong-attempt
// limit the code is dead: the right code is refused (otp_attempts_exceeded)
// and the admin stays pending until a new code.
func TestGuessingStopsAtTheAttemptLimit(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.account(t, "boss", identity.RoleAdmin, true, false)
	if _, err := f.login("boss@example.com", pw, ""); !errors.Is(err, adminlogin.ErrActivationPending) {
		t.Fatal(err)
	}
	code := f.codes(t)["Boss@Example.com"][0]
	limit := f.svc.CodeKind().Limits.MaxAttempts
	if limit != 5 {
		t.Fatalf("attempt limit %d, want the tenant's default 5", limit)
	}
	for i := range limit {
		if err := f.confirm("boss@example.com", wrong(code)); !errors.Is(err, otp.ErrInvalid) {
			t.Fatalf("wrong code %d: %v", i+1, err)
		}
	}
	if err := f.confirm("boss@example.com", code); !errors.Is(err, otp.ErrExhausted) {
		t.Fatalf("the right code after %d wrong ones: %v, want otp_attempts_exceeded", limit, err)
	}
	if u, _ := f.users.ByID(ctx, "shop", "boss"); u.EmailVerified {
		t.Fatal("activated by a dead code")
	}
	failed := f.audit.Of(audit.ActivationFailed)
	if len(failed) != limit+1 || failed[limit].Reason != "otp_attempts_exceeded" || failed[0].Reason != "otp_invalid" {
		t.Fatalf("refusals recorded %+v", failed)
	}
	// A new code (after the cooldown) works.
	f.clock.Advance(time.Minute)
	if err := f.resend("boss@example.com"); err != nil {
		t.Fatal(err)
	}
	if err := f.confirm("boss@example.com", f.codes(t)["Boss@Example.com"][0]); err != nil {
		t.Fatalf("a new code: %v", err)
	}
}

// TestConfirmFindsOnlyAccountsAndNeverEnablesOne: an address without an
// account is user_not_found before any code is counted; a disabled
// admin's right code is used up, answered user_not_found and changes
// nothing.
func TestConfirmFindsOnlyAccountsAndNeverEnablesOne(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	if err := f.confirm("nobody@example.com", "123456"); !errors.Is(err, adminlogin.ErrUserNotFound) {
		t.Fatalf("an unknown address: %v", err)
	}
	f.account(t, "boss", identity.RoleAdmin, true, false)
	if _, err := f.login("boss@example.com", pw, ""); !errors.Is(err, adminlogin.ErrActivationPending) {
		t.Fatal(err)
	}
	code := f.codes(t)["Boss@Example.com"][0]
	if err := f.users.SetActive(ctx, "shop", "boss", false, f.clock.Now()); err != nil {
		t.Fatal(err)
	}
	if err := f.confirm("boss@example.com", code); !errors.Is(err, adminlogin.ErrUserNotFound) {
		t.Fatalf("a disabled admin's right code: %v, want user_not_found", err)
	}
	if u, _ := f.users.ByID(ctx, "shop", "boss"); u.Active || u.EmailVerified {
		t.Fatalf("a disabled admin after confirming: %+v", u)
	}
	if err := f.confirm("boss@example.com", code); !errors.Is(err, otp.ErrExpired) {
		t.Fatalf("the code again: %v (it was used up)", err)
	}
	if got := f.audit.Of(audit.ActivationFailed); len(got) < 2 || got[0].Reason != "user_not_found" || got[1].Reason != "account_disabled" {
		t.Fatalf("refusals recorded %+v", got)
	}
	if len(f.audit.Of(audit.ActivationConfirmed)) != 0 {
		t.Fatal("a confirmation was recorded")
	}
}

// TestResendAnswersAlikeForEveryAddress: every well-formed address gets
// nil, and within 60 s otp_cooldown, whether it has an account or not;
// only the admin pending activation is mailed a code.
func TestResendAnswersAlikeForEveryAddress(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.account(t, "boss", identity.RoleAdmin, true, false)
	f.account(t, "active", identity.RoleAdmin, true, true)
	f.account(t, "gone", identity.RoleAdmin, false, false)
	f.account(t, "ann", identity.RoleUser, true, false)
	addresses := []string{"boss@example.com", "active@example.com", "gone@example.com", "ann@example.com", "nobody@example.com"}
	for _, a := range addresses {
		if err := f.resend(a); err != nil {
			t.Fatalf("%s: %v", a, err)
		}
	}
	got := f.codes(t)
	if len(got) != 1 || len(got["Boss@Example.com"]) != 1 {
		t.Fatalf("mailed %v; want one code, to the admin pending activation", got)
	}
	f.clock.Advance(30 * time.Second)
	for _, a := range addresses {
		if err := f.resend(a); !errors.Is(err, otp.ErrCooldown) || errs.RetryAfter(errs.As(err)) != 30 {
			t.Fatalf("%s again within 60 s: %v", a, err)
		}
	}
	// Within the cooldown of a resend, the sign-in sends nothing either.
	if _, err := f.login("boss@example.com", pw, ""); !errors.Is(err, otp.ErrCooldown) {
		t.Fatalf("a sign-in within the cooldown of a resend: %v", err)
	}
	if got := f.codes(t); len(got) != 0 {
		t.Fatalf("mailed within the cooldown: %v", got)
	}
	sent := f.audit.Of(audit.ActivationCodeSent)
	if len(sent) != 1 || sent[0].TargetID != "boss" || sent[0].Reason != "resend" {
		t.Fatalf("codes sent recorded %+v", sent)
	}
}

// TestAdminLoginFieldErrors: missing and malformed fields name the field,
// all at once, and cost nothing.
func TestAdminLoginFieldErrors(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	fields := func(err error) []string {
		var out []string
		for _, fe := range errs.As(err).Fields {
			out = append(out, fe.Field)
		}
		return out
	}
	for _, tc := range []struct {
		name string
		call func() error
		want []string
	}{
		{"login without anything", func() error { _, err := f.login("", "", ""); return err }, []string{"email", "password"}},
		{"login with a malformed address", func() error { _, err := f.login("not-an-address", pw, ""); return err }, []string{"email"}},
		{"confirm without anything", func() error { return f.confirm("", " ") }, []string{"email", "otp"}},
		{"resend with a malformed address", func() error { return f.resend("a@b") }, []string{"email"}},
	} {
		err := tc.call()
		if errs.KindOf(err) != errs.Invalid || !slices.Equal(fields(err), tc.want) {
			t.Errorf("%s: %v, fields %v; want %v", tc.name, err, fields(err), tc.want)
		}
	}
}

// TestATokenAuthenticatesOnlyAnActiveAdmin: a user's live app token (of
// another surface) and an admin's after a role change without revocation
// or pending activation are access_denied; an unknown token, a disabled
// account's and a logged-out one are invalid_token.
func TestATokenAuthenticatesOnlyAnActiveAdmin(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ann := f.account(t, "ann", identity.RoleUser, true, true)
	f.account(t, "boss", identity.RoleAdmin, true, true)
	user, err := f.issuer.Start(ctx, ann, identity.SessionApp, []string{"pwd"}, alice)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Authenticate(ctx, user.AppToken); !errors.Is(err, adminlogin.ErrAccessDenied) {
		t.Fatalf("a user's token: %v, want access_denied", err)
	}
	if _, err := f.svc.Authenticate(ctx, "0123456789abcdef0123456789abcdef01234567"); !errors.Is(err, session.ErrInvalidToken) {
		t.Fatalf("an unknown token: %v", err)
	}
	out, err := f.login("boss@example.com", pw, "")
	if err != nil {
		t.Fatal(err)
	}
	token := out.Credentials.AppToken
	if err := f.users.SetRole(ctx, "shop", "boss", identity.RoleUser, f.clock.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Authenticate(ctx, token); !errors.Is(err, adminlogin.ErrAccessDenied) {
		t.Fatalf("a demoted admin's token: %v, want access_denied", err)
	}
	if err := f.users.SetRole(ctx, "shop", "boss", identity.RoleAdmin, f.clock.Now()); err != nil {
		t.Fatal(err)
	}
	if err := f.users.SetEmail(ctx, "shop", "boss", "boss2@example.com", "boss2@example.com", f.clock.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Authenticate(ctx, token); !errors.Is(err, adminlogin.ErrAccessDenied) {
		t.Fatalf("an admin with an unverified address: %v, want access_denied", err)
	}
	if err := f.users.SetEmailVerified(ctx, "shop", "boss", "boss2@example.com", f.clock.Now()); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.Logout(ctx, user.AppToken); !errors.Is(err, adminlogin.ErrAccessDenied) {
		t.Fatalf("a user's logout here: %v", err)
	}
	if _, err := f.sessions.Authenticate(ctx, session.ByToken, user.AppToken); err != nil {
		t.Fatalf("the user's token after a refused logout: %v", err)
	}
	if err := f.svc.Logout(ctx, token); err != nil {
		t.Fatalf("logout: %v", err)
	}
	if _, err := f.svc.Authenticate(ctx, token); !errors.Is(err, session.ErrInvalidToken) {
		t.Fatalf("after logout: %v", err)
	}
	again, err := f.login("boss2@example.com", pw, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := f.users.SetActive(ctx, "shop", "boss", false, f.clock.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Authenticate(ctx, again.Credentials.AppToken); !errors.Is(err, session.ErrInvalidToken) {
		t.Fatalf("a disabled admin's token: %v, want invalid_token", err)
	}
}

// TestAnAdminWithASecondFactorSendsItsCode: without the code the sign-in
// ends in mfa_required (no token), a wrong one is mfa_code_invalid, the
// right one signs in.
func TestAnAdminWithASecondFactorSendsItsCode(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	boss := f.account(t, "boss", identity.RoleAdmin, true, true)
	e, err := f.factors.Service.Start(ctx, boss)
	if err != nil {
		t.Fatal(err)
	}
	totpCode := func() string {
		c, err := totp.GenerateCode(e.Secret, f.clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	if err := f.factors.Service.Confirm(ctx, boss, totpCode()); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(90 * time.Second)
	if out, err := f.login("boss@example.com", pw, ""); !errors.Is(err, login.ErrMFARequired) || out.Credentials.AppToken != "" {
		t.Fatalf("without the code: %+v, %v", out, err)
	}
	if _, err := f.login("boss@example.com", pw, "000000"); !errors.Is(err, mfa.ErrInvalidCode) {
		t.Fatalf("a wrong code: %v", err)
	}
	if out, err := f.login("boss@example.com", pw, totpCode()); err != nil || out.Credentials.AppToken == "" {
		t.Fatalf("with the code: %+v, %v", out, err)
	}
}

// TestTheAdminLoginNeedsItsMethod: a tenant without admin_otp refuses
// every route of it before any work.
func TestTheAdminLoginNeedsItsMethod(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(t *tenant.Tenant) { t.LoginMethods = []tenant.LoginMethod{tenant.MethodPassword} })
	f.account(t, "boss", identity.RoleAdmin, true, false)
	_, errLogin := f.login("boss@example.com", pw, "")
	for name, err := range map[string]error{"login": errLogin, "confirm": f.confirm("boss@example.com", "123456"), "resend": f.resend("boss@example.com")} {
		if !errors.Is(err, login.ErrMethodDisabled) {
			t.Errorf("%s: %v, want method_disabled", name, err)
		}
	}
	if got := f.codes(t); len(got) != 0 {
		t.Fatalf("mailed %v", got)
	}
}

// TestResendCountsAgainstTheClientsBudget: over the per-address budget a
// resend is throttled before anything is issued.
func TestResendCountsAgainstTheClientsBudget(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	svc := adminlogin.New(f.t, adminlogin.Policy{SendPerIP: tenant.Limit{Count: 2, Window: time.Hour}}, adminlogin.Deps{
		Users: f.users, Codes: otp.New("shop", otp.Key("k"), otptest.NewMemoryStore(f.clock), f.clock, rand.Reader), Courier: f.courier,
		Limiter: throttletest.NewMemoryLimiter(f.clock), Sessions: f.sessions, Audit: f.audit, Clock: f.clock})
	for i, a := range []string{"a@example.com", "b@example.com", "c@example.com"} {
		err := svc.Resend(ctx, adminlogin.ResendInput{Email: a, Client: alice})
		if (i < 2) != (err == nil) || (i == 2 && !errors.Is(err, throttle.ErrThrottled)) {
			t.Fatalf("resend %d: %v", i+1, err)
		}
	}
}

// wrong is a well-formed code that is not code.
func wrong(code string) string {
	if code == "000000" {
		return "111111"
	}
	return "000000"
}
