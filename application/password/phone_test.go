package password_test

import (
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/portcullis/portcullis/application/password"
	"github.com/portcullis/portcullis/application/platform/platformtest"
	"github.com/portcullis/portcullis/domain/errs"
	"github.com/portcullis/portcullis/domain/identity"
	"github.com/portcullis/portcullis/domain/tenant"
)

func inTurkey(t *tenant.Tenant) {
	t.SMS.DefaultRegion, t.SMS.AllowedCountries = "TR", []string{"TR", "CY"}
	t.Throttling.RegisterPerIP.Count = 100
}

func (f *fixture) registerPhone(email, phone string) (password.Registered, error) {
	return f.svc.Register(ctx, password.RegisterInput{Profile: identity.Profile{Email: email, FirstName: "Ann", LastName: "Lee", Phone: phone},
		Password: "correct horse battery", Client: alice})
}

func TestRegisterStoresThePhoneInE164WithTheTenantRegion(t *testing.T) {
	t.Parallel()
	f := newFixture(t, inTurkey)
	r, err := f.registerPhone("ann@example.com", "0535 555 55 55")
	if err != nil {
		t.Fatal(err)
	}
	if r.User.Phone != "+905355555555" || r.User.PhoneVerified {
		t.Fatalf("registered phone %q verified %v; want +905355555555, unverified", r.User.Phone, r.User.PhoneVerified)
	}
	got, err := f.users.ByPhone(ctx, "shop", "+905355555555")
	if err != nil || got.ID != r.User.ID {
		t.Fatalf("ByPhone = %+v, %v", got, err)
	}
}

func TestRegisterWithoutAPhoneIsUnchanged(t *testing.T) {
	t.Parallel()
	f := newFixture(t, inTurkey)
	for i, phone := range []string{"", "   "} {
		r, err := f.registerPhone(fmt.Sprintf("u%d@example.com", i), phone)
		if err != nil || r.User.Phone != "" {
			t.Fatalf("phone %q: %+v, %v", phone, r.User, err)
		}
	}
	if len(f.mail.sent) != 0 {
		t.Fatalf("mail sent: %+v", f.mail.sent)
	}
}

func TestRegisterRefusesAnInvalidPhoneWithTheOtherFields(t *testing.T) {
	t.Parallel()
	f := newFixture(t, inTurkey)
	for _, tc := range []struct{ name, phone, reason string }{
		{"fixed line", "0212 555 55 55", "mobile"},
		{"country not allowed", "+44 7400 123456", "not accepted"},
		{"garbage", "not a number", "phone number"},
		{"too long", "+90 " + strings.Repeat("5", 40), "at most 32"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.svc.Register(ctx, password.RegisterInput{Profile: identity.Profile{Email: "ann@example.com", FirstName: "Ann", LastName: "", Phone: tc.phone},
				Password: "short", Client: alice})
			e := errs.As(err)
			var fields []string
			var reason string
			for _, fe := range e.Fields {
				fields = append(fields, fe.Field)
				if fe.Field == "phone" {
					reason = fe.Reason
				}
			}
			if e.Kind != errs.Invalid || strings.Join(fields, ",") != "last_name,phone,password" || !strings.Contains(reason, tc.reason) {
				t.Fatalf("%v: fields %v, phone reason %q; want last_name, phone (%s), password", err, fields, reason, tc.reason)
			}
		})
	}
	if _, err := f.users.ByEmail(ctx, "shop", "ann@example.com"); !errors.Is(err, errs.ErrNotFound) {
		t.Fatalf("an invalid registration was stored: %v", err)
	}
}

func TestRegisterWithATakenPhoneCreatesNothingAndTellsTheOwner(t *testing.T) {
	t.Parallel()
	f := newFixture(t, inTurkey)
	owner, err := f.registerPhone("Owner@example.com", "+90 535 555 55 55")
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.registerPhone("someone@example.com", "05355555555")
	if !errors.Is(err, identity.ErrPhoneTaken) || errors.Is(err, identity.ErrEmailTaken) {
		t.Fatalf("register with a taken phone: %v, want ErrPhoneTaken", err)
	}
	if _, err := f.users.ByEmail(ctx, "shop", "someone@example.com"); !errors.Is(err, errs.ErrNotFound) {
		t.Fatalf("the account with the taken phone was created: %v", err)
	}
	if got, _ := f.users.ByPhone(ctx, "shop", "+905355555555"); got.ID != owner.User.ID {
		t.Fatalf("the phone changed hands: %+v", got)
	}
	if len(f.mail.sent) != 1 || f.mail.sent[0].To != "Owner@example.com" || !strings.Contains(f.mail.sent[0].Text, "phone number") {
		t.Fatalf("the owner must be told by e-mail, and only the owner: %+v", f.mail.sent)
	}
	// The notices share the owner's cap with those of a taken address.
	for i := range 5 {
		_, _ = f.registerPhone(fmt.Sprintf("more%d@example.com", i), "5355555555")
	}
	if n := len(f.mail.sent); n != f.t.Throttling.SignupNoticePerRecipient.Count {
		t.Fatalf("%d notices, want the cap of %d", n, f.t.Throttling.SignupNoticePerRecipient.Count)
	}
}

func TestConcurrentRegistrationsWithOnePhoneCreateOneAccount(t *testing.T) {
	t.Parallel()
	f := newFixture(t, inTurkey)
	var created, taken atomic.Int64
	platformtest.Race(20, func(i int) {
		_, err := f.registerPhone(fmt.Sprintf("racer%d@example.com", i), "0535 555 55 55")
		switch {
		case err == nil:
			created.Add(1)
		case errors.Is(err, identity.ErrPhoneTaken):
			taken.Add(1)
		default:
			t.Error(err)
		}
	})
	if created.Load() != 1 || taken.Load() != 19 {
		t.Fatalf("created %d, taken %d", created.Load(), taken.Load())
	}
}
