package web_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"

	"github.com/portcullis/portcullis/adapters/http/web"
	"github.com/portcullis/portcullis/domain/errs"
	"github.com/portcullis/portcullis/domain/identity"
	"github.com/portcullis/portcullis/domain/tenant"
)

// call runs h on a request and returns the core error it ended with (nil
// for none) and what it wrote.
func call(t *testing.T, h func(*fiber.Ctx) (string, error), req *http.Request) (string, *errs.Error) {
	t.Helper()
	var out string
	var got *errs.Error
	app := fiber.New()
	app.All("/*", func(c *fiber.Ctx) error {
		var err error
		out, err = h(c)
		got = errs.As(err)
		return nil
	})
	resp, err := app.Test(req, -1)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	return out, got
}

func post(contentType, body string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/x", strings.NewReader(body))
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	return r
}

// wantErr checks e against a code and, when field is not "", one field
// error with that field and a reason containing reason.
func wantErr(t *testing.T, e *errs.Error, code, field, reason string) {
	t.Helper()
	if e == nil {
		t.Fatalf("no error, want %s", code)
	}
	if e.Code != code {
		t.Fatalf("error %v, want code %s", e, code)
	}
	if field == "" {
		return
	}
	if len(e.Fields) != 1 || e.Fields[0].Field != field || !strings.Contains(e.Fields[0].Reason, reason) {
		t.Fatalf("fields %+v, want one %s error containing %q", e.Fields, field, reason)
	}
}

func TestDecodeJSONContentTypes(t *testing.T) {
	t.Parallel()
	decode := func(c *fiber.Ctx) (string, error) {
		var v struct {
			Email string `json:"email"`
		}
		err := web.DecodeJSON(c, &v)
		return v.Email, err
	}
	const body = `{"email":"ann@example.com"}`
	cases := []struct {
		contentType string
		ok          bool
	}{
		{"application/json", true},
		{"application/json; charset=utf-8", true},
		{"Application/JSON; Charset=UTF-8", true},
		{"application/json;charset=\"utf-8\"", true},
		{"", false},
		{"application/jsonx", false},
		{"application/json-seq", false},
		{"application/problem+json", false},
		{"application/vnd.api+json", false},
		{"text/plain", false},
		{"text/json", false},
		{"application/x-www-form-urlencoded", false},
		{"application/json; charset=iso-8859-1", false},
		{"application/json; charset=utf-16", false},
		{"application/json;;;", false},
		{"application/", false},
	}
	for _, tc := range cases {
		t.Run(tc.contentType, func(t *testing.T) {
			t.Parallel()
			got, e := call(t, decode, post(tc.contentType, body))
			if tc.ok {
				if e != nil || got != "ann@example.com" {
					t.Fatalf("got %q, %v; want the e-mail decoded", got, e)
				}
				return
			}
			wantErr(t, e, "unsupported_media_type", "", "")
			if web.StatusOf(e) != http.StatusUnsupportedMediaType {
				t.Fatalf("status %d, want 415", web.StatusOf(e))
			}
		})
	}
}

func TestDecodeJSONRefusesWhatWouldBecomeU_FFFD(t *testing.T) {
	t.Parallel()
	decode := func(c *fiber.Ctx) (string, error) {
		var v map[string]string
		err := web.DecodeJSON(c, &v)
		b, _ := json.Marshal(v)
		return string(b), err
	}
	refused := []struct{ name, body, reason string }{
		{"invalid byte in a value", "{\"email\":\"ann\xff@example.com\"}", "is not valid UTF-8"},
		{"invalid byte in a key", "{\"e\xc3mail\":\"a\"}", "is not valid UTF-8"},
		{"overlong encoding", "{\"email\":\"\xc0\xaf\"}", "is not valid UTF-8"},
		{"encoded surrogate", "{\"email\":\"\xed\xa0\x80\"}", "is not valid UTF-8"},
		{"lone low surrogate escape", `{"email":"ann\udc00@example.com"}`, "unpaired UTF-16 surrogate"},
		{"lone high surrogate escape", `{"email":"ann\uD800@example.com"}`, "unpaired UTF-16 surrogate"},
		{"high surrogate at the end", `{"email":"ann\ud800"}`, "unpaired UTF-16 surrogate"},
		{"high surrogate before a non-surrogate", `{"email":"\ud800\u0041"}`, "unpaired UTF-16 surrogate"},
		{"two high surrogates", `{"email":"\ud800\ud800"}`, "unpaired UTF-16 surrogate"},
		{"lone surrogate in a key", `{"\udfff":"x"}`, "unpaired UTF-16 surrogate"},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, e := call(t, decode, post("application/json", tc.body))
			wantErr(t, e, "invalid_request", "body", tc.reason)
		})
	}
	accepted := []struct{ name, body, want string }{
		{"surrogate pair", `{"email":"\ud83d\ude00"}`, `{"email":"😀"}`},
		{"escaped backslash before u", `{"email":"\\udc00"}`, `{"email":"\\udc00"}`},
		{"escaped quote", `{"email":"a\"\udbff\udfff"}`, `{"email":"a\"` + "\U0010FFFF" + `"}`},
		{"ordinary escape", `{"email":"\u00e9"}`, `{"email":"é"}`},
		{"literal U+FFFD", `{"email":"` + "\uFFFD" + `"}`, `{"email":"` + "\uFFFD" + `"}`},
	}
	for _, tc := range accepted {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, e := call(t, decode, post("application/json", tc.body))
			if e != nil || got != tc.want {
				t.Fatalf("got %s, %v; want %s", got, e, tc.want)
			}
		})
	}
}

func TestDecodeFields(t *testing.T) {
	t.Parallel()
	decode := func(c *fiber.Ctx) (string, error) {
		f, err := web.DecodeFields(c)
		b, _ := json.Marshal(f)
		return string(b), err
	}
	const boundary = "XyZ"
	multipart := func(parts ...string) string {
		var b strings.Builder
		for i := 0; i+1 < len(parts); i += 2 {
			b.WriteString("--" + boundary + "\r\nContent-Disposition: form-data; name=\"" + parts[i] + "\"\r\n\r\n" + parts[i+1] + "\r\n")
		}
		b.WriteString("--" + boundary + "--\r\n")
		return b.String()
	}
	cases := []struct {
		name, contentType, body, want string
		code, field, reason           string // the error, when want is ""
	}{
		{name: "JSON", contentType: "application/json", body: `{"email":"a@b.c","n":1}`, want: `{"email":"a@b.c"}`},
		{name: "form", contentType: "application/x-www-form-urlencoded", body: "email=a%40b.c&next=%2Fx&email=second", want: `{"email":"a@b.c","next":"/x"}`},
		{name: "form with charset", contentType: "application/x-www-form-urlencoded; charset=UTF-8", body: "email=a+b", want: `{"email":"a b"}`},
		{name: "form in upper case", contentType: "Application/X-WWW-Form-URLEncoded", body: "email=x", want: `{"email":"x"}`},
		{name: "multipart", contentType: "multipart/form-data; boundary=" + boundary, body: multipart("email", "a@b.c", "password", "pw"), want: `{"email":"a@b.c","password":"pw"}`},
		{name: "empty body, no type", body: "", want: `{}`},
		{name: "empty body with a type", contentType: "text/plain", body: "", want: `{}`},
		{name: "no type", body: "email=a", code: "unsupported_media_type"},
		{name: "text/plain", contentType: "text/plain", body: "email=a", code: "unsupported_media_type"},
		{name: "near-JSON", contentType: "application/jsonx", body: `{"email":"a"}`, code: "unsupported_media_type"},
		{name: "form in Latin-1", contentType: "application/x-www-form-urlencoded; charset=iso-8859-1", body: "email=a", code: "unsupported_media_type"},
		{name: "invalid UTF-8 in a form value", contentType: "application/x-www-form-urlencoded", body: "email=ann%FF%40example.com", code: "invalid_request", field: "email", reason: "is not valid UTF-8"},
		{name: "invalid UTF-8 in a form name", contentType: "application/x-www-form-urlencoded", body: "e%FFmail=a", code: "invalid_request", field: "body", reason: "is not valid UTF-8"},
		{name: "invalid UTF-8 in a multipart value", contentType: "multipart/form-data; boundary=" + boundary, body: multipart("email", "ann\xff@example.com"), code: "invalid_request", field: "email", reason: "is not valid UTF-8"},
		{name: "multipart without boundary", contentType: "multipart/form-data", body: "x", code: "invalid_request", field: "body", reason: "boundary"},
		// fasthttp itself refuses a broken multipart/form-data body with 400
		// while reading it; written in mixed case, the type reaches the
		// decoder (media types are case-insensitive).
		{name: "broken multipart", contentType: "Multipart/Form-Data; boundary=" + boundary, body: "garbage", code: "invalid_request", field: "body", reason: "multipart"},
		{name: "multipart in mixed case", contentType: "Multipart/Form-Data; boundary=" + boundary, body: multipart("email", "x"), want: `{"email":"x"}`},
		{name: "invalid UTF-8 in JSON", contentType: "application/json", body: "{\"email\":\"\xff\"}", code: "invalid_request", field: "body", reason: "is not valid UTF-8"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, e := call(t, decode, post(tc.contentType, tc.body))
			if tc.code != "" {
				wantErr(t, e, tc.code, tc.field, tc.reason)
				return
			}
			if e != nil || got != tc.want {
				t.Fatalf("got %s, %v; want %s", got, e, tc.want)
			}
		})
	}
	t.Run("query string is not read", func(t *testing.T) {
		t.Parallel()
		r := httptest.NewRequest(http.MethodPost, "/x?csrfmiddlewaretoken=t&email=q", strings.NewReader("password=p"))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if got, e := call(t, decode, r); e != nil || got != `{"password":"p"}` {
			t.Fatalf("got %s, %v; want only the body's field", got, e)
		}
	})
}

func TestCheckRequest(t *testing.T) {
	t.Parallel()
	check := func(c *fiber.Ctx) (string, error) { return "", web.CheckRequest(c) }
	cases := []struct {
		name                string
		target              string
		auth                []string
		code, field, reason string
	}{
		{name: "plain", target: "/x?next=%2Fhome&q=%C3%A9"},
		{name: "one Authorization", target: "/x", auth: []string{"Bearer a"}},
		{name: "two Authorization", target: "/x", auth: []string{"Bearer a", "Token b"}, code: "invalid_request", field: "Authorization", reason: "at most once, got 2"},
		{name: "two equal Authorization", target: "/x", auth: []string{"Token b", "Token b"}, code: "invalid_request", field: "Authorization", reason: "at most once"},
		{name: "invalid UTF-8 in a query value", target: "/x?next=%FF", code: "invalid_request", field: "next", reason: "is not valid UTF-8"},
		{name: "invalid UTF-8 in a query name", target: "/x?n%FFext=a", code: "invalid_request", field: "query", reason: "is not valid UTF-8"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest(http.MethodGet, tc.target, nil)
			for _, a := range tc.auth {
				r.Header.Add("Authorization", a)
			}
			_, e := call(t, check, r)
			if tc.code == "" {
				if e != nil {
					t.Fatalf("refused: %v", e)
				}
				return
			}
			wantErr(t, e, tc.code, tc.field, tc.reason)
		})
	}
}

func TestCheckCookieLogin(t *testing.T) {
	t.Parallel()
	rt := &web.TenantServices{Tenant: tenant.Tenant{Redirects: tenant.RedirectPolicy{Allow: []string{"/", "https://shop.example"}}}}
	cases := []struct {
		name    string
		kind    identity.SessionKind
		headers map[string]string
		refused bool
	}{
		{"cookie, same origin", identity.SessionWeb, map[string]string{"Origin": "http://auth.example"}, false},
		{"cookie, allowed origin", identity.SessionWeb, map[string]string{"Origin": "https://shop.example"}, false},
		{"cookie, no browser headers", identity.SessionWeb, nil, false},
		{"cookie, Sec-Fetch-Site none", identity.SessionWeb, map[string]string{"Sec-Fetch-Site": "none"}, false},
		{"cookie, foreign origin", identity.SessionWeb, map[string]string{"Origin": "https://evil.example"}, true},
		{"cookie, Origin null", identity.SessionWeb, map[string]string{"Origin": "null"}, true},
		{"cookie, cross-site fetch", identity.SessionWeb, map[string]string{"Sec-Fetch-Site": "cross-site"}, true},
		{"cookie, same-site fetch", identity.SessionWeb, map[string]string{"Sec-Fetch-Site": "same-site"}, true},
		{"bearer, foreign origin", identity.SessionAPI, map[string]string{"Origin": "https://evil.example"}, false},
		{"app token, cross-site fetch", identity.SessionApp, map[string]string{"Sec-Fetch-Site": "cross-site"}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest(http.MethodPost, "http://auth.example/login", nil)
			for k, v := range tc.headers {
				r.Header.Set(k, v)
			}
			_, e := call(t, func(c *fiber.Ctx) (string, error) {
				c.SetUserContext(web.WithTenant(c.UserContext(), rt))
				return "", web.CheckCookieLogin(c, tc.kind)
			}, r)
			switch {
			case tc.refused && (e == nil || e.Code != "csrf_failed"):
				t.Fatalf("got %v, want csrf_failed", e)
			case !tc.refused && e != nil:
				t.Fatalf("refused: %v", e)
			}
		})
	}
}
