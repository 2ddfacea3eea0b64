package v1

import (
	"encoding/json"

	"github.com/gofiber/fiber/v2"

	"github.com/portcullis/portcullis/adapters/http/web"
	"github.com/portcullis/portcullis/application/session"
	"github.com/portcullis/portcullis/application/storefront"
)

// registerStorefront adds the signed-in user's cart and wishlist: GET
// reads one with its version (also the ETag), PUT replaces it. They are
// authenticated like /me (a cookie session's PUT with its CSRF token); a
// tenant that is no storefront answers 403 storefront_disabled.
func (h handlers) registerStorefront(g fiber.Router) {
	g.Get("/cart", h.cart)
	g.Put("/cart", h.replaceCart)
	g.Get("/wishlist", h.wishlist)
	g.Put("/wishlist", h.replaceWishlist)
}

// shopper is the request's signed-in user and its tenant's cart and
// wishlist service; a tenant that is no storefront answers
// storefront.ErrDisabled, after the credential is checked.
func (h handlers) shopper(c *fiber.Ctx) (session.Principal, *storefront.Service, error) {
	p, err := h.principal(c)
	if err != nil {
		return session.Principal{}, nil, err
	}
	svc := tenantOf(c).Storefront
	if svc == nil || !svc.Enabled() {
		return session.Principal{}, nil, storefront.ErrDisabled
	}
	return p, svc, nil
}

// listRequest is the body of a PUT: the list, whole.
type listRequest struct {
	Items json.RawMessage `json:"items"`
}

// versioned sets the answer's ETag and keeps it out of shared caches.
func versioned(c *fiber.Ctx, version string) {
	c.Set(fiber.HeaderCacheControl, "private, no-cache")
	if tag := web.ETag(version); tag != "" {
		c.Set(fiber.HeaderETag, tag)
	}
}

func (h handlers) cart(c *fiber.Ctx) error {
	p, svc, err := h.shopper(c)
	if err != nil {
		return err
	}
	cart, v, err := svc.Cart(c.UserContext(), p.User.ID)
	if err != nil {
		return err
	}
	versioned(c, v)
	return c.JSON(fiber.Map{"cart": web.CartJSON(cart), "version": v})
}

// replaceCart makes the body's items the cart: invalid lines are dropped
// and reported (by their index as sent), duplicates count once, the rest
// is capped. With If-Match, a cart whose version is none of the tags
// named is left alone (412 precondition_failed).
func (h handlers) replaceCart(c *fiber.Ctx) error {
	p, svc, err := h.shopper(c)
	if err != nil {
		return err
	}
	var req listRequest
	if err := web.DecodeJSON(c, &req); err != nil {
		return err
	}
	local, err := web.DecodeCartItems(req.Items, "items")
	if err != nil {
		return err
	}
	cart, dropped, err := svc.ReplaceCart(c.UserContext(), p.User.ID, local.Cart, web.IfMatch(c))
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(fiber.Map{"cart": web.CartJSON(cart), "dropped": web.DroppedJSON(local.AsSent(dropped))})
}

func (h handlers) wishlist(c *fiber.Ctx) error {
	p, svc, err := h.shopper(c)
	if err != nil {
		return err
	}
	w, v, err := svc.Wishlist(c.UserContext(), p.User.ID)
	if err != nil {
		return err
	}
	versioned(c, v)
	return c.JSON(fiber.Map{"wishlist": web.WishlistJSON(w), "version": v})
}

// replaceWishlist makes the body's items the wishlist, by the rules of
// replaceCart.
func (h handlers) replaceWishlist(c *fiber.Ctx) error {
	p, svc, err := h.shopper(c)
	if err != nil {
		return err
	}
	var req listRequest
	if err := web.DecodeJSON(c, &req); err != nil {
		return err
	}
	local, err := web.DecodeWishlistItems(req.Items, "items")
	if err != nil {
		return err
	}
	w, dropped, err := svc.ReplaceWishlist(c.UserContext(), p.User.ID, local.Wishlist, web.IfMatch(c))
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(fiber.Map{"wishlist": web.WishlistJSON(w), "dropped": web.DroppedJSON(local.AsSent(dropped))})
}
