package login_test

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"testing"

	"github.com/portcullis/portcullis/application/audit"
	"github.com/portcullis/portcullis/application/login"
	"github.com/portcullis/portcullis/application/mfa"
	"github.com/portcullis/portcullis/application/session"
	"github.com/portcullis/portcullis/domain/errs"
	"github.com/portcullis/portcullis/domain/identity"
	"github.com/portcullis/portcullis/domain/tenant"
)

// wantEvents checks the types of what was recorded since the last call.
func (f *fixture) wantEvents(t *testing.T, want ...audit.Type) []audit.Event {
	t.Helper()
	got := f.audit.Events()
	f.audit.Reset()
	if types := typesOf(got); !slices.Equal(types, want) {
		t.Fatalf("recorded %v, want %v:\n%+v", types, want, got)
	}
	return got
}

func typesOf(es []audit.Event) []audit.Type {
	var out []audit.Type
	for _, e := range es {
		out = append(out, e.Type)
	}
	return out
}

// TestASignInIsRecordedWithItsMethodAMRAndSession: the sign-in's event
// says who, by which method and amr, which session, and from where.
func TestASignInIsRecordedWithItsMethodAMRAndSession(t *testing.T) {
	t.Parallel()
	f := newFixture(t, false)
	out, err := f.complete(login.Grant{User: f.user, Method: tenant.MethodPassword, AMR: []string{"pwd"}, Kind: identity.SessionAPI,
		Client: session.Client{IP: netip.MustParseAddr("203.0.113.7"), UserAgent: firefox}})
	if err != nil {
		t.Fatal(err)
	}
	e := f.wantEvents(t, audit.LoginSucceeded)[0]
	want := audit.Event{Type: audit.LoginSucceeded, ActorID: "u1", TargetID: "u1", SessionID: out.Credentials.Session.ID, Method: "password",
		AMR: []string{"pwd"}, IP: netip.MustParseAddr("203.0.113.7"), UserAgent: firefox}
	if fmt.Sprintf("%+v", e) != fmt.Sprintf("%+v", want) {
		t.Fatalf("event\n %+v\nwant\n %+v", e, want)
	}
	if held := f.audit.Holding(out.Credentials.AccessToken, out.Credentials.RefreshToken); len(held) > 0 {
		t.Fatalf("an event holds a credential: %+v", held)
	}
}

// TestARefusedGrantIsRecordedWithTheReasonTheClientIsNotTold: a disabled
// account and an unverified address answer invalid_credentials; the audit
// log says which.
func TestARefusedGrantIsRecordedWithTheReasonTheClientIsNotTold(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		mutate func(*tenant.Tenant)
		user   func(*identity.User)
		method tenant.LoginMethod
		reason string
	}{
		{"disabled account", nil, func(u *identity.User) { u.Active = false }, tenant.MethodPassword, "account_disabled"},
		{"unverified address", func(tn *tenant.Tenant) { tn.RequireVerifiedEmail = true }, nil, tenant.MethodPassword, "email_unverified"},
		{"method off", nil, nil, tenant.MethodSMSOTP, "method_disabled"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			var mutate []func(*tenant.Tenant)
			if c.mutate != nil {
				mutate = append(mutate, c.mutate)
			}
			f := newFixture(t, false, mutate...)
			u := f.user
			if c.user != nil {
				c.user(&u)
			}
			if _, err := f.complete(login.Grant{User: u, Method: c.method, AMR: []string{"pwd"}, Kind: identity.SessionAPI}); err == nil {
				t.Fatal("the grant was admitted")
			}
			e := f.wantEvents(t, audit.LoginFailed)[0]
			if e.Reason != c.reason || e.TargetID != "u1" || e.ActorID != "" || e.Method != string(c.method) {
				t.Fatalf("event %+v, want reason %s about u1", e, c.reason)
			}
		})
	}
}

// TestTheSecondStepIsRecorded: the challenge, each wrong code, a dead
// challenge and the sign-in it ends in are recorded, and no event holds a
// code or the MFA token.
func TestTheSecondStepIsRecorded(t *testing.T) {
	t.Parallel()
	f := newFixture(t, false)
	e := f.enrolled(t)
	f.audit.Reset()
	ch := f.firstFactor(t)
	if ev := f.wantEvents(t, audit.MFAChallenged)[0]; ev.TargetID != "u1" || ev.Method != "password" || !slices.Equal(ev.AMR, []string{"pwd"}) {
		t.Fatalf("challenge event %+v", ev)
	}
	if _, err := f.second(ch.Token, "000000"); !errors.Is(err, mfa.ErrInvalidCode) {
		t.Fatal(err)
	}
	if ev := f.wantEvents(t, audit.LoginFailed)[0]; ev.Reason != "mfa_code_invalid" || ev.TargetID != "u1" || ev.Method != "password" {
		t.Fatalf("wrong code event %+v", ev)
	}
	code := f.totp(t, e.Secret)
	out, err := f.second(ch.Token, code)
	if err != nil {
		t.Fatal(err)
	}
	if ev := f.wantEvents(t, audit.LoginSucceeded)[0]; !slices.Equal(ev.AMR, []string{"pwd", "otp", "mfa"}) || ev.SessionID != out.Credentials.Session.ID {
		t.Fatalf("sign-in event %+v", ev)
	}
	// A code sent with the first factor: checked at once, recorded so.
	if _, err := f.complete(login.Grant{User: f.user, Method: tenant.MethodPassword, AMR: []string{"pwd"}, Kind: identity.SessionAPI,
		SecondFactor: "111111"}); !errors.Is(err, mfa.ErrInvalidCode) {
		t.Fatal(err)
	}
	f.wantEvents(t, audit.LoginFailed)

	// Too many wrong codes kill a challenge.
	token := f.firstFactor(t).Token
	for range tenant.DefaultMFAMaxAttempts + 1 {
		_, _ = f.second(token, "222222")
	}
	got := f.wantEvents(t, slices.Concat([]audit.Type{audit.MFAChallenged}, slices.Repeat([]audit.Type{audit.LoginFailed}, tenant.DefaultMFAMaxAttempts+1))...)
	if last := got[len(got)-1]; last.Reason != login.ErrMFAAttemptsExceeded.Code || last.TargetID != "u1" || last.Method != "password" {
		t.Fatalf("the dead challenge's event %+v", last)
	}
	if held := f.audit.Holding(ch.Token, token, code, "000000", "111111", "222222", e.Secret); len(held) > 0 {
		t.Fatalf("events hold a code or a token: %+v", held)
	}
}

// TestAnEnrolmentIsRecorded: a first factor that must set up a second is
// recorded, and the factor turned on and the sign-in that follow it.
func TestAnEnrolmentIsRecorded(t *testing.T) {
	t.Parallel()
	f := newFixture(t, false, func(tn *tenant.Tenant) { tn.MFA.RequiredRoles = []string{"user"} })
	_, err := f.complete(login.Grant{User: f.user, Method: tenant.MethodPassword, AMR: []string{"pwd"}, Kind: identity.SessionAPI})
	token, _ := errs.As(err).Extensions["enrolment_token"].(string)
	f.wantEvents(t, audit.MFAEnrolmentRequired)
	en, err := f.factors.Service.Start(ctx, f.user)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.pipe.CompleteEnrolment(ctx, login.SecondStep{Token: token, Code: "000000"}); !errors.Is(err, mfa.ErrInvalidCode) {
		t.Fatal(err)
	}
	f.wantEvents(t, audit.LoginFailed)
	if _, err := f.pipe.CompleteEnrolment(ctx, login.SecondStep{Token: token, Code: f.totp(t, en.Secret)}); err != nil {
		t.Fatal(err)
	}
	// The second factor records its own enrolment.
	f.wantEvents(t, audit.MFAEnabled, audit.LoginSucceeded)
}
