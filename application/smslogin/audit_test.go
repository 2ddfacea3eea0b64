package smslogin_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/portcullis/portcullis/application/audit"
	"github.com/portcullis/portcullis/application/otp"
	"github.com/portcullis/portcullis/application/smslogin"
	"github.com/portcullis/portcullis/domain/identity"
)

// TestSMSSignInsAreRecorded: a wrong code, a code of a number without an
// account and a used code are recorded as refused sign-ins by sms_otp
// with the engine's reason; the sign-in by the pipeline; no event holds a
// code.
func TestSMSSignInsAreRecorded(t *testing.T) {
	t.Parallel()
	f := newFixture(t, generous)
	f.user(t, "ann", "+905355555555")
	if err := f.svc.Send(ctx, smslogin.SendInput{Phone: "+905355555555", Wait: true}); err != nil {
		t.Fatal(err)
	}
	code := f.box.lastCode(t, "+905355555555")
	wrong := "000000"
	if wrong == code {
		wrong = "111111"
	}
	if _, err := f.svc.Verify(ctx, smslogin.VerifyInput{Phone: "+905355555555", Code: wrong, Kind: identity.SessionApp}); !errors.Is(err, otp.ErrInvalid) {
		t.Fatal(err)
	}
	out, err := f.svc.Verify(ctx, smslogin.VerifyInput{Phone: "+905355555555", Code: code, Kind: identity.SessionApp})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Verify(ctx, smslogin.VerifyInput{Phone: "+905355555555", Code: code, Kind: identity.SessionApp}); !errors.Is(err, otp.ErrExpired) {
		t.Fatal(err)
	}
	// A number without an account: its code, issued but never sent.
	_ = f.svc.Send(ctx, smslogin.SendInput{Phone: "+905350000000"})
	if _, err := f.svc.Verify(ctx, smslogin.VerifyInput{Phone: "+905350000000", Code: "123456", Kind: identity.SessionApp}); err == nil {
		t.Fatal("a code of a number without an account signed in")
	}
	got := f.audit.Events()
	want := []audit.Type{audit.LoginFailed, audit.LoginSucceeded, audit.LoginFailed, audit.LoginFailed}
	if types := typesOf(got); !slices.Equal(types, want) {
		t.Fatalf("recorded %v, want %v:\n%+v", types, want, got)
	}
	for i, reason := range map[int]string{0: otp.ErrInvalid.Code, 2: otp.ErrExpired.Code, 3: otp.ErrInvalid.Code} {
		if e := got[i]; e.Reason != reason || e.Method != "sms_otp" || e.TargetID != "" {
			t.Errorf("event %d: %+v, want reason %s by sms_otp", i, e, reason)
		}
	}
	if e := got[1]; e.TargetID != "ann" || e.Method != "sms_otp" || !slices.Equal(e.AMR, []string{"sms"}) || e.SessionID != out.Credentials.Session.ID {
		t.Fatalf("sign-in event %+v", e)
	}
	if held := f.audit.Holding(code, wrong, out.Credentials.AppToken); len(held) > 0 {
		t.Fatalf("events hold a code or token: %+v", held)
	}
}

func typesOf(es []audit.Event) []audit.Type {
	var out []audit.Type
	for _, e := range es {
		out = append(out, e.Type)
	}
	return out
}
