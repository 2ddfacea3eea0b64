package loginlink_test

import (
	"context"
	"crypto/rand"
	"errors"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/portcullis/portcullis/application/account/accounttest"
	"github.com/portcullis/portcullis/application/audit"
	"github.com/portcullis/portcullis/application/audit/audittest"
	"github.com/portcullis/portcullis/application/login"
	"github.com/portcullis/portcullis/application/login/logintest"
	"github.com/portcullis/portcullis/application/loginlink"
	"github.com/portcullis/portcullis/application/mfa/mfatest"
	"github.com/portcullis/portcullis/application/otp"
	"github.com/portcullis/portcullis/application/otp/otptest"
	"github.com/portcullis/portcullis/application/platform/platformtest"
	"github.com/portcullis/portcullis/application/session"
	"github.com/portcullis/portcullis/application/session/sessiontest"
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

// fixture is one tenant's login links on in-memory ports.
type fixture struct {
	svc      *loginlink.Service
	users    *accounttest.MemoryUsers
	sessions *sessiontest.MemorySessions
	clock    *platformtest.Clock
	t        tenant.Tenant
	factors  mfatest.Fixture
	audit    *audittest.Recorder
}

type options struct {
	id     string
	tenant func(*tenant.Tenant)
	store  *otptest.MemoryStore // shared by tenants, as Redis is
	clock  *platformtest.Clock
}

func newFixture(t *testing.T, o options) *fixture {
	t.Helper()
	if o.id == "" {
		o.id = "shop"
	}
	tn := tenant.Default()
	tn.ID, tn.DisplayName = o.id, "Shop"
	tn.LoginMethods = []tenant.LoginMethod{tenant.MethodPassword, tenant.MethodAdminLink, tenant.MethodTOTP}
	tn.Redirects.Allow = []string{"https://app.shop.example"}
	if o.tenant != nil {
		o.tenant(&tn)
	}
	if err := tn.Validate(); err != nil {
		t.Fatal(err)
	}
	if o.clock == nil {
		o.clock = platformtest.NewClock(time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC))
	}
	c := o.clock
	if o.store == nil {
		o.store = otptest.NewMemoryStore(c)
	}
	us := accounttest.NewMemoryUsers()
	sessions, revs := sessiontest.NewMemorySessions(), sessiontest.NewMemoryRevocations(c)
	sess := session.New(tn, session.Deps{Users: us, Sessions: sessions, Refresh: sessiontest.NewMemoryRefreshTokens(),
		Revocations: revs, Tokens: tokens{}, Sync: session.NewSync(sessions, revs, c, time.Second), Audit: audittest.NewRecorder(), Clock: c, Random: rand.Reader})
	key, err := otp.DeriveKey([]byte("a master key of at least sixteen bytes"), tn.ID)
	if err != nil {
		t.Fatal(err)
	}
	rec := audittest.NewRecorder()
	pipe := logintest.New(t, tn, logintest.Options{Users: us, Issuer: session.NewIssuer(sess), Clock: c, Audit: rec})
	svc := loginlink.New(tn, loginlink.Policy{TTL: tn.Profiles.Seed000LoginLinkTTL}, loginlink.Deps{
		Users: us, Links: otp.New(tn.ID, key, o.store, c, rand.Reader), Login: pipe.Pipeline, Audit: rec,
	})
	return &fixture{svc: svc, users: us, sessions: sessions, clock: c, t: tn, factors: pipe.Factors, audit: rec}
}

func (f *fixture) user(t *testing.T, id string, role identity.Role) identity.User {
	t.Helper()
	u := identity.User{ID: id, TenantID: f.t.ID, Email: id + "@example.com", EmailKey: id + "@example.com", FirstName: id,
		Active: true, Role: role}
	if err := f.users.Create(ctx, u); err != nil {
		t.Fatal(err)
	}
	return u
}

// issue has staff issue a link for u with the secret key.
func (f *fixture) issue(t *testing.T, u identity.User, key string) string {
	t.Helper()
	staff, err := f.users.ByID(ctx, f.t.ID, "staff")
	if errors.Is(err, errs.ErrNotFound) {
		staff = f.user(t, "staff", identity.RoleStaff)
	}
	is, err := f.svc.Issue(ctx, loginlink.IssueInput{Actor: staff, UserID: u.ID, SecretKey: key})
	if err != nil {
		t.Fatalf("issue a link for %s: %v", u.ID, err)
	}
	return is.Token
}

func (f *fixture) consume(token, userID, key string) (loginlink.Outcome, error) {
	return f.svc.Consume(ctx, loginlink.ConsumeInput{Presented: loginlink.Presented{Token: token, UserID: userID, SecretKey: key},
		Client: session.Client{IP: netip.MustParseAddr("203.0.113.7"), UserAgent: "test"}})
}

// live counts the user's live sessions.
func (f *fixture) live(t *testing.T, userID string) int {
	t.Helper()
	list, err := f.sessions.ListLive(ctx, f.t.ID, userID, f.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	return len(list)
}

func TestALinkSignsItsUserInOnceInABrowser(t *testing.T) {
	t.Parallel()
	f := newFixture(t, options{})
	ann := f.user(t, "ann", identity.RoleUser)
	staff := f.user(t, "staff", identity.RoleStaff)
	is, err := f.svc.Issue(ctx, loginlink.IssueInput{Actor: staff, UserID: " ann ", SecretKey: "user-login-secret"})
	if err != nil {
		t.Fatal(err)
	}
	if want := f.clock.Now().Add(300 * time.Second); !is.ExpiresAt.Equal(want) || len(is.Token) != 43 {
		t.Fatalf("issued %+v; want a 43-character token expiring at %s (the default 300 s)", is, want)
	}
	out, err := f.consume(is.Token, ann.ID, "user-login-secret")
	if err != nil {
		t.Fatal(err)
	}
	s := out.Credentials.Session
	if out.Result != login.Signed || s.Kind != identity.SessionWeb || out.Credentials.Cookie == "" || s.UserID != ann.ID ||
		len(s.AMR) != 1 || s.AMR[0] != "otp" || out.Next != loginlink.Home {
		t.Fatalf("outcome %+v; want a web session of ann with amr [otp], then home", out)
	}
	if _, err := f.consume(is.Token, ann.ID, "user-login-secret"); !errors.Is(err, loginlink.ErrLinkInvalid) {
		t.Fatalf("a used link again: %v, want login_link_invalid", err)
	}
	if n := f.live(t, ann.ID); n != 1 {
		t.Fatalf("%d sessions, want 1", n)
	}
}

func TestNextIsFollowedOnlyWhenTheTenantAllowsIt(t *testing.T) {
	t.Parallel()
	f := newFixture(t, options{})
	ann := f.user(t, "ann", identity.RoleUser)
	for next, want := range map[string]string{
		"/dashboard/":                   "/dashboard/",
		"https://app.shop.example/x?y":  "https://app.shop.example/x?y",
		"":                              "/",
		"//evil.example":                "/",
		"https://evil.example/":         "/",
		"javascript:alert(1)":           "/",
		"https://app.shop.example@evil": "/",
	} {
		token := f.issue(t, ann, "k")
		out, err := f.svc.Consume(ctx, loginlink.ConsumeInput{Presented: loginlink.Presented{Token: token, UserID: ann.ID, SecretKey: "k"}, Next: next})
		if err != nil || out.Next != want {
			t.Errorf("next %q: %q, %v; want %q", next, out.Next, err, want)
		}
	}
}

// TestOneOfTwentyParallelUsesSignsIn: a link used by 20 goroutines at once
// gives exactly one session; the others are refused.
func TestOneOfTwentyParallelUsesSignsIn(t *testing.T) {
	t.Parallel()
	f := newFixture(t, options{})
	ann := f.user(t, "ann", identity.RoleUser)
	token := f.issue(t, ann, "secret")
	var signed, refused atomic.Int32
	platformtest.Race(platformtest.Racers, func(int) {
		out, err := f.consume(token, ann.ID, "secret")
		switch {
		case err == nil && out.Credentials.Cookie != "":
			signed.Add(1)
		case errors.Is(err, loginlink.ErrLinkInvalid):
			refused.Add(1)
		default:
			t.Errorf("unexpected answer %+v, %v", out, err)
		}
	})
	if signed.Load() != 1 || refused.Load() != platformtest.Racers-1 {
		t.Fatalf("%d signed in, %d refused; want 1 and %d", signed.Load(), refused.Load(), platformtest.Racers-1)
	}
	if n := f.live(t, ann.ID); n != 1 {
		t.Fatalf("%d sessions, want exactly 1", n)
	}
}

// TestAWrongUserOrSecretKeySpendsTheLink: the link is refused, and spent,
// so that a secret key cannot be guessed against it.
func TestAWrongUserOrSecretKeySpendsTheLink(t *testing.T) {
	t.Parallel()
	f := newFixture(t, options{})
	ann := f.user(t, "ann", identity.RoleUser)
	bob := f.user(t, "bob", identity.RoleUser)
	cases := []struct {
		name, user, key string
	}{
		{"wrong secret key", ann.ID, "Secret"},
		{"empty secret key", ann.ID, ""},
		{"another user", bob.ID, "secret"},
		{"no user", "", "secret"},
		{"an unknown user", "nobody", "secret"},
	}
	for _, tc := range cases {
		token := f.issue(t, ann, "secret")
		if _, err := f.consume(token, tc.user, tc.key); !errors.Is(err, loginlink.ErrLinkInvalid) {
			t.Errorf("%s: %v, want login_link_invalid", tc.name, err)
		}
		if _, err := f.consume(token, ann.ID, "secret"); !errors.Is(err, loginlink.ErrLinkInvalid) {
			t.Errorf("%s: the right user and key afterwards: %v, want the link spent", tc.name, err)
		}
	}
	if f.live(t, ann.ID)+f.live(t, bob.ID) != 0 {
		t.Fatal("a session was started")
	}
}

func TestAnExpiredLinkIsRefused(t *testing.T) {
	t.Parallel()
	f := newFixture(t, options{tenant: func(tn *tenant.Tenant) { tn.Profiles.Seed000LoginLinkTTL = time.Minute }})
	ann := f.user(t, "ann", identity.RoleUser)
	early, late := f.issue(t, ann, "k"), f.issue(t, ann, "k")
	f.clock.Advance(59 * time.Second)
	if _, err := f.consume(early, ann.ID, "k"); err != nil {
		t.Fatalf("at 59 s of 60: %v", err)
	}
	f.clock.Advance(time.Second)
	if err := f.svc.Check(ctx, loginlink.Presented{Token: late, UserID: ann.ID, SecretKey: "k"}); !errors.Is(err, loginlink.ErrLinkInvalid) {
		t.Fatalf("check at 60 s: %v, want login_link_invalid", err)
	}
	if _, err := f.consume(late, ann.ID, "k"); !errors.Is(err, loginlink.ErrLinkInvalid) {
		t.Fatalf("at 60 s of 60: %v, want login_link_invalid", err)
	}
}

// TestAnotherTenantsLinkIsRefusedThere: a link of one tenant, presented to
// another on the same store, signs in nobody there and stays usable where
// it was issued.
func TestAnotherTenantsLinkIsRefusedThere(t *testing.T) {
	t.Parallel()
	clock := platformtest.NewClock(time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC))
	store := otptest.NewMemoryStore(clock)
	shop := newFixture(t, options{id: "shop", store: store, clock: clock})
	other := newFixture(t, options{id: "other", store: store, clock: clock})
	ann := shop.user(t, "ann", identity.RoleUser)
	other.user(t, "ann", identity.RoleUser) // the same id in the other tenant
	token := shop.issue(t, ann, "k")
	if err := other.svc.Check(ctx, loginlink.Presented{Token: token, UserID: ann.ID, SecretKey: "k"}); !errors.Is(err, loginlink.ErrLinkInvalid) {
		t.Fatalf("check on the other tenant: %v", err)
	}
	if _, err := other.consume(token, ann.ID, "k"); !errors.Is(err, loginlink.ErrLinkInvalid) {
		t.Fatalf("use on the other tenant: %v", err)
	}
	if other.live(t, ann.ID) != 0 {
		t.Fatal("the other tenant started a session")
	}
	if _, err := shop.consume(token, ann.ID, "k"); err != nil {
		t.Fatalf("the link on its own tenant afterwards: %v", err)
	}
}

// TestCheckNeverSpendsALink: checking (what a scanner's GET runs) as often
// as anyone likes, with the right or a wrong secret, leaves the link for
// its user.
func TestCheckNeverSpendsALink(t *testing.T) {
	t.Parallel()
	f := newFixture(t, options{})
	ann := f.user(t, "ann", identity.RoleUser)
	token := f.issue(t, ann, "k")
	for range 5 {
		if err := f.svc.Check(ctx, loginlink.Presented{Token: token, UserID: ann.ID, SecretKey: "k"}); err != nil {
			t.Fatalf("check: %v", err)
		}
		if err := f.svc.Check(ctx, loginlink.Presented{Token: token, UserID: ann.ID, SecretKey: "wrong"}); !errors.Is(err, loginlink.ErrLinkInvalid) {
			t.Fatalf("check with a wrong key: %v", err)
		}
	}
	for _, bad := range []string{"", "short", token + "x"} {
		if err := f.svc.Check(ctx, loginlink.Presented{Token: bad, UserID: ann.ID, SecretKey: "k"}); !errors.Is(err, loginlink.ErrLinkInvalid) {
			t.Fatalf("check of %q: %v", bad, err)
		}
	}
	if f.live(t, ann.ID) != 0 {
		t.Fatal("a check started a session")
	}
	if _, err := f.consume(token, ann.ID, "k"); err != nil {
		t.Fatalf("the link after the checks: %v", err)
	}
}

// TestWhoMayIssue: the scope login_links:issue (staff and admin have it,
// a user has not), and only for a user the actor outranks.
func TestWhoMayIssue(t *testing.T) {
	t.Parallel()
	f := newFixture(t, options{})
	byRole := map[identity.Role]identity.User{}
	for _, r := range []identity.Role{identity.RoleUser, identity.RoleStaff, identity.RoleAdmin} {
		byRole[r] = f.user(t, string(r)+"-1", r)
		f.user(t, string(r)+"-2", r)
	}
	cases := []struct {
		actor, target identity.Role
		allowed       bool
	}{
		{identity.RoleUser, identity.RoleUser, false}, // no scope
		{identity.RoleUser, identity.RoleStaff, false},
		{identity.RoleStaff, identity.RoleUser, true},
		{identity.RoleStaff, identity.RoleStaff, false}, // not outranked
		{identity.RoleStaff, identity.RoleAdmin, false},
		{identity.RoleAdmin, identity.RoleUser, true},
		{identity.RoleAdmin, identity.RoleStaff, true},
		{identity.RoleAdmin, identity.RoleAdmin, false},
	}
	for _, tc := range cases {
		_, err := f.svc.Issue(ctx, loginlink.IssueInput{Actor: byRole[tc.actor], UserID: string(tc.target) + "-2", SecretKey: "k"})
		switch {
		case tc.allowed && err != nil:
			t.Errorf("%s for a %s: %v, want a link", tc.actor, tc.target, err)
		case !tc.allowed && !errors.Is(err, identity.ErrForbidden):
			t.Errorf("%s for a %s: %v, want forbidden", tc.actor, tc.target, err)
		}
	}
	// Not even for themselves.
	if _, err := f.svc.Issue(ctx, loginlink.IssueInput{Actor: byRole[identity.RoleAdmin], UserID: byRole[identity.RoleAdmin].ID, SecretKey: "k"}); !errors.Is(err, identity.ErrForbidden) {
		t.Errorf("an admin for themselves: %v, want forbidden", err)
	}
	// The scope is checked before anything is read or validated.
	_, err := f.svc.Issue(ctx, loginlink.IssueInput{Actor: byRole[identity.RoleUser]})
	if e := errs.As(err); !errors.Is(err, identity.ErrForbidden) || e.Extensions["scope"] != string(identity.ScopeLoginLinksIssue) {
		t.Errorf("a user with no fields: %v, want forbidden naming the scope", err)
	}
	// An actor of another tenant, or disabled, is nobody here.
	stranger := byRole[identity.RoleAdmin]
	stranger.TenantID = "other"
	disabled := byRole[identity.RoleAdmin]
	disabled.Active = false
	for _, a := range []identity.User{stranger, disabled} {
		if _, err := f.svc.Issue(ctx, loginlink.IssueInput{Actor: a, UserID: "user-2", SecretKey: "k"}); !errors.Is(err, identity.ErrForbidden) {
			t.Errorf("actor %+v: %v, want forbidden", a, err)
		}
	}
}

func TestIssueFieldErrors(t *testing.T) {
	t.Parallel()
	f := newFixture(t, options{})
	staff := f.user(t, "staff", identity.RoleStaff)
	f.user(t, "ann", identity.RoleUser)
	gone := f.user(t, "gone", identity.RoleUser)
	if err := f.users.SetActive(ctx, f.t.ID, gone.ID, false, f.clock.Now()); err != nil {
		t.Fatal(err)
	}
	long := make([]byte, loginlink.MaxSecretKeyLength+1)
	for i := range long {
		long[i] = 'k'
	}
	cases := []struct {
		name, user, key string
		want            map[string]string
	}{
		{"nothing", "", "", map[string]string{"user": "is required", "secret_key": "is required"}},
		{"blank key", "ann", "   ", map[string]string{"secret_key": "is required"}},
		{"long key", "ann", string(long), map[string]string{"secret_key": "must be at most 256 bytes"}},
		{"unknown user", "nobody", "k", map[string]string{"user": "does not exist"}},
		{"inactive user", "gone", "k", map[string]string{"user": "is not active"}},
		{"unknown user, no key", "nobody", "", map[string]string{"user": "does not exist", "secret_key": "is required"}},
	}
	for _, tc := range cases {
		_, err := f.svc.Issue(ctx, loginlink.IssueInput{Actor: staff, UserID: tc.user, SecretKey: tc.key})
		e := errs.As(err)
		if e == nil || e.Kind != errs.Invalid || len(e.Fields) != len(tc.want) {
			t.Errorf("%s: %v, want field errors %v", tc.name, err, tc.want)
			continue
		}
		for _, fe := range e.Fields {
			if tc.want[fe.Field] != fe.Reason {
				t.Errorf("%s: %s: %q, want %q", tc.name, fe.Field, fe.Reason, tc.want[fe.Field])
			}
		}
	}
}

// TestAUserWithASecondFactorGetsNoSession: the link ends in the pipeline,
// which asks for the second factor this method cannot take.
func TestAUserWithASecondFactorGetsNoSession(t *testing.T) {
	t.Parallel()
	f := newFixture(t, options{})
	ann := f.user(t, "ann", identity.RoleUser)
	e, err := f.factors.Service.Start(ctx, ann)
	if err != nil {
		t.Fatal(err)
	}
	code, err := totp.GenerateCode(e.Secret, f.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := f.factors.Service.Confirm(ctx, ann, code); err != nil {
		t.Fatal(err)
	}
	token := f.issue(t, ann, "k")
	if _, err := f.consume(token, ann.ID, "k"); !errors.Is(err, login.ErrMFARequired) {
		t.Fatalf("a user with TOTP: %v, want mfa_required", err)
	}
	if f.live(t, ann.ID) != 0 {
		t.Fatal("a session was started past the second factor")
	}
}

func TestADisabledAccountOrMethodSignsNobodyIn(t *testing.T) {
	t.Parallel()
	f := newFixture(t, options{})
	ann := f.user(t, "ann", identity.RoleUser)
	token := f.issue(t, ann, "k")
	if err := f.users.SetActive(ctx, f.t.ID, ann.ID, false, f.clock.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := f.consume(token, ann.ID, "k"); !errors.Is(err, login.ErrInvalidCredentials) {
		t.Fatalf("a link of a disabled account: %v, want invalid_credentials", err)
	}

	off := newFixture(t, options{tenant: func(tn *tenant.Tenant) { tn.LoginMethods = []tenant.LoginMethod{tenant.MethodPassword} }})
	staff, bob := off.user(t, "staff", identity.RoleStaff), off.user(t, "bob", identity.RoleUser)
	if _, err := off.svc.Issue(ctx, loginlink.IssueInput{Actor: staff, UserID: bob.ID, SecretKey: "k"}); !errors.Is(err, login.ErrMethodDisabled) {
		t.Fatalf("issue without admin_link: %v", err)
	}
	if _, err := off.consume(token, bob.ID, "k"); !errors.Is(err, login.ErrMethodDisabled) {
		t.Fatalf("use without admin_link: %v", err)
	}
}

func TestADailyCapPerUser(t *testing.T) {
	t.Parallel()
	f := newFixture(t, options{})
	ann := f.user(t, "ann", identity.RoleUser)
	staff := f.user(t, "staff", identity.RoleStaff)
	for range loginlink.DefaultDailyCap {
		f.issue(t, ann, "k")
	}
	if _, err := f.svc.Issue(ctx, loginlink.IssueInput{Actor: staff, UserID: ann.ID, SecretKey: "k"}); !errors.Is(err, otp.ErrDailyCap) {
		t.Fatalf("link %d of the day: %v, want otp_daily_cap", loginlink.DefaultDailyCap+1, err)
	}
}

// TestLinksAreAudited: an issued link is link.issued with its issuer and
// user; a used one is link.used (and the pipeline's login.succeeded); a
// link presented with another secret key, and a used one again, are
// login.failed (login_link_invalid) — and no event holds the token or the
// secret key.
func TestLinksAreAudited(t *testing.T) {
	t.Parallel()
	f := newFixture(t, options{})
	ann := f.user(t, "ann", identity.RoleUser)
	staff := f.user(t, "staff", identity.RoleStaff)
	is, err := f.svc.Issue(ctx, loginlink.IssueInput{Actor: staff, UserID: ann.ID, SecretKey: "the-secret-key",
		Client: session.Client{IP: netip.MustParseAddr("198.51.100.4"), UserAgent: "admin-tool"}})
	if err != nil {
		t.Fatal(err)
	}
	issued := f.audit.Of(audit.LinkIssued)
	if len(issued) != 1 || issued[0].ActorID != staff.ID || issued[0].TargetID != ann.ID || issued[0].Method != "admin_link" ||
		issued[0].IP.String() != "198.51.100.4" || issued[0].UserAgent != "admin-tool" {
		t.Fatalf("link.issued %+v; want one, by staff for ann, from the issuing client", issued)
	}
	if _, err := f.consume(is.Token, ann.ID, "the-secret-key"); err != nil {
		t.Fatal(err)
	}
	if used := f.audit.Of(audit.LinkUsed); len(used) != 1 || used[0].TargetID != ann.ID || used[0].ActorID != "" {
		t.Fatalf("link.used %+v; want one, for ann", used)
	}
	if _, err := f.consume(is.Token, ann.ID, "the-secret-key"); !errors.Is(err, loginlink.ErrLinkInvalid) {
		t.Fatalf("a used link: %v", err)
	}
	other := f.issue(t, ann, "right-key")
	if _, err := f.consume(other, ann.ID, "wrong-key"); !errors.Is(err, loginlink.ErrLinkInvalid) {
		t.Fatalf("a wrong secret key: %v", err)
	}
	failed := f.audit.Of(audit.LoginFailed)
	if len(failed) != 2 || failed[0].TargetID != "" || failed[1].TargetID != ann.ID {
		t.Fatalf("login.failed %+v; want the used link (no user known) and the wrong key (ann's live link)", failed)
	}
	for _, e := range failed {
		if e.Reason != "login_link_invalid" || e.Method != "admin_link" {
			t.Errorf("login.failed %+v; want reason login_link_invalid, method admin_link", e)
		}
	}
	if n := len(f.audit.Of(audit.LoginSucceeded)); n != 1 {
		t.Errorf("%d login.succeeded, want 1", n)
	}
	if held := f.audit.Holding(is.Token, other, "the-secret-key", "right-key", "wrong-key"); len(held) > 0 {
		t.Fatalf("events hold a secret: %+v", held)
	}
}
