package e2e_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	mongooptions "go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/portcullis/portcullis/adapters/embedded"
)

// Issue 11, the seed 000 part: the admin-issued one-time login link
// (POST /users/passwordless-login/, then GET and POST of the link) and the
// token login (POST /users/token-login/).
//
// Issuing a link takes a member of staff, and there is no admin API yet:
// a role is only ever set in the store. So these servers run on a store
// of the test's own (an embedded FerretDB started in the test process, or
// MONGODB_URI with a database of the test's own), which the test reaches
// with the MongoDB driver to give a registered user a role, as an
// operator would with a MongoDB shell.

// roleStore is the server's store as the test reaches it.
type roleStore struct{ db *mongo.Database }

// startWithStore starts a server serving the tenants on a store of the
// test's own, and returns the store too.
func startWithStore(t *testing.T, specs ...tenantSpec) (*server, *roleStore) {
	t.Helper()
	files := make(map[string]string, len(specs))
	for _, ts := range specs {
		files[ts.ID] = ts.yaml()
	}
	return startWithStoreFiles(t, nil, files)
}

// startWithStoreFiles is startWithStore for tenant files (id → YAML), with
// more environment variables.
func startWithStoreFiles(t *testing.T, env, files map[string]string) (*server, *roleStore) {
	t.Helper()
	uri := os.Getenv("MONGODB_URI")
	if uri == "" {
		u, stop, err := embedded.StartFerretDB(context.Background(), embedded.FerretDBOptions{Dir: t.TempDir(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(stop)
		uri = u
	}
	sum := sha256.Sum256(fmt.Appendf(nil, "%s %d", t.Name(), time.Now().UnixNano()))
	name := "links_" + hex.EncodeToString(sum[:8])
	all := map[string]string{"PORTCULLIS_MONGODB_URI": uri, "PORTCULLIS_MONGODB_DATABASE": name}
	maps.Copy(all, env)
	s := startShops(t, all, files)
	client, err := mongo.Connect(mongooptions.Client().ApplyURI(uri))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Disconnect(context.Background()) })
	return s, &roleStore{db: client.Database(name)}
}

// set writes one field of the user with the e-mail address in the
// tenant's users collection.
func (rs *roleStore) set(t *testing.T, tenantID, email, field string, value any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := rs.db.Collection("users").UpdateOne(ctx, bson.D{{Key: "tenant_id", Value: tenantID}, {Key: "email_key", Value: strings.ToLower(email)}},
		bson.D{{Key: "$set", Value: bson.D{{Key: field, Value: value}}}})
	if err != nil || res.MatchedCount != 1 {
		t.Fatalf("set %s of %s in tenant %s: %+v, %v", field, email, tenantID, res, err)
	}
}

// auditEvent is a stored audit event, as much of it as these tests read.
type auditEvent struct {
	TenantID string `bson:"tenant_id"`
	Type     string `bson:"type"`
	ActorID  string `bson:"actor_id"`
	TargetID string `bson:"target_id"`
	Method   string `bson:"method"`
	Reason   string `bson:"reason"`
}

// audit waits (at most 15 s: the server writes its audit log in the
// background) until the stored audit events hold every one of want —
// matched on the fields want sets — and then checks that no stored
// document holds any of secrets.
func (rs *roleStore) audit(t *testing.T, want []auditEvent, secrets ...string) {
	t.Helper()
	match := func(e, w auditEvent) bool {
		return e.Type == w.Type && (w.TenantID == "" || e.TenantID == w.TenantID) && (w.ActorID == "" || e.ActorID == w.ActorID) &&
			(w.TargetID == "" || e.TargetID == w.TargetID) && (w.Method == "" || e.Method == w.Method) && (w.Reason == "" || e.Reason == w.Reason)
	}
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(250 * time.Millisecond) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		cur, err := rs.db.Collection("audit_events").Find(ctx, bson.D{})
		var raw []bson.Raw
		if err == nil {
			err = cur.All(ctx, &raw)
		}
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		var events []auditEvent
		for _, r := range raw {
			var e auditEvent
			if err := bson.Unmarshal(r, &e); err != nil {
				t.Fatal(err)
			}
			events = append(events, e)
		}
		var missing []auditEvent
		for _, w := range want {
			if !slices.ContainsFunc(events, func(e auditEvent) bool { return match(e, w) }) {
				missing = append(missing, w)
			}
		}
		if len(missing) == 0 {
			for _, r := range raw {
				for _, secret := range secrets {
					if secret != "" && strings.Contains(r.String(), secret) {
						t.Errorf("an audit event holds the secret %q: %s", secret, r)
					}
				}
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no audit event like %+v among %+v", missing, events)
		}
	}
}

// member is a registered account of a links tenant: its id and its seed
// 000 key (an app token).
type member struct {
	account
	ID, Key string
}

// join registers an account of the given role on the tenant at host and
// signs it in with seed 000's login. The role is written to the store
// before the first sign-in; the server's caches are waited out all the
// same (at most 5 s) until its /auth/v1/me shows it.
func join(t *testing.T, s *server, rs *roleStore, host, tenantID, role string) member {
	t.Helper()
	m := member{account: newAccount(role)}
	register(t, s, host, m.account)
	if role != "user" {
		rs.set(t, tenantID, m.Email, "role", role)
	}
	r := s.do(t, http.MethodPost, "/users/login/", withHost(host), withJSON(map[string]any{"email": m.Email, "password": m.Password}))
	if r.Status != http.StatusOK {
		t.Fatalf("seed 000 login of %s: %d %s", m.Email, r.Status, r.Body)
	}
	m.Key = decodeJSON[struct {
		Key string `json:"key"`
	}](t, r).Key
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		ans := decodeJSON[loginAnswer](t, me(t, s, host, withAppToken(m.Key)))
		m.ID = ans.User.ID
		if ans.User.Role == role {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s is still %q, want %q", m.Email, ans.User.Role, role)
		}
	}
}

// linksTenant serves seed 000 with admin-issued login links and token
// login, and the second factor.
func linksTenant(id string, domains ...string) tenantSpec {
	return tenantSpec{ID: id, Domains: domains, AdminLink: true, TokenLogin: true, TOTP: true, NoSeed001: true}
}

// issueLink asks for a login link as the holder of key; the reply as it is.
func issueLink(t *testing.T, s *server, host, key string, fields map[string]any) reply {
	t.Helper()
	opts := []reqOption{withHost(host), withJSON(fields)}
	if key != "" {
		opts = append(opts, withAppToken(key))
	}
	return s.do(t, http.MethodPost, "/users/passwordless-login/", opts...)
}

// linkFor has staff issue a link for user with the secret key, and
// returns its path.
func linkFor(t *testing.T, s *server, host string, staff, user member, secret string) string {
	t.Helper()
	r := issueLink(t, s, host, staff.Key, map[string]any{"user": user.ID, "secret_key": secret})
	if r.Status != http.StatusOK {
		t.Fatalf("issue a link for %s: %d %s", user.Email, r.Status, r.Body)
	}
	u := decodeJSON[struct {
		URL string `json:"url"`
	}](t, r).URL
	if !strings.HasPrefix(u, "/users/passwordless-login/") || !strings.HasSuffix(u, "/") || len(u) != len("/users/passwordless-login/")+43+1 {
		t.Fatalf("url %q, want /users/passwordless-login/<43-character token>/", u)
	}
	return u
}

// withLink is the query of a link: the user, the secret key and next.
func withLink(path string, user member, secret, next string) string {
	q := url.Values{"user": {user.ID}, "secret_key": {secret}}
	if next != "" {
		q.Set("next", next)
	}
	return path + "?" + q.Encode()
}

// browserPost is the POST of the link page's form, as a browser sends it
// from the page: same origin, an empty form body.
func browserPost(host string) []reqOption {
	return []reqOption{withHost(host), withHeader("Origin", "http://"+host), withHeader("Sec-Fetch-Site", "same-origin"),
		withBody("application/x-www-form-urlencoded", "")}
}

// wantHome checks that r redirects home and sets no session cookie.
func wantHome(t *testing.T, what string, r reply) {
	t.Helper()
	if r.Status != http.StatusFound || r.Header.Get("Location") != "/" {
		t.Errorf("%s: %d Location %q, want 302 to /; body %s", what, r.Status, r.Header.Get("Location"), r.Body)
	}
	if len(r.Header.Values("Set-Cookie")) != 0 {
		t.Errorf("%s: cookies set: %v", what, r.Header.Values("Set-Cookie"))
	}
}

// wantLinkSignedIn checks that r redirects to next with a session cookie of
// user, and returns the cookie.
func wantLinkSignedIn(t *testing.T, s *server, host, what string, r reply, user member, next string) string {
	t.Helper()
	c := sessionCookie(r)
	if r.Status != http.StatusFound || r.Header.Get("Location") != next || c == nil || c.Value == "" || !c.HttpOnly {
		t.Fatalf("%s: %d Location %q cookie %v, want 302 to %s with the session cookie; body %s", what, r.Status, r.Header.Get("Location"), c, next, r.Body)
	}
	if got := decodeJSON[loginAnswer](t, me(t, s, host, withSessionCookie(c.Value))).User.ID; got != user.ID {
		t.Fatalf("%s: the cookie is %q's, want %s's", what, got, user.ID)
	}
	return c.Value
}

// webSessions counts the live browser sessions of the holder of cred.
func webSessions(t *testing.T, s *server, host string, cred reqOption) int {
	t.Helper()
	r := s.get(t, "/auth/v1/sessions", withHost(host), cred)
	if r.Status != http.StatusOK {
		t.Fatalf("sessions: %d %s", r.Status, r.Body)
	}
	n := 0
	for _, x := range decodeJSON[struct {
		Sessions []struct {
			Kind string `json:"kind"`
		} `json:"sessions"`
	}](t, r).Sessions {
		if x.Kind == "web" {
			n++
		}
	}
	return n
}

// wantBody checks that r has this status and exactly this JSON body
// (lists too), and sets no session cookie.
func wantBody(t *testing.T, what string, r reply, status int, want map[string]any) {
	t.Helper()
	var got map[string]any
	if err := json.Unmarshal(r.Body, &got); r.Status != status || err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("%s: %d %s, want %d %v", what, r.Status, r.Body, status, want)
	}
	if c := sessionCookie(r); c != nil {
		t.Errorf("%s: a session cookie is set: %v", what, c)
	}
}

// TestSeed000LoginLinks: who may issue a link and what a refusal says; a
// scanner's GET leaves a link for its user, whose browser signs in once;
// a link used twice, or by 20 requests at once, signs in once; a link of
// one tenant signs nobody in on another; a wrong secret key or user signs
// nobody in (and spends the link); a user with TOTP gets no session.
func TestSeed000LoginLinks(t *testing.T) {
	t.Parallel()
	const host, other = "localhost", "other.localhost"
	s, rs := startWithStore(t, linksTenant("links", host), linksTenant("elsewhere", other))
	admin := join(t, s, rs, host, "links", "admin")
	staff := join(t, s, rs, host, "links", "staff")
	ann := join(t, s, rs, host, "links", "user")
	bob := join(t, s, rs, host, "links", "user")

	t.Run("who may issue", func(t *testing.T) {
		fields := map[string]any{"user": ann.ID, "secret_key": "k"}
		wantBody(t, "no credential", issueLink(t, s, host, "", fields), http.StatusUnauthorized,
			map[string]any{"detail": "Authentication credentials were not provided."})
		wantBody(t, "a bad token", issueLink(t, s, host, "f00d", fields), http.StatusUnauthorized, map[string]any{"detail": "Invalid token."})
		forbidden := map[string]any{"detail": "You do not have permission to perform this action."}
		wantBody(t, "a user", issueLink(t, s, host, bob.Key, fields), http.StatusForbidden, forbidden)
		wantBody(t, "a user, no fields", issueLink(t, s, host, bob.Key, map[string]any{}), http.StatusForbidden, forbidden)
		wantBody(t, "staff for staff", issueLink(t, s, host, staff.Key, map[string]any{"user": staff.ID, "secret_key": "k"}), http.StatusForbidden, forbidden)
		wantBody(t, "staff for an admin", issueLink(t, s, host, staff.Key, map[string]any{"user": admin.ID, "secret_key": "k"}), http.StatusForbidden, forbidden)
		linkFor(t, s, host, staff, ann, "k")
		linkFor(t, s, host, admin, staff, "k")
		// Form bodies work as JSON does.
		r := s.do(t, http.MethodPost, "/users/passwordless-login", withHost(host), withAppToken(staff.Key),
			withForm(url.Values{"user": {ann.ID}, "secret_key": {"k"}}))
		if r.Status != http.StatusOK || r.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("a form body without the trailing slash: %d %s", r.Status, r.Body)
		}
	})

	t.Run("field errors", func(t *testing.T) {
		wantBody(t, "no fields", issueLink(t, s, host, staff.Key, map[string]any{}), http.StatusBadRequest,
			map[string]any{"user": []any{"is required"}, "secret_key": []any{"is required"}})
		wantBody(t, "unknown user", issueLink(t, s, host, staff.Key, map[string]any{"user": "nobody", "secret_key": "k"}), http.StatusBadRequest,
			map[string]any{"user": []any{"does not exist"}})
		gone := join(t, s, rs, host, "links", "user")
		rs.set(t, "links", gone.Email, "active", false)
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(200 * time.Millisecond) { // the user cache
			r := issueLink(t, s, host, staff.Key, map[string]any{"user": gone.ID, "secret_key": "k"})
			if r.Status == http.StatusBadRequest || time.Now().After(deadline) {
				wantBody(t, "inactive user", r, http.StatusBadRequest, map[string]any{"user": []any{"is not active"}})
				break
			}
		}
	})

	t.Run("a scanner's GET leaves the link to its user", func(t *testing.T) {
		path := withLink(linkFor(t, s, host, staff, ann, "user-login-secret"), ann, "user-login-secret", "/dashboard/")
		for _, method := range []string{http.MethodGet, http.MethodHead, http.MethodGet} {
			r := s.do(t, method, path, withHost(host))
			if r.Status != http.StatusOK || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") ||
				len(r.Header.Values("Set-Cookie")) != 0 || r.Header.Get("Cache-Control") != "no-store" || r.Header.Get("Referrer-Policy") != "no-referrer" {
				t.Fatalf("%s of the link: %d %v; want the page, no cookie, no-store, no-referrer", method, r.Status, r.Header)
			}
			if method == http.MethodGet && !strings.Contains(string(r.Body), `<form id="f" method="post">`) {
				t.Fatalf("the page has no form posting back: %s", r.Body)
			}
		}
		// A page of another site cannot make a browser use the link.
		r := s.do(t, http.MethodPost, path, withHost(host), withHeader("Origin", "https://evil.example"), withBody("application/x-www-form-urlencoded", ""))
		wantHome(t, "a cross-site POST", r)
		// The browser submits the page's form: signed in, once.
		cookie := wantLinkSignedIn(t, s, host, "the page's POST", s.do(t, http.MethodPost, path, browserPost(host)...), ann, "/dashboard/")
		wantHome(t, "the link again", s.do(t, http.MethodPost, path, browserPost(host)...))
		wantHome(t, "a GET of the used link", s.get(t, path, withHost(host)))
		if n := webSessions(t, s, host, withSessionCookie(cookie)); n != 1 {
			t.Fatalf("%d browser sessions, want 1", n)
		}
		// The logs name the route, never the token.
		token := strings.Split(path, "/")[3]
		if strings.Contains(s.logs.text(), token) {
			t.Fatal("the token is in the server's log")
		}
	})

	t.Run("next", func(t *testing.T) {
		for next, want := range map[string]string{"": "/", "//evil.example": "/", "https://evil.example/x": "/", "http://localhost:3000/shop": "http://localhost:3000/shop"} {
			path := withLink(linkFor(t, s, host, staff, bob, "k"), bob, "k", next)
			wantLinkSignedIn(t, s, host, "next "+next, s.do(t, http.MethodPost, path, withHost(host)), bob, want)
		}
	})

	t.Run("20 at once sign in once", func(t *testing.T) {
		carl := join(t, s, rs, host, "links", "user")
		path := withLink(linkFor(t, s, host, staff, carl, "k"), carl, "k", "/dashboard/")
		raw := fmt.Sprintf("POST %s HTTP/1.1\r\nHost: %s\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", path, host)
		var cookies []string
		for i, r := range s.sendTogether(t, 20, raw) {
			switch c := sessionCookie(r); {
			case r.Status == http.StatusFound && r.Header.Get("Location") == "/dashboard/" && c != nil:
				cookies = append(cookies, c.Value)
			case r.Status == http.StatusFound && r.Header.Get("Location") == "/" && c == nil:
			default:
				t.Errorf("request %d: %d %v %s", i, r.Status, r.Header, r.Body)
			}
		}
		if len(cookies) != 1 {
			t.Fatalf("%d of 20 signed in, want exactly 1", len(cookies))
		}
		if n := webSessions(t, s, host, withSessionCookie(cookies[0])); n != 1 {
			t.Fatalf("%d browser sessions, want exactly 1", n)
		}
	})

	t.Run("another tenant's link", func(t *testing.T) {
		path := withLink(linkFor(t, s, host, staff, ann, "k"), ann, "k", "")
		wantHome(t, "POST on the other tenant", s.do(t, http.MethodPost, path, withHost(other)))
		wantHome(t, "GET on the other tenant", s.get(t, path, withHost(other)))
		wantLinkSignedIn(t, s, host, "the link on its own tenant afterwards", s.do(t, http.MethodPost, path, withHost(host)), ann, "/")
	})

	t.Run("a wrong secret key or user", func(t *testing.T) {
		for name, use := range map[string]struct {
			user   member
			secret string
		}{"wrong secret key": {ann, "wrong"}, "another user": {bob, "k"}, "no secret key": {ann, ""}} {
			link := linkFor(t, s, host, staff, ann, "k")
			wantHome(t, name+": GET", s.get(t, withLink(link, use.user, use.secret, ""), withHost(host)))
			if r := s.get(t, withLink(link, ann, "k", ""), withHost(host)); r.Status != http.StatusOK {
				t.Errorf("%s: a GET with a wrong key spent the link: %d", name, r.Status)
			}
			wantHome(t, name+": POST", s.do(t, http.MethodPost, withLink(link, use.user, use.secret, ""), withHost(host)))
			// A wrong key presented in a POST spends the link: a secret
			// key cannot be guessed against it.
			wantHome(t, name+": then the right one", s.do(t, http.MethodPost, withLink(link, ann, "k", ""), withHost(host)))
		}
	})

	t.Run("a user with TOTP gets no session", func(t *testing.T) {
		dora := join(t, s, rs, host, "links", "user")
		enrolTOTP(t, s, host, dora.account)
		path := withLink(linkFor(t, s, host, staff, dora, "k"), dora, "k", "/dashboard/")
		wantHome(t, "the link of a user with TOTP", s.do(t, http.MethodPost, path, browserPost(host)...))
	})

	// Each case is in the audit log: the links issued and used, and the
	// refused ones (used again, another tenant's, a wrong secret key or
	// user: login_link_invalid, naming the link's user when its token was
	// live) — and no event holds a key, a token or a secret key.
	t.Run("audited, without a secret", func(t *testing.T) {
		refused := auditEvent{Type: "login.failed", Method: "admin_link", Reason: "login_link_invalid"}
		onOther, wrongKey := refused, refused
		onOther.TenantID, wrongKey.TenantID, wrongKey.TargetID = "elsewhere", "links", ann.ID
		rs.audit(t, []auditEvent{
			{Type: "link.issued", TenantID: "links", ActorID: staff.ID, TargetID: ann.ID, Method: "admin_link"},
			{Type: "link.issued", TenantID: "links", ActorID: admin.ID, TargetID: staff.ID},
			{Type: "link.used", TenantID: "links", TargetID: ann.ID},
			{Type: "login.succeeded", TenantID: "links", TargetID: ann.ID, Method: "admin_link"},
			refused, onOther, wrongKey,
		}, admin.Key, staff.Key, ann.Key, bob.Key, "user-login-secret", admin.Password, staff.Password, ann.Password)
	})
}

// TestSeed000AnExpiredLinkSignsNobodyIn: a link past
// passwordless_login_max_age (30 s here, the shortest a tenant may set)
// is refused like a used one, by its page and by its POST.
func TestSeed000AnExpiredLinkSignsNobodyIn(t *testing.T) {
	t.Parallel()
	const host = "localhost"
	spec := linksTenant("expiring", host)
	spec.LoginLinkMaxAge = "30s"
	s, rs := startWithStore(t, spec)
	staff := join(t, s, rs, host, "expiring", "staff")
	ann := join(t, s, rs, host, "expiring", "user")
	r := issueLink(t, s, host, staff.Key, map[string]any{"user": ann.ID, "secret_key": "k"})
	issuedAt := time.Now()
	if r.Status != http.StatusOK {
		t.Fatalf("issue: %d %s", r.Status, r.Body)
	}
	path := withLink(decodeJSON[struct {
		URL string `json:"url"`
	}](t, r).URL, ann, "k", "/dashboard/")
	if r := s.get(t, path, withHost(host)); r.Status != http.StatusOK {
		t.Fatalf("the live link's page: %d", r.Status)
	}
	time.Sleep(time.Until(issuedAt.Add(31 * time.Second)))
	wantHome(t, "the expired link's page", s.get(t, path, withHost(host)))
	wantHome(t, "the expired link's POST", s.do(t, http.MethodPost, path, browserPost(host)...))
	if n := webSessions(t, s, host, withAppToken(ann.Key)); n != 0 {
		t.Fatalf("%d browser sessions of ann, want 0", n)
	}
	rs.audit(t, []auditEvent{{Type: "link.issued", TargetID: ann.ID}, {Type: "login.failed", Method: "admin_link", Reason: "login_link_invalid"}},
		staff.Key, ann.Key, strings.Split(path, "/")[3])
}

// tokenLogin posts seed 000's token login.
func tokenLogin(t *testing.T, s *server, host string, fields map[string]any, opts ...reqOption) reply {
	t.Helper()
	return s.do(t, http.MethodPost, "/users/token-login/", append([]reqOption{withHost(host), withJSON(fields)}, opts...)...)
}

// TestSeed000TokenLogin: a user's key opens a browser session of theirs
// (204, the cookie, its CSRF token); another user's key, an unknown user
// and a bad key are one 400; the attempts of one address are throttled;
// a user with TOTP goes on to the second step.
func TestSeed000TokenLogin(t *testing.T) {
	t.Parallel()
	const host = "localhost"
	spec := linksTenant("tokens", host)
	spec.TokenLoginPerIP = "{limit: 12, window: 1h}"
	s, rs := startWithStore(t, spec)
	signUp := func(t *testing.T) member {
		t.Helper()
		m := member{account: newAccount("token")}
		register(t, s, host, m.account)
		r := s.do(t, http.MethodPost, "/users/login/", withHost(host), withForm(url.Values{"email": {m.Email}, "password": {m.Password}}))
		m.Key = decodeJSON[struct {
			Key string `json:"key"`
		}](t, r).Key
		m.ID = decodeJSON[loginAnswer](t, me(t, s, host, withAppToken(m.Key))).User.ID
		return m
	}
	ann, bob := signUp(t), signUp(t)

	r := tokenLogin(t, s, host, map[string]any{"user": ann.ID, "token": ann.Key})
	c := sessionCookie(r)
	if r.Status != http.StatusNoContent || len(r.Body) != 0 || c == nil || !c.HttpOnly || r.Header.Get("X-CSRF-Token") == "" {
		t.Fatalf("token login: %d %v %s; want 204 with the session cookie and X-CSRF-Token", r.Status, r.Header, r.Body)
	}
	if got := decodeJSON[loginAnswer](t, me(t, s, host, withSessionCookie(c.Value))).User.ID; got != ann.ID {
		t.Fatalf("the cookie is %q's, want ann's", got)
	}
	// The cookie's CSRF token logs it out, as seed 000's logout takes it.
	r = s.do(t, http.MethodPost, "/users/logout/", withHost(host), withSessionCookie(c.Value), withHeader("X-CSRFToken", r.Header.Get("X-CSRF-Token")))
	if r.Status != http.StatusFound || me(t, s, host, withSessionCookie(c.Value)).Status != http.StatusUnauthorized {
		t.Fatalf("logout with the cookie and its CSRF token: %d", r.Status)
	}
	if me(t, s, host, withAppToken(ann.Key)).Status != http.StatusOK {
		t.Fatal("the key stopped working")
	}

	invalid := map[string]any{"non_field_errors": []any{"Unable to log in with provided credentials."}}
	for name, fields := range map[string]map[string]any{
		"another user's key":    {"user": ann.ID, "token": bob.Key},
		"an unknown user":       {"user": "nobody", "token": ann.Key},
		"an unknown key":        {"user": ann.ID, "token": "9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b"},
		"own id, another's key": {"user": bob.ID, "token": ann.Key},
	} {
		wantBody(t, name, tokenLogin(t, s, host, fields), http.StatusBadRequest, invalid)
	}
	wantBody(t, "no fields", tokenLogin(t, s, host, map[string]any{}), http.StatusBadRequest,
		map[string]any{"user": []any{"is required"}, "token": []any{"is required"}})
	wantBody(t, "from another site", tokenLogin(t, s, host, map[string]any{"user": ann.ID, "token": ann.Key}, withHeader("Origin", "https://evil.example")),
		http.StatusForbidden, map[string]any{"detail": "CSRF Failed: CSRF token missing or incorrect."})

	// A user with TOTP goes on to the second step, which ends in the
	// browser session.
	carl := signUp(t)
	e := enrolTOTP(t, s, host, carl.account)
	ch := wantSeed000Challenge(t, "token login with TOTP", tokenLogin(t, s, host, map[string]any{"user": carl.ID, "token": carl.Key}))
	r = mfaVerify(t, s, host, ch.MFAToken, e.code(t))
	if c := sessionCookie(r); r.Status != http.StatusOK || c == nil {
		t.Fatalf("the second step: %d %s, want the session cookie", r.Status, r.Body)
	}
	// A key whose sign-in passed the second factor opens a browser
	// session without asking for it again.
	ch = wantSeed000Challenge(t, "seed 000 login with TOTP", s.do(t, http.MethodPost, "/users/login/", withHost(host),
		withForm(url.Values{"email": {carl.Email}, "password": {carl.Password}})))
	mfaKey := decodeJSON[loginAnswer](t, mfaVerify(t, s, host, ch.MFAToken, e.BackupCodes[0])).AppToken
	r = tokenLogin(t, s, host, map[string]any{"user": carl.ID, "token": mfaKey})
	if c := sessionCookie(r); r.Status != http.StatusNoContent || c == nil {
		t.Fatalf("token login with a key that passed the second factor: %d %s, want 204 with the session cookie", r.Status, r.Body)
	} else if amr := currentAMR(t, s, host, withSessionCookie(c.Value)); !slices.Equal(amr, []string{"pwd", "otp", "mfa"}) {
		t.Fatalf("the browser session's amr %v, want the key's [pwd otp mfa]", amr)
	}

	// Every attempt counts against the address (12 an hour here); a
	// success gives it back, as does the right key of a user with TOTP.
	// The 4 wrong ones above counted; a request refused before it was
	// judged (no fields, another site) did not.
	for i := range 8 {
		if r := tokenLogin(t, s, host, map[string]any{"user": ann.ID, "token": bob.Key}); r.Status != http.StatusBadRequest {
			t.Fatalf("wrong attempt %d: %d %s", i+1, r.Status, r.Body)
		}
	}
	r = tokenLogin(t, s, host, map[string]any{"user": ann.ID, "token": ann.Key})
	if r.Status != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" || sessionCookie(r) != nil {
		t.Fatalf("over the budget with the right key: %d %v %s, want 429 with Retry-After", r.Status, r.Header, r.Body)
	}

	// The refusals are in the audit log (another user's key naming the
	// key's owner), the sign-ins too, and no event holds a key.
	failed := auditEvent{Type: "login.failed", TenantID: "tokens", Method: "token_login"}
	mismatch, unknown, throttled := failed, failed, failed
	mismatch.Reason, mismatch.TargetID = "token_user_mismatch", bob.ID
	unknown.Reason, throttled.Reason = "invalid_credentials", "throttled"
	rs.audit(t, []auditEvent{mismatch, unknown, throttled, {Type: "login.succeeded", TenantID: "tokens", TargetID: ann.ID, Method: "token_login"},
		{Type: "login.succeeded", TenantID: "tokens", TargetID: carl.ID, Method: "token_login"}},
		ann.Key, bob.Key, carl.Key, mfaKey, ann.Password, bob.Password)
}

// currentAMR is the amr of the session the request's credential stands
// for, as the session list shows it.
func currentAMR(t *testing.T, s *server, host string, opts ...reqOption) []string {
	t.Helper()
	for _, x := range decodeJSON[struct {
		Sessions []struct {
			AMR     []string `json:"amr"`
			Current bool     `json:"current"`
		} `json:"sessions"`
	}](t, s.get(t, "/auth/v1/sessions", append([]reqOption{withHost(host)}, opts...)...)).Sessions {
		if x.Current {
			return x.AMR
		}
	}
	t.Fatal("no current session in the list")
	return nil
}
