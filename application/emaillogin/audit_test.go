package emaillogin_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/portcullis/portcullis/application/audit"
	"github.com/portcullis/portcullis/application/emaillogin"
	"github.com/portcullis/portcullis/application/otp"
	"github.com/portcullis/portcullis/domain/identity"
)

func typesOf(es []audit.Event) []audit.Type {
	var out []audit.Type
	for _, e := range es {
		out = append(out, e.Type)
	}
	return out
}

// TestEmailSignInsAreRecorded: wrong and used codes and links, and a link
// opened in another browser, are recorded as refused sign-ins by
// email_link (a link with the account it was mailed to); the sign-ins by
// the pipeline; no event holds a code, a link or its token.
func TestEmailSignInsAreRecorded(t *testing.T) {
	t.Parallel()
	f := newFixture(t, options{policy: emaillogin.Policy{SameDevice: true}})
	f.user(t, "ann")
	if err := f.svc.SendCode(ctx, emaillogin.SendInput{Email: "ann@example.com"}); err != nil {
		t.Fatal(err)
	}
	code := f.lastCode(t, "Ann@Example.com")
	wrong := "000000"
	if wrong == code {
		wrong = "111111"
	}
	if _, err := f.svc.VerifyCode(ctx, emaillogin.VerifyInput{Email: "ann@example.com", Code: wrong, Kind: identity.SessionApp}); !errors.Is(err, otp.ErrInvalid) {
		t.Fatal(err)
	}
	if _, err := f.svc.VerifyCode(ctx, emaillogin.VerifyInput{Email: "ann@example.com", Code: code, Kind: identity.SessionApp}); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(2 * f.svc.Policy().Limits.Cooldown)
	token := f.sendLink(t, emaillogin.LinkInput{Email: "ann@example.com", Device: "browser-1"})
	if _, err := f.svc.ConsumeLink(ctx, emaillogin.ConsumeInput{Token: token, Kind: identity.SessionWeb, Device: "browser-2"}); !errors.Is(err, emaillogin.ErrOtherDevice) {
		t.Fatal(err)
	}
	out, err := f.svc.ConsumeLink(ctx, emaillogin.ConsumeInput{Token: token, Kind: identity.SessionWeb, Device: "browser-1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.ConsumeLink(ctx, emaillogin.ConsumeInput{Token: token, Kind: identity.SessionWeb, Device: "browser-1"}); !errors.Is(err, otp.ErrExpired) {
		t.Fatal(err)
	}
	got := f.audit.Events()
	want := []audit.Type{audit.LoginFailed, audit.LoginSucceeded, audit.LoginFailed, audit.LoginSucceeded, audit.LoginFailed}
	if types := typesOf(got); !slices.Equal(types, want) {
		t.Fatalf("recorded %v, want %v:\n%+v", types, want, got)
	}
	cases := []struct {
		i              int
		reason, target string
	}{{0, otp.ErrInvalid.Code, ""}, {2, emaillogin.ErrOtherDevice.Code, "ann"}, {4, otp.ErrExpired.Code, ""}}
	for _, c := range cases {
		if e := got[c.i]; e.Reason != c.reason || e.TargetID != c.target || e.Method != "email_link" {
			t.Errorf("event %d: %+v, want reason %s about %q", c.i, e, c.reason, c.target)
		}
	}
	if e := got[3]; e.TargetID != "ann" || !slices.Equal(e.AMR, []string{"otp"}) || e.SessionID != out.Credentials.Session.ID {
		t.Fatalf("link sign-in event %+v", e)
	}
	link, _ := f.lastLink(t, "Ann@Example.com")
	if held := f.audit.Holding(code, wrong, token, link, out.Credentials.Cookie, "browser-1", "browser-2"); len(held) > 0 {
		t.Fatalf("events hold a secret: %+v", held)
	}
}
