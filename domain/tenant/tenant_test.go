package tenant_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/domain/tenant"
)

func valid() tenant.Tenant {
	t := tenant.Default()
	t.ID = "shop"
	t.Domains = []string{"shop.example", "127.0.0.1", "::1"}
	return t
}

func TestDefaultsAreValid(t *testing.T) {
	t.Parallel()
	if err := valid().Validate(); err != nil {
		t.Fatalf("defaults rejected: %v", err)
	}
}

func TestRegistrationIsOpenByDefault(t *testing.T) {
	t.Parallel()
	if !tenant.Default().Registration.Enabled {
		t.Fatal("the default tenant has closed sign-up; want registration.enabled true")
	}
	closed := valid()
	closed.Registration.Enabled = false
	if err := closed.Validate(); err != nil {
		t.Fatalf("a tenant with closed sign-up is refused: %v", err)
	}
}

func TestValidateNamesFieldAndReason(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		mutate func(*tenant.Tenant)
		want   string
	}{
		{"missing id", func(x *tenant.Tenant) { x.ID = "" }, "id: is required"},
		{"bad id", func(x *tenant.Tenant) { x.ID = "Shop_1" }, "id: must be 1-63 lower-case letters"},
		{"domain with port", func(x *tenant.Tenant) { x.Domains = []string{"shop.example:443"} }, `domains[0]: "shop.example:443" is not a lower-case host name`},
		{"upper-case domain", func(x *tenant.Tenant) { x.Domains = []string{"Shop.example"} }, `domains[0]: "Shop.example" is not`},
		{"duplicate domain", func(x *tenant.Tenant) { x.Domains = []string{"a.example", "a.example"} }, `domains[1]: "a.example" is listed twice`},
		{"no methods", func(x *tenant.Tenant) { x.LoginMethods = nil }, "login_methods: must enable at least one method"},
		{"unknown method", func(x *tenant.Tenant) { x.LoginMethods = []tenant.LoginMethod{"carrier_pigeon"} }, `login_methods[0]: unknown method "carrier_pigeon"`},
		{"min length zero", func(x *tenant.Tenant) { x.Password.MinLength = 0 }, "password_policy.min_length: must be at least 1, got 0"},
		{"max below min", func(x *tenant.Tenant) { x.Password.MaxLength = 4 }, "password_policy.max_length: must not be less than min_length (8), got 4"},
		{"huge hash memory", func(x *tenant.Tenant) { x.Password.Hash.MemoryKiB = 20 << 20 }, "password_policy.hash.memory_kib: must be between 8 and 1048576"},
		{"zero iterations", func(x *tenant.Tenant) { x.Password.Hash.Iterations = 0 }, "password_policy.hash.iterations: must be between 1 and 64, got 0"},
		{"zero access ttl", func(x *tenant.Tenant) { x.Tokens.Access = 0 }, "tokens.access_ttl: must be a positive duration, got 0s"},
		{"access ttl too long", func(x *tenant.Tenant) { x.Tokens.Access = 48 * time.Hour }, "tokens.access_ttl: must be at most 24h"},
		{"refresh shorter than access", func(x *tenant.Tenant) { x.Tokens.Refresh = time.Minute }, "tokens.refresh_ttl: must not be shorter than access_ttl (15m0s), got 1m0s"},
		{"idle beyond absolute", func(x *tenant.Tenant) { x.Sessions.IdleTimeout = 90 * 24 * time.Hour }, "sessions.idle_timeout: must not exceed absolute_timeout"},
		{"protocol-relative allow", func(x *tenant.Tenant) { x.Redirects.Allow = []string{"//evil.example"} }, `redirects.allow[0]: "//evil.example" must be a path starting with a single "/"`},
		{"allow with path", func(x *tenant.Tenant) { x.Redirects.Allow = []string{"https://shop.example/a"} }, "must be an origin only"},
		{"allow javascript", func(x *tenant.Tenant) { x.Redirects.Allow = []string{"javascript:alert(1)"} }, `"javascript:alert(1)" must be a path starting with "/" or an http(s) origin`},
		{"default backslash", func(x *tenant.Tenant) { x.Redirects.Default = `/\evil.example` }, `redirects.default: "/\\evil.example" must be a path`},
		{"seed001 prefix with trailing slash", func(x *tenant.Tenant) { x.Profiles.Seed001Prefix = "/api/" }, `profiles.seed001.prefix: "/api/" must be empty or a path like /api`},
		{"seed001 prefix relative", func(x *tenant.Tenant) { x.Profiles.Seed001Prefix = "api" }, `profiles.seed001.prefix: "api" must be empty`},
		{"zero limit", func(x *tenant.Tenant) { x.Throttling.LoginPerIP.Count = 0 }, "throttling.login_per_ip.limit: must be at least 1, got 0"},
		{"tiny window", func(x *tenant.Tenant) { x.Throttling.RegisterPerIP.Window = time.Millisecond }, "throttling.register_per_ip.window: must be at least 1s, got 1ms"},
		{"zero store timeout", func(x *tenant.Tenant) { x.StoreTimeout = 0 }, "store_timeout: must be a positive duration, got 0s"},
		{"negative store timeout", func(x *tenant.Tenant) { x.StoreTimeout = -time.Second }, "store_timeout: must be a positive duration, got -1s"},
		{"store timeout too long", func(x *tenant.Tenant) { x.StoreTimeout = 2 * time.Minute }, "store_timeout: must be at most 1m0s, got 2m0s"},
		{"zero device limit", func(x *tenant.Tenant) { x.Throttling.LoginPerDevice.Count = 0 }, "throttling.login_per_device.limit: must be at least 1, got 0"},
		{"zero SMS calling-code window", func(x *tenant.Tenant) { x.Throttling.SMSPerCallingCode.Window = 0 }, "throttling.sms_per_calling_code.window: must be at least 1s, got 0s"},
		{"zero notice window", func(x *tenant.Tenant) { x.Throttling.SignupNoticePerRecipient.Window = 0 }, "throttling.signup_notice_per_recipient.window: must be at least 1s, got 0s"},
		{"zero reset limit", func(x *tenant.Tenant) { x.Throttling.PasswordResetPerIP.Count = 0 }, "throttling.password_reset_per_ip.limit: must be at least 1, got 0"},
		{"tiny reset window", func(x *tenant.Tenant) { x.Throttling.PasswordResetPerIP.Window = time.Millisecond }, "throttling.password_reset_per_ip.window: must be at least 1s, got 1ms"},
		{"negative verification limit", func(x *tenant.Tenant) { x.Throttling.VerificationMailPerIP.Count = -1 }, "throttling.verification_mail_per_ip.limit: must be at least 1, got -1"},
		{"zero verification window", func(x *tenant.Tenant) { x.Throttling.VerificationMailPerIP.Window = 0 }, "throttling.verification_mail_per_ip.window: must be at least 1s, got 0s"},
		{"zero e-mail login limit", func(x *tenant.Tenant) { x.Throttling.EmailLoginPerIP.Count = 0 }, "throttling.email_login_per_ip.limit: must be at least 1, got 0"},
		{"tiny e-mail login window", func(x *tenant.Tenant) { x.Throttling.EmailLoginPerIP.Window = 500 * time.Millisecond }, "throttling.email_login_per_ip.window: must be at least 1s, got 500ms"},
		{"zero token login limit", func(x *tenant.Tenant) { x.Throttling.TokenLoginPerIP.Count = 0 }, "throttling.token_login_per_ip.limit: must be at least 1, got 0"},
		{"tiny token login window", func(x *tenant.Tenant) { x.Throttling.TokenLoginPerIP.Window = 0 }, "throttling.token_login_per_ip.window: must be at least 1s, got 0s"},
		{"login link ttl too short", func(x *tenant.Tenant) { x.Profiles.Seed000LoginLinkTTL = 10 * time.Second }, "profiles.seed000.passwordless_login_max_age: must be between 30s and 24h0m0s, got 10s"},
		{"login link ttl too long", func(x *tenant.Tenant) { x.Profiles.Seed000LoginLinkTTL = 25 * time.Hour }, "profiles.seed000.passwordless_login_max_age: must be between 30s and 24h0m0s, got 25h0m0s"},
		{"no login link ttl", func(x *tenant.Tenant) { x.Profiles.Seed000LoginLinkTTL = 0 }, "profiles.seed000.passwordless_login_max_age: must be between 30s and 24h0m0s, got 0s"},
		{"seed 002 idle too short", func(x *tenant.Tenant) { x.Profiles.Seed002TokenIdle = time.Minute }, "profiles.seed002.token_idle_timeout: must be between 5m0s and 8760h0m0s, got 1m0s"},
		{"seed 002 idle too long", func(x *tenant.Tenant) { x.Profiles.Seed002TokenIdle = 9000 * time.Hour }, "profiles.seed002.token_idle_timeout: must be between 5m0s and 8760h0m0s, got 9000h0m0s"},
		{"seed 002 max age below idle", func(x *tenant.Tenant) { x.Profiles.Seed002TokenMaxAge = 24 * time.Hour }, "profiles.seed002.token_max_age: must not be shorter than token_idle_timeout (720h0m0s), got 24h0m0s"},
		{"seed 002 max age too long", func(x *tenant.Tenant) { x.Profiles.Seed002TokenMaxAge = 100000 * time.Hour }, "profiles.seed002.token_max_age: must be at most 87600h0m0s, got 100000h0m0s"},
		{"seed 003 no resends", func(x *tenant.Tenant) { x.Profiles.Seed003ResendCount = 0 }, "profiles.seed003.resend_count: must be between 1 and 1000, got 0"},
		{"seed 003 code ttl too short", func(x *tenant.Tenant) { x.Profiles.Seed003OTPTTL = 10 * time.Second }, "profiles.seed003.otp_ttl: must be 0s (sms.code_ttl) or between 30s and 1h0m0s, got 10s"},
		{"seed 003 without a storefront", func(x *tenant.Tenant) { x.Profiles.Seed003 = true }, "profiles.seed003.enabled: needs storefront.enabled"},
		{"seed 003 mobile login without a region", func(x *tenant.Tenant) {
			x.Profiles.Seed003, x.Storefront.Enabled = true, true
			x.LoginMethods = []tenant.LoginMethod{tenant.MethodPassword, tenant.MethodSMSOTP}
		}, "profiles.seed003.enabled: needs sms.default_region with the login method sms_otp"},
		{"unknown default region", func(x *tenant.Tenant) { x.SMS.DefaultRegion = "XX" }, `sms.default_region: "XX" is not a known region: use an upper-case ISO 3166 alpha-2 code such as "TR"`},
		{"lower-case default region", func(x *tenant.Tenant) { x.SMS.DefaultRegion = "tr" }, `sms.default_region: "tr" is not a known region`},
		{"unknown allowed country", func(x *tenant.Tenant) { x.SMS.AllowedCountries = []string{"TR", "Turkey"} }, `sms.allowed_countries[1]: "Turkey" is not a known region`},
		{"duplicate allowed country", func(x *tenant.Tenant) { x.SMS.AllowedCountries = []string{"TR", "TR"} }, `sms.allowed_countries[1]: "TR" is listed twice`},
		{"default region not allowed", func(x *tenant.Tenant) { x.SMS.DefaultRegion, x.SMS.AllowedCountries = "TR", []string{"GB", "DE"} }, `sms.default_region: "TR" must be one of allowed_countries (GB, DE)`},
		{"code ttl too short", func(x *tenant.Tenant) { x.SMS.CodeTTL = 10 * time.Second }, "sms.code_ttl: must be between 30s and 1h0m0s, got 10s"},
		{"code ttl too long", func(x *tenant.Tenant) { x.SMS.CodeTTL = 2 * time.Hour }, "sms.code_ttl: must be between 30s and 1h0m0s, got 2h0m0s"},
		{"zero code ttl", func(x *tenant.Tenant) { x.SMS.CodeTTL = 0 }, "sms.code_ttl: must be between 30s and 1h0m0s, got 0s"},
		{"code too short", func(x *tenant.Tenant) { x.SMS.CodeLength = 3 }, "sms.code_length: must be between 4 and 10, got 3"},
		{"code too long", func(x *tenant.Tenant) { x.SMS.CodeLength = 11 }, "sms.code_length: must be between 4 and 10, got 11"},
		{"no attempts", func(x *tenant.Tenant) { x.SMS.MaxAttempts = 0 }, "sms.max_attempts: must be between 1 and 20, got 0"},
		{"too many attempts", func(x *tenant.Tenant) { x.SMS.MaxAttempts = 21 }, "sms.max_attempts: must be between 1 and 20, got 21"},
		{"negative cooldown", func(x *tenant.Tenant) { x.SMS.ResendCooldown = -time.Second }, "sms.resend_cooldown: must be between 0s (no cooldown) and 1h0m0s, got -1s"},
		{"cooldown too long", func(x *tenant.Tenant) { x.SMS.ResendCooldown = 61 * time.Minute }, "sms.resend_cooldown: must be between 0s (no cooldown) and 1h0m0s, got 1h1m0s"},
		{"zero daily cap", func(x *tenant.Tenant) { x.SMS.DailyCap = 0 }, "sms.daily_cap: must be between 1 and 1000, got 0"},
		{"daily cap too high", func(x *tenant.Tenant) { x.SMS.DailyCap = 1001 }, "sms.daily_cap: must be between 1 and 1000, got 1001"},
		{"no message", func(x *tenant.Tenant) { x.SMS.Message = tenant.SMSMessage{} }, "sms.message: is required"},
		{"message without code", func(x *tenant.Tenant) { x.SMS.Message = tenant.ParseSMSMessage("Your {{.Tenant}} code is ready.") }, "sms.message: must contain the code: use {{.Code}}"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			x := valid()
			tc.mutate(&x)
			err := x.Validate()
			var ve *tenant.ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("want ValidationError, got %v", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not contain %q", err, tc.want)
			}
		})
	}
}

func TestValidateReportsAllProblemsAndNamesTenant(t *testing.T) {
	t.Parallel()
	x := valid()
	x.Tokens.Access = 0
	x.Password.MinLength = 0
	var ve *tenant.ValidationError
	if !errors.As(x.Validate(), &ve) {
		t.Fatal("want ValidationError")
	}
	if ve.Tenant != "shop" || len(ve.Problems) != 2 {
		t.Fatalf("got tenant %q with %d problems: %v", ve.Tenant, len(ve.Problems), ve)
	}
	y := valid()
	y.ID = ""
	y.Source = "file:config/tenants/x.yaml"
	if !errors.As(y.Validate(), &ve) || ve.Tenant != "file:config/tenants/x.yaml" {
		t.Fatalf("a tenant without id is named by its source, got %v", ve)
	}
}

// TestMailFloodGuardDefaults: the per-IP budgets of the mail flows are
// the documented ones, and a tenant that sets none has them.
func TestMailFloodGuardDefaults(t *testing.T) {
	t.Parallel()
	d := tenant.DefaultThrottling()
	for name, c := range map[string]struct{ got, want tenant.Limit }{
		"password_reset_per_ip":    {d.PasswordResetPerIP, tenant.Limit{Count: 20, Window: time.Hour}},
		"verification_mail_per_ip": {d.VerificationMailPerIP, tenant.Limit{Count: 20, Window: time.Hour}},
		"email_login_per_ip":       {d.EmailLoginPerIP, tenant.Limit{Count: 30, Window: time.Hour}},
		"token_login_per_ip":       {d.TokenLoginPerIP, tenant.Limit{Count: 20, Window: 15 * time.Minute}},
	} {
		if c.got != c.want {
			t.Errorf("default throttling.%s = %+v, want %+v", name, c.got, c.want)
		}
	}
	if tenant.Default().Throttling != d {
		t.Errorf("Default().Throttling = %+v, want DefaultThrottling() %+v", tenant.Default().Throttling, d)
	}
	if got := tenant.Default().Profiles.Seed000LoginLinkTTL; got != 300*time.Second {
		t.Errorf("default profiles.seed000.passwordless_login_max_age = %s, want seed 000's 300s", got)
	}
	if p := tenant.Default().Profiles; p.Seed002 || p.Seed002TokenIdle != 720*time.Hour || p.Seed002TokenMaxAge != 8760*time.Hour {
		t.Errorf("default profiles.seed002 = %+v, want off, seed 002's 30 days idle, a year at most", p)
	}
	if p := tenant.Default().Profiles; p.Seed003 || p.Seed003ResendCount != 5 || p.Seed003OTPTTL != 0 {
		t.Errorf("default profiles.seed003 = %+v, want off, 5 codes a day, the SMS code lifetime", p)
	}
}

func TestDomainKey(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"Shop.Example:8080": "shop.example",
		"shop.example.":     "shop.example",
		"[::1]:8080":        "::1",
		"::1":               "::1",
		"127.0.0.1:80":      "127.0.0.1",
		"localhost":         "localhost",
	} {
		if got := tenant.DomainKey(in); got != want {
			t.Errorf("DomainKey(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSMSPolicyDefaultsAndValidSettings(t *testing.T) {
	t.Parallel()
	d := tenant.Default().SMS
	if d.DefaultRegion != "" || len(d.AllowedCountries) != 0 || d.CodeTTL != 5*time.Minute || d.CodeLength != 6 || d.MaxAttempts != 5 ||
		d.ResendCooldown != time.Minute || d.DailyCap != 10 || d.Message.Source() != tenant.DefaultSMSMessage {
		t.Fatalf("default SMS policy %+v, want international numbers only, every country, 6-digit codes living 5m, 5 attempts, 60s cooldown, 10 a day, the default message", d)
	}
	for name, mutate := range map[string]func(*tenant.SMSPolicy){
		"region only": func(p *tenant.SMSPolicy) { p.DefaultRegion, p.CodeTTL = "TR", 30*time.Second },
		"region among allowed": func(p *tenant.SMSPolicy) {
			p.DefaultRegion, p.AllowedCountries, p.CodeTTL = "TR", []string{"GB", "TR"}, time.Hour
		},
		"allowed without region": func(p *tenant.SMSPolicy) { p.AllowedCountries = []string{"US", "CA"} },
		"lowest bounds": func(p *tenant.SMSPolicy) {
			p.CodeLength, p.MaxAttempts, p.ResendCooldown, p.DailyCap = 4, 1, 0, 1
		},
		"highest bounds": func(p *tenant.SMSPolicy) {
			p.CodeLength, p.MaxAttempts, p.ResendCooldown, p.DailyCap = 10, 20, time.Hour, 1000
		},
		"custom message": func(p *tenant.SMSPolicy) {
			p.Message = tenant.ParseSMSMessage("{{.Tenant}}: {{.Code}} ({{.Expires}}){{if eq .Tenant \"Shop\"}}!{{end}}")
		},
	} {
		x := valid()
		mutate(&x.SMS)
		if err := x.Validate(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}
