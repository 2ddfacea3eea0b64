package login

import (
	"context"
	"log/slog"
	"strconv"
	"strings"

	"github.com/portcullis/portcullis/application/platform"
	shop "github.com/portcullis/portcullis/application/storefront"
	"github.com/portcullis/portcullis/domain/identity"
	"github.com/portcullis/portcullis/domain/storefront"
)

// Storefront is the tenant's cart and wishlist as the pipeline's hook
// merges a guest's local ones into them (storefront.Service is one).
type Storefront interface {
	// Enabled reports whether the tenant is a storefront at all.
	Enabled() bool
	Limits() storefront.Limits
	// MergeOrRetry merges, or queues the merge when the store is
	// unavailable (the result is then Pending).
	MergeOrRetry(ctx context.Context, userID string, c storefront.Cart, w storefront.Wishlist) (shop.MergeResult, error)
	// MergeLater queues the merge to be retried in the background.
	MergeLater(ctx context.Context, userID string, c storefront.Cart, w storefront.Wishlist) error
}

// mergeLocal is the storefront hook of a started session: for a storefront
// tenant it merges the guest's local cart and wishlist the grant carries
// into the user's, and returns what the surfaces show — the cart and
// wishlist after the merge, the local entries dropped (indexes as sent),
// and whether the merge is pending. It runs for every method, once the
// session has started: a sign-in that ends in a second factor merges only
// when the second step starts the session. Nothing here fails the
// sign-in: a merge that fails is logged with the request id and queued on
// the storefront's Retrier, and the result shows the local cart and
// wishlist, cleaned and capped, as pending. A tenant that is no
// storefront gets nil.
func (p *Pipeline) mergeLocal(ctx context.Context, u identity.User, local storefront.Local) *shop.MergeResult {
	sf := p.d.Storefront
	if sf == nil || !sf.Enabled() {
		return nil
	}
	log := p.log().With("request_id", platform.RequestID(ctx), "tenant", p.t.ID, "user_id", u.ID)
	if err := local.CheckBounds(); err != nil {
		// Surfaces refuse such a cart before any work; a method that did
		// not is not let to store it.
		log.Error("storefront: local cart over the input bounds at sign-in: not merged", "error", err)
		local = storefront.Local{}
	}
	limits := sf.Limits()
	clean := local.Clean(limits)
	res, err := sf.MergeOrRetry(ctx, u.ID, clean.Cart, clean.Wishlist)
	if err != nil {
		log.Error("storefront: merge at sign-in failed; the sign-in stands", "error", err)
		if qerr := sf.MergeLater(context.WithoutCancel(ctx), u.ID, clean.Cart, clean.Wishlist); qerr != nil {
			log.Error("storefront: merge at sign-in not queued for a retry", "error", qerr)
		}
		res = pendingResult(clean, limits)
	}
	res.Dropped = clean.AsSent(res.Dropped)
	return &res
}

// pendingResult is what a sign-in whose merge did not reach the store
// shows: the local cart and wishlist, clean and within the limits, and
// the entries that did not fit.
func pendingResult(clean storefront.Local, limits storefront.Limits) shop.MergeResult {
	c, full := storefront.MergeCart(storefront.Cart{}, clean.Cart, limits)
	w, wfull := storefront.MergeWishlist(nil, clean.Wishlist, limits)
	return shop.MergeResult{Cart: c, Wishlist: w, Dropped: append(full, wfull...), Pending: true}
}

func (p *Pipeline) log() *slog.Logger {
	if p.d.Log != nil {
		return p.d.Log
	}
	return slog.Default()
}

// pendingLocal is what a sign-in waiting for its second factor keeps of
// the local cart and wishlist: for a storefront tenant, the local ones
// cleaned (storefront.Local.Clean), so that the state the challenge keeps
// holds only valid entries and the index and reason of each other one.
// Its size is bounded by the input bounds (checked here again): at most
// storefront.MaxInputLines lines and items of ids of at most
// storefront.DefaultMaxIDLength bytes, about 210 KB at the very worst, a
// few hundred bytes for a usual cart.
func (p *Pipeline) pendingLocal(ctx context.Context, local storefront.Local) storefront.Local {
	sf := p.d.Storefront
	if sf == nil || !sf.Enabled() || local.Empty() {
		return storefront.Local{}
	}
	if err := local.CheckBounds(); err != nil {
		p.log().Error("storefront: local cart over the input bounds at sign-in: not kept for the second step",
			"request_id", platform.RequestID(ctx), "tenant", p.t.ID, "error", err)
		return storefront.Local{}
	}
	return local.Clean(sf.Limits())
}

// The local cart and wishlist in a pending grant: after the grant's own
// encoding (url.Values, which holds no newline), a newline and three
// lines — the cart's lines ("product|variant|quantity", space-separated),
// the wishlist's items (space-separated) and the entries taken out
// ("list|index|reason", space-separated). Valid ids hold no "|", space or
// newline (storefront.CheckID), so nothing needs escaping. A grant with
// nothing local has no newline at all.

// encodeLocal returns the encoding of a clean local cart and wishlist, ""
// for an empty one.
func encodeLocal(l storefront.Local) string {
	if l.Empty() {
		return ""
	}
	var b strings.Builder
	for i, ln := range l.Cart.Lines {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(ln.ProductID + "|" + ln.VariantID + "|" + strconv.Itoa(ln.Quantity))
	}
	b.WriteByte('\n')
	b.WriteString(strings.Join(l.Wishlist, " "))
	b.WriteByte('\n')
	for i, d := range l.Dropped {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(string(d.List) + "|" + strconv.Itoa(d.Index) + "|" + string(d.Reason))
	}
	return b.String()
}

// decodeLocal reads encodeLocal's encoding back.
func decodeLocal(s string) (storefront.Local, bool) {
	parts := strings.Split(s, "\n")
	if len(parts) != 3 {
		return storefront.Local{}, false
	}
	var l storefront.Local
	for _, f := range strings.Fields(parts[0]) {
		fs := strings.Split(f, "|")
		if len(fs) != 3 || fs[0] == "" {
			return storefront.Local{}, false
		}
		q, err := strconv.Atoi(fs[2])
		if err != nil {
			return storefront.Local{}, false
		}
		l.Cart.Lines = append(l.Cart.Lines, storefront.Line{ProductID: fs[0], VariantID: fs[1], Quantity: q})
	}
	if items := strings.Fields(parts[1]); len(items) > 0 {
		l.Wishlist = items
	}
	for _, f := range strings.Fields(parts[2]) {
		fs := strings.Split(f, "|")
		if len(fs) != 3 || (fs[0] != string(storefront.ListCart) && fs[0] != string(storefront.ListWishlist)) || fs[2] == "" {
			return storefront.Local{}, false
		}
		i, err := strconv.Atoi(fs[1])
		if err != nil || i < 0 {
			return storefront.Local{}, false
		}
		l.Dropped = append(l.Dropped, storefront.Dropped{List: storefront.List(fs[0]), Index: i, Reason: storefront.Reason(fs[2])})
	}
	return l, true
}
