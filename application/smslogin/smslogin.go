// Package smslogin is the SMS one-time-code first factor: a code is sent
// to a phone number that belongs to an account, and the number with the
// right code hands the login pipeline a grant (amr "sms").
//
// Against SMS pumping (paid messages sent to numbers an attacker picks),
// every request is counted, before anything is sent, against a per-IP
// limit, an hourly cap per country calling code and a daily budget of the
// tenant, besides the engine's per-subject cooldown and per-destination
// daily cap; over any of them the answer is 429 with Retry-After and the
// provider is not called. The budgets count requests whether or not the
// number has an account, so that their answers reveal nothing.
//
// Both steps pass the tenant's CAPTCHA gate (login.Pipeline.Gate) before
// anything is counted, issued, sent or checked: a request for a code on
// the route sms_send, a code submitted on the route login, each naming
// the account by the number in E.164. A wrong code counts as a failed
// login towards the CAPTCHA's escalation.
package smslogin

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/portcullis/portcullis/application/audit"
	"github.com/portcullis/portcullis/application/captcha"
	"github.com/portcullis/portcullis/application/login"
	"github.com/portcullis/portcullis/application/notify"
	"github.com/portcullis/portcullis/application/otp"
	"github.com/portcullis/portcullis/application/platform"
	"github.com/portcullis/portcullis/application/session"
	"github.com/portcullis/portcullis/application/throttle"
	"github.com/portcullis/portcullis/domain/errs"
	"github.com/portcullis/portcullis/domain/identity"
	"github.com/portcullis/portcullis/domain/message"
	domain "github.com/portcullis/portcullis/domain/otp"
	"github.com/portcullis/portcullis/domain/storefront"
	"github.com/portcullis/portcullis/domain/tenant"
)

// Users finds accounts by phone number (E.164) and marks a number
// verified. Lookups answer errs.ErrNotFound.
type Users interface {
	ByPhone(ctx context.Context, tenantID, phone string) (identity.User, error)
	SetPhoneVerified(ctx context.Context, tenantID, id string, at time.Time) error
}

// PhoneParser normalises a number as the tenant reads it (its default
// region, its allowed countries) to E.164 and names its country calling
// code; a number it refuses is an errs.Invalid error naming the field.
type PhoneParser func(raw string) (e164, callingCode string, err error)

// Limits are the SMS-pumping guard's budgets.
type Limits struct {
	PerIP          tenant.Limit // requests from one address (IPv6 by /64)
	PerCallingCode tenant.Limit // requests to one country calling code, per hour by default
	PerTenant      tenant.Limit // requests to the tenant, per day by default
}

// Deps are what one tenant's SMS login uses.
type Deps struct {
	Users   Users
	Parse   PhoneParser
	Codes   *otp.Engine
	Sender  notify.SMSSender
	Limiter throttle.Limiter
	Login   *login.Pipeline
	// Audit records the refused codes (the pipeline records the rest).
	Audit audit.Recorder
	Clock platform.Clock
}

// Errors the method reports.
var (
	// ErrUnknownPhone answers a number without an active account. The
	// canonical API answers it like a success; seed 000's contract
	// reports it.
	ErrUnknownPhone = errs.E(errs.Invalid, "unknown_phone", "No active account has this phone number.").
			WithFields(errs.FieldError{Field: "phone", Reason: "no active account has this phone number"})
	// ErrUndelivered answers a code the provider would not take within its
	// lifetime; the code was withdrawn, so a new one can be asked for at
	// once.
	ErrUndelivered = errs.E(errs.Unavailable, "sms_undelivered", "The code could not be sent. Try again shortly.")
)

// Service is one tenant's SMS login.
type Service struct {
	t       tenant.Tenant
	kind    domain.Kind
	message tenant.SMSMessage
	limits  Limits
	d       Deps

	background platform.Background
}

// New returns the SMS login of tenant t with its SMS policy: the codes'
// lifetime, length and limits, and the text of their message.
func New(t tenant.Tenant, policy tenant.SMSPolicy, limits Limits, d Deps) *Service {
	kind := domain.LoginSMS(policy.CodeTTL, policy.CodeLength,
		domain.Limits{MaxAttempts: policy.MaxAttempts, Cooldown: policy.ResendCooldown, DailyCap: policy.DailyCap})
	return &Service{t: t, kind: kind, message: policy.Message, limits: limits, d: d}
}

// Kind is the kind of the codes this method sends.
func (s *Service) Kind() domain.Kind { return s.kind }

// SendInput asks for a code.
type SendInput struct {
	Phone  string
	Client session.Client
	// Wait delivers the code before answering and reports a delivery
	// failure (ErrUndelivered) and an unknown number (ErrUnknownPhone). A
	// surface whose contract does not reveal unknown numbers leaves it
	// false: the answer then comes after the same work whatever the
	// number, and the code is delivered in the background, retried within
	// its lifetime and withdrawn if it cannot be.
	Wait bool
	// Captcha is the client's CAPTCHA response, for the tenant's sms_send
	// route ("" for none).
	Captcha string
}

// Send issues a code for the number and sends it when the number belongs
// to an active account. The code is issued in any case (the engine's
// cooldown and daily cap then answer alike for every number); only an
// account's number gets a message.
func (s *Service) Send(ctx context.Context, in SendInput) error {
	if err := s.d.Login.Allowed(tenant.MethodSMSOTP); err != nil {
		return err
	}
	phone, cc, err := s.parse(in.Phone)
	if err != nil {
		return err
	}
	if _, err := s.d.Login.Gate(ctx, captcha.RouteSMSSend, in.Captcha, in.Client, phone); err != nil {
		return err
	}
	if err := s.guard(ctx, in.Client.IP, cc); err != nil {
		return err
	}
	issued, err := s.d.Codes.Issue(ctx, s.kind, phone, phone)
	if err != nil {
		return err
	}
	u, err := s.d.Users.ByPhone(ctx, s.t.ID, phone)
	switch {
	case errors.Is(err, errs.ErrNotFound) || (err == nil && !u.Active):
		if in.Wait {
			return ErrUnknownPhone
		}
		_ = s.text(issued.Secret) // the work of a message, for an answer that costs the same
		return nil
	case err != nil:
		return fmt.Errorf("sms login: %w", err)
	}
	msg := message.SMS{To: phone, Text: s.text(issued.Secret)}
	if in.Wait {
		return s.deliver(ctx, phone, msg, issued)
	}
	s.background.Go(ctx, issued.ExpiresAt, func(ctx context.Context) { _ = s.deliver(ctx, phone, msg, issued) })
	return nil
}

// deliver sends msg, retrying within ctx (the sender backs off on its
// own); a code that cannot be sent is withdrawn.
func (s *Service) deliver(ctx context.Context, phone string, msg message.SMS, issued otp.Issued) error {
	err := s.d.Sender.SendSMS(ctx, msg)
	if err == nil {
		return nil
	}
	_ = s.d.Codes.Withdraw(context.WithoutCancel(ctx), s.kind, phone, phone, issued)
	if errs.KindOf(err) == errs.Invalid {
		return err // the provider refused the number: a field error
	}
	return ErrUndelivered.WithRetryAfter(5).Wrap(err)
}

// Wait waits until the codes being delivered in the background are sent
// or given up, or ctx ends.
func (s *Service) Wait(ctx context.Context) error { return s.background.Wait(ctx) }

// VerifyInput submits a code.
type VerifyInput struct {
	Phone  string
	Code   string
	Kind   identity.SessionKind
	Client session.Client
	// Captcha is the client's CAPTCHA response, for the tenant's login
	// route ("" for none).
	Captcha string
	// Lifetime is how long the session lives, when not by the tenant's
	// sessions policy: see login.Grant.
	Lifetime session.Lifetime
	// Local is the guest's local cart and wishlist sent with the login,
	// for a storefront tenant to merge once the session starts: see
	// login.Grant.
	Local storefront.Local
}

// Verify checks the code for the number and hands the account to the
// login pipeline; a successful SMS login marks the number verified.
func (s *Service) Verify(ctx context.Context, in VerifyInput) (login.Outcome, error) {
	if err := s.d.Login.Allowed(tenant.MethodSMSOTP); err != nil {
		return login.Outcome{}, err
	}
	phone, _, err := s.parse(in.Phone)
	if err != nil {
		return login.Outcome{}, err
	}
	code := strings.TrimSpace(in.Code)
	if code == "" {
		return login.Outcome{}, errs.InvalidFields(errs.FieldError{Field: "code", Reason: "is required"})
	}
	pass, err := s.d.Login.Gate(ctx, captcha.RouteLogin, in.Captcha, in.Client, phone)
	if err != nil {
		return login.Outcome{}, err
	}
	if _, err := s.d.Codes.Verify(ctx, s.kind, phone, code); err != nil {
		s.refused(ctx, in.Client, pass, err)
		return login.Outcome{}, err
	}
	u, err := s.d.Users.ByPhone(ctx, s.t.ID, phone)
	if errors.Is(err, errs.ErrNotFound) {
		// A code of a number without an account was never sent.
		s.refused(ctx, in.Client, pass, otp.ErrInvalid)
		return login.Outcome{}, otp.ErrInvalid
	}
	if err != nil {
		return login.Outcome{}, fmt.Errorf("sms login: %w", err)
	}
	out, err := s.d.Login.Complete(ctx, login.Grant{User: u, Method: tenant.MethodSMSOTP, AMR: []string{"sms"}, Kind: in.Kind, Client: in.Client,
		Lifetime: in.Lifetime, Pass: pass, Local: in.Local})
	if err != nil {
		return login.Outcome{}, err
	}
	if !u.PhoneVerified {
		if err := s.d.Users.SetPhoneVerified(ctx, s.t.ID, u.ID, s.d.Clock.Now().UTC()); err == nil {
			out.User.PhoneVerified = true
		}
	}
	return out, nil
}

// refused records a code refused with err (wrong, expired, dead), when
// err is a refusal and not an outage, and counts it as a failed login
// against the pass's address and number. The account is not looked up
// for it: the event has no target.
func (s *Service) refused(ctx context.Context, c session.Client, pass login.Pass, err error) {
	s.d.Login.Refused(ctx, pass, err)
	if reason, ok := audit.Refusal(err); ok {
		s.d.Audit.Record(ctx, audit.Event{Type: audit.LoginFailed, Method: string(tenant.MethodSMSOTP), Reason: reason, IP: c.IP, UserAgent: c.UserAgent})
	}
}

func (s *Service) parse(raw string) (string, string, error) {
	if strings.TrimSpace(raw) == "" {
		return "", "", errs.InvalidFields(errs.FieldError{Field: "phone", Reason: "is required"})
	}
	return s.d.Parse(raw)
}

// guard counts the request against the pumping budgets: the address, the
// country calling code, the tenant.
func (s *Service) guard(ctx context.Context, ip netip.Addr, callingCode string) error {
	if err := throttle.Hit(ctx, s.d.Limiter, "sms:ip:"+throttle.IPKey(ip), s.limits.PerIP); err != nil {
		return err
	}
	if err := throttle.Hit(ctx, s.d.Limiter, "sms:cc:"+callingCode, s.limits.PerCallingCode); err != nil {
		return err
	}
	return throttle.Hit(ctx, s.d.Limiter, "sms:tenant", s.limits.PerTenant)
}

// text is the message: the tenant's template with the code, the tenant's
// name and the code's lifetime.
func (s *Service) text(code string) string {
	return s.message.Render(code, s.t.Name(), s.kind.TTL)
}
