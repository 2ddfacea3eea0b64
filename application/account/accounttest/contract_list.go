package accounttest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/portcullis/portcullis/application/account"
	"github.com/portcullis/portcullis/domain/errs"
	"github.com/portcullis/portcullis/domain/identity"
)

// runSetPhoneContract checks Users.SetPhone.
func runSetPhoneContract(t *testing.T, newStore func(t *testing.T) account.Users) {
	t.Helper()
	ctx := context.Background()

	t.Run("SetPhone gives an unverified number and frees the old one", func(t *testing.T) {
		s := newStore(t)
		u := sampleUser("f-alpha", "user-1", "ada@example.com")
		u.PhoneVerified = true
		if err := s.Create(ctx, u); err != nil {
			t.Fatal(err)
		}
		if err := s.SetPhone(ctx, "f-alpha", "user-1", "+447400123457", at(time.Hour)); err != nil {
			t.Fatal(err)
		}
		want := u
		want.Phone, want.PhoneVerified, want.UpdatedAt = "+447400123457", false, at(time.Hour)
		for name, get := range map[string]func() (identity.User, error){
			"ByID":         func() (identity.User, error) { return s.ByID(ctx, "f-alpha", "user-1") },
			"ByPhone(new)": func() (identity.User, error) { return s.ByPhone(ctx, "f-alpha", "+447400123457") },
			"ByEmail":      func() (identity.User, error) { return s.ByEmail(ctx, "f-alpha", "ada@example.com") },
		} {
			if got, err := get(); err != nil || !sameUser(got, want) {
				t.Fatalf("%s = %+v, %v; want %+v", name, got, err, want)
			}
		}
		if got, err := s.ByPhone(ctx, "f-alpha", u.Phone); !errors.Is(err, errs.ErrNotFound) {
			t.Fatalf("ByPhone(old) = %+v, %v; want ErrNotFound", got, err)
		}
		v := sampleUser("f-alpha", "user-2", "bob@example.com") // the number the user left
		if err := s.Create(ctx, v); err != nil {
			t.Fatalf("create with the number the user left: %v", err)
		}
		if got, err := s.ByPhone(ctx, "f-alpha", u.Phone); err != nil || got.ID != "user-2" {
			t.Fatalf("ByPhone(old) after the create = %+v, %v; want user-2", got, err)
		}
	})

	t.Run("SetPhone to none removes the number; users without one do not collide", func(t *testing.T) {
		s := newStore(t)
		u := sampleUser("f-beta", "user-1", "ada@example.com")
		if err := s.Create(ctx, u); err != nil {
			t.Fatal(err)
		}
		bare := sampleUser("f-beta", "user-2", "bob@example.com")
		bare.Phone = ""
		if err := s.Create(ctx, bare); err != nil {
			t.Fatal(err)
		}
		if err := s.SetPhone(ctx, "f-beta", "user-1", "", at(time.Hour)); err != nil {
			t.Fatal(err)
		}
		want := u
		want.Phone, want.UpdatedAt = "", at(time.Hour)
		if got, err := s.ByID(ctx, "f-beta", "user-1"); err != nil || !sameUser(got, want) {
			t.Fatalf("ByID = %+v, %v; want %+v", got, err, want)
		}
		if got, err := s.ByPhone(ctx, "f-beta", u.Phone); !errors.Is(err, errs.ErrNotFound) {
			t.Fatalf("ByPhone(removed) = %+v, %v; want ErrNotFound", got, err)
		}
		// The number is free again, and back on the user.
		if err := s.SetPhone(ctx, "f-beta", "user-2", u.Phone, at(2*time.Hour)); err != nil {
			t.Fatalf("another user takes the removed number: %v", err)
		}
		if err := s.SetPhone(ctx, "f-beta", "user-1", "+447400123457", at(2*time.Hour)); err != nil {
			t.Fatalf("a number for the user without one: %v", err)
		}
		if got, err := s.ByPhone(ctx, "f-beta", "+447400123457"); err != nil || got.ID != "user-1" {
			t.Fatalf("ByPhone = %+v, %v; want user-1", got, err)
		}
	})

	t.Run("SetPhone to a taken number is refused and changes nothing", func(t *testing.T) {
		s := newStore(t)
		a, b := sampleUser("f-gamma", "user-a", "ada@example.com"), sampleUser("f-gamma", "user-b", "bob@example.com")
		b.Phone = "+447400123457"
		for _, u := range []identity.User{a, b} {
			if err := s.Create(ctx, u); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.SetPhone(ctx, "f-gamma", "user-b", a.Phone, at(time.Hour)); !errors.Is(err, identity.ErrPhoneTaken) {
			t.Fatalf("a taken number: %v, want ErrPhoneTaken", err)
		}
		for _, want := range []identity.User{a, b} {
			if got, err := s.ByPhone(ctx, "f-gamma", want.Phone); err != nil || !sameUser(got, want) {
				t.Errorf("ByPhone(%s) = %+v, %v; want %+v", want.Phone, got, err, want)
			}
		}
		// The number is another tenant's to take.
		other := sampleUser("f-delta", "user-c", "cyd@example.com")
		other.Phone = "+447400123458"
		if err := s.Create(ctx, other); err != nil {
			t.Fatal(err)
		}
		if err := s.SetPhone(ctx, "f-delta", "user-c", a.Phone, at(time.Hour)); err != nil {
			t.Fatalf("another tenant's number: %v", err)
		}
	})

	t.Run("SetPhone to the number the user has changes nothing and succeeds", func(t *testing.T) {
		s := newStore(t)
		u := sampleUser("f-epsilon", "user-1", "ada@example.com")
		u.PhoneVerified = true
		if err := s.Create(ctx, u); err != nil {
			t.Fatal(err)
		}
		if err := s.SetPhone(ctx, "f-epsilon", "user-1", u.Phone, at(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if got, err := s.ByPhone(ctx, "f-epsilon", u.Phone); err != nil || !sameUser(got, u) {
			t.Fatalf("ByPhone = %+v, %v; want %+v", got, err, u)
		}
	})

	t.Run("concurrent changes of many users to one number: exactly one wins", func(t *testing.T) {
		s := newStore(t)
		users := make([]identity.User, racers)
		for i := range users {
			users[i] = sampleUser("f-zeta", fmt.Sprintf("racer-%d", i), fmt.Sprintf("racer-%d@example.com", i))
			users[i].Phone = ""
			if err := s.Create(ctx, users[i]); err != nil {
				t.Fatal(err)
			}
		}
		results := make([]error, racers)
		race(racers, func(i int) {
			results[i] = s.SetPhone(ctx, "f-zeta", users[i].ID, "+447400123456", at(time.Hour))
		})
		winner := checkOneWinsWith(t, results, identity.ErrPhoneTaken)
		if got, err := s.ByPhone(ctx, "f-zeta", "+447400123456"); err != nil || got.ID != users[winner].ID {
			t.Fatalf("ByPhone = %+v, %v; want %s", got, err, users[winner].ID)
		}
		for i, u := range users {
			if got, err := s.ByID(ctx, "f-zeta", u.ID); i != winner && (err != nil || got.Phone != "") {
				t.Errorf("loser %s = %+v, %v; want it without a number", u.ID, got, err)
			}
		}
	})
}

// listUser is a user of the list suite.
func listUser(tenant, id, emailKey string, created time.Duration, role identity.Role, active bool, phone string) identity.User {
	u := sampleUser(tenant, id, emailKey)
	u.Email, u.Role, u.Active, u.Phone, u.CreatedAt, u.UpdatedAt = emailKey, role, active, phone, at(created), at(created)
	return u
}

func userIDs(us []identity.User) []string {
	out := make([]string, len(us))
	for i, u := range us {
		out[i] = u.ID
	}
	return out
}

// listAll walks every page of List with limit and returns the users in
// order.
func listAll(t *testing.T, s account.Users, tenant string, f account.UserFilter, limit int) []identity.User {
	t.Helper()
	var out []identity.User
	after := account.UserPosition{}
	for range 1000 {
		page, err := s.List(context.Background(), tenant, f, after, limit)
		if err != nil {
			t.Fatalf("List after %+v: %v", after, err)
		}
		if len(page) > limit {
			t.Fatalf("page of %d users, limit %d", len(page), limit)
		}
		out = append(out, page...)
		if len(page) < limit {
			return out
		}
		after = account.PositionOf(page[len(page)-1])
	}
	t.Fatal("the walk does not end")
	return nil
}

// runListContract checks Users.List.
func runListContract(t *testing.T, newStore func(t *testing.T) account.Users) {
	t.Helper()
	ctx := context.Background()
	yes, no := true, false
	// Created at distinct times and at one instant (the ids order those),
	// of several roles, states, numbers and addresses; one of another
	// tenant with an address and number of these.
	users := []identity.User{
		listUser("l-alpha", "u-01", "ada@example.com", 1*time.Minute, identity.RoleUser, true, "+447400100001"),
		listUser("l-alpha", "u-02", "adam@example.com", 2*time.Minute, identity.RoleStaff, true, ""),
		listUser("l-alpha", "u-03", "ad\U0001F600@example.com", 3*time.Minute, identity.RoleUser, false, "+447400100003"),
		listUser("l-alpha", "u-04", "bad@example.com", 3*time.Minute, identity.RoleAdmin, true, ""),
		listUser("l-alpha", "u-05", "ada.king@example.com", 3*time.Minute, identity.RoleUser, true, "+447400100005"),
		listUser("l-alpha", "u-06", "zed@example.com", 4*time.Minute, identity.RoleUser, false, ""),
		listUser("l-alpha", "u-07", "ad@example.com", 5*time.Minute, identity.RoleUser, true, ""),
		listUser("l-beta", "u-08", "ada@example.com", 6*time.Minute, identity.RoleUser, true, "+447400100001"),
	}
	// Newest first; u-03, u-04 and u-05 share their time, greatest id first.
	newestFirst := []string{"u-07", "u-06", "u-05", "u-04", "u-03", "u-02", "u-01"}
	fill := func(t *testing.T) account.Users {
		t.Helper()
		s := newStore(t)
		for _, u := range users {
			if err := s.Create(ctx, u); err != nil {
				t.Fatal(err)
			}
		}
		return s
	}

	t.Run("List is newest first, one tenant's, every field as stored", func(t *testing.T) {
		s := fill(t)
		got, err := s.List(ctx, "l-alpha", account.UserFilter{}, account.UserPosition{}, 100)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(userIDs(got), newestFirst) {
			t.Fatalf("List = %v, want %v", userIDs(got), newestFirst)
		}
		for _, u := range got {
			want := users[slices.IndexFunc(users, func(x identity.User) bool { return x.TenantID == "l-alpha" && x.ID == u.ID })]
			if !sameUser(u, want) {
				t.Errorf("listed %+v, stored %+v", u, want)
			}
		}
		if got, err := s.List(ctx, "l-gamma", account.UserFilter{}, account.UserPosition{}, 100); err != nil || len(got) != 0 {
			t.Fatalf("List of a tenant without users = %v, %v", userIDs(got), err)
		}
	})

	t.Run("List pages have no gap and no duplicate, at every page size", func(t *testing.T) {
		s := fill(t)
		for limit := 1; limit <= len(newestFirst)+1; limit++ {
			if got := listAll(t, s, "l-alpha", account.UserFilter{}, limit); !slices.Equal(userIDs(got), newestFirst) {
				t.Errorf("walk of pages of %d = %v, want %v", limit, userIDs(got), newestFirst)
			}
		}
		// From the middle of the users of one instant.
		got, err := s.List(ctx, "l-alpha", account.UserFilter{}, account.UserPosition{CreatedAt: at(3 * time.Minute), ID: "u-04"}, 100)
		if err != nil || !slices.Equal(userIDs(got), []string{"u-03", "u-02", "u-01"}) {
			t.Fatalf("List after u-04 = %v, %v; want [u-03 u-02 u-01]", userIDs(got), err)
		}
	})

	t.Run("List filters by e-mail prefix, phone, role and state, alone and together", func(t *testing.T) {
		s := fill(t)
		for _, c := range []struct {
			name string
			f    account.UserFilter
			want []string
		}{
			{"prefix", account.UserFilter{EmailPrefix: "ad"}, []string{"u-07", "u-05", "u-03", "u-02", "u-01"}},
			{"longer prefix", account.UserFilter{EmailPrefix: "ada"}, []string{"u-05", "u-02", "u-01"}},
			{"whole key", account.UserFilter{EmailPrefix: "ada@example.com"}, []string{"u-01"}},
			{"prefix before a character outside the BMP", account.UserFilter{EmailPrefix: "ad\U0001F600"}, []string{"u-03"}},
			{"no such prefix", account.UserFilter{EmailPrefix: "adz"}, nil},
			{"phone", account.UserFilter{Phone: "+447400100005"}, []string{"u-05"}},
			{"unknown phone", account.UserFilter{Phone: "+447400100002"}, nil},
			{"role", account.UserFilter{Role: identity.RoleUser}, []string{"u-07", "u-06", "u-05", "u-03", "u-01"}},
			{"active", account.UserFilter{Active: &yes}, []string{"u-07", "u-05", "u-04", "u-02", "u-01"}},
			{"disabled", account.UserFilter{Active: &no}, []string{"u-06", "u-03"}},
			{"together", account.UserFilter{EmailPrefix: "ad", Role: identity.RoleUser, Active: &yes}, []string{"u-07", "u-05", "u-01"}},
			{"together, none", account.UserFilter{EmailPrefix: "bad", Role: identity.RoleUser}, nil},
		} {
			for _, limit := range []int{100, 2} {
				if got := listAll(t, s, "l-alpha", c.f, limit); !slices.Equal(userIDs(got), c.want) {
					t.Errorf("%s (pages of %d): %v, want %v", c.name, limit, userIDs(got), c.want)
				}
			}
		}
		// The other tenant's user has the same address and number.
		if got, err := s.List(ctx, "l-beta", account.UserFilter{EmailPrefix: "ada@", Phone: "+447400100001"}, account.UserPosition{}, 10); err != nil ||
			!slices.Equal(userIDs(got), []string{"u-08"}) {
			t.Fatalf("List of l-beta = %v, %v; want [u-08]", userIDs(got), err)
		}
	})

	t.Run("List sees changes and a walk holds under concurrent creates", func(t *testing.T) {
		s := fill(t)
		if err := s.SetActive(ctx, "l-alpha", "u-06", true, at(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if err := s.SetEmail(ctx, "l-alpha", "u-04", "adele@example.com", "adele@example.com", at(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if got := listAll(t, s, "l-alpha", account.UserFilter{Active: &no}, 10); !slices.Equal(userIDs(got), []string{"u-03"}) {
			t.Fatalf("disabled after an enable = %v, want [u-03]", userIDs(got))
		}
		if got := listAll(t, s, "l-alpha", account.UserFilter{EmailPrefix: "ade"}, 10); !slices.Equal(userIDs(got), []string{"u-04"}) {
			t.Fatalf("prefix of a new address = %v, want [u-04]", userIDs(got))
		}
		first, err := s.List(ctx, "l-alpha", account.UserFilter{}, account.UserPosition{}, 3)
		if err != nil {
			t.Fatal(err)
		}
		// Created while the walk runs: newer than its cursor, so on no later page.
		late := listUser("l-alpha", "u-00", "late@example.com", 10*time.Minute, identity.RoleUser, true, "")
		if err := s.Create(ctx, late); err != nil {
			t.Fatal(err)
		}
		rest, err := s.List(ctx, "l-alpha", account.UserFilter{}, account.PositionOf(first[2]), 100)
		if err != nil {
			t.Fatal(err)
		}
		if got := append(userIDs(first), userIDs(rest)...); !slices.Equal(got, newestFirst) {
			t.Fatalf("walk with a create between its pages = %v, want %v", got, newestFirst)
		}
		if got := listAll(t, s, "l-alpha", account.UserFilter{}, 100); len(got) != len(newestFirst)+1 || got[0].ID != "u-00" {
			t.Fatalf("a new walk = %v, want the late user first", userIDs(got))
		}
	})
}
