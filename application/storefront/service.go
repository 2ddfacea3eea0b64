// Package storefront is the server cart and wishlist of a storefront
// tenant's users: what a login merges a guest's local cart and wishlist
// into (the pipeline's after-success hook calls MergeOrRetry), and what
// the cart and wishlist routes read and replace. The rules are
// domain/storefront's; the Store port keeps them exact under concurrency.
//
// A merge whose store is unavailable (the storefront's cart service is
// down, MongoDB does not answer) must not cost the user the login: the
// hook calls MergeOrRetry, which queues the merge on the Retrier and
// answers with the local cart. The Retrier keeps pending merges in this
// process's memory: a restart loses them (the guest's cart is then only on
// the device it came from, as before the login).
package storefront

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"github.com/portcullis/portcullis/domain/errs"
	"github.com/portcullis/portcullis/domain/storefront"
	"github.com/portcullis/portcullis/domain/tenant"
)

// ErrDisabled answers a cart or wishlist request to a tenant that is not a
// storefront (storefront.enabled is off).
var ErrDisabled = errs.E(errs.Forbidden, "storefront_disabled", "This tenant has no cart or wishlist.")

// ErrVersionMismatch answers a replace whose client read another version
// of the cart and wishlist than the current one (an HTTP If-Match that
// does not match: 412).
var ErrVersionMismatch = errs.E(errs.Conflict, "precondition_failed", "The cart or wishlist changed since it was read: read it again.")

// Deps are what one tenant's storefront service uses.
type Deps struct {
	Store Store
	// Retrier runs merges that found the store unavailable again later;
	// nil means they are not retried (MergeOrRetry then fails like Merge).
	Retrier *Retrier
}

// Service is one tenant's cart and wishlist use cases.
type Service struct {
	tenantID string
	enabled  bool
	limits   storefront.Limits
	d        Deps
}

// New returns tenant t's storefront service.
func New(t tenant.Tenant, d Deps) *Service {
	return &Service{tenantID: t.ID, enabled: t.Storefront.Enabled, limits: t.Storefront.Limits(), d: d}
}

// Enabled reports whether the tenant is a storefront; when it is not,
// every method fails with ErrDisabled and the login hook does nothing.
func (s *Service) Enabled() bool { return s.enabled }

// Limits are the tenant's cart and wishlist limits.
func (s *Service) Limits() storefront.Limits { return s.limits }

// MergeResult is what a merge left: the user's cart and wishlist as they
// are shown (within the limits), and the local lines and items that were
// not merged, each with its list, its index as sent and the reason.
type MergeResult struct {
	Cart     storefront.Cart
	Wishlist storefront.Wishlist
	Dropped  []storefront.Dropped
	// Pending says the store was unavailable (MergeOrRetry only): the
	// merge, if there was anything to merge, is queued to be retried, and
	// Cart and Wishlist are the local ones, cleaned and within the limits;
	// nothing is stored yet.
	Pending bool
}

// local is a local cart and wishlist checked and cleaned, with what was
// dropped and, for each clean entry, its index as sent.
type local struct {
	cart      storefront.Cart
	wishlist  storefront.Wishlist
	dropped   []storefront.Dropped
	cartAt    []int
	wishAt    []int
	unchanged bool // nothing valid to merge
}

// prepare refuses a local cart or wishlist over the input bounds
// (storefront.CheckBounds: errs.Invalid, field cart or wishlist) and
// drops its invalid entries.
func (s *Service) prepare(c storefront.Cart, w storefront.Wishlist) (local, error) {
	if !s.enabled {
		return local{}, ErrDisabled
	}
	if err := storefront.CheckBounds(c, w); err != nil {
		return local{}, err
	}
	var l local
	var dc, dw []storefront.Dropped
	l.cart, dc = storefront.CleanCart(c, s.limits)
	l.wishlist, dw = storefront.CleanWishlist(w, s.limits)
	l.cartAt, l.wishAt = kept(len(c.Lines), dc), kept(len(w), dw)
	l.dropped = append(dc, dw...)
	l.unchanged = len(l.cart.Lines) == 0 && len(l.wishlist) == 0
	return l, nil
}

// kept returns the indexes, among n, that are not in dropped, in order.
func kept(n int, dropped []storefront.Dropped) []int {
	gone := make(map[int]bool, len(dropped))
	for _, d := range dropped {
		gone[d.Index] = true
	}
	out := make([]int, 0, n-len(dropped))
	for i := range n {
		if !gone[i] {
			out = append(out, i)
		}
	}
	return out
}

// result shows a stored cart and wishlist within the limits, and adds to
// the local entries' drops those that are not in what is shown: the cart
// or wishlist was full.
func (s *Service) result(l local, c storefront.Cart, w storefront.Wishlist) MergeResult {
	c, w = storefront.CapCart(c, s.limits), storefront.CapWishlist(w, s.limits)
	dropped := slices.Clone(l.dropped)
	in := make(map[storefront.Key]bool, len(c.Lines))
	for _, ln := range c.Lines {
		in[ln.Key()] = true
	}
	for i, ln := range l.cart.Lines {
		if !in[ln.Key()] {
			dropped = append(dropped, storefront.Dropped{List: storefront.ListCart, Index: l.cartAt[i], Reason: storefront.ReasonCartFull})
		}
	}
	has := make(map[string]bool, len(w))
	for _, id := range w {
		has[id] = true
	}
	for i, id := range l.wishlist {
		if !has[id] {
			dropped = append(dropped, storefront.Dropped{List: storefront.ListWishlist, Index: l.wishAt[i], Reason: storefront.ReasonWishlistFull})
		}
	}
	slices.SortFunc(dropped, func(a, b storefront.Dropped) int {
		return cmp.Or(cmp.Compare(a.List, b.List), cmp.Compare(a.Index, b.Index))
	})
	return MergeResult{Cart: c, Wishlist: w, Dropped: dropped}
}

// Merge merges a guest's local cart and wishlist into the user's, by the
// rules of domain/storefront, and returns the result. A local cart or
// wishlist over the input bounds is refused as a whole (errs.Invalid,
// field cart or wishlist) before anything is stored; invalid lines are
// dropped and reported, never an error. Concurrent merges of one user
// (parallel logins) are exact: see Store.
func (s *Service) Merge(ctx context.Context, userID string, c storefront.Cart, w storefront.Wishlist) (MergeResult, error) {
	l, err := s.prepare(c, w)
	if err != nil {
		return MergeResult{}, err
	}
	return s.merge(ctx, userID, l)
}

func (s *Service) merge(ctx context.Context, userID string, l local) (MergeResult, error) {
	var (
		sc  storefront.Cart
		sw  storefront.Wishlist
		err error
	)
	if l.unchanged {
		sc, sw, _, err = s.d.Store.Get(ctx, s.tenantID, userID)
	} else {
		sc, sw, err = s.d.Store.Merge(ctx, s.tenantID, userID, l.cart, l.wishlist, s.limits)
	}
	if err != nil {
		return MergeResult{}, fmt.Errorf("storefront: merge: %w", err)
	}
	return s.result(l, sc, sw), nil
}

// MergeLater queues the merge of a local cart and wishlist to run in the
// background, retried with backoff while the store is unavailable. It
// checks and cleans them first, as Merge does; it fails with
// errs.ErrUnavailable when there is no Retrier or its queue is full.
func (s *Service) MergeLater(ctx context.Context, userID string, c storefront.Cart, w storefront.Wishlist) error {
	l, err := s.prepare(c, w)
	if err != nil {
		return err
	}
	return s.later(ctx, userID, l)
}

func (s *Service) later(ctx context.Context, userID string, l local) error {
	if l.unchanged {
		return nil
	}
	if s.d.Retrier == nil {
		return errs.ErrUnavailable.WithMessage("The cart could not be merged now and is not retried.")
	}
	tenantID, limits := s.tenantID, s.limits
	ok := s.d.Retrier.Go(ctx, "merge "+tenantID+"/"+userID, func(ctx context.Context) error {
		_, _, err := s.d.Store.Merge(ctx, tenantID, userID, l.cart, l.wishlist, limits)
		return err
	})
	if !ok {
		return errs.ErrUnavailable.WithMessage("The cart could not be merged now, and too many merges wait to be retried.")
	}
	return nil
}

// MergeOrRetry is the login hook's merge: Merge, and when the store is
// unavailable (errs.Unavailable: the webhook is down or slow, MongoDB does
// not answer) the merge is queued with MergeLater and the result is the
// local cart and wishlist, cleaned and within the limits, with Pending
// set. Other errors (a local cart over the bounds) are Merge's. A login
// never fails because of it: the hook logs an error and signs in.
func (s *Service) MergeOrRetry(ctx context.Context, userID string, c storefront.Cart, w storefront.Wishlist) (MergeResult, error) {
	l, err := s.prepare(c, w)
	if err != nil {
		return MergeResult{}, err
	}
	res, err := s.merge(ctx, userID, l)
	if err == nil || errs.KindOf(err) != errs.Unavailable {
		return res, err
	}
	if qerr := s.later(context.WithoutCancel(ctx), userID, l); qerr != nil {
		return MergeResult{}, fmt.Errorf("%w (and not queued: %v)", err, qerr)
	}
	res = s.result(l, l.cart, l.wishlist)
	res.Pending = true
	return res, nil
}

// Cart returns the user's cart within the limits and the store's version.
func (s *Service) Cart(ctx context.Context, userID string) (storefront.Cart, string, error) {
	if !s.enabled {
		return storefront.Cart{}, "", ErrDisabled
	}
	c, _, v, err := s.d.Store.Get(ctx, s.tenantID, userID)
	if err != nil {
		return storefront.Cart{}, "", fmt.Errorf("storefront: cart: %w", err)
	}
	return storefront.CapCart(c, s.limits), v, nil
}

// Wishlist returns the user's wishlist within the limits and the store's
// version.
func (s *Service) Wishlist(ctx context.Context, userID string) (storefront.Wishlist, string, error) {
	if !s.enabled {
		return nil, "", ErrDisabled
	}
	_, w, v, err := s.d.Store.Get(ctx, s.tenantID, userID)
	if err != nil {
		return nil, "", fmt.Errorf("storefront: wishlist: %w", err)
	}
	return storefront.CapWishlist(w, s.limits), v, nil
}

// ReplaceCart makes cart the user's cart (the PUT route): invalid lines
// are dropped and reported, a line listed twice counts once with the
// larger quantity, quantities are capped, and lines past MaxLines are
// dropped (cart_full). A cart over the input bounds is refused as a whole
// before anything is stored. It returns the cart as stored. A merge
// concurrent with it counts as before or after it (see Store).
//
// ifMatch, when not empty, are the versions (Cart's, Wishlist's) the
// client may be replacing: when the current version is none of them, the
// cart is left alone and the answer is ErrVersionMismatch. The version is
// read just before the replace, not atomically with it (no store has a
// conditional write): it catches a client that read a cart others have
// changed since, not a write racing it within the same moment.
func (s *Service) ReplaceCart(ctx context.Context, userID string, cart storefront.Cart, ifMatch []string) (storefront.Cart, []storefront.Dropped, error) {
	l, err := s.prepare(cart, nil)
	if err != nil {
		return storefront.Cart{}, nil, err
	}
	if err := s.precondition(ctx, userID, ifMatch); err != nil {
		return storefront.Cart{}, nil, err
	}
	merged, full := storefront.MergeCart(storefront.Cart{}, l.cart, s.limits)
	if err := s.d.Store.ReplaceCart(ctx, s.tenantID, userID, merged); err != nil {
		return storefront.Cart{}, nil, fmt.Errorf("storefront: replace cart: %w", err)
	}
	return merged, reindex(l.dropped, full, l.cartAt), nil
}

// ReplaceWishlist makes wishlist the user's wishlist (the PUT route), by
// the rules of ReplaceCart: invalid items dropped and reported,
// duplicates once, items past MaxWishlist dropped (wishlist_full), and
// ifMatch as there.
func (s *Service) ReplaceWishlist(ctx context.Context, userID string, wishlist storefront.Wishlist, ifMatch []string) (storefront.Wishlist, []storefront.Dropped, error) {
	l, err := s.prepare(storefront.Cart{}, wishlist)
	if err != nil {
		return nil, nil, err
	}
	if err := s.precondition(ctx, userID, ifMatch); err != nil {
		return nil, nil, err
	}
	merged, full := storefront.MergeWishlist(nil, l.wishlist, s.limits)
	if err := s.d.Store.ReplaceWishlist(ctx, s.tenantID, userID, merged); err != nil {
		return nil, nil, fmt.Errorf("storefront: replace wishlist: %w", err)
	}
	return merged, reindex(l.dropped, full, l.wishAt), nil
}

// precondition refuses a replace whose ifMatch names versions of which
// the current one is none (ErrVersionMismatch).
func (s *Service) precondition(ctx context.Context, userID string, ifMatch []string) error {
	if len(ifMatch) == 0 {
		return nil
	}
	_, _, v, err := s.d.Store.Get(ctx, s.tenantID, userID)
	if err != nil {
		return fmt.Errorf("storefront: version: %w", err)
	}
	if !slices.Contains(ifMatch, v) {
		return ErrVersionMismatch
	}
	return nil
}

// reindex appends to invalid the drops of a merge of the clean entries,
// their indexes turned back into the indexes as sent.
func reindex(invalid, full []storefront.Dropped, at []int) []storefront.Dropped {
	out := slices.Clone(invalid)
	for _, d := range full {
		d.Index = at[d.Index]
		out = append(out, d)
	}
	slices.SortFunc(out, func(a, b storefront.Dropped) int { return cmp.Compare(a.Index, b.Index) })
	return out
}
