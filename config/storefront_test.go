package config_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/adapters/crypto/aesgcm"
	"github.com/portcullis/portcullis/config"
	"github.com/portcullis/portcullis/domain/tenant"
)

const storefrontYAML = `id: shop
storefront:
  enabled: true
  max_quantity: 5
  max_lines: 50
  max_wishlist: 300
  webhook:
    url: https://shop.example/portcullis/cart
    secret_env: SHOP_CART_SECRET
    timeout: 1500ms
`

func TestStorefrontBlock(t *testing.T) {
	t.Parallel()
	full := tenant.Storefront{Enabled: true, MaxQuantity: 5, MaxLines: 50, MaxWishlist: 300,
		Webhook: tenant.CartWebhook{URL: "https://shop.example/portcullis/cart", SecretEnv: "SHOP_CART_SECRET", Timeout: 1500 * time.Millisecond}}
	onlyOn := tenant.DefaultStorefront()
	onlyOn.Enabled = true
	cases := []struct {
		name, yaml string
		want       tenant.Storefront
	}{
		{"absent: off, the defaults", "id: shop\n", tenant.DefaultStorefront()},
		{"switched on, the defaults", "id: shop\nstorefront: {enabled: true}\n", onlyOn},
		{"every setting", storefrontYAML, full},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := config.ParseTenantYAML([]byte(tc.yaml), "file:shop.yaml")
			if err != nil {
				t.Fatal(err)
			}
			if got.Storefront != tc.want {
				t.Fatalf("storefront %+v, want %+v", got.Storefront, tc.want)
			}
			doc := config.EncodeTenant(got)
			out, err := config.DecodeTenant(doc, "shop")
			if err != nil || out.Storefront != got.Storefront {
				t.Fatalf("round trip: %+v, %v; want %+v", out.Storefront, err, got.Storefront)
			}
			if s, _ := doc["storefront"].(map[string]any); s["max_lines"] != tc.want.MaxLines {
				t.Fatalf("encoded storefront %v", doc["storefront"])
			}
		})
	}
}

func TestBadStorefrontBlockNamesFieldAndReason(t *testing.T) {
	t.Parallel()
	cases := []struct{ name, yaml, want string }{
		{"unknown setting", "id: shop\nstorefront:\n  max_items: 3\n", `tenant "shop": storefront.max_items: is not a known setting`},
		{"unknown webhook setting", "id: shop\nstorefront:\n  webhook: {secret: x}\n", `storefront.webhook.secret: is not a known setting`},
		{"quantity out of bounds", "id: shop\nstorefront:\n  max_quantity: 0\n", `storefront.max_quantity: must be between 1 and 1000, got 0`},
		{"lines out of bounds", "id: shop\nstorefront:\n  max_lines: 10000\n", `storefront.max_lines: must be between 1 and 1000, got 10000`},
		{"timeout without unit", "id: shop\nstorefront:\n  webhook: {timeout: 3}\n", `storefront.webhook.timeout: must be a duration with a unit such as 15m or 1h30m, got 3`},
		{"url without secret", "id: shop\nstorefront:\n  webhook: {url: \"https://shop.example/cart\"}\n", `storefront.webhook.secret_env: is required with storefront.webhook.url`},
		{"plain http", "id: shop\nstorefront:\n  webhook: {url: \"http://shop.example/cart\", secret_env: S}\n", `storefront.webhook.url: "http://shop.example/cart" must use https`},
		{"not a number", "id: shop\nstorefront:\n  max_wishlist: lots\n", `storefront.max_wishlist`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := config.ParseTenantYAML([]byte(tc.yaml), "file:shop.yaml")
			var ve *tenant.ValidationError
			if !errors.As(err, &ve) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v\ndoes not contain %q", err, tc.want)
			}
		})
	}
}

func TestCartWebhookSecret(t *testing.T) {
	t.Parallel()
	const secret = "whsec-0123456789"
	sealer, err := aesgcm.New(make([]byte, aesgcm.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := config.SealCartWebhookSecret(sealer, "shop", secret)
	if err != nil {
		t.Fatal(err)
	}
	sealedForOther, _ := config.SealCartWebhookSecret(sealer, "other", secret)
	smtpSealed, _ := config.SealSMTPPassword(sealer, "shop", secret)
	env := map[string]string{"SHOP_CART_SECRET": secret, "EMPTY": ""}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	with := func(edit func(*tenant.CartWebhook)) tenant.Tenant {
		x, err := config.ParseTenantYAML([]byte(storefrontYAML), "file:shop.yaml")
		if err != nil {
			t.Fatal(err)
		}
		edit(&x.Storefront.Webhook)
		return x
	}
	cases := []struct {
		name, want, wantErr string
		t                   tenant.Tenant
	}{
		{"from the environment", secret, "", with(func(*tenant.CartWebhook) {})},
		{"variable not set", "", `tenant "shop": storefront.webhook.secret_env: environment variable MISSING is not set`, with(func(w *tenant.CartWebhook) { w.SecretEnv = "MISSING" })},
		{"variable empty", "", `storefront.webhook.secret_env: environment variable EMPTY is empty`, with(func(w *tenant.CartWebhook) { w.SecretEnv = "EMPTY" })},
		{"sealed", secret, "", with(func(w *tenant.CartWebhook) { w.SecretEnv, w.SecretSealed = "", sealed })},
		{"sealed for another tenant", "", `storefront.webhook.secret_sealed: does not open`, with(func(w *tenant.CartWebhook) { w.SecretEnv, w.SecretSealed = "", sealedForOther })},
		{"sealed as an SMTP password", "", `storefront.webhook.secret_sealed: does not open`, with(func(w *tenant.CartWebhook) { w.SecretEnv, w.SecretSealed = "", smtpSealed })},
		{"no webhook", "", "", tenant.Default()},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := config.CartWebhookSecret(tc.t, lookup, sealer)
			if got != tc.want {
				t.Fatalf("secret %q, want %q", got, tc.want)
			}
			if (tc.wantErr == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("error %v, want %q", err, tc.wantErr)
			}
			if err != nil && strings.Contains(fmt.Sprint(err), secret) {
				t.Fatalf("error carries the secret: %v", err)
			}
		})
	}
}

// TestShippedDemoIsAStorefrontWithTheDefaults: make run's tenant has a
// cart and a wishlist, and spells out the default limits.
func TestShippedDemoIsAStorefrontWithTheDefaults(t *testing.T) {
	t.Parallel()
	ts, err := config.NewTenantDir("tenants").Tenants(context.Background())
	if err != nil || len(ts) != 1 {
		t.Fatal(ts, err)
	}
	want := tenant.DefaultStorefront()
	want.Enabled = true
	if ts[0].Storefront != want {
		t.Fatalf("demo storefront %+v, want %+v", ts[0].Storefront, want)
	}
}
