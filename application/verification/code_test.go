package verification_test

import (
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/portcullis/portcullis/application/emaillogin"
	"github.com/portcullis/portcullis/application/otp"
	"github.com/portcullis/portcullis/application/platform/platformtest"
	"github.com/portcullis/portcullis/application/verification"
	"github.com/portcullis/portcullis/domain/errs"
	"github.com/portcullis/portcullis/domain/identity"
	"github.com/portcullis/portcullis/domain/link"
	"github.com/portcullis/portcullis/domain/message"
)

// withCode is a fixture whose verification mails carry a code.
func withCode(s *setup) { s.policy.Code = true }

// codeOf is the code a mail carries; "" for none.
func codeOf(t *testing.T, m message.Mail) string {
	t.Helper()
	parts := strings.Split(m.Text, "|")
	if len(parts) != 5 {
		t.Fatalf("mail text %q", m.Text)
	}
	return parts[4]
}

// sendCode mails u a link and a code and returns the code.
func (f *fixture) sendCode(t *testing.T, u identity.User) string {
	t.Helper()
	f.send(t, u)
	m := f.mails(t)
	c := codeOf(t, m[len(m)-1])
	if c == "" {
		t.Fatal("no code in the mail")
	}
	return c
}

func (f *fixture) verifyCode(email, code string) (identity.User, error) {
	return f.svc.VerifyCode(ctx, verification.CodeInput{Email: email, Code: code})
}

// wantCodeError checks that err is the engine's code error want, as the
// e-mail sign-in code answers it.
func wantCodeError(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) || errs.KindOf(err) != errs.Unauthenticated {
		t.Fatalf("%s: %v, want %v", what, err, want)
	}
}

// otherCode is a well-formed code other than c.
func otherCode(c string) string {
	b := []byte(c)
	b[0] = '0' + (b[0]-'0'+1)%10
	return string(b)
}

func TestEveryVerificationMailCarriesACodeWhenTheTenantSaysSo(t *testing.T) {
	t.Parallel()
	for _, on := range []bool{true, false} {
		t.Run(fmt.Sprintf("code %v", on), func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, func(s *setup) { s.policy.Code, s.policy.CodeLength = on, 8 })
			u := f.addUser(t, "u1", "ann@example.com")
			if err := f.svc.Send(ctx, u, link.Canonical); err != nil {
				t.Fatal(err)
			}
			f.addUser(t, "u2", "bob@example.com")
			if err := f.svc.Resend(ctx, verification.ResendInput{Email: "bob@example.com", Client: alice}); err != nil {
				t.Fatal(err)
			}
			m := f.mails(t)
			if len(m) != 2 {
				t.Fatalf("%d mails, want 2", len(m))
			}
			for _, m := range m {
				tokenOf(t, m) // the link is there either way
				c := codeOf(t, m)
				switch {
				case on && (len(c) != 8 || strings.Trim(c, "0123456789") != ""):
					t.Fatalf("mail to %s: code %q, want 8 digits", m.To, c)
				case !on && c != "":
					t.Fatalf("mail to %s carries a code %q with codes off", m.To, c)
				}
			}
			want := int64(2)
			if on {
				want = 4 // a link and a code each
			}
			if n := f.store.issues.Load(); n != want {
				t.Fatalf("%d secrets issued, want %d", n, want)
			}
		})
	}
}

// The code's issue is part of the work after the answer, like the link's.
func TestResendIssuesTheCodeAfterTheAnswer(t *testing.T) {
	t.Parallel()
	f := newFixture(t, withCode)
	f.addUser(t, "u1", "ann@example.com")
	f.users.gate = make(chan struct{})
	if err := f.svc.Resend(ctx, verification.ResendInput{Email: "ann@example.com", Client: alice}); err != nil {
		t.Fatal(err)
	}
	if n := f.store.issues.Load(); n != 0 {
		t.Fatalf("%d secrets issued before the answer", n)
	}
	close(f.users.gate)
	m := f.mails(t)
	if len(m) != 1 || codeOf(t, m[0]) == "" || f.store.issues.Load() != 2 {
		t.Fatalf("mails %+v, %d issues", m, f.store.issues.Load())
	}
	if u, err := f.verifyCode("ann@example.com", codeOf(t, m[0])); err != nil || !u.EmailVerified {
		t.Fatalf("%+v %v", u, err)
	}
}

func TestACodeVerifiesOnceAndMarksTheAddressVerified(t *testing.T) {
	t.Parallel()
	f := newFixture(t, withCode)
	u := f.addUser(t, "u1", "Ann@Example.com")
	code := f.sendCode(t, u)
	if f.verified(t, u.ID) {
		t.Fatal("verified before the code was used")
	}
	got, err := f.verifyCode("  ANN@example.com ", " "+code+" ")
	if err != nil || got.ID != u.ID || !got.EmailVerified || !f.verified(t, u.ID) {
		t.Fatalf("verify: %+v %v", got, err)
	}
	_, err = f.verifyCode("ann@example.com", code)
	wantCodeError(t, "a used code", err, otp.ErrExpired)
}

func TestTheLinkStillWorksBesideTheCode(t *testing.T) {
	t.Parallel()
	f := newFixture(t, withCode)
	u := f.addUser(t, "u1", "ann@example.com")
	tok := f.send(t, u)
	if got, err := f.svc.Verify(ctx, tok); err != nil || !got.EmailVerified {
		t.Fatalf("the link of a mail with a code: %+v %v", got, err)
	}
}

func TestWrongCodesKillTheCodeAtMaxAttempts(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(s *setup) { s.policy.Code, s.policy.MaxAttempts = true, 3 })
	u := f.addUser(t, "u1", "ann@example.com")
	code := f.sendCode(t, u)
	for i := range 3 {
		_, err := f.verifyCode("ann@example.com", otherCode(code))
		wantCodeError(t, fmt.Sprintf("wrong code %d", i+1), err, otp.ErrInvalid)
	}
	_, err := f.verifyCode("ann@example.com", code)
	wantCodeError(t, "the right code after 3 wrong ones", err, otp.ErrExhausted)
	if f.verified(t, u.ID) {
		t.Fatal("verified by a dead code")
	}
	// A malformed code costs no attempt, and is refused alike.
	g := newFixture(t, func(s *setup) { s.policy.Code, s.policy.MaxAttempts = true, 1 })
	v := g.addUser(t, "u1", "ann@example.com")
	code = g.sendCode(t, v)
	_, err = g.verifyCode("ann@example.com", "12ab")
	wantCodeError(t, "a malformed code", err, otp.ErrInvalid)
	if _, err := g.verifyCode("ann@example.com", code); err != nil {
		t.Fatalf("the right code after a malformed one: %v", err)
	}
}

func TestAnExpiredCodeIsRefused(t *testing.T) {
	t.Parallel()
	f := newFixture(t, withCode)
	u := f.addUser(t, "u1", "ann@example.com")
	code := f.sendCode(t, u)
	f.clock.Advance(link.DefaultLinkTTL) // the code lives as long as the link
	_, err := f.verifyCode("ann@example.com", code)
	wantCodeError(t, "expired", err, otp.ErrExpired)
}

func TestANewerMailsCodeReplacesTheOlder(t *testing.T) {
	t.Parallel()
	f := newFixture(t, withCode)
	u := f.addUser(t, "u1", "ann@example.com")
	older := f.sendCode(t, u)
	f.clock.Advance(link.DefaultCooldown)
	newer := f.sendCode(t, u)
	if older == newer {
		t.Skip("the two codes drew the same digits")
	}
	if _, err := f.verifyCode("ann@example.com", older); !errors.Is(err, otp.ErrInvalid) {
		t.Fatalf("the older code: %v, want otp_invalid", err)
	}
	if _, err := f.verifyCode("ann@example.com", newer); err != nil {
		t.Fatalf("the newer code: %v", err)
	}
}

// A mail with a code uses up one of the address's daily mails, not two.
func TestAMailWithACodeCountsOnceAgainstTheDailyCap(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(s *setup) { s.policy.Code, s.policy.DailyCap = true, 2 })
	u := f.addUser(t, "u1", "ann@example.com")
	f.sendCode(t, u)
	f.clock.Advance(link.DefaultCooldown)
	f.sendCode(t, u)
	f.clock.Advance(link.DefaultCooldown)
	if err := f.svc.Send(ctx, u, link.Canonical); !errors.Is(err, otp.ErrDailyCap) {
		t.Fatalf("the third mail of the day: %v, want otp_daily_cap", err)
	}
	if m := f.mails(t); len(m) != 2 {
		t.Fatalf("%d mails, want 2", len(m))
	}
}

func TestACodeToAnAddressTheUserLeftVerifiesNothing(t *testing.T) {
	t.Parallel()
	f := newFixture(t, withCode)
	u := f.addUser(t, "u1", "ann@example.com")
	code := f.sendCode(t, u)
	if err := f.users.mem.SetEmail(ctx, f.t.ID, u.ID, "ann@new.example", "ann@new.example", f.clock.Now()); err != nil {
		t.Fatal(err)
	}
	_, err := f.verifyCode("ann@new.example", code)
	wantCodeError(t, "with the new address", err, otp.ErrExpired)
	// Another account now has the old address: the code was mailed to the
	// same mailbox, but for another account.
	v := f.addUser(t, "u2", "ann@example.com")
	_, err = f.verifyCode("ann@example.com", code)
	wantCodeError(t, "with the old address, now another account's", err, otp.ErrExpired)
	if f.verified(t, u.ID) || f.verified(t, v.ID) {
		t.Fatal("an address was verified by a code mailed to an address its user left")
	}
}

func TestACodeOfOneUserDoesNotVerifyAnother(t *testing.T) {
	t.Parallel()
	f := newFixture(t, withCode)
	ann := f.addUser(t, "u1", "ann@example.com")
	bob := f.addUser(t, "u2", "bob@example.com")
	code := f.sendCode(t, ann)
	_, err := f.verifyCode("bob@example.com", code)
	wantCodeError(t, "ann's code with bob's address (no code of bob's)", err, otp.ErrExpired)
	bobs := f.sendCode(t, bob)
	if bobs != code {
		_, err = f.verifyCode("bob@example.com", code)
		wantCodeError(t, "ann's code with bob's address", err, otp.ErrInvalid)
	}
	if f.verified(t, bob.ID) || f.verified(t, ann.ID) {
		t.Fatal("verified by another user's code")
	}
	if _, err := f.verifyCode("ann@example.com", code); err != nil {
		t.Fatalf("ann's own code: %v", err)
	}
}

func TestACodeOfOneTenantIsRefusedByAnother(t *testing.T) {
	t.Parallel()
	a := newFixture(t, withCode)
	b := newFixture(t, withCode, func(s *setup) { s.tenantID, s.store, s.users, s.clock = "other", a.store, a.users, a.clock })
	code := a.sendCode(t, a.addUser(t, "u1", "ann@example.com"))
	b.addUser(t, "u1", "ann@example.com") // the same account, in tenant b
	_, err := b.verifyCode("ann@example.com", code)
	wantCodeError(t, "on b", err, otp.ErrExpired)
	if b.verified(t, "u1") {
		t.Fatal("b's account was verified")
	}
	if _, err := a.verifyCode("ann@example.com", code); err != nil {
		t.Fatalf("on a: %v", err)
	}
}

// A sign-in code (emaillogin's kind) and a verification code share
// digits and channel but not purpose: neither verifies as the other, even
// issued for the very same subject, and neither is spent by the attempt.
func TestASignInCodeIsNotAVerificationCode(t *testing.T) {
	t.Parallel()
	f := newFixture(t, withCode)
	u := f.addUser(t, "u1", "ann@example.com")
	signIn := emaillogin.New(f.t, emaillogin.Policy{}, emaillogin.Deps{}).CodeKind()
	for _, subj := range []string{u.EmailKey, verification.Subject(u)} { // emaillogin's subject, and the verification's
		issued, err := f.codes.Issue(ctx, signIn, subj, u.EmailKey)
		if err != nil {
			t.Fatal(err)
		}
		_, err = f.verifyCode(u.Email, issued.Secret)
		wantCodeError(t, "a sign-in code for "+subj, err, otp.ErrExpired)
		if f.verified(t, u.ID) {
			t.Fatal("verified by a sign-in code")
		}
		if got, err := f.codes.Verify(ctx, signIn, subj, issued.Secret); err != nil || got != subj {
			t.Fatalf("the sign-in code was spent: %q %v", got, err)
		}
	}
	// And the other way round.
	code := f.sendCode(t, u)
	for _, subj := range []string{u.EmailKey, verification.Subject(u)} {
		if _, err := f.codes.Verify(ctx, signIn, subj, code); !errors.Is(err, otp.ErrExpired) {
			t.Fatalf("a verification code as a sign-in code for %s: %v", subj, err)
		}
	}
	if _, err := f.verifyCode(u.Email, code); err != nil {
		t.Fatalf("the verification code after the attempts: %v", err)
	}
}

func TestACodeOfAnUnknownOrDisabledAccountAnswersAsNeverSent(t *testing.T) {
	t.Parallel()
	f := newFixture(t, withCode)
	u := f.addUser(t, "u1", "ann@example.com")
	code := f.sendCode(t, u)
	_, err := f.verifyCode("nobody@example.com", code)
	wantCodeError(t, "an unknown address", err, otp.ErrExpired)
	if err := f.users.mem.SetActive(ctx, f.t.ID, u.ID, false, f.clock.Now()); err != nil {
		t.Fatal(err)
	}
	for i := range 10 { // more than max attempts: nothing is counted
		_, err = f.verifyCode("ann@example.com", otherCode(code))
		wantCodeError(t, fmt.Sprintf("a disabled account, try %d", i+1), err, otp.ErrExpired)
	}
	if err := f.users.mem.SetActive(ctx, f.t.ID, u.ID, true, f.clock.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := f.verifyCode("ann@example.com", code); err != nil {
		t.Fatalf("the code once the account is active again: %v", err)
	}
}

func TestVerifyCodeRefusesBadInputAndCodesOff(t *testing.T) {
	t.Parallel()
	f := newFixture(t, withCode)
	_, err := f.verifyCode("ann@example.com\nBcc: x@evil.example", " ")
	e := errs.As(err)
	if e.Kind != errs.Invalid || len(e.Fields) != 2 || e.Fields[0].Field != "email" || e.Fields[1].Field != "code" {
		t.Fatalf("bad input: %v", err)
	}
	off := newFixture(t)
	u := off.addUser(t, "u1", "ann@example.com")
	off.send(t, u)
	_, err = off.verifyCode("ann@example.com", "123456")
	if e := errs.As(err); !errors.Is(err, verification.ErrCodeDisabled) || e.Kind != errs.Forbidden || e.Code != "verification_code_disabled" {
		t.Fatalf("codes off: %v", err)
	}
}

func TestSubmitTakesATokenOrAnAddressAndACode(t *testing.T) {
	t.Parallel()
	f := newFixture(t, withCode)
	u := f.addUser(t, "u1", "ann@example.com")
	tok := f.send(t, u)
	code := codeOf(t, f.mails(t)[0])
	fieldsOf := func(err error) string {
		var fs []string
		for _, fe := range errs.As(err).Fields {
			fs = append(fs, fe.Field)
		}
		return strings.Join(fs, ",")
	}
	for _, tc := range []struct {
		name       string
		in         verification.Submission
		code, want string
	}{
		{"neither", verification.Submission{}, "token_required", "token,email,code"},
		{"token and email", verification.Submission{Token: tok, Email: u.Email}, "invalid_request", "token,email"},
		{"token and code", verification.Submission{Token: tok, Code: code}, "invalid_request", "token,code"},
		{"all three", verification.Submission{Token: tok, Email: u.Email, Code: code}, "invalid_request", "token,email,code"},
		{"email alone", verification.Submission{Email: u.Email}, "invalid_request", "code"},
		{"code alone", verification.Submission{Code: code}, "invalid_request", "email"},
	} {
		_, err := f.svc.Submit(ctx, tc.in)
		if e := errs.As(err); e.Kind != errs.Invalid || e.Code != tc.code || fieldsOf(err) != tc.want {
			t.Errorf("%s: %v, want %s naming %s", tc.name, err, tc.code, tc.want)
		}
	}
	if f.verified(t, u.ID) {
		t.Fatal("verified by a refused submission")
	}
	if got, err := f.svc.Submit(ctx, verification.Submission{Email: u.Email, Code: code}); err != nil || !got.EmailVerified {
		t.Fatalf("by code: %+v %v", got, err)
	}
	if got, err := f.svc.Submit(ctx, verification.Submission{Token: tok}); err != nil || !got.EmailVerified {
		t.Fatalf("by token: %+v %v", got, err)
	}
	// Where codes are off, neither is today's token_required, naming the
	// token alone.
	off := newFixture(t)
	if _, err := off.svc.Submit(ctx, verification.Submission{}); !errors.Is(err, verification.ErrTokenRequired) || fieldsOf(err) != "token" {
		t.Fatalf("codes off, neither: %v", err)
	}
}

func TestConcurrentVerificationsWithOneCodeSucceedOnce(t *testing.T) {
	t.Parallel()
	f := newFixture(t, withCode)
	code := f.sendCode(t, f.addUser(t, "u1", "ann@example.com"))
	var won, refused atomic.Int64
	platformtest.Race(platformtest.Racers, func(int) {
		switch _, err := f.verifyCode("ann@example.com", code); {
		case err == nil:
			won.Add(1)
		case errors.Is(err, otp.ErrExpired):
			refused.Add(1)
		}
	})
	if won.Load() != 1 || refused.Load() != platformtest.Racers-1 {
		t.Fatalf("%d won, %d refused", won.Load(), refused.Load())
	}
}
