// Package tenant holds the tenant: one customer of the platform with its own
// domains, enabled login methods and policies. A Tenant value is only handed
// to the rest of the system after Validate has accepted it.
package tenant

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/nyaruka/phonenumbers"
)

// LoginMethod names one way of signing in that a tenant can enable.
type LoginMethod string

// The login methods Portcullis knows.
const (
	MethodPassword   LoginMethod = "password"    // e-mail + password
	MethodSMSOTP     LoginMethod = "sms_otp"     // one-time code by SMS
	MethodEmailLink  LoginMethod = "email_link"  // magic link or code by e-mail
	MethodAdminLink  LoginMethod = "admin_link"  // admin-issued one-time login link
	MethodTokenLogin LoginMethod = "token_login" // user id + API token opens a browser session
	MethodTOTP       LoginMethod = "totp"        // TOTP second factor with backup codes
	MethodAdminOTP   LoginMethod = "admin_otp"   // admin login gated by an e-mail code
)

// LoginMethods lists every known method, in documentation order.
var LoginMethods = []LoginMethod{MethodPassword, MethodSMSOTP, MethodEmailLink, MethodAdminLink, MethodTokenLogin, MethodTOTP, MethodAdminOTP}

// PasswordPolicy says which passwords a tenant accepts and how they are hashed.
type PasswordPolicy struct {
	MinLength    int  // in code points
	MaxLength    int  // in code points
	RejectCommon bool // refuse passwords found in the common-password list
	Hash         HashParams
}

// HashParams are argon2id parameters.
type HashParams struct {
	MemoryKiB   uint32
	Iterations  uint32
	Parallelism uint8
}

// TokenTTLs are the lifetimes of issued credentials.
type TokenTTLs struct {
	Access  time.Duration
	Refresh time.Duration
	// App is the lifetime of an app token; zero means it lives until revoked.
	App time.Duration
	// KeyRotation is how often the signing key is replaced by a new one
	// (tokens.key_rotation); zero: only by portcullis keys rotate.
	KeyRotation time.Duration
}

// MinKeyRotation is the shortest tokens.key_rotation: a new key is
// published for keyring.PublishLead before it signs, and the old one stays
// until the tokens it signed have expired.
const MinKeyRotation = time.Hour

// SessionPolicy bounds how long a session lives.
type SessionPolicy struct {
	IdleTimeout     time.Duration // sliding: unused this long, a session ends
	AbsoluteTimeout time.Duration // from creation, however active
}

// RedirectPolicy says where the server may send a browser after login or
// logout.
type RedirectPolicy struct {
	// Allow lists permitted targets: a path prefix starting with "/" or an
	// absolute origin ("https://shop.example"). Relative paths on the tenant's
	// own host are always allowed.
	Allow   []string
	Default string // used when a requested target is not allowed
}

// Limit allows Count events per Window.
type Limit struct {
	Count  int
	Window time.Duration
}

// Throttling holds the per-tenant limits enforced in Redis.
type Throttling struct {
	// LoginPerAccount counts password-login attempts on one account from
	// clients the account does not know (see LoginPerDevice).
	LoginPerAccount Limit
	LoginPerIP      Limit
	// LoginPerDevice counts password-login attempts on one account from
	// one device that holds a device credential of that account, or from
	// one address (IPv6 by /64) that recently logged in to it: each has a
	// budget of its own, so strangers exhausting LoginPerAccount cannot
	// lock the owner out of the places they use.
	LoginPerDevice Limit
	RegisterPerIP  Limit
	// SignupNoticePerRecipient caps the "sign-up attempt" notices sent to
	// one account's address; registrations over it answer the same but
	// send nothing.
	SignupNoticePerRecipient Limit
	// The SMS-pumping guard: requests for SMS codes from one address, to
	// one country calling code, and to the whole tenant. Every request
	// counts, whether or not its number has an account.
	SMSPerIP          Limit
	SMSPerCallingCode Limit
	SMSPerTenant      Limit
	// The mail-flood guard: requests from one client address (IPv6 by /64)
	// for mail to an address typed in, whatever the address and whether
	// or not it has an account. PasswordResetPerIP counts password-reset
	// requests, VerificationMailPerIP requests for an address-verification
	// link, EmailLoginPerIP sign-in codes and magic links together.
	PasswordResetPerIP    Limit
	VerificationMailPerIP Limit
	EmailLoginPerIP       Limit
	// TokenLoginPerIP counts token logins (a user id and that user's app
	// token exchanged for a browser session) from one client address
	// (IPv6 by /64); a success gives its attempt back.
	TokenLoginPerIP Limit
}

// DefaultThrottling is the throttling of a tenant that sets none of it.
// The flows that take a limit fall back to these when handed none.
func DefaultThrottling() Throttling {
	return Throttling{
		LoginPerAccount: Limit{Count: 10, Window: 15 * time.Minute},
		LoginPerIP:      Limit{Count: 100, Window: 15 * time.Minute},
		LoginPerDevice:  Limit{Count: 10, Window: 15 * time.Minute},
		RegisterPerIP:   Limit{Count: 20, Window: time.Hour},

		SignupNoticePerRecipient: Limit{Count: 3, Window: 24 * time.Hour},
		SMSPerIP:                 Limit{Count: 10, Window: time.Hour},
		SMSPerCallingCode:        Limit{Count: 100, Window: time.Hour},
		SMSPerTenant:             Limit{Count: 1000, Window: 24 * time.Hour},

		PasswordResetPerIP:    Limit{Count: 20, Window: time.Hour},
		VerificationMailPerIP: Limit{Count: 20, Window: time.Hour},
		EmailLoginPerIP:       Limit{Count: 30, Window: time.Hour},

		TokenLoginPerIP: Limit{Count: 20, Window: 15 * time.Minute},
	}
}

// Profiles are the compatibility API surfaces a tenant serves besides the
// canonical API, each faithful to one of the seed documents.
type Profiles struct {
	// Seed000 serves /users/login/, /users/logout/... (token "key" API).
	Seed000 bool
	// Seed000LoginLinkTTL is how long a one-time login link issued at
	// seed 000's POST /users/passwordless-login/ works (the original's
	// PASSWORDLESS_LOGIN_MAX_AGE).
	Seed000LoginLinkTTL time.Duration
	// Seed001 serves {Seed001Prefix}/user/login/, register, logout, me.
	Seed001 bool
	// Seed001Prefix is the URI prefix of the seed 001 routes: empty or a
	// path such as "/api" (no trailing slash).
	Seed001Prefix string
	// Seed002 serves /v1/accounts/login/admin/, otp/user/, resend/otp/user/
	// (the admin login of login method admin_otp) and our me/ and logout/.
	Seed002 bool
	// Seed002TokenIdle is how long a token of the seed 002 admin login
	// lives without use (the seed's 30 days); every use slides it.
	Seed002TokenIdle time.Duration
	// Seed002TokenMaxAge is how long such a token lives at most, however
	// often it is used (the seed names no limit).
	Seed002TokenMaxAge time.Duration
	// Seed003 serves the storefront API of seed 003: /api/v2/login,
	// /api/v3/login, /api/v2/login-tfa, /api/v2/verify-tfa,
	// /api/v2/login-mobile, /api/v1/verify-otp-login, /api/v2/register.
	Seed003 bool
	// Seed003ResendCount is how many codes one mobile number gets per UTC
	// day at /api/v2/login-mobile (the seed's RESEND_COUNT): the daily cap
	// of the SMS codes that route sends, in place of sms.daily_cap.
	Seed003ResendCount int
	// Seed003OTPTTL is how long a code sent at /api/v2/login-mobile works
	// (the seed's REDIS_OBJECT_EXPIRY_IN_SEC); zero means sms.code_ttl.
	Seed003OTPTTL time.Duration
}

// RegistrationPolicy (configuration section registration) says whether
// people may create their own accounts.
type RegistrationPolicy struct {
	// Enabled opens self-service sign-up on every surface that registers;
	// when it is off a registration creates nothing and is refused.
	// Accounts that exist sign in as before.
	Enabled bool
}

// SMSPolicy says which phone numbers a tenant accepts, what its SMS login
// codes are like and what their message says. The SMS provider is
// configured apart from it.
type SMSPolicy struct {
	// DefaultRegion is the ISO 3166 alpha-2 region (such as "TR") in which
	// a number written without + and country code is read; empty means
	// only the international form is accepted.
	DefaultRegion string
	// AllowedCountries lists the regions whose numbers are accepted; empty
	// means every region.
	AllowedCountries []string
	// CodeTTL is how long a code sent by SMS stays valid.
	CodeTTL time.Duration
	// CodeLength is the number of digits of a code.
	CodeLength int
	// MaxAttempts is how many wrong codes a challenge survives; after
	// that even the right code is refused.
	MaxAttempts int
	// ResendCooldown is the least time between two codes for one number;
	// zero means none.
	ResendCooldown time.Duration
	// DailyCap is the most codes one number gets per UTC day.
	DailyCap int
	// Message is the text of the SMS that carries a code.
	Message SMSMessage
}

// Defaults and bounds of the SMSPolicy fields. A code has at least 4
// digits because seed 000's contract refuses shorter ones.
const (
	DefaultSMSCodeTTL = 5 * time.Minute
	MinSMSCodeTTL     = 30 * time.Second
	MaxSMSCodeTTL     = time.Hour

	DefaultSMSCodeLength = 6
	MinSMSCodeLength     = 4
	MaxSMSCodeLength     = 10

	DefaultSMSMaxAttempts = 5
	MinSMSMaxAttempts     = 1
	MaxSMSMaxAttempts     = 20

	DefaultSMSResendCooldown = 60 * time.Second
	MinSMSResendCooldown     = time.Duration(0)
	MaxSMSResendCooldown     = time.Hour

	DefaultSMSDailyCap = 10
	MinSMSDailyCap     = 1
	MaxSMSDailyCap     = 1000
)

// Bounds of Profiles.Seed000LoginLinkTTL: seed 000's default of 300 s,
// at least 30 s (time to open a link) and at most a day (a login link is
// a credential in a URL: it should not outlive the working day it was
// issued for).
const (
	DefaultSeed000LoginLinkTTL = 300 * time.Second
	MinSeed000LoginLinkTTL     = 30 * time.Second
	MaxSeed000LoginLinkTTL     = 24 * time.Hour
)

// Defaults and bounds of the seed 002 token lifetimes: 30 days without
// use, as the seed says, within a year at most; an idle window of at
// least 5 minutes and at most a year, a lifetime of at most 10 years and
// not shorter than the idle window.
const (
	DefaultSeed002TokenIdle   = 30 * 24 * time.Hour
	MinSeed002TokenIdle       = 5 * time.Minute
	MaxSeed002TokenIdle       = 365 * 24 * time.Hour
	DefaultSeed002TokenMaxAge = 365 * 24 * time.Hour
	MaxSeed002TokenMaxAge     = 10 * 365 * 24 * time.Hour
)

// Defaults and bounds of the seed 003 mobile login: 5 codes a day per
// number unless the tenant says otherwise, within the bounds of
// sms.daily_cap; a code lifetime within those of sms.code_ttl (zero:
// sms.code_ttl itself).
const (
	DefaultSeed003ResendCount = 5
	MinSeed003ResendCount     = MinSMSDailyCap
	MaxSeed003ResendCount     = MaxSMSDailyCap
)

// Seed003CodeTTL is how long a code of seed 003's mobile login works: its
// otp_ttl, or the tenant's SMS code lifetime when that is not set.
func (p Profiles) Seed003CodeTTL(sms SMSPolicy) time.Duration {
	if p.Seed003OTPTTL > 0 {
		return p.Seed003OTPTTL
	}
	return sms.CodeTTL
}

// DefaultSMSPolicy is the SMS policy of a tenant that sets none of it.
func DefaultSMSPolicy() SMSPolicy {
	return SMSPolicy{CodeTTL: DefaultSMSCodeTTL, CodeLength: DefaultSMSCodeLength, MaxAttempts: DefaultSMSMaxAttempts,
		ResendCooldown: DefaultSMSResendCooldown, DailyCap: DefaultSMSDailyCap, Message: defaultSMSMessage}
}

// defaultSMSMessage is parsed once; a template is safe for concurrent use.
var defaultSMSMessage = ParseSMSMessage(DefaultSMSMessage)

// Tenant is one customer's configuration.
type Tenant struct {
	ID           string
	DisplayName  string
	Domains      []string // lower-case host names, no port
	LoginMethods []LoginMethod
	Password     PasswordPolicy
	Tokens       TokenTTLs
	Sessions     SessionPolicy
	Redirects    RedirectPolicy
	Throttling   Throttling
	// Profiles switches on the compatibility API surfaces.
	Profiles Profiles
	// Registration opens or closes self-service sign-up.
	Registration RegistrationPolicy
	// SMS is the phone number and SMS code policy.
	SMS SMSPolicy
	// RequireVerifiedEmail makes a password login of an account whose
	// e-mail address is not verified fail like wrong credentials.
	RequireVerifiedEmail bool
	// StoreTimeout bounds each operation on the tenant's stores (MongoDB,
	// Redis) during its requests: past it the request answers 503
	// unavailable instead of waiting for a store that is down or hanging.
	StoreTimeout time.Duration
	// SMSProvider is the account text messages are sent through
	// (sms.provider); its zero value is none.
	SMSProvider SMSProvider
	// Mail is where mailed links point and how mail is sent (mail).
	Mail Mail
	// Email is the policy of the secrets mailed to users.
	Email EmailPolicy
	// MFA is the second-factor policy (mfa).
	MFA MFAPolicy
	// Roles are the roles the tenant defines besides user, staff and
	// admin, by name (roles).
	Roles map[string]RoleSpec
	// Audit is how the tenant keeps its audit log (audit).
	Audit AuditPolicy
	// Captcha is the CAPTCHA provider and policy (captcha); zero is off.
	Captcha Captcha
	// Storefront is the cart and wishlist of a storefront (storefront).
	Storefront Storefront
	// Pages are the hosted sign-in pages under /auth/ (pages).
	Pages Pages
	// Disabled stops the tenant serving anything (disabled): its requests
	// answer 403 tenant_disabled; its data is kept.
	Disabled bool
	// Version changes whenever the configuration changes; the registry
	// rebuilds a tenant's services when it does.
	Version string
	// Source says where the configuration came from ("file:<path>" or
	// "store"), for error messages and logs.
	Source string
}

// Bounds of Tenant.StoreTimeout.
const (
	// DefaultStoreTimeout is short enough that a client learns of an outage
	// in seconds, and long enough for a healthy store under load.
	DefaultStoreTimeout = 3 * time.Second
	// MaxStoreTimeout keeps a typo from holding requests for minutes.
	MaxStoreTimeout = time.Minute
)

// Default returns a tenant with every field at its documented default; ID,
// display name and domains are left empty.
func Default() Tenant {
	return Tenant{
		LoginMethods: []LoginMethod{MethodPassword},
		Password: PasswordPolicy{
			MinLength:    8,
			MaxLength:    128,
			RejectCommon: true,
			Hash:         HashParams{MemoryKiB: 19 * 1024, Iterations: 2, Parallelism: 1},
		},
		Tokens:   TokenTTLs{Access: 15 * time.Minute, Refresh: 30 * 24 * time.Hour},
		Sessions: SessionPolicy{IdleTimeout: 7 * 24 * time.Hour, AbsoluteTimeout: 30 * 24 * time.Hour},
		Redirects: RedirectPolicy{
			Default: "/",
		},
		Throttling: DefaultThrottling(),
		Profiles: Profiles{Seed000LoginLinkTTL: DefaultSeed000LoginLinkTTL,
			Seed002TokenIdle: DefaultSeed002TokenIdle, Seed002TokenMaxAge: DefaultSeed002TokenMaxAge,
			Seed003ResendCount: DefaultSeed003ResendCount},
		Registration: RegistrationPolicy{Enabled: true},
		SMS:          DefaultSMSPolicy(),
		Email:        DefaultEmailPolicy(),
		MFA:          DefaultMFAPolicy(),
		Audit:        DefaultAuditPolicy(),
		StoreTimeout: DefaultStoreTimeout,
		Mail:         DefaultMail(),
		Storefront:   DefaultStorefront(),
		Pages:        DefaultPages(),
	}
}

// Name is the tenant as people are shown it: its display name, or its id
// when it has none.
func (t Tenant) Name() string {
	if t.DisplayName != "" {
		return t.DisplayName
	}
	return t.ID
}

// Enabled reports whether the tenant has switched method on.
func (t Tenant) Enabled(m LoginMethod) bool { return slices.Contains(t.LoginMethods, m) }

// Problem is one thing wrong with a tenant configuration.
type Problem struct {
	Field  string // dotted path as written in the configuration, e.g. "tokens.access_ttl"
	Reason string
}

// ValidationError lists everything wrong with one tenant's configuration.
type ValidationError struct {
	Tenant   string // the tenant id, or the source when the id itself is missing
	Problems []Problem
}

func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		parts[i] = p.Field + ": " + p.Reason
	}
	return fmt.Sprintf("tenant %q: %s", e.Tenant, strings.Join(parts, "; "))
}

var (
	idPattern    = regexp.MustCompile(`^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$`)
	labelPattern = regexp.MustCompile(`^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$`)
)

// Limits on values, chosen so that a typo cannot take a server down (an
// argon2 memory of 19 GiB) or make a credential immortal by accident.
const (
	maxHashMemoryKiB  = 1024 * 1024 // 1 GiB
	maxHashIterations = 64
	maxPasswordLength = 1024
	maxDisplayName    = 200
)

// Validate checks every invariant and reports all problems at once.
func (t Tenant) Validate() error {
	var ps []Problem
	add := func(field, format string, args ...any) {
		ps = append(ps, Problem{Field: field, Reason: fmt.Sprintf(format, args...)})
	}

	switch {
	case t.ID == "":
		add("id", "is required")
	case !idPattern.MatchString(t.ID):
		add("id", "must be 1-63 lower-case letters, digits or hyphens, not starting or ending with a hyphen")
	}
	if n := len([]rune(t.DisplayName)); n > maxDisplayName {
		add("display_name", "must be at most %d characters, got %d", maxDisplayName, n)
	}
	if hasControl(t.DisplayName) {
		// It reaches mail subjects and SMS texts.
		add("display_name", "must not contain line breaks or other control characters")
	}
	seen := map[string]bool{}
	for i, d := range t.Domains {
		f := fmt.Sprintf("domains[%d]", i)
		if !validHost(d) {
			add(f, "%q is not a lower-case host name or IP address without port", d)
		} else if seen[d] {
			add(f, "%q is listed twice", d)
		}
		seen[d] = true
	}

	if len(t.LoginMethods) == 0 {
		add("login_methods", "must enable at least one method")
	}
	for i, m := range t.LoginMethods {
		if !slices.Contains(LoginMethods, m) {
			add(fmt.Sprintf("login_methods[%d]", i), "unknown method %q (known: %s)", m, joinMethods())
		}
	}

	p := t.Password
	if p.MinLength < 1 {
		add("password_policy.min_length", "must be at least 1, got %d", p.MinLength)
	}
	if p.MaxLength > maxPasswordLength {
		add("password_policy.max_length", "must be at most %d, got %d", maxPasswordLength, p.MaxLength)
	}
	if p.MaxLength < p.MinLength {
		add("password_policy.max_length", "must not be less than min_length (%d), got %d", p.MinLength, p.MaxLength)
	}
	if p.Hash.MemoryKiB < 8*uint32(max(p.Hash.Parallelism, 1)) || p.Hash.MemoryKiB > maxHashMemoryKiB {
		add("password_policy.hash.memory_kib", "must be between %d and %d, got %d", 8*uint32(max(p.Hash.Parallelism, 1)), maxHashMemoryKiB, p.Hash.MemoryKiB)
	}
	if p.Hash.Iterations < 1 || p.Hash.Iterations > maxHashIterations {
		add("password_policy.hash.iterations", "must be between 1 and %d, got %d", maxHashIterations, p.Hash.Iterations)
	}
	if p.Hash.Parallelism < 1 {
		add("password_policy.hash.parallelism", "must be at least 1, got %d", p.Hash.Parallelism)
	}

	positive := func(field string, d time.Duration) {
		if d <= 0 {
			add(field, "must be a positive duration, got %s", d)
		}
	}
	positive("tokens.access_ttl", t.Tokens.Access)
	if t.Tokens.Access > 24*time.Hour {
		add("tokens.access_ttl", "must be at most 24h (access tokens cannot be recalled from caches), got %s", t.Tokens.Access)
	}
	positive("tokens.refresh_ttl", t.Tokens.Refresh)
	if t.Tokens.KeyRotation != 0 && t.Tokens.KeyRotation < MinKeyRotation {
		add("tokens.key_rotation", "must be 0s (off) or at least %s, got %s", MinKeyRotation, t.Tokens.KeyRotation)
	}
	if t.Tokens.Refresh > 0 && t.Tokens.Refresh < t.Tokens.Access {
		add("tokens.refresh_ttl", "must not be shorter than access_ttl (%s), got %s", t.Tokens.Access, t.Tokens.Refresh)
	}
	if t.Tokens.App < 0 {
		add("tokens.app_token_ttl", "must be zero (no expiry) or a positive duration, got %s", t.Tokens.App)
	}
	positive("sessions.idle_timeout", t.Sessions.IdleTimeout)
	positive("sessions.absolute_timeout", t.Sessions.AbsoluteTimeout)
	if t.Sessions.AbsoluteTimeout > 0 && t.Sessions.IdleTimeout > t.Sessions.AbsoluteTimeout {
		add("sessions.idle_timeout", "must not exceed absolute_timeout (%s), got %s", t.Sessions.AbsoluteTimeout, t.Sessions.IdleTimeout)
	}

	for i, a := range t.Redirects.Allow {
		if reason := checkRedirectEntry(a); reason != "" {
			add(fmt.Sprintf("redirects.allow[%d]", i), "%q %s", a, reason)
		}
	}
	if t.Redirects.Default == "" {
		add("redirects.default", "is required")
	} else if !validDefaultRedirect(t.Redirects.Default) {
		add("redirects.default", "%q must be a path starting with a single \"/\" or an absolute http(s) URL", t.Redirects.Default)
	}

	if pfx := t.Profiles.Seed001Prefix; pfx != "" && (!strings.HasPrefix(pfx, "/") || strings.HasSuffix(pfx, "/") || strings.Contains(pfx, "//") || strings.ContainsAny(pfx, "?#\\ :")) {
		add("profiles.seed001.prefix", "%q must be empty or a path like /api: starting with \"/\", no trailing \"/\"", pfx)
	}
	if ttl := t.Profiles.Seed000LoginLinkTTL; ttl < MinSeed000LoginLinkTTL || ttl > MaxSeed000LoginLinkTTL {
		add("profiles.seed000.passwordless_login_max_age", "must be between %s and %s, got %s", MinSeed000LoginLinkTTL, MaxSeed000LoginLinkTTL, ttl)
	}
	if idle := t.Profiles.Seed002TokenIdle; idle < MinSeed002TokenIdle || idle > MaxSeed002TokenIdle {
		add("profiles.seed002.token_idle_timeout", "must be between %s and %s, got %s", MinSeed002TokenIdle, MaxSeed002TokenIdle, idle)
	}
	if age := t.Profiles.Seed002TokenMaxAge; age > MaxSeed002TokenMaxAge {
		add("profiles.seed002.token_max_age", "must be at most %s, got %s", MaxSeed002TokenMaxAge, age)
	} else if age < t.Profiles.Seed002TokenIdle {
		add("profiles.seed002.token_max_age", "must not be shorter than token_idle_timeout (%s), got %s", t.Profiles.Seed002TokenIdle, age)
	}
	if n := t.Profiles.Seed003ResendCount; n < MinSeed003ResendCount || n > MaxSeed003ResendCount {
		add("profiles.seed003.resend_count", "must be between %d and %d, got %d", MinSeed003ResendCount, MaxSeed003ResendCount, n)
	}
	if ttl := t.Profiles.Seed003OTPTTL; ttl != 0 && (ttl < MinSMSCodeTTL || ttl > MaxSMSCodeTTL) {
		add("profiles.seed003.otp_ttl", "must be 0s (sms.code_ttl) or between %s and %s, got %s", MinSMSCodeTTL, MaxSMSCodeTTL, ttl)
	}
	if t.Profiles.Seed003 && !t.Storefront.Enabled {
		add("profiles.seed003.enabled", "needs storefront.enabled: the seed's login answer is the user's cart and wishlist, merged with the guest's")
	}
	if t.Profiles.Seed003 && t.Enabled(MethodSMSOTP) && t.SMS.DefaultRegion == "" {
		add("profiles.seed003.enabled", "needs sms.default_region with the login method sms_otp: the seed's mobile numbers are 10 digits without a country code")
	}

	limit := func(field string, l Limit) {
		if l.Count < 1 {
			add(field+".limit", "must be at least 1, got %d", l.Count)
		}
		if l.Window < time.Second {
			add(field+".window", "must be at least 1s, got %s", l.Window)
		}
	}
	limit("throttling.login_per_account", t.Throttling.LoginPerAccount)
	limit("throttling.login_per_ip", t.Throttling.LoginPerIP)
	limit("throttling.login_per_device", t.Throttling.LoginPerDevice)
	limit("throttling.register_per_ip", t.Throttling.RegisterPerIP)
	limit("throttling.signup_notice_per_recipient", t.Throttling.SignupNoticePerRecipient)
	limit("throttling.sms_per_ip", t.Throttling.SMSPerIP)
	limit("throttling.sms_per_calling_code", t.Throttling.SMSPerCallingCode)
	limit("throttling.sms_per_tenant", t.Throttling.SMSPerTenant)
	limit("throttling.password_reset_per_ip", t.Throttling.PasswordResetPerIP)
	limit("throttling.verification_mail_per_ip", t.Throttling.VerificationMailPerIP)
	limit("throttling.email_login_per_ip", t.Throttling.EmailLoginPerIP)
	limit("throttling.token_login_per_ip", t.Throttling.TokenLoginPerIP)

	ps = append(ps, t.SMS.problems(t.Name())...)

	positive("store_timeout", t.StoreTimeout)
	if t.StoreTimeout > MaxStoreTimeout {
		add("store_timeout", "must be at most %s, got %s", MaxStoreTimeout, t.StoreTimeout)
	}

	ps = append(ps, t.SMSProvider.problems()...)
	ps = append(ps, t.Email.problems()...)
	ps = append(ps, t.MFA.problems(t)...)
	ps = append(ps, rolesProblems(t.Roles)...)
	ps = append(ps, t.Audit.problems()...)
	ps = append(ps, t.Mail.problems()...)
	ps = append(ps, t.Captcha.problems(t.Profiles.Seed003)...)
	ps = append(ps, t.Storefront.problems()...)
	ps = append(ps, t.Pages.problems()...)

	if len(ps) == 0 {
		return nil
	}
	name := t.ID
	if name == "" {
		name = t.Source
	}
	return &ValidationError{Tenant: name, Problems: ps}
}

// problems lists what is wrong with the SMS policy of the tenant named
// tenantName (its message is rendered with that name).
func (p SMSPolicy) problems(tenantName string) []Problem {
	var ps []Problem
	add := func(field, format string, args ...any) {
		ps = append(ps, Problem{Field: "sms." + field, Reason: fmt.Sprintf(format, args...)})
	}
	regions := phonenumbers.GetSupportedRegions()
	if p.DefaultRegion != "" && !regions[p.DefaultRegion] {
		add("default_region", "%q is not a known region: use an upper-case ISO 3166 alpha-2 code such as \"TR\", or empty for international numbers only", p.DefaultRegion)
	}
	seen := map[string]bool{}
	for i, c := range p.AllowedCountries {
		f := fmt.Sprintf("allowed_countries[%d]", i)
		switch {
		case !regions[c]:
			add(f, "%q is not a known region: use an upper-case ISO 3166 alpha-2 code such as \"TR\"", c)
		case seen[c]:
			add(f, "%q is listed twice", c)
		}
		seen[c] = true
	}
	if p.DefaultRegion != "" && len(p.AllowedCountries) > 0 && regions[p.DefaultRegion] && !seen[p.DefaultRegion] {
		// Every number written in the national form would be refused.
		add("default_region", "%q must be one of allowed_countries (%s)", p.DefaultRegion, strings.Join(p.AllowedCountries, ", "))
	}
	if p.CodeTTL < MinSMSCodeTTL || p.CodeTTL > MaxSMSCodeTTL {
		add("code_ttl", "must be between %s and %s, got %s", MinSMSCodeTTL, MaxSMSCodeTTL, p.CodeTTL)
	}
	if p.CodeLength < MinSMSCodeLength || p.CodeLength > MaxSMSCodeLength {
		add("code_length", "must be between %d and %d, got %d", MinSMSCodeLength, MaxSMSCodeLength, p.CodeLength)
	}
	if p.MaxAttempts < MinSMSMaxAttempts || p.MaxAttempts > MaxSMSMaxAttempts {
		add("max_attempts", "must be between %d and %d, got %d", MinSMSMaxAttempts, MaxSMSMaxAttempts, p.MaxAttempts)
	}
	if p.ResendCooldown < MinSMSResendCooldown || p.ResendCooldown > MaxSMSResendCooldown {
		add("resend_cooldown", "must be between %s (no cooldown) and %s, got %s", MinSMSResendCooldown, MaxSMSResendCooldown, p.ResendCooldown)
	}
	if p.DailyCap < MinSMSDailyCap || p.DailyCap > MaxSMSDailyCap {
		add("daily_cap", "must be between %d and %d, got %d", MinSMSDailyCap, MaxSMSDailyCap, p.DailyCap)
	}
	if reason := p.Message.problem(p.CodeLength, tenantName, p.CodeTTL); reason != "" {
		add("message", "%s", reason)
	}
	return ps
}

func joinMethods() string {
	s := make([]string, len(LoginMethods))
	for i, m := range LoginMethods {
		s[i] = string(m)
	}
	return strings.Join(s, ", ")
}

// validHost accepts a lower-case DNS name (labels of letters, digits and
// hyphens) or an IP literal, without a port.
func validHost(h string) bool {
	if h == "" || len(h) > 253 || strings.ToLower(h) != h {
		return false
	}
	if strings.Contains(h, ":") { // IPv6 literal, possibly bracketed
		h = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
		u, err := url.Parse("http://[" + h + "]/")
		return err == nil && u.Port() == ""
	}
	for _, l := range strings.Split(h, ".") {
		if !labelPattern.MatchString(l) {
			return false
		}
	}
	return true
}

// checkRedirectEntry returns why an allow-list entry is unusable, or "".
func checkRedirectEntry(a string) string {
	if strings.HasPrefix(a, "/") {
		if strings.HasPrefix(a, "//") || strings.Contains(a, `\`) {
			return "must be a path starting with a single \"/\" (no \"//\" or backslash)"
		}
		return ""
	}
	u, err := url.Parse(a)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
		return "must be a path starting with \"/\" or an http(s) origin such as https://shop.example"
	}
	if u.Path != "" && u.Path != "/" || u.RawQuery != "" || u.Fragment != "" {
		return "must be an origin only (scheme and host, no path, query or fragment)"
	}
	return ""
}

// validDefaultRedirect accepts a safe local path or an absolute http(s) URL
// without credentials.
func validDefaultRedirect(d string) bool {
	if strings.HasPrefix(d, "/") {
		return checkRedirectEntry(d) == ""
	}
	u, err := url.Parse(d)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != "" && u.User == nil
}

// DomainKey normalises a Host header value for matching against Domains:
// lower-cased, port and trailing dot removed.
func DomainKey(host string) string {
	h := strings.ToLower(strings.TrimSpace(host))
	if strings.HasPrefix(h, "[") { // [v6]:port
		if i := strings.Index(h, "]"); i > 0 {
			return h[1:i]
		}
		return h
	}
	if i := strings.LastIndexByte(h, ':'); i >= 0 && strings.Count(h, ":") == 1 {
		h = h[:i]
	}
	return strings.TrimSuffix(h, ".")
}
