package e2e_test

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestProfileChangesOnTheCanonicalAPI: a signed-in user renames
// themselves, changes the password (the other sessions end, the current
// one stays, the old password stops working, a notice is mailed) and
// moves to a new address (unverified; the old address is told, the new
// one gets a verification link).
func TestProfileChangesOnTheCanonicalAPI(t *testing.T) {
	t.Parallel()
	s := startLocal(t)
	const host = "localhost"
	a := newAccount("profile")
	register(t, s, host, a)
	cur := login(t, s, host, a, "")
	other := login(t, s, host, a, "app")

	r := s.do(t, http.MethodPatch, "/auth/v1/me", withHost(host), withBearer(cur.AccessToken), withJSON(map[string]any{"first_name": "Beatrice"}))
	if r.Status != http.StatusOK || !strings.Contains(string(r.Body), `"first_name":"Beatrice"`) || !strings.Contains(string(r.Body), `"last_name":"Example"`) {
		t.Fatalf("PATCH /me: %d %s", r.Status, r.Body)
	}
	r = s.do(t, http.MethodPatch, "/auth/v1/me", withHost(host), withBearer(cur.AccessToken), withJSON(map[string]any{"last_name": "x\r\ny"}))
	wantProblem(t, r, http.StatusBadRequest, "invalid_request")

	r = s.do(t, http.MethodPost, "/auth/v1/password/change", withHost(host), withBearer(cur.AccessToken),
		withJSON(map[string]any{"old_password": "not it", "new_password": strongPassword()}))
	wantProblem(t, r, http.StatusBadRequest, "invalid_old_password")
	fresh := strongPassword()
	r = s.do(t, http.MethodPost, "/auth/v1/password/change", withHost(host), withBearer(cur.AccessToken),
		withJSON(map[string]any{"old_password": a.Password, "new_password": fresh}))
	if r.Status != http.StatusNoContent {
		t.Fatalf("change password: %d %s", r.Status, r.Body)
	}
	if got := me(t, s, host, withBearer(cur.AccessToken)); got.Status != http.StatusOK {
		t.Fatalf("the current session after the change: %d", got.Status)
	}
	if got := me(t, s, host, withAppToken(other.AppToken)); got.Status != http.StatusUnauthorized {
		t.Fatalf("another session after the change: %d, want 401", got.Status)
	}
	if got := tryLogin(t, s, host, a.Email, a.Password); got.Status != http.StatusUnauthorized {
		t.Fatalf("the old password: %d, want 401", got.Status)
	}
	a.Password = fresh
	login(t, s, host, a, "")

	moved := newAccount("moved").Email
	r = s.do(t, http.MethodPost, "/auth/v1/email/change", withHost(host), withBearer(cur.AccessToken),
		withJSON(map[string]any{"email": moved, "password": "wrong"}))
	wantProblem(t, r, http.StatusBadRequest, "invalid_old_password")
	r = s.do(t, http.MethodPost, "/auth/v1/email/change", withHost(host), withBearer(cur.AccessToken),
		withJSON(map[string]any{"email": moved, "password": fresh}))
	if r.Status != http.StatusOK || !strings.Contains(string(r.Body), `"email":"`+moved+`"`) || !strings.Contains(string(r.Body), `"email_verified":false`) {
		t.Fatalf("change e-mail: %d %s", r.Status, r.Body)
	}
	if got := tryLogin(t, s, host, moved, fresh); got.Status != http.StatusOK {
		t.Fatalf("sign-in at the new address: %d %s", got.Status, got.Body)
	}
	if got := tryLogin(t, s, host, a.Email, fresh); got.Status != http.StatusUnauthorized {
		t.Fatalf("sign-in at the old address: %d, want 401", got.Status)
	}
	// Mail leaves in the background: give it a moment.
	var toOld, toNew, changed int
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		toOld, toNew, changed = 0, 0, 0
		for _, m := range outbox(t, s, host) {
			switch {
			case strings.EqualFold(m.To, a.Email) && strings.Contains(m.Text, moved):
				toOld++
			case strings.EqualFold(m.To, moved) && strings.Contains(m.Text, "/auth/v1/email/verify?token="):
				toNew++
			case strings.EqualFold(m.To, a.Email) && strings.Contains(strings.ToLower(m.Subject), "password"):
				changed++
			}
			if strings.Contains(m.Text, fresh) {
				t.Fatalf("a mail holds the password: %+v", m)
			}
		}
		if (toOld >= 1 && toNew >= 1 && changed >= 1) || time.Now().After(deadline) {
			break
		}
	}
	if toOld != 1 || toNew != 1 || changed != 1 {
		t.Fatalf("mails: %d to the old address about the new one, %d verification links to the new, %d password notices; want 1 each", toOld, toNew, changed)
	}
}
