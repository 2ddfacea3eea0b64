package config

import (
	"encoding/base64"
	"strings"

	"github.com/portcullis/portcullis/domain/tenant"
)

// smsProviderSpec is the sms.provider section of the tenant schema.
type smsProviderSpec struct {
	Kind                string `mapstructure:"kind"`
	BaseURL             string `mapstructure:"base_url"`
	AccountSID          string `mapstructure:"account_sid"`
	AuthTokenEnv        string `mapstructure:"auth_token_env"`
	AuthTokenSealed     string `mapstructure:"auth_token_sealed"`
	From                string `mapstructure:"from"`
	MessagingServiceSID string `mapstructure:"messaging_service_sid"`
}

func smsProviderSpecFrom(p tenant.SMSProvider) smsProviderSpec {
	return smsProviderSpec{Kind: string(p.Kind), BaseURL: p.BaseURL, AccountSID: p.AccountSID, AuthTokenEnv: p.AuthTokenEnv,
		AuthTokenSealed: p.AuthTokenSealed, From: p.From, MessagingServiceSID: p.MessagingServiceSID}
}

func (s smsProviderSpec) provider() tenant.SMSProvider {
	return tenant.SMSProvider{Kind: tenant.SMSProviderKind(s.Kind), BaseURL: s.BaseURL, AccountSID: s.AccountSID, AuthTokenEnv: s.AuthTokenEnv,
		AuthTokenSealed: s.AuthTokenSealed, From: s.From, MessagingServiceSID: s.MessagingServiceSID}
}

func (s smsProviderSpec) document() map[string]any {
	return map[string]any{"kind": s.Kind, "base_url": s.BaseURL, "account_sid": s.AccountSID, "auth_token_env": s.AuthTokenEnv,
		"auth_token_sealed": s.AuthTokenSealed, "from": s.From, "messaging_service_sid": s.MessagingServiceSID}
}

// CheckSMSProvider applies the rule tenant validation cannot, because it
// depends on the platform: outside dev mode, a tenant that enables sms_otp
// must have an SMS provider (in dev mode the outbox stands in for one). The
// tenant build calls it before building the tenant's SMS sender.
func CheckSMSProvider(t tenant.Tenant, devMode bool) error {
	if devMode || !t.Enabled(tenant.MethodSMSOTP) || t.SMSProvider.Configured() {
		return nil
	}
	return &tenant.ValidationError{Tenant: t.ID, Problems: []tenant.Problem{{Field: "sms.provider.kind",
		Reason: "is required outside dev mode: login_methods enables sms_otp, and without a provider no code can be sent"}}}
}

// Opener opens secrets sealed under the master key (aesgcm.Sealer).
type Opener interface {
	Open(ciphertext, additionalData []byte) ([]byte, error)
}

// Sealer seals secrets under the master key (aesgcm.Sealer).
type Sealer interface {
	Seal(plaintext, additionalData []byte) ([]byte, error)
}

// smsTokenAD binds a sealed SMS token to its tenant and field: a sealed
// value copied into another tenant's configuration does not open.
func smsTokenAD(tenantID string) []byte {
	return []byte("portcullis/tenant/" + tenantID + "/sms.provider.auth_token")
}

// SealSMSAuthToken seals an SMS provider token for the tenant's
// sms.provider.auth_token_sealed.
func SealSMSAuthToken(s Sealer, tenantID, token string) (string, error) {
	return sealSecret(s, smsTokenAD(tenantID), token)
}

// SMSAuthToken resolves the tenant's SMS provider token when its services
// are built: from the environment variable sms.provider.auth_token_env
// names (lookupEnv is os.LookupEnv outside tests), or by opening
// sms.provider.auth_token_sealed. A variable that is unset or empty, or a
// sealed value that does not open, is a configuration error naming the
// tenant and field; no error carries the token.
func SMSAuthToken(t tenant.Tenant, lookupEnv func(string) (string, bool), o Opener) (string, error) {
	p := t.SMSProvider
	if !p.Configured() {
		return "", nil
	}
	return secretRef{tenantID: t.ID, field: "sms.provider.auth_token", env: p.AuthTokenEnv, sealed: p.AuthTokenSealed,
		ad: smsTokenAD(t.ID)}.resolve(lookupEnv, o)
}

// sealSecret seals a credential under the master key, bound to ad (its
// tenant and field), as base64 for a *_sealed setting.
func sealSecret(s Sealer, ad []byte, secret string) (string, error) {
	ct, err := s.Seal([]byte(secret), ad)
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(ct), nil
}

// secretRef is a credential a tenant configuration names: the variable
// field+"_env" names, or the value field+"_sealed" holds, sealed with ad.
type secretRef struct {
	tenantID, field string
	env, sealed     string
	ad              []byte
}

// resolve returns the credential. An unset or empty variable, or a sealed
// value that does not open, is a configuration error naming the tenant and
// field; no error carries the credential.
func (r secretRef) resolve(lookupEnv func(string) (string, bool), o Opener) (string, error) {
	fail := func(suffix, reason string) error {
		return &tenant.ValidationError{Tenant: r.tenantID, Problems: []tenant.Problem{{Field: r.field + suffix, Reason: reason}}}
	}
	switch {
	case r.env != "":
		v, ok := lookupEnv(r.env)
		if !ok {
			return "", fail("_env", "environment variable "+r.env+" is not set")
		}
		if v == "" {
			return "", fail("_env", "environment variable "+r.env+" is empty")
		}
		return v, nil
	case r.sealed != "":
		ct, err := base64.StdEncoding.DecodeString(r.sealed)
		if err != nil {
			return "", fail("_sealed", "is not base64")
		}
		if o == nil {
			return "", fail("_sealed", "cannot be opened: no master key")
		}
		pt, err := o.Open(ct, r.ad)
		if err != nil {
			return "", fail("_sealed", "does not open under the master key (sealed for another tenant or key, or altered)")
		}
		return string(pt), nil
	}
	return "", fail("_env", "is required (or "+r.field[strings.LastIndexByte(r.field, '.')+1:]+"_sealed)")
}
