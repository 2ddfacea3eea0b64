package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/portcullis/portcullis/config"
	"github.com/portcullis/portcullis/domain/storefront"
	"github.com/portcullis/portcullis/domain/tenant"
)

func TestSFKindOf(t *testing.T) {
	t.Parallel()
	var got []string
	for k := range 8 {
		got = append(got, sfKindOf(k).String())
	}
	want := []string{"plain", "cart", "cart", "plain", "plain", "cart", "cart", "plain"}
	if !slices.Equal(got, want) {
		t.Errorf("kinds %v, want %v (ABBA)", got, want)
	}
}

func TestSFSlicesPerKind(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		total, window time.Duration
		want          int
	}{
		{"the default: 20s in 2s windows", 20 * time.Second, 2 * time.Second, 10},
		{"rounded up to an even number", 13 * time.Second, 2 * time.Second, 8},
		{"exactly two", 4 * time.Second, 2 * time.Second, 2},
		{"at least two", time.Second, 2 * time.Second, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := sfSlicesPerKind(tt.total, tt.window); got != tt.want {
				t.Errorf("sfSlicesPerKind(%s, %s) = %d, want %d", tt.total, tt.window, got, tt.want)
			}
		})
	}
}

func TestSFUsersPerWorker(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		rate  float64
		conc  int
		slice time.Duration
		cycle int
		want  int
	}{
		// 72×1.5/64×3 + 2 = 7.06 logins: the current user's 1 and 5 more
		// each, and a reserve.
		{"2 cores", 72, 64, 3 * time.Second, 5, 4},
		{"slow: still a spare user", 1, 64, 3 * time.Second, 5, 3},
		{"one login per reset", 72, 64, 3 * time.Second, 1, 9},
		{"few workers", 72, 8, 3 * time.Second, 5, 11},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := sfUsersPerWorker(tt.rate, tt.conc, tt.slice, tt.cycle)
			if got != tt.want {
				t.Errorf("sfUsersPerWorker = %d, want %d", got, tt.want)
			}
			perWorker := tt.rate * 1.5 / float64(tt.conc) * tt.slice.Seconds()
			if capacity := float64((got-2)*tt.cycle + 1); capacity < perWorker+1 { // without the reserve
				t.Errorf("%d users hold %.0f cart logins after a slice's resets, fewer than the %.1f a worker may make", got, capacity, perWorker+1)
			}
		})
	}
}

// sfBody is a login body as the server reads it.
type sfBody struct {
	Email    string `json:"email"`
	Password string `json:"password"`
	Session  string `json:"session"`
	Cart     *struct {
		Items []cartLine `json:"items"`
	} `json:"cart"`
	Wishlist []string `json:"wishlist"`
}

func TestSFLoginBody(t *testing.T) {
	t.Parallel()
	users := newSFUsers("shop-", 2, 3, 5)
	if len(users) != 2 || len(users[0]) != 3 {
		t.Fatalf("%d workers of %d users, want 2 of 3", len(users), len(users[0]))
	}
	lines := map[storefront.Key]string{} // every line of every body, and whose it is
	items := map[string]string{}
	limits := storefront.DefaultLimits()
	for _, us := range users {
		for _, u := range us {
			if !strings.HasPrefix(u.Email, "shop-") {
				t.Errorf("email %q lacks the prefix", u.Email)
			}
			var plain sfBody
			if err := json.Unmarshal(u.plain, &plain); err != nil {
				t.Fatal(err)
			}
			if plain.Email != u.Email || plain.Password != u.Password || plain.Session != "bearer" || plain.Cart != nil || plain.Wishlist != nil {
				t.Errorf("plain body %s", u.plain)
			}
			if len(u.cart) != 5 {
				t.Fatalf("%d cart bodies, want one per login of the cycle (5)", len(u.cart))
			}
			for k, raw := range u.cart {
				if !bytes.Contains(raw, []byte(`"cart":{"items":[`)) {
					t.Errorf("cart body without cart.items: %s", raw)
				}
				var b sfBody
				if err := json.Unmarshal(raw, &b); err != nil {
					t.Fatal(err)
				}
				if b.Email != u.Email || b.Password != u.Password || b.Session != "bearer" || b.Cart == nil {
					t.Fatalf("cart body %s", raw)
				}
				if len(b.Cart.Items) != sfCartLines || len(b.Wishlist) != sfWishlistItems {
					t.Errorf("login %d: %d lines, %d items; want %d, %d", k, len(b.Cart.Items), len(b.Wishlist), sfCartLines, sfWishlistItems)
				}
				var c storefront.Cart
				for _, l := range b.Cart.Items {
					c.Lines = append(c.Lines, storefront.Line{ProductID: l.ProductID, VariantID: l.VariantID, Quantity: l.Quantity})
				}
				// Every line valid, none dropped or capped: the merge has all of it to do.
				for i, l := range c.Lines {
					if r := storefront.CheckLine(l, limits); r != "" {
						t.Errorf("line %d %+v: %s", i, l, r)
					}
					if l.Quantity < 1 || l.Quantity > 3 {
						t.Errorf("line %d quantity %d, want 1..3", i, l.Quantity)
					}
					if owner, ok := lines[l.Key()]; ok {
						t.Errorf("line %+v is in %s's bodies and %s login %d's: not new", l.Key(), owner, u.Email, k)
					}
					lines[l.Key()] = fmt.Sprintf("%s login %d", u.Email, k)
				}
				for _, id := range b.Wishlist {
					if r := storefront.CheckItem(id, limits); r != "" {
						t.Errorf("item %q: %s", id, r)
					}
					if owner, ok := items[id]; ok {
						t.Errorf("item %q is in %s's bodies too: not new", id, owner)
					}
					items[id] = u.Email
				}
				if err := storefront.CheckBounds(c, b.Wishlist); err != nil {
					t.Errorf("over the input bounds: %v", err)
				}
			}
		}
	}
	variants := 0
	for k := range lines {
		if k.VariantID != "" {
			variants++
		}
	}
	if variants != len(lines)/2 {
		t.Errorf("%d of %d lines have a variant, want every other one", variants, len(lines))
	}
}

func TestCheckSFAnswer(t *testing.T) {
	t.Parallel()
	answer := func(lines, items int, extra string) string {
		l := make([]string, lines)
		for i := range l {
			l[i] = fmt.Sprintf(`{"product_id":"p%d","quantity":1}`, i)
		}
		w := make([]string, items)
		for i := range w {
			w[i] = fmt.Sprintf(`"w%d"`, i)
		}
		return fmt.Sprintf(`{"user":{},"access_token":"jwt","cart":{"items":[%s]},"wishlist":[%s]%s}`,
			strings.Join(l, ","), strings.Join(w, ","), extra)
	}
	tests := []struct {
		name        string
		body        string
		lines       int
		items       int
		wantToken   string
		wantClass   string
		description string
	}{
		{name: "as expected", body: answer(40, 20, `,"dropped":[],"merge_pending":false`), lines: 40, items: 20, wantToken: "jwt"},
		{name: "an empty cart", body: answer(0, 0, `,"dropped":[],"merge_pending":false`), wantToken: "jwt"},
		{name: "a line short", body: answer(39, 20, `,"dropped":[]`), lines: 40, items: 20, wantToken: "jwt", wantClass: classSFWrongSize},
		{name: "an item short", body: answer(40, 19, `,"dropped":[]`), lines: 40, items: 20, wantToken: "jwt", wantClass: classSFWrongSize},
		{name: "cart full", body: answer(100, 20, `,"dropped":[{"list":"cart","index":19,"reason":"cart_full"}]`), lines: 100, items: 20, wantToken: "jwt", wantClass: classSFDropped},
		{name: "merge pending", body: answer(20, 10, `,"dropped":[],"merge_pending":true`), lines: 20, items: 10, wantToken: "jwt", wantClass: classSFPending},
		{name: "not a storefront", body: `{"access_token":"jwt","user":{}}`, wantToken: "jwt", wantClass: classSFNoCart},
		{name: "no token", body: answer(0, 0, ""), wantClass: classSFUnreadable},
		{name: "not JSON", body: `<html>`, wantClass: classSFUnreadable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			body := tt.body
			if tt.name == "no token" {
				body = strings.Replace(body, `"access_token":"jwt",`, "", 1)
			}
			token, class := checkSFAnswer([]byte(body), tt.lines, tt.items)
			if token != tt.wantToken || class != tt.wantClass {
				t.Errorf("checkSFAnswer = %q, %q; want %q, %q", token, class, tt.wantToken, tt.wantClass)
			}
		})
	}
}

func TestSFUserAnswered(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                  string
		kind                  sfKind
		class                 string
		count, stored         int
		dirty, retired, wants bool
	}{
		{name: "a cart login merged", kind: sfCart, count: 3, stored: 60},
		{name: "a plain login read", kind: sfPlain, count: 2, stored: 40},
		{name: "a wrong cart: unknown until reset", kind: sfCart, class: classSFWrongSize, count: 2, stored: 60, dirty: true},
		{name: "a 500: unknown until reset", kind: sfPlain, class: "500", count: 2, stored: 40, dirty: true},
		{name: "a timeout: the server may still merge", kind: sfCart, class: classTimeout, count: 2, stored: 60, retired: true, wants: true},
		{name: "merge pending: retried in the background", kind: sfCart, class: classSFPending, count: 2, stored: 60, retired: true, wants: true},
		{name: "a plain login's timeout too", kind: sfPlain, class: classTimeout, count: 2, stored: 40, retired: true, wants: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			u := &sfUser{count: 2, stored: 40}
			got := u.answered(tt.kind, tt.class)
			if got != tt.wants || u.count != tt.count || u.stored != tt.stored || u.dirty != tt.dirty || u.retired != tt.retired {
				t.Errorf("retired %v, count %d, stored %d, dirty %v, retired %v; want %v, %d, %d, %v, %v",
					got, u.count, u.stored, u.dirty, u.retired, tt.wants, tt.count, tt.stored, tt.dirty, tt.retired)
			}
		})
	}
}

func TestTallySFInFlight(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	login := func(kind sfKind, from, to int) sfRecord {
		return sfRecord{Kind: kind, End: at(to), Latency: at(to).Sub(at(from))}
	}
	windows := []sfWindow{{Kind: sfPlain, From: at(1000), End: at(3000)}, {Kind: sfCart, From: at(5000), End: at(6000)}}
	recs := []sfRecord{
		login(sfPlain, 500, 2000),  // 1s in the window
		login(sfPlain, 1500, 2500), // 1s
		login(sfPlain, 2500, 4000), // 0.5s, answered after the window
		login(sfCart, 4500, 7000),  // the whole cart window
		login(sfCart, 1000, 2000),  // a cart login in a plain window: not plain's
		{Reset: true, End: at(2000), Latency: time.Second},
	}
	got := tallySF(windows, recs)
	if p, c := got.Kinds[sfPlain].InFlight, got.Kinds[sfCart].InFlight; p != 1.25 || c != 1 {
		t.Errorf("in flight: plain %v, cart %v; want 1.25 (2.5s over 2s), 1", p, c)
	}
}

func TestNextUsable(t *testing.T) {
	t.Parallel()
	users := []*sfUser{{count: 5}, {dirty: true}, {count: 2, retired: true}, {count: 2}, {count: 0}}
	cur := 0
	if u := nextUsable(users, &cur, 5); u != users[3] || cur != 3 {
		t.Fatalf("got user %d, want the first with room, known and not retired (3)", cur)
	}
	users[3].count = 5
	if u := nextUsable(users, &cur, 5); u != users[4] || cur != 4 {
		t.Fatalf("got user %d, want 4", cur)
	}
	users[4].dirty = true
	if u := nextUsable(users, &cur, 5); u != nil {
		t.Errorf("got a user when all are full or dirty")
	}
}

func TestTallySF(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	windows := []sfWindow{
		{Kind: sfPlain, Switch: at(0), From: at(1000), End: at(3000), ServerCPU: 2 * time.Second, GenCPU: 100 * time.Millisecond, ServerKnown: true},
		{Kind: sfCart, Switch: at(3000), From: at(5000), End: at(7000), ServerCPU: 3 * time.Second, GenCPU: 100 * time.Millisecond, ServerKnown: true},
		{Kind: sfCart, Switch: at(7000), From: at(8000), End: at(10000), ServerCPU: 3 * time.Second, GenCPU: 100 * time.Millisecond, ServerKnown: true},
		{Kind: sfPlain, Switch: at(10000), From: at(12000), End: at(14000), ServerCPU: time.Second, GenCPU: 100 * time.Millisecond, ServerKnown: true},
	}
	var recs []sfRecord
	add := func(n int, r sfRecord) {
		for range n {
			recs = append(recs, r)
		}
	}
	add(40, sfRecord{Kind: sfPlain, End: at(1500), Latency: time.Second})
	add(1, sfRecord{Kind: sfPlain, End: at(2999), Latency: 3 * time.Second, Class: class503RetryAfter})
	add(20, sfRecord{Kind: sfPlain, End: at(12000), Latency: time.Second}) // at the window's opening: in
	add(10, sfRecord{Kind: sfCart, End: at(5500), Latency: 2 * time.Second, Before: 0})
	add(10, sfRecord{Kind: sfCart, End: at(6500), Latency: 2 * time.Second, Before: 40})
	add(10, sfRecord{Kind: sfCart, End: at(9000), Latency: 2 * time.Second, Before: 80})
	add(1, sfRecord{Kind: sfCart, End: at(9100), Latency: 2 * time.Second, Class: classSFWrongSize})
	// Outside every window: in a gap, at a window's close, after the last.
	add(5, sfRecord{Kind: sfCart, End: at(4000), Latency: time.Second})
	add(2, sfRecord{Kind: sfCart, End: at(3000), Latency: time.Second, Class: classTimeout})
	add(1, sfRecord{Kind: sfPlain, End: at(15000), Latency: time.Second, Class: classSFPending})
	add(3, sfRecord{Reset: true, End: at(4500)})
	add(1, sfRecord{Reset: true, End: at(4600), Class: "503"})
	// Spill: the other kind, and a reset, answered inside a window.
	add(1, sfRecord{Kind: sfPlain, End: at(5100), Latency: 4 * time.Second})
	add(1, sfRecord{Reset: true, End: at(13000)})

	got := tallySF(windows, recs)
	plain, cart := got.Kinds[sfPlain], got.Kinds[sfCart]
	if plain.Windows != 2 || plain.Wall != 4*time.Second || plain.Requests != 61 || plain.OK != 60 || plain.ServerCPU != 3*time.Second || plain.GenCPU != 200*time.Millisecond || !plain.ServerKnown {
		t.Errorf("plain: %d windows, wall %s, %d requests, %d ok, cpu %s, gen %s, known %v; want 2, 4s, 61, 60, 3s, 200ms, true",
			plain.Windows, plain.Wall, plain.Requests, plain.OK, plain.ServerCPU, plain.GenCPU, plain.ServerKnown)
	}
	if cart.Windows != 2 || cart.Requests != 31 || cart.OK != 30 || cart.ServerCPU != 6*time.Second || cart.LinesBefore != 1200 {
		t.Errorf("cart: %d windows, %d requests, %d ok, cpu %s, lines before %d; want 2, 31, 30, 6s, 1200",
			cart.Windows, cart.Requests, cart.OK, cart.ServerCPU, cart.LinesBefore)
	}
	// Each window's CPU over its successful logins: 2s/40, 1s/20; 3s/20, 3s/10.
	if want := []float64{50, 50}; !slices.Equal(plain.PerLoginMS, want) {
		t.Errorf("plain per-slice CPU %v, want %v", plain.PerLoginMS, want)
	}
	if want := []float64{150, 300}; !slices.Equal(cart.PerLoginMS, want) {
		t.Errorf("cart per-slice CPU %v, want %v", cart.PerLoginMS, want)
	}
	if plain.Errors[class503RetryAfter] != 1 || cart.Errors[classSFWrongSize] != 1 || len(plain.Errors)+len(cart.Errors) != 2 {
		t.Errorf("errors: plain %v, cart %v", plain.Errors, cart.Errors)
	}
	if got.Spill != 2 {
		t.Errorf("spill %d, want 2 (a plain login in a cart window, a reset)", got.Spill)
	}
	if want := (errorCounts{classTimeout: 2, classSFPending: 1}); !maps.Equal(got.Unrecorded, want) {
		t.Errorf("unrecorded errors %v, want %v", got.Unrecorded, want)
	}
	if want := (errorCounts{"503": 1}); !maps.Equal(got.ResetErrors, want) {
		t.Errorf("reset errors %v, want %v", got.ResetErrors, want)
	}
	if len(cart.Sorted) != 31 || !slices.IsSorted(cart.Sorted) {
		t.Errorf("cart latencies: %d, sorted %v", len(cart.Sorted), slices.IsSorted(cart.Sorted))
	}
	s := cart.sample()
	if s.Wall != 4*time.Second || s.OK != 30 || s.Requests != 31 || s.ServerCPU != 6*time.Second || !s.ServerKnown {
		t.Errorf("sample %+v", s)
	}

	unknown := tallySF([]sfWindow{{Kind: sfPlain, From: at(0), End: at(1000)}}, nil)
	if unknown.Kinds[sfPlain].ServerKnown || unknown.Kinds[sfCart].ServerKnown {
		t.Error("server CPU known without a reading, or for a kind without windows")
	}
}

// sfFigures are a plain and a cart phase of 2 s windows, with server CPU
// per login plainMS and cartMS, beside the hash's 30 ms.
func sfFigures(plainMS, cartMS float64, plainErrs, cartErrs errorCounts) (PhaseFigures, PhaseFigures) {
	mk := func(name, label string, perMS float64, errs errorCounts) PhaseFigures {
		s := sample{Wall: 4 * time.Second, OK: 100, Requests: 100 + errs.Total(), Sorted: durations(1, 2), Errors: errs,
			ServerCPU: time.Duration(perMS * 100 * float64(time.Millisecond)), ServerKnown: true}
		f := phaseFigures(name, label, 64, 2, s)
		f.setRatio("hash_limit", 50)
		f.setLoginCPU(s, 30*time.Millisecond)
		return f
	}
	return mk(phaseSFPlain, "storefront login ×64", plainMS, plainErrs), mk(phaseSFCart, "storefront +cart ×64", cartMS, cartErrs)
}

func TestStorefrontCompare(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name            string
		plainMS, cartMS float64
		plainErrs       errorCounts
		cartErrs        errorCounts
		sf              StorefrontFigures
		wantMerge       *float64
		verdict         string
		misses          []string
	}{
		{name: "within the target", plainMS: 45, cartMS: 46, wantMerge: ptr(1.0), verdict: "pass"},
		{name: "over it", plainMS: 45, cartMS: 46.2, wantMerge: ptr(1.2), verdict: "miss", misses: []string{"cpu"}},
		{name: "cheaper with a cart: noise", plainMS: 45, cartMS: 44.5, wantMerge: ptr(-0.5), verdict: "pass"},
		{name: "the hash pool's 503 is allowed", plainMS: 45, cartMS: 45.5, cartErrs: errorCounts{class503RetryAfter: 3}, wantMerge: ptr(0.5), verdict: "pass"},
		{name: "a wrong cart is an error", plainMS: 45, cartMS: 45.5, cartErrs: errorCounts{classSFWrongSize: 1}, wantMerge: ptr(0.5), verdict: "miss", misses: []string{"errors"}},
		{name: "so is one outside the windows", plainMS: 45, cartMS: 45.5, sf: StorefrontFigures{UnrecordedErrors: map[string]int{classTimeout: 1}}, wantMerge: ptr(0.5), verdict: "miss", misses: []string{"errors"}},
		{name: "and a failed reset", plainMS: 45, cartMS: 45.5, sf: StorefrontFigures{ResetErrors: map[string]int{"503": 1}}, wantMerge: ptr(0.5), verdict: "miss", misses: []string{"errors"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			plain, cart := sfFigures(tt.plainMS, tt.cartMS, orNone(tt.plainErrs), orNone(tt.cartErrs))
			sf := tt.sf
			sf.compare(plain, &cart)
			if !equalPtr(sf.MergeCPUMS, tt.wantMerge) {
				t.Errorf("merge %v, want %v", deref(sf.MergeCPUMS), deref(tt.wantMerge))
			}
			if sf.Verdict != tt.verdict || !slices.Equal(sf.Misses, tt.misses) || cart.Verdict != tt.verdict {
				t.Errorf("verdict %q (cart row %q), misses %v; want %q, %v", sf.Verdict, cart.Verdict, sf.Misses, tt.verdict, tt.misses)
			}
			if sf.TargetMS != 1 || !strings.Contains(cart.Target, "1ms") || plain.Verdict != "" {
				t.Errorf("target %v ms, cart row %q, plain row verdict %q", sf.TargetMS, cart.Target, plain.Verdict)
			}
		})
	}

	t.Run("unknown without server CPU", func(t *testing.T) {
		t.Parallel()
		plain, cart := sfFigures(45, 46, errorCounts{}, errorCounts{})
		plain.ServerCPUPerLoginMS = nil
		var sf StorefrontFigures
		sf.compare(plain, &cart)
		if sf.MergeCPUMS != nil || sf.Verdict != "unknown" || !slices.Equal(sf.Misses, []string{"cpu"}) {
			t.Errorf("merge %v, verdict %q, misses %v; want none, unknown, [cpu]", deref(sf.MergeCPUMS), sf.Verdict, sf.Misses)
		}
	})

	t.Run("standard error and split", func(t *testing.T) {
		t.Parallel()
		plain, cart := sfFigures(40, 50, errorCounts{}, errorCounts{})
		plain.setCPUSplit(cpuSplit{CPU: [numCPUClasses]time.Duration{classStore: 1, classPortcullis: 3}, Samples: 4})
		cart.setCPUSplit(cpuSplit{CPU: [numCPUClasses]time.Duration{classStore: 2, classRuntime: 1, classPortcullis: 2}, Samples: 5})
		// Variances 1 and 4 over 3 slices each: √(1/3 + 4/3) = 1.291.
		sf := StorefrontFigures{PlainSliceCPUMS: []float64{39, 40, 41}, CartSliceCPUMS: []float64{48, 50, 52}}
		sf.compare(plain, &cart)
		if sf.MergeCPUStderrMS == nil || *sf.MergeCPUStderrMS != 1.291 {
			t.Errorf("standard error %v, want 1.291", deref(sf.MergeCPUStderrMS))
		}
		// Plain: store 10, Portcullis 30 of 40; cart: store 20, runtime 10, Portcullis 20 of 50.
		want := MergeSplitFigures{StoreStandInMS: 10, GCRuntimeMS: 10, PortcullisMS: -10}
		if sf.MergeCPUSplit == nil || *sf.MergeCPUSplit != want {
			t.Errorf("split %+v, want %+v", sf.MergeCPUSplit, want)
		}
		one := StorefrontFigures{PlainSliceCPUMS: []float64{40}, CartSliceCPUMS: []float64{48, 52}}
		one.compare(plain, &cart)
		if one.MergeCPUStderrMS != nil {
			t.Error("a standard error from a single slice")
		}
	})
}

func orNone(e errorCounts) errorCounts {
	if e == nil {
		return errorCounts{}
	}
	return e
}

func equalPtr(a, b *float64) bool {
	if a == nil || b == nil {
		return a == b
	}
	return math.Abs(*a-*b) < 1e-9
}

func deref(p *float64) any {
	if p == nil {
		return nil
	}
	return *p
}

// testStorefrontReport is testReport with a storefront phase.
func testStorefrontReport() *Report {
	plain, cart := sfFigures(44, 45.2, errorCounts{}, errorCounts{classSFWrongSize: 2})
	plain.setCPUSplit(cpuSplit{CPU: [numCPUClasses]time.Duration{classStore: 1, classPortcullis: 3}, Samples: 400, Duration: 4 * time.Second})
	cart.setCPUSplit(cpuSplit{CPU: [numCPUClasses]time.Duration{classStore: 1, classPortcullis: 1}, Samples: 410, Duration: 4 * time.Second})
	sf := &StorefrontFigures{
		TenantHost: "bench-shop.localhost", Concurrency: 64, SlicesPerKind: 10, Order: "plain, cart, cart, plain, …",
		SettleSeconds: 1, WindowSeconds: 2, MeanGapSeconds: 2.5, MaxGapSeconds: 4,
		Users: 192, UsersPerWorker: 3, Cycle: 5, CartLines: sfCartLines, WishlistItems: sfWishlistItems, Case: sfCase(5),
		PlainInFlight: 63.5, CartInFlight: 40, Exhausted: 12, ResetFailures: 3, RetiredUsers: 5,
		MeanLinesBefore: ptr(39.5), MaxStoredLines: 6400, Resets: 120, ResetErrors: map[string]int{}, UnrecordedErrors: map[string]int{classTimeout: 3},
		PlainSliceCPUMS: []float64{45, 45.5}, CartSliceCPUMS: []float64{46, 47},
	}
	sf.compare(plain, &cart)
	rep := testReport()
	rep.Hash.ParallelCPUMS = 30
	rep.Phases = append(rep.Phases, plain, cart)
	rep.Storefront = sf
	return rep
}

func TestReportStorefront(t *testing.T) {
	t.Parallel()
	rep := testStorefrontReport()
	var b bytes.Buffer
	rep.writeTable(&b)
	out := b.String()
	for _, want := range []string{
		"storefront login ×64", "storefront +cart ×64", "merge ≤1ms CPU", "miss: cpu,errors",
		"cpu:    storefront login ×64: 44.0ms server CPU per login, 14.0ms beyond the 30.0ms of a hash",
		"cpu:    storefront +cart ×64: 45.2ms server CPU per login, 15.2ms beyond the 30.0ms of a hash",
		"        of the 44.0ms: store stand-in 11.0ms, redis stand-in 0.00ms, GC and runtime 0.00ms, Portcullis 33.0ms (from the windows' CPU profiles,\n" +
			"        400 samples, 0.0s of CPU over 4.0s)\n",
		"storefront: tenant bench-shop.localhost, concurrency 64, 10+10 slices in the order plain, cart, cart, plain, …",
		"settles 1.0s and records a 2.0s window (gap from the switch\n        to the window: mean 2.5s, at most 4.0s)",
		"case:   each cart login merges 20 new lines and 10 new wishlist items into a cart of 0–80 lines (mean 39.5) and a\n" +
			"        wishlist of 0–40 items: each of 192 users (3 per worker) takes 5 cart logins, then is emptied in a gap (120 resets);\n" +
			"        plain logins log the same users in without a cart and read carts of the same sizes; at most 6400 cart lines stored\n",
		"merge:  storefront +cart ×64 − storefront login ×64 = 1.20ms server CPU per login (standard error 0.56ms over the slices); target ≤1.00ms: miss\n",
		"        of which store stand-in 11.6ms, redis stand-in 0.00ms, GC and runtime 0.00ms, Portcullis −10.4ms (the two kinds' CPU splits)\n",
		"        mean logins in flight in the windows: 63.5 plain, 40.0 cart, of 64 workers\n",
		"note:   storefront: fewer logins were in flight than the 64 workers (in 12 slices a worker had no user",
		"note:   storefront: 3 resets failed (their users were tried again at the next slice); 5 users were retired\n",
		"note:   storefront: 3 requests timed out or answered merge_pending: the server was overloaded",
		"errors: storefront +cart ×64: 200:wrong_cart 2",
		"errors: storefront logins answered outside the windows: transport:timeout 3",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "cpu/req: ") && strings.Contains(out[strings.Index(out, "cpu/req: "):], "storefront") {
		t.Errorf("storefront logins in the per-request CPU line:\n%s", out)
	}

	b.Reset()
	if err := rep.writeJSON(&b); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Schema     string           `json:"schema"`
		Phases     []map[string]any `json:"phases"`
		Storefront map[string]any   `json:"storefront"`
	}
	if err := json.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Schema != "portcullis-load/6" {
		t.Errorf("schema %q", doc.Schema)
	}
	names := []string{}
	for _, p := range doc.Phases {
		names = append(names, p["name"].(string))
	}
	if !slices.Contains(names, "storefront_login") || !slices.Contains(names, "storefront_login_cart") {
		t.Errorf("phases %v lack the storefront ones", names)
	}
	cart := doc.Phases[len(doc.Phases)-1]
	if cart["server_cpu_per_login_ms"] != 45.2 || cart["cpu_per_login_beyond_hash_ms"] != 15.2 || cart["verdict"] != "miss" {
		t.Errorf("cart phase: cpu %v, beyond %v, verdict %v", cart["server_cpu_per_login_ms"], cart["cpu_per_login_beyond_hash_ms"], cart["verdict"])
	}
	sfDoc := doc.Storefront
	for k, v := range map[string]any{
		"merge_cpu_ms": 1.2, "merge_cpu_ms_stderr": 0.559, "target_ms": 1.0, "verdict": "miss", "tenant_host": "bench-shop.localhost",
		"concurrency": 64.0, "slices_per_kind": 10.0, "cart_lines_per_login": 20.0, "wishlist_items_per_login": 10.0,
		"cart_logins_between_resets": 5.0, "mean_cart_lines_before_merge": 39.5, "max_cart_lines_stored": 6400.0,
		"plain_mean_in_flight": 63.5, "cart_mean_in_flight": 40.0, "retired_users": 5.0, "worker_slices_without_user": 12.0,
	} {
		if sfDoc[k] != v {
			t.Errorf("storefront.%s = %v, want %v", k, sfDoc[k], v)
		}
	}
	for _, k := range []string{"case", "merge_cpu_split", "plain_slice_cpu_per_login_ms", "cart_slice_cpu_per_login_ms", "unrecorded_errors", "reset_errors", "spill", "mean_gap_seconds"} {
		if _, ok := sfDoc[k]; !ok {
			t.Errorf("storefront lacks %q", k)
		}
	}

	// A healthy run has none of the notes.
	healthy := testStorefrontReport()
	sf := healthy.Storefront
	sf.PlainInFlight, sf.CartInFlight, sf.Exhausted, sf.ResetFailures, sf.RetiredUsers, sf.UnrecordedErrors = 63, 62, 0, 0, 0, map[string]int{}
	b.Reset()
	healthy.writeTable(&b)
	for _, unwanted := range []string{"fewer logins were in flight", "resets failed", "overloaded", "answered inside a window"} {
		if strings.Contains(b.String(), unwanted) {
			t.Errorf("a healthy run's table says %q:\n%s", unwanted, b.String())
		}
	}

	// Without the phase, no storefront member.
	b.Reset()
	if err := testReport().writeJSON(&b); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), `"storefront"`) {
		t.Error("a report without the storefront phase has a storefront member")
	}
}

func TestShopTenantFile(t *testing.T) {
	t.Parallel()
	hash := tenant.HashParams{MemoryKiB: 8192, Iterations: 3, Parallelism: 1}
	b, err := tenantYAML(shopTenant("bench-shop.localhost", hash))
	if err != nil {
		t.Fatal(err)
	}
	got, err := config.ParseTenantYAML(b, shopTenantID+".yaml")
	if err != nil {
		t.Fatalf("the server's parser refuses the storefront tenant: %v\n%s", err, b)
	}
	if got.ID != shopTenantID || len(got.Domains) != 1 || got.Domains[0] != "bench-shop.localhost" || !got.Enabled(tenant.MethodPassword) {
		t.Errorf("id %q, domains %v, password %v", got.ID, got.Domains, got.Enabled(tenant.MethodPassword))
	}
	if !got.Storefront.Enabled || got.Storefront.Limits() != storefront.DefaultLimits() || got.Storefront.Webhook.Configured() {
		t.Errorf("storefront %+v, want enabled with the default limits and no webhook", got.Storefront)
	}
	if got.Password.Hash != hash || got.Throttling.LoginPerAccount != highLimit {
		t.Errorf("hash %+v, login_per_account %+v: not the bench tenant's settings", got.Password.Hash, got.Throttling.LoginPerAccount)
	}
	// The default cycle fills a cart to max_lines, not past it.
	if n := got.Storefront.MaxLines / sfCartLines; n != 5 {
		t.Errorf("max_lines allows %d cart logins between resets; -storefront-cycle's default and the docs say 5", n)
	}
}

func TestParseFlagsStorefront(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		err  string
	}{
		{name: "defaults", args: nil},
		{name: "the storefront alone", args: []string{"-phases", "storefront", "-storefront-cycle", "1", "-storefront-settle", "0s"}},
		{name: "a cycle past max_lines", args: []string{"-storefront-cycle", "6"}, err: "-storefront-cycle"},
		{name: "no cycle", args: []string{"-storefront-cycle", "0"}, err: "-storefront-cycle"},
		{name: "no window", args: []string{"-storefront-window", "0s"}, err: "-storefront-window"},
		{name: "an unknown phase", args: []string{"-phases", "shop"}, err: "unknown phase"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			o, err := parseFlags(tt.args, &bytes.Buffer{})
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want one with %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.args == nil && (o.StorefrontHost != "bench-shop.localhost" || o.SFCycle != 5 || o.SFWindow != 2*time.Second || o.SFSettle != time.Second || len(o.Phases) != len(allGroups)) {
				t.Errorf("defaults %+v", o)
			}
		})
	}
}

// fakeShop is a storefront's login and cart routes as the phase uses
// them: it keeps each user's cart and wishlist sizes, adds a login's local
// ones (the harness's ids are always new), and empties them on a PUT.
type fakeShop struct {
	mu     sync.Mutex
	lines  map[string]int
	items  map[string]int
	puts   int
	broken map[string]bool // users whose PUTs answer 503
}

func (f *fakeShop) handle(ctx *fasthttp.RequestCtx) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ctx.SetContentType("application/json")
	switch path := string(ctx.Path()); {
	case ctx.IsPost() && path == pathLogin:
		var b sfBody
		if err := json.Unmarshal(ctx.PostBody(), &b); err != nil {
			ctx.SetStatusCode(fasthttp.StatusBadRequest)
			return
		}
		if b.Cart != nil {
			f.lines[b.Email] += len(b.Cart.Items)
		}
		f.items[b.Email] += len(b.Wishlist)
		lines := make([]cartLine, f.lines[b.Email])
		for i := range lines {
			lines[i] = cartLine{ProductID: fmt.Sprint("p", i), Quantity: 1}
		}
		wish := make([]string, f.items[b.Email])
		for i := range wish {
			wish[i] = fmt.Sprint("w", i)
		}
		ctx.SetBody(mustJSON(map[string]any{"access_token": "t:" + b.Email, "cart": map[string]any{"items": lines},
			"wishlist": wish, "dropped": []any{}, "merge_pending": false}))
	case ctx.IsPut() && (path == pathCart || path == pathWishlist):
		email, ok := strings.CutPrefix(string(ctx.Request.Header.Peek("Authorization")), "Bearer t:")
		if !ok {
			ctx.SetStatusCode(fasthttp.StatusUnauthorized)
			return
		}
		if f.broken[email] {
			ctx.SetStatusCode(fasthttp.StatusServiceUnavailable)
			return
		}
		if path == pathCart {
			f.lines[email] = 0
		} else {
			f.items[email] = 0
		}
		f.puts++
		ctx.SetBodyString(`{}`)
	default:
		ctx.SetStatusCode(fasthttp.StatusNotFound)
	}
}

// startFakeShop serves shop on a port of 127.0.0.1, each request after
// delay.
func startFakeShop(t *testing.T, shop *fakeShop, delay time.Duration) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		time.Sleep(delay)
		shop.handle(ctx)
	}}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Shutdown() })
	return ln.Addr().String()
}

func TestSFResetFull(t *testing.T) {
	t.Parallel()
	users := newSFUsers("shop-", 1, 4, 2)[0]
	shop := &fakeShop{lines: map[string]int{}, items: map[string]int{}, broken: map[string]bool{users[1].Email: true}}
	r := &sfRun{addr: startFakeShop(t, shop, 0), host: "shop.test", timeout: 5 * time.Second, cycle: 2}
	hc := newClient(r.addr, 1, r.timeout)
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)

	// 0: full; 1: dirty, and its PUTs fail; 2: full, never logged in (no
	// token); 3: part-used, left alone.
	tok := func(u *sfUser) string { return "Bearer t:" + u.Email }
	users[0].count, users[0].stored, users[0].token = 2, 40, tok(users[0])
	users[1].count, users[1].dirty, users[1].stored, users[1].token = 1, true, 40, tok(users[1])
	users[2].count, users[2].stored = 2, 40
	users[3].count, users[3].stored, users[3].token = 1, 20, tok(users[3])
	r.lines.Store(140)

	recs := r.resetFull(hc, req, resp, users, nil)
	if users[0].count != 0 || users[0].stored != 0 || !users[1].dirty || users[1].failedResets != 1 || users[2].count != 2 {
		t.Fatalf("after one switch: user 0 count %d stored %d, user 1 dirty %v failed %d, user 2 count %d; "+
			"want 0 emptied, 1 failed, 2 left to the next switch", users[0].count, users[0].stored, users[1].dirty, users[1].failedResets, users[2].count)
	}
	if len(recs) != 4 || recs[2].Class != "503" || !recs[2].Reset {
		t.Errorf("records %+v, want 2 PUTs of user 0 and 2 failed ones of user 1", recs)
	}
	if r.resets.Load() != 1 || r.resetFailures.Load() != 1 || r.lines.Load() != 100 {
		t.Errorf("resets %d, failures %d, lines %d; want 1, 1, 100", r.resets.Load(), r.resetFailures.Load(), r.lines.Load())
	}
	_ = r.resetFull(hc, req, resp, users, nil)
	_ = r.resetFull(hc, req, resp, users, nil)
	if !users[1].retired || r.retired.Load() != 1 {
		t.Fatalf("user 1 retired %v after %d failed resets", users[1].retired, users[1].failedResets)
	}
	_ = r.resetFull(hc, req, resp, users, nil)
	if users[2].count != 0 || users[2].token != tok(users[2]) || users[3].count != 1 || r.resets.Load() != 2 {
		t.Errorf("user 2 count %d token %q, user 3 count %d, resets %d; want 2 logged in for a token and emptied, 3 left alone, 2 resets",
			users[2].count, users[2].token, users[3].count, r.resets.Load())
	}
}

// TestSFRunAgainstFake runs the phase's loop against fakeShop: every
// answer matches what the harness expects, full users are emptied, and no
// request of another kind is answered inside a window.
func TestSFRunAgainstFake(t *testing.T) {
	t.Parallel()
	shop := &fakeShop{lines: map[string]int{}, items: map[string]int{}}
	addr := startFakeShop(t, shop, 20*time.Millisecond) // a login takes a while: a worker makes a few in a slice

	// A slice's settling and window hold about 6 logins of a worker, and
	// it goes on while the others reset theirs at the switch (two PUTs
	// of 20 ms per full user): its 8 users hold at least 15 cart logins
	// after the resets.
	const workers, perWorker, cycle = 3, 8, 2
	r := &sfRun{addr: addr, host: "shop.test", timeout: 5 * time.Second, cycle: cycle, slices: 4,
		settle: 20 * time.Millisecond, window: 100 * time.Millisecond, users: newSFUsers("shop-", workers, perWorker, cycle)}
	res := r.run(context.Background())
	if len(res.Windows) != 4 {
		t.Fatalf("%d windows, want 4", len(res.Windows))
	}
	for k, w := range res.Windows {
		if w.Kind != sfKindOf(k) || w.From.Before(w.Switch) || !w.End.After(w.From) || w.ServerKnown {
			t.Errorf("window %d: %+v", k, w)
		}
	}
	tally := tallySF(res.Windows, res.Records)
	for _, k := range []sfKind{sfPlain, sfCart} {
		if kt := tally.Kinds[k]; kt.OK == 0 || kt.Errors.Total() != 0 || kt.InFlight < 2.5 || kt.InFlight > 3.01 {
			t.Errorf("%s: %d ok, errors %v, %.2f in flight (of 3 workers)", k, kt.OK, kt.Errors, kt.InFlight)
		}
	}
	if tally.Spill != 0 || tally.Unrecorded.Total() != 0 || tally.ResetErrors.Total() != 0 {
		t.Errorf("spill %d, unrecorded %v, reset errors %v; want none", tally.Spill, tally.Unrecorded, tally.ResetErrors)
	}
	// The cart slices (1 and 2) fill users: the second one's start empties
	// those that are full.
	shop.mu.Lock()
	puts := shop.puts
	shop.mu.Unlock()
	if res.Resets == 0 || puts != 2*res.Resets || res.ResetFailures != 0 || res.Exhausted != 0 {
		t.Errorf("%d resets, %d PUTs, %d failures, %d slices without a user; want some, two PUTs each, none, none",
			res.Resets, puts, res.ResetFailures, res.Exhausted)
	}
	for _, rec := range res.Records {
		if !rec.Reset && rec.Kind == sfCart && (rec.Before < 0 || rec.Before > (cycle-1)*sfCartLines || rec.Before%sfCartLines != 0) {
			t.Errorf("a cart login merged into %d lines, outside 0..%d", rec.Before, (cycle-1)*sfCartLines)
		}
	}
	if res.MaxLines < sfCartLines || res.MaxLines > workers*perWorker*cycle*sfCartLines {
		t.Errorf("at most %d lines stored, want between %d and %d", res.MaxLines, sfCartLines, workers*perWorker*cycle*sfCartLines)
	}
}
