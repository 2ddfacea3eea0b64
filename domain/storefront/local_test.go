package storefront_test

import (
	"errors"
	"reflect"
	"slices"
	"testing"

	"github.com/portcullis/portcullis/domain/errs"
	"github.com/portcullis/portcullis/domain/storefront"
)

func TestLocalAsSentPutsTheDroppedEntriesBack(t *testing.T) {
	t.Parallel()
	// Sent: cart [x, a, x, b, c] (x unreadable), wishlist [p, x, q].
	local := storefront.Local{
		Cart:     c(l("a", "", 1), l("b", "", 0), l("c", "", 1)),
		Wishlist: storefront.Wishlist{"p", "bad id"},
		Dropped: []dropped{
			{List: storefront.ListCart, Index: 2, Reason: storefront.ReasonInvalidLine},
			{List: storefront.ListWishlist, Index: 1, Reason: storefront.ReasonInvalidLine},
			{List: storefront.ListCart, Index: 0, Reason: storefront.ReasonInvalidLine},
		},
	}
	if n, m := local.Sent(storefront.ListCart), local.Sent(storefront.ListWishlist); n != 5 || m != 3 {
		t.Fatalf("sent %d lines and %d items, want 5 and 3", n, m)
	}
	got := local.AsSent([]dropped{
		{List: storefront.ListWishlist, Index: 1, Reason: storefront.ReasonInvalidID},
		{List: storefront.ListCart, Index: 1, Reason: storefront.ReasonInvalidQuantity},
		{List: storefront.ListCart, Index: 2, Reason: storefront.ReasonCartFull},
	})
	want := []dropped{
		{List: storefront.ListCart, Index: 0, Reason: storefront.ReasonInvalidLine},
		{List: storefront.ListCart, Index: 2, Reason: storefront.ReasonInvalidLine},
		{List: storefront.ListCart, Index: 3, Reason: storefront.ReasonInvalidQuantity},
		{List: storefront.ListCart, Index: 4, Reason: storefront.ReasonCartFull},
		{List: storefront.ListWishlist, Index: 1, Reason: storefront.ReasonInvalidLine},
		{List: storefront.ListWishlist, Index: 2, Reason: storefront.ReasonInvalidID},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("as sent\n%v\nwant\n%v", got, want)
	}
	if (storefront.Local{}).Empty() != true || local.Empty() {
		t.Fatal("Empty")
	}
	if e := (storefront.Local{Dropped: local.Dropped[:1]}); e.Empty() {
		t.Fatal("a local cart of one unreadable line is not empty")
	}
}

func TestLocalCleanTakesOutTheInvalidEntriesAndReportsThemAsSent(t *testing.T) {
	t.Parallel()
	// Sent: cart [x, a, bad, b, zero] (x unreadable), wishlist [p, "", q].
	local := storefront.Local{
		Cart:     c(l("a", "", 1), l("bad id", "", 1), l("b", "v", 2), l("z", "", 0)),
		Wishlist: storefront.Wishlist{"p", "", "q"},
		Dropped:  []dropped{{List: storefront.ListCart, Index: 0, Reason: storefront.ReasonInvalidLine}},
	}
	clean := local.Clean(storefront.DefaultLimits())
	if !slices.Equal(clean.Cart.Lines, c(l("a", "", 1), l("b", "v", 2)).Lines) || !slices.Equal(clean.Wishlist, storefront.Wishlist{"p", "q"}) {
		t.Fatalf("clean %+v", clean)
	}
	want := []dropped{
		{List: storefront.ListCart, Index: 0, Reason: storefront.ReasonInvalidLine},
		{List: storefront.ListCart, Index: 2, Reason: storefront.ReasonInvalidID},
		{List: storefront.ListCart, Index: 4, Reason: storefront.ReasonInvalidQuantity},
		{List: storefront.ListWishlist, Index: 1, Reason: storefront.ReasonMissingProductID},
	}
	if !slices.Equal(clean.Dropped, want) {
		t.Fatalf("dropped\n%v\nwant\n%v", clean.Dropped, want)
	}
	if again := clean.Clean(storefront.DefaultLimits()); !reflect.DeepEqual(again, clean) {
		t.Fatalf("cleaning again changed %+v into %+v", clean, again)
	}
	// A line dropped later (the cart was full) is reported as sent.
	if got := clean.AsSent([]dropped{{List: storefront.ListCart, Index: 1, Reason: storefront.ReasonCartFull}}); got[2] != (dropped{List: storefront.ListCart, Index: 3, Reason: storefront.ReasonCartFull}) {
		t.Fatalf("as sent: %v", got)
	}
}

func TestLocalCheckBoundsCountsTheEntriesTakenOut(t *testing.T) {
	t.Parallel()
	local := storefront.Local{Cart: c(l("a", "", 1))}
	for i := range storefront.MaxInputLines {
		local.Dropped = append(local.Dropped, dropped{List: storefront.ListCart, Index: i + 1, Reason: storefront.ReasonInvalidLine})
	}
	err := local.CheckBounds()
	var e *errs.Error
	if !errors.Is(err, storefront.ErrTooLarge) || !errors.As(err, &e) || len(e.Fields) != 1 || e.Fields[0].Field != "cart" {
		t.Fatalf("1,001 lines, 1,000 of them unreadable: %v, want cart_too_large on cart", err)
	}
	local.Dropped = local.Dropped[1:]
	if err := local.CheckBounds(); err != nil {
		t.Fatalf("1,000 lines: %v", err)
	}
}
