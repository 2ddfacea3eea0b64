package login_test

import (
	"errors"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portcullis/portcullis/application/login"
	"github.com/portcullis/portcullis/application/platform/platformtest"
	"github.com/portcullis/portcullis/application/session"
	"github.com/portcullis/portcullis/domain/identity"
	"github.com/portcullis/portcullis/domain/tenant"
)

// grant is a password first factor of the user as the store has it now,
// as a method hands it over.
func (f *fixture) grant(t *testing.T) login.Grant {
	t.Helper()
	u, err := f.users.ByID(ctx, f.user.TenantID, f.user.ID)
	if err != nil {
		t.Fatal(err)
	}
	return login.Grant{User: u, Method: tenant.MethodPassword, AMR: []string{"pwd"}, Kind: identity.SessionAPI,
		Client: session.Client{IP: netip.MustParseAddr("203.0.113.7")}}
}

// TestTheFirstSignInIsToldOnce: the outcome of a user's first sign-in
// says so, every later one does not, also a minute later when the last
// login is written again, and for a user read before the first sign-in.
func TestTheFirstSignInIsToldOnce(t *testing.T) {
	t.Parallel()
	f := newFixture(t, false)
	stale := f.grant(t)
	for i, want := range []bool{true, false} {
		out, err := f.complete(f.grant(t))
		if err != nil || out.FirstSignIn != want {
			t.Fatalf("sign-in %d: first %v, %v; want %v", i+1, out.FirstSignIn, err, want)
		}
	}
	f.clock.Advance(2 * time.Minute)
	for what, g := range map[string]login.Grant{"later": f.grant(t), "with the user as read before the first": stale} {
		if out, err := f.complete(g); err != nil || out.FirstSignIn {
			t.Fatalf("%s: first %v, %v; want false", what, out.FirstSignIn, err)
		}
	}
}

// TestAUserWhoSignedInBeforeIsNotAskedFor: a user with a last login
// (signed in before the first-sign-in store existed) is not the first,
// and the store is not asked: it would answer true.
func TestAUserWhoSignedInBeforeIsNotAskedFor(t *testing.T) {
	t.Parallel()
	f := newFixture(t, false)
	if err := f.users.RecordLogin(ctx, f.user.TenantID, f.user.ID, f.clock.Now().Add(-48*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if out, err := f.complete(f.grant(t)); err != nil || out.FirstSignIn {
		t.Fatalf("first %v, %v; want false", out.FirstSignIn, err)
	}
	if first, err := f.firstSignIns.Claim(ctx, f.user.TenantID, f.user.ID, f.clock.Now()); err != nil || !first {
		t.Fatalf("the store was claimed (%v, %v): the user's last login should have answered", first, err)
	}
}

// TestTheFirstSignInWithASecondFactorIsToldAtTheSecondStep: a first
// factor that ends in a challenge signs nobody in; the second step is
// the first sign-in.
func TestTheFirstSignInWithASecondFactorIsToldAtTheSecondStep(t *testing.T) {
	t.Parallel()
	f := newFixture(t, false)
	e := f.enrolled(t)
	ch := f.firstFactor(t)
	out, err := f.second(ch.Token, f.totp(t, e.Secret))
	if err != nil || !out.FirstSignIn {
		t.Fatalf("second step: first %v, %v; want true", out.FirstSignIn, err)
	}
}

// TestAStoreThatFailsLosesTheFlagNotTheSignIn: a claim that cannot be
// written answers false; the session is started all the same.
func TestAStoreThatFailsLosesTheFlagNotTheSignIn(t *testing.T) {
	t.Parallel()
	f := newFixture(t, false)
	f.firstSignIns.Fail(errors.New("store away"))
	out, err := f.complete(f.grant(t))
	if err != nil || out.Result != login.Signed || out.FirstSignIn {
		t.Fatalf("%v, first %v, %v; want signed, not first", out.Result, out.FirstSignIn, err)
	}
}

// TestOfConcurrentFirstSignInsOneIsTheFirst: sign-ins released together,
// each with the user as read before any of them, tell one first sign-in.
func TestOfConcurrentFirstSignInsOneIsTheFirst(t *testing.T) {
	t.Parallel()
	f := newFixture(t, false)
	g := f.grant(t)
	var firsts, signed atomic.Int64
	platformtest.Race(platformtest.Racers, func(int) {
		out, err := f.complete(g)
		if err == nil && out.Result == login.Signed {
			signed.Add(1)
		}
		if out.FirstSignIn {
			firsts.Add(1)
		}
	})
	if signed.Load() != platformtest.Racers || firsts.Load() != 1 {
		t.Fatalf("%d signed in, %d told first; want %d and exactly 1", signed.Load(), firsts.Load(), platformtest.Racers)
	}
}
