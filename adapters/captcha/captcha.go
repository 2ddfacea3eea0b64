// Package captcha asks CAPTCHA providers whether a token is a solved
// challenge: one captcha.Verifier per provider, each a client of its
// siteverify API (a form POST of the secret, the token and the client's
// address, answered by JSON). RecaptchaV2, RecaptchaV3 (score and action),
// HCaptcha and Turnstile share the request, the limits and the reading of
// the answer; New builds the one a tenant's configuration names.
//
// How an answer is read, for every provider:
//   - success with, when the tenant lists hostnames, one of them (and for
//     reCAPTCHA v3 a score at or above the threshold and the expected
//     action) is a Result;
//   - any other answer is captcha_invalid: the client solves a new
//     challenge. Whatever the error code (a failed, expired, duplicate or
//     malformed token, a low score, another action or host name), an
//     answer is never a reason to let a request through, since a client
//     could provoke it;
//   - except an answer that says the tenant's own secret or site key is
//     wrong (missing-input-secret, invalid-input-secret,
//     sitekey-secret-mismatch, ...), or a reCAPTCHA v3 answer without a
//     score (v2 keys): that is captcha_unavailable caused by
//     captcha.ErrMisconfigured, never failed open;
//   - no answer within the timeout, a network error, a 5xx, 408 or 429,
//     a body over 64 KiB or one that is not a siteverify answer is
//     captcha_unavailable: the provider cannot be asked, and the tenant's
//     on_unavailable decides. A 400, 413 or 422 without a siteverify
//     answer is captcha_invalid (the client's token may be the cause); any
//     other status (a redirect, 401, 403, 404: a wrong verify_url or a
//     proxy that wants credentials) is captcha_unavailable caused by
//     captcha.ErrMisconfigured.
//
// A token is sent once: a call that timed out is not retried, since the
// provider refuses a token it has seen. The secret travels only in the
// request body; it is masked wherever a verifier is printed or logged, and
// no error carries it or the token.
package captcha

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/portcullis/portcullis/adapters/credential"
	"github.com/portcullis/portcullis/adapters/tracing"
	port "github.com/portcullis/portcullis/application/captcha"
	"github.com/portcullis/portcullis/domain/tenant"
)

// The providers' siteverify URLs.
const (
	RecaptchaURL = "https://www.google.com/recaptcha/api/siteverify"
	HCaptchaURL  = "https://api.hcaptcha.com/siteverify"
	TurnstileURL = "https://challenges.cloudflare.com/turnstile/v0/siteverify"
)

// Defaults and limits.
const (
	// DefaultTimeout bounds one call when Options.Timeout is zero.
	DefaultTimeout = tenant.DefaultCaptchaTimeout
	// DefaultAction is the action a reCAPTCHA v3 token must name when
	// Options.Action is empty.
	DefaultAction = tenant.DefaultCaptchaAction
	// MaxAnswerSize bounds the body read from the provider: a siteverify
	// answer is a few hundred bytes.
	MaxAnswerSize = 64 << 10
)

// Options configure a verifier.
type Options struct {
	// SiteKey is the site's public key; hCaptcha is sent it, so that a
	// token solved for another site key is refused.
	SiteKey string
	// Secret is the site's secret key.
	Secret credential.Secret
	// Hostnames, when set, are the only host names (compared without case
	// and trailing dot) an accepted token may have been solved on.
	Hostnames []string
	// MinScore is the lowest reCAPTCHA v3 score accepted; 0 accepts every
	// score. The tenant's default is tenant.DefaultCaptchaMinScore.
	MinScore float64
	// Action is the action a reCAPTCHA v3 token must name when the
	// Token does not say (DefaultAction when empty).
	Action string
	// Timeout bounds one call (DefaultTimeout when zero); the context's
	// deadline bounds it too.
	Timeout time.Duration
	// VerifyURL replaces the provider's siteverify URL (a proxy, or a test
	// server).
	VerifyURL string
	// Client sends the requests; nil means a client shared by every
	// verifier of the process, which follows no redirect.
	Client *http.Client
}

// sharedClient is the client of every verifier not given one: one pool of
// connections to each provider for the whole process. It follows no
// redirect, so the secret goes only where the URL says.
var sharedClient = &http.Client{
	Transport: func() http.RoundTripper {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = 32
		return t
	}(),
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// siteverify is what the providers' verifiers share: one endpoint, its
// secret and the checks every answer gets.
type siteverify struct {
	provider  tenant.CaptchaProvider
	url       string
	siteKey   string
	secret    credential.Secret
	hostnames []string
	timeout   time.Duration
	client    *http.Client
}

func newSiteverify(p tenant.CaptchaProvider, defaultURL string, o Options) (siteverify, error) {
	if o.Secret.IsZero() {
		return siteverify{}, fmt.Errorf("captcha %s: a secret is required", p)
	}
	endpoint := o.VerifyURL
	if endpoint == "" {
		endpoint = defaultURL
	}
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return siteverify{}, fmt.Errorf("captcha %s: the verify URL must be an http(s) URL without credentials, query or fragment", p)
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Client == nil {
		o.Client = sharedClient
	}
	hosts := make([]string, len(o.Hostnames))
	for i, h := range o.Hostnames {
		hosts[i] = normalHost(h)
	}
	return siteverify{provider: p, url: endpoint, siteKey: o.SiteKey, secret: o.Secret, hostnames: hosts, timeout: o.Timeout, client: o.Client}, nil
}

// String describes the verifier without its secret.
func (s siteverify) String() string {
	return fmt.Sprintf("captcha.%s{url: %s, secret: %s}", s.provider, s.url, credential.Masked)
}

// answer is a siteverify answer; the providers' shapes differ only in
// fields the others leave out.
type answer struct {
	Success     *bool    `json:"success"`
	ChallengeTS string   `json:"challenge_ts"`
	Hostname    string   `json:"hostname"`
	Score       *float64 `json:"score"`
	Action      string   `json:"action"`
	ErrorCodes  []string `json:"error-codes"`
}

// misconfiguredCodes are the error codes that blame the tenant's secret or
// site key, not the token.
var misconfiguredCodes = []string{"missing-input-secret", "invalid-input-secret", "sitekey-secret-mismatch", "invalid-sitekey",
	"not-using-dummy-passcode"}

// verify sends the token and reads the answer into a Result, applying the
// checks every provider shares (success, host name); extra adds
// provider-specific fields to the form.
func (s siteverify) verify(ctx context.Context, t port.Token, extra url.Values) (_ answer, _ port.Result, err error) {
	ctx, span := tracing.StartClient(ctx, "captcha siteverify")
	defer func() { tracing.End(span, err) }()
	if strings.TrimSpace(t.Response) == "" {
		return answer{}, port.Result{}, port.ErrCaptchaRequired
	}
	if len(t.Response) > port.MaxResponseLength {
		return answer{}, port.Result{}, s.invalid("a token of %d bytes, more than %d", len(t.Response), port.MaxResponseLength)
	}
	form := url.Values{"secret": {s.secret.Reveal()}, "response": {t.Response}}
	if t.RemoteIP.IsValid() {
		form.Set("remoteip", t.RemoteIP.Unmap().String())
	}
	for k, v := range extra {
		form[k] = v
	}
	a, err := s.post(ctx, form)
	if err != nil {
		return answer{}, port.Result{}, err
	}
	if !*a.Success {
		codes := cleanCodes(a.ErrorCodes)
		for _, c := range codes {
			if slices.Contains(misconfiguredCodes, c) {
				return a, port.Result{}, port.ErrCaptchaUnavailable.Wrap(fmt.Errorf("%w: %s answered %v", port.ErrMisconfigured, s.provider, codes))
			}
		}
		return a, port.Result{}, s.invalid("refused, error codes %v", codes)
	}
	if len(s.hostnames) > 0 && !slices.Contains(s.hostnames, normalHost(a.Hostname)) {
		return a, port.Result{}, s.invalid("solved on host name %q, not one of %v", clean(a.Hostname), s.hostnames)
	}
	r := port.Result{Hostname: a.Hostname, Action: a.Action}
	if a.Score != nil {
		r.Score = *a.Score
	}
	if ts, err := time.Parse(time.RFC3339, a.ChallengeTS); err == nil {
		r.ChallengeTS = ts
	}
	return a, r, nil
}

// post sends the form and decodes the answer; every failure to get one is
// ErrCaptchaUnavailable (see the package documentation for the statuses).
func (s siteverify) post(ctx context.Context, form url.Values) (answer, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, strings.NewReader(form.Encode()))
	if err != nil {
		return answer{}, s.unavailable("build request: %v", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return answer{}, s.unavailable("no answer within %s: %v", s.timeout, ctx.Err())
		}
		return answer{}, s.unavailable("%v", transportError(err))
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, MaxAnswerSize+1))
	switch {
	case err != nil && ctx.Err() != nil:
		return answer{}, s.unavailable("no answer within %s: %v", s.timeout, ctx.Err())
	case err != nil:
		return answer{}, s.unavailable("read the answer: %v", transportError(err))
	case len(raw) > MaxAnswerSize:
		return answer{}, s.unavailable("an answer of more than %d bytes", MaxAnswerSize)
	}
	var a answer
	decoded := json.Unmarshal(raw, &a) == nil && a.Success != nil
	code := resp.StatusCode
	switch {
	case code >= 200 && code < 300 && decoded:
		return a, nil
	case code >= 200 && code < 300:
		return answer{}, s.unavailable("status %d with a body that is not a siteverify answer", code)
	case code == http.StatusRequestTimeout || code == http.StatusTooManyRequests || code >= 500:
		return answer{}, s.unavailable("status %d", code)
	case code == http.StatusBadRequest || code == http.StatusRequestEntityTooLarge || code == http.StatusUnprocessableEntity:
		// The request holds the client's token: its answer is the
		// provider's word on it, and never a reason to fail open.
		if decoded {
			return a, nil
		}
		return answer{}, s.invalid("status %d", code)
	}
	return answer{}, port.ErrCaptchaUnavailable.Wrap(fmt.Errorf("%w: %s answered status %d: check captcha.verify_url", port.ErrMisconfigured, s.provider, code))
}

func (s siteverify) unavailable(format string, args ...any) error {
	return port.ErrCaptchaUnavailable.Wrap(fmt.Errorf("captcha %s: %s", s.provider, fmt.Sprintf(format, args...)))
}

func (s siteverify) invalid(format string, args ...any) error {
	return port.ErrCaptchaInvalid.Wrap(fmt.Errorf("captcha %s: %s", s.provider, fmt.Sprintf(format, args...)))
}

// transportError keeps what a client error says of the connection, not
// the request: a *url.Error names the method and URL (no secret: it is in
// the body), the rest is the cause.
func transportError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		var ne net.Error
		if errors.As(ue.Err, &ne) && ne.Timeout() {
			return fmt.Errorf("timeout: %w", ue.Err)
		}
		return ue.Err
	}
	return err
}

// normalHost is a host name as compared: lower case, no trailing dot.
func normalHost(h string) string {
	return strings.TrimSuffix(strings.ToLower(strings.TrimSpace(h)), ".")
}

// cleanCodes keeps at most 8 error codes, each as clean shows it.
func cleanCodes(codes []string) []string {
	out := make([]string, 0, min(len(codes), 8))
	for _, c := range codes[:min(len(codes), 8)] {
		out = append(out, clean(c))
	}
	return out
}

// clean makes a string the provider chose safe for a log line: at most 64
// characters of letters, digits, '-', '_', '.' and ':'; anything else is
// '?'.
func clean(s string) string {
	if len(s) > 64 {
		s = s[:64]
	}
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.', r == ':':
			return r
		}
		return '?'
	}, s)
}

// RecaptchaV2 verifies Google reCAPTCHA v2 tokens (checkbox or invisible).
type RecaptchaV2 struct{ s siteverify }

// RecaptchaV3 verifies Google reCAPTCHA v3 tokens: a success must carry a
// score at or above MinScore and the expected action.
type RecaptchaV3 struct {
	s        siteverify
	minScore float64
	action   string
}

// HCaptcha verifies hCaptcha tokens; it sends the site key, so that a
// token of another site is refused.
type HCaptcha struct{ s siteverify }

// Turnstile verifies Cloudflare Turnstile tokens; a Token with an Action
// must name it (the widget's data-action).
type Turnstile struct{ s siteverify }

var (
	_ port.Verifier = (*RecaptchaV2)(nil)
	_ port.Verifier = (*RecaptchaV3)(nil)
	_ port.Verifier = (*HCaptcha)(nil)
	_ port.Verifier = (*Turnstile)(nil)
	_ port.Verifier = Disabled{}
)

// NewRecaptchaV2 returns a reCAPTCHA v2 verifier (RecaptchaURL unless
// o.VerifyURL says otherwise).
func NewRecaptchaV2(o Options) (*RecaptchaV2, error) {
	s, err := newSiteverify(tenant.CaptchaRecaptchaV2, RecaptchaURL, o)
	if err != nil {
		return nil, err
	}
	return &RecaptchaV2{s: s}, nil
}

// NewRecaptchaV3 returns a reCAPTCHA v3 verifier (RecaptchaURL unless
// o.VerifyURL says otherwise).
func NewRecaptchaV3(o Options) (*RecaptchaV3, error) {
	if o.MinScore < 0 || o.MinScore > 1 || math.IsNaN(o.MinScore) {
		return nil, fmt.Errorf("captcha recaptcha_v3: the minimum score must be between 0 and 1, got %v", o.MinScore)
	}
	s, err := newSiteverify(tenant.CaptchaRecaptchaV3, RecaptchaURL, o)
	if err != nil {
		return nil, err
	}
	action := o.Action
	if action == "" {
		action = DefaultAction
	}
	return &RecaptchaV3{s: s, minScore: o.MinScore, action: action}, nil
}

// NewHCaptcha returns an hCaptcha verifier (HCaptchaURL unless
// o.VerifyURL says otherwise).
func NewHCaptcha(o Options) (*HCaptcha, error) {
	s, err := newSiteverify(tenant.CaptchaHCaptcha, HCaptchaURL, o)
	if err != nil {
		return nil, err
	}
	return &HCaptcha{s: s}, nil
}

// NewTurnstile returns a Turnstile verifier (TurnstileURL unless
// o.VerifyURL says otherwise).
func NewTurnstile(o Options) (*Turnstile, error) {
	s, err := newSiteverify(tenant.CaptchaTurnstile, TurnstileURL, o)
	if err != nil {
		return nil, err
	}
	return &Turnstile{s: s}, nil
}

// Verify asks reCAPTCHA whether t is a solved v2 challenge.
func (v *RecaptchaV2) Verify(ctx context.Context, t port.Token) (port.Result, error) {
	_, r, err := v.s.verify(ctx, t, nil)
	return r, err
}

// Verify asks reCAPTCHA whether t is a solved v3 challenge with a score at
// or above the threshold, for t.Action (or the configured action).
func (v *RecaptchaV3) Verify(ctx context.Context, t port.Token) (port.Result, error) {
	a, r, err := v.s.verify(ctx, t, nil)
	if err != nil {
		return port.Result{}, err
	}
	if a.Score == nil {
		return port.Result{}, port.ErrCaptchaUnavailable.Wrap(fmt.Errorf("%w: recaptcha_v3 answered without a score: are the keys reCAPTCHA v3 keys?", port.ErrMisconfigured))
	}
	if r.Score < v.minScore {
		return port.Result{}, v.s.invalid("score %.2f below %.2f", r.Score, v.minScore)
	}
	want := t.Action
	if want == "" {
		want = v.action
	}
	if r.Action != want {
		return port.Result{}, v.s.invalid("action %q, want %q", clean(r.Action), want)
	}
	return r, nil
}

// Verify asks hCaptcha whether t is a solved challenge of the site key.
func (v *HCaptcha) Verify(ctx context.Context, t port.Token) (port.Result, error) {
	var extra url.Values
	if v.s.siteKey != "" {
		extra = url.Values{"sitekey": {v.s.siteKey}}
	}
	_, r, err := v.s.verify(ctx, t, extra)
	return r, err
}

// Verify asks Turnstile whether t is a solved challenge (for t.Action,
// when set).
func (v *Turnstile) Verify(ctx context.Context, t port.Token) (port.Result, error) {
	_, r, err := v.s.verify(ctx, t, nil)
	if err != nil {
		return port.Result{}, err
	}
	if t.Action != "" && r.Action != t.Action {
		return port.Result{}, v.s.invalid("action %q, want %q", clean(r.Action), t.Action)
	}
	return r, nil
}

// String describes the verifier without its secret.
func (v *RecaptchaV2) String() string { return v.s.String() }

// String describes the verifier without its secret.
func (v *RecaptchaV3) String() string { return v.s.String() }

// String describes the verifier without its secret.
func (v *HCaptcha) String() string { return v.s.String() }

// String describes the verifier without its secret.
func (v *Turnstile) String() string { return v.s.String() }

// Format prints String for every verb, %#v included: the default printers
// would walk into the fields and print the secret.
func (v *RecaptchaV2) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, v.String()) }

// Format prints String for every verb.
func (v *RecaptchaV3) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, v.String()) }

// Format prints String for every verb.
func (v *HCaptcha) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, v.String()) }

// Format prints String for every verb.
func (v *Turnstile) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, v.String()) }

// Disabled is the verifier of a tenant without a provider: every route is
// off, so nothing should ask it; if something does, it answers
// captcha_unavailable caused by captcha.ErrMisconfigured.
type Disabled struct{}

// Verify refuses: there is no provider to ask.
func (Disabled) Verify(context.Context, port.Token) (port.Result, error) {
	return port.Result{}, port.ErrCaptchaUnavailable.Wrap(fmt.Errorf("%w: the tenant has no captcha.provider", port.ErrMisconfigured))
}

// New returns the verifier tenant configuration c names, with its secret
// (config.CaptchaSecret resolves it) and the HTTP client to send through
// (nil: the shared one); Disabled for a tenant without a provider.
func New(c tenant.Captcha, secret string, client *http.Client) (port.Verifier, error) {
	o := Options{SiteKey: c.SiteKey, Secret: credential.New(secret), Hostnames: c.Hostnames, MinScore: c.MinScore, Action: c.Action,
		Timeout: c.Timeout, VerifyURL: c.VerifyURL, Client: client}
	var (
		v   port.Verifier
		err error
	)
	// Each case assigns through its own variable: a nil *T in v would be
	// a non-nil Verifier.
	switch c.Provider {
	case tenant.CaptchaNone:
		return Disabled{}, nil
	case tenant.CaptchaRecaptchaV2:
		var r *RecaptchaV2
		r, err = NewRecaptchaV2(o)
		v = r
	case tenant.CaptchaRecaptchaV3:
		var r *RecaptchaV3
		r, err = NewRecaptchaV3(o)
		v = r
	case tenant.CaptchaHCaptcha:
		var h *HCaptcha
		h, err = NewHCaptcha(o)
		v = h
	case tenant.CaptchaTurnstile:
		var t *Turnstile
		t, err = NewTurnstile(o)
		v = t
	default:
		return nil, fmt.Errorf("captcha: unknown provider %q", c.Provider)
	}
	if err != nil {
		return nil, err
	}
	return v, nil
}
