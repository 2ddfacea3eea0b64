package e2e_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// Issue 12, the seed 003 part: the storefront API's logins under
// /api/v2, /api/v3 and /api/v1 — e-mail and password (with a CAPTCHA at
// v3, with a second step at login-tfa), mobile number and SMS code,
// registration — each answering the seed's login body with the cart and
// wishlist merged and the first-login flag.
//
// One server on a store of the test's own (to block an account and read
// what a registration stored) serves the tenants: shop (the profile,
// TOTP, SMS through a fake provider in the test process, reCAPTCHA v3
// verified by a siteverify server in the test process, with every
// captcha.policy route off), guarded (the same CAPTCHA, two failed logins
// per account), other (the profile without a CAPTCHA provider), plain
// (without the profile), and pumpip and pumpcc (small SMS budgets per
// address and per calling code).

// seed003Tenant is a tenant serving the profile with this
// profiles.seed003, a storefront, with a cheap password hash (20 logins
// are released together).
func seed003Tenant(id, profile string) tenantSpec {
	return tenantSpec{ID: id, Domains: []string{id + ".localhost"}, Seed003: profile}
}

// seed003YAML is spec's file with a cheap password hash.
func seed003YAML(spec tenantSpec) string {
	return strings.Replace(spec.yaml(), "hash: {memory_kib: 19456, iterations: 2, parallelism: 1}", "hash: {memory_kib: 1024, iterations: 1, parallelism: 1}", 1)
}

// seed003Answer is the profile's login answer.
type seed003Answer struct {
	AccessToken string `json:"access_token"`
	Username    string `json:"username"`
	Status      int    `json:"status"`
	Ccnt        int    `json:"ccnt"`
	Cart        struct {
		Items []cartLine `json:"items"`
	} `json:"cart"`
	Wishlist   []string `json:"wishlist"`
	FirstLogin bool     `json:"is_first_time_login"`
	UserID     string   `json:"user_id"`
}

// seed003LoginKeys are the login answer's members, in the seed's order.
var seed003LoginKeys = []string{"access_token", "username", "status", "ccnt", "cart", "wishlist", "is_first_time_login"}

// topKeys are the members of a JSON object body, in order.
func topKeys(t *testing.T, body []byte) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(body))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("not a JSON object: %s", body)
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

// seed003Post posts body to path on the tenant at host.
func seed003Post(t *testing.T, s *server, host, path string, body any, opts ...reqOption) reply {
	t.Helper()
	return s.do(t, http.MethodPost, path, append([]reqOption{withHost(host), withJSON(body)}, opts...)...)
}

// wantTitle checks a refusal's status and exact body {"title": title}.
func wantTitle(t *testing.T, what string, r reply, status int, title string) {
	t.Helper()
	want, _ := json.Marshal(map[string]string{"title": title})
	if r.Status != status || !bytes.Equal(r.Body, want) {
		t.Errorf("%s: %d %s, want %d %s", what, r.Status, r.Body, status, want)
	}
}

// wantLogin checks r is the login answer (with user_id when register)
// and returns it.
func wantLogin(t *testing.T, what string, r reply, register bool) seed003Answer {
	t.Helper()
	if r.Status != http.StatusOK {
		t.Fatalf("%s: %d %s, want 200 and the login answer", what, r.Status, r.Body)
	}
	keys := seed003LoginKeys
	if register {
		keys = append(slices.Clone(keys), "user_id")
	}
	if got := topKeys(t, r.Body); !slices.Equal(got, keys) {
		t.Fatalf("%s: members %v, want %v: %s", what, got, keys, r.Body)
	}
	if r.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("%s: Cache-Control %q, want no-store", what, r.Header.Get("Cache-Control"))
	}
	return decodeJSON[seed003Answer](t, r)
}

// seed003Login posts an e-mail login to path (/api/v2/login,
// /api/v3/login, /api/v2/login-tfa) with a local cart and wishlist (nil
// for none) and more members.
func seed003Login(t *testing.T, s *server, host, path string, a account, cart, wishlist any, more map[string]any, opts ...reqOption) reply {
	t.Helper()
	body := map[string]any{"email": a.Email, "password": a.Password}
	if cart != nil {
		body["localcart"] = cart
	}
	if wishlist != nil {
		body["localwishlist"] = wishlist
	}
	for k, v := range more {
		body[k] = v
	}
	return seed003Post(t, s, host, path, body, opts...)
}

// seed003Mobile asks login-mobile for a code for the 10-digit number.
func seed003Mobile(t *testing.T, s *server, host, mobile string, opts ...reqOption) reply {
	t.Helper()
	return seed003Post(t, s, host, "/api/v2/login-mobile?platform=web", map[string]any{"mobile": mobile, "shopper": true}, opts...)
}

// seed003Sent checks r is login-mobile's answer for a number with an
// account (sent) or without (not registered, nothing sent).
func seed003Sent(t *testing.T, what string, r reply, registered bool) {
	t.Helper()
	want := `{"message":"OTP sent successfully","otp_sent":true,"is_registered":true}`
	if !registered {
		want = `{"message":"Mobile number is not registered","otp_sent":false,"is_registered":false}`
	}
	if r.Status != http.StatusOK || string(r.Body) != want {
		t.Errorf("%s: %d %s, want 200 %s", what, r.Status, r.Body, want)
	}
}

// smsTo are the codes the fake provider was asked to send to the E.164
// number, oldest first.
func (f *fakeTwilio) codesTo(t *testing.T, to string) []string {
	t.Helper()
	var out []string
	for _, m := range f.requests(t) {
		if m.To == to {
			out = append(out, m.Code())
		}
	}
	return out
}

// seed003Register registers a on the tenant at host with the seed's
// route, the telephone (10 digits, or "" for none), and a local cart and
// wishlist.
func seed003Register(t *testing.T, s *server, host string, a account, telephone string, cart, wishlist any) reply {
	t.Helper()
	body := map[string]any{"email": a.Email, "password": a.Password, "firstname": "Ann", "lastname": "Lee",
		"gender": "female", "birthdate": "1990-04-01", "referral_code": "FRIEND-10"}
	if telephone != "" {
		body["telephone"] = telephone
	}
	if cart != nil {
		body["localcart"] = cart
	}
	if wishlist != nil {
		body["localwishlist"] = wishlist
	}
	return seed003Post(t, s, host, "/api/v2/register?platform=web", body)
}

// TestSeed003 drives the profile as its clients do, and its attack cases.
func TestSeed003(t *testing.T) {
	t.Parallel()
	sv := newSiteverify(t)
	fake := newFakeTwilio(t)
	captcha := captchaBlock("recaptcha_v3", sv.srv.URL+"/recaptcha", "min_score: 0.5", "action: login") // every route off
	sms := smsBlock("5m", fake.URL) + "  resend_cooldown: 0s\n"
	shop := seed003Tenant("shop", "{enabled: true, resend_count: 3}")
	shop.TOTP, shop.SMS, shop.Captcha = true, sms, captcha
	guarded := seed003Tenant("guarded", "{enabled: true}")
	guarded.Captcha, guarded.LoginPerAccount = captcha, "{limit: 2, window: 1h}"
	other := seed003Tenant("other", "{enabled: true}")
	other.TOTP = true
	pumpip := seed003Tenant("pumpip", "{enabled: true, resend_count: 10}")
	pumpip.SMS, pumpip.SMSPerIP = sms, "{limit: 3, window: 1h}"
	pumpcc := seed003Tenant("pumpcc", "{enabled: true, resend_count: 10}")
	pumpcc.SMS, pumpcc.SMSPerCallingCode = sms, "{limit: 4, window: 1h}"
	plain := tenantSpec{ID: "plain", Domains: []string{"plain.localhost"}}
	verified := seed003Tenant("verified", "{enabled: true}")
	verified.RequireVerifiedEmail = true

	env := map[string]string{"E2E_CAPTCHA_SECRET": captchaSecret, fakeSMSTokenEnv: fakeSMSToken}
	for k, v := range behindProxy {
		env[k] = v
	}
	s, rs := startWithStoreFiles(t, env, map[string]string{"shop": seed003YAML(shop), "guarded": seed003YAML(guarded),
		"other": seed003YAML(other), "pumpip": seed003YAML(pumpip), "pumpcc": seed003YAML(pumpcc), "plain": plain.yaml(),
		"verified": seed003YAML(verified)})
	const host = "shop.localhost"

	t.Run("register answers the login answer, the cart merged, and keeps the details", func(t *testing.T) {
		a := newAccount("reg")
		r := seed003Register(t, s, host, a, "5351110001",
			cartOf(lineOf("sku-1", 2), cartLine{ProductID: "sku-2", VariantID: "red", Quantity: 1}), []string{"sku-9"})
		ans := wantLogin(t, "register", r, true)
		if ans.Username != "Ann Lee" || ans.Status != 1 || ans.Ccnt != 2 || !ans.FirstLogin || ans.UserID == "" ||
			!slices.Equal(ans.Wishlist, []string{"sku-9"}) {
			t.Fatalf("register: %s", r.Body)
		}
		wantLines(t, "register", ans.Cart.Items, lineOf("sku-1", 2), cartLine{ProductID: "sku-2", VariantID: "red", Quantity: 1})
		if !strings.Contains(string(r.Body), `"cart":{"items":[{"product_id":"sku-1","quantity":2},{"product_id":"sku-2","variant_id":"red","quantity":1}]}`) {
			t.Errorf("a line without a variant has no variant_id, one with has it: %s", r.Body)
		}
		// The access token is ours, a bearer token of the user.
		m := me(t, s, host, withBearer(ans.AccessToken))
		if m.Status != http.StatusOK || !strings.Contains(string(m.Body), `"id":"`+ans.UserID+`"`) ||
			!strings.Contains(string(m.Body), `"phone":"+905351110001"`) {
			t.Fatalf("me with the access token: %d %s", m.Status, m.Body)
		}
		var doc struct {
			Extra map[string]string `bson:"extra"`
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := rs.db.Collection("users").FindOne(ctx, bson.D{{Key: "tenant_id", Value: "shop"}, {Key: "email_key", Value: a.Email}}).Decode(&doc); err != nil ||
			doc.Extra["gender"] != "female" || doc.Extra["birthdate"] != "1990-04-01" || doc.Extra["referral_code"] != "FRIEND-10" {
			t.Fatalf("stored details %v, %v", doc.Extra, err)
		}
		// The address again, and bad details.
		wantTitle(t, "the address again", seed003Register(t, s, host, a, "", nil, nil), 400, "Email already registered")
		b := newAccount("reg")
		wantTitle(t, "the number again", seed003Register(t, s, host, b, "5351110001", nil, nil), 400, "Mobile number already registered")
		r = seed003Post(t, s, host, "/api/v2/register", map[string]any{"email": b.Email, "password": b.Password, "firstname": "Bo", "lastname": "Ek",
			"birthdate": "01/04/1990", "referral_code": "no spaces"})
		wantTitle(t, "bad details", r, 400, "birthdate: must be a date YYYY-MM-DD from 1900-01-01 to today; referral_code: must be 1 to 64 letters, digits, - or _")
		wantTitle(t, "a bad address", seed003Post(t, s, host, "/api/v2/register", map[string]any{"email": "bo@", "password": b.Password,
			"firstname": "Bo", "lastname": "Ek"}), 400, "Enter a valid email address")
		wantTitle(t, "a bad platform", seed003Post(t, s, host, "/api/v2/register?platform=tv", map[string]any{}), 400, "Invalid platform")
		wantTitle(t, "a short password", seed003Post(t, s, host, "/api/v2/register", map[string]any{"email": b.Email, "password": "abcde",
			"lastname": "Ek"}), 400, "firstname: is required; password: must be at least 8 characters, got 5")

		// A tenant that signs in verified addresses only: the account is
		// made, not signed in.
		r = seed003Register(t, s, "verified.localhost", newAccount("reg"), "", cartOf(lineOf("sku-1", 1)), nil)
		want := `^\{"access_token":"","username":"Ann Lee","status":0,"ccnt":0,"cart":\{"items":\[\]\},"wishlist":\[\],"is_first_time_login":false,"user_id":"[A-Za-z0-9_-]+"\}$`
		if r.Status != http.StatusOK || !regexp.MustCompile(want).Match(r.Body) {
			t.Fatalf("register where addresses must be verified: %d %s", r.Status, r.Body)
		}
	})

	t.Run("the login answer, field by field, and the first login once", func(t *testing.T) {
		a := newAccount("fields")
		register(t, s, host, a) // the canonical registration signs nobody in
		r := seed003Login(t, s, host, "/api/v2/login", a, cartOf(lineOf("sku-1", 1), lineOf("sku-2", 3)), []string{"sku-7", "sku-8"}, nil)
		first := wantLogin(t, "the first login", r, false)
		if first.Username != "Ann Example" || first.Status != 1 || first.Ccnt != 2 || !first.FirstLogin ||
			!slices.Equal(first.Wishlist, []string{"sku-7", "sku-8"}) || first.AccessToken == "" {
			t.Fatalf("the first login: %s", r.Body)
		}
		wantLines(t, "the first login", first.Cart.Items, lineOf("sku-1", 1), lineOf("sku-2", 3))
		// Again with another local cart: merged into the stored one.
		r = seed003Login(t, s, host, "/api/v2/login", a, cartOf(lineOf("sku-2", 1), lineOf("sku-3", 4)), []string{"sku-8", "sku-1"}, nil)
		second := wantLogin(t, "the second login", r, false)
		if second.FirstLogin || second.Ccnt != 3 || !slices.Equal(second.Wishlist, []string{"sku-7", "sku-8", "sku-1"}) {
			t.Fatalf("the second login: %s", r.Body)
		}
		wantLines(t, "the second login", second.Cart.Items, lineOf("sku-1", 1), lineOf("sku-2", 3), lineOf("sku-3", 4)) // a line in both keeps the larger quantity
		// Without a local cart: the stored one; the canonical API reads
		// the same cart with the access token.
		r = seed003Login(t, s, host, "/api/v2/login", a, nil, nil, nil)
		if third := wantLogin(t, "a login without a local cart", r, false); third.Ccnt != 3 || third.FirstLogin {
			t.Fatalf("a login without a local cart: %s", r.Body)
		}
		got, _ := getCart(t, s, host, "/auth/v1/cart", withBearer(second.AccessToken))
		wantLines(t, "GET /auth/v1/cart", got.Cart.Items, second.Cart.Items...)

		// A first sign-in on another surface is the first: this one is not.
		b := newAccount("fields")
		register(t, s, host, b)
		login(t, s, host, b, "")
		if ans := wantLogin(t, "after a canonical sign-in", seed003Login(t, s, host, "/api/v2/login", b, nil, nil, nil), false); ans.FirstLogin {
			t.Fatalf("the first login on this profile after one on the canonical API says first")
		}
	})

	t.Run("20 first logins released together: exactly one is the first", func(t *testing.T) {
		a := newAccount("race")
		register(t, s, host, a)
		body, _ := json.Marshal(map[string]any{"email": a.Email, "password": a.Password})
		replies := s.sendTogether(t, 20, rawJSONRequest(http.MethodPost, "/api/v2/login", host, string(body)))
		firsts := 0
		for i, r := range replies {
			ans := wantLogin(t, fmt.Sprintf("login %d", i+1), r, false)
			if ans.FirstLogin {
				firsts++
			}
		}
		if firsts != 1 {
			t.Fatalf("%d of 20 logins released together said is_first_time_login, want exactly 1", firsts)
		}
		if ans := wantLogin(t, "the next", seed003Login(t, s, host, "/api/v2/login", a, nil, nil, nil), false); ans.FirstLogin {
			t.Fatal("the login after them says first")
		}
	})

	t.Run("refusals: a wrong password, a blocked account, an invalid address", func(t *testing.T) {
		a := newAccount("refused")
		register(t, s, host, a)
		wrong := seed003Login(t, s, host, "/api/v2/login", account{Email: a.Email, Password: strongPassword()}, nil, nil, nil)
		wantTitle(t, "a wrong password", wrong, 401, "Invalid Credentials")
		wantTitle(t, "an unknown address", seed003Login(t, s, host, "/api/v2/login", newAccount("nobody"), nil, nil, nil), 401, "Invalid Credentials")
		blocked := newAccount("blocked")
		register(t, s, host, blocked)
		rs.set(t, "shop", blocked.Email, "active", false)
		r := seed003Login(t, s, host, "/api/v2/login", blocked, nil, nil, nil)
		wantTitle(t, "a blocked account with its password", r, 401, "Invalid Credentials")
		for _, email := range []string{"ann@", "not an address", "", strings.Repeat("a", 150) + "@example.com"} {
			wantTitle(t, "address "+strconv.Quote(email), seed003Login(t, s, host, "/api/v2/login", account{Email: email, Password: "x"}, nil, nil, nil),
				400, "Enter a valid email address")
		}
		wantTitle(t, "a cart of the wrong shape", seed003Login(t, s, host, "/api/v2/login", a, []string{"sku-1"}, nil, nil),
			400, `localcart: must be an object {"items": [...]}`)
		// Another tenant's profile is another's: plain does not serve it.
		if r := seed003Login(t, s, "plain.localhost", "/api/v2/login", a, nil, nil, nil); r.Status != http.StatusNotFound {
			t.Fatalf("a tenant without the profile: %d %s, want 404", r.Status, r.Body)
		}
	})

	t.Run("v3: a CAPTCHA whatever the policy, once, for this action and site, before any password work", func(t *testing.T) {
		a := newAccount("v3")
		register(t, s, host, a)
		if r := seed003Login(t, s, host, "/api/v2/login", a, nil, nil, nil); r.Status != http.StatusOK {
			t.Fatalf("v2 asks no CAPTCHA (every route is off): %d %s", r.Status, r.Body)
		}
		wantTitle(t, "v3 without a CAPTCHA", seed003Login(t, s, host, "/api/v3/login", a, nil, nil, nil), 400, "Invalid Captcha")
		x := captchaToken("ok")
		r := seed003Login(t, s, host, "/api/v3/login", a, cartOf(lineOf("sku-5", 1)), nil, map[string]any{"g-recaptcha-response": x})
		if ans := wantLogin(t, "v3 with a solved CAPTCHA", r, false); ans.Ccnt != 1 {
			t.Fatalf("v3: %s", r.Body)
		}
		wantTitle(t, "the same token again", seed003Login(t, s, host, "/api/v3/login", a, nil, nil, map[string]any{"g-recaptcha-response": x}),
			400, "Invalid Captcha")
		if n := sv.asked(x); n != 1 {
			t.Fatalf("the provider was asked %d times for the token, want 1: the replay is refused before it", n)
		}
		for _, kind := range []string{"other-action", "other-host", "low-score", "bad"} {
			wantTitle(t, "a token "+kind, seed003Login(t, s, host, "/api/v3/login", a, nil, nil, map[string]any{"g-recaptcha-response": captchaToken(kind)}),
				400, "Invalid Captcha")
		}
		// No password work for a refused CAPTCHA: more wrong passwords
		// than the account's budget (2 on guarded), none counted.
		g := newAccount("v3")
		register(t, s, "guarded.localhost", g)
		wrong := account{Email: g.Email, Password: strongPassword()}
		for i := range 4 {
			wantTitle(t, fmt.Sprintf("a wrong password with a refused CAPTCHA %d", i+1),
				seed003Login(t, s, "guarded.localhost", "/api/v3/login", wrong, nil, nil, map[string]any{"g-recaptcha-response": captchaToken("bad")}),
				400, "Invalid Captcha")
		}
		r = seed003Login(t, s, "guarded.localhost", "/api/v3/login", g, nil, nil, map[string]any{"g-recaptcha-response": captchaToken("ok")})
		wantLogin(t, "the right password after 4 refused CAPTCHAs", r, false)
		// A tenant without a provider does not serve v3.
		o := newAccount("v3")
		register(t, s, "other.localhost", o)
		if r := seed003Login(t, s, "other.localhost", "/api/v3/login", o, nil, nil, map[string]any{"g-recaptcha-response": captchaToken("ok")}); r.Status != http.StatusNotFound {
			t.Fatalf("v3 on a tenant without a CAPTCHA provider: %d %s, want 404", r.Status, r.Body)
		}
	})

	t.Run("login-tfa: a 2f. token for the second step only; the cart merged then", func(t *testing.T) {
		a := newAccount("tfa")
		register(t, s, host, a)
		before := login(t, s, host, a, "").AccessToken // a session from before the second factor, to read the cart
		e := enrolTOTP(t, s, host, a)
		// Without the second factor login-tfa is the login answer.
		plainUser := newAccount("tfa")
		register(t, s, host, plainUser)
		if ans := wantLogin(t, "login-tfa of a user without a second factor", seed003Login(t, s, host, "/api/v2/login-tfa", plainUser, nil, nil, nil), false); strings.HasPrefix(ans.AccessToken, "2f.") {
			t.Fatalf("a user without a second factor got a 2f. token")
		}
		// The other login routes refuse a user with one.
		wantTitle(t, "v2 login of a user with a second factor", seed003Login(t, s, host, "/api/v2/login", a, nil, nil, nil),
			401, "Two-factor authentication required")

		r := seed003Login(t, s, host, "/api/v2/login-tfa", a, cartOf(lineOf("sku-4", 2)), []string{"sku-6"}, nil)
		step := wantLogin(t, "login-tfa", r, false)
		token, ok := strings.CutPrefix(step.AccessToken, "2f.")
		if !ok || token == "" || step.Status != 1 || step.Ccnt != 0 || len(step.Cart.Items) != 0 || len(step.Wishlist) != 0 || step.FirstLogin || step.Username != "" {
			t.Fatalf("login-tfa of a user with a second factor: %s, want a 2f. token and nothing else yet", r.Body)
		}
		got, _ := getCart(t, s, host, "/auth/v1/cart", withBearer(before))
		if len(got.Cart.Items) != 0 {
			t.Fatalf("the cart before the second step: %+v, want nothing merged yet", got.Cart.Items)
		}
		// The token is no credential: not as a bearer token, with or
		// without its prefix; not at another tenant's verify-tfa. (Where
		// the token is refused, the code is never looked at.)
		for _, bearer := range []string{step.AccessToken, token} {
			if m := me(t, s, host, withBearer(bearer)); m.Status != http.StatusUnauthorized {
				t.Fatalf("/auth/v1/me with the 2f. token: %d %s, want 401", m.Status, m.Body)
			}
		}
		wantTitle(t, "another tenant's verify-tfa", seed003Post(t, s, "other.localhost", "/api/v2/verify-tfa",
			map[string]any{"access_token": step.AccessToken, "code": "123456"}), 401, "Invalid or expired token")
		wantTitle(t, "the token without its prefix", seed003Post(t, s, host, "/api/v2/verify-tfa",
			map[string]any{"access_token": token, "code": "123456"}), 401, "Invalid or expired token")
		wantTitle(t, "an access token at verify-tfa", seed003Post(t, s, host, "/api/v2/verify-tfa",
			map[string]any{"access_token": before, "code": "123456"}), 401, "Invalid or expired token")
		wantTitle(t, "a wrong code", seed003Post(t, s, host, "/api/v2/verify-tfa",
			map[string]any{"access_token": step.AccessToken, "code": "000000"}), 401, "Invalid Code")
		wantTitle(t, "no code", seed003Post(t, s, host, "/api/v2/verify-tfa",
			map[string]any{"access_token": step.AccessToken}), 400, "code is required")

		r = seed003Post(t, s, host, "/api/v2/verify-tfa", map[string]any{"access_token": step.AccessToken, "code": e.code(t)})
		done := wantLogin(t, "verify-tfa", r, false)
		if strings.HasPrefix(done.AccessToken, "2f.") || done.Username != "Ann Example" || done.Ccnt != 1 || !slices.Equal(done.Wishlist, []string{"sku-6"}) {
			t.Fatalf("verify-tfa: %s", r.Body)
		}
		wantLines(t, "verify-tfa", done.Cart.Items, lineOf("sku-4", 2))
		if m := me(t, s, host, withBearer(done.AccessToken)); m.Status != http.StatusOK {
			t.Fatalf("me with the second step's token: %d %s", m.Status, m.Body)
		}
		wantTitle(t, "the 2f. token again", seed003Post(t, s, host, "/api/v2/verify-tfa",
			map[string]any{"access_token": step.AccessToken, "code": "123456"}), 401, "Invalid or expired token")

		// Wrong codes kill the challenge: the right one after them fails.
		step = wantLogin(t, "login-tfa again", seed003Login(t, s, host, "/api/v2/login-tfa", a, nil, nil, nil), false)
		for i := range 5 { // mfa.max_attempts
			wantTitle(t, fmt.Sprintf("wrong code %d", i+1), seed003Post(t, s, host, "/api/v2/verify-tfa",
				map[string]any{"access_token": step.AccessToken, "code": "000000"}), 401, "Invalid Code")
		}
		wantTitle(t, "the right code after 5 wrong ones", seed003Post(t, s, host, "/api/v2/verify-tfa",
			map[string]any{"access_token": step.AccessToken, "code": e.code(t)}), 401, "Too many incorrect attempts")
	})

	t.Run("login-mobile and verify-otp-login; the code's attempt limit", func(t *testing.T) {
		a := newAccount("mobile")
		wantLogin(t, "register", seed003Register(t, s, host, a, "5352220001", nil, nil), true)
		seed003Sent(t, "a registered number", seed003Mobile(t, s, host, "5352220001"), true)
		codes := fake.codesTo(t, "+905352220001")
		if len(codes) != 1 || codes[0] == "" {
			t.Fatalf("codes sent %v, want one", codes)
		}
		code := codes[0]
		wantTitle(t, "a wrong code", seed003Post(t, s, host, "/api/v1/verify-otp-login", map[string]any{"mobile": "5352220001", "otp": otherCode(code)}),
			401, "Invalid OTP")
		r := seed003Post(t, s, host, "/api/v1/verify-otp-login", map[string]any{"mobile": "5352220001", "otp": code,
			"localcart": cartOf(lineOf("sku-1", 1)), "localwishlist": []string{"sku-2"}})
		ans := wantLogin(t, "verify-otp-login", r, false)
		if ans.Username != "Ann Lee" || ans.Status != 1 || ans.Ccnt != 1 || ans.FirstLogin || !slices.Equal(ans.Wishlist, []string{"sku-2"}) {
			t.Fatalf("verify-otp-login: %s", r.Body)
		}
		if m := me(t, s, host, withBearer(ans.AccessToken)); m.Status != http.StatusOK {
			t.Fatalf("me: %d %s", m.Status, m.Body)
		}
		wantTitle(t, "the code again", seed003Post(t, s, host, "/api/v1/verify-otp-login", map[string]any{"mobile": "5352220001", "otp": code}),
			401, "OTP expired")

		// Guessing stops at sms.max_attempts (5): the right code then fails.
		seed003Sent(t, "a second code", seed003Mobile(t, s, host, "5352220001"), true)
		code = fake.codesTo(t, "+905352220001")[1]
		for i := range 5 {
			wantTitle(t, fmt.Sprintf("wrong code %d", i+1), seed003Post(t, s, host, "/api/v1/verify-otp-login",
				map[string]any{"mobile": "5352220001", "otp": otherCode(code)}), 401, "Invalid OTP")
		}
		wantTitle(t, "the right code after 5 wrong ones", seed003Post(t, s, host, "/api/v1/verify-otp-login",
			map[string]any{"mobile": "5352220001", "otp": code}), 401, "Too many incorrect attempts")

		// Bad numbers.
		for _, m := range []string{"535222000", "05352220001", "+905352220001", "53522200ab", ""} {
			wantTitle(t, "mobile "+strconv.Quote(m), seed003Mobile(t, s, host, m), 400, "Invalid Phone")
		}
		wantTitle(t, "a landline", seed003Mobile(t, s, host, "2125550000"), 400, "Invalid Phone")
		wantTitle(t, "a bad platform", seed003Post(t, s, host, "/api/v2/login-mobile?platform=tv", map[string]any{"mobile": "5352220001"}),
			400, "Invalid platform")
	})

	t.Run("pumping: resend_count per number a day, for numbers with and without an account", func(t *testing.T) {
		a := newAccount("pump")
		wantLogin(t, "register", seed003Register(t, s, host, a, "5353330001", nil, nil), true)
		for i := range 3 { // resend_count
			seed003Sent(t, fmt.Sprintf("code %d", i+1), seed003Mobile(t, s, host, "5353330001"), true)
			seed003Sent(t, fmt.Sprintf("code %d, no account", i+1), seed003Mobile(t, s, host, "5353339999"), false)
		}
		for _, m := range []string{"5353330001", "5353339999"} {
			r := seed003Mobile(t, s, host, m)
			wantTitle(t, "a fourth code to "+m, r, 429, "Maximum OTP requests reached for today")
			if ra, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || ra < 1 || ra > 86401 {
				t.Errorf("Retry-After %q, want up to the end of the UTC day", r.Header.Get("Retry-After"))
			}
		}
		if n := len(fake.codesTo(t, "+905353330001")); n != 3 {
			t.Fatalf("%d SMS to the number, want resend_count (3)", n)
		}
		if n := len(fake.codesTo(t, "+905353339999")); n != 0 {
			t.Fatalf("%d SMS to a number without an account, want none", n)
		}
	})

	t.Run("pumping: per address and per calling code, as the SMS login has them", func(t *testing.T) {
		const ip = "203.0.113.30"
		for i := range 3 { // sms_per_ip
			seed003Sent(t, fmt.Sprintf("request %d from the address", i+1), seed003Mobile(t, s, "pumpip.localhost", fmt.Sprintf("535444%04d", i), from(ip)), false)
		}
		r := seed003Mobile(t, s, "pumpip.localhost", "5354449999", from(ip))
		wantTitle(t, "a fourth request from the address", r, 429, "Too Many Requests")
		if r.Header.Get("Retry-After") == "" {
			t.Errorf("429 without Retry-After")
		}
		seed003Sent(t, "another address", seed003Mobile(t, s, "pumpip.localhost", "5354449999", from("203.0.113.31")), false)

		for i := range 4 { // sms_per_calling_code, from as many addresses
			seed003Sent(t, fmt.Sprintf("request %d to +90", i+1), seed003Mobile(t, s, "pumpcc.localhost", fmt.Sprintf("535555%04d", i),
				from(fmt.Sprintf("198.51.100.%d", i+1))), false)
		}
		wantTitle(t, "a fifth request to +90", seed003Mobile(t, s, "pumpcc.localhost", "5355559999", from("198.51.100.99")), 429, "Too Many Requests")
		// The cap is the calling code's: another country's is served (on
		// the canonical route, the seed's numbers being the region's).
		if r := s.do(t, http.MethodPost, "/auth/v1/sms/send", withHost("pumpcc.localhost"), from("198.51.100.98"),
			withJSON(map[string]any{"phone": "+49 1512 3456789"})); r.Status != http.StatusAccepted {
			t.Fatalf("another calling code after the cap: %d %s, want 202", r.Status, r.Body)
		}
	})

	// Neither the CAPTCHA secret nor a password is in the logs.
	for _, e := range s.entries() {
		if strings.Contains(e.Raw, captchaSecret) || strings.Contains(e.Raw, `"password"`) {
			t.Fatalf("a secret in the log: %s", e.Raw)
		}
	}
}
