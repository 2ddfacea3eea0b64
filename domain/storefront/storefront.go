// Package storefront holds the cart and wishlist of a storefront tenant's
// user and the rules by which a guest's local cart and wishlist, sent with
// a login, are merged into the ones the server keeps.
//
// The merge rules:
//   - A cart line is a product id, an optional variant id and a quantity;
//     two lines are the same line when both ids are equal.
//   - The same line on the server and in the local cart ends with the
//     larger quantity, never the sum, so that a login retried with the same
//     local cart never doubles a quantity. A quantity over MaxQuantity is
//     lowered to it.
//   - The merged cart is the server's lines in their order, then the local
//     lines the server did not have, in their local order. A line listed
//     twice counts once, with the larger quantity.
//   - Past MaxLines lines, further new lines are dropped and reported with
//     the reason cart_full.
//   - The wishlist is the server's items, then the local items the server
//     did not have, in their local order, without duplicates; past
//     MaxWishlist items, further items are dropped (wishlist_full).
//   - An invalid line or item (a quantity of 0 or less, no product id, an
//     id longer than MaxIDLength or with characters outside [A-Za-z0-9]
//     and -_.:/@+=~#) is dropped and reported with its reason, and the rest
//     is merged.
//
// Merging is idempotent — merging a local cart a second time changes
// nothing — and merges of different local carts converge: whatever order
// they run in, the lines and their quantities are the same (while the cart
// has room for all of them); only the order of the new lines differs.
package storefront

import (
	"fmt"

	"github.com/portcullis/portcullis/domain/errs"
)

// Line is one line of a cart.
type Line struct {
	ProductID string
	VariantID string // optional
	Quantity  int
}

// Key identifies the line: two lines with equal keys are the same line.
func (l Line) Key() Key { return Key{ProductID: l.ProductID, VariantID: l.VariantID} }

// Key is what makes a line the same line: its product and variant.
type Key struct{ ProductID, VariantID string }

// Cart is a user's cart: its lines in order.
type Cart struct {
	Lines []Line
}

// Wishlist is a user's wishlist: product ids in order.
type Wishlist []string

// Limits bound a cart and a wishlist.
type Limits struct {
	MaxQuantity int // per line
	MaxLines    int // per cart
	MaxWishlist int // items per wishlist
	MaxIDLength int // bytes of a product or variant id
}

// The default limits and the bounds of the configurable ones.
const (
	DefaultMaxQuantity = 10
	DefaultMaxLines    = 100
	DefaultMaxWishlist = 200
	DefaultMaxIDLength = 64

	// MaxInputLines is the most lines (or wishlist items) one request may
	// send: more is refused as a whole, before anything is stored.
	MaxInputLines = 1000
	// MaxInputBytes bounds the size of one request's cart or wishlist,
	// counted as its JSON encoding would be: more is refused as a whole.
	MaxInputBytes = 1 << 20
)

// DefaultLimits are the limits of a storefront that sets none.
func DefaultLimits() Limits {
	return Limits{MaxQuantity: DefaultMaxQuantity, MaxLines: DefaultMaxLines, MaxWishlist: DefaultMaxWishlist, MaxIDLength: DefaultMaxIDLength}
}

// WithDefaults returns l with its zero (or negative) fields set to the
// defaults: every function here takes a zero Limits as the defaults.
func (l Limits) WithDefaults() Limits {
	d := DefaultLimits()
	if l.MaxQuantity <= 0 {
		l.MaxQuantity = d.MaxQuantity
	}
	if l.MaxLines <= 0 {
		l.MaxLines = d.MaxLines
	}
	if l.MaxWishlist <= 0 {
		l.MaxWishlist = d.MaxWishlist
	}
	if l.MaxIDLength <= 0 {
		l.MaxIDLength = d.MaxIDLength
	}
	return l
}

// Reason says why a line or item was dropped. Clients see it.
type Reason string

// The reasons a line or item is dropped.
const (
	ReasonInvalidQuantity  Reason = "invalid_quantity"   // 0 or less
	ReasonMissingProductID Reason = "missing_product_id" // empty product id
	ReasonIDTooLong        Reason = "id_too_long"        // a product or variant id over MaxIDLength
	ReasonInvalidID        Reason = "invalid_id"         // a character outside the allowed set
	// ReasonInvalidLine is for a surface to report an entry that is not a
	// line at all (not an object, a quantity that is not a whole number).
	ReasonInvalidLine  Reason = "invalid_line"
	ReasonCartFull     Reason = "cart_full"     // the cart has MaxLines lines
	ReasonWishlistFull Reason = "wishlist_full" // the wishlist has MaxWishlist items
)

// List names the list a dropped entry was sent in.
type List string

// The lists.
const (
	ListCart     List = "cart"
	ListWishlist List = "wishlist"
)

// Dropped reports an entry of a local cart or wishlist that was not
// merged: its list, its index in the list as sent, and why.
type Dropped struct {
	List   List
	Index  int
	Reason Reason
}

// CheckID returns why id is not a valid product or variant id under
// limits, or "" when it is. An empty id is not checked here (a missing
// product id is the caller's reason; an empty variant id means none).
func CheckID(id string, limits Limits) Reason {
	limits = limits.WithDefaults()
	if len(id) > limits.MaxIDLength {
		return ReasonIDTooLong
	}
	for i := 0; i < len(id); i++ {
		if !idByte(id[i]) {
			return ReasonInvalidID
		}
	}
	return ""
}

// idByte reports whether c may appear in an id: ASCII letters and digits
// and a few punctuation marks that SKUs, slugs and URIs use. "|", spaces,
// quotes and control characters are not among them.
func idByte(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	switch c {
	case '-', '_', '.', ':', '/', '@', '+', '=', '~', '#':
		return true
	}
	return false
}

// CheckLine returns why l is not a valid line under limits, or "".
func CheckLine(l Line, limits Limits) Reason {
	if l.ProductID == "" {
		return ReasonMissingProductID
	}
	if r := CheckID(l.ProductID, limits); r != "" {
		return r
	}
	if r := CheckID(l.VariantID, limits); r != "" {
		return r
	}
	if l.Quantity <= 0 {
		return ReasonInvalidQuantity
	}
	return ""
}

// CheckItem returns why a wishlist item is not a valid product id, or "".
func CheckItem(id string, limits Limits) Reason {
	if id == "" {
		return ReasonMissingProductID
	}
	return CheckID(id, limits)
}

// CleanCart returns the valid lines of local in their order, and reports
// each invalid one with its index and reason. It neither caps nor merges
// duplicates: MergeCart does.
func CleanCart(local Cart, limits Limits) (Cart, []Dropped) {
	var (
		clean   Cart
		dropped []Dropped
	)
	for i, l := range local.Lines {
		if r := CheckLine(l, limits); r != "" {
			dropped = append(dropped, Dropped{List: ListCart, Index: i, Reason: r})
			continue
		}
		clean.Lines = append(clean.Lines, l)
	}
	return clean, dropped
}

// CleanWishlist returns the valid items of local in their order, and
// reports each invalid one with its index and reason.
func CleanWishlist(local Wishlist, limits Limits) (Wishlist, []Dropped) {
	var (
		clean   Wishlist
		dropped []Dropped
	)
	for i, id := range local {
		if r := CheckItem(id, limits); r != "" {
			dropped = append(dropped, Dropped{List: ListWishlist, Index: i, Reason: r})
			continue
		}
		clean = append(clean, id)
	}
	return clean, dropped
}

// MergeCart merges a local cart into the server's by the package's rules
// and returns the merged cart with the local lines it dropped (invalid, or
// past MaxLines), indexed in local. Server lines are taken as valid; those
// past MaxLines (a limit lowered since they were stored) are left out
// without a report, and their quantities are capped like any.
func MergeCart(server, local Cart, limits Limits) (Cart, []Dropped) {
	limits = limits.WithDefaults()
	out := Cart{Lines: make([]Line, 0, min(len(server.Lines)+len(local.Lines), limits.MaxLines))}
	at := make(map[Key]int, cap(out.Lines))
	// add merges l in and reports whether it is in the cart now.
	add := func(l Line) bool {
		q := min(l.Quantity, limits.MaxQuantity)
		if i, ok := at[l.Key()]; ok {
			out.Lines[i].Quantity = max(out.Lines[i].Quantity, q)
			return true
		}
		if len(out.Lines) >= limits.MaxLines {
			return false
		}
		at[l.Key()] = len(out.Lines)
		l.Quantity = q
		out.Lines = append(out.Lines, l)
		return true
	}
	for _, l := range server.Lines {
		if l.Quantity > 0 && l.ProductID != "" {
			add(l)
		}
	}
	var dropped []Dropped
	for i, l := range local.Lines {
		if r := CheckLine(l, limits); r != "" {
			dropped = append(dropped, Dropped{List: ListCart, Index: i, Reason: r})
			continue
		}
		if !add(l) {
			dropped = append(dropped, Dropped{List: ListCart, Index: i, Reason: ReasonCartFull})
		}
	}
	return out, dropped
}

// MergeWishlist merges a local wishlist into the server's by the package's
// rules and returns the merged wishlist with the local items it dropped
// (invalid, or past MaxWishlist), indexed in local. Server items past
// MaxWishlist are left out without a report.
func MergeWishlist(server, local Wishlist, limits Limits) (Wishlist, []Dropped) {
	limits = limits.WithDefaults()
	out := make(Wishlist, 0, min(len(server)+len(local), limits.MaxWishlist))
	seen := make(map[string]bool, cap(out))
	add := func(id string) bool {
		if seen[id] {
			return true
		}
		if len(out) >= limits.MaxWishlist {
			return false
		}
		seen[id] = true
		out = append(out, id)
		return true
	}
	for _, id := range server {
		if id != "" {
			add(id)
		}
	}
	var dropped []Dropped
	for i, id := range local {
		if r := CheckItem(id, limits); r != "" {
			dropped = append(dropped, Dropped{List: ListWishlist, Index: i, Reason: r})
			continue
		}
		if !add(id) {
			dropped = append(dropped, Dropped{List: ListWishlist, Index: i, Reason: ReasonWishlistFull})
		}
	}
	return out, dropped
}

// CapCart returns the cart as limits let it be shown: its first MaxLines
// distinct lines, quantities capped. It is MergeCart with nothing local.
func CapCart(c Cart, limits Limits) Cart {
	out, _ := MergeCart(c, Cart{}, limits)
	return out
}

// CapWishlist returns the wishlist's first MaxWishlist distinct items.
func CapWishlist(w Wishlist, limits Limits) Wishlist {
	out, _ := MergeWishlist(w, nil, limits)
	return out
}

// lineOverhead is what a line costs in JSON besides its ids:
// {"product_id":"","variant_id":"","quantity":1234567890},
const lineOverhead = 56

// itemOverhead is what a wishlist item costs in JSON besides its id: "",
const itemOverhead = 3

// CheckBounds refuses, as a whole, a local cart or wishlist too large to
// look at: more than MaxInputLines entries or more than MaxInputBytes,
// counted as their JSON encoding would be. Its error is errs.Invalid with
// the field "cart" or "wishlist"; nothing may be stored after it.
func CheckBounds(c Cart, w Wishlist) error {
	var fields []errs.FieldError
	if n := len(c.Lines); n > MaxInputLines {
		fields = append(fields, errs.FieldError{Field: string(ListCart), Reason: fmt.Sprintf("must have at most %d lines, got %d", MaxInputLines, n)})
	} else if size := cartSize(c); size > MaxInputBytes {
		fields = append(fields, errs.FieldError{Field: string(ListCart), Reason: fmt.Sprintf("must be at most %d bytes", MaxInputBytes)})
	}
	if n := len(w); n > MaxInputLines {
		fields = append(fields, errs.FieldError{Field: string(ListWishlist), Reason: fmt.Sprintf("must have at most %d items, got %d", MaxInputLines, n)})
	} else if size := wishlistSize(w); size > MaxInputBytes {
		fields = append(fields, errs.FieldError{Field: string(ListWishlist), Reason: fmt.Sprintf("must be at most %d bytes", MaxInputBytes)})
	}
	if len(fields) == 0 {
		return nil
	}
	return ErrTooLarge.WithFields(fields...)
}

// ErrTooLarge refuses a local cart or wishlist over the input bounds.
var ErrTooLarge = errs.E(errs.Invalid, "cart_too_large", "The cart or wishlist is too large.")

func cartSize(c Cart) int {
	n := 0
	for _, l := range c.Lines {
		n += lineOverhead + len(l.ProductID) + len(l.VariantID)
	}
	return n
}

func wishlistSize(w Wishlist) int {
	n := 0
	for _, id := range w {
		n += itemOverhead + len(id)
	}
	return n
}
