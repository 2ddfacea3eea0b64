package main

import (
	"net/http"
	"os"

	"github.com/google/wire"

	captchaadapter "github.com/portcullis/portcullis/adapters/captcha"
	"github.com/portcullis/portcullis/adapters/crypto/aesgcm"
	"github.com/portcullis/portcullis/adapters/redis"
	"github.com/portcullis/portcullis/application/captcha"
	"github.com/portcullis/portcullis/application/login"
	"github.com/portcullis/portcullis/config"
	"github.com/portcullis/portcullis/domain/tenant"
)

// captchaSet builds a tenant's CAPTCHA service: its provider's verifier,
// its failed-login counts and used tokens in Redis. The login pipeline
// (login.Captcha, its Gate) and the password reset (recovery.Captcha)
// apply it; web.TenantServices carries it for GET /auth/v1/captcha.
var captchaSet = wire.NewSet(
	provideCaptcha,
	provideCaptchaFailures,
	provideCaptchaTokens,
	wire.Bind(new(captcha.Failures), new(*redis.CaptchaFailures)),
	wire.Bind(new(captcha.UsedTokens), new(*redis.CaptchaTokens)),
	wire.Struct(new(captcha.Deps), "*"),
	captcha.New,
	wire.Bind(new(login.Captcha), new(*captcha.Service)),
)

// provideCaptcha returns the verifier of the tenant's CAPTCHA provider,
// its secret read from the environment or opened from its sealed form
// (config.CaptchaSecret); captchaadapter.Disabled for a tenant without a
// provider. A secret that cannot be resolved stops the tenant with an
// error naming it and the field. The verifiers share one HTTP client.
func provideCaptcha(t tenant.Tenant, sealer *aesgcm.Sealer) (captcha.Verifier, error) {
	return newCaptchaVerifier(t, os.LookupEnv, sealer, nil)
}

func newCaptchaVerifier(t tenant.Tenant, lookupEnv func(string) (string, bool), o config.Opener, client *http.Client) (captcha.Verifier, error) {
	secret, err := config.CaptchaSecret(t, lookupEnv, o)
	if err != nil {
		return nil, err
	}
	return captchaadapter.New(t.Captcha, secret, client)
}

func provideCaptchaFailures(t tenant.Tenant, c redis.Client) *redis.CaptchaFailures {
	return redis.NewCaptchaFailures(c, t.ID)
}

func provideCaptchaTokens(t tenant.Tenant, c redis.Client) *redis.CaptchaTokens {
	return redis.NewCaptchaTokens(c, t.ID)
}

// sealCaptchaSecret is the seal-captcha-secret command, for
// captcha.secret_sealed.
var sealCaptchaSecret = sealCommand{name: "seal-captcha-secret", what: "secret", setting: "captcha.secret_sealed", seal: config.SealCaptchaSecret}
