package login

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/application/session"
	"github.com/portcullis/portcullis/domain/identity"
	"github.com/portcullis/portcullis/domain/storefront"
	"github.com/portcullis/portcullis/domain/tenant"
)

// TestAPendingGrantKeepsItsLocalCartWithinItsBound: the state a challenge
// keeps reads back as it was, and the largest local cart and wishlist the
// input bounds let through (1,000 lines and 1,000 items of 64-byte ids)
// keep it under 220 KB.
func TestAPendingGrantKeepsItsLocalCartWithinItsBound(t *testing.T) {
	t.Parallel()
	id := func(p string, i int) string { return fmt.Sprintf("%s%0*d", p, storefront.DefaultMaxIDLength-len(p), i) }
	var local storefront.Local
	for i := range storefront.MaxInputLines {
		local.Cart.Lines = append(local.Cart.Lines, storefront.Line{ProductID: id("p", i), VariantID: id("v", i), Quantity: 1_000_000_000 + i})
		local.Wishlist = append(local.Wishlist, id("w:/#@", i))
	}
	if err := local.CheckBounds(); err != nil {
		t.Fatal(err)
	}
	g := Grant{User: identity.User{ID: "u1"}, Method: tenant.MethodPassword, AMR: []string{"pwd"}, Kind: identity.SessionAPI,
		Lifetime: session.Lifetime{}, Local: local.Clean(storefront.DefaultLimits())}
	raw := pending{g}.encode()
	if len(raw) > 220_000 {
		t.Fatalf("the pending grant takes %d bytes, want at most 220 KB", len(raw))
	}
	d, ok := decodePending(raw)
	if !ok || d.userID != "u1" || d.method != tenant.MethodPassword {
		t.Fatalf("decoded %+v, %v", d, ok)
	}
	if !reflect.DeepEqual(d.local.Cart, g.Local.Cart) || !reflect.DeepEqual(d.local.Wishlist, g.Local.Wishlist) || len(d.local.Dropped) != 0 {
		t.Fatal("the local cart did not read back as it was kept")
	}

	small := storefront.Local{
		Cart:     storefront.Cart{Lines: []storefront.Line{{ProductID: "a", Quantity: 2}, {ProductID: "b", VariantID: "red", Quantity: 1}}},
		Wishlist: storefront.Wishlist{"x"},
		Dropped:  []storefront.Dropped{{List: storefront.ListCart, Index: 0, Reason: storefront.ReasonInvalidLine}, {List: storefront.ListWishlist, Index: 1, Reason: storefront.ReasonIDTooLong}},
	}
	for _, l := range []storefront.Local{small, {Dropped: small.Dropped}, {Wishlist: small.Wishlist}, {}} {
		g.Local = l
		raw := pending{g}.encode()
		if l.Empty() && strings.Contains(raw, "\n") {
			t.Fatalf("a grant without a local cart keeps one: %q", raw)
		}
		d, ok := decodePending(raw)
		if !ok || !reflect.DeepEqual(d.local, l) {
			t.Fatalf("%+v read back as %+v (%v) from %q", l, d.local, ok, raw)
		}
	}
	for _, bad := range []string{"v=1&u=u1\na|b\n\n", "v=1&u=u1\na||x\n\n", "v=1&u=u1\n\n\nshelf|1|x", "v=1&u=u1\n\n"} {
		if _, ok := decodePending(bad); ok {
			t.Fatalf("%q decoded", bad)
		}
	}
}
