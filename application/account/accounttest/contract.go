package accounttest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"testing"
	"time"

	"github.com/portcullis/portcullis/application/account"
	"github.com/portcullis/portcullis/application/platform/platformtest"
	"github.com/portcullis/portcullis/domain/errs"
	"github.com/portcullis/portcullis/domain/identity"
)

// The suites' clock and concurrency, shared with the other contract suites.
const racers = platformtest.Racers

var (
	t0   = platformtest.T0
	at   = platformtest.At
	race = platformtest.Race
)

func sampleUser(tenant, id, emailKey string) identity.User {
	return identity.User{ID: id, TenantID: tenant, Email: "Ada.Lovelace+" + emailKey, EmailKey: emailKey, FirstName: "Ada", LastName: "Lovelace",
		Phone: "+447400123456", Role: identity.RoleUser, Active: true, EmailVerified: true, PasswordHash: "$argon2id$v=19$m=65536,t=3,p=2$c2FsdA$aGFzaA",
		ProfilePhoto: "https://cdn.example.com/u/ada.jpg", PreferredLanguage: "AZERBAIJANI",
		Extra:     map[string]string{"gender": "female", "birthdate": "1815-12-10"},
		CreatedAt: at(0), UpdatedAt: at(time.Second)}
}

func sameUser(a, b identity.User) bool {
	return a.ID == b.ID && a.TenantID == b.TenantID && a.Email == b.Email && a.EmailKey == b.EmailKey && a.FirstName == b.FirstName &&
		a.LastName == b.LastName && a.Phone == b.Phone && a.Role == b.Role && a.Active == b.Active && a.EmailVerified == b.EmailVerified &&
		a.PhoneVerified == b.PhoneVerified && a.ProfilePhoto == b.ProfilePhoto && a.PreferredLanguage == b.PreferredLanguage &&
		maps.Equal(a.Extra, b.Extra) && (a.Extra == nil) == (b.Extra == nil) &&
		a.PasswordHash == b.PasswordHash && a.CreatedAt.Equal(b.CreatedAt) && a.UpdatedAt.Equal(b.UpdatedAt) && a.LastLoginAt.Equal(b.LastLoginAt)
}

// RunUsersContract checks the behaviour every account.Users must have.
// newStore returns an empty store (or one in which the tenant ids the suite
// makes up are unused).
func RunUsersContract(t *testing.T, newStore func(t *testing.T) account.Users) {
	t.Helper()
	ctx := context.Background()

	t.Run("create then look up by id and by e-mail key round-trips every field", func(t *testing.T) {
		s := newStore(t)
		u := sampleUser("u-alpha", "user-1", "ada@example.com")
		u.LastLoginAt = at(time.Minute)
		if err := s.Create(ctx, u); err != nil {
			t.Fatal(err)
		}
		for name, get := range map[string]func() (identity.User, error){
			"ByID":    func() (identity.User, error) { return s.ByID(ctx, "u-alpha", "user-1") },
			"ByEmail": func() (identity.User, error) { return s.ByEmail(ctx, "u-alpha", "ada@example.com") },
		} {
			got, err := get()
			if err != nil || !sameUser(got, u) {
				t.Fatalf("%s = %+v, %v; want %+v", name, got, err, u)
			}
		}
		// Optional fields left empty stay empty (a store may leave them out
		// of what it writes: a document from before profile_photo and
		// preferred_language existed reads like this one).
		bare := identity.User{ID: "user-2", TenantID: "u-alpha", Email: "b@example.com", EmailKey: "b@example.com", Role: identity.RoleAdmin, CreatedAt: at(0), UpdatedAt: at(0)}
		if err := s.Create(ctx, bare); err != nil {
			t.Fatal(err)
		}
		if got, err := s.ByID(ctx, "u-alpha", "user-2"); err != nil || !sameUser(got, bare) || !got.LastLoginAt.IsZero() {
			t.Fatalf("ByID = %+v, %v; want %+v", got, err, bare)
		}
	})

	t.Run("unknown users are not found", func(t *testing.T) {
		s := newStore(t)
		if _, err := s.ByID(ctx, "u-beta", "nobody"); !errors.Is(err, errs.ErrNotFound) {
			t.Fatalf("ByID: %v", err)
		}
		if _, err := s.ByEmail(ctx, "u-beta", "nobody@example.com"); !errors.Is(err, errs.ErrNotFound) {
			t.Fatalf("ByEmail: %v", err)
		}
	})

	t.Run("a taken e-mail key is refused", func(t *testing.T) {
		s := newStore(t)
		if err := s.Create(ctx, sampleUser("u-gamma", "user-1", "ada@example.com")); err != nil {
			t.Fatal(err)
		}
		if err := s.Create(ctx, sampleUser("u-gamma", "user-2", "ada@example.com")); !errors.Is(err, identity.ErrEmailTaken) {
			t.Fatalf("second create: %v, want ErrEmailTaken", err)
		}
		if _, err := s.ByID(ctx, "u-gamma", "user-2"); !errors.Is(err, errs.ErrNotFound) {
			t.Fatalf("the refused user was stored: %v", err)
		}
	})

	t.Run("the same e-mail key in two tenants is allowed and lookups stay in their tenant", func(t *testing.T) {
		s := newStore(t)
		if err := s.Create(ctx, sampleUser("u-delta", "user-d", "ada@example.com")); err != nil {
			t.Fatal(err)
		}
		if err := s.Create(ctx, sampleUser("u-epsilon", "user-e", "ada@example.com")); err != nil {
			t.Fatalf("the same e-mail key in another tenant must be allowed: %v", err)
		}
		if got, err := s.ByEmail(ctx, "u-delta", "ada@example.com"); err != nil || got.ID != "user-d" {
			t.Fatalf("ByEmail in u-delta = %+v, %v", got, err)
		}
		if _, err := s.ByID(ctx, "u-epsilon", "user-d"); !errors.Is(err, errs.ErrNotFound) {
			t.Fatalf("ByID of another tenant's user: %v, want ErrNotFound", err)
		}
		if _, err := s.ByEmail(ctx, "u-zeta", "ada@example.com"); !errors.Is(err, errs.ErrNotFound) {
			t.Fatalf("ByEmail in a third tenant: %v, want ErrNotFound", err)
		}
	})

	t.Run("concurrent creates of one e-mail key: exactly one wins", func(t *testing.T) {
		s := newStore(t)
		results := make([]error, racers)
		race(racers, func(i int) {
			results[i] = s.Create(ctx, sampleUser("u-eta", fmt.Sprintf("racer-%d", i), "race@example.com"))
		})
		winner := -1
		for i, err := range results {
			switch {
			case err == nil && winner >= 0:
				t.Errorf("racers %d and %d both created the user", winner, i)
			case err == nil:
				winner = i
			case !errors.Is(err, identity.ErrEmailTaken):
				t.Errorf("racer %d: %v, want ErrEmailTaken", i, err)
			}
		}
		if winner < 0 {
			t.Fatal("no create succeeded")
		}
		got, err := s.ByEmail(ctx, "u-eta", "race@example.com")
		if err != nil || got.ID != fmt.Sprintf("racer-%d", winner) {
			t.Fatalf("ByEmail = %+v, %v; want racer-%d", got, err, winner)
		}
		for i := range racers {
			if _, err := s.ByID(ctx, "u-eta", fmt.Sprintf("racer-%d", i)); i != winner && !errors.Is(err, errs.ErrNotFound) {
				t.Errorf("loser racer-%d was stored: %v", i, err)
			}
		}
	})

	t.Run("SetPasswordHash replaces the hash and stamps updated_at", func(t *testing.T) {
		s := newStore(t)
		u := sampleUser("u-theta", "user-1", "ada@example.com")
		if err := s.Create(ctx, u); err != nil {
			t.Fatal(err)
		}
		if err := s.SetPasswordHash(ctx, "u-theta", "user-1", "$argon2id$new", at(time.Hour)); err != nil {
			t.Fatal(err)
		}
		want := u
		want.PasswordHash, want.UpdatedAt = "$argon2id$new", at(time.Hour)
		if got, err := s.ByID(ctx, "u-theta", "user-1"); err != nil || !sameUser(got, want) {
			t.Fatalf("ByID = %+v, %v; want %+v", got, err, want)
		}
	})

	t.Run("RecordLogin stamps last_login_at and nothing else", func(t *testing.T) {
		s := newStore(t)
		u := sampleUser("u-iota", "user-1", "ada@example.com")
		if err := s.Create(ctx, u); err != nil {
			t.Fatal(err)
		}
		for _, d := range []time.Duration{time.Hour, 2 * time.Hour} {
			if err := s.RecordLogin(ctx, "u-iota", "user-1", at(d)); err != nil {
				t.Fatal(err)
			}
		}
		want := u
		want.LastLoginAt = at(2 * time.Hour)
		if got, err := s.ByEmail(ctx, "u-iota", "ada@example.com"); err != nil || !sameUser(got, want) {
			t.Fatalf("ByEmail = %+v, %v; want %+v", got, err, want)
		}
	})

	t.Run("SetActive disables and enables", func(t *testing.T) {
		s := newStore(t)
		u := sampleUser("u-mu", "user-1", "ada@example.com")
		if err := s.Create(ctx, u); err != nil {
			t.Fatal(err)
		}
		if err := s.SetActive(ctx, "u-mu", "user-1", false, at(time.Hour)); err != nil {
			t.Fatal(err)
		}
		want := u
		want.Active, want.UpdatedAt = false, at(time.Hour)
		if got, err := s.ByID(ctx, "u-mu", "user-1"); err != nil || !sameUser(got, want) {
			t.Fatalf("ByID = %+v, %v; want %+v", got, err, want)
		}
		if err := s.SetActive(ctx, "u-mu", "user-1", true, at(2*time.Hour)); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.ByID(ctx, "u-mu", "user-1"); !got.Active {
			t.Fatal("not enabled again")
		}
		if err := s.SetActive(ctx, "u-nu", "user-1", false, at(time.Hour)); !errors.Is(err, errs.ErrNotFound) {
			t.Fatalf("another tenant's user: %v", err)
		}
	})

	t.Run("updates of an unknown or another tenant's user are not found", func(t *testing.T) {
		s := newStore(t)
		u := sampleUser("u-kappa", "user-1", "ada@example.com")
		if err := s.Create(ctx, u); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct{ tenant, id string }{{"u-kappa", "nobody"}, {"u-lambda", "user-1"}} {
			if err := s.SetPasswordHash(ctx, tc.tenant, tc.id, "$argon2id$evil", at(time.Hour)); !errors.Is(err, errs.ErrNotFound) {
				t.Errorf("SetPasswordHash(%s, %s): %v, want ErrNotFound", tc.tenant, tc.id, err)
			}
			if err := s.RecordLogin(ctx, tc.tenant, tc.id, at(time.Hour)); !errors.Is(err, errs.ErrNotFound) {
				t.Errorf("RecordLogin(%s, %s): %v, want ErrNotFound", tc.tenant, tc.id, err)
			}
			if err := s.SetEmailVerified(ctx, tc.tenant, tc.id, "ada@example.com", at(time.Hour)); !errors.Is(err, errs.ErrNotFound) {
				t.Errorf("SetEmailVerified(%s, %s): %v, want ErrNotFound", tc.tenant, tc.id, err)
			}
			if err := s.SetName(ctx, tc.tenant, tc.id, "Eve", "Evil", at(time.Hour)); !errors.Is(err, errs.ErrNotFound) {
				t.Errorf("SetName(%s, %s): %v, want ErrNotFound", tc.tenant, tc.id, err)
			}
			if err := s.SetRole(ctx, tc.tenant, tc.id, identity.RoleAdmin, at(time.Hour)); !errors.Is(err, errs.ErrNotFound) {
				t.Errorf("SetRole(%s, %s): %v, want ErrNotFound", tc.tenant, tc.id, err)
			}
			if err := s.SetEmail(ctx, tc.tenant, tc.id, "Eve@example.com", "eve@example.com", at(time.Hour)); !errors.Is(err, errs.ErrNotFound) {
				t.Errorf("SetEmail(%s, %s): %v, want ErrNotFound", tc.tenant, tc.id, err)
			}
			if err := s.SetPhone(ctx, tc.tenant, tc.id, "+447400999999", at(time.Hour)); !errors.Is(err, errs.ErrNotFound) {
				t.Errorf("SetPhone(%s, %s): %v, want ErrNotFound", tc.tenant, tc.id, err)
			}
		}
		if got, err := s.ByID(ctx, "u-kappa", "user-1"); err != nil || !sameUser(got, u) {
			t.Fatalf("the user changed: %+v, %v", got, err)
		}
		// A refused move holds on to nothing: the address and the number are
		// free in both tenants.
		for _, tenant := range []string{"u-kappa", "u-lambda"} {
			if got, err := s.ByPhone(ctx, tenant, "+447400999999"); !errors.Is(err, errs.ErrNotFound) {
				t.Errorf("ByPhone(%s) after a refused change = %+v, %v; want ErrNotFound", tenant, got, err)
			}
		}
		for _, tenant := range []string{"u-kappa", "u-lambda"} {
			if got, err := s.ByEmail(ctx, tenant, "eve@example.com"); !errors.Is(err, errs.ErrNotFound) {
				t.Errorf("ByEmail(%s, eve@) after a refused move = %+v, %v; want ErrNotFound", tenant, got, err)
			}
			eve := sampleUser(tenant, "user-eve", "eve@example.com")
			eve.Phone = ""
			if err := s.Create(ctx, eve); err != nil {
				t.Errorf("create in %s with the address of a refused move: %v", tenant, err)
			}
		}
	})

	t.Run("create then look up by phone round-trips every field; an empty or unknown phone finds nobody", func(t *testing.T) {
		s := newStore(t)
		u := sampleUser("p-alpha", "user-1", "ada@example.com")
		u.PhoneVerified = true
		if err := s.Create(ctx, u); err != nil {
			t.Fatal(err)
		}
		bare := identity.User{ID: "user-2", TenantID: "p-alpha", Email: "b@example.com", EmailKey: "b@example.com", Role: identity.RoleUser, CreatedAt: at(0), UpdatedAt: at(0)}
		if err := s.Create(ctx, bare); err != nil {
			t.Fatal(err)
		}
		if got, err := s.ByPhone(ctx, "p-alpha", u.Phone); err != nil || !sameUser(got, u) {
			t.Fatalf("ByPhone = %+v, %v; want %+v", got, err, u)
		}
		for _, tc := range []struct{ tenant, phone string }{
			{"p-alpha", ""}, {"p-alpha", "+905355555555"}, {"p-beta", u.Phone}, {"p-alpha", "none:user-2"}, {"p-alpha", "none:p-alpha/user-2"},
		} {
			if got, err := s.ByPhone(ctx, tc.tenant, tc.phone); !errors.Is(err, errs.ErrNotFound) {
				t.Errorf("ByPhone(%s, %q) = %+v, %v; want ErrNotFound", tc.tenant, tc.phone, got, err)
			}
		}
	})

	t.Run("a taken phone is refused in its tenant and allowed in another", func(t *testing.T) {
		s := newStore(t)
		if err := s.Create(ctx, sampleUser("p-gamma", "user-1", "ada@example.com")); err != nil {
			t.Fatal(err)
		}
		if err := s.Create(ctx, sampleUser("p-gamma", "user-2", "bob@example.com")); !errors.Is(err, identity.ErrPhoneTaken) {
			t.Fatalf("second create with the phone: %v, want ErrPhoneTaken", err)
		}
		if _, err := s.ByID(ctx, "p-gamma", "user-2"); !errors.Is(err, errs.ErrNotFound) {
			t.Fatalf("the refused user was stored: %v", err)
		}
		if _, err := s.ByEmail(ctx, "p-gamma", "bob@example.com"); !errors.Is(err, errs.ErrNotFound) {
			t.Fatalf("the refused user's e-mail was stored: %v", err)
		}
		// Both taken: the e-mail is reported.
		if err := s.Create(ctx, sampleUser("p-gamma", "user-3", "ada@example.com")); !errors.Is(err, identity.ErrEmailTaken) {
			t.Fatalf("e-mail and phone taken: %v, want ErrEmailTaken", err)
		}
		if err := s.Create(ctx, sampleUser("p-delta", "user-1", "ada@example.com")); err != nil {
			t.Fatalf("the same phone in another tenant must be allowed: %v", err)
		}
		if got, err := s.ByPhone(ctx, "p-gamma", "+447400123456"); err != nil || got.ID != "user-1" || got.TenantID != "p-gamma" {
			t.Fatalf("ByPhone in p-gamma = %+v, %v", got, err)
		}
		if got, err := s.ByPhone(ctx, "p-delta", "+447400123456"); err != nil || got.TenantID != "p-delta" {
			t.Fatalf("ByPhone in p-delta = %+v, %v", got, err)
		}
	})

	t.Run("a refused create leaves its e-mail and phone free for the next", func(t *testing.T) {
		s := newStore(t)
		if err := s.Create(ctx, sampleUser("p-eta", "user-1", "ada@example.com")); err != nil {
			t.Fatal(err)
		}
		// bob@ is refused for ada's phone; bob@ then registers without it.
		if err := s.Create(ctx, sampleUser("p-eta", "user-2", "bob@example.com")); !errors.Is(err, identity.ErrPhoneTaken) {
			t.Fatalf("create with a taken phone: %v, want ErrPhoneTaken", err)
		}
		bob := sampleUser("p-eta", "user-3", "bob@example.com")
		bob.Phone = "+447400123457"
		if err := s.Create(ctx, bob); err != nil {
			t.Fatalf("the e-mail of a refused create: %v", err)
		}
		// cyd@ is refused for user-1's id; her phone and e-mail stay free.
		cyd := sampleUser("p-eta", "user-1", "cyd@example.com")
		cyd.Phone = "+447400123458"
		if err := s.Create(ctx, cyd); !errors.Is(err, errs.ErrConflict) {
			t.Fatalf("create with a taken id: %v, want ErrConflict", err)
		}
		cyd.ID = "user-4"
		if err := s.Create(ctx, cyd); err != nil {
			t.Fatalf("the e-mail and phone of a create refused for its id: %v", err)
		}
		for _, want := range []identity.User{bob, cyd} {
			if got, err := s.ByEmail(ctx, "p-eta", want.EmailKey); err != nil || got.ID != want.ID {
				t.Errorf("ByEmail(%s) = %+v, %v; want %s", want.EmailKey, got, err, want.ID)
			}
			if got, err := s.ByPhone(ctx, "p-eta", want.Phone); err != nil || got.ID != want.ID {
				t.Errorf("ByPhone(%s) = %+v, %v; want %s", want.Phone, got, err, want.ID)
			}
		}
	})

	t.Run("users without a phone do not collide", func(t *testing.T) {
		s := newStore(t)
		for i := range 3 {
			u := sampleUser("p-epsilon", fmt.Sprintf("user-%d", i), fmt.Sprintf("u%d@example.com", i))
			u.Phone = ""
			if err := s.Create(ctx, u); err != nil {
				t.Fatalf("user %d without a phone: %v", i, err)
			}
			if got, err := s.ByID(ctx, "p-epsilon", u.ID); err != nil || !sameUser(got, u) {
				t.Fatalf("ByID = %+v, %v; want %+v", got, err, u)
			}
		}
		if _, err := s.ByPhone(ctx, "p-epsilon", ""); !errors.Is(err, errs.ErrNotFound) {
			t.Fatalf("ByPhone of no phone: %v, want ErrNotFound", err)
		}
	})

	t.Run("concurrent creates of one phone: exactly one wins", func(t *testing.T) {
		s := newStore(t)
		results := make([]error, racers)
		race(racers, func(i int) {
			results[i] = s.Create(ctx, sampleUser("p-zeta", fmt.Sprintf("racer-%d", i), fmt.Sprintf("racer-%d@example.com", i)))
		})
		winner := -1
		for i, err := range results {
			switch {
			case err == nil && winner >= 0:
				t.Errorf("racers %d and %d both created a user with the phone", winner, i)
			case err == nil:
				winner = i
			case !errors.Is(err, identity.ErrPhoneTaken):
				t.Errorf("racer %d: %v, want ErrPhoneTaken", i, err)
			}
		}
		if winner < 0 {
			t.Fatal("no create succeeded")
		}
		got, err := s.ByPhone(ctx, "p-zeta", "+447400123456")
		if err != nil || got.ID != fmt.Sprintf("racer-%d", winner) {
			t.Fatalf("ByPhone = %+v, %v; want racer-%d", got, err, winner)
		}
		for i := range racers {
			if _, err := s.ByID(ctx, "p-zeta", fmt.Sprintf("racer-%d", i)); i != winner && !errors.Is(err, errs.ErrNotFound) {
				t.Errorf("loser racer-%d was stored: %v", i, err)
			}
		}
	})

	t.Run("SetPhoneVerified sets the flag and stamps updated_at", func(t *testing.T) {
		s := newStore(t)
		u := sampleUser("p-eta", "user-1", "ada@example.com")
		if err := s.Create(ctx, u); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.ByPhone(ctx, "p-eta", u.Phone); got.PhoneVerified {
			t.Fatal("a new user's phone is verified")
		}
		if err := s.SetPhoneVerified(ctx, "p-eta", "user-1", at(time.Hour)); err != nil {
			t.Fatal(err)
		}
		want := u
		want.PhoneVerified, want.UpdatedAt = true, at(time.Hour)
		for name, get := range map[string]func() (identity.User, error){
			"ByID":    func() (identity.User, error) { return s.ByID(ctx, "p-eta", "user-1") },
			"ByPhone": func() (identity.User, error) { return s.ByPhone(ctx, "p-eta", u.Phone) },
		} {
			if got, err := get(); err != nil || !sameUser(got, want) {
				t.Fatalf("%s = %+v, %v; want %+v", name, got, err, want)
			}
		}
		for _, tc := range []struct{ tenant, id string }{{"p-eta", "nobody"}, {"p-theta", "user-1"}} {
			if err := s.SetPhoneVerified(ctx, tc.tenant, tc.id, at(time.Hour)); !errors.Is(err, errs.ErrNotFound) {
				t.Errorf("SetPhoneVerified(%s, %s): %v, want ErrNotFound", tc.tenant, tc.id, err)
			}
		}
	})

	t.Run("SetEmailVerified verifies the address the user has and no other", func(t *testing.T) {
		s := newStore(t)
		u := sampleUser("e-alpha", "user-1", "ada@example.com")
		u.EmailVerified = false
		if err := s.Create(ctx, u); err != nil {
			t.Fatal(err)
		}
		// A link mailed to an address the user has left.
		if err := s.SetEmailVerified(ctx, "e-alpha", "user-1", "ada.old@example.com", at(time.Hour)); !errors.Is(err, errs.ErrNotFound) {
			t.Fatalf("SetEmailVerified with another key: %v, want ErrNotFound", err)
		}
		if got, err := s.ByID(ctx, "e-alpha", "user-1"); err != nil || !sameUser(got, u) {
			t.Fatalf("after a refused verification ByID = %+v, %v; want %+v", got, err, u)
		}
		if err := s.SetEmailVerified(ctx, "e-alpha", "user-1", "ada@example.com", at(2*time.Hour)); err != nil {
			t.Fatal(err)
		}
		want := u
		want.EmailVerified, want.UpdatedAt = true, at(2*time.Hour)
		for name, get := range map[string]func() (identity.User, error){
			"ByID":    func() (identity.User, error) { return s.ByID(ctx, "e-alpha", "user-1") },
			"ByEmail": func() (identity.User, error) { return s.ByEmail(ctx, "e-alpha", "ada@example.com") },
		} {
			if got, err := get(); err != nil || !sameUser(got, want) {
				t.Fatalf("%s = %+v, %v; want %+v", name, got, err, want)
			}
		}
	})

	t.Run("SetName replaces both names and stamps updated_at", func(t *testing.T) {
		s := newStore(t)
		u := sampleUser("e-beta", "user-1", "ada@example.com")
		if err := s.Create(ctx, u); err != nil {
			t.Fatal(err)
		}
		if err := s.SetName(ctx, "e-beta", "user-1", "Augusta Ada", "King", at(time.Hour)); err != nil {
			t.Fatal(err)
		}
		want := u
		want.FirstName, want.LastName, want.UpdatedAt = "Augusta Ada", "King", at(time.Hour)
		for name, get := range map[string]func() (identity.User, error){
			"ByID":    func() (identity.User, error) { return s.ByID(ctx, "e-beta", "user-1") },
			"ByEmail": func() (identity.User, error) { return s.ByEmail(ctx, "e-beta", "ada@example.com") },
		} {
			if got, err := get(); err != nil || !sameUser(got, want) {
				t.Fatalf("%s = %+v, %v; want %+v", name, got, err, want)
			}
		}
	})

	t.Run("SetRole gives the user a role and stamps updated_at", func(t *testing.T) {
		s := newStore(t)
		u := sampleUser("e-gamma", "user-1", "ada@example.com")
		if err := s.Create(ctx, u); err != nil {
			t.Fatal(err)
		}
		if err := s.SetRole(ctx, "e-gamma", "user-1", identity.RoleStaff, at(time.Hour)); err != nil {
			t.Fatal(err)
		}
		want := u
		want.Role, want.UpdatedAt = identity.RoleStaff, at(time.Hour)
		for name, get := range map[string]func() (identity.User, error){
			"ByID":    func() (identity.User, error) { return s.ByID(ctx, "e-gamma", "user-1") },
			"ByEmail": func() (identity.User, error) { return s.ByEmail(ctx, "e-gamma", "ada@example.com") },
		} {
			if got, err := get(); err != nil || !sameUser(got, want) {
				t.Fatalf("%s = %+v, %v; want %+v", name, got, err, want)
			}
		}
	})

	t.Run("SetEmail moves the user to an unverified address and frees the old one", func(t *testing.T) {
		s := newStore(t)
		u := sampleUser("e-gamma", "user-1", "ada@example.com")
		if err := s.Create(ctx, u); err != nil {
			t.Fatal(err)
		}
		if err := s.SetEmail(ctx, "e-gamma", "user-1", "Ada.King@Example.com", "ada.king@example.com", at(time.Hour)); err != nil {
			t.Fatal(err)
		}
		want := u
		want.Email, want.EmailKey, want.EmailVerified, want.UpdatedAt = "Ada.King@Example.com", "ada.king@example.com", false, at(time.Hour)
		for name, get := range map[string]func() (identity.User, error){
			"ByID":         func() (identity.User, error) { return s.ByID(ctx, "e-gamma", "user-1") },
			"ByEmail(new)": func() (identity.User, error) { return s.ByEmail(ctx, "e-gamma", "ada.king@example.com") },
			"ByPhone":      func() (identity.User, error) { return s.ByPhone(ctx, "e-gamma", u.Phone) },
		} {
			if got, err := get(); err != nil || !sameUser(got, want) {
				t.Fatalf("%s = %+v, %v; want %+v", name, got, err, want)
			}
		}
		if got, err := s.ByEmail(ctx, "e-gamma", "ada@example.com"); !errors.Is(err, errs.ErrNotFound) {
			t.Fatalf("ByEmail(old) = %+v, %v; want ErrNotFound", got, err)
		}
		v := sampleUser("e-gamma", "user-2", "ada@example.com")
		v.Phone = ""
		if err := s.Create(ctx, v); err != nil {
			t.Fatalf("create with the address the user left: %v", err)
		}
		if got, err := s.ByEmail(ctx, "e-gamma", "ada@example.com"); err != nil || !sameUser(got, v) {
			t.Fatalf("ByEmail(old) after the create = %+v, %v; want %+v", got, err, v)
		}
	})

	t.Run("SetEmail there and back again", func(t *testing.T) {
		s := newStore(t)
		u := sampleUser("e-delta", "user-1", "ada@example.com")
		if err := s.Create(ctx, u); err != nil {
			t.Fatal(err)
		}
		for i, key := range []string{"ada.king@example.com", "ada@example.com"} {
			if err := s.SetEmail(ctx, "e-delta", "user-1", key, key, at(time.Duration(i+1)*time.Hour)); err != nil {
				t.Fatalf("move %d to %s: %v", i, key, err)
			}
		}
		want := u
		want.Email, want.EmailVerified, want.UpdatedAt = "ada@example.com", false, at(2*time.Hour)
		if got, err := s.ByEmail(ctx, "e-delta", "ada@example.com"); err != nil || !sameUser(got, want) {
			t.Fatalf("ByEmail(back) = %+v, %v; want %+v", got, err, want)
		}
		if got, err := s.ByEmail(ctx, "e-delta", "ada.king@example.com"); !errors.Is(err, errs.ErrNotFound) {
			t.Fatalf("ByEmail(left) = %+v, %v; want ErrNotFound", got, err)
		}
		v := sampleUser("e-delta", "user-2", "ada.king@example.com")
		v.Phone = ""
		if err := s.Create(ctx, v); err != nil {
			t.Fatalf("create with the address the user left: %v", err)
		}
	})

	t.Run("SetEmail to a taken key is refused and changes nothing", func(t *testing.T) {
		s := newStore(t)
		a, b := sampleUser("e-epsilon", "user-a", "ada@example.com"), sampleUser("e-epsilon", "user-b", "bob@example.com")
		b.Phone = "+447400123457"
		for _, u := range []identity.User{a, b} {
			if err := s.Create(ctx, u); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.SetEmail(ctx, "e-epsilon", "user-b", "ADA@example.com", "ada@example.com", at(time.Hour)); !errors.Is(err, identity.ErrEmailTaken) {
			t.Fatalf("move to a taken key: %v, want ErrEmailTaken", err)
		}
		for _, want := range []identity.User{a, b} {
			if got, err := s.ByEmail(ctx, "e-epsilon", want.EmailKey); err != nil || !sameUser(got, want) {
				t.Errorf("ByEmail(%s) = %+v, %v; want %+v", want.EmailKey, got, err, want)
			}
			if got, err := s.ByID(ctx, "e-epsilon", want.ID); err != nil || !sameUser(got, want) {
				t.Errorf("ByID(%s) = %+v, %v; want %+v", want.ID, got, err, want)
			}
		}
		// The key is another tenant's to take.
		if err := s.SetEmail(ctx, "e-epsilon", "user-b", "cyd@example.com", "cyd@example.com", at(time.Hour)); err != nil {
			t.Fatal(err)
		}
		other := sampleUser("e-zeta", "user-c", "cyd@example.com")
		if err := s.Create(ctx, other); err != nil {
			t.Fatalf("another tenant's user with the key: %v", err)
		}
	})

	t.Run("SetEmail to the key the user has changes nothing and succeeds", func(t *testing.T) {
		s := newStore(t)
		u := sampleUser("e-eta", "user-1", "ada@example.com")
		if err := s.Create(ctx, u); err != nil {
			t.Fatal(err)
		}
		if err := s.SetEmail(ctx, "e-eta", "user-1", "ADA@example.com", "ada@example.com", at(time.Hour)); err != nil {
			t.Fatalf("move to its own key: %v", err)
		}
		for name, get := range map[string]func() (identity.User, error){
			"ByID":    func() (identity.User, error) { return s.ByID(ctx, "e-eta", "user-1") },
			"ByEmail": func() (identity.User, error) { return s.ByEmail(ctx, "e-eta", "ada@example.com") },
		} {
			if got, err := get(); err != nil || !sameUser(got, u) {
				t.Fatalf("%s = %+v, %v; want %+v", name, got, err, u)
			}
		}
	})

	t.Run("concurrent moves of many users to one key: exactly one wins", func(t *testing.T) {
		s := newStore(t)
		users := make([]identity.User, racers)
		for i := range users {
			users[i] = sampleUser("e-theta", fmt.Sprintf("racer-%d", i), fmt.Sprintf("racer-%d@example.com", i))
			users[i].Phone = ""
			if err := s.Create(ctx, users[i]); err != nil {
				t.Fatal(err)
			}
		}
		results := make([]error, racers)
		race(racers, func(i int) {
			results[i] = s.SetEmail(ctx, "e-theta", users[i].ID, "race@example.com", "race@example.com", at(time.Hour))
		})
		winner := checkOneWins(t, results)
		got, err := s.ByEmail(ctx, "e-theta", "race@example.com")
		if err != nil || got.ID != users[winner].ID {
			t.Fatalf("ByEmail = %+v, %v; want %s", got, err, users[winner].ID)
		}
		for i, u := range users {
			got, err := s.ByEmail(ctx, "e-theta", u.EmailKey)
			switch {
			case i == winner && !errors.Is(err, errs.ErrNotFound):
				t.Errorf("the winner is still found by its old key: %+v, %v", got, err)
			case i != winner && (err != nil || !sameUser(got, u)):
				t.Errorf("loser %s: ByEmail(old) = %+v, %v; want it unchanged", u.ID, got, err)
			}
		}
	})

	t.Run("concurrent moves and creates to one key: exactly one wins", func(t *testing.T) {
		s := newStore(t)
		movers := racers / 2
		for i := range movers {
			u := sampleUser("e-iota", fmt.Sprintf("mover-%d", i), fmt.Sprintf("mover-%d@example.com", i))
			u.Phone = ""
			if err := s.Create(ctx, u); err != nil {
				t.Fatal(err)
			}
		}
		id := func(i int) string {
			if i < movers {
				return fmt.Sprintf("mover-%d", i)
			}
			return fmt.Sprintf("creator-%d", i)
		}
		results := make([]error, racers)
		race(racers, func(i int) {
			if i < movers {
				results[i] = s.SetEmail(ctx, "e-iota", id(i), "race@example.com", "race@example.com", at(time.Hour))
				return
			}
			u := sampleUser("e-iota", id(i), "race@example.com")
			u.Phone = ""
			results[i] = s.Create(ctx, u)
		})
		winner := checkOneWins(t, results)
		if got, err := s.ByEmail(ctx, "e-iota", "race@example.com"); err != nil || got.ID != id(winner) {
			t.Fatalf("ByEmail = %+v, %v; want %s", got, err, id(winner))
		}
	})

	runSetPhoneContract(t, newStore)
	runListContract(t, newStore)
}

// checkOneWins checks that exactly one of results is nil and every other
// identity.ErrEmailTaken, and returns the winner.
func checkOneWins(t *testing.T, results []error) int {
	t.Helper()
	return checkOneWinsWith(t, results, identity.ErrEmailTaken)
}

// checkOneWinsWith checks that exactly one of results is nil and every
// other taken, and returns the winner.
func checkOneWinsWith(t *testing.T, results []error, taken error) int {
	t.Helper()
	winner := -1
	for i, err := range results {
		switch {
		case err == nil && winner >= 0:
			t.Errorf("racers %d and %d both took the key", winner, i)
		case err == nil:
			winner = i
		case !errors.Is(err, taken):
			t.Errorf("racer %d: %v, want %v", i, err, taken)
		}
	}
	if winner < 0 {
		t.Fatal("no racer took the key")
	}
	return winner
}
