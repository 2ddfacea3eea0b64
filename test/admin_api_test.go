package e2e_test

import (
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
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

// adminUser is a user as the admin API shows it.
type adminUser struct {
	ID            string `json:"id"`
	Email         string `json:"email"`
	FirstName     string `json:"first_name"`
	LastName      string `json:"last_name"`
	Phone         string `json:"phone"`
	Role          string `json:"role"`
	Active        bool   `json:"active"`
	EmailVerified bool   `json:"email_verified"`
}

// userPage is an answer of GET /admin/v1/users.
type userPage struct {
	Users      []adminUser `json:"users"`
	NextCursor *string     `json:"next_cursor"`
}

// adminEvent is an audit event as the admin API shows it.
type adminEvent struct {
	ID        string `json:"id"`
	Type      string `json:"type"`
	At        string `json:"at"`
	ActorID   string `json:"actor_id"`
	TargetID  string `json:"target_id"`
	Reason    string `json:"reason"`
	Method    string `json:"method"`
	OldRole   string `json:"old_role"`
	NewRole   string `json:"new_role"`
	RequestID string `json:"request_id"`
}

// TestAdminAPIUsersLinksAndAudit: through the admin API an admin creates
// a user, who gets an invitation whose link sets a password (and proves
// the address) and then signs in; lists and searches users a page at a
// time; changes a profile; staff issue a login link that signs its user
// in; and the audit log shows each of these actions with actor and
// target, and no secret. Each new route answers a caller without its
// scope 403 naming the scope; bad input names its field.
func TestAdminAPIUsersLinksAndAudit(t *testing.T) {
	t.Parallel()
	const host, base = "localhost", "https://login.local.example"
	dataDir, tenants := t.TempDir(), t.TempDir()
	for _, spec := range []tenantSpec{
		{ID: "local", Domains: []string{host}, AdminLink: true, BaseURL: base},
		{ID: "plain", Domains: []string{"plain.localhost"}}, // no admin_link
	} {
		if err := os.WriteFile(filepath.Join(tenants, spec.ID+".yaml"), []byte(spec.yaml()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	boss, other, clerk, plainBoss := newAccount("boss"), newAccount("peer"), newAccount("clerk"), newAccount("plainboss")
	for _, c := range []struct {
		a            account
		tenant, role string
	}{{boss, "local", "admin"}, {other, "local", "admin"}, {clerk, "local", "staff"}, {plainBoss, "plain", "admin"}} {
		if code, out := adminCLI(t, dataDir, tenants, c.a.Password+"\n", "create", "-tenant", c.tenant, "-email", c.a.Email, "-role", c.role); code != 0 {
			t.Fatalf("admin create %s: %s", c.role, out)
		}
	}
	s := start(t, options{DataDir: dataDir, Env: map[string]string{"PORTCULLIS_TENANTS_DIR": tenants}})
	noRedirects(s)
	ann := newAccount("member")
	register(t, s, host, ann)
	adminLogin, staffLogin, userLogin := login(t, s, host, boss, ""), login(t, s, host, clerk, ""), login(t, s, host, ann, "")
	bossID, clerkID, memberID := adminLogin.User.ID, staffLogin.User.ID, userLogin.User.ID
	peerID := login(t, s, host, other, "").User.ID
	// Every secret this test sees; no audit event may hold one.
	secrets := []string{boss.Password, other.Password, clerk.Password, ann.Password, adminLogin.AccessToken, adminLogin.RefreshToken,
		staffLogin.AccessToken, userLogin.AccessToken}
	call := func(tok, method, path string, body any) reply {
		t.Helper()
		opts := []reqOption{withHost(host), withBearer(tok)}
		if body != nil {
			opts = append(opts, withJSON(body))
		}
		return s.do(t, method, "/admin/v1"+path, opts...)
	}
	forbidden := func(what string, r reply, scope string) {
		t.Helper()
		p := wantProblem(t, r, http.StatusForbidden, "forbidden")
		if got := decodeJSON[map[string]any](t, r)["scope"]; scope != "" && got != scope {
			t.Errorf("%s: %+v names scope %v, want %s", what, p, got, scope)
		}
	}
	wantFieldsNamed := func(what string, r reply, fields ...string) {
		t.Helper()
		wantProblem(t, r, http.StatusBadRequest, "invalid_request")
		if got := fieldErrors(t, r); !slices.Equal(got, fields) {
			t.Errorf("%s: fields %v, want %v (%s)", what, got, fields, r.Body)
		}
	}

	t.Run("each new route needs its scope", func(t *testing.T) {
		for _, c := range []struct {
			tok, method, path string
			body              any
			scope             string
		}{
			{userLogin.AccessToken, http.MethodGet, "/users", nil, "users:read"},
			{userLogin.AccessToken, http.MethodPost, "/users", map[string]any{"email": uniqueEmail("x"), "first_name": "X", "last_name": "Y"}, "users:write"},
			{userLogin.AccessToken, http.MethodPatch, "/users/" + peerID, map[string]any{"first_name": "Eve"}, "users:write"},
			{userLogin.AccessToken, http.MethodPost, "/users/" + peerID + "/login-link", map[string]any{}, "login_links:issue"},
			{userLogin.AccessToken, http.MethodGet, "/audit", nil, "audit:read"},
			{staffLogin.AccessToken, http.MethodPost, "/users", map[string]any{"email": uniqueEmail("x"), "first_name": "X", "last_name": "Y", "role": "admin"}, "users:write"},
			{staffLogin.AccessToken, http.MethodPatch, "/users/" + memberID, map[string]any{"first_name": "Eve"}, "users:write"},
		} {
			forbidden(c.method+" "+c.path, call(c.tok, c.method, c.path, c.body), c.scope)
		}
		// Ranks: staff issue no link for an admin; an admin changes no admin.
		forbidden("staff's link for an admin", call(staffLogin.AccessToken, http.MethodPost, "/users/"+peerID+"/login-link", map[string]any{}), "")
		forbidden("an admin changes an admin", call(adminLogin.AccessToken, http.MethodPatch, "/users/"+peerID, map[string]any{"first_name": "Eve"}), "")
		if r := call("", http.MethodGet, "/users", nil); r.Status != http.StatusUnauthorized {
			t.Errorf("no credential: %d", r.Status)
		}
	})

	var invitee account
	var inviteeID string
	t.Run("a created user is invited, sets a password by the link and signs in", func(t *testing.T) {
		invitee = newAccount("invitee")
		r := call(adminLogin.AccessToken, http.MethodPost, "/users", map[string]any{"email": invitee.Email, "first_name": "Ivy", "last_name": "Vite",
			"phone": "+44 7400 123456"})
		if r.Status != http.StatusCreated {
			t.Fatalf("create: %d %s", r.Status, r.Body)
		}
		created := decodeJSON[struct {
			User       adminUser `json:"user"`
			InviteSent bool      `json:"invite_sent"`
		}](t, r)
		u := created.User
		if !created.InviteSent || u.ID == "" || u.Email != invitee.Email || u.Role != "user" || !u.Active || u.EmailVerified || u.Phone != "+447400123456" {
			t.Fatalf("created %s", r.Body)
		}
		inviteeID = u.ID
		wantProblem(t, tryLogin(t, s, host, invitee.Email, invitee.Password), http.StatusUnauthorized, "invalid_credentials")
		mail := waitMail(t, s, host, invitee.Email, "You have been invited to local", 0)
		if !strings.Contains(mail.Text, "You have been invited to local; set your password") || !strings.Contains(mail.Text, "3 days") {
			t.Errorf("invitation text:\n%s", mail.Text)
		}
		link := linkIn(t, mail, base, "/auth/v1/password/reset")
		secrets = append(secrets, link, tokenOf(t, link), invitee.Password)
		wantValid(t, s.get(t, onServer(link, base), withHost(host)))
		if r := postJSON(t, s, host, "/auth/v1/password/reset", map[string]any{"token": tokenOf(t, link), "password": invitee.Password}); r.Status != http.StatusNoContent {
			t.Fatalf("set the password: %d %s", r.Status, r.Body)
		}
		if got := login(t, s, host, invitee, ""); got.User.ID != inviteeID || !got.User.EmailVerified {
			t.Fatalf("the invitee's sign-in: %+v, want verified", got.User)
		}

		wantProblem(t, call(adminLogin.AccessToken, http.MethodPost, "/users", map[string]any{"email": strings.ToUpper(invitee.Email), "first_name": "A", "last_name": "B"}),
			http.StatusConflict, "email_taken")
		wantProblem(t, call(adminLogin.AccessToken, http.MethodPost, "/users", map[string]any{"email": uniqueEmail("x"), "first_name": "A", "last_name": "B", "phone": "07400123456"}),
			http.StatusBadRequest, "invalid_request") // national form: this tenant reads international numbers only
		wantFieldsNamed("bad fields", call(adminLogin.AccessToken, http.MethodPost, "/users", map[string]any{"email": "nope", "last_name": "B", "role": "emperor"}),
			"email", "first_name", "role")
		wantFieldsNamed("an unknown role", call(adminLogin.AccessToken, http.MethodPost, "/users", map[string]any{"email": uniqueEmail("x"), "first_name": "A", "last_name": "B", "role": "emperor"}),
			"role")
	})

	t.Run("users are listed newest first, searched and paged", func(t *testing.T) {
		var made []string
		for range 3 {
			r := call(adminLogin.AccessToken, http.MethodPost, "/users", map[string]any{"email": uniqueEmail("Listed"), "first_name": "L", "last_name": "Isted"})
			if r.Status != http.StatusCreated {
				t.Fatalf("create: %d %s", r.Status, r.Body)
			}
			made = append(made, decodeJSON[struct {
				User adminUser `json:"user"`
			}](t, r).User.ID)
		}
		list := func(tok, query string) userPage {
			t.Helper()
			r := call(tok, http.MethodGet, "/users?"+query, nil)
			if r.Status != http.StatusOK {
				t.Fatalf("list ?%s: %d %s", query, r.Status, r.Body)
			}
			return decodeJSON[userPage](t, r)
		}
		ids := func(p userPage) []string {
			var out []string
			for _, u := range p.Users {
				out = append(out, u.ID)
			}
			return out
		}
		all := list(staffLogin.AccessToken, "limit=200")
		// boss, peer, clerk, the member, the invitee and the three listed.
		if all.NextCursor != nil || len(all.Users) != 8 {
			t.Fatalf("all users: %v (next %v), want 8 and no next page", ids(all), all.NextCursor)
		}
		slices.Reverse(made)
		if got := ids(all); len(got) < 3 || !slices.Equal(got[:3], made) {
			t.Fatalf("newest first: %v, want %v first", got, made)
		}
		var walked []string
		query := "limit=2"
		for range 20 {
			p := list(staffLogin.AccessToken, query)
			if len(p.Users) > 2 {
				t.Fatalf("a page of %d users, limit 2", len(p.Users))
			}
			walked = append(walked, ids(p)...)
			if p.NextCursor == nil {
				break
			}
			query = "limit=2&cursor=" + url.QueryEscape(*p.NextCursor)
		}
		if !slices.Equal(walked, ids(all)) {
			t.Fatalf("pages of 2: %v, want %v", walked, ids(all))
		}
		if got := ids(list(staffLogin.AccessToken, "email=LISTED.")); !slices.Equal(got, made) {
			t.Errorf("search by the beginning of the address, another case: %v, want %v", got, made)
		}
		if got := ids(list(staffLogin.AccessToken, "phone="+url.QueryEscape("+44 (0)7400 123456"))); !slices.Equal(got, []string{inviteeID}) {
			t.Errorf("search by a number in another form: %v, want the invitee", got)
		}
		if got := ids(list(staffLogin.AccessToken, "role=staff")); !slices.Equal(got, []string{clerkID}) {
			t.Errorf("role=staff: %v, want the clerk", got)
		}
		if r := call(adminLogin.AccessToken, http.MethodPost, "/users/"+made[0]+"/disable", nil); r.Status != http.StatusOK {
			t.Fatalf("disable: %d %s", r.Status, r.Body)
		}
		if got := ids(list(staffLogin.AccessToken, "status=disabled")); !slices.Equal(got, made[:1]) {
			t.Errorf("status=disabled: %v, want %v", got, made[:1])
		}
		if got := ids(list(staffLogin.AccessToken, "status=active&email=listed")); !slices.Equal(got, made[1:]) {
			t.Errorf("status=active&email=listed: %v, want %v", got, made[1:])
		}
		wantFieldsNamed("bad filters", call(staffLogin.AccessToken, http.MethodGet, "/users?status=asleep&role=emperor&limit=500&cursor=nope&phone=12", nil),
			"phone", "role", "status", "limit", "cursor")
		wantFieldsNamed("a limit that is no number", call(staffLogin.AccessToken, http.MethodGet, "/users?limit=ten", nil), "limit")
	})

	t.Run("a profile changes only in the members given", func(t *testing.T) {
		moved := newAccount("moved")
		r := call(adminLogin.AccessToken, http.MethodPatch, "/users/"+memberID, map[string]any{"first_name": "Marta", "email": moved.Email, "phone": "+447400123457"})
		if r.Status != http.StatusOK {
			t.Fatalf("patch: %d %s", r.Status, r.Body)
		}
		u := decodeJSON[struct {
			User adminUser `json:"user"`
		}](t, r).User
		if u.FirstName != "Marta" || u.LastName != "Example" || u.Email != moved.Email || u.EmailVerified || u.Phone != "+447400123457" {
			t.Fatalf("after the patch: %s", r.Body)
		}
		login(t, s, host, account{Email: moved.Email, Password: ann.Password}, "")
		wantProblem(t, tryLogin(t, s, host, ann.Email, ann.Password), http.StatusUnauthorized, "invalid_credentials")
		r = s.do(t, http.MethodPatch, "/admin/v1/users/"+memberID, withHost(host), withBearer(adminLogin.AccessToken), withBody("application/json", `{"phone": null}`))
		if r.Status != http.StatusOK || decodeJSON[struct {
			User adminUser `json:"user"`
		}](t, r).User.Phone != "" {
			t.Fatalf("phone null: %d %s", r.Status, r.Body)
		}
		wantProblem(t, call(adminLogin.AccessToken, http.MethodPatch, "/users/"+memberID, map[string]any{"email": invitee.Email}), http.StatusConflict, "email_taken")
		wantProblem(t, call(adminLogin.AccessToken, http.MethodPatch, "/users/"+memberID, map[string]any{"phone": "+447400123456"}), http.StatusConflict, "phone_taken")
		wantFieldsNamed("bad members", call(adminLogin.AccessToken, http.MethodPatch, "/users/"+memberID, map[string]any{"first_name": "", "last_name": 7, "email": nil}),
			"last_name", "email")
		wantFieldsNamed("an empty name", call(adminLogin.AccessToken, http.MethodPatch, "/users/"+memberID, map[string]any{"first_name": " "}), "first_name")
		wantProblem(t, call(adminLogin.AccessToken, http.MethodPatch, "/users/nobody", map[string]any{"first_name": "X"}), http.StatusNotFound, "user_not_found")
		ann.Email = moved.Email
	})

	t.Run("staff issue a login link that signs its user in once", func(t *testing.T) {
		r := call(staffLogin.AccessToken, http.MethodPost, "/users/"+memberID+"/login-link", map[string]any{"next": "/dashboard"})
		if r.Status != http.StatusCreated {
			t.Fatalf("issue: %d %s", r.Status, r.Body)
		}
		l := decodeJSON[struct {
			URL       string `json:"url"`
			ExpiresAt string `json:"expires_at"`
		}](t, r)
		u, err := url.Parse(l.URL)
		if err != nil || !strings.HasPrefix(u.Path, "/users/passwordless-login/") || u.Query().Get("user") != memberID ||
			u.Query().Get("secret_key") == "" || u.Query().Get("next") != "/dashboard" || l.ExpiresAt == "" {
			t.Fatalf("link %+v", l)
		}
		secrets = append(secrets, l.URL, strings.TrimSuffix(strings.TrimPrefix(u.Path, "/users/passwordless-login/"), "/"), u.Query().Get("secret_key"))
		if r := s.do(t, http.MethodGet, l.URL, withHost(host)); r.Status != http.StatusOK || len(r.Header.Values("Set-Cookie")) != 0 {
			t.Fatalf("GET of the link: %d, want the page and no cookie", r.Status)
		}
		wantLinkSignedIn(t, s, host, "the link", s.do(t, http.MethodPost, l.URL, browserPost(host)...), member{ID: memberID}, "/dashboard")
		wantHome(t, "the link again", s.do(t, http.MethodPost, l.URL, browserPost(host)...))

		// A secret key of the issuer's own is not in the link.
		r = call(adminLogin.AccessToken, http.MethodPost, "/users/"+memberID+"/login-link", map[string]any{"secret_key": "told-by-phone"})
		given := decodeJSON[struct {
			URL string `json:"url"`
		}](t, r).URL
		if r.Status != http.StatusCreated || strings.Contains(given, "secret_key") || strings.Contains(given, "told-by-phone") {
			t.Fatalf("with a secret key: %d %s", r.Status, r.Body)
		}
		secrets = append(secrets, given, "told-by-phone")
		wantFieldsNamed("a next elsewhere", call(staffLogin.AccessToken, http.MethodPost, "/users/"+memberID+"/login-link", map[string]any{"next": "https://evil.example/"}), "next")
		wantProblem(t, call(staffLogin.AccessToken, http.MethodPost, "/users/nobody/login-link", nil), http.StatusNotFound, "user_not_found")

		plainAdmin := login(t, s, "plain.localhost", plainBoss, "")
		plainUser := newAccount("plainuser")
		register(t, s, "plain.localhost", plainUser)
		plainUserID := login(t, s, "plain.localhost", plainUser, "").User.ID
		wantProblem(t, s.do(t, http.MethodPost, "/admin/v1/users/"+plainUserID+"/login-link", withHost("plain.localhost"), withBearer(plainAdmin.AccessToken)),
			http.StatusForbidden, "method_disabled")
	})

	t.Run("the audit log shows each action with actor and target and no secret", func(t *testing.T) {
		if r := call(adminLogin.AccessToken, http.MethodPut, "/users/"+inviteeID+"/role", map[string]any{"role": "staff"}); r.Status != http.StatusOK {
			t.Fatalf("role: %d %s", r.Status, r.Body)
		}
		if r := call(adminLogin.AccessToken, http.MethodPost, "/users/"+inviteeID+"/sessions/revoke", nil); r.Status != http.StatusOK {
			t.Fatalf("revoke: %d %s", r.Status, r.Body)
		}
		type want struct{ typ, reason, actor, target, oldRole, newRole string }
		wanted := []want{
			{"admin.action", "user.created", bossID, inviteeID, "", "user"},
			{"password.reset", "", "", inviteeID, "", ""},
			{"user.disabled", "", bossID, "", "", ""},
			{"admin.action", "profile.updated", bossID, memberID, "", ""},
			{"link.issued", "", clerkID, memberID, "", ""},
			{"link.issued", "", bossID, memberID, "", ""},
			{"role.changed", "", bossID, inviteeID, "user", "staff"},
			{"admin.action", "sessions.revoked", bossID, inviteeID, "", ""},
			// Refused for the caller's rights: a missing scope, a rank.
			{"admin.denied", "users.list/users:read", memberID, "", "", ""},
			{"admin.denied", "audit.read/audit:read", memberID, "", "", ""},
			{"admin.denied", "user.create/users:write", clerkID, "", "", ""},
			{"admin.denied", "login_link.issue/rank", clerkID, peerID, "", ""},
			{"admin.denied", "profile.update/rank", bossID, peerID, "", ""},
		}
		var events []adminEvent
		var bodies []string
		for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(200 * time.Millisecond) {
			events, bodies = nil, nil
			query := "limit=3"
			for range 200 {
				r := call(staffLogin.AccessToken, http.MethodGet, "/audit?"+query, nil)
				if r.Status != http.StatusOK {
					t.Fatalf("audit ?%s: %d %s", query, r.Status, r.Body)
				}
				bodies = append(bodies, string(r.Body))
				p := decodeJSON[struct {
					Events     []adminEvent `json:"events"`
					NextCursor *string      `json:"next_cursor"`
				}](t, r)
				events = append(events, p.Events...)
				if p.NextCursor == nil {
					break
				}
				query = "limit=3&cursor=" + url.QueryEscape(*p.NextCursor)
			}
			missing := 0
			for _, w := range wanted {
				if !slices.ContainsFunc(events, func(e adminEvent) bool {
					return e.Type == w.typ && e.Reason == w.reason && e.ActorID == w.actor && (w.target == "" || e.TargetID == w.target) &&
						e.OldRole == w.oldRole && e.NewRole == w.newRole
				}) {
					missing++
					if time.Now().After(deadline) {
						t.Errorf("no event %+v in the log", w)
					}
				}
			}
			if missing == 0 || time.Now().After(deadline) {
				break
			}
		}
		seen := map[string]bool{}
		for i, e := range events {
			if seen[e.ID] {
				t.Errorf("event %s on two pages", e.ID)
			}
			seen[e.ID] = true
			if i > 0 && events[i-1].ID < e.ID {
				t.Errorf("events not newest first: %s before %s", events[i-1].ID, e.ID)
			}
		}
		for _, body := range bodies {
			for _, secret := range secrets {
				if secret != "" && strings.Contains(body, secret) {
					t.Errorf("an audit page holds the secret %q: %s", secret, body)
				}
			}
			for _, address := range []string{boss.Email, ann.Email, invitee.Email, clerk.Email} {
				if strings.Contains(strings.ToLower(body), strings.ToLower(address)) {
					t.Errorf("an audit page holds the address %s", address)
				}
			}
		}

		// Filters: by type (repeated or comma-separated) and user, and a time range.
		r := call(adminLogin.AccessToken, http.MethodGet, "/audit?type=role.changed&type=link.issued,admin.action&user_id="+inviteeID, nil)
		got := decodeJSON[struct {
			Events []adminEvent `json:"events"`
		}](t, r).Events
		var kinds []string
		for _, e := range got {
			kinds = append(kinds, e.Type+" "+e.Reason)
		}
		// The invitee's: created, given a role, its sessions ended (newest first).
		if want := []string{"admin.action sessions.revoked", "role.changed ", "admin.action user.created"}; r.Status != http.StatusOK || !slices.Equal(kinds, want) {
			t.Errorf("types and user: %v, want %v (%d %s)", kinds, want, r.Status, r.Body)
		}
		future := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
		if r := call(adminLogin.AccessToken, http.MethodGet, "/audit?since="+future, nil); r.Status != http.StatusOK ||
			len(decodeJSON[struct {
				Events []adminEvent `json:"events"`
			}](t, r).Events) != 0 {
			t.Errorf("since an hour ahead: %d %s", r.Status, r.Body)
		}
		wantFieldsNamed("bad parameters", call(adminLogin.AccessToken, http.MethodGet, "/audit?since=yesterday&limit=x", nil), "since", "limit")
		wantFieldsNamed("bad values", call(adminLogin.AccessToken, http.MethodGet, "/audit?type=nope&limit=500&cursor=zz", nil), "type", "limit", "cursor")
	})
}
