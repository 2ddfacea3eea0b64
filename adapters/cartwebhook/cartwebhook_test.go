package cartwebhook_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portcullis/portcullis/adapters/cartwebhook"
	"github.com/portcullis/portcullis/adapters/credential"
	"github.com/portcullis/portcullis/adapters/internal/nettest"
	app "github.com/portcullis/portcullis/application/storefront"
	"github.com/portcullis/portcullis/application/storefront/storefronttest"
	"github.com/portcullis/portcullis/domain/errs"
	"github.com/portcullis/portcullis/domain/storefront"
	"github.com/portcullis/portcullis/domain/tenant"
)

var (
	L, C, W = storefronttest.L, storefronttest.C, storefronttest.W
	secret  = []byte("whsec-test-0123456789")
	quiet   = slog.New(slog.DiscardHandler)
)

func newStore(t *testing.T, url string, timeout time.Duration) *cartwebhook.Store {
	t.Helper()
	s, err := cartwebhook.New(cartwebhook.Options{URL: url, Secret: credential.New(string(secret)), Timeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// serve starts a cart service: handler, or the reference Handler over a
// fresh memory store when handler is nil.
func serve(t *testing.T, handler http.Handler) (*httptest.Server, *storefronttest.MemoryStore) {
	t.Helper()
	mem := storefronttest.NewMemoryStore()
	if handler == nil {
		handler = cartwebhook.Handler{Secret: secret, Store: mem}
	}
	srv := httptest.NewServer(handler)
	t.Cleanup(srv.Close)
	return srv, mem
}

// TestStoreContractOverHTTP: the webhook client and the reference handler
// carry every operation faithfully — the contract suite passes through
// them (the races are the cart service's to win; here, the memory
// store's).
func TestStoreContractOverHTTP(t *testing.T) {
	storefronttest.RunStoreContract(t, func(t *testing.T) app.Store {
		srv, _ := serve(t, nil)
		return newStore(t, srv.URL, 0)
	})
}

func TestRequestsAreSignedAndShaped(t *testing.T) {
	t.Parallel()
	type seen struct {
		method, contentType, signature string
		body                           []byte
	}
	got := make(chan seen, 4)
	srv, _ := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- seen{r.Method, r.Header.Get("Content-Type"), r.Header.Get(cartwebhook.SignatureHeader), b}
		_, _ = io.WriteString(w, `{"cart":{"lines":[]},"wishlist":[]}`)
	}))
	s := newStore(t, srv.URL, 0)
	ctx := context.Background()
	if _, _, err := s.Merge(ctx, "shop", "u1", C(L("sku-1", "red", 2), L("sku-2", "", 1)), W("sku-9"), storefront.Limits{}); err != nil {
		t.Fatal(err)
	}
	if err := s.ReplaceWishlist(ctx, "shop", "u1", nil); err != nil {
		t.Fatal(err)
	}
	if err := s.ReplaceCart(ctx, "shop", "u1", C()); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := s.Get(ctx, "shop", "u1"); err != nil {
		t.Fatal(err)
	}
	want := []string{
		`{"op":"merge","tenant_id":"shop","user_id":"u1","cart":{"lines":[{"product_id":"sku-1","variant_id":"red","quantity":2},{"product_id":"sku-2","quantity":1}]},"wishlist":["sku-9"],"limits":{"max_quantity":10,"max_lines":100,"max_wishlist":200}}`,
		`{"op":"replace_wishlist","tenant_id":"shop","user_id":"u1","wishlist":[]}`,
		`{"op":"replace_cart","tenant_id":"shop","user_id":"u1","cart":{"lines":[]}}`,
		`{"op":"get","tenant_id":"shop","user_id":"u1"}`,
	}
	for _, w := range want {
		r := <-got
		if r.method != http.MethodPost || r.contentType != "application/json" || string(r.body) != w {
			t.Fatalf("%s %s %s\nwant POST application/json %s", r.method, r.contentType, r.body, w)
		}
		if err := cartwebhook.Verify(secret, r.signature, r.body, time.Now(), 0); err != nil {
			t.Fatalf("signature %q: %v", r.signature, err)
		}
		if !strings.HasPrefix(r.signature, "t=") || !strings.Contains(r.signature, ",v1=") {
			t.Fatalf("signature %q is not t=...,v1=...", r.signature)
		}
	}
}

func TestSignAndVerify(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_700_000_000, 0)
	body := []byte(`{"op":"get"}`)
	sig := cartwebhook.Sign(secret, now, body)
	if sig != "t=1700000000,v1="+hexHMAC(t, "1700000000."+string(body)) {
		t.Fatalf("signature %q", sig)
	}
	cases := []struct {
		name   string
		secret []byte
		header string
		body   []byte
		now    time.Time
		want   error
	}{
		{"valid", secret, sig, body, now, nil},
		{"within tolerance", secret, sig, body, now.Add(4 * time.Minute), nil},
		{"rotation: any v1 may match", secret, "t=1700000000,v1=00ff," + strings.TrimPrefix(sig, "t=1700000000,"), body, now, nil},
		{"body changed", secret, sig, []byte(`{"op":"merge"}`), now, cartwebhook.ErrNoSignature},
		{"another secret", []byte("other"), sig, body, now, cartwebhook.ErrNoSignature},
		{"time changed", secret, strings.Replace(sig, "t=1700000000", "t=1700000001", 1), body, now, cartwebhook.ErrNoSignature},
		{"stale", secret, sig, body, now.Add(6 * time.Minute), cartwebhook.ErrStaleRequest},
		{"from the future", secret, sig, body, now.Add(-6 * time.Minute), cartwebhook.ErrStaleRequest},
		{"no header", secret, "", body, now, cartwebhook.ErrNoSignature},
		{"no v1", secret, "t=1700000000", body, now, cartwebhook.ErrNoSignature},
		{"garbage", secret, "v1=zz,t=x", body, now, cartwebhook.ErrNoSignature},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if err := cartwebhook.Verify(tc.secret, tc.header, tc.body, tc.now, 0); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

func hexHMAC(t *testing.T, msg string) string {
	t.Helper()
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(msg))
	return hex.EncodeToString(m.Sum(nil))
}

func TestFailures(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	answer := func(status int, body string, header ...string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			for i := 0; i+1 < len(header); i += 2 {
				w.Header().Set(header[i], header[i+1])
			}
			w.WriteHeader(status)
			_, _ = io.WriteString(w, body)
		})
	}
	cases := []struct {
		name        string
		handler     http.Handler
		unavailable bool
		retryAfter  int
	}{
		{"503", answer(503, "down"), true, 0},
		{"502", answer(502, ""), true, 0},
		{"429 with Retry-After", answer(429, "", "Retry-After", "30"), true, 30},
		{"408", answer(408, ""), true, 0},
		{"400", answer(400, "no"), false, 0},
		{"401", answer(401, ""), false, 0},
		{"a redirect is not followed", answer(302, "", "Location", "https://elsewhere.example/"), false, 0},
		{"not JSON", answer(200, "<html>"), false, 0},
		{"over 2 MiB", answer(200, `{"cart":{"lines":[]},"wishlist":["`+strings.Repeat("x", cartwebhook.MaxResponseBytes)+`"]}`), false, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv, _ := serve(t, tc.handler)
			_, _, _, err := newStore(t, srv.URL, 0).Get(ctx, "shop", "u")
			if err == nil {
				t.Fatal("no error")
			}
			e := errs.As(err)
			if (e.Kind == errs.Unavailable) != tc.unavailable {
				t.Fatalf("error %v of kind %v, want unavailable %v", err, e.Kind, tc.unavailable)
			}
			if tc.retryAfter > 0 && e.RetryAfter != tc.retryAfter {
				t.Fatalf("Retry-After %d, want %d", e.RetryAfter, tc.retryAfter)
			}
		})
	}
	t.Run("refused connection", func(t *testing.T) {
		t.Parallel()
		_, _, _, err := newStore(t, "http://"+nettest.Refusing(t)+"/cart", 0).Get(ctx, "shop", "u")
		if errs.KindOf(err) != errs.Unavailable {
			t.Fatalf("got %v, want Unavailable", err)
		}
	})
}

func TestAnswersAreCleaned(t *testing.T) {
	t.Parallel()
	srv, _ := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, `{"cart":{"lines":[{"product_id":"ok","quantity":2},{"product_id":"","quantity":1},{"product_id":"bad id","quantity":1},{"product_id":"zero","quantity":0}]},"wishlist":["w","","x y"],"version":"v7"}`)
	}))
	c, w, v, err := newStore(t, srv.URL, 0).Get(context.Background(), "shop", "u")
	if err != nil || !slices.Equal(c.Lines, C(L("ok", "", 2)).Lines) || !slices.Equal(w, W("w")) || v != "v7" {
		t.Fatalf("got %v %v %q %v", c.Lines, w, v, err)
	}
}

func TestNewChecksOptions(t *testing.T) {
	t.Parallel()
	for _, o := range []cartwebhook.Options{
		{URL: "https://shop.example/cart"},
		{URL: "/cart", Secret: credential.New("s")},
		{URL: "ftp://shop.example/", Secret: credential.New("s")},
		{URL: "https://u:p@shop.example/", Secret: credential.New("s")},
	} {
		if _, err := cartwebhook.New(o); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
	s, err := cartwebhook.New(cartwebhook.Options{URL: "https://shop.example/cart", Secret: credential.New("s3cr3t")})
	if err != nil || strings.Contains(s.String(), "s3cr3t") {
		t.Fatalf("%v %v", s, err)
	}
}

func TestHandlerRefusesUnsignedAndWrongRequests(t *testing.T) {
	t.Parallel()
	srv, mem := serve(t, nil)
	body := `{"op":"replace_cart","tenant_id":"shop","user_id":"u","cart":{"lines":[{"product_id":"p","quantity":1}]}}`
	post := func(sig, body string) int {
		req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader(body))
		req.Header.Set(cartwebhook.SignatureHeader, sig)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post("", body); code != http.StatusUnauthorized {
		t.Fatalf("unsigned: %d", code)
	}
	if code := post(cartwebhook.Sign([]byte("other"), time.Now(), []byte(body)), body); code != http.StatusUnauthorized {
		t.Fatalf("wrong secret: %d", code)
	}
	if code := post(cartwebhook.Sign(secret, time.Now().Add(-time.Hour), []byte(body)), body); code != http.StatusUnauthorized {
		t.Fatalf("replayed an hour later: %d", code)
	}
	bad := `{"op":"delete_everything","tenant_id":"shop","user_id":"u"}`
	if code := post(cartwebhook.Sign(secret, time.Now(), []byte(bad)), bad); code != http.StatusBadRequest {
		t.Fatalf("unknown op: %d", code)
	}
	if c, _, _, _ := mem.Get(context.Background(), "shop", "u"); len(c.Lines) != 0 {
		t.Fatalf("a refused request changed the cart: %v", c.Lines)
	}
	if code := post(cartwebhook.Sign(secret, time.Now(), []byte(body)), body); code != http.StatusNoContent {
		t.Fatalf("signed: %d", code)
	}
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("GET: %d", resp.StatusCode)
	}
}

func storefrontTenant() tenant.Tenant {
	t := tenant.Default()
	t.ID = "shop"
	t.Storefront.Enabled = true
	return t
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 10s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestLoginMergeSurvivesAServiceThatFailsTwice: the cart service answers
// 503 to the first two merges and then works. The login's merge answers
// at once with the local cart (pending), and the Retrier gets it stored
// on its second retry.
func TestLoginMergeSurvivesAServiceThatFailsTwice(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	mem := storefronttest.NewMemoryStore()
	ref := cartwebhook.Handler{Secret: secret, Store: mem}
	var merges atomic.Int32
	srv, _ := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var req cartwebhook.Request
		_ = json.Unmarshal(b, &req)
		if req.Op == cartwebhook.OpMerge && merges.Add(1) <= 2 {
			http.Error(w, "restarting", http.StatusServiceUnavailable)
			return
		}
		r.Body = io.NopCloser(strings.NewReader(string(b)))
		ref.ServeHTTP(w, r)
	}))
	r := app.NewRetrier(app.RetryPolicy{First: 10 * time.Millisecond, Max: 20 * time.Millisecond}, quiet)
	defer r.Close(ctx)
	s := app.New(storefrontTenant(), app.Deps{Store: newStore(t, srv.URL, 0), Retrier: r})

	res, err := s.MergeOrRetry(ctx, "u", C(L("a", "", 2), L("b", "", 1)), W("x"))
	if err != nil {
		t.Fatalf("the login's merge failed: %v", err)
	}
	if !res.Pending || !slices.Equal(res.Cart.Lines, C(L("a", "", 2), L("b", "", 1)).Lines) {
		t.Fatalf("result %+v: want pending, with the local cart", res)
	}
	eventually(t, "the merge stored by a retry", func() bool {
		c, w, _, _ := mem.Get(ctx, "shop", "u")
		return len(c.Lines) == 2 && len(w) == 1
	})
	eventually(t, "the retrier idle", func() bool { return r.Pending() == 0 })
	if n := merges.Load(); n != 3 {
		t.Fatalf("%d merge requests, want 3: the login's, a failed retry, the one that worked", n)
	}
}

// TestLoginMergeDoesNotWaitForAHangingService: a cart service that never
// answers costs the login the webhook timeout, not more, and the merge
// waits for a retry.
func TestLoginMergeDoesNotWaitForAHangingService(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	release := make(chan struct{})
	srv, _ := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { close(release) }) // runs before srv.Close
	const timeout = 200 * time.Millisecond
	r := app.NewRetrier(app.RetryPolicy{First: time.Hour}, quiet)
	defer r.Close(ctx)
	s := app.New(storefrontTenant(), app.Deps{Store: newStore(t, srv.URL, timeout), Retrier: r})

	start := time.Now()
	res, err := s.MergeOrRetry(ctx, "u", C(L("a", "", 1)), nil)
	took := time.Since(start)
	if err != nil || !res.Pending {
		t.Fatalf("got %+v, %v; want a pending merge", res, err)
	}
	if took < timeout || took > timeout+2*time.Second {
		t.Fatalf("the login waited %s, want about the %s timeout", took, timeout)
	}
	if r.Pending() != 1 {
		t.Fatalf("%d merges wait for a retry, want 1", r.Pending())
	}
	// Reads fail as fast, and as unavailable.
	if _, _, err := s.Cart(ctx, "u"); errs.KindOf(err) != errs.Unavailable {
		t.Fatalf("cart: %v, want Unavailable", err)
	}
}
