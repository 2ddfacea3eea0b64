package password_test

import (
	"errors"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/portcullis/portcullis/application/audit"
	"github.com/portcullis/portcullis/application/login"
	"github.com/portcullis/portcullis/application/password"
	"github.com/portcullis/portcullis/application/session"
	"github.com/portcullis/portcullis/domain/errs"
	"github.com/portcullis/portcullis/domain/identity"
	"github.com/portcullis/portcullis/domain/tenant"
)

// TestTheAdminLoginIsAPasswordLoginOfItsOwnMethod: with Method admin_otp
// the password is checked first, and a non-admin's right password then
// answers exactly like a wrong one, after the same hashing, counted
// against the same budgets (recorded as admin_otp with its real reason);
// an admin's grant carries the method and the lifetime; the method must
// be enabled; a method a password does not prove is refused.
func TestTheAdminLoginIsAPasswordLoginOfItsOwnMethod(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(t *tenant.Tenant) {
		t.LoginMethods = []tenant.LoginMethod{tenant.MethodAdminOTP}
		t.Throttling.LoginPerAccount = tenant.Limit{Count: 3, Window: time.Hour}
	})
	hash := "fake$" + params(f.t.Password.Hash) + "$correct horse battery"
	for _, u := range []identity.User{
		{ID: "u1", TenantID: "shop", Email: "ann@example.com", EmailKey: "ann@example.com", Role: identity.RoleUser, Active: true, EmailVerified: true, PasswordHash: hash},
		{ID: "a1", TenantID: "shop", Email: "boss@example.com", EmailKey: "boss@example.com", Role: identity.RoleAdmin, Active: true, EmailVerified: true, PasswordHash: hash},
	} {
		if err := f.users.Create(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	life := session.Lifetime{Idle: 720 * time.Hour, Absolute: 8760 * time.Hour}
	adminLogin := func(email, pw string) (password.Outcome, error) {
		return f.svc.Login(ctx, password.LoginInput{Email: email, Password: pw, Kind: identity.SessionApp, Client: alice,
			Method: tenant.MethodAdminOTP, Lifetime: life})
	}
	if _, err := f.svc.Login(ctx, password.LoginInput{Email: "boss@example.com", Password: "correct horse battery", Kind: identity.SessionApp}); !errors.Is(err, login.ErrMethodDisabled) {
		t.Fatalf("the password method, not enabled: %v", err)
	}
	if _, err := f.svc.Login(ctx, password.LoginInput{Email: "boss@example.com", Password: "x", Method: tenant.MethodSMSOTP}); err == nil {
		t.Fatal("a method a password does not prove was accepted")
	}

	before := f.hasher.verifies.Load()
	f.audit.Reset()
	_, errRight := adminLogin("ann@example.com", "correct horse battery")
	_, errWrong := adminLogin("ann@example.com", "wrong horse battery")
	if !errors.Is(errRight, login.ErrInvalidCredentials) || !reflect.DeepEqual(errs.As(errRight), errs.As(errWrong)) {
		t.Fatalf("a user's right password %v; wrong %v: want the same invalid_credentials", errRight, errWrong)
	}
	if n := f.hasher.verifies.Load() - before; n != 2 {
		t.Fatalf("%d verifications for 2 attempts", n)
	}
	var reasons []string
	for _, e := range f.audit.Events() {
		if e.Type == audit.LoginFailed && e.Method == "admin_otp" && e.TargetID == "u1" {
			reasons = append(reasons, e.Reason)
		}
	}
	if !slices.Equal(reasons, []string{"not_admin", "invalid_credentials"}) {
		t.Fatalf("recorded refusals %v: want the real reason of each", reasons)
	}
	// Both counted: the third attempt is the last of the account's budget.
	if _, err := adminLogin("ann@example.com", "correct horse battery"); !errors.Is(err, login.ErrInvalidCredentials) {
		t.Fatalf("third: %v", err)
	}
	if _, err := adminLogin("ann@example.com", "correct horse battery"); errs.KindOf(err) != errs.RateLimited {
		t.Fatalf("fourth: %v, want throttled", err)
	}

	out, err := adminLogin("boss@example.com", "correct horse battery")
	if err != nil || out.Result != login.Signed || out.Credentials.Session.IdleTimeout != life.Idle || out.Credentials.AppToken == "" {
		t.Fatalf("an admin: %+v, %v", out, err)
	}
}
