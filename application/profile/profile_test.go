package profile_test

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

	"github.com/portcullis/portcullis/application/account"
	"github.com/portcullis/portcullis/application/account/accounttest"
	"github.com/portcullis/portcullis/application/audit/audittest"
	"github.com/portcullis/portcullis/application/password"
	"github.com/portcullis/portcullis/application/platform/platformtest"
	"github.com/portcullis/portcullis/application/profile"
	"github.com/portcullis/portcullis/application/session"
	"github.com/portcullis/portcullis/application/session/sessiontest"
	"github.com/portcullis/portcullis/application/throttle"
	"github.com/portcullis/portcullis/application/throttle/throttletest"
	"github.com/portcullis/portcullis/application/verification"
	"github.com/portcullis/portcullis/domain/errs"
	"github.com/portcullis/portcullis/domain/identity"
	"github.com/portcullis/portcullis/domain/link"
	"github.com/portcullis/portcullis/domain/message"
	"github.com/portcullis/portcullis/domain/tenant"
)

// The real services satisfy the ports.
var (
	_ profile.Users    = account.Users(nil)
	_ profile.Hasher   = password.Hasher(nil)
	_ profile.Sessions = (*session.Service)(nil)
	_ profile.Verifier = (*verification.Service)(nil)
)

var ctx = context.Background()

var client = session.Client{IP: netip.MustParseAddr("198.51.100.7"), UserAgent: "test"}

const (
	currentPassword = "correct horse battery"
	newPassword     = "a brand new passphrase"
)

// hasher is a transparent fake that counts verifications; busy makes it
// answer like a saturated pool.
type hasher struct {
	verifies atomic.Int64
	busy     atomic.Bool
}

func (h *hasher) Hash(_ context.Context, pw string, _ tenant.HashParams) (string, error) {
	return "fake$" + pw, nil
}

func (h *hasher) Verify(_ context.Context, pw, encoded string, _ tenant.HashParams) (bool, bool, error) {
	if h.busy.Load() {
		return false, false, password.ErrBusy.WithRetryAfter(1)
	}
	h.verifies.Add(1)
	return encoded == "fake$"+pw, false, nil
}

type common map[string]bool

func (c common) Contains(pw string) bool { return c[pw] }

// mail records what the courier was given.
type sent struct {
	kind     message.MailKind
	to       string
	data     message.MailData
	deadline time.Time
}

type mail struct {
	mu   sync.Mutex
	sent []sent
}

func (m *mail) Send(_ context.Context, kind message.MailKind, to string, d message.MailData, deadline time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sent = append(m.sent, sent{kind, to, d, deadline})
	return nil
}

func (m *mail) all() []sent {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]sent(nil), m.sent...)
}

// verifier records the verification links asked for.
type verifier struct {
	mu    sync.Mutex
	users []identity.User
	paths []link.Paths
}

func (v *verifier) Send(_ context.Context, u identity.User, paths link.Paths) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.users, v.paths = append(v.users, u), append(v.paths, paths)
	return nil
}

type fixture struct {
	svc    *profile.Service
	sess   *session.Service
	issuer *session.Issuer
	users  *accounttest.MemoryUsers
	hasher *hasher
	mail   *mail
	verify *verifier
	clock  *platformtest.Clock
	t      tenant.Tenant
	// audit holds what the changes and their session service recorded.
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
	f := &fixture{users: accounttest.NewMemoryUsers(), hasher: &hasher{}, mail: &mail{}, verify: &verifier{}, clock: c, t: tn, audit: audittest.NewRecorder()}
	sessions, revocations := sessiontest.NewMemorySessions(), sessiontest.NewMemoryRevocations(c)
	sync := session.NewSync(sessions, revocations, c, time.Second)
	if err := sync.Pass(ctx); err != nil {
		t.Fatal(err)
	}
	// Web and app sessions only: no access tokens are needed.
	f.sess = session.New(tn, session.Deps{
		Users: f.users, Sessions: sessions, Refresh: sessiontest.NewMemoryRefreshTokens(),
		Revocations: revocations, Sync: sync, Audit: f.audit, Clock: c, Random: rand.Reader,
	})
	f.issuer = session.NewIssuer(f.sess)
	f.svc = profile.New(tn, profile.Deps{
		Users: f.users, Hasher: f.hasher, Common: common{"password123": true}, Sessions: f.sess,
		Verifier: f.verify, Mail: f.mail, Limiter: throttletest.NewMemoryLimiter(c), Audit: f.audit, Clock: c,
	})
	return f
}

// user creates a verified account with currentPassword (or none, for
// pw "").
func (f *fixture) user(t *testing.T, id, email, pw string) identity.User {
	t.Helper()
	e, key, err := identity.NormalizeEmail(email)
	if err != nil {
		t.Fatal(err)
	}
	u := identity.User{
		ID: id, TenantID: f.t.ID, Email: e, EmailKey: key, FirstName: "Ann", LastName: "Lee",
		Role: identity.RoleUser, Active: true, EmailVerified: true, CreatedAt: f.clock.Now(), UpdatedAt: f.clock.Now(),
	}
	if pw != "" {
		u.PasswordHash, _ = f.hasher.Hash(ctx, pw, f.t.Password.Hash)
	}
	if err := f.users.Create(ctx, u); err != nil {
		t.Fatal(err)
	}
	return u
}

// signIn starts a web session for u and returns its principal and cookie.
func (f *fixture) signIn(t *testing.T, u identity.User, kind identity.SessionKind) (session.Principal, string) {
	t.Helper()
	creds, err := f.issuer.Start(ctx, u, kind, []string{"pwd"}, client)
	if err != nil {
		t.Fatal(err)
	}
	secret, by := creds.Cookie, session.ByCookie
	if kind == identity.SessionApp {
		secret, by = creds.AppToken, session.ByToken
	}
	p, err := f.sess.Authenticate(ctx, by, secret)
	if err != nil {
		t.Fatal(err)
	}
	return p, secret
}

func (f *fixture) stored(t *testing.T, id string) identity.User {
	t.Helper()
	u, err := f.users.ByID(ctx, f.t.ID, id)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// wantFields checks that err is an Invalid error of code with exactly
// these "field: reason" pairs (a reason ending in "*" is a prefix).
func wantFields(t *testing.T, err error, code string, fields ...string) {
	t.Helper()
	e := errs.As(err)
	if e == nil || e.Kind != errs.Invalid || e.Code != code {
		t.Fatalf("error %v, want an invalid-input error %q", err, code)
	}
	if len(e.Fields) != len(fields) {
		t.Fatalf("fields %v, want %v", e.Fields, fields)
	}
	for i, want := range fields {
		got := e.Fields[i].String()
		if p, ok := strings.CutSuffix(want, "*"); ok && strings.HasPrefix(got, p) || got == want {
			continue
		}
		t.Fatalf("field %d is %q, want %q", i, got, want)
	}
}

// noPasswordIn checks that no mail carries either password.
func (f *fixture) noPasswordIn(t *testing.T, passwords ...string) {
	t.Helper()
	for _, m := range f.mail.all() {
		all := fmt.Sprintf("%s %+v", m.to, m.data)
		for _, pw := range passwords {
			if strings.Contains(all, pw) {
				t.Fatalf("a %s mail carries a password: %s", m.kind, all)
			}
		}
	}
}

func TestChangePasswordEndsOtherSessionsKeepsCurrentAndMailsTheOwner(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	u := f.user(t, "u1", "ann@example.com", currentPassword)
	p, current := f.signIn(t, u, identity.SessionWeb)
	_, otherWeb := f.signIn(t, u, identity.SessionWeb)
	_, otherApp := f.signIn(t, u, identity.SessionApp)
	// Another account's session is not touched.
	bob := f.user(t, "u2", "bob@example.com", currentPassword)
	_, bobs := f.signIn(t, bob, identity.SessionWeb)

	if err := f.svc.ChangePassword(ctx, p, currentPassword, newPassword); err != nil {
		t.Fatal(err)
	}
	if got := f.stored(t, u.ID).PasswordHash; got != "fake$"+newPassword {
		t.Fatalf("stored hash %q, want the new password's", got)
	}
	if _, err := f.sess.Authenticate(ctx, session.ByCookie, current); err != nil {
		t.Fatalf("the current session was ended: %v", err)
	}
	if _, err := f.sess.Authenticate(ctx, session.ByCookie, otherWeb); !errors.Is(err, session.ErrInvalidToken) {
		t.Fatalf("another web session survived: %v", err)
	}
	if _, err := f.sess.Authenticate(ctx, session.ByToken, otherApp); !errors.Is(err, session.ErrInvalidToken) {
		t.Fatalf("an app session survived: %v", err)
	}
	if _, err := f.sess.Authenticate(ctx, session.ByCookie, bobs); err != nil {
		t.Fatalf("another account's session was ended: %v", err)
	}
	mails := f.mail.all()
	if len(mails) != 1 {
		t.Fatalf("%d mails, want one", len(mails))
	}
	m := mails[0]
	if m.kind != message.MailPasswordChanged || m.to != "ann@example.com" || m.data.Email != "ann@example.com" ||
		m.data.Name != "Ann" || !m.data.When.Equal(f.clock.Now()) || !m.deadline.Equal(f.clock.Now().Add(24*time.Hour)) {
		t.Fatalf("mail %+v", m)
	}
	f.noPasswordIn(t, currentPassword, newPassword)
}

func TestChangePasswordRequiresBoth(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	u := f.user(t, "u1", "ann@example.com", currentPassword)
	p, _ := f.signIn(t, u, identity.SessionWeb)
	for _, tc := range []struct {
		name, old, new string
		fields         []string
	}{
		{"no old", "", newPassword, []string{"old_password: is required"}},
		{"no new", currentPassword, "", []string{"new_password: is required"}},
		{"neither", "", "", []string{"old_password: is required", "new_password: is required"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := f.svc.ChangePassword(ctx, p, tc.old, tc.new)
			if !errors.Is(err, profile.ErrPasswordRequired) {
				t.Fatalf("error %v, want ErrPasswordRequired", err)
			}
			wantFields(t, err, "password_required", tc.fields...)
		})
	}
	if f.hasher.verifies.Load() != 0 || len(f.mail.all()) != 0 {
		t.Fatal("a request without its passwords was worked on")
	}
}

func TestChangePasswordRefusesAWrongCurrentPassword(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	u := f.user(t, "u1", "ann@example.com", currentPassword)
	p, _ := f.signIn(t, u, identity.SessionWeb)
	_, other := f.signIn(t, u, identity.SessionWeb)

	err := f.svc.ChangePassword(ctx, p, "not my password", newPassword)
	if !errors.Is(err, profile.ErrWrongPassword) {
		t.Fatalf("error %v, want ErrWrongPassword", err)
	}
	wantFields(t, err, "invalid_old_password", "old_password: is wrong")
	if f.stored(t, u.ID).PasswordHash != u.PasswordHash || len(f.mail.all()) != 0 {
		t.Fatal("a wrong current password changed something")
	}
	if _, err := f.sess.Authenticate(ctx, session.ByCookie, other); err != nil {
		t.Fatalf("a refused change ended a session: %v", err)
	}
}

func TestChangePasswordAppliesThePolicyToTheNewPassword(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	u := f.user(t, "u1", "ann@example.com", currentPassword)
	p, _ := f.signIn(t, u, identity.SessionWeb)
	for _, tc := range []struct {
		name, new, reason string
	}{
		{"too short", "short", "new_password: must be at least *"},
		{"too long", strings.Repeat("a", f.t.Password.MaxLength+1), "new_password: must be at most *"},
		{"longer than anything hashed", strings.Repeat("a", 4097), "new_password: must be at most *"},
		{"common", "password123", "new_password: is too common; choose a less guessable password"},
		{"the address", "ann@example.com", "new_password: must not be the same as your e-mail address or name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := f.svc.ChangePassword(ctx, p, currentPassword, tc.new)
			if !errors.Is(err, profile.ErrInvalidNewPassword) || !errors.Is(err, identity.ErrWeakPassword) {
				t.Fatalf("error %v, want ErrInvalidNewPassword (a weak password)", err)
			}
			wantFields(t, err, "invalid_new_password", tc.reason)
		})
	}
	// Checked before the current password: a request bound to fail spends
	// no attempt of the account's budget and no hashing.
	if f.hasher.verifies.Load() != 0 {
		t.Fatalf("%d verifications for refused new passwords", f.hasher.verifies.Load())
	}
	if f.stored(t, u.ID).PasswordHash != u.PasswordHash {
		t.Fatal("a refused password was set")
	}
}

func TestChangePasswordToTheSamePasswordIsRefused(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	u := f.user(t, "u1", "ann@example.com", currentPassword)
	p, _ := f.signIn(t, u, identity.SessionWeb)
	err := f.svc.ChangePassword(ctx, p, currentPassword, currentPassword)
	wantFields(t, err, "invalid_new_password", "new_password: must differ from the current password")
	if len(f.mail.all()) != 0 {
		t.Fatal("a refused change was mailed")
	}
}

func TestAnAccountWithoutPasswordCannotChangeItOrItsAddress(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	u := f.user(t, "u1", "ann@example.com", "")
	p, _ := f.signIn(t, u, identity.SessionWeb)
	err := f.svc.ChangePassword(ctx, p, "anything at all", newPassword)
	if !errors.Is(err, profile.ErrNoPassword) || errs.KindOf(err) != errs.Invalid {
		t.Fatalf("ChangePassword: %v, want ErrNoPassword (invalid)", err)
	}
	_, err = f.svc.ChangeEmail(ctx, p, profile.ChangeEmailInput{Email: "new@example.com", Password: "anything at all"})
	if !errors.Is(err, profile.ErrNoPassword) {
		t.Fatalf("ChangeEmail: %v, want ErrNoPassword", err)
	}
	if got := f.stored(t, u.ID); got.PasswordHash != "" || got.Email != u.Email {
		t.Fatalf("account changed: %+v", got)
	}
}

func TestWrongCurrentPasswordsAreThrottledPerAccount(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(tn *tenant.Tenant) {
		tn.Throttling.LoginPerAccount = tenant.Limit{Count: 3, Window: 15 * time.Minute}
	})
	u := f.user(t, "u1", "ann@example.com", currentPassword)
	p, _ := f.signIn(t, u, identity.SessionWeb)
	other := f.user(t, "u2", "bob@example.com", currentPassword)
	q, _ := f.signIn(t, other, identity.SessionWeb)

	// Right passwords give their attempt back: the owner is not locked out
	// by using the feature.
	for range 5 {
		if _, err := f.svc.ChangeEmail(ctx, p, profile.ChangeEmailInput{Email: "ann@example.com", Password: currentPassword}); err != nil {
			t.Fatalf("a right password: %v", err)
		}
	}
	// A saturated hashing pool judges nothing and costs nothing.
	f.hasher.busy.Store(true)
	for range 5 {
		if err := f.svc.ChangePassword(ctx, p, "guess", newPassword); !errors.Is(err, password.ErrBusy) {
			t.Fatalf("busy: %v, want ErrBusy", err)
		}
	}
	f.hasher.busy.Store(false)
	// Wrong ones through either change spend one budget.
	for i := range 3 {
		var err error
		if i%2 == 0 {
			err = f.svc.ChangePassword(ctx, p, fmt.Sprintf("guess %d", i), newPassword)
		} else {
			_, err = f.svc.ChangeEmail(ctx, p, profile.ChangeEmailInput{Email: "new@example.com", Password: fmt.Sprintf("guess %d", i)})
		}
		if !errors.Is(err, profile.ErrWrongPassword) {
			t.Fatalf("guess %d: %v, want ErrWrongPassword", i, err)
		}
	}
	verifies := f.hasher.verifies.Load()
	for _, err := range []error{
		f.svc.ChangePassword(ctx, p, currentPassword, newPassword),
		func() error {
			_, err := f.svc.ChangeEmail(ctx, p, profile.ChangeEmailInput{Email: "new@example.com", Password: currentPassword})
			return err
		}(),
	} {
		e := errs.As(err)
		if !errors.Is(err, throttle.ErrThrottled) || e.Kind != errs.RateLimited || e.RetryAfter < 1 {
			t.Fatalf("over the budget, even the right password: %v, want throttled with Retry-After", err)
		}
	}
	if f.hasher.verifies.Load() != verifies {
		t.Fatal("a throttled attempt was hashed")
	}
	if f.stored(t, u.ID).PasswordHash != u.PasswordHash {
		t.Fatal("a throttled change went through")
	}
	// Another account has its own budget.
	if err := f.svc.ChangePassword(ctx, q, currentPassword, newPassword); err != nil {
		t.Fatalf("another account: %v", err)
	}
	// The budget refills.
	f.clock.Advance(15 * time.Minute)
	if err := f.svc.ChangePassword(ctx, p, currentPassword, newPassword); err != nil {
		t.Fatalf("after the window: %v", err)
	}
}

func TestConcurrentGuessesAreCountedBeforeHashing(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(tn *tenant.Tenant) {
		tn.Throttling.LoginPerAccount = tenant.Limit{Count: 5, Window: time.Hour}
	})
	u := f.user(t, "u1", "ann@example.com", currentPassword)
	p, _ := f.signIn(t, u, identity.SessionWeb)
	var wrong, throttled atomic.Int64
	platformtest.Race(50, func(i int) {
		err := f.svc.ChangePassword(ctx, p, fmt.Sprintf("guess %d", i), newPassword)
		switch {
		case errors.Is(err, profile.ErrWrongPassword):
			wrong.Add(1)
		case errors.Is(err, throttle.ErrThrottled):
			throttled.Add(1)
		}
	})
	if wrong.Load() != 5 || throttled.Load() != 45 || f.hasher.verifies.Load() != 5 {
		t.Fatalf("%d wrong, %d throttled, %d hashed; want 5, 45, 5", wrong.Load(), throttled.Load(), f.hasher.verifies.Load())
	}
}

func TestChangeName(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	u := f.user(t, "u1", "ann@example.com", currentPassword)
	p, _ := f.signIn(t, u, identity.SessionWeb)
	f.clock.Advance(time.Minute)

	got, err := f.svc.ChangeName(ctx, p, "  Zoë ", "Nguyễn Văn")
	if err != nil {
		t.Fatal(err)
	}
	if got.FirstName != "Zoë" || got.LastName != "Nguyễn Văn" || !got.UpdatedAt.Equal(f.clock.Now()) || got.Email != u.Email {
		t.Fatalf("returned %+v", got)
	}
	if s := f.stored(t, u.ID); s.FirstName != "Zoë" || s.LastName != "Nguyễn Văn" {
		t.Fatalf("stored %+v", s)
	}
	for _, tc := range []struct {
		name, first, last string
		fields            []string
	}{
		{"blank first", "  ", "Lee", []string{"first_name: is required"}},
		{"both missing", "", "", []string{"first_name: is required", "last_name: is required"}},
		{"CRLF in the last", "Ann", "Lee\r\nBcc: x@example.com", []string{"last_name: must not contain control, format or invisible characters (found U+000D)"}},
		{"bidi override", "Ann\u202E", "Lee", []string{"first_name: must not contain control, format or invisible characters (found U+202E)"}},
		{"invalid UTF-8", "Ann", "Lee\xff", []string{"last_name: " + identity.ReasonInvalidUTF8}},
		{"too long", strings.Repeat("a", identity.MaxNameLength+1), "Lee", []string{"first_name: must be at most 150 characters*"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.svc.ChangeName(ctx, p, tc.first, tc.last)
			wantFields(t, err, "invalid_request", tc.fields...)
		})
	}
	if s := f.stored(t, u.ID); s.FirstName != "Zoë" || s.LastName != "Nguyễn Văn" {
		t.Fatalf("a refused name was stored: %+v", s)
	}
}

func TestChangeEmailMovesTheAccountTellsTheOldAddressAndVerifiesTheNew(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		paths link.Paths
		want  link.Paths
	}{
		{"canonical by default", link.Paths{}, link.Canonical},
		{"the surface's paths", link.Seed001, link.Seed001},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			u := f.user(t, "u1", "ann@example.com", currentPassword)
			p, current := f.signIn(t, u, identity.SessionWeb)
			got, err := f.svc.ChangeEmail(ctx, p, profile.ChangeEmailInput{Email: " Ann.New@Example.org ", Password: currentPassword, Paths: tc.paths})
			if err != nil {
				t.Fatal(err)
			}
			if got.Email != "Ann.New@Example.org" || got.EmailKey != "ann.new@example.org" || got.EmailVerified || got.ID != u.ID {
				t.Fatalf("returned %+v", got)
			}
			if s, err := f.users.ByEmail(ctx, f.t.ID, "ann.new@example.org"); err != nil || s.ID != u.ID || s.EmailVerified {
				t.Fatalf("by the new address: %+v, %v", s, err)
			}
			if _, err := f.users.ByEmail(ctx, f.t.ID, "ann@example.com"); !errors.Is(err, errs.ErrNotFound) {
				t.Fatalf("the old address still finds the account: %v", err)
			}
			mails := f.mail.all()
			if len(mails) != 1 {
				t.Fatalf("%d mails, want one", len(mails))
			}
			m := mails[0]
			if m.kind != message.MailEmailChanged || m.to != "ann@example.com" || m.data.Email != "ann@example.com" ||
				m.data.NewEmail != "Ann.New@Example.org" || !m.deadline.Equal(f.clock.Now().Add(24*time.Hour)) {
				t.Fatalf("notice %+v, want one to the old address naming the new one", m)
			}
			f.noPasswordIn(t, currentPassword)
			if len(f.verify.users) != 1 || f.verify.users[0].Email != "Ann.New@Example.org" || f.verify.users[0].EmailVerified || f.verify.paths[0] != tc.want {
				t.Fatalf("verification links %+v under %+v", f.verify.users, f.verify.paths)
			}
			// The session that made the change stays.
			if _, err := f.sess.Authenticate(ctx, session.ByCookie, current); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestChangeEmailRefusals(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	u := f.user(t, "u1", "ann@example.com", currentPassword)
	f.user(t, "u2", "bob@example.com", currentPassword)
	p, _ := f.signIn(t, u, identity.SessionWeb)
	for _, tc := range []struct {
		name   string
		in     profile.ChangeEmailInput
		code   string
		fields []string
	}{
		{"nothing", profile.ChangeEmailInput{}, "invalid_request", []string{"email: is required", "password: is required"}},
		{"no password", profile.ChangeEmailInput{Email: "new@example.com"}, "invalid_request", []string{"password: is required"}},
		{"wrong password", profile.ChangeEmailInput{Email: "new@example.com", Password: "not it"}, "invalid_old_password", []string{"password: is wrong"}},
		{"not an address", profile.ChangeEmailInput{Email: "not an address", Password: currentPassword}, "invalid_request", []string{"email: must be a plain e-mail address*"}},
		{"CRLF header injection", profile.ChangeEmailInput{Email: "new@example.com\r\nBcc: evil@example.com", Password: currentPassword},
			"invalid_request", []string{"email: must not contain control, format or invisible characters (found U+000D)"}},
		{"LF inside", profile.ChangeEmailInput{Email: "new\n@example.com", Password: currentPassword},
			"invalid_request", []string{"email: must not contain control, format or invisible characters (found U+000A)"}},
		{"a display name", profile.ChangeEmailInput{Email: "Eve <eve@example.com>", Password: currentPassword}, "invalid_request", []string{"email: must be a plain e-mail address*"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.svc.ChangeEmail(ctx, p, tc.in)
			wantFields(t, err, tc.code, tc.fields...)
		})
	}
	// Taken by another account of the tenant, also in another case.
	_, err := f.svc.ChangeEmail(ctx, p, profile.ChangeEmailInput{Email: "BOB@example.com", Password: currentPassword})
	if !errors.Is(err, identity.ErrEmailTaken) {
		t.Fatalf("a taken address: %v, want ErrEmailTaken", err)
	}
	if s := f.stored(t, u.ID); s.Email != "ann@example.com" || !s.EmailVerified {
		t.Fatalf("a refused change moved the account: %+v", s)
	}
	if len(f.mail.all()) != 0 || len(f.verify.users) != 0 {
		t.Fatal("a refused change mailed someone")
	}
}

func TestChangeEmailToTheSameAddressChangesNothing(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	u := f.user(t, "u1", "ann@example.com", currentPassword)
	p, _ := f.signIn(t, u, identity.SessionWeb)
	got, err := f.svc.ChangeEmail(ctx, p, profile.ChangeEmailInput{Email: "ANN@example.com\r\n", Password: currentPassword})
	if err != nil {
		t.Fatal(err)
	}
	if got.Email != "ann@example.com" || !got.EmailVerified {
		t.Fatalf("returned %+v, want the account unchanged", got)
	}
	if s := f.stored(t, u.ID); !s.EmailVerified || s.Email != "ann@example.com" {
		t.Fatalf("stored %+v", s)
	}
	if len(f.mail.all()) != 0 || len(f.verify.users) != 0 {
		t.Fatal("no change was mailed")
	}
}

func TestChangeEmailTrimsSurroundingLineBreaks(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	u := f.user(t, "u1", "ann@example.com", currentPassword)
	p, _ := f.signIn(t, u, identity.SessionWeb)
	got, err := f.svc.ChangeEmail(ctx, p, profile.ChangeEmailInput{Email: "\r\nnew@example.com\r\n", Password: currentPassword})
	if err != nil {
		t.Fatal(err)
	}
	if got.Email != "new@example.com" || f.stored(t, u.ID).Email != "new@example.com" {
		t.Fatalf("stored %q", f.stored(t, u.ID).Email)
	}
	for _, m := range f.mail.all() {
		if strings.ContainsAny(m.to+m.data.NewEmail, "\r\n") {
			t.Fatalf("a line break reached a mail: %+v", m)
		}
	}
}

func TestAChangeByADisabledAccountIsRefused(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	u := f.user(t, "u1", "ann@example.com", currentPassword)
	p, _ := f.signIn(t, u, identity.SessionWeb)
	// Disabled after the request was authenticated.
	if err := f.users.SetActive(ctx, f.t.ID, u.ID, false, f.clock.Now()); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.ChangePassword(ctx, p, currentPassword, newPassword); !errors.Is(err, session.ErrInvalidToken) {
		t.Fatalf("ChangePassword: %v", err)
	}
	if _, err := f.svc.ChangeName(ctx, p, "Eve", "Lee"); !errors.Is(err, session.ErrInvalidToken) {
		t.Fatalf("ChangeName: %v", err)
	}
	if _, err := f.svc.ChangeEmail(ctx, p, profile.ChangeEmailInput{Email: "eve@example.com", Password: currentPassword}); !errors.Is(err, session.ErrInvalidToken) {
		t.Fatalf("ChangeEmail: %v", err)
	}
}
