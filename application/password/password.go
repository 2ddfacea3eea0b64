// Package password is the e-mail + password first factor: registration and
// password login. A login that proves the password hands its grant to the
// login pipeline, which decides the rest.
package password

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/portcullis/portcullis/application/account"
	"github.com/portcullis/portcullis/application/audit"
	"github.com/portcullis/portcullis/application/captcha"
	"github.com/portcullis/portcullis/application/device"
	"github.com/portcullis/portcullis/application/login"
	"github.com/portcullis/portcullis/application/platform"
	"github.com/portcullis/portcullis/application/session"
	"github.com/portcullis/portcullis/application/throttle"
	"github.com/portcullis/portcullis/domain/errs"
	"github.com/portcullis/portcullis/domain/identity"
	"github.com/portcullis/portcullis/domain/link"
	"github.com/portcullis/portcullis/domain/message"
	"github.com/portcullis/portcullis/domain/storefront"
	"github.com/portcullis/portcullis/domain/tenant"
)

// Hasher hashes and verifies passwords with the tenant's argon2id
// parameters on a bounded pool. When the pool is full for too long it fails
// with ErrBusy (an errs.Unavailable error carrying RetryAfter).
type Hasher interface {
	Hash(ctx context.Context, password string, p tenant.HashParams) (string, error)
	// Verify reports whether password matches encoded, and whether encoded
	// was made with parameters other than p (then it should be rehashed).
	Verify(ctx context.Context, password, encoded string, p tenant.HashParams) (ok, rehash bool, err error)
}

// Mail delivers a tenant's mail, composed from its templates, in the
// background until deadline (courier.Courier is one).
type Mail interface {
	Send(ctx context.Context, kind message.MailKind, to string, d message.MailData, deadline time.Time) error
}

// Verifier mails a user the link that verifies their address, under the
// paths of the surface the user registered on (verification.Service is
// one).
type Verifier interface {
	Send(ctx context.Context, u identity.User, paths link.Paths) error
}

// CommonPasswords is the common-password list.
type CommonPasswords = identity.CommonPasswords

// ErrBusy answers when the password-hashing pool is saturated.
var ErrBusy = errs.E(errs.Unavailable, "busy", "The server is busy. Try again shortly.")

// ErrRegistrationDisabled answers a registration on a tenant that has
// closed self-service sign-up (registration.enabled: false).
var ErrRegistrationDisabled = errs.E(errs.Forbidden, "registration_disabled", "Sign-up is closed for this tenant.")

// Deps are the ports one tenant's password service uses.
type Deps struct {
	Users   account.Users
	Limiter throttle.Limiter
	Hasher  Hasher
	Common  CommonPasswords
	// Mail delivers the tenant's mail in the background
	// (courier.Courier); nil sends none.
	Mail Mail
	// Verifier mails a new account its address-verification link; nil
	// mails none.
	Verifier Verifier
	Login    *login.Pipeline
	// Devices chooses the account budget of each attempt and issues the
	// device credentials (see package device for the rule).
	Devices *device.Service
	// Audit records the refused logins (the pipeline records the rest).
	Audit  audit.Recorder
	Clock  platform.Clock
	Random platform.Random
}

// Service is one tenant's password use cases.
type Service struct {
	t tenant.Tenant
	d Deps

	dummyMu sync.Mutex
	dummy   string
}

// New returns the password service of tenant t.
func New(t tenant.Tenant, d Deps) *Service { return &Service{t: t, d: d} }

// RegisterInput is a registration request. Fields a client must not set
// (role, tenant, verification, ids) do not exist here.
type RegisterInput struct {
	Profile  identity.Profile
	Password string
	Client   session.Client
	// SignIn, when set, asks for a session of this kind for the new
	// account, through the login pipeline like any login.
	SignIn *identity.SessionKind
	// Paths are where the verification link mailed to the new account
	// points; the zero value means the canonical API's.
	Paths link.Paths
	// Captcha is the client's CAPTCHA response, for the tenant's register
	// route ("" for none).
	Captcha string
	// Lifetime is how long the session SignIn asks for lives, when not by
	// the tenant's sessions policy: see login.Grant.
	Lifetime session.Lifetime
	// Local is the guest's local cart and wishlist sent with the
	// registration, for a storefront tenant to merge into the new
	// account's when the sign-in SignIn asks for starts: see login.Grant.
	Local storefront.Local
}

// Registered is what a registration produced.
type Registered struct {
	User identity.User
	// Login is the sign-in the input asked for; nil when none was asked
	// for or the account cannot sign in yet (the tenant requires a verified
	// address) or signing in failed. The account exists either way.
	Login *login.Outcome
	// Device is the device credential of the sign-in, when one was issued.
	Device device.Credential
}

// maxPasswordBytes bounds what is hashed at all: a longer input is refused
// before any work, whatever the tenant's policy.
const maxPasswordBytes = 4096

// Register creates an account. When the address is taken it does the same
// work, tells the owner by e-mail and returns identity.ErrEmailTaken; an
// enumeration-safe surface answers that exactly like a success, a
// compatibility profile whose contract reports it may do so.
//
// A phone number, optional, is read with the tenant's SMS policy (default
// region, allowed countries); an invalid one is a field error on "phone"
// reported with the others. When another account of the tenant has the
// phone, Register does the same work, creates nothing, tells that
// account's owner by e-mail (under the same per-recipient cap as a taken
// address: the owner should learn that someone claims their number, and
// an SMS would cost money per attempt and could be used to flood the
// phone) and returns identity.ErrPhoneTaken, which enumeration-safe
// surfaces answer like ErrEmailTaken. The person registering is not told
// by mail either: that would tell whoever holds any mailbox which phone
// numbers have an account.
//
// On a tenant that has closed sign-up, Register returns
// ErrRegistrationDisabled before anything else: it spends no throttle
// budget, hashes nothing, creates nothing and sends nothing. The answer
// is the same for every address, so it tells nobody which have accounts.
//
// A valid request then passes the tenant's CAPTCHA gate for the route
// register (login.Pipeline.Gate) before the password is hashed; its pass
// is the one the sign-in the input asks for goes on with.
func (s *Service) Register(ctx context.Context, in RegisterInput) (Registered, error) {
	if !s.t.Registration.Enabled {
		return Registered{}, ErrRegistrationDisabled
	}
	if err := throttle.Hit(ctx, s.d.Limiter, throttle.RegisterIP(in.Client.IP), s.t.Throttling.RegisterPerIP); err != nil {
		return Registered{}, err
	}
	profile, key, perr := identity.CheckProfile(in.Profile, s.t.SMS)
	pw := identity.NormalizePassword(in.Password)
	var fields []errs.FieldError
	var pe *errs.Error
	if errors.As(perr, &pe) {
		fields = append(fields, pe.Fields...)
	}
	if len(in.Password) > maxPasswordBytes {
		fields = append(fields, errs.FieldError{Field: "password", Reason: fmt.Sprintf("must be at most %d characters", s.t.Password.MaxLength)})
	} else if err := identity.CheckPassword(pw, s.t.Password, s.d.Common, profile.Email, profile.FirstName, profile.LastName); err != nil {
		fields = append(fields, errs.As(err).Fields...)
	}
	if len(fields) > 0 {
		return Registered{}, errs.InvalidFields(fields...)
	}
	pass, err := s.d.Login.Gate(ctx, captcha.RouteRegister, in.Captcha, in.Client, key)
	if err != nil {
		return Registered{}, err
	}
	hash, err := s.d.Hasher.Hash(ctx, pw, s.t.Password.Hash)
	if err != nil {
		return Registered{}, err
	}
	id, err := s.randomID()
	if err != nil {
		return Registered{}, err
	}
	now := s.d.Clock.Now().UTC()
	u := identity.User{
		ID: id, TenantID: s.t.ID, Email: profile.Email, EmailKey: key,
		FirstName: profile.FirstName, LastName: profile.LastName, Phone: profile.Phone, Extra: profile.Extra,
		Role: identity.RoleUser, Active: true, PasswordHash: hash, CreatedAt: now, UpdatedAt: now,
	}
	err = s.d.Users.Create(ctx, u)
	if errors.Is(err, identity.ErrEmailTaken) {
		// Tell the owner, at the address of the account: the one typed may
		// be a different mailbox that folds to the same key (ß and ss).
		if owner, lerr := s.d.Users.ByEmail(ctx, s.t.ID, key); lerr == nil {
			s.notifyTaken(ctx, owner, takenEmail)
		}
		return Registered{}, identity.ErrEmailTaken
	}
	if errors.Is(err, identity.ErrPhoneTaken) {
		if owner, lerr := s.d.Users.ByPhone(ctx, s.t.ID, profile.Phone); lerr == nil {
			s.notifyTaken(ctx, owner, takenPhone)
		}
		return Registered{}, identity.ErrPhoneTaken
	}
	if err != nil {
		return Registered{}, fmt.Errorf("register: %w", err)
	}
	if s.d.Verifier != nil {
		paths := in.Paths
		if paths == (link.Paths{}) {
			paths = link.Canonical
		}
		// The account exists whatever the mail does: a link that cannot
		// be sent can be asked for again.
		_ = s.d.Verifier.Send(ctx, u, paths)
	}
	out := Registered{User: u}
	if in.SignIn != nil {
		// The account was created by this client a moment ago: no place to
		// tell its owner about.
		g := login.Grant{User: u, Method: tenant.MethodPassword, AMR: []string{"pwd"}, Kind: *in.SignIn, Client: in.Client, KnownDevice: true,
			Lifetime: in.Lifetime, Pass: pass, Local: in.Local}
		if o, err := s.d.Login.Complete(ctx, g); err == nil {
			out.Login = &o
			out.User = o.User
			if o.Result == login.Signed {
				// Registering proved the password like a login does.
				out.Device, _ = s.d.Devices.Succeeded(ctx, key, device.Budget{})
			}
		}
	}
	return out, nil
}

// What a sign-up attempt found taken.
const (
	takenEmail = "with this e-mail address, which already has one"
	takenPhone = "with the phone number of your account, which can belong to one account only"
)

// notifyTaken tells the owner of an existing account that someone tried to
// register its address or phone number (what, worded for the mail), at most
// SignupNoticePerRecipient times per window, both kinds together:
// anyone can register any address from as many IPs as they hold, and
// without the cap the notice would be a way to flood a mailbox from our
// servers. Over the cap, or when the limiter cannot be reached, nothing is
// sent and nothing else changes: the registration answers as before (the
// caller cannot tell), and the owner has already been told within the
// window.
func (s *Service) notifyTaken(ctx context.Context, owner identity.User, what string) {
	if s.d.Mail == nil {
		return
	}
	if ok, _, err := s.d.Limiter.Hit(ctx, throttle.SignupNotice(owner.EmailKey), s.t.Throttling.SignupNoticePerRecipient); err != nil || !ok {
		return
	}
	// Delivered in the background, like every mail: the answer must not
	// wait on the mail server, or its time would tell a taken address.
	_ = s.d.Mail.Send(ctx, message.MailSignupNotice, owner.Email, message.MailData{Name: owner.FirstName, Reason: what},
		s.d.Clock.Now().Add(noticeDeadline))
}

// noticeDeadline bounds the retries of a notice whose mail server is away.
const noticeDeadline = 24 * time.Hour

// LoginInput is a password login request.
type LoginInput struct {
	Email    string
	Password string
	Kind     identity.SessionKind
	Client   session.Client
	// WithLatest: see login.Grant.
	WithLatest bool
	// DeviceToken is the device credential the client presents, if any
	// (see package device): a valid one of this account counts the
	// attempt against that device's budget instead of the account's.
	DeviceToken string
	// SecondFactor is a code of the user's second factor sent with the
	// password (seed 001's "code"): see login.Grant.
	SecondFactor string
	// Method is the login method the password proves: MethodPassword (the
	// zero value), or MethodAdminOTP for seed 002's admin login, whose
	// grant the pipeline admits for admins only. Each must be enabled.
	Method tenant.LoginMethod
	// Lifetime: see login.Grant.
	Lifetime session.Lifetime
	// Captcha is the client's CAPTCHA response, for the tenant's login
	// route ("" for none).
	Captcha string
	// DemandCaptcha asks for a solved CAPTCHA whatever the tenant's
	// policy for the login route (seed 003's /api/v3/login): see
	// login.Pipeline.Demand.
	DemandCaptcha bool
	// Local is the guest's local cart and wishlist sent with the login,
	// for a storefront tenant to merge once the session starts: see
	// login.Grant.
	Local storefront.Local
}

// method is the login method of the input: MethodPassword unless it
// names another that a password proves.
func (in LoginInput) method() (tenant.LoginMethod, error) {
	switch in.Method {
	case "", tenant.MethodPassword:
		return tenant.MethodPassword, nil
	case tenant.MethodAdminOTP:
		return tenant.MethodAdminOTP, nil
	}
	return "", fmt.Errorf("password login: %q is not a method a password proves", in.Method)
}

// Outcome is what a password login produced: the pipeline's outcome and,
// when a session was started, the device credential for the client to
// keep and present at its next login.
type Outcome struct {
	login.Outcome
	Device device.Credential
}

// Login checks a password and hands the grant to the login pipeline.
// Unknown account, wrong password, disabled account and (when the tenant
// requires it) unverified address answer login.ErrInvalidCredentials
// alike, after the same hashing work; so does, at the admin login
// (in.Method MethodAdminOTP), the right password of anyone but an admin.
// A right password counts as a success for the budgets whatever the
// pipeline's outcome (a session, or an admin's pending activation).
//
// Each attempt is counted against the client IP's budget and against one
// budget of the account: the presented device's, a known address's, or
// the strangers' shared one (see package device), so that strangers
// spending the shared budget do not lock the owner out of the devices and
// networks they use.
//
// Before any of that, a request with its fields passes the tenant's
// CAPTCHA gate for the route login, the account named by its e-mail key
// (in.DemandCaptcha: whatever the route's mode, see login.Pipeline.Demand):
// a CAPTCHA asked for and missing or refused costs no budget, no hash and
// no failed login. A wrong password counts as a failed login towards the
// CAPTCHA's escalation.
func (s *Service) Login(ctx context.Context, in LoginInput) (Outcome, error) {
	method, err := in.method()
	if err != nil {
		return Outcome{}, err
	}
	in.Method = method
	if err := s.d.Login.Allowed(method); err != nil {
		return Outcome{}, err
	}
	var fields []errs.FieldError
	if in.Email == "" {
		fields = append(fields, errs.FieldError{Field: "email", Reason: "is required"})
	}
	if in.Password == "" {
		fields = append(fields, errs.FieldError{Field: "password", Reason: "is required"})
	} else if len(in.Password) > maxPasswordBytes {
		fields = append(fields, errs.FieldError{Field: "password", Reason: fmt.Sprintf("must be at most %d bytes", maxPasswordBytes)})
	}
	if len(fields) > 0 {
		return Outcome{}, errs.InvalidFields(fields...)
	}
	_, key, emailErr := identity.NormalizeEmail(in.Email)
	gate := s.d.Login.Gate
	if in.DemandCaptcha {
		gate = s.d.Login.Demand
	}
	pass, err := gate(ctx, captcha.RouteLogin, in.Captcha, in.Client, key)
	if err != nil {
		return Outcome{}, err
	}
	ipKey := throttle.LoginIP(in.Client.IP)
	// Every attempt is counted against both budgets before any hashing, so
	// that guesses sent together cannot all pass a check made before any of
	// them was counted. A success gives the attempt back. The IP budget
	// first: when Redis is away, that answers 503 after one wait, before
	// the device lookup would wait again.
	if err := throttle.Hit(ctx, s.d.Limiter, ipKey, s.t.Throttling.LoginPerIP); err != nil {
		s.refused(ctx, "", in, err)
		return Outcome{}, err
	}
	budget := s.d.Devices.Budget(ctx, key, in.DeviceToken, in.Client.IP)
	if err := throttle.Hit(ctx, s.d.Limiter, budget.Key, budget.Limit); err != nil {
		_ = s.d.Limiter.Refund(ctx, ipKey, s.t.Throttling.LoginPerIP)
		s.refused(ctx, "", in, err)
		return Outcome{}, err
	}

	o, err := s.checkAndComplete(ctx, in, key, emailErr, budget.Device != "", pass)
	switch {
	case err == nil:
	case errors.Is(err, login.ErrMFARequired):
		// The password was right: the budgets are as after a success, and
		// the sign-in goes on at the second step.
		_ = s.d.Limiter.Reset(ctx, budget.Key)
		_ = s.d.Limiter.Refund(ctx, ipKey, s.t.Throttling.LoginPerIP)
		return Outcome{}, err
	case errs.KindOf(err) == errs.Unavailable:
		// The attempt was never judged (the hash pool was full, the store
		// away): it costs neither budget, or a burst of 503s would lock
		// the account.
		_ = s.d.Limiter.Refund(ctx, budget.Key, budget.Limit)
		_ = s.d.Limiter.Refund(ctx, ipKey, s.t.Throttling.LoginPerIP)
		return Outcome{}, err
	default:
		return Outcome{}, err
	}
	// A success forgets the failures of the budget it was counted against,
	// and only those: the owner signing in on a known device must not give
	// strangers a fresh shared budget.
	_ = s.d.Limiter.Reset(ctx, budget.Key)
	_ = s.d.Limiter.Refund(ctx, ipKey, s.t.Throttling.LoginPerIP)
	out := Outcome{Outcome: o}
	if o.Result == login.Signed {
		// Only a started session earns a credential: a pending second
		// factor has not finished proving who this is.
		if out.Device, err = s.d.Devices.Succeeded(ctx, key, budget); err != nil {
			out.Device = device.Credential{} // the login stands; the next one tries again
		}
	}
	return out, nil
}

// checkAndComplete checks the password of the account with the e-mail
// key (doing the same work when there is none) and hands a match to the
// pipeline; onDevice says the client presented a device credential of the
// account.
func (s *Service) checkAndComplete(ctx context.Context, in LoginInput, key string, emailErr error, onDevice bool, pass login.Pass) (login.Outcome, error) {
	pw := identity.NormalizePassword(in.Password)
	var u identity.User
	var err error
	if emailErr == nil {
		u, err = s.d.Users.ByEmail(ctx, s.t.ID, key)
	} else {
		err = errs.ErrNotFound
	}
	if err != nil && !errors.Is(err, errs.ErrNotFound) {
		return login.Outcome{}, fmt.Errorf("login: %w", err)
	}
	found := err == nil && u.PasswordHash != ""
	hash := u.PasswordHash
	if !found {
		if hash, err = s.dummyHash(ctx); err != nil {
			return login.Outcome{}, err
		}
	}
	ok, rehash, err := s.d.Hasher.Verify(ctx, pw, hash, s.t.Password.Hash)
	if err != nil {
		return login.Outcome{}, err
	}
	if !found || !ok {
		s.refused(ctx, u.ID, in, login.ErrInvalidCredentials) // u.ID: "" for no account
		s.d.Login.Refused(ctx, pass, login.ErrInvalidCredentials)
		return login.Outcome{}, login.ErrInvalidCredentials
	}
	if rehash {
		if h, err := s.d.Hasher.Hash(ctx, pw, s.t.Password.Hash); err == nil {
			if s.d.Users.SetPasswordHash(ctx, s.t.ID, u.ID, h, s.d.Clock.Now().UTC()) == nil {
				u.PasswordHash = h
			}
		}
	}
	return s.d.Login.Complete(ctx, login.Grant{User: u, Method: in.Method, AMR: []string{"pwd"}, Kind: in.Kind, Client: in.Client,
		WithLatest: in.WithLatest, KnownDevice: onDevice, SecondFactor: in.SecondFactor, Lifetime: in.Lifetime, Pass: pass,
		Local: in.Local})
}

// refused records a password login (in) refused with err (a wrong
// password, a spent budget) for the account with userID ("" when unknown
// or not looked up), when err is a refusal and not an outage.
func (s *Service) refused(ctx context.Context, userID string, in LoginInput, err error) {
	if reason, ok := audit.Refusal(err); ok {
		s.d.Audit.Record(ctx, audit.Event{Type: audit.LoginFailed, TargetID: userID, Method: string(in.Method), Reason: reason,
			IP: in.Client.IP, UserAgent: in.Client.UserAgent})
	}
}

// dummyHash is a hash of a random password with the tenant's parameters,
// verified when the account does not exist so that the answer takes as
// long as for a wrong password. It is made on first need; a failure is
// returned and the next login tries again. The mutex is held only to read
// or publish the value, never while hashing, so concurrent first logins
// may each hash once but none waits on another or sees a half-made value.
func (s *Service) dummyHash(ctx context.Context) (string, error) {
	s.dummyMu.Lock()
	h := s.dummy
	s.dummyMu.Unlock()
	if h != "" {
		return h, nil
	}
	b := make([]byte, 16)
	if _, err := io.ReadFull(s.d.Random, b); err != nil {
		return "", fmt.Errorf("random: %w", err)
	}
	h, err := s.d.Hasher.Hash(ctx, hex.EncodeToString(b), s.t.Password.Hash)
	if err != nil {
		return "", err
	}
	s.dummyMu.Lock()
	defer s.dummyMu.Unlock()
	if s.dummy == "" {
		s.dummy = h
	}
	return s.dummy, nil
}

func (s *Service) randomID() (string, error) {
	b := make([]byte, 16)
	if _, err := io.ReadFull(s.d.Random, b); err != nil {
		return "", fmt.Errorf("random: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}
