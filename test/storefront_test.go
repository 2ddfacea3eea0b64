package e2e_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portcullis/portcullis/adapters/cartwebhook"
	"github.com/portcullis/portcullis/application/storefront/storefronttest"
)

// Storefronts (issue 12): a guest's local cart and wishlist sent with any
// login of the canonical API are merged once the session starts; the
// user's cart and wishlist are read and replaced at /auth/v1/cart and
// /auth/v1/wishlist.

// storefrontYAML is a tenant file: spec's, a storefront with the storefront
// block given ("  max_quantity: 50\n"), and a cheap password hash, so that
// logins released together do not wait for hashing slots.
func storefrontYAML(spec tenantSpec, block string) string {
	y := strings.Replace(spec.yaml(), "hash: {memory_kib: 19456, iterations: 2, parallelism: 1}", "hash: {memory_kib: 1024, iterations: 1, parallelism: 1}", 1)
	return y + "storefront:\n  enabled: true\n" + block
}

// startShops starts a server serving these tenant files (id → YAML), with
// more environment variables.
func startShops(t *testing.T, env map[string]string, files map[string]string) *server {
	t.Helper()
	named := make(map[string]string, len(files))
	for id, y := range files {
		named[id+".yaml"] = y
	}
	all := map[string]string{"PORTCULLIS_TENANTS_DIR": writeTenants(t, named)}
	for k, v := range env {
		all[k] = v
	}
	s := start(t, options{Env: all})
	noRedirects(s)
	return s
}

type cartLine struct {
	ProductID string `json:"product_id"`
	VariantID string `json:"variant_id,omitempty"`
	Quantity  int    `json:"quantity"`
}

type droppedEntry struct {
	List   string `json:"list"`
	Index  int    `json:"index"`
	Reason string `json:"reason"`
}

// shopAnswer is what the storefront adds to a login answer, and the cart
// and wishlist routes' answers.
type shopAnswer struct {
	Cart struct {
		Items []cartLine `json:"items"`
	} `json:"cart"`
	Wishlist     []string       `json:"wishlist"`
	Dropped      []droppedEntry `json:"dropped"`
	MergePending bool           `json:"merge_pending"`
	Version      string         `json:"version"`
	AccessToken  string         `json:"access_token"`
}

func lineOf(product string, q int) cartLine { return cartLine{ProductID: product, Quantity: q} }

// cartOf is a local cart as a client sends it.
func cartOf(items ...any) map[string]any { return map[string]any{"items": items} }

// shopLogin posts a canonical password login with a local cart and
// wishlist (either nil for none) and fails the test unless it succeeds.
func shopLogin(t *testing.T, s *server, host string, a account, cart, wishlist any) shopAnswer {
	t.Helper()
	r := s.do(t, http.MethodPost, "/auth/v1/login", withHost(host), withJSON(shopLoginBody(a, cart, wishlist)))
	if r.Status != http.StatusOK {
		t.Fatalf("login with a local cart: %d %s", r.Status, r.Body)
	}
	return decodeJSON[shopAnswer](t, r)
}

func shopLoginBody(a account, cart, wishlist any) map[string]any {
	body := map[string]any{"email": a.Email, "password": a.Password}
	if cart != nil {
		body["cart"] = cart
	}
	if wishlist != nil {
		body["wishlist"] = wishlist
	}
	return body
}

// getCart reads the cart (or the wishlist, path /auth/v1/wishlist) and
// fails the test unless it answers 200.
func getCart(t *testing.T, s *server, host, path string, opts ...reqOption) (shopAnswer, reply) {
	t.Helper()
	r := s.get(t, path, append([]reqOption{withHost(host)}, opts...)...)
	if r.Status != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, r.Status, r.Body)
	}
	return decodeJSON[shopAnswer](t, r), r
}

func wantLines(t *testing.T, what string, got []cartLine, want ...cartLine) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Fatalf("%s: cart %+v, want %+v", what, got, want)
	}
}

// TestStorefrontLoginMergesAndTheRoutesReadAndReplace: a password login
// with a local cart and wishlist answers the merged ones and reports what
// it dropped by index as sent; a retried login doubles nothing; GET and
// PUT read and replace, with ETag and If-Match, a cookie session's PUT
// needs its CSRF token; a tenant that is no storefront ignores the cart
// and refuses the routes.
func TestStorefrontLoginMergesAndTheRoutesReadAndReplace(t *testing.T) {
	t.Parallel()
	s := startShops(t, nil, map[string]string{
		"shop":  storefrontYAML(tenantSpec{ID: "shop", Domains: []string{"localhost"}}, ""),
		"plain": tenantSpec{ID: "plain", Domains: []string{"plain.localhost"}}.yaml(),
	})
	a := newAccount("cart")
	register(t, s, "localhost", a)

	ans := shopLogin(t, s, "localhost", a,
		cartOf(map[string]any{"product_id": "sku-1", "quantity": 2}, map[string]any{"product_id": "sku-2", "variant_id": "red", "quantity": 30},
			map[string]any{"product_id": "sku-3", "quantity": 0}, 7, map[string]any{"product_id": "bad id", "quantity": 1},
			map[string]any{"product_id": "sku-1", "quantity": 1}),
		[]any{"w-1", 5, "w-2", "w-1"})
	wantLines(t, "login", ans.Cart.Items, lineOf("sku-1", 2), cartLine{ProductID: "sku-2", VariantID: "red", Quantity: 10})
	if !slices.Equal(ans.Wishlist, []string{"w-1", "w-2"}) || ans.MergePending {
		t.Fatalf("login: wishlist %v, pending %v", ans.Wishlist, ans.MergePending)
	}
	wantDropped := []droppedEntry{{"cart", 2, "invalid_quantity"}, {"cart", 3, "invalid_line"}, {"cart", 4, "invalid_id"}, {"wishlist", 1, "invalid_line"}}
	if !slices.Equal(ans.Dropped, wantDropped) {
		t.Fatalf("dropped %+v, want %+v", ans.Dropped, wantDropped)
	}
	bearer := withBearer(ans.AccessToken)

	got, r := getCart(t, s, "localhost", "/auth/v1/cart", bearer)
	wantLines(t, "GET /cart", got.Cart.Items, lineOf("sku-1", 2), cartLine{ProductID: "sku-2", VariantID: "red", Quantity: 10})
	if got.Version == "" || r.Header.Get("ETag") != `"`+got.Version+`"` {
		t.Fatalf("GET /cart: version %q, ETag %q", got.Version, r.Header.Get("ETag"))
	}
	if w, _ := getCart(t, s, "localhost", "/auth/v1/wishlist", bearer); !slices.Equal(w.Wishlist, []string{"w-1", "w-2"}) || w.Version != got.Version {
		t.Fatalf("GET /wishlist: %+v", w)
	}

	// The same login again (a client retrying) doubles nothing, and a
	// line already there ends with the larger quantity.
	for range 2 {
		ans = shopLogin(t, s, "localhost", a, cartOf(map[string]any{"product_id": "sku-1", "quantity": 1}, map[string]any{"product_id": "sku-4", "quantity": 3}), nil)
	}
	wantLines(t, "logins retried", ans.Cart.Items, lineOf("sku-1", 2), cartLine{ProductID: "sku-2", VariantID: "red", Quantity: 10}, lineOf("sku-4", 3))
	if len(ans.Dropped) != 0 {
		t.Fatalf("dropped %+v", ans.Dropped)
	}

	// PUT replaces, reports what it dropped, and honours If-Match.
	put := func(path string, body any, opts ...reqOption) reply {
		return s.do(t, http.MethodPut, path, append([]reqOption{withHost("localhost"), withJSON(body)}, opts...)...)
	}
	wantProblem(t, put("/auth/v1/cart", map[string]any{"items": []any{}}, bearer, withHeader("If-Match", `"`+got.Version+`"`)), http.StatusPreconditionFailed, "precondition_failed")
	cur, _ := getCart(t, s, "localhost", "/auth/v1/cart", bearer)
	r = put("/auth/v1/cart", map[string]any{"items": []any{map[string]any{"product_id": "c", "quantity": 3}, "x", map[string]any{"product_id": "c", "quantity": 5}}},
		bearer, withHeader("If-Match", `"`+cur.Version+`"`))
	if r.Status != http.StatusOK {
		t.Fatalf("PUT /cart: %d %s", r.Status, r.Body)
	}
	if p := decodeJSON[shopAnswer](t, r); !slices.Equal(p.Cart.Items, []cartLine{lineOf("c", 5)}) || !slices.Equal(p.Dropped, []droppedEntry{{"cart", 1, "invalid_line"}}) {
		t.Fatalf("PUT /cart answered %s", r.Body)
	}
	got, _ = getCart(t, s, "localhost", "/auth/v1/cart", bearer)
	wantLines(t, "after PUT", got.Cart.Items, lineOf("c", 5))
	r = put("/auth/v1/wishlist", map[string]any{"items": []any{"z", "z", "bad id", "y"}}, bearer)
	if p := decodeJSON[shopAnswer](t, r); r.Status != http.StatusOK || !slices.Equal(p.Wishlist, []string{"z", "y"}) ||
		!slices.Equal(p.Dropped, []droppedEntry{{"wishlist", 2, "invalid_id"}}) {
		t.Fatalf("PUT /wishlist: %d %s", r.Status, r.Body)
	}
	wantProblem(t, put("/auth/v1/cart", map[string]any{"cart": []any{}}, bearer), http.StatusBadRequest, "invalid_request")

	// Authenticated like /me: none is 401; a cookie session's PUT needs
	// its CSRF token.
	wantProblem(t, s.get(t, "/auth/v1/cart", withHost("localhost")), http.StatusUnauthorized, "unauthenticated")
	ck := login(t, s, "localhost", a, "cookie")
	if c, _ := getCart(t, s, "localhost", "/auth/v1/cart", withSessionCookie(ck.Cookie)); len(c.Cart.Items) != 1 {
		t.Fatalf("GET /cart with the cookie: %+v", c)
	}
	empty := map[string]any{"items": []any{}}
	wantProblem(t, put("/auth/v1/cart", empty, withSessionCookie(ck.Cookie)), http.StatusForbidden, "csrf_failed")
	if r := put("/auth/v1/cart", empty, withSessionCookie(ck.Cookie), withHeader("X-CSRF-Token", ck.CSRFToken)); r.Status != http.StatusOK {
		t.Fatalf("PUT /cart with the cookie and its CSRF token: %d %s", r.Status, r.Body)
	}

	// A tenant that is no storefront: the login ignores the cart, the
	// routes are refused.
	register(t, s, "plain.localhost", a)
	r = s.do(t, http.MethodPost, "/auth/v1/login", withHost("plain.localhost"), withJSON(shopLoginBody(a, cartOf(map[string]any{"product_id": "a", "quantity": 1}), nil)))
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); r.Status != http.StatusOK || err != nil || m["cart"] != nil || m["merge_pending"] != nil {
		t.Fatalf("login on a tenant that is no storefront: %d %s", r.Status, r.Body)
	}
	wantProblem(t, s.get(t, "/auth/v1/cart", withHost("plain.localhost"), withBearer(m["access_token"].(string))), http.StatusForbidden, "storefront_disabled")
}

// TestStorefrontMergesOnEveryLoginMethod: an SMS code, an e-mail code and
// a magic link merge the cart they are sent with; a password login of a
// user with a second factor merges nothing until /mfa/verify starts the
// session, and then merges what the first step sent, its drops reported
// by their indexes in the first step.
func TestStorefrontMergesOnEveryLoginMethod(t *testing.T) {
	t.Parallel()
	s := startShops(t, nil, map[string]string{"shop": storefrontYAML(mfaTenant("shop", "localhost"), "")})
	post := func(path string, body any) reply { return postJSON(t, s, "localhost", path, body) }
	signedIn := func(what string, r reply) shopAnswer {
		t.Helper()
		if r.Status != http.StatusOK {
			t.Fatalf("%s: %d %s", what, r.Status, r.Body)
		}
		return decodeJSON[shopAnswer](t, r)
	}

	// SMS code.
	a := newAccount("smscart")
	registerWithPhone(t, s, a, "+905351112233")
	if r := post("/auth/v1/sms/send", map[string]any{"phone": "+905351112233"}); r.Status != http.StatusAccepted {
		t.Fatalf("sms send: %d %s", r.Status, r.Body)
	}
	ans := signedIn("sms verify", post("/auth/v1/sms/verify", map[string]any{"phone": "+905351112233", "code": smsCodeFor(t, s, "+905351112233", 0),
		"cart": cartOf(map[string]any{"product_id": "by-sms", "quantity": 1}), "wishlist": []string{"w-sms"}}))
	wantLines(t, "sms", ans.Cart.Items, lineOf("by-sms", 1))
	if !slices.Equal(ans.Wishlist, []string{"w-sms"}) {
		t.Fatalf("sms: wishlist %v", ans.Wishlist)
	}

	// E-mail code, then magic link, of one account.
	b := newAccount("mailcart")
	register(t, s, "localhost", b)
	if r := post("/auth/v1/email/code/send", map[string]any{"email": b.Email}); r.Status != http.StatusAccepted {
		t.Fatalf("code send: %d %s", r.Status, r.Body)
	}
	code := smsCode.FindStringSubmatch(waitMail(t, s, "localhost", b.Email, emailCodeSubject("shop"), 0).Text)
	if code == nil {
		t.Fatal("no code in the mail")
	}
	ans = signedIn("email code verify", post("/auth/v1/email/code/verify", map[string]any{"email": b.Email, "code": code[1],
		"cart": cartOf(map[string]any{"product_id": "by-code", "quantity": 2})}))
	wantLines(t, "e-mail code", ans.Cart.Items, lineOf("by-code", 2))
	_, token := magicLink(t, s, "localhost", "shop", b.Email, "")
	ans = signedIn("magic link consume", post("/auth/v1/magic-link/consume", map[string]any{"token": token,
		"cart": cartOf(map[string]any{"product_id": "by-link", "quantity": 1})}))
	wantLines(t, "magic link", ans.Cart.Items, lineOf("by-code", 2), lineOf("by-link", 1))

	// A second factor: nothing before the second step.
	c := newAccount("mfacart")
	register(t, s, "localhost", c)
	before := login(t, s, "localhost", c, "")
	e := enrolTOTP(t, s, "localhost", c)
	ch := wantChallenge(t, "first factor", post("/auth/v1/login", shopLoginBody(c,
		cartOf(map[string]any{"product_id": "zero", "quantity": 0}, map[string]any{"product_id": "by-mfa", "quantity": 2}), []string{"w-mfa"})))
	if got, _ := getCart(t, s, "localhost", "/auth/v1/cart", withBearer(before.AccessToken)); len(got.Cart.Items) != 0 {
		t.Fatalf("merged before the second factor: %+v", got.Cart.Items)
	}
	ans = signedIn("mfa verify", mfaVerify(t, s, "localhost", ch.MFAToken, e.code(t)))
	wantLines(t, "mfa verify", ans.Cart.Items, lineOf("by-mfa", 2))
	if !slices.Equal(ans.Wishlist, []string{"w-mfa"}) || !slices.Equal(ans.Dropped, []droppedEntry{{"cart", 0, "invalid_quantity"}}) {
		t.Fatalf("mfa verify: wishlist %v, dropped %+v", ans.Wishlist, ans.Dropped)
	}
	if got, _ := getCart(t, s, "localhost", "/auth/v1/cart", withBearer(before.AccessToken)); !slices.Equal(got.Cart.Items, []cartLine{lineOf("by-mfa", 2)}) {
		t.Fatalf("stored after the second factor: %+v", got.Cart.Items)
	}
}

// TestStorefrontMergeRaces: 20 logins of one user released together,
// each with another local line and item, leave all 20; 20 with one line
// at quantities 1 to 20 leave it once, with 20.
func TestStorefrontMergeRaces(t *testing.T) {
	t.Parallel()
	s := startShops(t, nil, map[string]string{"shop": storefrontYAML(tenantSpec{ID: "shop", Domains: []string{"localhost"}}, "  max_quantity: 50\n")})
	a := newAccount("race")
	register(t, s, "localhost", a)
	const n = 20
	together := func(cart func(i int) map[string]any, wishlist func(i int) []string) {
		t.Helper()
		raws := make([]string, n)
		for i := range n {
			body, _ := json.Marshal(shopLoginBody(a, cart(i), wishlist(i)))
			raws[i] = rawJSONRequest(http.MethodPost, "/auth/v1/login", "localhost", string(body))
		}
		for i, r := range s.sendEachTogether(t, raws) {
			if r.Status != http.StatusOK {
				t.Fatalf("login %d of %d released together: %d %s", i+1, n, r.Status, r.Body)
			}
			if ans := decodeJSON[shopAnswer](t, r); ans.MergePending {
				t.Fatalf("login %d: merge pending: %s", i+1, r.Body)
			}
		}
	}
	together(func(i int) map[string]any {
		return cartOf(map[string]any{"product_id": fmt.Sprint("p-", i), "quantity": i%5 + 1})
	},
		func(i int) []string { return []string{fmt.Sprint("w-", i)} })
	tok := login(t, s, "localhost", a, "").AccessToken
	got, _ := getCart(t, s, "localhost", "/auth/v1/cart", withBearer(tok))
	if len(got.Cart.Items) != n {
		t.Fatalf("%d lines after %d logins with a line each, want %d: %+v", len(got.Cart.Items), n, n, got.Cart.Items)
	}
	for i := range n {
		if !slices.Contains(got.Cart.Items, lineOf(fmt.Sprint("p-", i), i%5+1)) {
			t.Fatalf("line p-%d missing or at another quantity: %+v", i, got.Cart.Items)
		}
	}
	w, _ := getCart(t, s, "localhost", "/auth/v1/wishlist", withBearer(tok))
	if len(w.Wishlist) != n {
		t.Fatalf("%d wishlist items, want %d: %v", len(w.Wishlist), n, w.Wishlist)
	}

	together(func(i int) map[string]any { return cartOf(map[string]any{"product_id": "same", "quantity": i + 1}) },
		func(int) []string { return nil })
	got, _ = getCart(t, s, "localhost", "/auth/v1/cart", withBearer(tok))
	var same []cartLine
	for _, l := range got.Cart.Items {
		if l.ProductID == "same" {
			same = append(same, l)
		}
	}
	if len(same) != 1 || same[0].Quantity != n || len(got.Cart.Items) != n+1 {
		t.Fatalf("after %d logins with quantities 1..%d of one line: %+v, want it once at %d", n, n, got.Cart.Items, n)
	}
}

// TestStorefrontOversizedCartIsRefusedBeforeAnyWork: a local cart of
// 10,000 lines (or a wishlist of 1,001 items) is 400 cart_too_large naming
// the field, even with a wrong password (it is read first); a body over 1
// MiB is 413; neither stores anything or starts a session, and a PUT of
// 10,000 lines leaves the cart as it was.
func TestStorefrontOversizedCartIsRefusedBeforeAnyWork(t *testing.T) {
	t.Parallel()
	s := startShops(t, nil, map[string]string{"shop": storefrontYAML(tenantSpec{ID: "shop", Domains: []string{"localhost"}}, "")})
	a := newAccount("huge")
	register(t, s, "localhost", a)
	tok := shopLogin(t, s, "localhost", a, cartOf(map[string]any{"product_id": "keep", "quantity": 1}), nil).AccessToken

	huge := make([]any, 10_000)
	for i := range huge {
		huge[i] = map[string]any{"product_id": fmt.Sprint("p", i), "quantity": 1}
	}
	many := make([]string, 1001)
	for i := range many {
		many[i] = fmt.Sprint("w", i)
	}
	wrong := a
	wrong.Password = "not-" + a.Password
	for _, tc := range []struct {
		name  string
		body  map[string]any
		field string
	}{
		{"10,000 lines", shopLoginBody(a, cartOf(huge...), nil), "cart"},
		{"10,000 lines and a wrong password", shopLoginBody(wrong, cartOf(huge...), nil), "cart"},
		{"1,001 wishlist items", shopLoginBody(a, nil, many), "wishlist"},
	} {
		r := s.do(t, http.MethodPost, "/auth/v1/login", withHost("localhost"), withJSON(tc.body))
		wantProblem(t, r, http.StatusBadRequest, "cart_too_large")
		if f := fieldErrors(t, r); !slices.Equal(f, []string{tc.field}) {
			t.Errorf("%s: %s, want the field %s named", tc.name, r.Body, tc.field)
		}
	}
	big := shopLoginBody(a, cartOf(map[string]any{"product_id": strings.Repeat("x", 1<<20), "quantity": 1}), nil)
	// Refused by the server's body limit before any handler: 413, or the
	// connection closed while the rest of the body was still being sent.
	bigBody, _ := json.Marshal(big)
	if got := sendHuge(t, s, rawJSONRequest(http.MethodPost, "/auth/v1/login", "localhost", string(bigBody))); got != "413 Request Entity Too Large" && got != "closed" {
		t.Fatalf("a login body over 1 MiB: %s, want 413", got)
	}
	r := s.do(t, http.MethodPut, "/auth/v1/cart", withHost("localhost"), withBearer(tok), withJSON(map[string]any{"items": huge}))
	wantProblem(t, r, http.StatusBadRequest, "cart_too_large")
	if f := fieldErrors(t, r); !slices.Equal(f, []string{"cart"}) {
		t.Errorf("PUT of 10,000 lines: %s", r.Body)
	}

	got, _ := getCart(t, s, "localhost", "/auth/v1/cart", withBearer(tok))
	wantLines(t, "after the refused carts", got.Cart.Items, lineOf("keep", 1))
	if w, _ := getCart(t, s, "localhost", "/auth/v1/wishlist", withBearer(tok)); len(w.Wishlist) != 0 {
		t.Fatalf("wishlist %v", w.Wishlist)
	}
	var list struct {
		Sessions []json.RawMessage `json:"sessions"`
	}
	if r := s.get(t, "/auth/v1/sessions", withHost("localhost"), withBearer(tok)); r.Status != http.StatusOK || json.Unmarshal(r.Body, &list) != nil || len(list.Sessions) != 1 {
		t.Fatalf("sessions after the refused logins: %d %s, want only the first login's", r.Status, r.Body)
	}
}

// TestStorefrontWebhookDownThenBack: a storefront whose cart service is
// down still signs in, answering the local cart with merge_pending; the
// merge is retried and lands once the service is back.
func TestStorefrontWebhookDownThenBack(t *testing.T) {
	t.Parallel()
	const secret = "whsec-e2e-storefront"
	carts := storefronttest.NewMemoryStore()
	var down atomic.Bool
	down.Store(true)
	var calls atomic.Int32
	service := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if down.Load() {
			http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
			return
		}
		cartwebhook.Handler{Secret: []byte(secret), Store: carts}.ServeHTTP(w, r)
	}))
	t.Cleanup(service.Close)
	s := startShops(t, map[string]string{"SHOP_CART_SECRET": secret}, map[string]string{"shop": storefrontYAML(tenantSpec{ID: "shop", Domains: []string{"localhost"}},
		"  webhook: {url: \""+service.URL+"/cart\", secret_env: SHOP_CART_SECRET, timeout: 2s}\n")})
	a := newAccount("hook")
	register(t, s, "localhost", a)

	ans := shopLogin(t, s, "localhost", a, cartOf(map[string]any{"product_id": "sku-1", "quantity": 2}, map[string]any{"product_id": "", "quantity": 1}),
		[]string{"w-1"})
	if !ans.MergePending || ans.AccessToken == "" {
		t.Fatalf("login with the cart service down: pending %v, token %q", ans.MergePending, ans.AccessToken)
	}
	wantLines(t, "pending login", ans.Cart.Items, lineOf("sku-1", 2))
	if !slices.Equal(ans.Wishlist, []string{"w-1"}) || !slices.Equal(ans.Dropped, []droppedEntry{{"cart", 1, "missing_product_id"}}) {
		t.Fatalf("pending login: wishlist %v, dropped %+v", ans.Wishlist, ans.Dropped)
	}
	wantProblem(t, s.get(t, "/auth/v1/cart", withHost("localhost"), withBearer(ans.AccessToken)), http.StatusServiceUnavailable, "unavailable")

	down.Store(false)
	deadline := time.Now().Add(20 * time.Second)
	for {
		got, _ := getCart(t, s, "localhost", "/auth/v1/cart", withBearer(ans.AccessToken))
		if slices.Equal(got.Cart.Items, []cartLine{lineOf("sku-1", 2)}) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the merge did not land within 20s of the service coming back: cart %+v (%d calls)", got.Cart.Items, calls.Load())
		}
		time.Sleep(250 * time.Millisecond)
	}
	if w, _ := getCart(t, s, "localhost", "/auth/v1/wishlist", withBearer(ans.AccessToken)); !slices.Equal(w.Wishlist, []string{"w-1"}) {
		t.Fatalf("wishlist %v", w.Wishlist)
	}
	s.waitLog(t, "of the retried merge", func(e logEntry) bool { return e.Msg() == "retry succeeded" })
}
