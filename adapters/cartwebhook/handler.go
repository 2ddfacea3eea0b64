package cartwebhook

import (
	"encoding/json"
	"io"
	"net/http"
	"time"

	app "github.com/portcullis/portcullis/application/storefront"
	"github.com/portcullis/portcullis/domain/errs"
	"github.com/portcullis/portcullis/domain/storefront"
)

// Handler is the receiving end of the protocol over any storefront.Store:
// a reference for a storefront's own cart service (and what the tests
// serve). It refuses anything but a POST (405), a body over
// MaxRequestBytes (413), a bad or stale signature (401) and a body that is
// not a Request (400); a store that is unavailable answers 503, any other
// store error 500.
type Handler struct {
	Secret []byte
	Store  app.Store
	// Now is the receiver's clock; time.Now when nil.
	Now func() time.Time
}

// ServeHTTP answers one operation.
func (h Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxRequestBytes+1))
	if err != nil {
		http.Error(w, "cannot read the body", http.StatusBadRequest)
		return
	}
	if len(body) > MaxRequestBytes {
		http.Error(w, "too large", http.StatusRequestEntityTooLarge)
		return
	}
	now := time.Now
	if h.Now != nil {
		now = h.Now
	}
	if err := Verify(h.Secret, r.Header.Get(SignatureHeader), body, now(), 0); err != nil {
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	var req Request
	if err := json.Unmarshal(body, &req); err != nil {
		http.Error(w, "not a cart request", http.StatusBadRequest)
		return
	}
	ctx := r.Context()
	var (
		c    storefront.Cart
		wl   storefront.Wishlist
		v    string
		serr error
	)
	switch {
	case req.Op == OpGet:
		c, wl, v, serr = h.Store.Get(ctx, req.TenantID, req.UserID)
	case req.Op == OpMerge && req.Cart != nil && req.Wishlist != nil && req.Limits != nil:
		c, wl, serr = h.Store.Merge(ctx, req.TenantID, req.UserID, cartToDomain(*req.Cart), *req.Wishlist, limitsToDomain(req.Limits))
	case req.Op == OpReplaceCart && req.Cart != nil:
		serr = h.Store.ReplaceCart(ctx, req.TenantID, req.UserID, cartToDomain(*req.Cart))
	case req.Op == OpReplaceWishlist && req.Wishlist != nil:
		serr = h.Store.ReplaceWishlist(ctx, req.TenantID, req.UserID, *req.Wishlist)
	default:
		http.Error(w, "unknown operation or missing field", http.StatusBadRequest)
		return
	}
	switch {
	case serr != nil && errs.KindOf(serr) == errs.Unavailable:
		http.Error(w, "unavailable", http.StatusServiceUnavailable)
		return
	case serr != nil:
		http.Error(w, "failed", http.StatusInternalServerError)
		return
	case req.Op == OpReplaceCart || req.Op == OpReplaceWishlist:
		w.WriteHeader(http.StatusNoContent)
		return
	}
	wlist := []string(wl)
	if wlist == nil {
		wlist = []string{}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(Response{Cart: *cartToWire(c), Wishlist: wlist, Version: v})
}
