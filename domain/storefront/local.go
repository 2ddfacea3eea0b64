package storefront

import (
	"cmp"
	"slices"
)

// Local is a guest's local cart and wishlist as a client sent them (with a
// login, or to replace the server's): the lines and items in their order,
// and the entries taken out of them (Dropped), each with its list, its
// index as sent and why. A surface takes out the entries that do not read
// as a line or an item at all (ReasonInvalidLine: not an object, a
// quantity that is not a whole number); Clean takes out the invalid ones.
// The indexes of Cart and Wishlist skip the entries taken out; AsSent
// turns them back into the indexes as sent.
type Local struct {
	Cart     Cart
	Wishlist Wishlist
	Dropped  []Dropped
}

// Empty reports whether nothing was sent.
func (l Local) Empty() bool {
	return len(l.Cart.Lines) == 0 && len(l.Wishlist) == 0 && len(l.Dropped) == 0
}

// Sent returns how many entries of list were sent, those taken out
// included.
func (l Local) Sent(list List) int {
	n := 0
	for _, d := range l.Dropped {
		if d.List == list {
			n++
		}
	}
	if list == ListCart {
		return n + len(l.Cart.Lines)
	}
	return n + len(l.Wishlist)
}

// CheckBounds is the package's CheckBounds for what was sent: more than
// MaxInputLines entries in a list, those taken out counted, or more than
// MaxInputBytes of lines or items refuses the whole (ErrTooLarge, on the
// field cart or wishlist).
func (l Local) CheckBounds() error {
	c, w := l.Cart, l.Wishlist
	// An entry taken out counts as an empty one: what matters is the number.
	if extra := l.Sent(ListCart) - len(c.Lines); extra > 0 {
		c.Lines = append(slices.Clip(c.Lines), make([]Line, extra)...)
	}
	if extra := l.Sent(ListWishlist) - len(w); extra > 0 {
		w = append(slices.Clip(w), make(Wishlist, extra)...)
	}
	return CheckBounds(c, w)
}

// Clean returns l with its invalid lines and items (CleanCart,
// CleanWishlist) taken out too: what is left is valid under limits, and
// every entry taken out is in Dropped with its index as sent. Cleaning a
// clean Local changes nothing.
func (l Local) Clean(limits Limits) Local {
	c, dc := CleanCart(l.Cart, limits)
	w, dw := CleanWishlist(l.Wishlist, limits)
	return Local{Cart: c, Wishlist: w, Dropped: l.AsSent(append(dc, dw...))}
}

// AsSent returns dropped, whose indexes are into l.Cart.Lines or
// l.Wishlist, with the indexes as sent, and the entries l took out,
// sorted by list and index.
func (l Local) AsSent(dropped []Dropped) []Dropped {
	skipped := map[List][]int{}
	for _, d := range l.Dropped {
		skipped[d.List] = append(skipped[d.List], d.Index)
	}
	for _, s := range skipped {
		slices.Sort(s)
	}
	out := make([]Dropped, 0, len(dropped)+len(l.Dropped))
	for _, d := range dropped {
		d.Index = AsSentIndex(d.Index, skipped[d.List])
		out = append(out, d)
	}
	out = append(out, l.Dropped...)
	SortDropped(out)
	return out
}

// AsSentIndex is the index as sent of the entry at index i of a list from
// which the entries at skipped (sorted, indexes as sent) were taken out.
func AsSentIndex(i int, skipped []int) int {
	for _, s := range skipped {
		if s > i {
			break
		}
		i++
	}
	return i
}

// SortDropped sorts drops by list (cart first) and index, as every answer
// reports them.
func SortDropped(d []Dropped) {
	slices.SortFunc(d, func(a, b Dropped) int {
		return cmp.Or(cmp.Compare(a.List, b.List), cmp.Compare(a.Index, b.Index))
	})
}
