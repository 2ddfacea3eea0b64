package storefront

import (
	"context"

	"github.com/portcullis/portcullis/domain/storefront"
)

// Store keeps the cart and the wishlist of each user of a storefront
// tenant. It is Portcullis' own store (MongoDB, or the embedded FerretDB)
// or a storefront's own cart service behind a webhook.
//
// Its promises, which storefronttest.RunStoreContract checks on every
// adapter with goroutines released together:
//   - Merges are exact under concurrency, without transactions and without
//     relying on conditional updates: any number of concurrent merges into
//     one user's cart leave every line any of them brought (while the cart
//     has room) with the largest quantity any of them brought or the cart
//     had, each line once; the same for wishlist items. A merge repeated
//     changes nothing, and Get then reports the same version.
//   - A replace is atomic to readers: Get sees the cart (or wishlist)
//     before it or after it, never a part of it. Of concurrent replaces,
//     the cart ends as exactly one of them left it (the others count as
//     replaced right away by the winner).
//   - A merge concurrent with a replace counts as having run before it
//     (its lines are gone with the old cart) or after it (they are merged
//     into the new one), never half.
//   - Limits hold on read: concurrent merges may store more lines than
//     limits.MaxLines for a moment (each saw room); Get returns them in
//     their order and the Service shows the first MaxLines only. The next
//     Merge removes the lines past the cap.
type Store interface {
	// Get returns the user's cart and wishlist in their order, and a
	// version that changes whenever either changes (an ETag, not a lock).
	// A user with neither has an empty cart and wishlist.
	Get(ctx context.Context, tenantID, userID string) (storefront.Cart, storefront.Wishlist, string, error)
	// Merge merges cart into the user's cart and wishlist into the user's
	// wishlist by the rules of storefront.MergeCart and MergeWishlist
	// under limits, and returns the stored cart and wishlist after it.
	// The lines and items are valid (the Service cleaned them).
	Merge(ctx context.Context, tenantID, userID string, cart storefront.Cart, wishlist storefront.Wishlist, limits storefront.Limits) (storefront.Cart, storefront.Wishlist, error)
	// ReplaceCart makes cart, as given (valid, within the limits, each
	// line once), the user's cart. The wishlist is untouched.
	ReplaceCart(ctx context.Context, tenantID, userID string, cart storefront.Cart) error
	// ReplaceWishlist makes wishlist, as given (valid, within the limits,
	// each item once), the user's wishlist. The cart is untouched.
	ReplaceWishlist(ctx context.Context, tenantID, userID string, wishlist storefront.Wishlist) error
}
