package password_test

import (
	"maps"
	"testing"
	"time"

	"github.com/portcullis/portcullis/application/login"
	"github.com/portcullis/portcullis/application/password"
	"github.com/portcullis/portcullis/application/session"
	"github.com/portcullis/portcullis/domain/errs"
	"github.com/portcullis/portcullis/domain/identity"
)

// TestRegisterKeepsTheDetailsAndTheSessionsLifetime: the details a
// profile's registration takes are stored with the account, checked with
// the other fields; the sign-in it asks for lives as asked.
func TestRegisterKeepsTheDetailsAndTheSessionsLifetime(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	k := identity.SessionAPI
	in := password.RegisterInput{Profile: identity.Profile{Email: "ann@example.com", FirstName: "Ann", LastName: "Lee",
		Extra: map[string]string{"gender": "female", "birthdate": "1990-04-01", "referral_code": ""}},
		Password: "correct horse battery", Client: alice, SignIn: &k, Lifetime: session.Lifetime{Absolute: 15 * time.Minute}}
	r, err := f.svc.Register(ctx, in)
	if err != nil || r.Login == nil || r.Login.Result != login.Signed {
		t.Fatalf("register: %+v, %v", r.Login, err)
	}
	want := map[string]string{"gender": "female", "birthdate": "1990-04-01"}
	got, err := f.users.ByEmail(ctx, "shop", "ann@example.com")
	if err != nil || !maps.Equal(got.Extra, want) || !maps.Equal(r.User.Extra, want) {
		t.Fatalf("stored %v (%v), answered %v; want %v", got.Extra, err, r.User.Extra, want)
	}
	if exp := r.Login.Credentials.Session.ExpiresAt; !exp.Equal(r.Login.Credentials.Session.CreatedAt.Add(15 * time.Minute)) {
		t.Fatalf("session expires %s, created %s: want 15 minutes", exp, r.Login.Credentials.Session.CreatedAt)
	}
	in.Profile.Email, in.Profile.Extra = "bob@example.com", map[string]string{"Gender": "x"}
	_, err = f.svc.Register(ctx, in)
	if e := errs.As(err); err == nil || e.Kind != errs.Invalid || len(e.Fields) != 1 || e.Fields[0].Field != "Gender" {
		t.Fatalf("a detail of a bad name: %v", err)
	}
}
