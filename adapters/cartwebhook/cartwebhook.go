// Package cartwebhook keeps a storefront's carts and wishlists in the
// storefront's own cart service instead of Portcullis' store: Store
// implements the storefront.Store port by POSTing each operation to the
// URL of the tenant's storefront.webhook setting.
//
// The protocol. Every operation is one POST of a JSON body to the one
// configured URL, with Content-Type application/json and the header
//
//	X-Portcullis-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>
//
// where the HMAC is computed with the tenant's webhook secret over the
// bytes "<t>.<body>" (as Stripe signs its webhooks). A receiver recomputes
// it over the raw body, compares in constant time, and refuses a t more
// than a few minutes from its clock (Verify does all three). The body:
//
//	{"op": "get" | "merge" | "replace_cart" | "replace_wishlist",
//	 "tenant_id": "shop", "user_id": "u_123",
//	 "cart": {"lines": [{"product_id": "sku-1", "variant_id": "red", "quantity": 2}]},
//	 "wishlist": ["sku-9"],
//	 "limits": {"max_quantity": 10, "max_lines": 100, "max_wishlist": 200}}
//
// cart is sent with merge and replace_cart, wishlist with merge and
// replace_wishlist, limits with merge. Lines and items are valid (ids of
// at most 64 characters from [A-Za-z0-9] and -_.:/@+=~#, quantities of at
// least 1); variant_id is left out when there is none.
//
// get and merge answer 200 with the cart and wishlist as they are after
// the operation:
//
//	{"cart": {"lines": [...]}, "wishlist": [...], "version": "opaque, optional"}
//
// merge must follow Portcullis' merge rules (domain/storefront: the larger
// quantity, server lines first, capped by limits) and be idempotent: the
// same merge may be sent again when an answer was lost. replace_cart and
// replace_wishlist answer any 2xx; their body is ignored. An answer over
// 2 MiB is refused.
//
// Failures. No answer within the timeout (storefront.webhook.timeout, 3 s
// by default), a network error, 408, 429 or 5xx is errs.Unavailable: the
// login that merges goes on, and its merge is retried in the background
// (storefront.Service.MergeOrRetry) with backoff. Any other status (a 3xx
// — redirects are not followed —, 4xx) or an answer that is not the JSON
// above is an internal error, not retried.
//
// Tracing. Each call is a client span "cartwebhook <op>" with the HTTP
// method, the service's host and port (never its URL, whose query may
// hold a token) and the answer's status, marked failed with the call's
// error. Like the other providers' calls it carries no traceparent.
package cartwebhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"

	"github.com/portcullis/portcullis/adapters/credential"
	"github.com/portcullis/portcullis/adapters/tracing"
	app "github.com/portcullis/portcullis/application/storefront"
	"github.com/portcullis/portcullis/domain/errs"
	"github.com/portcullis/portcullis/domain/storefront"
)

// SignatureHeader carries a request's signature.
const SignatureHeader = "X-Portcullis-Signature"

// The operations.
const (
	OpGet             = "get"
	OpMerge           = "merge"
	OpReplaceCart     = "replace_cart"
	OpReplaceWishlist = "replace_wishlist"
)

// Bounds of the protocol.
const (
	DefaultTimeout = 3 * time.Second
	// MaxResponseBytes bounds an answer: a full cart and wishlist at the
	// largest limits take a fraction of it.
	MaxResponseBytes = 2 << 20
	// MaxRequestBytes bounds a request Handler reads.
	MaxRequestBytes = 4 << 20
	// DefaultTolerance is how far a signature's time may be from the
	// receiver's clock.
	DefaultTolerance = 5 * time.Minute
)

// Request is the body of every operation.
type Request struct {
	Op       string    `json:"op"`
	TenantID string    `json:"tenant_id"`
	UserID   string    `json:"user_id"`
	Cart     *Cart     `json:"cart,omitempty"`
	Wishlist *[]string `json:"wishlist,omitempty"`
	Limits   *Limits   `json:"limits,omitempty"`
}

// Cart is a cart on the wire.
type Cart struct {
	Lines []Line `json:"lines"`
}

// Line is a cart line on the wire.
type Line struct {
	ProductID string `json:"product_id"`
	VariantID string `json:"variant_id,omitempty"`
	Quantity  int    `json:"quantity"`
}

// Limits are a merge's limits on the wire.
type Limits struct {
	MaxQuantity int `json:"max_quantity"`
	MaxLines    int `json:"max_lines"`
	MaxWishlist int `json:"max_wishlist"`
}

// Response is the answer to get and merge.
type Response struct {
	Cart     Cart     `json:"cart"`
	Wishlist []string `json:"wishlist"`
	Version  string   `json:"version,omitempty"`
}

func cartToWire(c storefront.Cart) *Cart {
	w := &Cart{Lines: make([]Line, len(c.Lines))}
	for i, l := range c.Lines {
		w.Lines[i] = Line{ProductID: l.ProductID, VariantID: l.VariantID, Quantity: l.Quantity}
	}
	return w
}

func cartToDomain(w Cart) storefront.Cart {
	c := storefront.Cart{Lines: make([]storefront.Line, len(w.Lines))}
	for i, l := range w.Lines {
		c.Lines[i] = storefront.Line{ProductID: l.ProductID, VariantID: l.VariantID, Quantity: l.Quantity}
	}
	return c
}

func wishlistToWire(w storefront.Wishlist) *[]string {
	out := make([]string, len(w))
	copy(out, w)
	return &out
}

func limitsToWire(l storefront.Limits) *Limits {
	return &Limits{MaxQuantity: l.MaxQuantity, MaxLines: l.MaxLines, MaxWishlist: l.MaxWishlist}
}

func limitsToDomain(l *Limits) storefront.Limits {
	if l == nil {
		return storefront.Limits{}
	}
	return storefront.Limits{MaxQuantity: l.MaxQuantity, MaxLines: l.MaxLines, MaxWishlist: l.MaxWishlist}.WithDefaults()
}

// Options configure a Store.
type Options struct {
	URL     string
	Secret  credential.Secret
	Timeout time.Duration // DefaultTimeout when zero
	// Client sends the requests (its transport is used; redirects are
	// never followed); nil means a client of its own.
	Client *http.Client
}

// Store is a storefront's own cart service, reached through its webhook.
type Store struct {
	url     string
	host    string // and port: where the calls go, for spans and errors
	port    int
	secret  credential.Secret
	timeout time.Duration
	client  *http.Client
	now     func() time.Time
}

var _ app.Store = (*Store)(nil)

// New checks the options and returns the Store.
func New(o Options) (*Store, error) {
	u, err := url.Parse(o.URL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
		return nil, errors.New("cartwebhook: the URL must be an absolute http(s) URL without credentials")
	}
	if o.Secret.IsZero() {
		return nil, errors.New("cartwebhook: a signing secret is required")
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	if o.Client != nil {
		client.Transport = o.Client.Transport
	}
	port, _ := strconv.Atoi(u.Port())
	if port == 0 {
		port = map[string]int{"http": 80, "https": 443}[u.Scheme]
	}
	return &Store{url: o.URL, host: u.Hostname(), port: port, secret: o.Secret, timeout: o.Timeout, client: client, now: time.Now}, nil
}

// String describes the store without its secret.
func (s *Store) String() string {
	return "cartwebhook.Store{url: " + s.url + ", secret: " + credential.Masked + "}"
}

// Get asks for the user's cart and wishlist.
func (s *Store) Get(ctx context.Context, tenantID, userID string) (storefront.Cart, storefront.Wishlist, string, error) {
	r, err := s.call(ctx, Request{Op: OpGet, TenantID: tenantID, UserID: userID}, true)
	if err != nil {
		return storefront.Cart{}, nil, "", err
	}
	c, w := clean(r, storefront.Limits{})
	v := r.Version
	if v == "" {
		v = digest(c, w)
	}
	return c, w, v, nil
}

// Merge sends the merge; the service applies the rules and answers with
// the result.
func (s *Store) Merge(ctx context.Context, tenantID, userID string, c storefront.Cart, w storefront.Wishlist, limits storefront.Limits) (storefront.Cart, storefront.Wishlist, error) {
	r, err := s.call(ctx, Request{Op: OpMerge, TenantID: tenantID, UserID: userID, Cart: cartToWire(c), Wishlist: wishlistToWire(w),
		Limits: limitsToWire(limits.WithDefaults())}, true)
	if err != nil {
		return storefront.Cart{}, nil, err
	}
	gc, gw := clean(r, limits)
	return gc, gw, nil
}

// ReplaceCart sends the new cart.
func (s *Store) ReplaceCart(ctx context.Context, tenantID, userID string, c storefront.Cart) error {
	_, err := s.call(ctx, Request{Op: OpReplaceCart, TenantID: tenantID, UserID: userID, Cart: cartToWire(c)}, false)
	return err
}

// ReplaceWishlist sends the new wishlist.
func (s *Store) ReplaceWishlist(ctx context.Context, tenantID, userID string, w storefront.Wishlist) error {
	_, err := s.call(ctx, Request{Op: OpReplaceWishlist, TenantID: tenantID, UserID: userID, Wishlist: wishlistToWire(w)}, false)
	return err
}

// clean keeps the valid lines and items of an answer: what a storefront
// answers is input like any other.
func clean(r Response, limits storefront.Limits) (storefront.Cart, storefront.Wishlist) {
	c, _ := storefront.CleanCart(cartToDomain(r.Cart), limits)
	w, _ := storefront.CleanWishlist(r.Wishlist, limits)
	return c, w
}

// digest is the version of an answer that has none.
func digest(c storefront.Cart, w storefront.Wishlist) string {
	b, _ := json.Marshal(Response{Cart: *cartToWire(c), Wishlist: w})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}

// call sends one operation within the timeout and decodes the answer
// when it wants one.
func (s *Store) call(ctx context.Context, req Request, answer bool) (_ Response, err error) {
	ctx, span := tracing.StartClient(ctx, "cartwebhook "+req.Op, attribute.String("http.request.method", http.MethodPost),
		attribute.String("server.address", s.host), attribute.Int("server.port", s.port))
	defer func() { tracing.End(span, err) }()
	body, err := json.Marshal(req)
	if err != nil {
		return Response{}, fmt.Errorf("cartwebhook: %s: encode: %w", req.Op, err)
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		return Response{}, fmt.Errorf("cartwebhook: %s: %w", req.Op, err)
	}
	hreq.Header.Set("Content-Type", "application/json")
	hreq.Header.Set("Accept", "application/json")
	hreq.Header.Set("User-Agent", "Portcullis-CartWebhook/1")
	hreq.Header.Set(SignatureHeader, Sign([]byte(s.secret.Reveal()), s.now(), body))
	resp, err := s.client.Do(hreq)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // its message holds the whole URL, query and all
		}
		return Response{}, errs.ErrUnavailable.Wrap(fmt.Errorf("cartwebhook: %s: POST to %s: %w", req.Op, s.host, err))
	}
	defer resp.Body.Close()
	span.SetAttributes(attribute.Int("http.response.status_code", resp.StatusCode))
	raw, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponseBytes+1))
	if err != nil {
		return Response{}, errs.ErrUnavailable.Wrap(fmt.Errorf("cartwebhook: %s: read the answer: %w", req.Op, err))
	}
	switch code := resp.StatusCode; {
	case code == http.StatusRequestTimeout || code == http.StatusTooManyRequests || code >= 500:
		e := errs.ErrUnavailable.Wrap(fmt.Errorf("cartwebhook: %s: the cart service answered %d", req.Op, code))
		if secs, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && secs > 0 {
			e = e.WithRetryAfter(secs)
		}
		return Response{}, e
	case code < 200 || code > 299:
		return Response{}, fmt.Errorf("cartwebhook: %s: the cart service answered %d", req.Op, code)
	case !answer:
		return Response{}, nil
	case len(raw) > MaxResponseBytes:
		return Response{}, fmt.Errorf("cartwebhook: %s: the answer is over %d bytes", req.Op, MaxResponseBytes)
	}
	var r Response
	if err := json.Unmarshal(raw, &r); err != nil {
		return Response{}, fmt.Errorf("cartwebhook: %s: the answer is not a cart: %w", req.Op, err)
	}
	return r, nil
}

// Sign returns the X-Portcullis-Signature of body sent at t under secret:
// "t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">".
func Sign(secret []byte, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac(secret, ts, body))
}

func mac(secret []byte, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// Errors of Verify.
var (
	ErrNoSignature  = errors.New("cartwebhook: no valid signature")
	ErrStaleRequest = errors.New("cartwebhook: the signature's time is too far from now")
)

// Verify checks a signature header against body, as a receiver must: one
// of its v1 values (several are allowed while a secret is rotated) is the
// HMAC under secret, compared in constant time, and its t is within
// tolerance of now (DefaultTolerance when zero), which bounds replays.
func Verify(secret []byte, header string, body []byte, now time.Time, tolerance time.Duration) error {
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	var ts string
	var sigs [][]byte
	for part := range strings.SplitSeq(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		switch {
		case !ok:
		case k == "t":
			ts = v
		case k == "v1":
			if b, err := hex.DecodeString(v); err == nil {
				sigs = append(sigs, b)
			}
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(sigs) == 0 {
		return ErrNoSignature
	}
	want := mac(secret, ts, body)
	ok := false
	for _, s := range sigs {
		ok = hmac.Equal(s, want) || ok
	}
	if !ok {
		return ErrNoSignature
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return ErrStaleRequest
	}
	return nil
}
