package e2e_test

// Issue 7, cases 6 and 9: the per-account login limit must not be a way to
// lock the owner out, and the sign-up-attempt notice must not be a way to
// flood the owner's mailbox. Each client address is sent as
// X-Forwarded-For by a server that trusts the test's loopback proxy.

import (
	"bytes"
	"fmt"
	"net/http"
	"net/url"
	"testing"
)

// behindProxy is the server setting that makes the test's own connections
// a trusted proxy, so that X-Forwarded-For names the client.
var behindProxy = map[string]string{"PORTCULLIS_TRUSTED_PROXIES": "127.0.0.1/32"}

// from sends the request as the client at ip, through the trusted proxy.
func from(ip string) reqOption { return withHeader("X-Forwarded-For", ip) }

// TestSignUpNoticesAreCappedPerRecipient: registering a taken address from
// ever new addresses sends its owner at most the tenant's cap of notices
// (signup_notice_per_recipient, by default 3 a day), and every registration
// still gets the one answer a new address gets.
func TestSignUpNoticesAreCappedPerRecipient(t *testing.T) {
	t.Parallel()
	s := startTenantsEnv(t, behindProxy, tenantSpec{ID: "local", Domains: []string{"localhost"}, SignupNoticePerRecipient: useDefault})
	owner := newAccount("flooded")
	register(t, s, "localhost", owner)
	var answers []reply
	for i := range 5 {
		ip := fmt.Sprintf("203.0.113.%d", i+10)
		r := s.do(t, http.MethodPost, "/auth/v1/register", withHost("localhost"), from(ip),
			withJSON(registerBody(account{Email: owner.Email, Password: strongPassword()})))
		if r.Status != http.StatusAccepted {
			t.Fatalf("registration %d of the taken address from %s: status %d, want 202; body %s", i+1, ip, r.Status, r.Body)
		}
		answers = append(answers, r)
	}
	for i, r := range answers {
		if !bytes.Equal(r.Body, answers[0].Body) {
			t.Errorf("registration %d answered %s, registration 1 %s: over the cap the answer must not change", i+1, r.Body, answers[0].Body)
		}
	}
	// A new address answers the same too.
	fresh := s.do(t, http.MethodPost, "/auth/v1/register", withHost("localhost"), from("203.0.113.99"), withJSON(registerBody(newAccount("fresh"))))
	if fresh.Status != answers[0].Status || !bytes.Equal(fresh.Body, answers[0].Body) {
		t.Errorf("a new address answered %d %s, the taken one %d %s", fresh.Status, fresh.Body, answers[0].Status, answers[0].Body)
	}
	r := s.get(t, "/dev/outbox?to="+url.QueryEscape(owner.Email), withHost("localhost"))
	if r.Status != http.StatusOK {
		t.Fatalf("GET /dev/outbox: status %d; body %s", r.Status, r.Body)
	}
	msgs := decodeJSON[struct {
		Messages []outboxMessage `json:"messages"`
	}](t, r).Messages
	if got := signUpAttempts(msgs, owner.Email); got != 3 {
		t.Errorf("the owner got %d sign-up-attempt notices for 5 attempts from 5 addresses, want the cap of 3", got)
	}
}
