package storefront_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	app "github.com/portcullis/portcullis/application/storefront"
	"github.com/portcullis/portcullis/application/storefront/storefronttest"
	"github.com/portcullis/portcullis/domain/errs"
	"github.com/portcullis/portcullis/domain/storefront"
	"github.com/portcullis/portcullis/domain/tenant"
)

var (
	L     = storefronttest.L
	C     = storefronttest.C
	W     = storefronttest.W
	quiet = slog.New(slog.NewTextHandler(io.Discard, nil))
)

func shop(edit func(*tenant.Storefront)) tenant.Tenant {
	t := tenant.Default()
	t.ID = "shop"
	t.Storefront.Enabled = true
	if edit != nil {
		edit(&t.Storefront)
	}
	return t
}

func small(s *tenant.Storefront) { s.MaxQuantity, s.MaxLines, s.MaxWishlist = 5, 3, 2 }

func drop(list storefront.List, i int, r storefront.Reason) storefront.Dropped {
	return storefront.Dropped{List: list, Index: i, Reason: r}
}

func TestMergeReportsWhatItDropsByIndexAsSent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := storefronttest.NewMemoryStore()
	s := app.New(shop(small), app.Deps{Store: store})
	if _, err := s.Merge(ctx, "u", C(L("a", "", 1)), W("x")); err != nil {
		t.Fatal(err)
	}
	res, err := s.Merge(ctx, "u",
		C(L("bad id", "", 1), L("b", "", 9), L("c", "", 0), L("a", "", 4), L("d", "", 1), L("", "", 1), L("e", "", 2), L("b", "", 1)),
		W("", "y", "x", "z"))
	if err != nil {
		t.Fatal(err)
	}
	if want := C(L("a", "", 4), L("b", "", 5), L("d", "", 1)); !slices.Equal(res.Cart.Lines, want.Lines) {
		t.Fatalf("cart %v, want %v", res.Cart.Lines, want.Lines)
	}
	if !slices.Equal(res.Wishlist, W("x", "y")) {
		t.Fatalf("wishlist %v", res.Wishlist)
	}
	want := []storefront.Dropped{
		drop(storefront.ListCart, 0, storefront.ReasonInvalidID), drop(storefront.ListCart, 2, storefront.ReasonInvalidQuantity),
		drop(storefront.ListCart, 5, storefront.ReasonMissingProductID), drop(storefront.ListCart, 6, storefront.ReasonCartFull),
		drop(storefront.ListWishlist, 0, storefront.ReasonMissingProductID), drop(storefront.ListWishlist, 3, storefront.ReasonWishlistFull),
	}
	if !slices.Equal(res.Dropped, want) {
		t.Fatalf("dropped\n%v\nwant\n%v", res.Dropped, want)
	}
	if res.Pending {
		t.Fatal("a merge that was stored is not pending")
	}
}

func TestOversizedInputIsRefusedAndNothingStored(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	huge := C()
	for i := range 10_000 {
		huge.Lines = append(huge.Lines, L(fmt.Sprint("p", i), "", 1))
	}
	heavy := C(L("ok", "", 1), L(strings.Repeat("x", 1<<20), "", 1))
	cases := []struct {
		name  string
		call  func(s *app.Service) error
		field string
	}{
		{"merge of 10,000 lines", func(s *app.Service) error { _, err := s.Merge(ctx, "u", huge, nil); return err }, "cart"},
		{"merge of 1 MB", func(s *app.Service) error { _, err := s.Merge(ctx, "u", heavy, nil); return err }, "cart"},
		{"merge of 1,001 wishlist items", func(s *app.Service) error {
			_, err := s.Merge(ctx, "u", C(L("ok", "", 1)), make(storefront.Wishlist, 1001))
			return err
		}, "wishlist"},
		{"merge or retry", func(s *app.Service) error { _, err := s.MergeOrRetry(ctx, "u", huge, nil); return err }, "cart"},
		{"merge later", func(s *app.Service) error { return s.MergeLater(ctx, "u", huge, nil) }, "cart"},
		{"replace cart", func(s *app.Service) error { _, _, err := s.ReplaceCart(ctx, "u", huge, nil); return err }, "cart"},
		{"replace wishlist", func(s *app.Service) error {
			_, _, err := s.ReplaceWishlist(ctx, "u", W(strings.Repeat("y", 1<<20)), nil)
			return err
		}, "wishlist"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			store := storefronttest.NewMemoryStore()
			r := app.NewRetrier(app.RetryPolicy{First: time.Millisecond}, quiet)
			defer r.Close(ctx)
			err := tc.call(app.New(shop(nil), app.Deps{Store: store, Retrier: r}))
			var e *errs.Error
			if !errors.As(err, &e) || e.Kind != errs.Invalid || len(e.Fields) != 1 || e.Fields[0].Field != tc.field {
				t.Fatalf("got %v, want an Invalid error on field %s", err, tc.field)
			}
			time.Sleep(5 * time.Millisecond)
			if c, w, v, _ := store.Get(ctx, "shop", "u"); len(c.Lines) != 0 || len(w) != 0 || v != "0" || r.Pending() != 0 {
				t.Fatalf("stored %v %v (version %s), %d pending", c.Lines, w, v, r.Pending())
			}
		})
	}
}

func TestMergeWithNothingLocalWritesNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := storefronttest.NewMemoryStore()
	s := app.New(shop(nil), app.Deps{Store: store})
	if _, err := s.Merge(ctx, "u", C(L("a", "", 1)), nil); err != nil {
		t.Fatal(err)
	}
	_, _, v, _ := store.Get(ctx, "shop", "u")
	res, err := s.Merge(ctx, "u", C(L("", "", 1)), nil)
	if err != nil || !slices.Equal(res.Cart.Lines, C(L("a", "", 1)).Lines) || len(res.Dropped) != 1 {
		t.Fatalf("got %+v, %v", res, err)
	}
	if _, _, v2, _ := store.Get(ctx, "shop", "u"); v2 != v {
		t.Fatalf("version %s → %s: an empty merge wrote", v, v2)
	}
}

func TestReplace(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := storefronttest.NewMemoryStore()
	s := app.New(shop(small), app.Deps{Store: store})
	got, dropped, err := s.ReplaceCart(ctx, "u", C(L("a", "", 9), L("b", "", 0), L("c", "", 1), L("a", "", 2), L("d", "", 1), L("e", "", 1)), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := C(L("a", "", 5), L("c", "", 1), L("d", "", 1))
	if !slices.Equal(got.Lines, want.Lines) {
		t.Fatalf("replaced cart %v, want %v", got.Lines, want.Lines)
	}
	if wd := []storefront.Dropped{drop(storefront.ListCart, 1, storefront.ReasonInvalidQuantity), drop(storefront.ListCart, 5, storefront.ReasonCartFull)}; !slices.Equal(dropped, wd) {
		t.Fatalf("dropped %v, want %v", dropped, wd)
	}
	if c, v, _ := s.Cart(ctx, "u"); !slices.Equal(c.Lines, want.Lines) || v == "" {
		t.Fatalf("stored %v (version %q)", c.Lines, v)
	}
	gw, dropped, err := s.ReplaceWishlist(ctx, "u", W("y", "y", "bad id", "x", "z"), nil)
	if err != nil || !slices.Equal(gw, W("y", "x")) {
		t.Fatalf("replaced wishlist %v, %v", gw, err)
	}
	if wd := []storefront.Dropped{drop(storefront.ListWishlist, 2, storefront.ReasonInvalidID), drop(storefront.ListWishlist, 4, storefront.ReasonWishlistFull)}; !slices.Equal(dropped, wd) {
		t.Fatalf("dropped %v, want %v", dropped, wd)
	}
	if w, _, _ := s.Wishlist(ctx, "u"); !slices.Equal(w, W("y", "x")) {
		t.Fatalf("stored wishlist %v", w)
	}
}

func TestReplaceIfMatch(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := storefronttest.NewMemoryStore()
	s := app.New(shop(nil), app.Deps{Store: store})
	if _, err := s.Merge(ctx, "u", C(L("a", "", 1)), W("x")); err != nil {
		t.Fatal(err)
	}
	_, v, err := s.Cart(ctx, "u")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.ReplaceCart(ctx, "u", C(L("b", "", 1)), []string{"stale", "older"}); !errors.Is(err, app.ErrVersionMismatch) {
		t.Fatalf("a stale version: %v, want ErrVersionMismatch", err)
	}
	if _, _, err := s.ReplaceWishlist(ctx, "u", W("y"), []string{"stale"}); !errors.Is(err, app.ErrVersionMismatch) {
		t.Fatalf("a stale version: %v, want ErrVersionMismatch", err)
	}
	if c, _, v2, _ := store.Get(ctx, "shop", "u"); v2 != v || !slices.Equal(c.Lines, C(L("a", "", 1)).Lines) {
		t.Fatalf("a refused replace changed the cart: %v (version %s → %s)", c.Lines, v, v2)
	}
	if _, _, err := s.ReplaceCart(ctx, "u", C(L("b", "", 1)), []string{"stale", v}); err != nil {
		t.Fatalf("the current version: %v", err)
	}
	// The wishlist's version is the cart's: both changed with the replace.
	if _, _, err := s.ReplaceWishlist(ctx, "u", W("y"), []string{v}); !errors.Is(err, app.ErrVersionMismatch) {
		t.Fatalf("the version before the cart's replace: %v, want ErrVersionMismatch", err)
	}
}

func TestReadsApplyLoweredLimits(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := storefronttest.NewMemoryStore()
	if _, err := app.New(shop(nil), app.Deps{Store: store}).Merge(ctx, "u", C(L("a", "", 9), L("b", "", 1), L("c", "", 1), L("d", "", 1)), W("w", "x", "y")); err != nil {
		t.Fatal(err)
	}
	s := app.New(shop(small), app.Deps{Store: store})
	c, _, _ := s.Cart(ctx, "u")
	w, _, _ := s.Wishlist(ctx, "u")
	if !slices.Equal(c.Lines, C(L("a", "", 5), L("b", "", 1), L("c", "", 1)).Lines) || !slices.Equal(w, W("w", "x")) {
		t.Fatalf("read under lowered limits: %v %v", c.Lines, w)
	}
}

func TestDisabledTenant(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := app.New(shop(func(s *tenant.Storefront) { s.Enabled = false }), app.Deps{Store: storefronttest.NewMemoryStore()})
	if s.Enabled() {
		t.Fatal("enabled")
	}
	_, e1 := s.Merge(ctx, "u", C(L("a", "", 1)), nil)
	_, e2 := s.MergeOrRetry(ctx, "u", C(L("a", "", 1)), nil)
	e3 := s.MergeLater(ctx, "u", C(L("a", "", 1)), nil)
	_, _, e4 := s.Cart(ctx, "u")
	_, _, e5 := s.Wishlist(ctx, "u")
	_, _, e6 := s.ReplaceCart(ctx, "u", C(), nil)
	_, _, e7 := s.ReplaceWishlist(ctx, "u", nil, nil)
	for i, err := range []error{e1, e2, e3, e4, e5, e6, e7} {
		if !errors.Is(err, app.ErrDisabled) {
			t.Errorf("call %d: %v, want ErrDisabled", i+1, err)
		}
	}
}

// flaky is a store whose merges fail with fail until it has failed n
// times.
type flaky struct {
	*storefronttest.MemoryStore
	n     int32
	fail  error
	calls atomic.Int32
}

func (f *flaky) Merge(ctx context.Context, tenantID, userID string, c storefront.Cart, w storefront.Wishlist, l storefront.Limits) (storefront.Cart, storefront.Wishlist, error) {
	if f.calls.Add(1) <= f.n {
		return storefront.Cart{}, nil, f.fail
	}
	return f.MemoryStore.Merge(ctx, tenantID, userID, c, w, l)
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 5s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func TestMergeOrRetryQueuesWhenTheStoreIsUnavailable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := &flaky{MemoryStore: storefronttest.NewMemoryStore(), n: 3, fail: errs.ErrUnavailable}
	r := app.NewRetrier(app.RetryPolicy{First: time.Millisecond, Max: 4 * time.Millisecond}, quiet)
	defer r.Close(ctx)
	s := app.New(shop(small), app.Deps{Store: store, Retrier: r})
	res, err := s.MergeOrRetry(ctx, "u", C(L("a", "", 7), L("b", "", 1), L("c", "", 1), L("d", "", 1)), W("x", "bad id"))
	if err != nil {
		t.Fatal(err)
	}
	if !res.Pending || !slices.Equal(res.Cart.Lines, C(L("a", "", 5), L("b", "", 1), L("c", "", 1)).Lines) || !slices.Equal(res.Wishlist, W("x")) {
		t.Fatalf("pending result %+v: want the local cart, cleaned and capped", res)
	}
	if want := []storefront.Dropped{drop(storefront.ListCart, 3, storefront.ReasonCartFull), drop(storefront.ListWishlist, 1, storefront.ReasonInvalidID)}; !slices.Equal(res.Dropped, want) {
		t.Fatalf("dropped %v, want %v", res.Dropped, want)
	}
	eventually(t, "the queued merge stored", func() bool {
		c, _, _, _ := store.Get(ctx, "shop", "u")
		return len(c.Lines) == 3
	})
	eventually(t, "the retrier idle", func() bool { return r.Pending() == 0 })
	if n := store.calls.Load(); n != 4 {
		t.Fatalf("%d merge calls, want 4 (the first, two failed retries, the one that worked)", n)
	}
}

func TestMergeOrRetryPassesOtherErrorsOn(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	boom := errors.New("boom")
	store := &flaky{MemoryStore: storefronttest.NewMemoryStore(), n: 100, fail: boom}
	r := app.NewRetrier(app.RetryPolicy{First: time.Millisecond}, quiet)
	defer r.Close(ctx)
	s := app.New(shop(nil), app.Deps{Store: store, Retrier: r})
	if _, err := s.MergeOrRetry(ctx, "u", C(L("a", "", 1)), nil); !errors.Is(err, boom) {
		t.Fatalf("got %v, want the store's error", err)
	}
	if r.Pending() != 0 {
		t.Fatal("an error that is not an outage was queued")
	}
	// Without a retrier, an outage is the caller's.
	store = &flaky{MemoryStore: storefronttest.NewMemoryStore(), n: 100, fail: errs.ErrUnavailable}
	s = app.New(shop(nil), app.Deps{Store: store})
	if _, err := s.MergeOrRetry(ctx, "u", C(L("a", "", 1)), nil); errs.KindOf(err) != errs.Unavailable {
		t.Fatalf("got %v, want Unavailable", err)
	}
}

func TestRetrier(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t.Run("retries outages only, within its attempts", func(t *testing.T) {
		t.Parallel()
		r := app.NewRetrier(app.RetryPolicy{Attempts: 3, First: time.Millisecond, Max: 2 * time.Millisecond}, quiet)
		defer r.Close(ctx)
		var outage, other atomic.Int32
		r.Go(ctx, "outage", func(context.Context) error { outage.Add(1); return errs.ErrUnavailable })
		r.Go(ctx, "other", func(context.Context) error { other.Add(1); return errs.ErrInvalid })
		eventually(t, "both done", func() bool { return r.Pending() == 0 })
		if outage.Load() != 3 || other.Load() != 1 {
			t.Fatalf("outage tried %d times (want 3), other %d (want 1)", outage.Load(), other.Load())
		}
	})
	t.Run("bounded: past its capacity it refuses", func(t *testing.T) {
		t.Parallel()
		r := app.NewRetrier(app.RetryPolicy{First: time.Hour, Capacity: 2}, quiet)
		noop := func(context.Context) error { return nil }
		if !r.Go(ctx, "1", noop) || !r.Go(ctx, "2", noop) || r.Go(ctx, "3", noop) {
			t.Fatal("want two accepted, the third refused")
		}
		if r.Pending() != 2 {
			t.Fatalf("%d pending", r.Pending())
		}
		// Close abandons what waits (as a restart would) without waiting an hour.
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if err := r.Close(cctx); err != nil {
			t.Fatal(err)
		}
		if r.Pending() != 0 || r.Go(ctx, "4", noop) {
			t.Fatal("a closed retrier must hold and take nothing")
		}
	})
	t.Run("keeps the caller's values, not its cancellation", func(t *testing.T) {
		t.Parallel()
		r := app.NewRetrier(app.RetryPolicy{First: time.Millisecond}, quiet)
		defer r.Close(ctx)
		type key struct{}
		rctx, cancel := context.WithCancel(context.WithValue(ctx, key{}, "req-1"))
		got := make(chan string, 1)
		r.Go(rctx, "values", func(ctx context.Context) error {
			v, _ := ctx.Value(key{}).(string)
			if ctx.Err() != nil {
				v = "cancelled"
			}
			got <- v
			return nil
		})
		cancel() // the request ends before the retry runs
		if v := <-got; v != "req-1" {
			t.Fatalf("the retry saw %q", v)
		}
	})
}
