package config_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/portcullis/portcullis/config"
	"github.com/portcullis/portcullis/domain/tenant"
)

func TestShippedDemoTenantIsValid(t *testing.T) {
	t.Parallel()
	ts, err := config.NewTenantDir("tenants").Tenants(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(ts) != 1 || ts[0].ID != "demo" || !ts[0].Enabled(tenant.MethodPassword) {
		t.Fatalf("got %+v", ts)
	}
	if ts[0].Tokens.App != 0 || ts[0].Tokens.Access != 15*time.Minute {
		t.Fatalf("tokens %+v", ts[0].Tokens)
	}
	// The demo spells out the SMS defaults: apart from its region, its
	// policy is the default one.
	sms, def := ts[0].SMS, tenant.Default().SMS
	sms.DefaultRegion = ""
	if fmt.Sprintf("%+v", sms) != fmt.Sprintf("%+v", def) {
		t.Fatalf("demo sms %+v\nwant the defaults %+v", sms, def)
	}
	// Its mail goes to the dev outbox, with links to the server make run
	// starts, in the default colours.
	mail := ts[0].Mail
	if mail.BaseURL != config.DevBaseURL(config.Defaults().Listen) || mail.From != "Demo Store <no-reply@demo.localhost>" ||
		mail.SMTP.Configured() || mail.Brand != tenant.DefaultMail().Brand {
		t.Fatalf("demo mail %+v", mail)
	}
	// It serves seed 002's admin login with the default token lifetimes.
	if p := ts[0].Profiles; !p.Seed002 || !ts[0].Enabled(tenant.MethodAdminOTP) || p.Seed002TokenIdle != tenant.DefaultSeed002TokenIdle ||
		p.Seed002TokenMaxAge != tenant.DefaultSeed002TokenMaxAge {
		t.Fatalf("demo seed 002: %+v, methods %v", p, ts[0].LoginMethods)
	}
	// It spells out that anyone may sign up.
	if !ts[0].Registration.Enabled {
		t.Fatal("demo registration closed; want registration.enabled: true")
	}
	// Its throttling block spells out the defaults, every limit of them.
	if ts[0].Throttling != tenant.DefaultThrottling() {
		t.Fatalf("demo throttling %+v\nwant the defaults %+v", ts[0].Throttling, tenant.DefaultThrottling())
	}
	raw, err := os.ReadFile(filepath.Join("tenants", "demo.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var demo struct {
		Throttling map[string]any `yaml:"throttling"`
		MFA        map[string]any `yaml:"mfa"`
	}
	if err := yaml.Unmarshal(raw, &demo); err != nil {
		t.Fatal(err)
	}
	for field := range config.EncodeTenant(tenant.Default())["throttling"].(map[string]any) {
		if _, ok := demo.Throttling[field]; !ok {
			t.Errorf("demo.yaml does not spell out throttling.%s", field)
		}
	}
	// It spells out the mfa defaults of a tenant that serves seed 001:
	// that profile's backup-code form, the general defaults otherwise.
	wantMFA := tenant.DefaultMFAPolicy()
	wantMFA.BackupCodes, wantMFA.BackupLockout = tenant.Seed001BackupCodes, tenant.Seed001BackupLockout
	if !ts[0].Profiles.Seed001 || fmt.Sprintf("%+v", ts[0].MFA) != fmt.Sprintf("%+v", wantMFA) {
		t.Fatalf("demo mfa %+v (seed001 %v)\nwant seed 001's defaults %+v", ts[0].MFA, ts[0].Profiles.Seed001, wantMFA)
	}
	for field, v := range config.EncodeTenant(tenant.Default())["mfa"].(map[string]any) {
		if _, ok := demo.MFA[field]; !ok {
			t.Errorf("demo.yaml does not spell out mfa.%s", field)
			continue
		}
		if sub, ok := v.(map[string]any); ok {
			for f := range sub {
				if inner, _ := demo.MFA[field].(map[string]any); inner[f] == nil {
					t.Errorf("demo.yaml does not spell out mfa.%s.%s", field, f)
				}
			}
		}
	}
	// It spells out the e-mail defaults, tells its users of new sign-ins,
	// and signs in by mailed code and link.
	wantEmail := tenant.DefaultEmailPolicy()
	wantEmail.NewSigninNotice = true
	if !ts[0].Enabled(tenant.MethodTOTP) {
		t.Fatal("the demo tenant does not allow TOTP")
	}
	if ts[0].Email != wantEmail || !ts[0].Enabled(tenant.MethodEmailLink) {
		t.Fatalf("demo email %+v, email_link %v; want the defaults with new_signin_notice, and on", ts[0].Email, ts[0].Enabled(tenant.MethodEmailLink))
	}
	// It spells out the audit log's default retention.
	if !strings.Contains(string(raw), "\naudit:\n  retention: 2160h") || ts[0].Audit != tenant.DefaultAuditPolicy() {
		t.Fatalf("demo audit %+v; want audit.retention spelled out at its default", ts[0].Audit)
	}
}

func TestMinimalTenantTakesDefaults(t *testing.T) {
	t.Parallel()
	got, err := config.ParseTenantYAML([]byte("id: tiny\npassword_policy:\n  min_length: 10\n"), "file:tiny.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := tenant.Default()
	if got.Password.MinLength != 10 || got.Password.MaxLength != want.Password.MaxLength || got.Password.Hash != want.Password.Hash {
		t.Fatalf("a partial section must keep the other defaults: %+v", got.Password)
	}
	if got.Tokens != want.Tokens || got.Sessions != want.Sessions || got.Throttling != want.Throttling || got.StoreTimeout != 3*time.Second ||
		!got.Registration.Enabled ||
		len(got.LoginMethods) != 1 || got.Redirects.Default != "/" {
		t.Fatalf("defaults not applied: %+v", got)
	}
	if !strings.HasPrefix(got.Version, "file:") || got.Source != "file:tiny.yaml" {
		t.Fatalf("version %q source %q", got.Version, got.Source)
	}
	other, _ := config.ParseTenantYAML([]byte("id: tiny\npassword_policy:\n  min_length: 11\n"), "file:tiny.yaml")
	if other.Version == got.Version {
		t.Fatal("a changed file must have a new version")
	}
}

func TestListsReplaceDefaults(t *testing.T) {
	t.Parallel()
	got, err := config.ParseTenantYAML([]byte("id: x\nlogin_methods: [sms_otp]\n"), "x")
	if err != nil {
		t.Fatal(err)
	}
	if len(got.LoginMethods) != 1 || got.LoginMethods[0] != tenant.MethodSMSOTP {
		t.Fatalf("methods %v", got.LoginMethods)
	}
}

func TestBadTenantFilesNameTenantFieldAndReason(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, yaml, want string
	}{
		{"unknown field", "id: shop\ncolour: red\n", `tenant "shop": colour: is not a known setting`},
		{"unknown nested field", "id: shop\ntokens:\n  acces_ttl: 5m\n", `tenant "shop": tokens.acces_ttl: is not a known setting`},
		{"number for duration", "id: shop\ntokens:\n  access_ttl: 900\n", `tenant "shop": tokens.access_ttl: must be a duration with a unit such as 15m or 1h30m, got 900`},
		{"bad duration", "id: shop\nsessions:\n  idle_timeout: 3 days\n", `sessions.idle_timeout: must be a duration with a unit such as 15m or 1h30m, got "3 days"`},
		{"string for number", "id: shop\npassword_policy:\n  min_length: eight\n", `tenant "shop": password_policy.min_length: must be a whole number, got a string`},
		{"negative unsigned", "id: shop\npassword_policy:\n  hash:\n    iterations: -1\n", `password_policy.hash.iterations`},
		{"scalar for list", "id: shop\ndomains: shop.example\n", `tenant "shop": domains: must be a list, got a string`},
		{"every problem at once", "id: shop\ndomains: x\npassword_policy:\n  max_length: x\n  min_length: eight\n",
			`domains: must be a list, got a string; password_policy.max_length: must be a whole number, got a string; password_policy.min_length: must be a whole number, got a string`},
		{"invariant", "id: shop\ntokens:\n  access_ttl: 0s\n", `tenant "shop": tokens.access_ttl: must be a positive duration, got 0s`},
		{"store timeout without unit", "id: shop\nstore_timeout: 3\n", `tenant "shop": store_timeout: must be a duration with a unit such as 15m or 1h30m, got 3`},
		{"store timeout zero", "id: shop\nstore_timeout: 0s\n", `tenant "shop": store_timeout: must be a positive duration, got 0s`},
		{"store timeout too long", "id: shop\nstore_timeout: 5m\n", `tenant "shop": store_timeout: must be at most 1m0s, got 5m0s`},
		{"sms unknown region", "id: shop\nsms:\n  default_region: Turkey\n", `tenant "shop": sms.default_region: "Turkey" is not a known region`},
		{"sms country not a list", "id: shop\nsms:\n  allowed_countries: TR\n", `tenant "shop": sms.allowed_countries: must be a list, got a string`},
		{"sms unknown country", "id: shop\nsms:\n  allowed_countries: [TR, EU]\n", `tenant "shop": sms.allowed_countries[1]: "EU" is not a known region`},
		{"sms code ttl without unit", "id: shop\nsms:\n  code_ttl: 300\n", `tenant "shop": sms.code_ttl: must be a duration with a unit such as 15m or 1h30m, got 300`},
		{"sms code ttl too long", "id: shop\nsms:\n  code_ttl: 2h\n", `tenant "shop": sms.code_ttl: must be between 30s and 1h0m0s, got 2h0m0s`},
		{"sms unknown setting", "id: shop\nsms:\n  region: TR\n", `tenant "shop": sms.region: is not a known setting`},
		{"sms code too short", "id: shop\nsms:\n  code_length: 3\n", `tenant "shop": sms.code_length: must be between 4 and 10, got 3`},
		{"sms code too long", "id: shop\nsms:\n  code_length: 12\n", `tenant "shop": sms.code_length: must be between 4 and 10, got 12`},
		{"sms code length not a number", "id: shop\nsms:\n  code_length: six\n", `tenant "shop": sms.code_length: must be a whole number, got a string`},
		{"sms no attempts", "id: shop\nsms:\n  max_attempts: 0\n", `tenant "shop": sms.max_attempts: must be between 1 and 20, got 0`},
		{"sms too many attempts", "id: shop\nsms:\n  max_attempts: 50\n", `tenant "shop": sms.max_attempts: must be between 1 and 20, got 50`},
		{"sms negative cooldown", "id: shop\nsms:\n  resend_cooldown: -5s\n", `tenant "shop": sms.resend_cooldown: must be between 0s (no cooldown) and 1h0m0s, got -5s`},
		{"sms cooldown too long", "id: shop\nsms:\n  resend_cooldown: 2h\n", `tenant "shop": sms.resend_cooldown: must be between 0s (no cooldown) and 1h0m0s, got 2h0m0s`},
		{"sms cooldown without unit", "id: shop\nsms:\n  resend_cooldown: 0\n", `tenant "shop": sms.resend_cooldown: must be a duration with a unit such as 15m or 1h30m, got 0`},
		{"sms zero daily cap", "id: shop\nsms:\n  daily_cap: 0\n", `tenant "shop": sms.daily_cap: must be between 1 and 1000, got 0`},
		{"sms daily cap too high", "id: shop\nsms:\n  daily_cap: 5000\n", `tenant "shop": sms.daily_cap: must be between 1 and 1000, got 5000`},
		{"sms message not a template", "id: shop\nsms:\n  message: \"{{.Code} is your code\"\n", `tenant "shop": sms.message: is not a valid template: sms.message:1: bad character U+007D '}'`},
		{"sms message without code", "id: shop\nsms:\n  message: \"Your {{.Tenant}} code expires in {{.Expires}}.\"\n", `tenant "shop": sms.message: must contain the code: use {{.Code}}`},
		{"sms message unknown field", "id: shop\nsms:\n  message: \"{{.Code}} for {{.User}}\"\n",
			`tenant "shop": sms.message: does not render (the fields are {{.Code}}, {{.Tenant}} and {{.Expires}}): sms.message:1:16: executing "sms.message" at <.User>: can't evaluate field User`},
		{"sms message too long", "id: shop\ndisplay_name: Shop\nsms:\n  message: \"{{.Code}} {{.Tenant}} " + strings.Repeat("x", 310) + "\"\n",
			`tenant "shop": sms.message: must render to at most 320 characters (two SMS segments), got 322 with a 6-digit code and the tenant's name`},
		{"sms message loop", "id: shop\nsms:\n  message: \"{{range 9}}{{.}}{{end}}\"\n", `tenant "shop": sms.message: must not use range`},
		{"sms message empty", "id: shop\nsms:\n  message: \"\"\n", `tenant "shop": sms.message: must contain the code: use {{.Code}}`},
		{"sms message not a string", "id: shop\nsms:\n  message: [a]\n", `tenant "shop": sms.message: must be a string`},
		{"registration not a mapping", "id: shop\nregistration: false\n", `tenant "shop": registration: expected a map`},
		{"registration enabled not a bool", "id: shop\nregistration:\n  enabled: \"no\"\n", `tenant "shop": registration.enabled: must be true or false, got a string`},
		{"registration unknown setting", "id: shop\nregistration:\n  open: false\n", `tenant "shop": registration.open: is not a known setting`},
		{"reset limit zero", "id: shop\nthrottling:\n  password_reset_per_ip: {limit: 0, window: 1h}\n", `tenant "shop": throttling.password_reset_per_ip.limit: must be at least 1, got 0`},
		{"reset window without unit", "id: shop\nthrottling:\n  password_reset_per_ip: {limit: 5, window: 3600}\n",
			`tenant "shop": throttling.password_reset_per_ip.window: must be a duration with a unit such as 15m or 1h30m, got 3600`},
		{"verification window too short", "id: shop\nthrottling:\n  verification_mail_per_ip: {limit: 5, window: 10ms}\n",
			`tenant "shop": throttling.verification_mail_per_ip.window: must be at least 1s, got 10ms`},
		{"verification limit not a number", "id: shop\nthrottling:\n  verification_mail_per_ip: {limit: many, window: 1h}\n",
			`tenant "shop": throttling.verification_mail_per_ip.limit: must be a whole number, got a string`},
		{"e-mail login limit negative", "id: shop\nthrottling:\n  email_login_per_ip: {limit: -3, window: 1h}\n", `tenant "shop": throttling.email_login_per_ip.limit: must be at least 1, got -3`},
		{"e-mail login unknown setting", "id: shop\nthrottling:\n  email_login_per_ip: {limit: 3, windw: 1h}\n", `tenant "shop": throttling.email_login_per_ip.windw: is not a known setting`},
		{"token login window too short", "id: shop\nthrottling:\n  token_login_per_ip: {limit: 5, window: 10ms}\n",
			`tenant "shop": throttling.token_login_per_ip.window: must be at least 1s, got 10ms`},
		{"login link max age too long", "id: shop\nprofiles:\n  seed000: {enabled: true, passwordless_login_max_age: 48h}\n",
			`tenant "shop": profiles.seed000.passwordless_login_max_age: must be between 30s and 24h0m0s, got 48h0m0s`},
		{"login link max age without unit", "id: shop\nprofiles:\n  seed000: {passwordless_login_max_age: 300}\n",
			`tenant "shop": profiles.seed000.passwordless_login_max_age: must be a duration with a unit such as 15m or 1h30m, got 300`},
		{"seed 002 idle too short", "id: shop\nprofiles:\n  seed002: {enabled: true, token_idle_timeout: 1m}\n",
			`tenant "shop": profiles.seed002.token_idle_timeout: must be between 5m0s and 8760h0m0s, got 1m0s`},
		{"seed 002 max age below idle", "id: shop\nprofiles:\n  seed002: {token_idle_timeout: 720h, token_max_age: 24h}\n",
			`tenant "shop": profiles.seed002.token_max_age: must not be shorter than token_idle_timeout (720h0m0s), got 24h0m0s`},
		{"seed 002 idle without unit", "id: shop\nprofiles:\n  seed002: {token_idle_timeout: 720}\n",
			`tenant "shop": profiles.seed002.token_idle_timeout: must be a duration with a unit such as 15m or 1h30m, got 720`},
		{"seed 002 unknown setting", "id: shop\nprofiles:\n  seed002: {enabled: true, token_ttl: 1h}\n",
			`tenant "shop": profiles.seed002.token_ttl: is not a known setting`},
		{"no id", "display_name: Nameless\n", `tenant "file:nameless.yaml": id: is required`},
		{"not yaml", "id: [unclosed\n", `tenant "file:nameless.yaml": (file): is not valid YAML`},
		{"two documents", "id: a\n---\nid: b\n", `holds more than one YAML document`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := config.ParseTenantYAML([]byte(tc.yaml), "file:nameless.yaml")
			var ve *tenant.ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("want ValidationError, got %v", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q\ndoes not contain %q", err, tc.want)
			}
		})
	}
}

// TestMailFloodGuardSettings: the per-IP budgets of the mail flows are
// read from the throttling block, a limit set alone keeps the other's
// defaults, and they survive a round trip through a stored document.
func TestMailFloodGuardSettings(t *testing.T) {
	t.Parallel()
	got, err := config.ParseTenantYAML([]byte("id: mail\nthrottling:\n  password_reset_per_ip: {limit: 2, window: 10m}\n"+
		"  verification_mail_per_ip: {limit: 3, window: 2h}\n  email_login_per_ip: {limit: 4, window: 30s}\n"), "mail")
	if err != nil {
		t.Fatal(err)
	}
	th := got.Throttling
	if th.PasswordResetPerIP != (tenant.Limit{Count: 2, Window: 10 * time.Minute}) || th.VerificationMailPerIP != (tenant.Limit{Count: 3, Window: 2 * time.Hour}) ||
		th.EmailLoginPerIP != (tenant.Limit{Count: 4, Window: 30 * time.Second}) {
		t.Fatalf("throttling %+v", th)
	}
	if th.LoginPerIP != tenant.Default().Throttling.LoginPerIP {
		t.Fatalf("the other limits must keep their defaults: %+v", th)
	}
	part, err := config.ParseTenantYAML([]byte("id: mail\nthrottling:\n  email_login_per_ip: {limit: 5}\n"), "mail")
	if err != nil {
		t.Fatal(err)
	}
	if part.Throttling.EmailLoginPerIP != (tenant.Limit{Count: 5, Window: time.Hour}) ||
		part.Throttling.PasswordResetPerIP != (tenant.Limit{Count: 20, Window: time.Hour}) ||
		part.Throttling.VerificationMailPerIP != (tenant.Limit{Count: 20, Window: time.Hour}) {
		t.Fatalf("a partial setting must keep the defaults of the rest: %+v", part.Throttling)
	}
	doc := config.EncodeTenant(got)
	throttling := doc["throttling"].(map[string]any)
	for _, field := range []string{"password_reset_per_ip", "verification_mail_per_ip", "email_login_per_ip"} {
		if _, ok := throttling[field]; !ok {
			t.Errorf("the document lacks throttling.%s: %v", field, throttling)
		}
	}
	out, err := config.DecodeTenant(doc, "mail")
	if err != nil || out.Throttling != got.Throttling {
		t.Fatalf("round trip: %+v, %v; want %+v", out.Throttling, err, got.Throttling)
	}
}

// TestSeed000LinkSettings: the lifetime of seed 000's admin-issued login
// links and the token-login budget are read from the file, default to
// 300 s and 20 per 15 minutes, and survive a stored document.
func TestSeed000LinkSettings(t *testing.T) {
	t.Parallel()
	def, err := config.ParseTenantYAML([]byte("id: links\nprofiles:\n  seed000: {enabled: true}\n"), "links")
	if err != nil {
		t.Fatal(err)
	}
	if def.Profiles.Seed000LoginLinkTTL != 300*time.Second || def.Throttling.TokenLoginPerIP != (tenant.Limit{Count: 20, Window: 15 * time.Minute}) {
		t.Fatalf("defaults: max age %s, token login %+v", def.Profiles.Seed000LoginLinkTTL, def.Throttling.TokenLoginPerIP)
	}
	got, err := config.ParseTenantYAML([]byte("id: links\nprofiles:\n  seed000: {enabled: true, passwordless_login_max_age: 90s}\n"+
		"throttling:\n  token_login_per_ip: {limit: 7, window: 1h}\n"), "links")
	if err != nil {
		t.Fatal(err)
	}
	if got.Profiles.Seed000LoginLinkTTL != 90*time.Second || got.Throttling.TokenLoginPerIP != (tenant.Limit{Count: 7, Window: time.Hour}) {
		t.Fatalf("max age %s, token login %+v", got.Profiles.Seed000LoginLinkTTL, got.Throttling.TokenLoginPerIP)
	}
	out, err := config.DecodeTenant(config.EncodeTenant(got), "links")
	if err != nil || out.Profiles != got.Profiles || out.Throttling != got.Throttling {
		t.Fatalf("round trip: %+v %+v, %v", out.Profiles, out.Throttling, err)
	}
}

// TestSeed002Settings: the seed 002 profile is off by default with its
// tokens' 30 days of idle and a year at most; the file sets them, and
// they survive a stored document.
func TestSeed002Settings(t *testing.T) {
	t.Parallel()
	def, err := config.ParseTenantYAML([]byte("id: admins\n"), "admins")
	if err != nil {
		t.Fatal(err)
	}
	if p := def.Profiles; p.Seed002 || p.Seed002TokenIdle != 720*time.Hour || p.Seed002TokenMaxAge != 8760*time.Hour {
		t.Fatalf("defaults: %+v", p)
	}
	got, err := config.ParseTenantYAML([]byte("id: admins\nlogin_methods: [admin_otp]\nprofiles:\n  seed002: {enabled: true, token_idle_timeout: 48h, token_max_age: 2160h}\n"), "admins")
	if err != nil {
		t.Fatal(err)
	}
	if p := got.Profiles; !p.Seed002 || p.Seed002TokenIdle != 48*time.Hour || p.Seed002TokenMaxAge != 2160*time.Hour || !got.Enabled(tenant.MethodAdminOTP) {
		t.Fatalf("read: %+v", got.Profiles)
	}
	out, err := config.DecodeTenant(config.EncodeTenant(got), "admins")
	if err != nil || out.Profiles != got.Profiles {
		t.Fatalf("round trip: %+v, %v", out.Profiles, err)
	}
}

// TestSeed003Settings: the seed 003 profile is off by default, with 5
// codes a day per number and the SMS code lifetime; the file sets them,
// and they survive a stored document.
func TestSeed003Settings(t *testing.T) {
	t.Parallel()
	def, err := config.ParseTenantYAML([]byte("id: shop\n"), "shop")
	if err != nil {
		t.Fatal(err)
	}
	if p := def.Profiles; p.Seed003 || p.Seed003ResendCount != 5 || p.Seed003CodeTTL(def.SMS) != def.SMS.CodeTTL {
		t.Fatalf("defaults: %+v", p)
	}
	got, err := config.ParseTenantYAML([]byte("id: shop\nlogin_methods: [password, sms_otp]\nsms: {default_region: IN}\n"+
		"storefront: {enabled: true}\nprofiles:\n  seed003: {enabled: true, resend_count: 3, otp_ttl: 120s}\n"), "shop")
	if err != nil {
		t.Fatal(err)
	}
	if p := got.Profiles; !p.Seed003 || p.Seed003ResendCount != 3 || p.Seed003CodeTTL(got.SMS) != 2*time.Minute {
		t.Fatalf("read: %+v", got.Profiles)
	}
	out, err := config.DecodeTenant(config.EncodeTenant(got), "shop")
	if err != nil || out.Profiles != got.Profiles {
		t.Fatalf("round trip: %+v, %v", out.Profiles, err)
	}
	_, err = config.ParseTenantYAML([]byte("id: shop\nlogin_methods: [password, sms_otp]\nprofiles:\n  seed003: {enabled: true}\n"), "shop")
	if err == nil || !strings.Contains(err.Error(), "profiles.seed003.enabled: needs sms.default_region") ||
		!strings.Contains(err.Error(), "profiles.seed003.enabled: needs storefront.enabled") {
		t.Fatalf("a mobile login without a default region, a profile without a storefront: %v", err)
	}
}

func TestSMSBlock(t *testing.T) {
	t.Parallel()
	got, err := config.ParseTenantYAML([]byte("id: sms\ndisplay_name: Shop\nsms:\n  default_region: TR\n  allowed_countries: [TR, CY]\n  code_ttl: 2m\n"+
		"  code_length: 8\n  max_attempts: 3\n  resend_cooldown: 0s\n  daily_cap: 20\n  message: \"{{.Tenant}}: {{.Code}} ({{.Expires}})\"\n"), "sms")
	if err != nil {
		t.Fatal(err)
	}
	if got.SMS.DefaultRegion != "TR" || strings.Join(got.SMS.AllowedCountries, ",") != "TR,CY" || got.SMS.CodeTTL != 2*time.Minute ||
		got.SMS.CodeLength != 8 || got.SMS.MaxAttempts != 3 || got.SMS.ResendCooldown != 0 || got.SMS.DailyCap != 20 {
		t.Fatalf("sms %+v", got.SMS)
	}
	if text := got.SMS.Message.Render("12345678", got.Name(), got.SMS.CodeTTL); text != "Shop: 12345678 (2 minutes)" {
		t.Fatalf("message %q", text)
	}
	def, err := config.ParseTenantYAML([]byte("id: sms\n"), "sms")
	if err != nil {
		t.Fatal(err)
	}
	if def.SMS.DefaultRegion != "" || len(def.SMS.AllowedCountries) != 0 || def.SMS.CodeTTL != 5*time.Minute || def.SMS.CodeLength != 6 ||
		def.SMS.MaxAttempts != 5 || def.SMS.ResendCooldown != 60*time.Second || def.SMS.DailyCap != 10 ||
		def.SMS.Message.Source() != "{{.Code}} is your {{.Tenant}} sign-in code. It expires in {{.Expires}}. Do not share it." {
		t.Fatalf("default sms %+v", def.SMS)
	}
	if text := def.SMS.Message.Render("123456", def.Name(), def.SMS.CodeTTL); text != "123456 is your sms sign-in code. It expires in 5 minutes. Do not share it." {
		t.Fatalf("default message %q", text)
	}
	// A block that sets some fields keeps the defaults of the others.
	part, err := config.ParseTenantYAML([]byte("id: sms\nsms:\n  code_length: 4\n"), "sms")
	if err != nil || part.SMS.CodeLength != 4 || part.SMS.MaxAttempts != 5 || part.SMS.DailyCap != 10 || part.SMS.Message.Source() != def.SMS.Message.Source() {
		t.Fatalf("partial sms block %+v, %v", part.SMS, err)
	}
	for _, in := range []tenant.Tenant{got, def} {
		doc := config.EncodeTenant(in)
		sms := doc["sms"].(map[string]any)
		for _, field := range []string{"code_length", "max_attempts", "resend_cooldown", "daily_cap", "message"} {
			if _, ok := sms[field]; !ok {
				t.Errorf("the document lacks sms.%s: %v", field, sms)
			}
		}
		out, err := config.DecodeTenant(doc, "sms")
		if err != nil || fmt.Sprintf("%+v", out.SMS) != fmt.Sprintf("%+v", in.SMS) {
			t.Fatalf("round trip: %+v, %v; want %+v", out.SMS, err, in.SMS)
		}
	}
}

func TestRegistrationBlock(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, yaml string
		want       bool
	}{
		{"absent: open", "id: reg\n", true},
		{"enabled", "id: reg\nregistration:\n  enabled: true\n", true},
		{"closed", "id: reg\nregistration:\n  enabled: false\n", false},
		{"flow mapping", "id: reg\nregistration: {enabled: false}\n", false},
		// An empty value (a commented-out line) keeps the default: it
		// must not close sign-up as a false would.
		{"empty section", "id: reg\nregistration:\n", true},
		{"empty enabled", "id: reg\nregistration:\n  enabled:\n", true},
		{"empty mapping", "id: reg\nregistration: {}\n", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := config.ParseTenantYAML([]byte(tc.yaml), "reg")
			if err != nil {
				t.Fatal(err)
			}
			if got.Registration.Enabled != tc.want {
				t.Fatalf("registration.enabled %v, want %v", got.Registration.Enabled, tc.want)
			}
			doc := config.EncodeTenant(got)
			if reg, _ := doc["registration"].(map[string]any); reg["enabled"] != tc.want {
				t.Fatalf("encoded registration %v, want enabled: %v", doc["registration"], tc.want)
			}
			out, err := config.DecodeTenant(doc, "reg")
			if err != nil || out.Registration != got.Registration {
				t.Fatalf("round trip: %+v, %v; want %+v", out.Registration, err, got.Registration)
			}
		})
	}
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	t.Parallel()
	in, err := config.ParseTenantYAML([]byte("id: rt\ndomains: [rt.example]\nlogin_methods: [password, totp]\ntokens:\n  app_token_ttl: 2160h\nredirects:\n  allow: [https://rt.example]\nstore_timeout: 20s\nregistration: {enabled: false}\n"+
		"sms:\n  code_length: 10\n  max_attempts: 20\n  resend_cooldown: 1h\n  daily_cap: 1000\n  message: \"{{.Code}} - {{.Tenant}}\"\n"+
		"mail:\n  base_url: https://rt.example/\n  from: \"RT <no-reply@rt.example>\"\n  reply_to: help@rt.example\n  templates_dir: "+os.TempDir()+"\n"+
		"  smtp: {host: 127.0.0.1, tls: none, insecure_skip_verify: true, username: rt, password_sealed: AQID, timeout: 30s}\n"+
		"  brand: {primary_color: \"#123456\", text_color: \"#fff\", background_color: \"#000\"}\n"), "src")
	if err != nil {
		t.Fatal(err)
	}
	if in.StoreTimeout != 20*time.Second || in.Registration.Enabled {
		t.Fatalf("store_timeout %s, registration %+v; want 20s and closed", in.StoreTimeout, in.Registration)
	}
	if in.SMS.CodeLength != 10 || in.SMS.Message.Source() != "{{.Code}} - {{.Tenant}}" {
		t.Fatalf("sms: %+v", in.SMS)
	}
	if in.Mail.BaseURL != "https://rt.example" || in.Mail.SMTP.Port != 25 || !in.Mail.SMTP.InsecureSkipVerify || in.Mail.TemplatesDir != os.TempDir() {
		t.Fatalf("mail: %+v", in.Mail)
	}
	out, err := config.DecodeTenant(config.EncodeTenant(in), "src")
	if err != nil {
		t.Fatal(err)
	}
	in.Version = ""
	if fmt.Sprintf("%+v", out) != fmt.Sprintf("%+v", in) {
		t.Fatalf("round trip:\n in %+v\nout %+v", in, out)
	}
}

func writeTenant(t *testing.T, dir, name, body string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestTenantDir(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	writeTenant(t, dir, "a.yaml", "id: a\ndomains: [a.example]\n")
	writeTenant(t, dir, "b.yml", "id: b\ndomains: [b.example]\n")
	writeTenant(t, dir, "README.md", "not a tenant")
	writeTenant(t, dir, ".hidden.yaml", "garbage: [")
	d := config.NewTenantDir(dir)
	ts, err := d.Tenants(ctx)
	if err != nil || len(ts) != 2 {
		t.Fatalf("got %d tenants, %v", len(ts), err)
	}

	writeTenant(t, dir, "c.yaml", "id: c\ndomains: [a.example]\n")
	writeTenant(t, dir, "d.yaml", "id: d\ntokens: {access_ttl: soon}\n")
	_, err = d.Tenants(ctx)
	if err == nil {
		t.Fatal("want errors")
	}
	for _, want := range []string{`tenant "c": domain "a.example" already belongs to tenant "a"`, filepath.Join(dir, "d.yaml") + `: tenant "d": tokens.access_ttl`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q missing from %q", want, err)
		}
	}

	if err := os.Remove(filepath.Join(dir, "c.yaml")); err != nil {
		t.Fatal(err)
	}
	writeTenant(t, dir, "d.yaml", "id: d\ndisplay_name: Dee\n")
	ts, err = d.Tenants(ctx)
	if err != nil || len(ts) != 3 {
		t.Fatalf("after fixing: %d tenants, %v", len(ts), err)
	}
	for _, x := range ts {
		if x.ID == "d" && x.DisplayName != "Dee" {
			t.Fatal("a changed file must be re-read")
		}
	}
	if _, err := config.NewTenantDir(filepath.Join(dir, "missing")).Tenants(ctx); err == nil || !strings.Contains(err.Error(), "tenants_dir") {
		t.Fatalf("missing directory: %v", err)
	}
}
