package tenant_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/domain/storefront"
	"github.com/portcullis/portcullis/domain/tenant"
)

func TestStorefrontDefaults(t *testing.T) {
	t.Parallel()
	s := tenant.Default().Storefront
	if s.Enabled || s.Webhook.Configured() || s.Webhook.Timeout != 3*time.Second {
		t.Fatalf("default storefront %+v: want off, no webhook, 3s timeout", s)
	}
	if got := s.Limits(); got != storefront.DefaultLimits() {
		t.Fatalf("default limits %+v, want %+v", got, storefront.DefaultLimits())
	}
}

func withWebhook() tenant.Storefront {
	s := tenant.DefaultStorefront()
	s.Enabled = true
	s.Webhook.URL = "https://shop.example/portcullis/cart"
	s.Webhook.SecretEnv = "SHOP_CART_SECRET"
	return s
}

func TestStorefrontAccepted(t *testing.T) {
	t.Parallel()
	cases := map[string]func(*tenant.Storefront){
		"defaults, off":        func(s *tenant.Storefront) { *s = tenant.DefaultStorefront() },
		"on, no webhook":       func(s *tenant.Storefront) { *s = tenant.DefaultStorefront(); s.Enabled = true },
		"webhook with env":     func(*tenant.Storefront) {},
		"webhook sealed":       func(s *tenant.Storefront) { s.Webhook.SecretEnv, s.Webhook.SecretSealed = "", "AQID" },
		"webhook off but kept": func(s *tenant.Storefront) { s.Enabled = false },
		"http to loopback":     func(s *tenant.Storefront) { s.Webhook.URL = "http://127.0.0.1:9000/cart" },
		"query in url":         func(s *tenant.Storefront) { s.Webhook.URL = "https://shop.example/hook?shop=1" },
		"lowest limits":        func(s *tenant.Storefront) { s.MaxQuantity, s.MaxLines, s.MaxWishlist = 1, 1, 1 },
		"highest limits":       func(s *tenant.Storefront) { s.MaxQuantity, s.MaxLines, s.MaxWishlist = 1000, 1000, 1000 },
		"shortest timeout":     func(s *tenant.Storefront) { s.Webhook.Timeout = tenant.MinCartWebhookTimeout },
		"longest timeout":      func(s *tenant.Storefront) { s.Webhook.Timeout = tenant.MaxCartWebhookTimeout },
	}
	for name, edit := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			x := valid()
			x.Storefront = withWebhook()
			edit(&x.Storefront)
			if err := x.Validate(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestStorefrontNamesFieldAndReason(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		edit func(*tenant.Storefront)
		want string
	}{
		{"zero quantity", func(s *tenant.Storefront) { s.MaxQuantity = 0 }, "storefront.max_quantity: must be between 1 and 1000, got 0"},
		{"too many lines", func(s *tenant.Storefront) { s.MaxLines = 1001 }, "storefront.max_lines: must be between 1 and 1000, got 1001"},
		{"negative wishlist", func(s *tenant.Storefront) { s.MaxWishlist = -1 }, "storefront.max_wishlist: must be between 1 and 1000, got -1"},
		{"timeout too short", func(s *tenant.Storefront) { s.Webhook.Timeout = time.Millisecond }, "storefront.webhook.timeout: must be between 100ms and 30s, got 1ms"},
		{"timeout too long", func(s *tenant.Storefront) { s.Webhook.Timeout = time.Minute }, "storefront.webhook.timeout: must be between 100ms and 30s, got 1m0s"},
		{"http elsewhere", func(s *tenant.Storefront) { s.Webhook.URL = "http://shop.example/cart" }, `storefront.webhook.url: "http://shop.example/cart" must use https`},
		{"relative url", func(s *tenant.Storefront) { s.Webhook.URL = "/cart" }, `storefront.webhook.url: "/cart" must be an absolute https URL`},
		{"credentials in url", func(s *tenant.Storefront) { s.Webhook.URL = "https://u:p@shop.example/" }, "must not hold credentials or a fragment"},
		{"space in url", func(s *tenant.Storefront) { s.Webhook.URL = "https://shop.example/a b" }, "must not contain spaces"},
		{"no secret", func(s *tenant.Storefront) { s.Webhook.SecretEnv = "" }, "storefront.webhook.secret_env: is required with storefront.webhook.url"},
		{"both secrets", func(s *tenant.Storefront) { s.Webhook.SecretSealed = "AQID" }, "storefront.webhook.secret_sealed: must not be set together with secret_env"},
		{"bad env name", func(s *tenant.Storefront) { s.Webhook.SecretEnv = "CART-SECRET" }, `storefront.webhook.secret_env: "CART-SECRET" is not an environment variable name`},
		{"secret without url", func(s *tenant.Storefront) { s.Webhook.URL = "" }, "storefront.webhook.secret_env: is set but storefront.webhook.url is empty"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			x := valid()
			x.Storefront = withWebhook()
			tc.edit(&x.Storefront)
			err := x.Validate()
			var ve *tenant.ValidationError
			if !errors.As(err, &ve) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v\ndoes not contain %q", err, tc.want)
			}
		})
	}
}
