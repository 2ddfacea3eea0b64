// Package adminlogin is the admin login of seed 002 (the tenant's login
// method admin_otp): an admin signs in with e-mail address and password
// and gets an app token (Authorization: Token <key>) that ends after a
// time without use (profiles.seed002.token_idle_timeout, the seed's 30
// days), every use sliding it.
//
// An admin whose address is not verified yet is pending activation: the
// right password does not sign in but mails a six-digit activation code
// (the one-time-code engine's admin_activation purpose, under the
// tenant's e-mail code limits: its lifetime, its wrong-attempt limit, one
// code a minute, a daily cap), and the answer is ErrActivationPending.
// Confirming the code marks the address verified, which activates the
// account: the next sign-in gets its token. Resend asks for a new code.
//
// What the seed makes visible and what it does not:
//   - Only admins sign in here; anyone else's right password is refused
//     exactly like a wrong one (the pipeline decides, after the password:
//     the same work, the same budgets; the audit log keeps the reason).
//   - A disabled account is never activated by this flow: its sign-in is
//     a wrong password's, it is mailed no code, and a confirmation of it
//     answers ErrUserNotFound and changes nothing.
//   - Confirm reports an address without an account (ErrUserNotFound), as
//     the seed's clients expect; a wrong, expired, used or dead code is
//     one answer (otp.ErrInvalid and its kin, rendered alike).
//   - Resend answers alike for every well-formed address, known or not,
//     pending or not: it issues a code for any address (so that its
//     one-a-minute cooldown answers alike) and mails it, after answering,
//     only to an admin pending activation.
//
// A token authenticates the seed's protected routes only for an admin
// whose address is verified (Authenticate): any other holder of a live
// app token of the tenant is ErrAccessDenied.
package adminlogin

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/portcullis/portcullis/application/audit"
	"github.com/portcullis/portcullis/application/courier"
	"github.com/portcullis/portcullis/application/login"
	"github.com/portcullis/portcullis/application/otp"
	"github.com/portcullis/portcullis/application/password"
	"github.com/portcullis/portcullis/application/platform"
	"github.com/portcullis/portcullis/application/session"
	"github.com/portcullis/portcullis/application/throttle"
	"github.com/portcullis/portcullis/domain/errs"
	"github.com/portcullis/portcullis/domain/identity"
	"github.com/portcullis/portcullis/domain/message"
	domain "github.com/portcullis/portcullis/domain/otp"
	"github.com/portcullis/portcullis/domain/tenant"
)

// Users finds accounts by e-mail key and marks an address verified
// (account.Users is one). ByEmail answers errs.ErrNotFound;
// SetEmailVerified answers it too when the user's key is no longer
// emailKey, and then changes nothing.
type Users interface {
	ByEmail(ctx context.Context, tenantID, emailKey string) (identity.User, error)
	SetEmailVerified(ctx context.Context, tenantID, id, emailKey string, at time.Time) error
}

// Passwords checks a password and hands its grant to the login pipeline
// (password.Service is one).
type Passwords interface {
	Login(ctx context.Context, in password.LoginInput) (password.Outcome, error)
}

// Sessions authenticates and ends app tokens (session.Service is one).
type Sessions interface {
	Authenticate(ctx context.Context, kind session.CredentialKind, value string) (session.Principal, error)
	Logout(ctx context.Context, kind session.CredentialKind, value string) (session.Principal, error)
}

// Errors of the admin login. A surface renders each in its own shape.
var (
	// ErrActivationPending answers the right password of an admin pending
	// activation: a new code was mailed. Its message is the seed's, which
	// does not say whether the account exists.
	ErrActivationPending = errs.E(errs.Forbidden, "activation_pending",
		"If an account exists and requires activation, an OTP has been sent.")
	// ErrUserNotFound answers a confirmation for an address without an
	// account, or of a disabled one.
	ErrUserNotFound = errs.E(errs.NotFound, "user_not_found", "No account has this e-mail address.")
	// ErrAccessDenied answers a live token whose holder is not (or no
	// longer) an active admin with a verified address.
	ErrAccessDenied = errs.E(errs.Forbidden, "access_denied", "Only an admin may do this.")
)

// Defaults of the Policy fields left zero: the tenant's defaults for
// e-mail codes and seed 002's token lifetimes.
const (
	DefaultCodeTTL = tenant.DefaultEmailCodeTTL
)

// Policy is one tenant's admin login policy; the wiring maps the tenant's
// configuration to it. Zero fields take the defaults.
type Policy struct {
	// CodeTTL is how long an activation code works.
	CodeTTL time.Duration
	// Limits are the codes' wrong-attempt limit, their cooldown per
	// address (the seed's one a minute) and their daily cap per address;
	// the zero value means the engine's defaults (5, 60 s, 10 a day), and
	// a zero MaxAttempts or DailyCap takes its default.
	Limits domain.Limits
	// SendPerIP is how many codes one client address (IPv6 by /64) may ask
	// Resend for, whatever the addresses; a zero Count takes the tenant
	// default of throttling.verification_mail_per_ip.
	SendPerIP tenant.Limit
	// Token is the lifetime of the tokens the login starts; a zero field
	// takes seed 002's default (30 days idle, a year at most).
	Token session.Lifetime
}

func (p Policy) withDefaults() Policy {
	if p.CodeTTL == 0 {
		p.CodeTTL = DefaultCodeTTL
	}
	p.Limits = p.Limits.WithDefaults()
	if p.SendPerIP.Count == 0 {
		p.SendPerIP = tenant.DefaultThrottling().VerificationMailPerIP
	}
	if p.Token.Idle == 0 {
		p.Token.Idle = tenant.DefaultSeed002TokenIdle
	}
	if p.Token.Absolute == 0 {
		p.Token.Absolute = tenant.DefaultSeed002TokenMaxAge
	}
	return p
}

// Deps are what one tenant's admin login uses.
type Deps struct {
	Users     Users
	Passwords Passwords
	Codes     *otp.Engine
	Courier   *courier.Courier
	Limiter   throttle.Limiter
	Sessions  Sessions
	// Audit records the codes sent, confirmed and refused (the password
	// login and the pipeline record the sign-ins).
	Audit audit.Recorder
	Clock platform.Clock
}

// Service is one tenant's admin login.
type Service struct {
	t    tenant.Tenant
	p    Policy
	code domain.Kind
	d    Deps
}

// New returns the admin login of tenant t under policy p.
func New(t tenant.Tenant, p Policy, d Deps) *Service {
	p = p.withDefaults()
	return &Service{t: t, p: p, d: d, code: domain.AdminActivation(p.CodeTTL, p.Limits)}
}

// Policy is the service's policy with the defaults filled in.
func (s *Service) Policy() Policy { return s.p }

// CodeKind is the kind of the activation codes.
func (s *Service) CodeKind() domain.Kind { return s.code }

// LoginInput is an admin's sign-in.
type LoginInput struct {
	Email    string
	Password string
	// SecondFactor is a code of the admin's second factor (TOTP or backup
	// code) sent with the password; without it an admin who has one gets
	// login.ErrMFARequired, a wrong one the factor's error.
	SecondFactor string
	Client       session.Client
	// Captcha is the client's CAPTCHA response, for the tenant's login
	// route ("" for none): the password login passes the gate.
	Captcha string
}

// Login signs an admin in: the outcome's credentials hold the app token,
// living the policy's Token lifetime. A missing or malformed address and
// a missing password are field errors. Wrong credentials, a disabled
// account and anyone but an admin answer login.ErrInvalidCredentials
// alike. An admin pending activation is mailed a new code and answered
// ErrActivationPending, or otp.ErrCooldown (and otp.ErrDailyCap) when a
// code was sent within the cooldown: no code is sent then.
func (s *Service) Login(ctx context.Context, in LoginInput) (login.Outcome, error) {
	if err := s.allowed(); err != nil {
		return login.Outcome{}, err
	}
	var fields []errs.FieldError
	if _, fe := normalize(in.Email); fe != nil {
		fields = append(fields, *fe)
	}
	if in.Password == "" {
		fields = append(fields, errs.FieldError{Field: "password", Reason: "is required"})
	}
	if len(fields) > 0 {
		return login.Outcome{}, errs.InvalidFields(fields...)
	}
	out, err := s.d.Passwords.Login(ctx, password.LoginInput{Email: in.Email, Password: in.Password, Kind: identity.SessionApp,
		Client: in.Client, SecondFactor: in.SecondFactor, Method: tenant.MethodAdminOTP, Lifetime: s.p.Token, Captcha: in.Captcha})
	if err != nil {
		return login.Outcome{}, err
	}
	if out.Result == login.ActivationPending {
		return login.Outcome{}, s.sendCode(ctx, out.User, in.Client, sentAtLogin)
	}
	return out.Outcome, nil
}

// What asked for an activation code, as the audit log records it.
const (
	sentAtLogin  = "login"
	sentAtResend = "resend"
)

// sendCode issues a code for u, an admin pending activation, mails it
// and answers ErrActivationPending; within the cooldown it answers the
// engine's error and sends nothing.
func (s *Service) sendCode(ctx context.Context, u identity.User, c session.Client, why string) error {
	issued, err := s.d.Codes.Issue(ctx, s.code, u.EmailKey, u.EmailKey)
	if err != nil {
		return err
	}
	if err := s.mail(ctx, u, issued); err != nil {
		return err
	}
	s.d.Audit.Record(ctx, audit.Event{Type: audit.ActivationCodeSent, TargetID: u.ID, Method: string(tenant.MethodAdminOTP), Reason: why,
		IP: c.IP, UserAgent: c.UserAgent})
	return ErrActivationPending
}

// mail sends u the code issued; when the mail cannot be composed the code
// is taken back, so that asking again works at once.
func (s *Service) mail(ctx context.Context, u identity.User, issued otp.Issued) error {
	d := message.MailData{Name: u.FirstName, Email: u.Email, Code: issued.Secret, Expires: s.code.TTL}
	if err := s.d.Courier.Send(ctx, message.MailAdminActivation, u.Email, d, issued.ExpiresAt); err != nil {
		_ = s.d.Codes.Withdraw(ctx, s.code, u.EmailKey, u.EmailKey, issued)
		return fmt.Errorf("admin login: %w", err)
	}
	return nil
}

// ResendInput asks for a new activation code.
type ResendInput struct {
	Email  string
	Client session.Client
}

// Resend issues a new activation code for the address and, after
// answering, mails it when the address is an admin's pending activation.
// It answers nil for every well-formed address; a missing or malformed
// one is a field error on "email"; within the cooldown of the address's
// last code (whoever asked for it, here or at Login) otp.ErrCooldown,
// over the client address's budget throttle.ErrThrottled, both with
// Retry-After.
func (s *Service) Resend(ctx context.Context, in ResendInput) error {
	if err := s.allowed(); err != nil {
		return err
	}
	key, fe := normalize(in.Email)
	if fe != nil {
		return errs.InvalidFields(*fe)
	}
	if err := throttle.Hit(ctx, s.d.Limiter, "admin-activation:ip:"+throttle.IPKey(in.Client.IP), s.p.SendPerIP); err != nil {
		return err
	}
	issued, err := s.d.Codes.Issue(ctx, s.code, key, key)
	if err != nil {
		return err
	}
	s.d.Courier.Later(ctx, issued.ExpiresAt, "admin activation code", func(ctx context.Context) error {
		u, err := s.d.Users.ByEmail(ctx, s.t.ID, key)
		switch {
		case errors.Is(err, errs.ErrNotFound):
			return nil
		case err != nil:
			return fmt.Errorf("admin login: %w", err)
		case !pending(u):
			return nil
		}
		if err := s.mail(ctx, u, issued); err != nil {
			return err
		}
		s.d.Audit.Record(ctx, audit.Event{Type: audit.ActivationCodeSent, TargetID: u.ID, Method: string(tenant.MethodAdminOTP),
			Reason: sentAtResend, IP: in.Client.IP, UserAgent: in.Client.UserAgent})
		return nil
	})
	return nil
}

// pending reports whether u waits for activation: an active admin whose
// address is not verified.
func pending(u identity.User) bool {
	return u.Active && u.Role == identity.RoleAdmin && !u.EmailVerified
}

// ConfirmInput submits an activation code.
type ConfirmInput struct {
	Email  string
	Code   string
	Client session.Client
}

// Confirm checks the activation code of the address and marks the
// address verified, which activates an admin pending activation. An
// address without an account is ErrUserNotFound, before any code is
// looked at. The code is counted before anything else is decided: a
// wrong one is otp.ErrInvalid; once the tenant's wrong-attempt limit is
// reached the code is dead and every later submission, the right code
// too, is otp.ErrExhausted; an expired, used or never issued one is
// otp.ErrExpired. A right code of a disabled account is used up and
// answered ErrUserNotFound, and nothing is written: this flow never
// enables an account. Confirming an address verified already is a
// success that changes nothing.
func (s *Service) Confirm(ctx context.Context, in ConfirmInput) error {
	if err := s.allowed(); err != nil {
		return err
	}
	var fields []errs.FieldError
	key, fe := normalize(in.Email)
	if fe != nil {
		fields = append(fields, *fe)
	}
	code := strings.TrimSpace(in.Code)
	if code == "" {
		fields = append(fields, errs.FieldError{Field: "otp", Reason: "is required"})
	}
	if len(fields) > 0 {
		return errs.InvalidFields(fields...)
	}
	u, err := s.d.Users.ByEmail(ctx, s.t.ID, key)
	switch {
	case errors.Is(err, errs.ErrNotFound):
		s.refused(ctx, "", in.Client, ErrUserNotFound.Code)
		return ErrUserNotFound
	case err != nil:
		return fmt.Errorf("admin login: %w", err)
	}
	if _, err := s.d.Codes.Verify(ctx, s.code, key, code); err != nil {
		if reason, ok := audit.Refusal(err); ok {
			s.refused(ctx, u.ID, in.Client, reason)
		}
		return err
	}
	if !u.Active {
		s.refused(ctx, u.ID, in.Client, reasonDisabled)
		return ErrUserNotFound
	}
	if !u.EmailVerified {
		err := s.d.Users.SetEmailVerified(ctx, s.t.ID, u.ID, key, s.d.Clock.Now().UTC())
		switch {
		case errors.Is(err, errs.ErrNotFound): // the account moved to another address meanwhile
			s.refused(ctx, u.ID, in.Client, ErrUserNotFound.Code)
			return ErrUserNotFound
		case err != nil:
			return fmt.Errorf("admin login: %w", err)
		}
	}
	s.d.Audit.Record(ctx, audit.Event{Type: audit.ActivationConfirmed, TargetID: u.ID, Method: string(tenant.MethodAdminOTP),
		IP: in.Client.IP, UserAgent: in.Client.UserAgent})
	return nil
}

// reasonDisabled is why a right code of a disabled account was refused,
// as the audit log records it.
const reasonDisabled = "account_disabled"

// refused records a confirmation refused for reason, of the account with
// userID ("" when there is none).
func (s *Service) refused(ctx context.Context, userID string, c session.Client, reason string) {
	s.d.Audit.Record(ctx, audit.Event{Type: audit.ActivationFailed, TargetID: userID, Method: string(tenant.MethodAdminOTP),
		Reason: reason, IP: c.IP, UserAgent: c.UserAgent})
}

// Authenticate resolves an app token of the admin login's routes: a token
// that is unknown, expired, revoked or whose account is disabled is
// session.ErrInvalidToken; a live one of anyone but an admin whose
// address is verified (a user's token of another surface, an admin
// demoted or pending activation) is ErrAccessDenied. Each use slides the
// token's idle window.
func (s *Service) Authenticate(ctx context.Context, token string) (session.Principal, error) {
	p, err := s.d.Sessions.Authenticate(ctx, session.ByToken, token)
	if err != nil {
		return session.Principal{}, err
	}
	if p.User.Role != identity.RoleAdmin || !p.User.EmailVerified {
		return session.Principal{}, ErrAccessDenied
	}
	return p, nil
}

// Logout ends the session of an admin's token, with the checks of
// Authenticate.
func (s *Service) Logout(ctx context.Context, token string) error {
	if _, err := s.Authenticate(ctx, token); err != nil {
		return err
	}
	_, err := s.d.Sessions.Logout(ctx, session.ByToken, token)
	return err
}

// allowed answers login.ErrMethodDisabled unless the tenant has the
// admin login (Login asks the pipeline, through the password check).
func (s *Service) allowed() error {
	if !s.t.Enabled(tenant.MethodAdminOTP) {
		return login.ErrMethodDisabled
	}
	return nil
}

// normalize reads an address as registration does and returns its key,
// or the field error of an address that is missing or not one.
func normalize(raw string) (string, *errs.FieldError) {
	_, key, err := identity.NormalizeEmail(raw)
	if err != nil {
		return "", &errs.FieldError{Field: "email", Reason: err.Error()}
	}
	return key, nil
}
