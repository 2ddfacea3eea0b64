package password_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/portcullis/portcullis/application/audit"
	"github.com/portcullis/portcullis/application/login"
	"github.com/portcullis/portcullis/application/throttle"
	"github.com/portcullis/portcullis/domain/identity"
	"github.com/portcullis/portcullis/domain/tenant"
)

func types(es []audit.Event) []audit.Type {
	var out []audit.Type
	for _, e := range es {
		out = append(out, e.Type)
	}
	return out
}

// TestPasswordLoginsAreRecorded: a wrong password is recorded with the
// account it was tried on, an unknown address without one, a spent budget
// as throttled, and the sign-in by the pipeline; an attempt never judged
// (the hashing pool full) is no event; no event holds a password.
func TestPasswordLoginsAreRecorded(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(tn *tenant.Tenant) {
		tn.Throttling.LoginPerAccount = tenant.Limit{Count: 3, Window: time.Hour}
		tn.Throttling.LoginPerDevice = tn.Throttling.LoginPerAccount
	})
	u := f.register(t, "ann@example.com", "correct horse battery")
	f.audit.Reset()

	if _, _, err := f.login("ann@example.com", "wrong horse battery", identity.SessionAPI); !errors.Is(err, login.ErrInvalidCredentials) {
		t.Fatal(err)
	}
	if _, _, err := f.login("nobody@example.com", "wrong horse battery", identity.SessionAPI); !errors.Is(err, login.ErrInvalidCredentials) {
		t.Fatal(err)
	}
	f.hasher.busy.Store(true)
	if _, _, err := f.login("ann@example.com", "wrong horse battery", identity.SessionAPI); err == nil {
		t.Fatal("a login with the pool full passed")
	}
	f.hasher.busy.Store(false)
	_, creds, err := f.login("ann@example.com", "correct horse battery", identity.SessionAPI)
	if err != nil {
		t.Fatal(err)
	}
	got := f.audit.Events()
	if !slices.Equal(types(got), []audit.Type{audit.LoginFailed, audit.LoginFailed, audit.LoginSucceeded}) {
		t.Fatalf("recorded %v:\n%+v", types(got), got)
	}
	wrong, unknown, signed := got[0], got[1], got[2]
	if wrong.TargetID != u.ID || wrong.ActorID != "" || wrong.Reason != "invalid_credentials" || wrong.Method != "password" ||
		wrong.IP != alice.IP || wrong.UserAgent != alice.UserAgent {
		t.Fatalf("wrong password event %+v", wrong)
	}
	if unknown.TargetID != "" || unknown.Reason != "invalid_credentials" {
		t.Fatalf("unknown address event %+v", unknown)
	}
	if signed.TargetID != u.ID || signed.ActorID != u.ID || signed.SessionID != creds.Session.ID || !slices.Equal(signed.AMR, []string{"pwd"}) {
		t.Fatalf("sign-in event %+v", signed)
	}

	// The account's budget spent: throttled, recorded as such.
	f.audit.Reset()
	for range 4 {
		_, _, err = f.login("ann@example.com", "wrong horse battery", identity.SessionAPI)
	}
	if !errors.Is(err, throttle.ErrThrottled) {
		t.Fatalf("the fourth wrong password: %v, want throttled", err)
	}
	got = f.audit.Events()
	if len(got) != 4 || got[3].Reason != throttle.ErrThrottled.Code || got[2].Reason != "invalid_credentials" {
		t.Fatalf("recorded %+v", got)
	}
	if held := f.audit.Holding("correct horse battery", "wrong horse battery", creds.AccessToken, creds.RefreshToken); len(held) > 0 {
		t.Fatalf("events hold a password or token: %+v", held)
	}
}
