package captcha

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"

	"github.com/portcullis/portcullis/application/throttle"
	"github.com/portcullis/portcullis/domain/errs"
	"github.com/portcullis/portcullis/domain/tenant"
)

// MaxResponseLength bounds the token a client may send: the providers'
// tokens are a few kilobytes at most, and a longer one is refused as
// invalid without asking the provider.
const MaxResponseLength = 16 << 10

// Deps are what one tenant's CAPTCHA service uses.
type Deps struct {
	// Verifier asks the tenant's provider; nil for a tenant without one
	// (every route is then off).
	Verifier Verifier
	// Failures keeps the escalation counts.
	Failures Failures
	// Used remembers the tokens already used.
	Used UsedTokens
	// Logger receives the provider outages (never a token); nil discards.
	Logger *slog.Logger
}

// Service is one tenant's CAPTCHA policy.
type Service struct {
	tenantID string
	cfg      tenant.Captcha
	d        Deps
	log      *slog.Logger
}

// New returns the CAPTCHA service of tenant t, following t.Captcha.
func New(t tenant.Tenant, d Deps) *Service {
	log := d.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{tenantID: t.ID, cfg: t.Captcha, d: d,
		log: log.With("component", "captcha", "tenant", t.ID, "provider", string(t.Captcha.Provider))}
}

// Client is who a checked request comes from.
type Client struct {
	// IP is the client's address (the zero Addr when unknown: then no
	// count by address applies).
	IP netip.Addr
	// Account is the key of the account the request names (the
	// normalised e-mail address or phone number), or "" when it names
	// none (then no count by account applies).
	Account string
}

// Widget is what a client needs to render the tenant's challenge: the
// provider and its public site key. Both are empty without a provider.
type Widget struct {
	Provider tenant.CaptchaProvider
	SiteKey  string
}

// Widget returns the tenant's widget.
func (s *Service) Widget() Widget { return Widget{Provider: s.cfg.Provider, SiteKey: s.cfg.SiteKey} }

// Description is what a client may know of the tenant's CAPTCHA: the
// widget to render, and when each route asks for a solved one.
type Description struct {
	Widget Widget
	// Modes are the mode of every route (tenant.CaptchaRoutes), off for
	// those the policy does not name and for every route of a tenant
	// without a provider.
	Modes map[Route]tenant.CaptchaMode
}

// Describe returns the tenant's Description. It says nothing of a
// client's failed logins: an after_failures route asks once they pile up,
// and its answer (captcha_required) says so.
func (s *Service) Describe() Description {
	modes := make(map[Route]tenant.CaptchaMode, len(tenant.CaptchaRoutes))
	for _, r := range tenant.CaptchaRoutes {
		modes[r] = s.cfg.Mode(r)
	}
	return Description{Widget: s.Widget(), Modes: modes}
}

// Required reports whether a request on route from ip, naming the account
// accountKey ("" for none), must carry a solved CAPTCHA: never for a route
// that is off, always for one that is always, and for an after_failures
// route once the address or the account has its count of failed logins
// (Failures). A count that cannot be read makes the request unavailable,
// never free of the CAPTCHA.
func (s *Service) Required(ctx context.Context, route Route, ip netip.Addr, accountKey string) (bool, error) {
	switch s.cfg.Mode(route) {
	case tenant.CaptchaAlways:
		return true, nil
	case tenant.CaptchaAfterFailures:
	default:
		return false, nil
	}
	e := s.cfg.AfterFailures
	for _, k := range []struct {
		key       string
		threshold int
	}{{FailureKeyIP(ip), e.PerIP}, {FailureKeyAccount(accountKey), e.PerAccount}} {
		if k.key == "" || k.threshold <= 0 {
			continue
		}
		n, err := s.d.Failures.Count(ctx, k.key)
		if err != nil {
			return false, errs.ErrUnavailable.Wrap(fmt.Errorf("captcha: failed-login count: %w", err))
		}
		if n >= k.threshold {
			return true, nil
		}
	}
	return false, nil
}

// Check lets a request on route from c through, or refuses it. When the
// route does not require a CAPTCHA (Required), response is ignored.
// Otherwise:
//   - an empty response is ErrCaptchaRequired;
//   - a response used before (on any server instance, within the
//     provider's token lifetime) is ErrCaptchaInvalid, and so is one the
//     provider refuses: the client solves a new challenge. A response is
//     used once it is sent to the provider, whatever the provider answers;
//   - a provider that cannot be reached is ErrCaptchaUnavailable when the
//     tenant fails closed (the default), and lets the request through when
//     it fails open; both are logged as warnings with the tenant, provider
//     and route. A provider that refuses the tenant's own secret or site
//     key (ErrMisconfigured) is ErrCaptchaUnavailable either way, logged
//     as an error.
//
// The ErrCaptchaRequired and ErrCaptchaInvalid it returns carry the
// extension member captcha, {"provider", "site_key"}, for the client to
// render the challenge.
func (s *Service) Check(ctx context.Context, route Route, response string, c Client) error {
	required, err := s.Required(ctx, route, c.IP, c.Account)
	if err != nil || !required {
		return err
	}
	return s.verify(ctx, route, response, c)
}

// Demand is Check for a request whose surface asks for a solved CAPTCHA
// whatever the mode of route (seed 003's /api/v3/login, "with reCAPTCHA
// verification"): the response is checked as on a route that is always
// on, with the same answers; route names the request in the logs and in
// the escalation counts a sign-in keeps. On a tenant without a provider
// the request is ErrCaptchaUnavailable (a surface that demands a CAPTCHA
// should not be served there).
func (s *Service) Demand(ctx context.Context, route Route, response string, c Client) error {
	if s.d.Verifier == nil {
		s.log.ErrorContext(ctx, "captcha demanded but the tenant has no provider", "route", string(route))
		return ErrCaptchaUnavailable.Wrap(ErrMisconfigured)
	}
	return s.verify(ctx, route, response, c)
}

// verify checks a response on a route that asks for one (see Check).
func (s *Service) verify(ctx context.Context, route Route, response string, c Client) error {
	if strings.TrimSpace(response) == "" {
		return s.withWidget(ErrCaptchaRequired)
	}
	if len(response) > MaxResponseLength {
		return s.withWidget(ErrCaptchaInvalid.Wrap(fmt.Errorf("captcha: token of %d bytes, more than %d", len(response), MaxResponseLength)))
	}
	if s.d.Verifier == nil {
		s.log.ErrorContext(ctx, "captcha required but the tenant has no provider", "route", string(route))
		return ErrCaptchaUnavailable.Wrap(ErrMisconfigured)
	}
	sum := sha256.Sum256([]byte(response))
	first, err := s.d.Used.Claim(ctx, hex.EncodeToString(sum[:]), s.cfg.Provider.TokenLifetime())
	if err != nil {
		return errs.ErrUnavailable.Wrap(fmt.Errorf("captcha: used tokens: %w", err))
	}
	if !first {
		return s.withWidget(ErrCaptchaInvalid.Wrap(errors.New("captcha: token already used")))
	}
	_, err = s.d.Verifier.Verify(ctx, Token{Response: response, RemoteIP: c.IP})
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrCaptchaRequired), errors.Is(err, ErrCaptchaInvalid):
		return s.withWidget(errs.As(err))
	case errors.Is(err, ErrMisconfigured):
		s.log.ErrorContext(ctx, "captcha provider refuses the tenant's configuration; refusing the request", "route", string(route), "error", err)
		return err
	case errors.Is(err, ErrCaptchaUnavailable) && s.cfg.OnUnavailable == tenant.CaptchaFailOpen:
		s.log.WarnContext(ctx, "captcha provider unavailable; letting the request through (on_unavailable: open)", "route", string(route), "error", err)
		return nil
	case errors.Is(err, ErrCaptchaUnavailable):
		s.log.WarnContext(ctx, "captcha provider unavailable; refusing the request (on_unavailable: closed)", "route", string(route), "error", err)
		return err
	default:
		// Not an answer the port promises: never a reason to fail open.
		s.log.ErrorContext(ctx, "captcha verifier failed; refusing the request", "route", string(route), "error", err)
		return ErrCaptchaUnavailable.Wrap(err)
	}
}

// RecordFailure counts a failed login from ip on the account accountKey
// ("" for none) towards the after_failures routes. It counts nothing when
// no route is after_failures.
func (s *Service) RecordFailure(ctx context.Context, ip netip.Addr, accountKey string) error {
	if !s.cfg.Escalates() {
		return nil
	}
	e := s.cfg.AfterFailures
	var failed []error
	if k := FailureKeyIP(ip); k != "" && e.PerIP > 0 {
		failed = append(failed, s.d.Failures.Add(ctx, k, e.Window))
	}
	if k := FailureKeyAccount(accountKey); k != "" && e.PerAccount > 0 {
		failed = append(failed, s.d.Failures.Add(ctx, k, e.Window))
	}
	if err := errors.Join(failed...); err != nil {
		return errs.ErrUnavailable.Wrap(fmt.Errorf("captcha: count a failed login: %w", err))
	}
	return nil
}

// RecordSuccess forgets the failed logins of the account accountKey after
// a successful login on it from ip. The address's count stays: an attacker
// with one account of their own would otherwise clear, by signing in to
// it, the count of the address they guess other accounts' passwords from.
func (s *Service) RecordSuccess(ctx context.Context, ip netip.Addr, accountKey string) error {
	k := FailureKeyAccount(accountKey)
	if !s.cfg.Escalates() || k == "" {
		return nil
	}
	if err := s.d.Failures.Reset(ctx, k); err != nil {
		return errs.ErrUnavailable.Wrap(fmt.Errorf("captcha: forget failed logins: %w", err))
	}
	return nil
}

// FailureKeyIP is the Failures key of an address (IPv6 by /64), "" for
// the zero Addr.
func FailureKeyIP(ip netip.Addr) string {
	if !ip.IsValid() {
		return ""
	}
	return "ip:" + throttle.IPKey(ip)
}

// FailureKeyAccount is the Failures key of an account, by a digest of its
// key so that no address is readable in the store; "" for none.
func FailureKeyAccount(accountKey string) string {
	if accountKey == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(accountKey))
	return "acct:" + hex.EncodeToString(sum[:16])
}

// withWidget adds what the client needs to render a new challenge: the
// extension member captcha, {"provider", "site_key"}.
func (s *Service) withWidget(e *errs.Error) *errs.Error {
	return e.WithExtensions(map[string]any{"captcha": map[string]any{"provider": string(s.cfg.Provider), "site_key": s.cfg.SiteKey}})
}
