package main

import (
	"bytes"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/adapters/cartwebhook"
	"github.com/portcullis/portcullis/adapters/crypto/aesgcm"
	"github.com/portcullis/portcullis/adapters/mongo"
	"github.com/portcullis/portcullis/config"
	"github.com/portcullis/portcullis/domain/tenant"
)

func TestStorefrontStoreIsTheWebhookWhenSet(t *testing.T) {
	sealer, err := aesgcm.New(make([]byte, aesgcm.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	db := &mongo.StorefrontStore{}
	shop := tenant.Default()
	shop.ID = "shop"
	shop.Storefront.Enabled = true
	if got, err := provideStorefrontStore(shop, db, sealer); err != nil || got != db {
		t.Fatalf("without a webhook: %v, %v; want the database's store", got, err)
	}

	shop.Storefront.Webhook.URL = "https://shop.example/cart"
	shop.Storefront.Webhook.SecretEnv = "PORTCULLIS_TEST_CART_SECRET"
	if _, err := provideStorefrontStore(shop, db, sealer); err == nil || !strings.Contains(err.Error(), "storefront.webhook.secret_env") {
		t.Fatalf("an unset secret must fail the tenant's build naming the setting: %v", err)
	}
	t.Setenv("PORTCULLIS_TEST_CART_SECRET", "s3cr3t")
	got, err := provideStorefrontStore(shop, db, sealer)
	if _, ok := got.(*cartwebhook.Store); err != nil || !ok {
		t.Fatalf("with a webhook: %T, %v", got, err)
	}

	r, stop := provideStorefrontRetrier(slog.New(slog.NewTextHandler(io.Discard, nil)))
	defer stop()
	if svc := provideStorefront(shop, got, r); !svc.Enabled() || svc.Limits() != shop.Storefront.Limits() {
		t.Fatalf("service %+v", svc)
	}
}

func TestSealCartWebhookSecret(t *testing.T) {
	t.Setenv("PORTCULLIS_MASTER_KEY", testMasterKey)
	t.Setenv("PORTCULLIS_DATA_DIR", t.TempDir())
	var out, errOut bytes.Buffer
	if code := run([]string{"seal-cart-webhook-secret", "-tenant", "shop", "-help"}, &errOut); code != 2 || !strings.Contains(errOut.String(), "storefront.webhook.secret_sealed") {
		t.Fatalf("help: exit %d, %q", code, errOut.String())
	}
	errOut.Reset()
	if code := run([]string{"no-such-command"}, &errOut); code != 2 || !strings.Contains(errOut.String(), "seal-cart-webhook-secret") {
		t.Fatalf("unknown command: exit %d, %q does not list seal-cart-webhook-secret", code, errOut.String())
	}
	errOut.Reset()
	if code := sealCommands["seal-cart-webhook-secret"].run("", "shop", strings.NewReader("whsec-1\n"), &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	key, err := config.DecodeMasterKey(testMasterKey)
	if err != nil {
		t.Fatal(err)
	}
	opener, _ := aesgcm.New(key)
	shop := tenant.Default()
	shop.ID = "shop"
	shop.Storefront.Webhook = tenant.CartWebhook{URL: "https://shop.example/cart", SecretSealed: strings.TrimSpace(out.String())}
	if got, err := config.CartWebhookSecret(shop, func(string) (string, bool) { return "", false }, opener); err != nil || got != "whsec-1" {
		t.Fatalf("%q, %v", got, err)
	}
}
