package storefronttest

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/portcullis/portcullis/application/platform/platformtest"
	app "github.com/portcullis/portcullis/application/storefront"
	"github.com/portcullis/portcullis/domain/storefront"
)

// L is a cart line.
func L(product, variant string, quantity int) storefront.Line {
	return storefront.Line{ProductID: product, VariantID: variant, Quantity: quantity}
}

// C is a cart of lines.
func C(lines ...storefront.Line) storefront.Cart { return storefront.Cart{Lines: lines} }

// W is a wishlist of product ids.
func W(ids ...string) storefront.Wishlist { return ids }

// Limits are the suite's limits: the defaults, with room for the races.
var Limits = storefront.DefaultLimits()

// RunStoreContract checks the behaviour every storefront.Store must have,
// the promises of its doc included: racing merges exact, replaces atomic.
// newStore returns a store no other test writes to the users of.
func RunStoreContract(t *testing.T, newStore func(t *testing.T) app.Store) {
	t.Helper()
	ctx := context.Background()
	const tenant = "shop"

	get := func(t *testing.T, s app.Store, user string) (storefront.Cart, storefront.Wishlist, string) {
		t.Helper()
		c, w, v, err := s.Get(ctx, tenant, user)
		if err != nil {
			t.Fatalf("get %s: %v", user, err)
		}
		return c, w, v
	}
	merge := func(t *testing.T, s app.Store, user string, c storefront.Cart, w storefront.Wishlist, limits storefront.Limits) (storefront.Cart, storefront.Wishlist) {
		t.Helper()
		gc, gw, err := s.Merge(ctx, tenant, user, c, w, limits)
		if err != nil {
			t.Fatalf("merge into %s: %v", user, err)
		}
		return gc, gw
	}
	wantCart := func(t *testing.T, what string, got, want storefront.Cart) {
		t.Helper()
		if !slices.Equal(got.Lines, want.Lines) {
			t.Fatalf("%s: cart %v, want %v", what, got.Lines, want.Lines)
		}
	}
	wantWishlist := func(t *testing.T, what string, got, want storefront.Wishlist) {
		t.Helper()
		if !slices.Equal(got, want) {
			t.Fatalf("%s: wishlist %v, want %v", what, got, want)
		}
	}

	t.Run("nothing stored: empty, and the version holds still", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		c, w, v := get(t, s, "u")
		wantCart(t, "new user", c, C())
		wantWishlist(t, "new user", w, W())
		if _, _, v2 := get(t, s, "u"); v2 != v {
			t.Fatalf("version moved without a write: %q, %q", v, v2)
		}
	})

	t.Run("merge into nothing keeps the local order", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		_, _, v0 := get(t, s, "u")
		local := C(L("b", "", 2), L("a", "red", 1), L("a", "blue", 3))
		gc, gw := merge(t, s, "u", local, W("y", "x"), Limits)
		wantCart(t, "merge answer", gc, local)
		wantWishlist(t, "merge answer", gw, W("y", "x"))
		c, w, v := get(t, s, "u")
		wantCart(t, "stored", c, local)
		wantWishlist(t, "stored", w, W("y", "x"))
		if v == v0 {
			t.Fatal("the version did not change with the merge")
		}
	})

	t.Run("the larger quantity, server lines first, then new ones in local order", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		merge(t, s, "u", C(L("a", "", 2), L("b", "", 4)), W("x", "y"), Limits)
		gc, gw := merge(t, s, "u", C(L("n2", "", 1), L("b", "", 1), L("a", "", 5), L("n1", "v", 2)), W("z", "x", "w"), Limits)
		want := C(L("a", "", 5), L("b", "", 4), L("n2", "", 1), L("n1", "v", 2))
		wantCart(t, "merge answer", gc, want)
		wantWishlist(t, "merge answer", gw, W("x", "y", "z", "w"))
		c, w, _ := get(t, s, "u")
		wantCart(t, "stored", c, want)
		wantWishlist(t, "stored", w, W("x", "y", "z", "w"))
	})

	t.Run("a merge repeated changes nothing, the version included", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		merge(t, s, "u", C(L("a", "", 1)), W("x"), Limits)
		local, wl := C(L("a", "", 3), L("b", "", 1)), W("y", "x")
		merge(t, s, "u", local, wl, Limits)
		c1, w1, v1 := get(t, s, "u")
		for range 3 {
			merge(t, s, "u", local, wl, Limits)
		}
		c2, w2, v2 := get(t, s, "u")
		wantCart(t, "after repeats", c2, c1)
		wantWishlist(t, "after repeats", w2, w1)
		if v2 != v1 {
			t.Fatalf("version %q became %q without a change", v1, v2)
		}
	})

	t.Run("limits: quantity capped, lines and items past the cap not stored", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		small := storefront.Limits{MaxQuantity: 5, MaxLines: 3, MaxWishlist: 2, MaxIDLength: 64}
		merge(t, s, "u", C(L("a", "", 9), L("b", "", 1)), W("x"), small)
		gc, gw := merge(t, s, "u", C(L("c", "", 2), L("d", "", 1), L("b", "", 7)), W("y", "z"), small)
		want := C(L("a", "", 5), L("b", "", 5), L("c", "", 2))
		wantCart(t, "merge answer", gc, want)
		wantWishlist(t, "merge answer", gw, W("x", "y"))
		c, w, _ := get(t, s, "u")
		wantCart(t, "stored", c, want)
		wantWishlist(t, "stored", w, W("x", "y"))
	})

	t.Run("tenants and users are apart", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		merge(t, s, "u", C(L("a", "", 1)), W("x"), Limits)
		for _, who := range [][2]string{{tenant, "v"}, {"other", "u"}, {"shop/u", ""}, {"", "shop/u"}} {
			c, w, _, err := s.Get(ctx, who[0], who[1])
			if err != nil || len(c.Lines) != 0 || len(w) != 0 {
				t.Fatalf("tenant %q user %q sees %v %v %v", who[0], who[1], c.Lines, w, err)
			}
		}
		if _, _, err := s.Merge(ctx, "other", "u", C(L("b", "", 1)), nil, Limits); err != nil {
			t.Fatal(err)
		}
		c, _, _ := get(t, s, "u")
		wantCart(t, "after another tenant's merge", c, C(L("a", "", 1)))
	})

	t.Run("replace: exactly the new cart or wishlist, then merges merge into it", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		merge(t, s, "u", C(L("a", "", 1), L("b", "", 2)), W("x", "y"), Limits)
		_, _, v0 := get(t, s, "u")
		if err := s.ReplaceCart(ctx, tenant, "u", C(L("c", "", 2), L("a", "", 1))); err != nil {
			t.Fatal(err)
		}
		c, w, v1 := get(t, s, "u")
		wantCart(t, "replaced", c, C(L("c", "", 2), L("a", "", 1)))
		wantWishlist(t, "a cart replace leaves the wishlist", w, W("x", "y"))
		if v1 == v0 {
			t.Fatal("the version did not change with the replace")
		}
		gc, _ := merge(t, s, "u", C(L("a", "", 3), L("d", "", 1), L("b", "", 1)), nil, Limits)
		wantCart(t, "merged after the replace", gc, C(L("c", "", 2), L("a", "", 3), L("d", "", 1), L("b", "", 1)))

		if err := s.ReplaceWishlist(ctx, tenant, "u", W("y", "z")); err != nil {
			t.Fatal(err)
		}
		c, w, _ = get(t, s, "u")
		wantWishlist(t, "replaced", w, W("y", "z"))
		wantCart(t, "a wishlist replace leaves the cart", c, gc)
		// A replace that only reorders.
		if err := s.ReplaceWishlist(ctx, tenant, "u", W("z", "y")); err != nil {
			t.Fatal(err)
		}
		if _, w, _ = get(t, s, "u"); !slices.Equal(w, W("z", "y")) {
			t.Fatalf("reordered wishlist %v", w)
		}

		if err := s.ReplaceCart(ctx, tenant, "u", C()); err != nil {
			t.Fatal(err)
		}
		if err := s.ReplaceWishlist(ctx, tenant, "u", nil); err != nil {
			t.Fatal(err)
		}
		c, w, _ = get(t, s, "u")
		wantCart(t, "emptied", c, C())
		wantWishlist(t, "emptied", w, W())
		gc, gw := merge(t, s, "u", C(L("e", "", 1)), W("q"), Limits)
		wantCart(t, "merged into the emptied cart", gc, C(L("e", "", 1)))
		wantWishlist(t, "merged into the emptied wishlist", gw, W("q"))
	})

	t.Run("racing merges, each with another line and item: all kept", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		merge(t, s, "u", C(L("first", "", 1)), W("first"), Limits)
		errs := make([]error, platformtest.Racers)
		platformtest.Race(platformtest.Racers, func(i int) {
			_, _, errs[i] = s.Merge(ctx, tenant, "u", C(L(fmt.Sprint("p", i), "", i%5+1)), W(fmt.Sprint("w", i)), Limits)
		})
		for i, err := range errs {
			if err != nil {
				t.Fatalf("racer %d: %v", i, err)
			}
		}
		c, w, _ := get(t, s, "u")
		if len(c.Lines) != platformtest.Racers+1 || c.Lines[0] != L("first", "", 1) {
			t.Fatalf("%d lines after %d racing merges into one, want %d with the first one first: %v", len(c.Lines), platformtest.Racers, platformtest.Racers+1, c.Lines)
		}
		if len(w) != platformtest.Racers+1 || w[0] != "first" {
			t.Fatalf("%d wishlist items, want %d: %v", len(w), platformtest.Racers+1, w)
		}
		for i := range platformtest.Racers {
			if !slices.Contains(c.Lines, L(fmt.Sprint("p", i), "", i%5+1)) {
				t.Errorf("line p%d lost or changed: %v", i, c.Lines)
			}
			if !slices.Contains(w, fmt.Sprint("w", i)) {
				t.Errorf("item w%d lost: %v", i, w)
			}
		}
	})

	t.Run("racing merges of one line with different quantities: once, with the largest", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		limits := Limits
		limits.MaxQuantity = 100
		merge(t, s, "u", C(L("same", "v", 3)), nil, limits)
		errs := make([]error, platformtest.Racers)
		platformtest.Race(platformtest.Racers, func(i int) {
			_, _, errs[i] = s.Merge(ctx, tenant, "u", C(L("same", "v", i+1)), W("same"), limits)
		})
		for i, err := range errs {
			if err != nil {
				t.Fatalf("racer %d: %v", i, err)
			}
		}
		c, w, _ := get(t, s, "u")
		wantCart(t, "after the race", c, C(L("same", "v", platformtest.Racers)))
		wantWishlist(t, "after the race", w, W("same"))
	})

	t.Run("racing identical merges (a retried login): as one", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		local, wl := C(L("a", "", 2), L("b", "", 1)), W("x", "y")
		errs := make([]error, platformtest.Racers)
		platformtest.Race(platformtest.Racers, func(i int) { _, _, errs[i] = s.Merge(ctx, tenant, "u", local, wl, Limits) })
		for i, err := range errs {
			if err != nil {
				t.Fatalf("racer %d: %v", i, err)
			}
		}
		c, w, v := get(t, s, "u")
		wantCart(t, "after the race", c, local)
		wantWishlist(t, "after the race", w, wl)
		merge(t, s, "u", local, wl, Limits)
		if _, _, v2 := get(t, s, "u"); v2 != v {
			t.Fatalf("one more identical merge moved the version: %q, %q", v, v2)
		}
	})

	t.Run("racing replaces: exactly one of them", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		merge(t, s, "u", C(L("old", "", 1)), W("old"), Limits)
		errs := make([]error, platformtest.Racers)
		platformtest.Race(platformtest.Racers, func(i int) {
			if i%2 == 0 {
				errs[i] = s.ReplaceCart(ctx, tenant, "u", C(L(fmt.Sprint("p", i), "", 1), L("common", "", i+1)))
			} else {
				errs[i] = s.ReplaceWishlist(ctx, tenant, "u", W(fmt.Sprint("w", i), "common"))
			}
		})
		for i, err := range errs {
			if err != nil {
				t.Fatalf("racer %d: %v", i, err)
			}
		}
		c, w, _ := get(t, s, "u")
		if len(c.Lines) != 2 || c.Lines[1].ProductID != "common" || c.Lines[0] != L(fmt.Sprint("p", c.Lines[1].Quantity-1), "", 1) {
			t.Fatalf("cart after racing replaces %v: want exactly one racer's", c.Lines)
		}
		if len(w) != 2 || w[1] != "common" || w[0] == "old" {
			t.Fatalf("wishlist after racing replaces %v: want exactly one racer's", w)
		}
	})

	t.Run("a replace racing merges: each merge before it (gone) or after it (merged)", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		merge(t, s, "u", C(L("old", "", 1)), W("old"), Limits)
		const merges = 10
		errs := make([]error, merges+2)
		platformtest.Race(merges+2, func(i int) {
			switch i {
			case merges:
				errs[i] = s.ReplaceCart(ctx, tenant, "u", C(L("new", "", 2)))
			case merges + 1:
				errs[i] = s.ReplaceWishlist(ctx, tenant, "u", W("new"))
			default:
				_, _, errs[i] = s.Merge(ctx, tenant, "u", C(L(fmt.Sprint("m", i), "", 1), L("new", "", 1)), W(fmt.Sprint("m", i)), Limits)
			}
		})
		for i, err := range errs {
			if err != nil {
				t.Fatalf("racer %d: %v", i, err)
			}
		}
		c, w, _ := get(t, s, "u")
		if len(c.Lines) == 0 || c.Lines[0] != L("new", "", 2) {
			t.Fatalf("cart %v: the replaced cart must come first, with its quantity", c.Lines)
		}
		for _, ln := range c.Lines[1:] {
			if ln.ProductID == "old" || ln.ProductID == "new" || ln.Quantity != 1 {
				t.Fatalf("cart %v: only merged lines may follow the replaced one", c.Lines)
			}
		}
		if len(w) == 0 || w[0] != "new" || slices.Contains(w, "old") {
			t.Fatalf("wishlist %v: the replaced wishlist must come first, the old one gone", w)
		}
	})

	t.Run("racing merges past the cap: shown capped, trimmed by the next merge", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		limits := storefront.Limits{MaxQuantity: 10, MaxLines: 8, MaxWishlist: 6, MaxIDLength: 64}
		merge(t, s, "u", C(L("a", "", 1), L("b", "", 1)), W("a"), limits)
		errs := make([]error, platformtest.Racers)
		platformtest.Race(platformtest.Racers, func(i int) {
			_, _, errs[i] = s.Merge(ctx, tenant, "u", C(L(fmt.Sprint("p", i), "", 1)), W(fmt.Sprint("w", i)), limits)
		})
		for i, err := range errs {
			if err != nil {
				t.Fatalf("racer %d: %v", i, err)
			}
		}
		c, w, _ := get(t, s, "u")
		if len(c.Lines) < limits.MaxLines || len(w) < limits.MaxWishlist {
			t.Fatalf("%d lines and %d items stored after the race, want at least the caps %d and %d", len(c.Lines), len(w), limits.MaxLines, limits.MaxWishlist)
		}
		shown := storefront.CapCart(c, limits)
		gc, gw := merge(t, s, "u", C(), nil, limits)
		wantCart(t, "the next merge", gc, shown)
		wantWishlist(t, "the next merge", gw, storefront.CapWishlist(w, limits))
		c, w, _ = get(t, s, "u")
		wantCart(t, "stored after the next merge", c, shown)
		wantWishlist(t, "stored after the next merge", w, storefront.CapWishlist(gw, limits))
		if c.Lines[0] != L("a", "", 1) || c.Lines[1] != L("b", "", 1) || w[0] != "a" {
			t.Fatalf("the lines from before the race must stay first: %v %v", c.Lines, w)
		}
	})
}
