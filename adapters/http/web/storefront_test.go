package web_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"

	"github.com/portcullis/portcullis/adapters/http/web"
	"github.com/portcullis/portcullis/domain/errs"
	"github.com/portcullis/portcullis/domain/storefront"
)

func lines(ls ...storefront.Line) storefront.Cart { return storefront.Cart{Lines: ls} }

func unreadable(list storefront.List, i int) storefront.Dropped {
	return storefront.Dropped{List: list, Index: i, Reason: storefront.ReasonInvalidLine}
}

func TestLocalFieldsReadEveryLineTheyCanAndReportTheRest(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, body string
		want       storefront.Local
	}{
		{"nothing", `{}`, storefront.Local{}},
		{"nulls", `{"cart": null, "wishlist": null}`, storefront.Local{}},
		{"no items", `{"cart": {}}`, storefront.Local{}},
		{"lines and items", `{"cart": {"items": [{"product_id": "a", "quantity": 2}, {"product_id": "b", "variant_id": "red", "quantity": 1},
			{"product_id": "c", "variant_id": null, "quantity": 3, "note": "ignored"}]}, "wishlist": ["x", "y"]}`,
			storefront.Local{Cart: lines(storefront.Line{ProductID: "a", Quantity: 2}, storefront.Line{ProductID: "b", VariantID: "red", Quantity: 1},
				storefront.Line{ProductID: "c", Quantity: 3}), Wishlist: storefront.Wishlist{"x", "y"}}},
		{"whole numbers in any notation", `{"cart": {"items": [{"product_id": "a", "quantity": 2.0}, {"product_id": "b", "quantity": 1e1},
			{"product_id": "c", "quantity": 1e400}, {"product_id": "d", "quantity": -1e400}]}}`,
			storefront.Local{Cart: lines(storefront.Line{ProductID: "a", Quantity: 2}, storefront.Line{ProductID: "b", Quantity: 10},
				storefront.Line{ProductID: "c", Quantity: 1<<31 - 1}, storefront.Line{ProductID: "d", Quantity: -1 << 31})}},
		// What the domain rules judge is read as it is.
		{"invalid but lines", `{"cart": {"items": [{"quantity": 1}, {"product_id": "a"}, {"product_id": "bad id", "quantity": 1}]}}`,
			storefront.Local{Cart: lines(storefront.Line{Quantity: 1}, storefront.Line{ProductID: "a"}, storefront.Line{ProductID: "bad id", Quantity: 1})}},
		{"not lines at all", `{"cart": {"items": [7, "a", null, [], {"product_id": 5, "quantity": 1}, {"product_id": "a", "variant_id": 1, "quantity": 1},
			{"product_id": "a", "quantity": 1.5}, {"product_id": "a", "quantity": "2"}, {"product_id": "ok", "quantity": 1}]},
			"wishlist": [1, "x", null, {"id": "y"}]}`,
			storefront.Local{Cart: lines(storefront.Line{ProductID: "ok", Quantity: 1}), Wishlist: storefront.Wishlist{"x"},
				Dropped: []storefront.Dropped{unreadable("cart", 0), unreadable("cart", 1), unreadable("cart", 2), unreadable("cart", 3),
					unreadable("cart", 4), unreadable("cart", 5), unreadable("cart", 6), unreadable("cart", 7),
					unreadable("wishlist", 0), unreadable("wishlist", 2), unreadable("wishlist", 3)}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var f web.LocalFields
			if err := json.Unmarshal([]byte(tc.body), &f); err != nil {
				t.Fatal(err)
			}
			got, err := f.Local()
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("read\n%+v\nwant\n%+v", got, tc.want)
			}
		})
	}
}

func TestLocalFieldsRefuseWhatIsNoCartOrTooLarge(t *testing.T) {
	t.Parallel()
	many := func(n int, entry string) string { return strings.TrimSuffix(strings.Repeat(entry+",", n), ",") }
	cases := []struct {
		name, body string
		code       string
		fields     []string
	}{
		{"a cart that is an array", `{"cart": [{"product_id": "a", "quantity": 1}]}`, "invalid_request", []string{"cart"}},
		{"items that are an object", `{"cart": {"items": {"product_id": "a"}}}`, "invalid_request", []string{"cart.items"}},
		{"a wishlist that is a string", `{"wishlist": "x"}`, "invalid_request", []string{"wishlist"}},
		{"both", `{"cart": 1, "wishlist": {}}`, "invalid_request", []string{"cart", "wishlist"}},
		{"1,001 lines", `{"cart": {"items": [` + many(1001, `{"product_id": "a", "quantity": 1}`) + `]}}`, "cart_too_large", []string{"cart"}},
		{"1,001 entries, none a line", `{"cart": {"items": [` + many(1001, `7`) + `]}}`, "cart_too_large", []string{"cart"}},
		{"1,001 items", `{"wishlist": [` + many(1001, `"x"`) + `]}`, "cart_too_large", []string{"wishlist"}},
		{"over 1 MB of ids", `{"cart": {"items": [{"product_id": "` + strings.Repeat("x", 1<<20) + `", "quantity": 1}]}}`, "cart_too_large", []string{"cart"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var f web.LocalFields
			if err := json.Unmarshal([]byte(tc.body), &f); err != nil {
				t.Fatal(err)
			}
			_, err := f.Local()
			var e *errs.Error
			if !errors.As(err, &e) || e.Kind != errs.Invalid || e.Code != tc.code {
				t.Fatalf("got %v, want %s", err, tc.code)
			}
			var fields []string
			for _, fe := range e.Fields {
				fields = append(fields, fe.Field)
			}
			if !reflect.DeepEqual(fields, tc.fields) {
				t.Fatalf("fields %v, want %v", fields, tc.fields)
			}
		})
	}
}

func TestListsSentWhole(t *testing.T) {
	t.Parallel()
	l, err := web.DecodeCartItems(json.RawMessage(`[{"product_id": "a", "quantity": 1}, 5]`), "items")
	if err != nil || len(l.Cart.Lines) != 1 || !reflect.DeepEqual(l.Dropped, []storefront.Dropped{unreadable("cart", 1)}) {
		t.Fatalf("%+v, %v", l, err)
	}
	w, err := web.DecodeWishlistItems(json.RawMessage(`["a", 5, "b"]`), "items")
	if err != nil || !reflect.DeepEqual(w.Wishlist, storefront.Wishlist{"a", "b"}) || !reflect.DeepEqual(w.Dropped, []storefront.Dropped{unreadable("wishlist", 1)}) {
		t.Fatalf("%+v, %v", w, err)
	}
	for _, raw := range []string{``, `null`, `{}`, `"a"`} {
		if _, err := web.DecodeCartItems(json.RawMessage(raw), "items"); errs.As(err).Code != "invalid_request" || errs.As(err).Fields[0].Field != "items" {
			t.Fatalf("items %q: %v", raw, err)
		}
		if _, err := web.DecodeWishlistItems(json.RawMessage(raw), "items"); errs.As(err).Code != "invalid_request" {
			t.Fatalf("items %q: %v", raw, err)
		}
	}
	if _, err := web.DecodeCartItems(json.RawMessage(`[`+strings.TrimSuffix(strings.Repeat(`1,`, 1001), ",")+`]`), "items"); errs.As(err).Code != "cart_too_large" {
		t.Fatalf("1,001 entries: %v", err)
	}
}

func TestETagAndIfMatch(t *testing.T) {
	t.Parallel()
	for v, want := range map[string]string{"": "", "3f2a": `"3f2a"`, `a"b`: "", "a b": "", "é": ""} {
		if got := web.ETag(v); got != want {
			t.Errorf("ETag(%q) = %q, want %q", v, got, want)
		}
	}
	for header, want := range map[string][]string{
		"": nil, "*": nil, `"v1"`: {"v1"}, `"v1", "v2"`: {"v1", "v2"}, `W/"v1"`: {`W/"v1"`}, `v1`: {"v1"}, `,`: {""},
	} {
		t.Run(fmt.Sprintf("If-Match %q", header), func(t *testing.T) {
			t.Parallel()
			got := ifMatchOf(t, header)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("%q read as %q, want %q", header, got, want)
			}
		})
	}
}

// ifMatchOf is web.IfMatch of a request with this If-Match header.
func ifMatchOf(t *testing.T, header string) []string {
	t.Helper()
	var got []string
	r := httptest.NewRequest(http.MethodPut, "/cart", nil)
	if header != "" {
		r.Header.Set("If-Match", header)
	}
	call(t, func(c *fiber.Ctx) (string, error) {
		got = web.IfMatch(c)
		return "", nil
	}, r)
	return got
}
