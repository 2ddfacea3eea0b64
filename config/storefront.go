package config

import (
	"time"

	"github.com/portcullis/portcullis/domain/tenant"
)

// storefrontSpec is the storefront section of the tenant schema
// (tenant.Storefront).
type storefrontSpec struct {
	Enabled     bool            `mapstructure:"enabled"`
	MaxQuantity int             `mapstructure:"max_quantity"`
	MaxLines    int             `mapstructure:"max_lines"`
	MaxWishlist int             `mapstructure:"max_wishlist"`
	Webhook     cartWebhookSpec `mapstructure:"webhook"`
}

type cartWebhookSpec struct {
	URL          string        `mapstructure:"url"`
	SecretEnv    string        `mapstructure:"secret_env"`
	SecretSealed string        `mapstructure:"secret_sealed"`
	Timeout      time.Duration `mapstructure:"timeout"`
}

func storefrontSpecFrom(s tenant.Storefront) storefrontSpec {
	return storefrontSpec{Enabled: s.Enabled, MaxQuantity: s.MaxQuantity, MaxLines: s.MaxLines, MaxWishlist: s.MaxWishlist,
		Webhook: cartWebhookSpec{URL: s.Webhook.URL, SecretEnv: s.Webhook.SecretEnv, SecretSealed: s.Webhook.SecretSealed, Timeout: s.Webhook.Timeout}}
}

func (s storefrontSpec) storefront() tenant.Storefront {
	return tenant.Storefront{Enabled: s.Enabled, MaxQuantity: s.MaxQuantity, MaxLines: s.MaxLines, MaxWishlist: s.MaxWishlist,
		Webhook: tenant.CartWebhook{URL: s.Webhook.URL, SecretEnv: s.Webhook.SecretEnv, SecretSealed: s.Webhook.SecretSealed, Timeout: s.Webhook.Timeout}}
}

func (s storefrontSpec) document() map[string]any {
	return map[string]any{
		"enabled": s.Enabled, "max_quantity": s.MaxQuantity, "max_lines": s.MaxLines, "max_wishlist": s.MaxWishlist,
		"webhook": map[string]any{"url": s.Webhook.URL, "secret_env": s.Webhook.SecretEnv, "secret_sealed": s.Webhook.SecretSealed,
			"timeout": s.Webhook.Timeout.String()},
	}
}

// cartWebhookSecretAD binds a sealed cart webhook secret to its tenant
// and field.
func cartWebhookSecretAD(tenantID string) []byte {
	return []byte("portcullis/tenant/" + tenantID + "/storefront.webhook.secret")
}

// SealCartWebhookSecret seals a cart webhook signing secret for the
// tenant's storefront.webhook.secret_sealed.
func SealCartWebhookSecret(s Sealer, tenantID, secret string) (string, error) {
	return sealSecret(s, cartWebhookSecretAD(tenantID), secret)
}

// CartWebhookSecret resolves the secret the tenant's cart webhook requests
// are signed with, when its services are built, as SMTPPassword does the
// SMTP password: from the variable storefront.webhook.secret_env names, or
// by opening storefront.webhook.secret_sealed. It is "" for a tenant
// without a webhook. No error carries the secret.
func CartWebhookSecret(t tenant.Tenant, lookupEnv func(string) (string, bool), o Opener) (string, error) {
	w := t.Storefront.Webhook
	if !w.Configured() {
		return "", nil
	}
	return secretRef{tenantID: t.ID, field: "storefront.webhook.secret", env: w.SecretEnv, sealed: w.SecretSealed,
		ad: cartWebhookSecretAD(t.ID)}.resolve(lookupEnv, o)
}
