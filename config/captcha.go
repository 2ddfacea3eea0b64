package config

import (
	"maps"
	"slices"
	"time"

	"github.com/portcullis/portcullis/domain/tenant"
)

// captchaSpec is the captcha section of the tenant schema
// (tenant.Captcha).
type captchaSpec struct {
	Provider      string            `mapstructure:"provider"`
	SiteKey       string            `mapstructure:"site_key"`
	SecretEnv     string            `mapstructure:"secret_env"`
	SecretSealed  string            `mapstructure:"secret_sealed"`
	Hostnames     []string          `mapstructure:"hostnames"`
	MinScore      float64           `mapstructure:"min_score"`
	Action        string            `mapstructure:"action"`
	Timeout       time.Duration     `mapstructure:"timeout"`
	OnUnavailable string            `mapstructure:"on_unavailable"`
	VerifyURL     string            `mapstructure:"verify_url"`
	Policy        map[string]string `mapstructure:"policy"`
	AfterFailures afterFailuresSpec `mapstructure:"after_failures"`
}

type afterFailuresSpec struct {
	PerIP      int           `mapstructure:"per_ip"`
	PerAccount int           `mapstructure:"per_account"`
	Window     time.Duration `mapstructure:"window"`
}

func captchaSpecFrom(c tenant.Captcha) captchaSpec {
	policy := make(map[string]string, len(c.Policy))
	for r, m := range c.Policy {
		policy[string(r)] = string(m)
	}
	return captchaSpec{Provider: string(c.Provider), SiteKey: c.SiteKey, SecretEnv: c.SecretEnv, SecretSealed: c.SecretSealed,
		Hostnames: slices.Clone(c.Hostnames), MinScore: c.MinScore, Action: c.Action, Timeout: c.Timeout,
		OnUnavailable: string(c.OnUnavailable), VerifyURL: c.VerifyURL, Policy: policy,
		AfterFailures: afterFailuresSpec{PerIP: c.AfterFailures.PerIP, PerAccount: c.AfterFailures.PerAccount, Window: c.AfterFailures.Window}}
}

// captcha converts the section; an empty list or mapping is read as none
// (nil), so that a tenant reads back the same from its stored document.
func (s captchaSpec) captcha() tenant.Captcha {
	var policy map[tenant.CaptchaRoute]tenant.CaptchaMode
	if len(s.Policy) > 0 {
		policy = make(map[tenant.CaptchaRoute]tenant.CaptchaMode, len(s.Policy))
		for r, m := range s.Policy {
			policy[tenant.CaptchaRoute(r)] = tenant.CaptchaMode(m)
		}
	}
	var hostnames []string
	if len(s.Hostnames) > 0 {
		hostnames = s.Hostnames
	}
	return tenant.Captcha{Provider: tenant.CaptchaProvider(s.Provider), SiteKey: s.SiteKey, SecretEnv: s.SecretEnv,
		SecretSealed: s.SecretSealed, Hostnames: hostnames, MinScore: s.MinScore, Action: s.Action, Timeout: s.Timeout,
		OnUnavailable: tenant.CaptchaFallback(s.OnUnavailable), VerifyURL: s.VerifyURL, Policy: policy,
		AfterFailures: tenant.CaptchaEscalation{PerIP: s.AfterFailures.PerIP, PerAccount: s.AfterFailures.PerAccount, Window: s.AfterFailures.Window}}
}

func (s captchaSpec) document() map[string]any {
	policy := make(map[string]any, len(s.Policy))
	for _, r := range slices.Sorted(maps.Keys(s.Policy)) {
		policy[r] = s.Policy[r]
	}
	return map[string]any{
		"provider": s.Provider, "site_key": s.SiteKey, "secret_env": s.SecretEnv, "secret_sealed": s.SecretSealed,
		"hostnames": orEmpty(s.Hostnames), "min_score": s.MinScore, "action": s.Action, "timeout": s.Timeout.String(),
		"on_unavailable": s.OnUnavailable, "verify_url": s.VerifyURL, "policy": policy,
		"after_failures": map[string]any{"per_ip": s.AfterFailures.PerIP, "per_account": s.AfterFailures.PerAccount,
			"window": s.AfterFailures.Window.String()},
	}
}

// captchaSecretAD binds a sealed CAPTCHA secret to its tenant and field: a
// sealed value copied into another tenant's configuration does not open.
func captchaSecretAD(tenantID string) []byte {
	return []byte("portcullis/tenant/" + tenantID + "/captcha.secret")
}

// SealCaptchaSecret seals a CAPTCHA provider's secret for the tenant's
// captcha.secret_sealed.
func SealCaptchaSecret(s Sealer, tenantID, secret string) (string, error) {
	return sealSecret(s, captchaSecretAD(tenantID), secret)
}

// CaptchaSecret resolves the tenant's CAPTCHA secret when its services are
// built, as SMSAuthToken does the SMS token: from the environment variable
// captcha.secret_env names (lookupEnv is os.LookupEnv outside tests), or
// by opening captcha.secret_sealed. It is "" for a tenant without a
// provider. An unset or empty variable, or a sealed value that does not
// open, is a configuration error naming the tenant and field; no error
// carries the secret.
func CaptchaSecret(t tenant.Tenant, lookupEnv func(string) (string, bool), o Opener) (string, error) {
	c := t.Captcha
	if !c.Configured() {
		return "", nil
	}
	return secretRef{tenantID: t.ID, field: "captcha.secret", env: c.SecretEnv, sealed: c.SecretSealed,
		ad: captchaSecretAD(t.ID)}.resolve(lookupEnv, o)
}
