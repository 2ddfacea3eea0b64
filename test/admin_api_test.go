package e2e_test

import (
	"net/http"
	"os"
	"path/filepath"
	"testing"
)

// TestAdminAPIScopesAndRanks: on the admin API every route checks the
// caller's scope and rank: a user has none, staff read users and end their
// sessions but give no role and touch no admin, an admin gives roles
// (ending the user's sessions), disables and enables, and cannot act on
// another admin.
func TestAdminAPIScopesAndRanks(t *testing.T) {
	t.Parallel()
	dataDir, tenants := t.TempDir(), t.TempDir()
	spec := tenantSpec{ID: "local", Domains: []string{"localhost"}, TOTP: true}
	if err := os.WriteFile(filepath.Join(tenants, "local.yaml"), []byte(spec.yaml()), 0o644); err != nil {
		t.Fatal(err)
	}
	boss, other, clerk := newAccount("boss"), newAccount("peer"), newAccount("clerk")
	for _, c := range []struct {
		a    account
		role string
	}{{boss, "admin"}, {other, "admin"}, {clerk, "staff"}} {
		if code, out := adminCLI(t, dataDir, tenants, c.a.Password+"\n", "create", "-tenant", "local", "-email", c.a.Email, "-role", c.role); code != 0 {
			t.Fatalf("admin create %s: %s", c.role, out)
		}
	}
	s := start(t, options{DataDir: dataDir, Env: map[string]string{"PORTCULLIS_TENANTS_DIR": tenants}})
	member := newAccount("member")
	register(t, s, "localhost", member)
	adminLogin, staffLogin, userLogin := login(t, s, "localhost", boss, ""), login(t, s, "localhost", clerk, ""), login(t, s, "localhost", member, "")
	peerID, memberID := login(t, s, "localhost", other, "").User.ID, userLogin.User.ID
	call := func(tok, method, path string, body any) reply {
		t.Helper()
		opts := []reqOption{withHost("localhost"), withBearer(tok)}
		if body != nil {
			opts = append(opts, withJSON(body))
		}
		return s.do(t, method, "/admin/v1"+path, opts...)
	}
	forbidden := func(what string, r reply, scope string) {
		t.Helper()
		p := wantProblem(t, r, http.StatusForbidden, "forbidden")
		if scope != "" && decodeJSON[map[string]any](t, r)["scope"] != scope {
			t.Fatalf("%s: %+v, want the scope %s named", what, p, scope)
		}
	}

	// A user: no scope at all.
	forbidden("user reads", call(userLogin.AccessToken, http.MethodGet, "/users/"+peerID, nil), "users:read")
	forbidden("user revokes", call(userLogin.AccessToken, http.MethodPost, "/users/"+peerID+"/sessions/revoke", nil), "sessions:revoke")
	if r := call("", http.MethodGet, "/users/"+peerID, nil); r.Status != http.StatusUnauthorized {
		t.Fatalf("no credential: %d", r.Status)
	}

	// Staff: read, end a user's sessions; no role, no admin.
	if r := call(staffLogin.AccessToken, http.MethodGet, "/users/"+peerID, nil); r.Status != http.StatusOK {
		t.Fatalf("staff reads an admin: %d %s", r.Status, r.Body)
	}
	forbidden("staff gives a role", call(staffLogin.AccessToken, http.MethodPut, "/users/"+memberID+"/role", map[string]any{"role": "staff"}), "roles:assign")
	forbidden("staff ends an admin's sessions", call(staffLogin.AccessToken, http.MethodPost, "/users/"+peerID+"/sessions/revoke", nil), "")
	forbidden("staff resets a second factor", call(staffLogin.AccessToken, http.MethodPost, "/users/"+memberID+"/mfa/reset", nil), "mfa:reset")
	if r := call(staffLogin.AccessToken, http.MethodPost, "/users/"+memberID+"/sessions/revoke", nil); r.Status != http.StatusOK {
		t.Fatalf("staff ends a user's sessions: %d %s", r.Status, r.Body)
	}
	if r := me(t, s, "localhost", withBearer(userLogin.AccessToken)); r.Status != http.StatusUnauthorized {
		t.Fatalf("the user's token after its sessions ended: %d", r.Status)
	}
	wantProblem(t, call(staffLogin.AccessToken, http.MethodGet, "/users/nobody", nil), http.StatusNotFound, "user_not_found")

	// Admin: a role (the user's sessions end), disable and enable; not
	// another admin.
	userLogin = login(t, s, "localhost", member, "")
	r := call(adminLogin.AccessToken, http.MethodPut, "/users/"+memberID+"/role", map[string]any{"role": "staff"})
	if r.Status != http.StatusOK || decodeJSON[map[string]map[string]any](t, r)["user"]["role"] != "staff" {
		t.Fatalf("admin gives staff: %d %s", r.Status, r.Body)
	}
	if r := me(t, s, "localhost", withBearer(userLogin.AccessToken)); r.Status != http.StatusUnauthorized {
		t.Fatalf("a token with the old role: %d", r.Status)
	}
	if got := login(t, s, "localhost", member, "").User.Role; got != "staff" {
		t.Fatalf("role after the change %q", got)
	}
	wantProblem(t, call(adminLogin.AccessToken, http.MethodPut, "/users/"+memberID+"/role", map[string]any{"role": "emperor"}), http.StatusBadRequest, "invalid_request")
	forbidden("admin demotes an admin", call(adminLogin.AccessToken, http.MethodPut, "/users/"+peerID+"/role", map[string]any{"role": "user"}), "")
	forbidden("admin disables an admin", call(adminLogin.AccessToken, http.MethodPost, "/users/"+peerID+"/disable", nil), "")
	if r := call(adminLogin.AccessToken, http.MethodPost, "/users/"+memberID+"/disable", nil); r.Status != http.StatusOK {
		t.Fatalf("admin disables: %d %s", r.Status, r.Body)
	}
	wantProblem(t, tryLogin(t, s, "localhost", member.Email, member.Password), http.StatusUnauthorized, "invalid_credentials")
	if r := call(adminLogin.AccessToken, http.MethodPost, "/users/"+memberID+"/enable", nil); r.Status != http.StatusOK {
		t.Fatalf("admin enables: %d %s", r.Status, r.Body)
	}
	login(t, s, "localhost", member, "")
	wantProblem(t, call(adminLogin.AccessToken, http.MethodPost, "/users/"+memberID+"/mfa/reset", nil), http.StatusBadRequest, "mfa_not_enrolled")
	if r := call(adminLogin.AccessToken, http.MethodGet, "/users/"+memberID+"/sessions", nil); r.Status != http.StatusOK {
		t.Fatalf("admin lists sessions: %d %s", r.Status, r.Body)
	}
}
