package tenant

import (
	"fmt"
	"math"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
)

// CaptchaProvider names a CAPTCHA service whose siteverify API Portcullis
// speaks.
type CaptchaProvider string

// The CAPTCHA providers.
const (
	CaptchaNone        CaptchaProvider = ""             // no CAPTCHA: every route is off
	CaptchaRecaptchaV2 CaptchaProvider = "recaptcha_v2" // Google reCAPTCHA v2 (checkbox or invisible)
	CaptchaRecaptchaV3 CaptchaProvider = "recaptcha_v3" // Google reCAPTCHA v3 (score and action)
	CaptchaHCaptcha    CaptchaProvider = "hcaptcha"     // hCaptcha
	CaptchaTurnstile   CaptchaProvider = "turnstile"    // Cloudflare Turnstile
)

// CaptchaProviders lists the providers a tenant may name, in documentation
// order.
var CaptchaProviders = []CaptchaProvider{CaptchaRecaptchaV2, CaptchaRecaptchaV3, CaptchaHCaptcha, CaptchaTurnstile}

// TokenLifetime is how long the provider accepts one of its tokens after
// the challenge was solved, as each documents it: two minutes for
// reCAPTCHA and hCaptcha, five for Turnstile. A used token is remembered
// this long, so that it cannot be used twice.
func (p CaptchaProvider) TokenLifetime() time.Duration {
	if p == CaptchaTurnstile {
		return 5 * time.Minute
	}
	return 2 * time.Minute
}

// CaptchaRoute names a request a CAPTCHA can guard.
type CaptchaRoute string

// The routes a CAPTCHA policy names.
const (
	CaptchaLogin     CaptchaRoute = "login"      // every login method's first factor
	CaptchaRegister  CaptchaRoute = "register"   // self-service sign-up
	CaptchaSMSSend   CaptchaRoute = "sms_send"   // a request for an SMS code
	CaptchaEmailSend CaptchaRoute = "email_send" // a request for an e-mail sign-in code or magic link
	CaptchaForgot    CaptchaRoute = "forgot"     // a request for a password-reset mail
)

// CaptchaRoutes lists every route, in documentation order.
var CaptchaRoutes = []CaptchaRoute{CaptchaLogin, CaptchaRegister, CaptchaSMSSend, CaptchaEmailSend, CaptchaForgot}

// CaptchaMode says when a route asks for a CAPTCHA.
type CaptchaMode string

// The CAPTCHA modes of a route.
const (
	CaptchaOff           CaptchaMode = "off"            // never
	CaptchaAlways        CaptchaMode = "always"         // on every request
	CaptchaAfterFailures CaptchaMode = "after_failures" // once the client's address or the account has failed logins (CaptchaEscalation)
)

// CaptchaModes lists every mode, in documentation order.
var CaptchaModes = []CaptchaMode{CaptchaOff, CaptchaAlways, CaptchaAfterFailures}

// CaptchaFallback says what a route that asks for a CAPTCHA does when the
// provider cannot be reached.
type CaptchaFallback string

// The fallbacks.
const (
	CaptchaFailClosed CaptchaFallback = "closed" // refuse the request (503): no CAPTCHA, no entry
	CaptchaFailOpen   CaptchaFallback = "open"   // let the request through, logged as a warning
)

// CaptchaEscalation is when an after_failures route starts asking: once
// PerIP failed logins came from the client's address (IPv6 by /64), or
// PerAccount were made on the account, with no gap of Window between two
// of them. Zero switches that count off.
type CaptchaEscalation struct {
	PerIP      int
	PerAccount int
	Window     time.Duration
}

// Captcha is the tenant's CAPTCHA (configuration section captcha). The
// secret itself is never part of a Tenant: it is named (SecretEnv) or
// sealed under the master key (SecretSealed), and resolved when the
// tenant's services are built. The zero value is off.
type Captcha struct {
	Provider CaptchaProvider
	// SiteKey is the public key the client's widget is rendered with.
	SiteKey string
	// SecretEnv names the environment variable that holds the secret.
	SecretEnv string
	// SecretSealed is the secret sealed under the master key, base64.
	SecretSealed string
	// Hostnames, when set, are the only sites (lower-case host names) a
	// token may have been solved on; empty accepts the provider's word.
	Hostnames []string
	// MinScore is the lowest reCAPTCHA v3 score accepted, 0 to 1.
	MinScore float64
	// Action is the action a reCAPTCHA v3 token must name.
	Action string
	// Timeout bounds one call to the provider.
	Timeout time.Duration
	// OnUnavailable is what happens when the provider cannot be reached.
	OnUnavailable CaptchaFallback
	// VerifyURL, when set, replaces the provider's siteverify URL (a
	// proxy, or a test double on a loopback address).
	VerifyURL string
	// Policy is each route's mode; a route it does not name is off.
	Policy map[CaptchaRoute]CaptchaMode
	// AfterFailures is when after_failures routes start asking.
	AfterFailures CaptchaEscalation
}

// Defaults and bounds of the captcha section.
const (
	DefaultCaptchaMinScore = 0.5
	DefaultCaptchaAction   = "login"
	DefaultCaptchaTimeout  = 5 * time.Second
	MinCaptchaTimeout      = time.Second
	MaxCaptchaTimeout      = 30 * time.Second

	DefaultCaptchaPerIP      = 5
	DefaultCaptchaPerAccount = 3
	DefaultCaptchaWindow     = 15 * time.Minute
	MaxCaptchaFailures       = 1000
	MinCaptchaWindow         = time.Second
	MaxCaptchaWindow         = 24 * time.Hour

	maxCaptchaKey = 200
)

// DefaultCaptcha is the captcha section of a tenant that sets none of it:
// no provider (every route off), and the defaults a provider then takes.
func DefaultCaptcha() Captcha {
	return Captcha{
		MinScore:      DefaultCaptchaMinScore,
		Action:        DefaultCaptchaAction,
		Timeout:       DefaultCaptchaTimeout,
		OnUnavailable: CaptchaFailClosed,
		AfterFailures: CaptchaEscalation{PerIP: DefaultCaptchaPerIP, PerAccount: DefaultCaptchaPerAccount, Window: DefaultCaptchaWindow},
	}
}

// Configured reports whether the tenant has a CAPTCHA provider.
func (c Captcha) Configured() bool { return c.Provider != CaptchaNone }

// Mode is route's mode: off without a provider or when the policy does
// not name the route.
func (c Captcha) Mode(route CaptchaRoute) CaptchaMode {
	if !c.Configured() {
		return CaptchaOff
	}
	if m, ok := c.Policy[route]; ok && m != "" {
		return m
	}
	return CaptchaOff
}

// Escalates reports whether some route asks after failed logins, that is
// whether failed logins need counting at all.
func (c Captcha) Escalates() bool {
	for _, r := range CaptchaRoutes {
		if c.Mode(r) == CaptchaAfterFailures {
			return true
		}
	}
	return false
}

var (
	// reCAPTCHA allows letters, digits, slashes and underscores in an
	// action name.
	captchaActionPattern = regexp.MustCompile(`^[A-Za-z0-9_/]{1,100}$`)
	captchaKeyPattern    = regexp.MustCompile(`^[\x21-\x7e]+$`)
)

// problems lists what is wrong with the section, fields named from the
// configuration's root. demanded says a surface of the tenant asks for a
// solved CAPTCHA whatever the policy (seed 003's /api/v3/login): a
// provider is then of use with every route off.
func (c Captcha) problems(demanded bool) []Problem {
	var ps []Problem
	add := func(field, format string, args ...any) {
		ps = append(ps, Problem{Field: "captcha." + field, Reason: fmt.Sprintf(format, args...)})
	}
	routes := make([]CaptchaRoute, 0, len(c.Policy))
	for r := range c.Policy {
		routes = append(routes, r)
	}
	slices.Sort(routes)
	for _, r := range routes {
		m := c.Policy[r]
		switch {
		case !slices.Contains(CaptchaRoutes, r):
			add("policy."+string(r), "unknown route (known: %s)", joinCaptcha(CaptchaRoutes))
		case !slices.Contains(CaptchaModes, m):
			add("policy."+string(r), "unknown mode %q (known: %s)", m, joinCaptcha(CaptchaModes))
		case m != CaptchaOff && !c.Configured():
			add("policy."+string(r), "is %s but captcha.provider is empty; set a provider, or set the route off", m)
		}
	}

	switch {
	case c.Provider == CaptchaNone:
		for _, f := range [...]struct{ name, value string }{{"site_key", c.SiteKey}, {"secret_env", c.SecretEnv},
			{"secret_sealed", c.SecretSealed}, {"verify_url", c.VerifyURL}} {
			if f.value != "" {
				add(f.name, "is set but captcha.provider is empty; set a provider (%s), or remove the setting", joinCaptcha(CaptchaProviders))
			}
		}
		if len(c.Hostnames) > 0 {
			add("hostnames", "is set but captcha.provider is empty; set a provider (%s), or remove the setting", joinCaptcha(CaptchaProviders))
		}
		return ps
	case !slices.Contains(CaptchaProviders, c.Provider):
		add("provider", "unknown provider %q (known: %s)", c.Provider, joinCaptcha(CaptchaProviders))
		return ps
	}

	switch {
	case c.SiteKey == "":
		add("site_key", "is required: the public key the provider gave for this site")
	case len(c.SiteKey) > maxCaptchaKey || !captchaKeyPattern.MatchString(c.SiteKey):
		add("site_key", "must be at most %d printable characters without spaces", maxCaptchaKey)
	}
	switch {
	case c.SecretEnv == "" && c.SecretSealed == "":
		add("secret_env", "is required (or secret_sealed)")
	case c.SecretEnv != "" && c.SecretSealed != "":
		add("secret_sealed", "must not be set together with secret_env; use one")
	case c.SecretEnv != "" && !envNamePattern.MatchString(c.SecretEnv):
		add("secret_env", "%q is not an environment variable name (letters, digits, underscores)", c.SecretEnv)
	}
	seen := map[string]bool{}
	for i, h := range c.Hostnames {
		f := fmt.Sprintf("hostnames[%d]", i)
		switch {
		case !validHost(h):
			add(f, "%q is not a lower-case host name or IP address without port", h)
		case seen[h]:
			add(f, "%q is listed twice", h)
		}
		seen[h] = true
	}
	if c.MinScore < 0 || c.MinScore > 1 || math.IsNaN(c.MinScore) {
		add("min_score", "must be between 0 and 1, got %v", c.MinScore)
	}
	if c.Provider == CaptchaRecaptchaV3 && !captchaActionPattern.MatchString(c.Action) {
		add("action", "%q must be 1-100 letters, digits, slashes or underscores, as reCAPTCHA v3 allows", c.Action)
	}
	if c.Timeout < MinCaptchaTimeout || c.Timeout > MaxCaptchaTimeout {
		add("timeout", "must be between %s and %s, got %s", MinCaptchaTimeout, MaxCaptchaTimeout, c.Timeout)
	}
	switch c.OnUnavailable {
	case CaptchaFailClosed, CaptchaFailOpen:
	default:
		add("on_unavailable", "unknown fallback %q (known: closed, open)", c.OnUnavailable)
	}
	if c.VerifyURL != "" {
		if reason := checkVerifyURL(c.VerifyURL); reason != "" {
			add("verify_url", "%q %s", c.VerifyURL, reason)
		}
	}

	e := c.AfterFailures
	if e.PerIP < 0 || e.PerIP > MaxCaptchaFailures {
		add("after_failures.per_ip", "must be between 0 (not counted) and %d, got %d", MaxCaptchaFailures, e.PerIP)
	}
	if e.PerAccount < 0 || e.PerAccount > MaxCaptchaFailures {
		add("after_failures.per_account", "must be between 0 (not counted) and %d, got %d", MaxCaptchaFailures, e.PerAccount)
	}
	if e.Window < MinCaptchaWindow || e.Window > MaxCaptchaWindow {
		add("after_failures.window", "must be between %s and %s, got %s", MinCaptchaWindow, MaxCaptchaWindow, e.Window)
	}
	if c.Escalates() && e.PerIP == 0 && e.PerAccount == 0 {
		add("after_failures", "per_ip and per_account are both 0, so an after_failures route would never ask; set one of them")
	}

	on := false
	for _, r := range CaptchaRoutes {
		on = on || c.Mode(r) != CaptchaOff
	}
	if !on && !demanded {
		add("policy", "sets no route to always or after_failures, so the provider would never be asked; set one (login: after_failures), or remove captcha.provider")
	}
	return ps
}

// checkVerifyURL returns why a siteverify URL is unusable, or "". Plain
// http is accepted only for loopback hosts (a local test double): anywhere
// else it would send the secret in clear.
func checkVerifyURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.Opaque != "" {
		return "must be an absolute https URL such as https://challenges.cloudflare.com/turnstile/v0/siteverify"
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(s, "?") || strings.HasSuffix(s, "#") {
		return "must not hold credentials, a query or a fragment"
	}
	if hasControl(s) || strings.ContainsAny(s, " \\") {
		return "must not contain spaces, backslashes or control characters"
	}
	if u.Scheme == "http" && !isLoopbackHost(u.Hostname()) {
		return "must use https (http only for localhost)"
	}
	return ""
}

func joinCaptcha[S ~string](xs []S) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = string(x)
	}
	return strings.Join(s, ", ")
}
