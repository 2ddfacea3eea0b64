package e2e_test

import (
	"net/http"
	"testing"
)

// A phone number belongs to one account of a tenant; registering it again
// answers like a taken address: 202, no account, a notice to the owner.
func TestRegisterWithATakenPhoneAnswersLikeATakenAddress(t *testing.T) {
	t.Parallel()
	s := startLocal(t)
	owner, other := newAccount("phone-owner"), newAccount("phone-other")
	body := registerBody(owner)
	body["phone"] = "+90 535 555 55 55"
	if r := s.do(t, http.MethodPost, "/auth/v1/register", withHost("localhost"), withJSON(body)); r.Status != http.StatusAccepted {
		t.Fatalf("register with a phone: %d %s", r.Status, r.Body)
	}
	body = registerBody(other)
	body["phone"] = "+905355555555"
	r := s.do(t, http.MethodPost, "/auth/v1/register", withHost("localhost"), withJSON(body))
	if r.Status != http.StatusAccepted {
		t.Fatalf("register with a taken phone: %d %s, want 202 like a new account", r.Status, r.Body)
	}
	if n := signUpAttemptsAfter(t, s, "localhost", owner.Email, 1); n != 1 {
		t.Fatalf("%d sign-up notices to the phone's owner, want 1", n)
	}
	if r := tryLogin(t, s, "localhost", other.Email, other.Password); r.Status != http.StatusUnauthorized {
		t.Fatalf("the account with the taken phone signs in: %d %s", r.Status, r.Body)
	}
	login(t, s, "localhost", owner, "")

	// Without sms.default_region only the international form is read.
	body = registerBody(newAccount("phone-national"))
	body["phone"] = "0535 555 55 56"
	wantFieldProblem(t, s.do(t, http.MethodPost, "/auth/v1/register", withHost("localhost"), withJSON(body)), "phone", "international format")
}
