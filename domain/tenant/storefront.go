package tenant

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/portcullis/portcullis/domain/storefront"
)

// Storefront (configuration section storefront) switches on the server
// cart and wishlist of a storefront tenant's users, which a guest's local
// cart and wishlist are merged into at every login, and bounds them. The
// cart and wishlist live in Portcullis' store unless Webhook names the
// storefront's own cart service.
type Storefront struct {
	Enabled bool
	// MaxQuantity caps the quantity of one cart line.
	MaxQuantity int
	// MaxLines caps the lines of one cart.
	MaxLines int
	// MaxWishlist caps the items of one wishlist.
	MaxWishlist int
	// Webhook, when its URL is set, keeps carts and wishlists in the
	// storefront's own cart service instead (storefront.webhook).
	Webhook CartWebhook
}

// CartWebhook is a storefront's own cart service (section
// storefront.webhook): Portcullis POSTs each cart operation to URL, signed
// with HMAC-SHA256 under a secret that is never part of a Tenant: it is
// named (SecretEnv) or sealed under the master key (SecretSealed), and
// resolved when the tenant's services are built.
type CartWebhook struct {
	// URL receives the operations; https (http only for a loopback host).
	URL string
	// SecretEnv names the environment variable holding the signing secret.
	SecretEnv string
	// SecretSealed is the signing secret sealed under the master key, base64.
	SecretSealed string
	// Timeout bounds one request to the service.
	Timeout time.Duration
}

// Configured reports whether the tenant uses a cart webhook.
func (w CartWebhook) Configured() bool { return w.URL != "" }

// Defaults and bounds of the storefront section. A cart holds at most
// storefront.MaxInputLines lines (or items), the most one request may send.
const (
	MinStorefrontMaxQuantity = 1
	MaxStorefrontMaxQuantity = 1000
	MinStorefrontMaxLines    = 1
	MaxStorefrontMaxLines    = storefront.MaxInputLines
	MinStorefrontMaxWishlist = 1
	MaxStorefrontMaxWishlist = storefront.MaxInputLines

	DefaultCartWebhookTimeout = 3 * time.Second
	MinCartWebhookTimeout     = 100 * time.Millisecond
	MaxCartWebhookTimeout     = 30 * time.Second
)

// DefaultStorefront is the storefront section of a tenant that sets none:
// off, 10 per line, 100 lines, 200 wishlist items, no webhook (3 s timeout
// when one is set).
func DefaultStorefront() Storefront {
	return Storefront{MaxQuantity: storefront.DefaultMaxQuantity, MaxLines: storefront.DefaultMaxLines,
		MaxWishlist: storefront.DefaultMaxWishlist, Webhook: CartWebhook{Timeout: DefaultCartWebhookTimeout}}
}

// Limits returns the section's bounds as the merge rules take them.
func (s Storefront) Limits() storefront.Limits {
	return storefront.Limits{MaxQuantity: s.MaxQuantity, MaxLines: s.MaxLines, MaxWishlist: s.MaxWishlist, MaxIDLength: storefront.DefaultMaxIDLength}
}

// problems lists what is wrong with the section, fields named from the
// configuration's root.
func (s Storefront) problems() []Problem {
	var ps []Problem
	add := func(field, format string, args ...any) {
		ps = append(ps, Problem{Field: "storefront." + field, Reason: fmt.Sprintf(format, args...)})
	}
	between := func(field string, v, lo, hi int) {
		if v < lo || v > hi {
			add(field, "must be between %d and %d, got %d", lo, hi, v)
		}
	}
	between("max_quantity", s.MaxQuantity, MinStorefrontMaxQuantity, MaxStorefrontMaxQuantity)
	between("max_lines", s.MaxLines, MinStorefrontMaxLines, MaxStorefrontMaxLines)
	between("max_wishlist", s.MaxWishlist, MinStorefrontMaxWishlist, MaxStorefrontMaxWishlist)

	w := s.Webhook
	if w.Timeout < MinCartWebhookTimeout || w.Timeout > MaxCartWebhookTimeout {
		add("webhook.timeout", "must be between %s and %s, got %s", MinCartWebhookTimeout, MaxCartWebhookTimeout, w.Timeout)
	}
	if !w.Configured() {
		for _, f := range [...]struct {
			name string
			set  bool
		}{{"secret_env", w.SecretEnv != ""}, {"secret_sealed", w.SecretSealed != ""}} {
			if f.set {
				add("webhook."+f.name, "is set but storefront.webhook.url is empty; set url, or remove the setting")
			}
		}
		return ps
	}
	if reason := checkWebhookURL(w.URL); reason != "" {
		add("webhook.url", "%q %s", w.URL, reason)
	}
	switch {
	case w.SecretEnv != "" && w.SecretSealed != "":
		add("webhook.secret_sealed", "must not be set together with secret_env; use one")
	case w.SecretEnv != "" && !envNamePattern.MatchString(w.SecretEnv):
		add("webhook.secret_env", "%q is not an environment variable name (letters, digits, underscores)", w.SecretEnv)
	case w.SecretEnv == "" && w.SecretSealed == "":
		add("webhook.secret_env", "is required with storefront.webhook.url (or secret_sealed): requests are signed with it")
	}
	return ps
}

// checkWebhookURL returns why a cart webhook URL is unusable, or "".
func checkWebhookURL(s string) string {
	if hasControl(s) || strings.ContainsAny(s, " \\") {
		return "must not contain spaces, backslashes or control characters"
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.Opaque != "" {
		return "must be an absolute https URL such as https://shop.example/portcullis/cart"
	}
	if u.User != nil || u.Fragment != "" || strings.HasSuffix(s, "#") {
		return "must not hold credentials or a fragment"
	}
	if u.Scheme == "http" && !isLoopbackHost(u.Hostname()) {
		return "must use https (http only for localhost and 127.0.0.1): the cart travels in it"
	}
	return ""
}
