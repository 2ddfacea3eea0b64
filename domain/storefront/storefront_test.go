package storefront_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/domain/errs"
	"github.com/portcullis/portcullis/domain/storefront"
)

type (
	line    = storefront.Line
	cart    = storefront.Cart
	dropped = storefront.Dropped
)

func c(lines ...line) cart { return cart{Lines: lines} }

func l(product, variant string, q int) line {
	return line{ProductID: product, VariantID: variant, Quantity: q}
}

var small = storefront.Limits{MaxQuantity: 10, MaxLines: 3, MaxWishlist: 3, MaxIDLength: 8}

func TestMergeCart(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name          string
		server, local cart
		limits        storefront.Limits
		want          cart
		dropped       []dropped
	}{
		{name: "both empty", want: cart{Lines: []line{}}},
		{name: "local into empty", local: c(l("a", "", 1), l("b", "x", 2)), want: c(l("a", "", 1), l("b", "x", 2))},
		{name: "server kept when local is empty", server: c(l("a", "", 3)), want: c(l("a", "", 3))},
		{name: "same line: the larger quantity, not the sum", server: c(l("a", "", 3)), local: c(l("a", "", 2)), want: c(l("a", "", 3))},
		{name: "same line: a larger local quantity wins", server: c(l("a", "", 3)), local: c(l("a", "", 5)), want: c(l("a", "", 5))},
		{name: "another variant is another line", server: c(l("a", "red", 1)), local: c(l("a", "blue", 1), l("a", "", 1)),
			want: c(l("a", "red", 1), l("a", "blue", 1), l("a", "", 1))},
		{name: "server lines first, then new local lines in their order", server: c(l("s1", "", 1), l("s2", "", 1)),
			local: c(l("n2", "", 1), l("s1", "", 4), l("n1", "", 1)), limits: storefront.DefaultLimits(),
			want: c(l("s1", "", 4), l("s2", "", 1), l("n2", "", 1), l("n1", "", 1))},
		{name: "a line listed twice counts once with the larger quantity", local: c(l("a", "", 2), l("b", "", 1), l("a", "", 7)),
			want: c(l("a", "", 7), l("b", "", 1))},
		{name: "quantity capped per line", server: c(l("a", "", 40)), local: c(l("b", "", 11), l("c", "", 10)),
			want: c(l("a", "", 10), l("b", "", 10), l("c", "", 10))},
		{name: "past the line cap: dropped and reported", server: c(l("a", "", 1), l("b", "", 1)), local: c(l("c", "", 1), l("d", "", 1), l("a", "", 9), l("e", "", 2)),
			want:    c(l("a", "", 9), l("b", "", 1), l("c", "", 1)),
			dropped: []dropped{{storefront.ListCart, 1, storefront.ReasonCartFull}, {storefront.ListCart, 3, storefront.ReasonCartFull}}},
		{name: "server over the cap (a lowered limit) is cut, unreported", server: c(l("a", "", 1), l("b", "", 1), l("c", "", 1), l("d", "", 1)),
			want: c(l("a", "", 1), l("b", "", 1), l("c", "", 1))},
		{name: "invalid lines dropped with their reasons, the rest merged",
			local: c(l("a", "", 0), l("", "", 1), l("b", "", -3), l("waytoolong", "", 1), l("c", "waytoolong", 1), l("d e", "", 1), l("f", "x|y", 1), l("ok", "v", 2)),
			want:  c(l("ok", "v", 2)),
			dropped: []dropped{
				{storefront.ListCart, 0, storefront.ReasonInvalidQuantity}, {storefront.ListCart, 1, storefront.ReasonMissingProductID},
				{storefront.ListCart, 2, storefront.ReasonInvalidQuantity}, {storefront.ListCart, 3, storefront.ReasonIDTooLong},
				{storefront.ListCart, 4, storefront.ReasonIDTooLong}, {storefront.ListCart, 5, storefront.ReasonInvalidID},
				{storefront.ListCart, 6, storefront.ReasonInvalidID},
			}},
		{name: "every allowed punctuation mark", local: c(l("a-_.:/@", "+=~#Z9", 1)), want: c(l("a-_.:/@", "+=~#Z9", 1))},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			limits := tc.limits
			if limits == (storefront.Limits{}) {
				limits = small
			}
			got, d := storefront.MergeCart(tc.server, tc.local, limits)
			if !equalCart(got, tc.want) {
				t.Errorf("cart = %v, want %v", got.Lines, tc.want.Lines)
			}
			if !slices.Equal(d, tc.dropped) {
				t.Errorf("dropped = %v, want %v", d, tc.dropped)
			}
			again, d2 := storefront.MergeCart(got, tc.local, limits)
			if !equalCart(again, got) || !slices.Equal(d2, d) {
				t.Errorf("not idempotent: again %v %v", again.Lines, d2)
			}
		})
	}
}

func TestMergeWishlist(t *testing.T) {
	t.Parallel()
	w := func(ids ...string) storefront.Wishlist { return ids }
	cases := []struct {
		name          string
		server, local storefront.Wishlist
		want          storefront.Wishlist
		dropped       []dropped
	}{
		{name: "empty", want: w()},
		{name: "server then new local, no duplicates", server: w("a", "b"), local: w("c", "a", "c", "d"), want: w("a", "b", "c"),
			dropped: []dropped{{storefront.ListWishlist, 3, storefront.ReasonWishlistFull}}},
		{name: "a duplicate of a kept item is not dropped when full", server: w("a", "b", "c"), local: w("b", "z"), want: w("a", "b", "c"),
			dropped: []dropped{{storefront.ListWishlist, 1, storefront.ReasonWishlistFull}}},
		{name: "invalid items", local: w("", "toolongid", "a b", "ok"), want: w("ok"),
			dropped: []dropped{{storefront.ListWishlist, 0, storefront.ReasonMissingProductID}, {storefront.ListWishlist, 1, storefront.ReasonIDTooLong}, {storefront.ListWishlist, 2, storefront.ReasonInvalidID}}},
		{name: "server over the cap is cut", server: w("a", "b", "c", "d"), want: w("a", "b", "c")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, d := storefront.MergeWishlist(tc.server, tc.local, small)
			if !slices.Equal(got, tc.want) || !slices.Equal(d, tc.dropped) {
				t.Fatalf("got %v %v, want %v %v", got, d, tc.want, tc.dropped)
			}
			again, d2 := storefront.MergeWishlist(got, tc.local, small)
			if !slices.Equal(again, got) || !slices.Equal(d2, d) {
				t.Errorf("not idempotent: again %v %v", again, d2)
			}
		})
	}
}

func TestCleanKeepsOrderAndReportsIndexes(t *testing.T) {
	t.Parallel()
	got, d := storefront.CleanCart(c(l("a", "", 1), l("b", "", 0), l("a", "", 2), l("", "", 1)), small)
	if !equalCart(got, c(l("a", "", 1), l("a", "", 2))) {
		t.Errorf("clean cart = %v: duplicates are MergeCart's to fold, not Clean's", got.Lines)
	}
	if want := []dropped{{storefront.ListCart, 1, storefront.ReasonInvalidQuantity}, {storefront.ListCart, 3, storefront.ReasonMissingProductID}}; !slices.Equal(d, want) {
		t.Errorf("dropped = %v, want %v", d, want)
	}
	w, d := storefront.CleanWishlist(storefront.Wishlist{"x", "", "x"}, small)
	if !slices.Equal(w, storefront.Wishlist{"x", "x"}) || !slices.Equal(d, []dropped{{storefront.ListWishlist, 1, storefront.ReasonMissingProductID}}) {
		t.Errorf("clean wishlist = %v %v", w, d)
	}
}

func TestZeroLimitsMeanTheDefaults(t *testing.T) {
	t.Parallel()
	var local cart
	for i := range 150 {
		local.Lines = append(local.Lines, l(fmt.Sprint("p", i), "", 99))
	}
	got, d := storefront.MergeCart(cart{}, local, storefront.Limits{})
	if len(got.Lines) != storefront.DefaultMaxLines || got.Lines[0].Quantity != storefront.DefaultMaxQuantity || len(d) != 50 {
		t.Fatalf("%d lines, quantity %d, %d dropped; want the defaults 100, 10 and 50 dropped", len(got.Lines), got.Lines[0].Quantity, len(d))
	}
	if r := storefront.CheckID(strings.Repeat("x", 65), storefront.Limits{}); r != storefront.ReasonIDTooLong {
		t.Fatalf("a 65-byte id: %q", r)
	}
}

func TestCheckBounds(t *testing.T) {
	t.Parallel()
	many := cart{Lines: make([]line, storefront.MaxInputLines+1)}
	big := c(l(strings.Repeat("x", storefront.MaxInputBytes), "", 1))
	cases := []struct {
		name   string
		cart   cart
		wish   storefront.Wishlist
		fields []string
	}{
		{name: "at the bounds", cart: cart{Lines: make([]line, storefront.MaxInputLines)}, wish: make(storefront.Wishlist, storefront.MaxInputLines)},
		{name: "too many lines", cart: many, fields: []string{"cart"}},
		{name: "too many bytes", cart: big, fields: []string{"cart"}},
		{name: "wishlist too long", wish: make(storefront.Wishlist, storefront.MaxInputLines+1), fields: []string{"wishlist"}},
		{name: "wishlist too large", wish: storefront.Wishlist{strings.Repeat("y", storefront.MaxInputBytes)}, fields: []string{"wishlist"}},
		{name: "both", cart: many, wish: make(storefront.Wishlist, 10_000), fields: []string{"cart", "wishlist"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := storefront.CheckBounds(tc.cart, tc.wish)
			if tc.fields == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var e *errs.Error
			if !errors.As(err, &e) || e.Kind != errs.Invalid {
				t.Fatalf("got %v, want an Invalid error", err)
			}
			var fields []string
			for _, f := range e.Fields {
				fields = append(fields, f.Field)
			}
			if !slices.Equal(fields, tc.fields) {
				t.Fatalf("fields %v, want %v", fields, tc.fields)
			}
		})
	}
}

// TestMergeProperties checks the rules on many random carts (a fixed seed,
// a small alphabet so that lines collide): the result is valid and within
// the limits, every server line is kept with at least its quantity, every
// local line is merged with the larger quantity or reported, the order is
// server first, merging is idempotent, and merges of several locals, in
// any order, converge to the same lines and quantities while they fit.
func TestMergeProperties(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(12, 2026))
	limits := storefront.Limits{MaxQuantity: 6, MaxLines: 12, MaxWishlist: 12, MaxIDLength: 8}
	randomLine := func() line {
		q := rng.IntN(9) - 1 // -1..7: some invalid, some over the cap
		v := []string{"", "", "v1", "v2"}[rng.IntN(4)]
		p := fmt.Sprint("p", rng.IntN(10))
		if rng.IntN(20) == 0 {
			p = "bad id"
		}
		return l(p, v, q)
	}
	randomCart := func(n int) cart {
		var out cart
		for range rng.IntN(n + 1) {
			out.Lines = append(out.Lines, randomLine())
		}
		return out
	}
	randomWishlist := func(n int) storefront.Wishlist {
		var out storefront.Wishlist
		for range rng.IntN(n + 1) {
			out = append(out, fmt.Sprint("p", rng.IntN(16)))
		}
		return out
	}
	converged := 0
	for iter := range 3000 {
		server, _ := storefront.MergeCart(cart{}, randomCart(8), limits) // a valid server cart
		local := randomCart(10)
		got, d := storefront.MergeCart(server, local, limits)
		report := fmt.Sprintf("iteration %d:\nserver %v\nlocal %v\ngot %v\ndropped %v", iter, server.Lines, local.Lines, got.Lines, d)

		if len(got.Lines) > limits.MaxLines {
			t.Fatalf("over the line cap: %s", report)
		}
		pos := map[storefront.Key]int{}
		for i, ln := range got.Lines {
			if _, dup := pos[ln.Key()]; dup || storefront.CheckLine(ln, limits) != "" || ln.Quantity > limits.MaxQuantity {
				t.Fatalf("line %d invalid, duplicate or over the quantity cap: %s", i, report)
			}
			pos[ln.Key()] = i
		}
		for i, s := range server.Lines {
			if got.Lines[i].Key() != s.Key() || got.Lines[i].Quantity < s.Quantity {
				t.Fatalf("server line %d moved or lost quantity: %s", i, report)
			}
		}
		isDropped := map[int]storefront.Reason{}
		for _, x := range d {
			isDropped[x.Index] = x.Reason
		}
		want := map[storefront.Key]int{}
		for _, s := range server.Lines {
			want[s.Key()] = s.Quantity
		}
		lastNew := len(server.Lines) - 1
		firstSeen := map[storefront.Key]bool{}
		for i, ln := range local.Lines {
			reason, gone := isDropped[i]
			switch {
			case storefront.CheckLine(ln, limits) != "":
				if reason != storefront.CheckLine(ln, limits) {
					t.Fatalf("invalid local line %d reported as %q: %s", i, reason, report)
				}
			case gone:
				if _, in := pos[ln.Key()]; in || reason != storefront.ReasonCartFull || len(got.Lines) != limits.MaxLines {
					t.Fatalf("local line %d dropped as %q although it is in or fits: %s", i, reason, report)
				}
			default:
				p, in := pos[ln.Key()]
				if !in {
					t.Fatalf("local line %d neither merged nor reported: %s", i, report)
				}
				want[ln.Key()] = max(want[ln.Key()], min(ln.Quantity, limits.MaxQuantity))
				if p > len(server.Lines)-1 && !firstSeen[ln.Key()] { // a new line: after the server's, in local order
					firstSeen[ln.Key()] = true
					if p < lastNew {
						t.Fatalf("local line %d out of local order: %s", i, report)
					}
					lastNew = p
				}
			}
		}
		for k, q := range want {
			if p, in := pos[k]; in && got.Lines[p].Quantity != q {
				t.Fatalf("%v has quantity %d, want the larger %d: %s", k, got.Lines[p].Quantity, q, report)
			}
		}

		again, d2 := storefront.MergeCart(got, local, limits)
		if !equalCart(again, got) || !slices.Equal(d2, d) {
			t.Fatalf("not idempotent: again %v %v: %s", again.Lines, d2, report)
		}

		// Convergence: three locals merged in every order.
		locals := []cart{local, randomCart(4), randomCart(4)}
		var first map[storefront.Key]int
		for _, order := range [][]int{{0, 1, 2}, {0, 2, 1}, {1, 0, 2}, {1, 2, 0}, {2, 0, 1}, {2, 1, 0}} {
			acc := server
			full := false
			for _, j := range order {
				var dj []dropped
				acc, dj = storefront.MergeCart(acc, locals[j], limits)
				for _, x := range dj {
					full = full || x.Reason == storefront.ReasonCartFull
				}
			}
			if full {
				first = nil
				break // which lines fit depends on the order
			}
			set := asSet(acc)
			if order[0] == 2 && order[1] == 1 {
				converged++
			}
			if first == nil {
				first = set
			} else if !reflect.DeepEqual(set, first) {
				t.Fatalf("merges in order %v give %v, another order %v: %s", order, set, first, report)
			}
		}

		sw := storefront.CapWishlist(randomWishlist(8), limits)
		lw := randomWishlist(10)
		gw, dw := storefront.MergeWishlist(sw, lw, limits)
		if len(gw) > limits.MaxWishlist || !slices.Equal(gw[:len(sw)], sw) || len(dw) > len(lw) {
			t.Fatalf("wishlist %v + %v = %v (%v)", sw, lw, gw, dw)
		}
		seen := map[string]bool{}
		for _, id := range gw {
			if seen[id] {
				t.Fatalf("wishlist duplicate %s in %v", id, gw)
			}
			seen[id] = true
		}
		for i, id := range lw {
			if !seen[id] && !slices.Contains(dw, dropped{storefront.ListWishlist, i, storefront.ReasonWishlistFull}) {
				t.Fatalf("wishlist item %d (%s) neither merged nor reported: %v + %v = %v (%v)", i, id, sw, lw, gw, dw)
			}
		}
		if again, d2 := storefront.MergeWishlist(gw, lw, limits); !slices.Equal(again, gw) || !slices.Equal(d2, dw) {
			t.Fatalf("wishlist merge not idempotent: %v + %v", gw, lw)
		}
	}
	if converged < 1000 {
		t.Fatalf("convergence checked in %d iterations only; make the carts fit more often", converged)
	}
}

func asSet(c cart) map[storefront.Key]int {
	m := map[storefront.Key]int{}
	for _, ln := range c.Lines {
		m[ln.Key()] = ln.Quantity
	}
	return m
}

func equalCart(a, b cart) bool { return slices.Equal(a.Lines, b.Lines) }
