package config

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"gopkg.in/yaml.v3"

	"github.com/portcullis/portcullis/application/tenancy"
	"github.com/portcullis/portcullis/domain/tenant"
)

// The tenant schema. Field names are the configuration's own; the same
// schema is used for YAML files and for documents in the tenants
// collection. README.md documents every field and its default.
type tenantSpec struct {
	ID             string             `mapstructure:"id"`
	DisplayName    string             `mapstructure:"display_name"`
	Disabled       bool               `mapstructure:"disabled"`
	Domains        []string           `mapstructure:"domains"`
	LoginMethods   []string           `mapstructure:"login_methods"`
	PasswordPolicy passwordPolicySpec `mapstructure:"password_policy"`
	Tokens         tokensSpec         `mapstructure:"tokens"`
	Sessions       sessionsSpec       `mapstructure:"sessions"`
	Redirects      redirectsSpec      `mapstructure:"redirects"`
	Throttling     throttlingSpec     `mapstructure:"throttling"`
	// RequireVerifiedEmail: see tenant.Tenant.
	RequireVerifiedEmail bool                `mapstructure:"require_verified_email"`
	Profiles             profilesSpec        `mapstructure:"profiles"`
	Registration         registrationSpec    `mapstructure:"registration"`
	SMS                  smsSpec             `mapstructure:"sms"`
	StoreTimeout         time.Duration       `mapstructure:"store_timeout"`
	Mail                 mailSpec            `mapstructure:"mail"`  // mail.go
	Email                emailSpec           `mapstructure:"email"` // email.go
	Roles                map[string]roleSpec `mapstructure:"roles"` // roles.go
	MFA                  mfaSpec             `mapstructure:"mfa"`   // mfa.go
	Audit                auditSpec           `mapstructure:"audit"` // audit.go
	Captcha              captchaSpec         `mapstructure:"captcha"`
	Storefront           storefrontSpec      `mapstructure:"storefront"` // storefront.go
	Pages                pagesSpec           `mapstructure:"pages"`      // pages.go
}

// smsSpec is the sms block: the phone number and code policy here, the
// provider (sms_provider.go) beside it.
type smsSpec struct {
	DefaultRegion    string          `mapstructure:"default_region"`
	AllowedCountries []string        `mapstructure:"allowed_countries"`
	CodeTTL          time.Duration   `mapstructure:"code_ttl"`
	CodeLength       int             `mapstructure:"code_length"`
	MaxAttempts      int             `mapstructure:"max_attempts"`
	ResendCooldown   time.Duration   `mapstructure:"resend_cooldown"`
	DailyCap         int             `mapstructure:"daily_cap"`
	Message          string          `mapstructure:"message"` // a text/template, parsed by tenant.ParseSMSMessage
	Provider         smsProviderSpec `mapstructure:"provider"`
}

// registrationSpec is the registration section. Enabled is a pointer so
// that an empty value (a bare "registration:" or "enabled:" line, which
// the decoder reads as null) keeps the default, open, instead of closing
// sign-up as a false would.
type registrationSpec struct {
	Enabled *bool `mapstructure:"enabled"`
}

func (s registrationSpec) policy() tenant.RegistrationPolicy {
	return tenant.RegistrationPolicy{Enabled: s.Enabled == nil || *s.Enabled}
}

type profilesSpec struct {
	Seed000 seed000Spec `mapstructure:"seed000"`
	Seed001 seed001Spec `mapstructure:"seed001"`
	Seed002 seed002Spec `mapstructure:"seed002"`
	Seed003 seed003Spec `mapstructure:"seed003"`
}

type seed000Spec struct {
	Enabled bool `mapstructure:"enabled"`
	// PasswordlessLoginMaxAge is the lifetime of an admin-issued login
	// link (the original's PASSWORDLESS_LOGIN_MAX_AGE).
	PasswordlessLoginMaxAge time.Duration `mapstructure:"passwordless_login_max_age"`
}

type seed001Spec struct {
	Enabled bool   `mapstructure:"enabled"`
	Prefix  string `mapstructure:"prefix"`
}

type seed002Spec struct {
	Enabled bool `mapstructure:"enabled"`
	// TokenIdleTimeout and TokenMaxAge bound the admin login's tokens:
	// unused this long they end (the seed's 30 days), and they end this
	// long after the sign-in however used.
	TokenIdleTimeout time.Duration `mapstructure:"token_idle_timeout"`
	TokenMaxAge      time.Duration `mapstructure:"token_max_age"`
}

type seed003Spec struct {
	Enabled bool `mapstructure:"enabled"`
	// ResendCount is the most codes one mobile number gets a day at
	// login-mobile (the original's RESEND_COUNT).
	ResendCount int `mapstructure:"resend_count"`
	// OTPTTL is how long such a code works (the original's
	// REDIS_OBJECT_EXPIRY_IN_SEC); 0s means sms.code_ttl.
	OTPTTL time.Duration `mapstructure:"otp_ttl"`
}

type passwordPolicySpec struct {
	MinLength    int      `mapstructure:"min_length"`
	MaxLength    int      `mapstructure:"max_length"`
	RejectCommon bool     `mapstructure:"reject_common"`
	Hash         hashSpec `mapstructure:"hash"`
}

type hashSpec struct {
	MemoryKiB   uint32 `mapstructure:"memory_kib"`
	Iterations  uint32 `mapstructure:"iterations"`
	Parallelism uint8  `mapstructure:"parallelism"`
}

type tokensSpec struct {
	AccessTTL   time.Duration `mapstructure:"access_ttl"`
	RefreshTTL  time.Duration `mapstructure:"refresh_ttl"`
	AppTokenTTL time.Duration `mapstructure:"app_token_ttl"`
	KeyRotation time.Duration `mapstructure:"key_rotation"`
}

type sessionsSpec struct {
	IdleTimeout     time.Duration `mapstructure:"idle_timeout"`
	AbsoluteTimeout time.Duration `mapstructure:"absolute_timeout"`
}

type redirectsSpec struct {
	Allow   []string `mapstructure:"allow"`
	Default string   `mapstructure:"default"`
}

type limitSpec struct {
	Limit  int           `mapstructure:"limit"`
	Window time.Duration `mapstructure:"window"`
}

type throttlingSpec struct {
	LoginPerAccount          limitSpec `mapstructure:"login_per_account"`
	LoginPerIP               limitSpec `mapstructure:"login_per_ip"`
	LoginPerDevice           limitSpec `mapstructure:"login_per_device"`
	RegisterPerIP            limitSpec `mapstructure:"register_per_ip"`
	SignupNoticePerRecipient limitSpec `mapstructure:"signup_notice_per_recipient"`
	SMSPerIP                 limitSpec `mapstructure:"sms_per_ip"`
	SMSPerCallingCode        limitSpec `mapstructure:"sms_per_calling_code"`
	SMSPerTenant             limitSpec `mapstructure:"sms_per_tenant"`
	PasswordResetPerIP       limitSpec `mapstructure:"password_reset_per_ip"`
	VerificationMailPerIP    limitSpec `mapstructure:"verification_mail_per_ip"`
	EmailLoginPerIP          limitSpec `mapstructure:"email_login_per_ip"`
	TokenLoginPerIP          limitSpec `mapstructure:"token_login_per_ip"`
}

func specFromTenant(t tenant.Tenant) tenantSpec {
	methods := make([]string, len(t.LoginMethods))
	for i, m := range t.LoginMethods {
		methods[i] = string(m)
	}
	limit := func(l tenant.Limit) limitSpec { return limitSpec{Limit: l.Count, Window: l.Window} }
	return tenantSpec{
		ID: t.ID, DisplayName: t.DisplayName, Disabled: t.Disabled, Domains: slices.Clone(t.Domains), LoginMethods: methods,
		PasswordPolicy: passwordPolicySpec{MinLength: t.Password.MinLength, MaxLength: t.Password.MaxLength, RejectCommon: t.Password.RejectCommon,
			Hash: hashSpec{MemoryKiB: t.Password.Hash.MemoryKiB, Iterations: t.Password.Hash.Iterations, Parallelism: t.Password.Hash.Parallelism}},
		Tokens:    tokensSpec{AccessTTL: t.Tokens.Access, RefreshTTL: t.Tokens.Refresh, AppTokenTTL: t.Tokens.App, KeyRotation: t.Tokens.KeyRotation},
		Sessions:  sessionsSpec{IdleTimeout: t.Sessions.IdleTimeout, AbsoluteTimeout: t.Sessions.AbsoluteTimeout},
		Redirects: redirectsSpec{Allow: slices.Clone(t.Redirects.Allow), Default: t.Redirects.Default},
		Throttling: throttlingSpec{LoginPerAccount: limit(t.Throttling.LoginPerAccount), LoginPerIP: limit(t.Throttling.LoginPerIP),
			LoginPerDevice: limit(t.Throttling.LoginPerDevice), RegisterPerIP: limit(t.Throttling.RegisterPerIP),
			SignupNoticePerRecipient: limit(t.Throttling.SignupNoticePerRecipient), SMSPerIP: limit(t.Throttling.SMSPerIP),
			SMSPerCallingCode: limit(t.Throttling.SMSPerCallingCode), SMSPerTenant: limit(t.Throttling.SMSPerTenant),
			PasswordResetPerIP: limit(t.Throttling.PasswordResetPerIP), VerificationMailPerIP: limit(t.Throttling.VerificationMailPerIP),
			EmailLoginPerIP: limit(t.Throttling.EmailLoginPerIP), TokenLoginPerIP: limit(t.Throttling.TokenLoginPerIP)},
		RequireVerifiedEmail: t.RequireVerifiedEmail,
		Profiles: profilesSpec{Seed000: seed000Spec{Enabled: t.Profiles.Seed000, PasswordlessLoginMaxAge: t.Profiles.Seed000LoginLinkTTL},
			Seed001: seed001Spec{Enabled: t.Profiles.Seed001, Prefix: t.Profiles.Seed001Prefix},
			Seed002: seed002Spec{Enabled: t.Profiles.Seed002, TokenIdleTimeout: t.Profiles.Seed002TokenIdle, TokenMaxAge: t.Profiles.Seed002TokenMaxAge},
			Seed003: seed003Spec{Enabled: t.Profiles.Seed003, ResendCount: t.Profiles.Seed003ResendCount, OTPTTL: t.Profiles.Seed003OTPTTL}},
		Registration: registrationSpec{Enabled: &t.Registration.Enabled},
		SMS: smsSpec{DefaultRegion: t.SMS.DefaultRegion, AllowedCountries: slices.Clone(t.SMS.AllowedCountries), CodeTTL: t.SMS.CodeTTL,
			CodeLength: t.SMS.CodeLength, MaxAttempts: t.SMS.MaxAttempts, ResendCooldown: t.SMS.ResendCooldown, DailyCap: t.SMS.DailyCap,
			Message: t.SMS.Message.Source(), Provider: smsProviderSpecFrom(t.SMSProvider)},
		StoreTimeout: t.StoreTimeout,
		Mail:         mailSpecFrom(t.Mail),
		Email:        emailSpecFrom(t.Email),
		MFA:          mfaSpecFrom(t.MFA),
		Roles:        rolesSpecFrom(t.Roles),
		Audit:        auditSpecFrom(t.Audit),
		Captcha:      captchaSpecFrom(t.Captcha),
		Storefront:   storefrontSpecFrom(t.Storefront),
		Pages:        pagesSpecFrom(t.Pages),
	}
}

func (s tenantSpec) tenant() tenant.Tenant {
	methods := make([]tenant.LoginMethod, len(s.LoginMethods))
	for i, m := range s.LoginMethods {
		methods[i] = tenant.LoginMethod(m)
	}
	limit := func(l limitSpec) tenant.Limit { return tenant.Limit{Count: l.Limit, Window: l.Window} }
	return tenant.Tenant{
		ID: s.ID, DisplayName: s.DisplayName, Disabled: s.Disabled, Domains: s.Domains, LoginMethods: methods,
		Password: tenant.PasswordPolicy{MinLength: s.PasswordPolicy.MinLength, MaxLength: s.PasswordPolicy.MaxLength, RejectCommon: s.PasswordPolicy.RejectCommon,
			Hash: tenant.HashParams{MemoryKiB: s.PasswordPolicy.Hash.MemoryKiB, Iterations: s.PasswordPolicy.Hash.Iterations, Parallelism: s.PasswordPolicy.Hash.Parallelism}},
		Tokens:    tenant.TokenTTLs{Access: s.Tokens.AccessTTL, Refresh: s.Tokens.RefreshTTL, App: s.Tokens.AppTokenTTL, KeyRotation: s.Tokens.KeyRotation},
		Sessions:  tenant.SessionPolicy{IdleTimeout: s.Sessions.IdleTimeout, AbsoluteTimeout: s.Sessions.AbsoluteTimeout},
		Redirects: tenant.RedirectPolicy{Allow: s.Redirects.Allow, Default: s.Redirects.Default},
		Throttling: tenant.Throttling{LoginPerAccount: limit(s.Throttling.LoginPerAccount), LoginPerIP: limit(s.Throttling.LoginPerIP),
			LoginPerDevice: limit(s.Throttling.LoginPerDevice), RegisterPerIP: limit(s.Throttling.RegisterPerIP),
			SignupNoticePerRecipient: limit(s.Throttling.SignupNoticePerRecipient), SMSPerIP: limit(s.Throttling.SMSPerIP),
			SMSPerCallingCode: limit(s.Throttling.SMSPerCallingCode), SMSPerTenant: limit(s.Throttling.SMSPerTenant),
			PasswordResetPerIP: limit(s.Throttling.PasswordResetPerIP), VerificationMailPerIP: limit(s.Throttling.VerificationMailPerIP),
			EmailLoginPerIP: limit(s.Throttling.EmailLoginPerIP), TokenLoginPerIP: limit(s.Throttling.TokenLoginPerIP)},
		RequireVerifiedEmail: s.RequireVerifiedEmail,
		Profiles: tenant.Profiles{Seed000: s.Profiles.Seed000.Enabled, Seed000LoginLinkTTL: s.Profiles.Seed000.PasswordlessLoginMaxAge,
			Seed001: s.Profiles.Seed001.Enabled, Seed001Prefix: s.Profiles.Seed001.Prefix,
			Seed002: s.Profiles.Seed002.Enabled, Seed002TokenIdle: s.Profiles.Seed002.TokenIdleTimeout, Seed002TokenMaxAge: s.Profiles.Seed002.TokenMaxAge,
			Seed003: s.Profiles.Seed003.Enabled, Seed003ResendCount: s.Profiles.Seed003.ResendCount, Seed003OTPTTL: s.Profiles.Seed003.OTPTTL},
		Registration: s.Registration.policy(),
		SMS: tenant.SMSPolicy{DefaultRegion: s.SMS.DefaultRegion, AllowedCountries: s.SMS.AllowedCountries, CodeTTL: s.SMS.CodeTTL,
			CodeLength: s.SMS.CodeLength, MaxAttempts: s.SMS.MaxAttempts, ResendCooldown: s.SMS.ResendCooldown, DailyCap: s.SMS.DailyCap,
			Message: tenant.ParseSMSMessage(s.SMS.Message)},
		StoreTimeout: s.StoreTimeout,
		SMSProvider:  s.SMS.Provider.provider(),
		Mail:         s.Mail.mail(),
		Email:        s.Email.policy(),
		MFA:          s.MFA.policy(),
		Roles:        rolesOf(s.Roles),
		Audit:        s.Audit.policy(),
		Captcha:      s.Captcha.captcha(),
		Storefront:   s.Storefront.storefront(),
		Pages:        s.Pages.pages(),
	}
}

// DecodeTenant builds a validated tenant from a configuration document (a
// YAML file's contents, or a stored document, as a map). Absent fields take
// their defaults (for a few, the defaults of a profile the document
// enables: see defaultMFA); unknown fields are refused. source names the
// document in errors when it has no usable id.
func DecodeTenant(doc map[string]any, source string) (tenant.Tenant, error) {
	def := tenant.Default()
	def.MFA = defaultMFA(doc)
	def.Captcha = tenant.DefaultCaptcha()
	spec := specFromTenant(def)
	name := source
	if id, ok := doc["id"].(string); ok && id != "" {
		name = id
	}
	dec, err := mapstructure.NewDecoder(&mapstructure.DecoderConfig{
		Result:      &spec,
		ErrorUnused: true,
		ZeroFields:  true, // a list in the document replaces the default list
		DecodeHook:  durationHook,
	})
	if err != nil {
		return tenant.Tenant{}, err
	}
	if err := dec.Decode(doc); err != nil {
		var ps []tenant.Problem
		for _, p := range decodeProblems(err) {
			ps = append(ps, tenant.Problem{Field: p.Field, Reason: p.Reason})
		}
		return tenant.Tenant{}, &tenant.ValidationError{Tenant: name, Problems: ps}
	}
	t := spec.tenant()
	t.Source = source
	var dirProblem *tenant.Problem
	t.Mail.TemplatesDir, dirProblem = resolveTemplatesDir(t.Mail.TemplatesDir, source)
	err = t.Validate()
	if dirProblem != nil {
		var ve *tenant.ValidationError
		if !errors.As(err, &ve) {
			ve = &tenant.ValidationError{Tenant: name}
		}
		ve.Problems = append(ve.Problems, *dirProblem)
		err = ve
	}
	if err != nil {
		return tenant.Tenant{}, err
	}
	return t, nil
}

// durationHook reads durations only from strings with a unit ("15m"): a bare
// number would silently mean nanoseconds.
func durationHook(from, to reflect.Type, data any) (any, error) {
	if to != reflect.TypeFor[time.Duration]() {
		return data, nil
	}
	str, ok := data.(string)
	if !ok {
		return nil, fmt.Errorf("must be a duration with a unit such as 15m or 1h30m, got %v", data)
	}
	d, err := time.ParseDuration(str)
	if err != nil {
		return nil, fmt.Errorf("must be a duration with a unit such as 15m or 1h30m, got %q", str)
	}
	return d, nil
}

// EncodeTenant returns a tenant as a configuration document in the same
// schema DecodeTenant reads; durations are strings such as "15m0s".
func EncodeTenant(t tenant.Tenant) map[string]any {
	s := specFromTenant(t)
	limit := func(l limitSpec) map[string]any { return map[string]any{"limit": l.Limit, "window": l.Window.String()} }
	return map[string]any{
		"id": s.ID, "display_name": s.DisplayName, "disabled": s.Disabled, "domains": orEmpty(s.Domains), "login_methods": orEmpty(s.LoginMethods),
		"password_policy": map[string]any{
			"min_length": s.PasswordPolicy.MinLength, "max_length": s.PasswordPolicy.MaxLength, "reject_common": s.PasswordPolicy.RejectCommon,
			"hash": map[string]any{"memory_kib": int64(s.PasswordPolicy.Hash.MemoryKiB), "iterations": int64(s.PasswordPolicy.Hash.Iterations), "parallelism": int64(s.PasswordPolicy.Hash.Parallelism)},
		},
		"tokens": map[string]any{"access_ttl": s.Tokens.AccessTTL.String(), "refresh_ttl": s.Tokens.RefreshTTL.String(), "app_token_ttl": s.Tokens.AppTokenTTL.String(),
			"key_rotation": s.Tokens.KeyRotation.String()},
		"sessions":  map[string]any{"idle_timeout": s.Sessions.IdleTimeout.String(), "absolute_timeout": s.Sessions.AbsoluteTimeout.String()},
		"redirects": map[string]any{"allow": orEmpty(s.Redirects.Allow), "default": s.Redirects.Default},
		"throttling": map[string]any{"login_per_account": limit(s.Throttling.LoginPerAccount), "login_per_ip": limit(s.Throttling.LoginPerIP),
			"login_per_device": limit(s.Throttling.LoginPerDevice), "register_per_ip": limit(s.Throttling.RegisterPerIP),
			"signup_notice_per_recipient": limit(s.Throttling.SignupNoticePerRecipient), "sms_per_ip": limit(s.Throttling.SMSPerIP),
			"sms_per_calling_code": limit(s.Throttling.SMSPerCallingCode), "sms_per_tenant": limit(s.Throttling.SMSPerTenant),
			"password_reset_per_ip": limit(s.Throttling.PasswordResetPerIP), "verification_mail_per_ip": limit(s.Throttling.VerificationMailPerIP),
			"email_login_per_ip": limit(s.Throttling.EmailLoginPerIP), "token_login_per_ip": limit(s.Throttling.TokenLoginPerIP)},
		"require_verified_email": s.RequireVerifiedEmail,
		"profiles": map[string]any{
			"seed000": map[string]any{"enabled": s.Profiles.Seed000.Enabled, "passwordless_login_max_age": s.Profiles.Seed000.PasswordlessLoginMaxAge.String()},
			"seed001": map[string]any{"enabled": s.Profiles.Seed001.Enabled, "prefix": s.Profiles.Seed001.Prefix},
			"seed002": map[string]any{"enabled": s.Profiles.Seed002.Enabled, "token_idle_timeout": s.Profiles.Seed002.TokenIdleTimeout.String(),
				"token_max_age": s.Profiles.Seed002.TokenMaxAge.String()},
			"seed003": map[string]any{"enabled": s.Profiles.Seed003.Enabled, "resend_count": s.Profiles.Seed003.ResendCount,
				"otp_ttl": s.Profiles.Seed003.OTPTTL.String()},
		},
		"registration": map[string]any{"enabled": s.Registration.policy().Enabled},
		"sms": map[string]any{
			"default_region": s.SMS.DefaultRegion, "allowed_countries": orEmpty(s.SMS.AllowedCountries), "code_ttl": s.SMS.CodeTTL.String(),
			"code_length": s.SMS.CodeLength, "max_attempts": s.SMS.MaxAttempts, "resend_cooldown": s.SMS.ResendCooldown.String(),
			"daily_cap": s.SMS.DailyCap, "message": s.SMS.Message,
			"provider": s.SMS.Provider.document(),
		},
		"store_timeout": s.StoreTimeout.String(),
		"mail":          s.Mail.document(),
		"email":         s.Email.document(),
		"mfa":           s.MFA.document(),
		"roles":         rolesDocument(s.Roles),
		"audit":         s.Audit.document(),
		"captcha":       s.Captcha.document(),
		"storefront":    s.Storefront.document(),
		"pages":         s.Pages.document(),
	}
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// ParseTenantYAML decodes one tenant file.
func ParseTenantYAML(data []byte, source string) (tenant.Tenant, error) {
	var doc map[string]any
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		return tenant.Tenant{}, &tenant.ValidationError{Tenant: source, Problems: []tenant.Problem{{Field: "(file)", Reason: "is not valid YAML: " + strings.TrimPrefix(err.Error(), "yaml: ")}}}
	}
	var extra any
	if err := dec.Decode(&extra); err == nil {
		return tenant.Tenant{}, &tenant.ValidationError{Tenant: source, Problems: []tenant.Problem{{Field: "(file)", Reason: "holds more than one YAML document; put each tenant in its own file"}}}
	}
	t, err := DecodeTenant(doc, source)
	if err != nil {
		return tenant.Tenant{}, err
	}
	sum := sha256.Sum256(data)
	t.Version = "file:" + hex.EncodeToString(sum[:8])
	return t, nil
}

// TenantDir is a directory of tenant files, one tenant per *.yaml or *.yml
// file. It implements tenancy.Source and re-reads only files whose size or
// modification time changed since the last call.
type TenantDir struct {
	path string

	mu    sync.Mutex
	cache map[string]cachedTenant
}

type cachedTenant struct {
	mod  time.Time
	size int64
	t    tenant.Tenant
}

var _ tenancy.Source = (*TenantDir)(nil)

// NewTenantDir returns the source for the directory at path. An empty path
// means no tenant files.
func NewTenantDir(path string) *TenantDir {
	return &TenantDir{path: path, cache: map[string]cachedTenant{}}
}

// Tenants reads every tenant file; any invalid file fails the whole listing,
// naming each file and problem.
func (d *TenantDir) Tenants(context.Context) ([]tenant.Tenant, error) {
	if d.path == "" {
		return nil, nil
	}
	entries, err := os.ReadDir(d.path)
	if err != nil {
		return nil, fmt.Errorf("tenants_dir %q: %w", d.path, err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	var (
		// One allocation: with 10,000 tenants of about 1.6 KB each, growing
		// by appends would make some 30 MB of garbage every refresh.
		out      = make([]tenant.Tenant, 0, len(entries))
		problems []error
		seen     = make(map[string]bool, len(entries))
	)
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || strings.HasPrefix(name, ".") || (!strings.HasSuffix(name, ".yaml") && !strings.HasSuffix(name, ".yml")) {
			continue
		}
		path := filepath.Join(d.path, name)
		seen[path] = true
		info, err := e.Info()
		if err != nil {
			problems = append(problems, fmt.Errorf("%s: %w", path, err))
			continue
		}
		if c, ok := d.cache[path]; ok && c.mod.Equal(info.ModTime()) && c.size == info.Size() {
			out = append(out, c.t)
			continue
		}
		data, err := os.ReadFile(path)
		if err != nil {
			problems = append(problems, fmt.Errorf("%s: %w", path, err))
			continue
		}
		t, err := ParseTenantYAML(data, "file:"+path)
		if err != nil {
			problems = append(problems, fmt.Errorf("%s: %w", path, err))
			continue
		}
		d.cache[path] = cachedTenant{mod: info.ModTime(), size: info.Size(), t: t}
		out = append(out, t)
	}
	for path := range d.cache {
		if !seen[path] {
			delete(d.cache, path)
		}
	}
	if err := tenancy.CheckConflicts(out); err != nil {
		problems = append(problems, err)
	}
	if len(problems) > 0 {
		return nil, errors.Join(problems...)
	}
	return out, nil
}
