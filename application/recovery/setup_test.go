package recovery_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portcullis/portcullis/application/audit"
	"github.com/portcullis/portcullis/application/platform/platformtest"
	"github.com/portcullis/portcullis/application/recovery"
	"github.com/portcullis/portcullis/application/session"
	"github.com/portcullis/portcullis/application/setuplink"
	"github.com/portcullis/portcullis/application/throttle"
	"github.com/portcullis/portcullis/domain/errs"
	"github.com/portcullis/portcullis/domain/identity"
	"github.com/portcullis/portcullis/domain/tenant"
)

var setupMaster = []byte("a master key of at least sixteen bytes")

// withSetupLinks returns f's reset flow with the tenant's set-password
// link key (its deps changed by mutate), and that key.
func withSetupLinks(t *testing.T, f *fixture, mutate ...func(*recovery.Deps)) (*recovery.Service, setuplink.Key) {
	t.Helper()
	k, err := setuplink.DeriveKey(setupMaster, f.t.ID)
	if err != nil {
		t.Fatal(err)
	}
	d := recovery.Deps{
		Users: f.users, Codes: f.codes, Limiter: f.limiter, Hasher: hasher{}, Common: common{"password1": true},
		Mail: f.courier, Sessions: f.sess, Audit: f.audit, Clock: f.clock, Setup: k,
	}
	for _, m := range mutate {
		m(&d)
	}
	return recovery.New(f.t, recovery.Policy{BaseURL: base}, d), k
}

// addBootstrapped adds an account as `admin create -link` makes it: no
// password. The address is left unverified here, to show that a link
// does not verify it.
func (f *fixture) addBootstrapped(t *testing.T, id, email string) identity.User {
	t.Helper()
	return f.addUser(t, id, email, func(u *identity.User) { u.PasswordHash, u.Role = "", identity.RoleAdmin })
}

func setupToken(t *testing.T, k setuplink.Key, u identity.User, ttl time.Duration, now time.Time) string {
	t.Helper()
	tok, err := k.Mint(u, now.Add(ttl))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestASetupLinkSetsAPasswordOnce: a set-password link validates without
// being used, sets the password, ends the sessions, is recorded as a
// reset by setup link, leaves the address as it was (it was not mailed),
// and is dead afterwards — also when its one-use marker is lost.
func TestASetupLinkSetsAPasswordOnce(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	svc, k := withSetupLinks(t, f)
	u := f.addBootstrapped(t, "u1", "boss@example.com")
	c, err := f.issuer.Start(ctx, u, identity.SessionApp, []string{"otp"}, alice)
	if err != nil {
		t.Fatal(err)
	}
	tok := setupToken(t, k, u, setuplink.DefaultTTL, f.clock.Now())
	for range 2 {
		if err := svc.Validate(ctx, tok); err != nil {
			t.Fatalf("validate: %v", err)
		}
	}
	f.audit.Reset()
	got, err := svc.Reset(ctx, recovery.ResetInput{Token: tok, Password: "a new long password", Client: alice})
	if err != nil {
		t.Fatal(err)
	}
	stored, _ := f.users.ByID(ctx, f.t.ID, u.ID)
	if got.PasswordHash != "fake$a new long password" || stored.PasswordHash != got.PasswordHash || got.EmailVerified || stored.EmailVerified {
		t.Fatalf("returned %+v, stored %+v", got, stored)
	}
	if _, err := f.sess.Authenticate(ctx, session.ByToken, c.AppToken); err == nil {
		t.Fatal("a session outlived the password set")
	}
	events := f.audit.Events()
	if want := []audit.Type{audit.PasswordReset, audit.SessionRevoked}; !slices.Equal(typesOf(events), want) {
		t.Fatalf("recorded %v, want %v", typesOf(events), want)
	}
	if e := events[0]; e.TargetID != u.ID || e.Method != recovery.SetupLinkMethod || e.IP != alice.IP {
		t.Fatalf("reset event %+v", e)
	}
	if held := f.audit.Holding(tok, "a new long password"); len(held) > 0 {
		t.Fatalf("events hold a secret: %+v", held)
	}

	_, err = svc.Reset(ctx, recovery.ResetInput{Token: tok, Password: "another long password"})
	invalidToken(t, "the used link", err)
	invalidToken(t, "validate the used link", svc.Validate(ctx, tok))
	if err := f.limiter.Reset(ctx, throttle.SetupLinkUsed(tok)); err != nil {
		t.Fatal(err)
	}
	_, err = svc.Reset(ctx, recovery.ResetInput{Token: tok, Password: "another long password"})
	invalidToken(t, "the used link once its marker is gone", err)
}

func TestASetupLinkIsRefusedLikeABadResetToken(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		// prepare returns the token to use, after changing what it needs.
		prepare func(t *testing.T, f *fixture, k setuplink.Key, u identity.User) string
	}{
		{"expired", func(t *testing.T, f *fixture, k setuplink.Key, u identity.User) string {
			tok := setupToken(t, k, u, time.Hour, f.clock.Now())
			f.clock.Advance(time.Hour)
			return tok
		}},
		{"of another tenant", func(t *testing.T, f *fixture, _ setuplink.Key, u identity.User) string {
			other, err := setuplink.DeriveKey(setupMaster, "other")
			if err != nil {
				t.Fatal(err)
			}
			return setupToken(t, other, u, time.Hour, f.clock.Now())
		}},
		{"under another master key", func(t *testing.T, f *fixture, _ setuplink.Key, u identity.User) string {
			other, err := setuplink.DeriveKey([]byte("another master key, long enough"), f.t.ID)
			if err != nil {
				t.Fatal(err)
			}
			return setupToken(t, other, u, time.Hour, f.clock.Now())
		}},
		{"for an unknown account", func(t *testing.T, f *fixture, k setuplink.Key, u identity.User) string {
			u.ID = "nobody"
			return setupToken(t, k, u, time.Hour, f.clock.Now())
		}},
		{"of a disabled account", func(t *testing.T, f *fixture, k setuplink.Key, u identity.User) string {
			if err := f.users.mem.SetActive(ctx, f.t.ID, u.ID, false, f.clock.Now()); err != nil {
				t.Fatal(err)
			}
			return setupToken(t, k, u, time.Hour, f.clock.Now())
		}},
		{"after a password was set elsewhere", func(t *testing.T, f *fixture, k setuplink.Key, u identity.User) string {
			tok := setupToken(t, k, u, time.Hour, f.clock.Now())
			if err := f.users.SetPasswordHash(ctx, f.t.ID, u.ID, "fake$elsewhere", f.clock.Now()); err != nil {
				t.Fatal(err)
			}
			return tok
		}},
		{"tampered with", func(t *testing.T, f *fixture, k setuplink.Key, u identity.User) string {
			tok := setupToken(t, k, u, time.Hour, f.clock.Now())
			return tok[:len(tok)-2] + "AA"
		}},
		{"malformed", func(*testing.T, *fixture, setuplink.Key, identity.User) string { return setuplink.Prefix + "x" }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			svc, k := withSetupLinks(t, f)
			u := f.addBootstrapped(t, "u1", "boss@example.com")
			tok := c.prepare(t, f, k, u)
			invalidToken(t, "validate", svc.Validate(ctx, tok))
			_, err := svc.Reset(ctx, recovery.ResetInput{Token: tok, Password: "a new long password"})
			invalidToken(t, "reset", err)
		})
	}
}

func TestAFlowWithoutTheKeyRefusesSetupLinks(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	_, k := withSetupLinks(t, f)
	u := f.addBootstrapped(t, "u1", "boss@example.com")
	tok := setupToken(t, k, u, time.Hour, f.clock.Now())
	invalidToken(t, "validate", f.svc.Validate(ctx, tok))
	_, err := f.svc.Reset(ctx, recovery.ResetInput{Token: tok, Password: "a new long password"})
	invalidToken(t, "reset", err)
}

func TestAWeakPasswordLeavesTheSetupLinkWorking(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	svc, k := withSetupLinks(t, f)
	u := f.addBootstrapped(t, "u1", "boss@example.com")
	tok := setupToken(t, k, u, time.Hour, f.clock.Now())
	if _, err := svc.Reset(ctx, recovery.ResetInput{Token: tok, Password: "password1"}); !errors.Is(err, identity.ErrWeakPassword) {
		t.Fatalf("a common password: %v", err)
	}
	if _, err := svc.Reset(ctx, recovery.ResetInput{Token: tok, Password: "a new long password"}); err != nil {
		t.Fatalf("after a refused password: %v", err)
	}
}

// flaky is a limiter that fails while down is set.
type flaky struct {
	throttle.Limiter
	down atomic.Bool
}

func (l *flaky) Hit(ctx context.Context, key string, lim tenant.Limit) (bool, time.Duration, error) {
	if l.down.Load() {
		return false, 0, errors.New("redis down")
	}
	return l.Limiter.Hit(ctx, key, lim)
}

func (l *flaky) Refund(ctx context.Context, key string, lim tenant.Limit) error {
	if l.down.Load() {
		return errors.New("redis down")
	}
	return l.Limiter.Refund(ctx, key, lim)
}

func (l *flaky) Reset(ctx context.Context, key string) error {
	if l.down.Load() {
		return errors.New("redis down")
	}
	return l.Limiter.Reset(ctx, key)
}

// TestASetupLinkNeedsItsMarker: without Redis no use can be told from a
// concurrent one, so none goes through, and the link keeps working.
func TestASetupLinkNeedsItsMarker(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	lim := &flaky{Limiter: f.limiter}
	svc, k := withSetupLinks(t, f, func(d *recovery.Deps) { d.Limiter = lim })
	u := f.addBootstrapped(t, "u1", "boss@example.com")
	tok := setupToken(t, k, u, time.Hour, f.clock.Now())
	lim.down.Store(true)
	_, err := svc.Reset(ctx, recovery.ResetInput{Token: tok, Password: "a new long password"})
	if errs.KindOf(err) != errs.Unavailable {
		t.Fatalf("%v, want unavailable", err)
	}
	if stored, _ := f.users.ByID(ctx, f.t.ID, u.ID); stored.PasswordHash != "" {
		t.Fatalf("a password was set: %+v", stored)
	}
	lim.down.Store(false)
	if _, err := svc.Reset(ctx, recovery.ResetInput{Token: tok, Password: "a new long password"}); err != nil {
		t.Fatalf("once the limiter is back: %v", err)
	}
}

// slowWrites holds every password write a moment before it lands, as a
// loaded store would: long enough for concurrent uses of one link to all
// find the account still without a password.
type slowWrites struct{ *users }

func (u slowWrites) SetPasswordHash(ctx context.Context, tenantID, id, hash string, at time.Time) error {
	time.Sleep(50 * time.Millisecond)
	return u.users.SetPasswordHash(ctx, tenantID, id, hash, at)
}

// TestConcurrentUsesOfASetupLinkSucceedOnce: requests that all check the
// link before any sets the password are settled by its one-use marker.
func TestConcurrentUsesOfASetupLinkSucceedOnce(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	svc, k := withSetupLinks(t, f, func(d *recovery.Deps) { d.Users = slowWrites{f.users} })
	u := f.addBootstrapped(t, "u1", "boss@example.com")
	tok := setupToken(t, k, u, time.Hour, f.clock.Now())
	var won, refused atomic.Int64
	var other sync.Map
	platformtest.Race(platformtest.Racers, func(i int) {
		_, err := svc.Reset(ctx, recovery.ResetInput{Token: tok, Password: fmt.Sprintf("new password number %d", i)})
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
