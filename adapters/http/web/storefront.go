package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	shop "github.com/portcullis/portcullis/application/storefront"
	"github.com/portcullis/portcullis/domain/errs"
	"github.com/portcullis/portcullis/domain/storefront"
)

// The cart and the wishlist on the wire, the same on every surface:
//
//	cart:     {"items": [{"product_id": "sku-1", "variant_id": "red", "quantity": 2}]}
//	wishlist: ["sku-9", "sku-3"]
//	dropped:  [{"list": "cart", "index": 0, "reason": "invalid_quantity"}]
//
// variant_id is optional (absent, null or "" is none). An entry that is
// not a line at all — not an object, a product or variant id that is not
// a string, a quantity that is not a whole number — or a wishlist item
// that is not a string is taken out and reported invalid_line; the rules
// of domain/storefront drop the rest that is invalid. More than
// storefront.MaxInputLines entries in either list refuse the request as a
// whole before any work (400 cart_too_large on the field cart or
// wishlist); so does a body over the server's body limit (413
// request_too_large, before any handler).

// LocalFields are a login body's guest cart and wishlist; a request DTO
// embeds them and the handler passes Local() to the use case, having read
// them before any work.
type LocalFields struct {
	Cart     json.RawMessage `json:"cart"`
	Wishlist json.RawMessage `json:"wishlist"`
}

// Local reads the cart and wishlist: an error for a shape that is not a
// cart ({"items": [...]}) or a wishlist (an array), or for too many
// entries; entries that are not lines or items are taken out and
// reported.
func (f LocalFields) Local() (storefront.Local, error) {
	var (
		l         storefront.Local
		lines     []json.RawMessage
		items     []json.RawMessage
		badShapes []errs.FieldError
	)
	if !absent(f.Cart) {
		var c struct {
			Items json.RawMessage `json:"items"`
		}
		if err := json.Unmarshal(f.Cart, &c); err != nil {
			badShapes = append(badShapes, errs.FieldError{Field: string(storefront.ListCart), Reason: `must be an object {"items": [...]}`})
		} else if !absent(c.Items) {
			if err := json.Unmarshal(c.Items, &lines); err != nil {
				badShapes = append(badShapes, errs.FieldError{Field: "cart.items", Reason: "must be an array of lines"})
			}
		}
	}
	if !absent(f.Wishlist) {
		if err := json.Unmarshal(f.Wishlist, &items); err != nil {
			badShapes = append(badShapes, errs.FieldError{Field: string(storefront.ListWishlist), Reason: "must be an array of product ids"})
		}
	}
	if len(badShapes) > 0 {
		return storefront.Local{}, errs.InvalidFields(badShapes...)
	}
	if err := tooMany(len(lines), len(items)); err != nil {
		return storefront.Local{}, err
	}
	readLines(&l, lines)
	readItems(&l, items)
	return l, l.CheckBounds()
}

// DecodeCartItems reads the items of a cart sent whole (PUT /cart's
// {"items": [...]}), as LocalFields.Local reads a login's; field names the
// member ("items").
func DecodeCartItems(raw json.RawMessage, field string) (storefront.Local, error) {
	var lines []json.RawMessage
	if err := json.Unmarshal(raw, &lines); err != nil || absent(raw) {
		return storefront.Local{}, errs.InvalidFields(errs.FieldError{Field: field, Reason: "is required: an array of lines ([] for none)"})
	}
	if err := tooMany(len(lines), 0); err != nil {
		return storefront.Local{}, err
	}
	var l storefront.Local
	readLines(&l, lines)
	return l, l.CheckBounds()
}

// DecodeWishlistItems reads the items of a wishlist sent whole (PUT
// /wishlist's {"items": [...]}).
func DecodeWishlistItems(raw json.RawMessage, field string) (storefront.Local, error) {
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil || absent(raw) {
		return storefront.Local{}, errs.InvalidFields(errs.FieldError{Field: field, Reason: "is required: an array of product ids ([] for none)"})
	}
	if err := tooMany(0, len(items)); err != nil {
		return storefront.Local{}, err
	}
	var l storefront.Local
	readItems(&l, items)
	return l, l.CheckBounds()
}

func absent(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) == 0 || bytes.Equal(raw, []byte("null"))
}

// tooMany refuses lists of more entries than a request may send, before
// any of them is read.
func tooMany(lines, items int) error {
	var l storefront.Local
	if lines > storefront.MaxInputLines {
		l.Cart.Lines = make([]storefront.Line, lines)
	}
	if items > storefront.MaxInputLines {
		l.Wishlist = make(storefront.Wishlist, items)
	}
	if l.Empty() {
		return nil
	}
	return l.CheckBounds()
}

func readLines(l *storefront.Local, raws []json.RawMessage) {
	for i, raw := range raws {
		ln, ok := readLine(raw)
		if !ok {
			l.Dropped = append(l.Dropped, storefront.Dropped{List: storefront.ListCart, Index: i, Reason: storefront.ReasonInvalidLine})
			continue
		}
		l.Cart.Lines = append(l.Cart.Lines, ln)
	}
}

func readItems(l *storefront.Local, raws []json.RawMessage) {
	for i, raw := range raws {
		var id string
		if !isString(raw) || json.Unmarshal(raw, &id) != nil {
			l.Dropped = append(l.Dropped, storefront.Dropped{List: storefront.ListWishlist, Index: i, Reason: storefront.ReasonInvalidLine})
			continue
		}
		l.Wishlist = append(l.Wishlist, id)
	}
}

// readLine reads one cart line; false when it is not a line at all. A
// missing product id or quantity reads as empty (the domain reports
// them); a huge quantity reads as the largest (lowered to the limit), a
// hugely negative one as the smallest (invalid_quantity).
func readLine(raw json.RawMessage) (storefront.Line, bool) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		return storefront.Line{}, false
	}
	var ln storefront.Line
	for _, f := range []struct {
		name string
		dst  *string
	}{{"product_id", &ln.ProductID}, {"variant_id", &ln.VariantID}} {
		v := m[f.name]
		if absent(v) {
			continue
		}
		if !isString(v) || json.Unmarshal(v, f.dst) != nil {
			return storefront.Line{}, false
		}
	}
	if q := bytes.TrimSpace(m["quantity"]); !absent(q) {
		n, ok := wholeNumber(q)
		if !ok {
			return storefront.Line{}, false
		}
		ln.Quantity = n
	}
	return ln, true
}

// wholeNumber reads a JSON number that is a whole number (2, 2.0, 1e2),
// clamped to what an int32 holds; false for anything else (1.5, "2").
func wholeNumber(raw []byte) (int, bool) {
	if len(raw) == 0 || (raw[0] != '-' && (raw[0] < '0' || raw[0] > '9')) {
		return 0, false
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	var ne *strconv.NumError
	switch {
	case errors.As(err, &ne) && errors.Is(ne.Err, strconv.ErrRange):
		// Past what a float64 holds: ±Inf, the sign kept.
	case err != nil || f != math.Trunc(f):
		return 0, false
	}
	return int(max(min(f, math.MaxInt32), math.MinInt32)), true
}

func isString(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) > 0 && raw[0] == '"'
}

// CartBody is a cart on the wire.
type CartBody struct {
	Items []LineBody `json:"items"`
}

// LineBody is a cart line on the wire.
type LineBody struct {
	ProductID string `json:"product_id"`
	VariantID string `json:"variant_id,omitempty"`
	Quantity  int    `json:"quantity"`
}

// DroppedBody is a dropped entry on the wire.
type DroppedBody struct {
	List   string `json:"list"`
	Index  int    `json:"index"`
	Reason string `json:"reason"`
}

// CartJSON is c on the wire.
func CartJSON(c storefront.Cart) CartBody {
	out := CartBody{Items: make([]LineBody, len(c.Lines))}
	for i, l := range c.Lines {
		out.Items[i] = LineBody{ProductID: l.ProductID, VariantID: l.VariantID, Quantity: l.Quantity}
	}
	return out
}

// WishlistJSON is w on the wire: never null.
func WishlistJSON(w storefront.Wishlist) []string {
	if w == nil {
		return []string{}
	}
	return w
}

// DroppedJSON is d on the wire: never null.
func DroppedJSON(d []storefront.Dropped) []DroppedBody {
	out := make([]DroppedBody, len(d))
	for i, x := range d {
		out[i] = DroppedBody{List: string(x.List), Index: x.Index, Reason: string(x.Reason)}
	}
	return out
}

// MergeJSON is the members a storefront's login answer gains: cart,
// wishlist, dropped and merge_pending.
func MergeJSON(r shop.MergeResult) fiber.Map {
	return fiber.Map{"cart": CartJSON(r.Cart), "wishlist": WishlistJSON(r.Wishlist), "dropped": DroppedJSON(r.Dropped),
		"merge_pending": r.Pending}
}

// ETag is the entity tag of a cart's version: the version quoted, or ""
// (no header) for a version that is empty or holds a character an entity
// tag cannot (a cart service's own version may).
func ETag(version string) string {
	if version == "" {
		return ""
	}
	for i := 0; i < len(version); i++ {
		if c := version[i]; c < 0x21 || c == '"' || c > 0x7e {
			return ""
		}
	}
	return `"` + version + `"`
}

// IfMatch reads the If-Match header as the versions it names: nil for
// none or "*" (the cart always exists). A weak tag (W/"...") is kept as
// it is, so that it matches nothing: If-Match compares strongly.
func IfMatch(c *fiber.Ctx) []string {
	h := strings.TrimSpace(c.Get(fiber.HeaderIfMatch))
	if h == "" || h == "*" {
		return nil
	}
	var out []string
	for _, tag := range strings.Split(h, ",") {
		tag = strings.TrimSpace(tag)
		if len(tag) >= 2 && tag[0] == '"' && tag[len(tag)-1] == '"' {
			tag = tag[1 : len(tag)-1]
		}
		if tag != "" {
			out = append(out, strings.Clone(tag))
		}
	}
	if out == nil {
		return []string{""} // a header naming nothing matches nothing
	}
	return out
}
