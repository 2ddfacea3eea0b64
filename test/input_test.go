package e2e_test

// Input tests (issue 7, cases 7 and 8): requests that one reader could take
// one way and another reader another way — two Authorization headers, a
// cookie login sent by another site, bodies of other media types, a CSRF
// token in the query string, bytes that are not UTF-8, names with invisible
// characters — are refused with a 4xx naming the field, in each surface's
// own error shape.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// withHeaderValues sends header k once per value.
func withHeaderValues(k string, vs ...string) reqOption {
	return func(r *http.Request) {
		r.Header.Del(k)
		for _, v := range vs {
			r.Header.Add(k, v)
		}
	}
}

// withoutContentType sends the body with no Content-Type header.
func withoutContentType() reqOption { return func(r *http.Request) { r.Header.Del("Content-Type") } }

// withMultipart sends the fields as multipart/form-data.
func withMultipart(fields map[string]string) reqOption {
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	for k, v := range fields {
		_ = w.WriteField(k, v)
	}
	_ = w.Close()
	return withBody(w.FormDataContentType(), b.String())
}

// wantFieldProblem checks that r is a 400 problem+json whose errors are one
// entry for field with a reason containing reason.
func wantFieldProblem(t *testing.T, r reply, field, reason string) {
	t.Helper()
	if wantProblem(t, r, http.StatusBadRequest, "invalid_request"); t.Failed() {
		return
	}
	p := decodeJSON[fieldProblem](t, r)
	if len(p.Errors) != 1 || p.Errors[0].Field != field || !strings.Contains(p.Errors[0].Reason, reason) {
		t.Errorf("errors %+v, want one for %q with reason containing %q: %s", p.Errors, field, reason, r.Body)
	}
}

// wantDRFField checks that r is seed 000's 400 {"field": ["reason"]} with
// exactly this field and a reason containing reason.
func wantDRFField(t *testing.T, r reply, field, reason string) {
	t.Helper()
	if r.Status != http.StatusBadRequest {
		t.Errorf("status %d, want 400; body %s", r.Status, r.Body)
		return
	}
	m := decodeJSON[map[string][]string](t, r)
	if len(m) != 1 || len(m[field]) != 1 || !strings.Contains(m[field][0], reason) {
		t.Errorf("body %s, want {%q: [reason containing %q]}", r.Body, field, reason)
	}
}

// seed001Error is seed 001's error body with its field-level details.
type seed001Error struct {
	Detail string       `json:"detail"`
	Status string       `json:"status"`
	Title  string       `json:"title"`
	Code   string       `json:"code"`
	Errors []fieldError `json:"errors"`
}

// wantSeed001 checks that r is seed 001's error with this status and code
// and, when field is not "", one field error for it with a reason
// containing reason.
func wantSeed001(t *testing.T, r reply, status int, code, field, reason string) {
	t.Helper()
	if r.Status != status {
		t.Errorf("status %d, want %d; body %s", r.Status, status, r.Body)
		return
	}
	e := decodeJSON[seed001Error](t, r)
	if e.Status != fmt.Sprint(status) || e.Code != code || e.Title == "" || e.Detail == "" {
		t.Errorf("body %s, want status %q, code %q, a title and a detail", r.Body, fmt.Sprint(status), code)
	}
	if field != "" && (len(e.Errors) != 1 || e.Errors[0].Field != field || !strings.Contains(e.Errors[0].Reason, reason)) {
		t.Errorf("errors %+v, want one for %q with reason containing %q", e.Errors, field, reason)
	}
}

// TestTwoAuthorizationHeadersAreRefused: a request with two Authorization
// headers is 400 on every tenant route, authenticated or not, in the
// surface's shape — even when the first header alone is a good credential
// (a reader of the first and a reader of the last would act as two users).
func TestTwoAuthorizationHeadersAreRefused(t *testing.T) {
	t.Parallel()
	s := startLocal(t)
	a := newAccount("twoauth")
	register(t, s, "localhost", a)
	sess := login(t, s, "localhost", a, "app")
	good, other := "Token "+sess.AppToken, "Bearer forged"
	two := withHeaderValues("Authorization", good, other)
	if r := me(t, s, "localhost", withHeaderValues("Authorization", good)); r.Status != http.StatusOK {
		t.Fatalf("control: me with one Authorization header: status %d; body %s", r.Status, r.Body)
	}
	creds := withJSON(map[string]any{"email": a.Email, "password": a.Password})
	form := withForm(url.Values{"email": {a.Email}, "password": {a.Password}})
	tests := []struct {
		name, method, path string
		body               reqOption // nil: none
		auth               reqOption // nil: two, the good one first
		check              func(t *testing.T, r reply)
	}{
		{"canonical me", http.MethodGet, "/auth/v1/me", nil, nil, func(t *testing.T, r reply) {
			wantFieldProblem(t, r, "Authorization", "at most once, got 2")
		}},
		{"canonical logout", http.MethodPost, "/auth/v1/logout", nil, nil, func(t *testing.T, r reply) {
			wantFieldProblem(t, r, "Authorization", "at most once")
		}},
		{"canonical login", http.MethodPost, "/auth/v1/login", creds, nil, func(t *testing.T, r reply) {
			wantFieldProblem(t, r, "Authorization", "at most once")
		}},
		{"canonical, in the reverse order", http.MethodGet, "/auth/v1/sessions", nil, withHeaderValues("Authorization", other, good), func(t *testing.T, r reply) {
			wantFieldProblem(t, r, "Authorization", "at most once")
		}},
		{"seed 000 login", http.MethodPost, "/users/login/", form, nil, func(t *testing.T, r reply) {
			wantDRFField(t, r, "Authorization", "at most once")
		}},
		{"seed 000 logout", http.MethodPost, "/users/logout/", nil, nil, func(t *testing.T, r reply) {
			wantDRFField(t, r, "Authorization", "at most once")
		}},
		{"seed 001 me", http.MethodGet, "/api/user/me/", nil, nil, func(t *testing.T, r reply) {
			wantSeed001(t, r, http.StatusBadRequest, "ValidationError", "Authorization", "at most once")
		}},
		{"seed 001 logout", http.MethodPost, "/api/user/logout/", nil, nil, func(t *testing.T, r reply) {
			wantSeed001(t, r, http.StatusBadRequest, "ValidationError", "Authorization", "at most once")
		}},
		{"JWKS", http.MethodGet, "/.well-known/jwks.json", nil, nil, func(t *testing.T, r reply) {
			wantFieldProblem(t, r, "Authorization", "at most once")
		}},
		{"dev outbox", http.MethodGet, "/dev/outbox", nil, nil, func(t *testing.T, r reply) {
			wantFieldProblem(t, r, "Authorization", "at most once")
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			opts := []reqOption{withHost("localhost"), two}
			if tc.auth != nil {
				opts[1] = tc.auth
			}
			if tc.body != nil {
				opts = append(opts, tc.body)
			}
			tc.check(t, s.do(t, tc.method, tc.path, opts...))
		})
	}
	// The refused logouts ended nothing.
	if r := me(t, s, "localhost", withAppToken(sess.AppToken)); r.Status != http.StatusOK {
		t.Errorf("the app token after the refused requests: status %d, want 200; body %s", r.Status, r.Body)
	}
}

// TestCookieLoginFromAnotherSiteIsRefused: a login that asks for the
// session cookie must come from the tenant's own origin or an allowed one
// (login CSRF would sign the victim in to the attacker's account); bearer
// and app-token logins, whose credential another site cannot read, are
// not restricted.
func TestCookieLoginFromAnotherSiteIsRefused(t *testing.T) {
	t.Parallel()
	s := startLocal(t)
	a := newAccount("logincsrf")
	register(t, s, "localhost", a)
	crossSite := []struct {
		name string
		opts []reqOption
	}{
		{"foreign Origin", []reqOption{withHeader("Origin", "https://evil.example")}},
		{"foreign Origin with Sec-Fetch-Site same-origin", []reqOption{withHeader("Origin", "https://evil.example"), withHeader("Sec-Fetch-Site", "same-origin")}},
		{"Origin null", []reqOption{withHeader("Origin", "null")}},
		{"Sec-Fetch-Site cross-site", []reqOption{withHeader("Sec-Fetch-Site", "cross-site")}},
		{"Sec-Fetch-Site same-site", []reqOption{withHeader("Sec-Fetch-Site", "same-site")}},
		{"allowed origin on another port", []reqOption{withHeader("Origin", "http://localhost:4000")}},
	}
	sameSite := []struct {
		name string
		opts []reqOption
	}{
		{"same Origin", []reqOption{withHeader("Origin", "http://localhost")}},
		{"allowed Origin", []reqOption{withHeader("Origin", "http://localhost:3000")}},
		{"Sec-Fetch-Site same-origin", []reqOption{withHeader("Sec-Fetch-Site", "same-origin")}},
		{"Sec-Fetch-Site none", []reqOption{withHeader("Sec-Fetch-Site", "none")}},
		{"no browser headers", nil},
	}
	creds := map[string]any{"email": a.Email, "password": a.Password}
	post := func(t *testing.T, path string, body any, opts ...reqOption) reply {
		t.Helper()
		return s.do(t, http.MethodPost, path, append([]reqOption{withHost("localhost"), withJSON(body)}, opts...)...)
	}
	noCookie := func(t *testing.T, r reply) {
		t.Helper()
		if c := sessionCookie(r); c != nil {
			t.Errorf("a refused login set the session cookie %q", c.Value)
		}
	}
	cookieLogin := map[string]any{"email": a.Email, "password": a.Password, "session": "cookie"}

	t.Run("canonical cookie login", func(t *testing.T) {
		for _, cs := range crossSite {
			t.Run(cs.name, func(t *testing.T) {
				r := post(t, "/auth/v1/login", cookieLogin, cs.opts...)
				wantProblem(t, r, http.StatusForbidden, "csrf_failed")
				noCookie(t, r)
			})
		}
		for _, ss := range sameSite {
			t.Run(ss.name, func(t *testing.T) {
				r := post(t, "/auth/v1/login", cookieLogin, ss.opts...)
				if r.Status != http.StatusOK || sessionCookie(r) == nil {
					t.Errorf("status %d with cookie %v, want 200 and the session cookie; body %s", r.Status, sessionCookie(r), r.Body)
				}
			})
		}
	})
	t.Run("canonical bearer and app logins from anywhere", func(t *testing.T) {
		for _, kind := range []string{"", "bearer", "app"} {
			body := map[string]any{"email": a.Email, "password": a.Password}
			if kind != "" {
				body["session"] = kind
			}
			for _, cs := range crossSite {
				if r := post(t, "/auth/v1/login", body, cs.opts...); r.Status != http.StatusOK {
					t.Errorf("session %q, %s: status %d, want 200; body %s", kind, cs.name, r.Status, r.Body)
				}
			}
		}
	})
	t.Run("seed 001 cookie login", func(t *testing.T) {
		for _, cs := range crossSite {
			t.Run(cs.name, func(t *testing.T) {
				r := post(t, "/api/user/login/", creds, cs.opts...)
				wantSeed001(t, r, http.StatusForbidden, "CSRFFailed", "", "")
				noCookie(t, r)
			})
		}
		for _, ss := range sameSite {
			if r := post(t, "/api/user/login/", creds, ss.opts...); r.Status != http.StatusOK || sessionCookie(r) == nil {
				t.Errorf("%s: status %d, want 200 and the session cookie; body %s", ss.name, r.Status, r.Body)
			}
		}
	})
	t.Run("seed 001 app-token login from anywhere", func(t *testing.T) {
		for _, cs := range crossSite {
			opts := append([]reqOption{withHeader("X-Auth-Mode", "app-token")}, cs.opts...)
			if r := post(t, "/api/user/login/", creds, opts...); r.Status != http.StatusOK {
				t.Errorf("%s: status %d, want 200; body %s", cs.name, r.Status, r.Body)
			}
		}
	})
	t.Run("seed 001 cookie registration", func(t *testing.T) {
		victim := newAccount("forcedsignup")
		r := post(t, "/api/user/register/", registerBody(victim), withHeader("Origin", "https://evil.example"))
		wantSeed001(t, r, http.StatusForbidden, "CSRFFailed", "", "")
		noCookie(t, r)
		if r := tryLogin(t, s, "localhost", victim.Email, victim.Password); r.Status != http.StatusUnauthorized {
			t.Errorf("the refused registration created the account: login status %d, want 401", r.Status)
		}
		other := newAccount("appsignup")
		if r := post(t, "/api/user/register/", registerBody(other), withHeader("Origin", "https://evil.example"), withHeader("X-Auth-Mode", "app-token")); r.Status != http.StatusOK {
			t.Errorf("app-token registration from another origin: status %d, want 200; body %s", r.Status, r.Body)
		}
	})
}

// TestBodyMediaTypes: JSON bodies are exactly application/json (a utf-8
// charset allowed); seed 000 also takes URL-encoded and multipart forms;
// anything else, or a body without Content-Type, is 415.
func TestBodyMediaTypes(t *testing.T) {
	t.Parallel()
	s := startLocal(t)
	a := newAccount("mediatype")
	register(t, s, "localhost", a)
	js, _ := json.Marshal(map[string]any{"email": a.Email, "password": a.Password})
	body := string(js)
	refused := []struct {
		name string
		opts []reqOption
	}{
		{"text/plain", []reqOption{withBody("text/plain", body)}},
		{"no Content-Type", []reqOption{withBody("application/json", body), withoutContentType()}},
		{"application/jsonx", []reqOption{withBody("application/jsonx", body)}},
		{"application/json-patch+json", []reqOption{withBody("application/json-patch+json", body)}},
		{"text/json", []reqOption{withBody("text/json", body)}},
		{"a Latin-1 charset", []reqOption{withBody("application/json; charset=iso-8859-1", body)}},
		{"a malformed type", []reqOption{withBody("application/json; ;=", body)}},
	}
	formRefused := append(refused[:len(refused):len(refused)], struct {
		name string
		opts []reqOption
	}{"a form", []reqOption{withForm(url.Values{"email": {a.Email}, "password": {a.Password}})}})

	t.Run("canonical", func(t *testing.T) {
		for _, path := range []string{"/auth/v1/login", "/auth/v1/register"} {
			for _, tc := range formRefused {
				t.Run(path+" "+tc.name, func(t *testing.T) {
					r := s.do(t, http.MethodPost, path, append([]reqOption{withHost("localhost")}, tc.opts...)...)
					wantProblem(t, r, http.StatusUnsupportedMediaType, "unsupported_media_type")
				})
			}
		}
		for _, ct := range []string{"application/json", "application/json; charset=utf-8", "Application/JSON;charset=UTF-8"} {
			if r := s.do(t, http.MethodPost, "/auth/v1/login", withHost("localhost"), withBody(ct, body)); r.Status != http.StatusOK {
				t.Errorf("login as %q: status %d, want 200; body %s", ct, r.Status, r.Body)
			}
		}
	})
	t.Run("seed 001", func(t *testing.T) {
		for _, tc := range formRefused {
			t.Run(tc.name, func(t *testing.T) {
				r := s.do(t, http.MethodPost, "/api/user/login/", append([]reqOption{withHost("localhost")}, tc.opts...)...)
				wantSeed001(t, r, http.StatusUnsupportedMediaType, "UnsupportedMediaType", "", "")
			})
		}
	})
	t.Run("seed 000", func(t *testing.T) {
		for _, tc := range refused {
			t.Run(tc.name, func(t *testing.T) {
				r := s.do(t, http.MethodPost, "/users/login/", append([]reqOption{withHost("localhost")}, tc.opts...)...)
				if r.Status != http.StatusUnsupportedMediaType {
					t.Fatalf("status %d, want 415; body %s", r.Status, r.Body)
				}
				if m := decodeJSON[map[string]string](t, r); len(m) != 1 || !strings.Contains(m["detail"], "must be application/json, application/x-www-form-urlencoded or multipart/form-data") {
					t.Errorf("body %s, want only a detail naming the accepted types", r.Body)
				}
			})
		}
		accepted := map[string]reqOption{
			"JSON":                 withBody("application/json; charset=utf-8", body),
			"URL-encoded form":     withForm(url.Values{"email": {a.Email}, "password": {a.Password}}),
			"multipart form":       withMultipart(map[string]string{"email": a.Email, "password": a.Password}),
			"form with a charset":  withBody("application/x-www-form-urlencoded; charset=UTF-8", url.Values{"email": {a.Email}, "password": {a.Password}}.Encode()),
			"form in another case": withBody("Application/X-WWW-Form-URLEncoded", url.Values{"email": {a.Email}, "password": {a.Password}}.Encode()),
		}
		for name, opt := range accepted {
			if r := s.do(t, http.MethodPost, "/users/login/", withHost("localhost"), opt); r.Status != http.StatusOK {
				t.Errorf("%s: status %d, want 200; body %s", name, r.Status, r.Body)
			}
		}
	})
}

// TestSeed000ReadsSecretsOnlyFromTheBody: seed 000 takes the CSRF token
// from the X-CSRFToken header or the body, and e-mail and password from the
// body; the same fields in the query string (logged by proxies, sent in
// Referer, and forgeable by a plain link) are not read. next still comes
// from the query, as the seed says.
func TestSeed000ReadsSecretsOnlyFromTheBody(t *testing.T) {
	t.Parallel()
	s := startLocal(t)
	a := newAccount("querycsrf")
	register(t, s, "localhost", a)

	t.Run("CSRF token in the query", func(t *testing.T) {
		sess := login(t, s, "localhost", a, "cookie")
		q := url.Values{"csrfmiddlewaretoken": {sess.CSRFToken}}.Encode()
		for _, opts := range [][]reqOption{
			nil,
			{withForm(url.Values{"next": {"/basket/"}})},
			{withJSON(map[string]any{"next": "/basket/"})},
		} {
			r := s.do(t, http.MethodPost, "/users/logout/?"+q, append([]reqOption{withHost("localhost"), withSessionCookie(sess.Cookie), withHeader("Origin", "http://localhost")}, opts...)...)
			if r.Status != http.StatusForbidden || !strings.Contains(string(r.Body), "CSRF") {
				t.Errorf("logout with the token only in the query: status %d, want 403 with a CSRF detail; body %s", r.Status, r.Body)
			}
		}
		if r := me(t, s, "localhost", withSessionCookie(sess.Cookie)); r.Status != http.StatusOK {
			t.Fatalf("the session after the refused logouts: status %d, want 200", r.Status)
		}
		for name, body := range map[string]func(token string) reqOption{
			"form": func(token string) reqOption {
				return withForm(url.Values{"csrfmiddlewaretoken": {token}, "next": {"/basket/"}})
			},
			"multipart": func(token string) reqOption {
				return withMultipart(map[string]string{"csrfmiddlewaretoken": token, "next": "/basket/"})
			},
		} {
			sess := login(t, s, "localhost", a, "cookie")
			r := s.do(t, http.MethodPost, "/users/logout/", withHost("localhost"), withSessionCookie(sess.Cookie), withHeader("Origin", "http://localhost"), body(sess.CSRFToken))
			if r.Status != http.StatusFound || r.Header.Get("Location") != "/basket/" {
				t.Errorf("logout with the token in a %s body: status %d Location %q, want 302 /basket/; body %s", name, r.Status, r.Header.Get("Location"), r.Body)
			}
			wantProblem(t, me(t, s, "localhost", withSessionCookie(sess.Cookie)), http.StatusUnauthorized, "invalid_token")
		}
	})
	t.Run("credentials in the query", func(t *testing.T) {
		q := url.Values{"email": {a.Email}, "password": {a.Password}}.Encode()
		for name, opts := range map[string][]reqOption{
			"no body":    nil,
			"empty form": {withForm(url.Values{})},
		} {
			r := s.do(t, http.MethodPost, "/users/login/?"+q, append([]reqOption{withHost("localhost")}, opts...)...)
			if r.Status != http.StatusBadRequest || bytes.Contains(r.Body, []byte(`"key"`)) {
				t.Errorf("%s, credentials in the query: status %d, want 400 without a key; body %s", name, r.Status, r.Body)
				continue
			}
			if m := decodeJSON[map[string][]string](t, r); len(m["email"]) == 0 || len(m["password"]) == 0 {
				t.Errorf("%s: body %s, want email and password reported missing", name, r.Body)
			}
		}
	})
	t.Run("next from the query", func(t *testing.T) {
		r := s.do(t, http.MethodPost, "/users/login/?next=/dashboard/", withHost("localhost"), withForm(url.Values{"email": {a.Email}, "password": {a.Password}}))
		if m := decodeJSON[map[string]any](t, r); r.Status != http.StatusOK || m["next"] != "/dashboard/" {
			t.Errorf("status %d, body %s, want 200 with next /dashboard/", r.Status, r.Body)
		}
	})
}

// TestInvalidUTF8IsRefused: bytes that are not UTF-8 — in a JSON body, a
// form, or the query — are 400 naming the field, never repaired into
// U+FFFD (which let different byte strings share one account).
func TestInvalidUTF8IsRefused(t *testing.T) {
	t.Parallel()
	s := startLocal(t)
	const bad = "ann\xff@example.com"
	pw := strongPassword()
	rawJSON := func(fields ...string) reqOption {
		var b strings.Builder
		b.WriteString("{")
		for i := 0; i+1 < len(fields); i += 2 {
			if i > 0 {
				b.WriteString(",")
			}
			b.WriteString(`"` + fields[i] + `":"` + fields[i+1] + `"`)
		}
		b.WriteString("}")
		return withBody("application/json", b.String())
	}
	registerRaw := func(email string) reqOption {
		return rawJSON("email", email, "password", pw, "first_name", "Ann", "last_name", "Lee")
	}
	post := func(t *testing.T, path string, opts ...reqOption) reply {
		t.Helper()
		return s.do(t, http.MethodPost, path, append([]reqOption{withHost("localhost")}, opts...)...)
	}

	t.Run("canonical register", func(t *testing.T) {
		wantFieldProblem(t, post(t, "/auth/v1/register", registerRaw(bad)), "body", "is not valid UTF-8")
		wantFieldProblem(t, post(t, "/auth/v1/register", registerRaw("ann\xfe@example.com")), "body", "is not valid UTF-8")
		// What the bytes used to become: no account was created for it.
		if r := tryLogin(t, s, "localhost", "ann\uFFFD@example.com", pw); r.Status != http.StatusUnauthorized {
			t.Errorf("login as the U+FFFD spelling: status %d, want 401; body %s", r.Status, r.Body)
		}
	})
	t.Run("canonical register, invalid UTF-8 in a name", func(t *testing.T) {
		r := post(t, "/auth/v1/register", rawJSON("email", uniqueEmail("badname"), "password", pw, "first_name", "Ann\xc3", "last_name", "Lee"))
		wantFieldProblem(t, r, "body", "is not valid UTF-8")
	})
	t.Run("canonical register, lone surrogate escape", func(t *testing.T) {
		wantFieldProblem(t, post(t, "/auth/v1/register", registerRaw(`ann\udc00@example.com`)), "body", "unpaired UTF-16 surrogate")
		wantFieldProblem(t, post(t, "/auth/v1/register", registerRaw(`ann\ud800@example.com`)), "body", "unpaired UTF-16 surrogate")
	})
	t.Run("canonical login", func(t *testing.T) {
		wantFieldProblem(t, post(t, "/auth/v1/login", rawJSON("email", bad, "password", pw)), "body", "is not valid UTF-8")
		wantFieldProblem(t, post(t, "/auth/v1/login", rawJSON("email", "ann@example.com", "password", "pw\x80")), "body", "is not valid UTF-8")
	})
	t.Run("seed 000 JSON", func(t *testing.T) {
		wantDRFField(t, post(t, "/users/login/", rawJSON("email", bad, "password", pw)), "body", "is not valid UTF-8")
	})
	t.Run("seed 000 form", func(t *testing.T) {
		wantDRFField(t, post(t, "/users/login/", withBody("application/x-www-form-urlencoded", "email=ann%FF%40example.com&password=x")), "email", "is not valid UTF-8")
		wantDRFField(t, post(t, "/users/login/", withBody("application/x-www-form-urlencoded", "email=ann%40example.com&password=%C3")), "password", "is not valid UTF-8")
	})
	t.Run("seed 000 multipart", func(t *testing.T) {
		wantDRFField(t, post(t, "/users/login/", withMultipart(map[string]string{"email": bad, "password": "x"})), "email", "is not valid UTF-8")
	})
	t.Run("seed 000 query", func(t *testing.T) {
		wantDRFField(t, post(t, "/users/login/?next=%2F%FF", withForm(url.Values{"email": {"a@example.com"}, "password": {"x"}})), "next", "is not valid UTF-8")
		wantDRFField(t, post(t, "/users/logout/?referrer=%FF"), "referrer", "is not valid UTF-8")
	})
	t.Run("seed 001", func(t *testing.T) {
		wantSeed001(t, post(t, "/api/user/login/", rawJSON("email", bad, "password", pw)), http.StatusBadRequest, "ValidationError", "body", "is not valid UTF-8")
		wantSeed001(t, post(t, "/api/user/register/", registerRaw(bad)), http.StatusBadRequest, "InvalidRegistrationInfo", "body", "is not valid UTF-8")
		wantSeed001(t, post(t, "/api/user/register/", registerRaw(`\udfff@example.com`)), http.StatusBadRequest, "InvalidRegistrationInfo", "body", "unpaired UTF-16 surrogate")
	})
	t.Run("canonical query", func(t *testing.T) {
		wantFieldProblem(t, s.get(t, "/auth/v1/me?x=%FF", withHost("localhost")), "x", "is not valid UTF-8")
		wantFieldProblem(t, s.get(t, "/dev/outbox?to=%FF", withHost("localhost")), "to", "is not valid UTF-8")
	})
}

// TestNamesWithHiddenCharactersAreRefused: first and last names with
// controls, bidi controls, zero-width, separator or other format
// characters are 400 naming the field, on the canonical API and seed 001;
// names of other scripts register.
func TestNamesWithHiddenCharactersAreRefused(t *testing.T) {
	t.Parallel()
	s := startLocal(t)
	const reason = "must not contain control, format or invisible characters"
	hidden := []struct{ name, char string }{
		{"C0 control", "\u0007"},
		{"C1 control NEL", "\u0085"},
		{"bidi override", "\u202E"},
		{"bidi isolate", "\u2066"},
		{"right-to-left mark", "\u200F"},
		{"Arabic letter mark", "\u061C"},
		{"zero-width space", "\u200B"},
		{"zero-width joiner", "\u200D"},
		{"word joiner", "\u2060"},
		{"byte order mark", "\uFEFF"},
		{"line separator", "\u2028"},
		{"paragraph separator", "\u2029"},
		{"soft hyphen", "\u00AD"},
		{"Hangul filler", "\u3164"},
	}
	for _, h := range hidden {
		for _, field := range []string{"first_name", "last_name"} {
			t.Run(h.name+" in "+field, func(t *testing.T) {
				a := newAccount("hidden")
				body := registerBody(a)
				body[field] = "An" + h.char + "n"
				wantFieldProblem(t, s.do(t, http.MethodPost, "/auth/v1/register", withHost("localhost"), withJSON(body)), field, reason)
				if field == "first_name" { // one login per class is enough: each costs a hash
					if r := tryLogin(t, s, "localhost", a.Email, a.Password); r.Status != http.StatusUnauthorized {
						t.Errorf("the refused registration created the account: login status %d", r.Status)
					}
				}
				wantSeed001(t, s.do(t, http.MethodPost, "/api/user/register/", withHost("localhost"), withHeader("X-Auth-Mode", "app-token"), withJSON(body)),
					http.StatusBadRequest, "InvalidRegistrationInfo", field, reason)
			})
		}
	}
	t.Run("private use", func(t *testing.T) {
		body := registerBody(newAccount("pua"))
		body["last_name"] = "Lee\uE000"
		wantFieldProblem(t, s.do(t, http.MethodPost, "/auth/v1/register", withHost("localhost"), withJSON(body)), "last_name", "private-use or unassigned")
	})
	t.Run("an e-mail address with a bidi override", func(t *testing.T) {
		body := registerBody(newAccount("bidimail"))
		body["email"] = "moc.elpmaxe\u202E@example.com"
		wantFieldProblem(t, s.do(t, http.MethodPost, "/auth/v1/register", withHost("localhost"), withJSON(body)), "email", reason)
	})
	t.Run("names of other scripts", func(t *testing.T) {
		for _, n := range []string{"José María", "محمد", "山田", "Ελένη", "O'Brien-Smith"} {
			a := newAccount("script")
			body := registerBody(a)
			body["first_name"], body["last_name"] = n, n
			if r := s.do(t, http.MethodPost, "/auth/v1/register", withHost("localhost"), withJSON(body)); r.Status != http.StatusAccepted {
				t.Errorf("%q: status %d, want 202; body %s", n, r.Status, r.Body)
			}
		}
	})
}
