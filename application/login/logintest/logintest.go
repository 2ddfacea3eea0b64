// Package logintest builds a tenant's login pipeline for the unit tests of
// the login methods: in-memory places, second factors, challenges,
// limiter and CAPTCHA counts around the users and sessions a test brings.
package logintest

import (
	"crypto/rand"
	"log/slog"
	"testing"

	"github.com/portcullis/portcullis/application/account"
	"github.com/portcullis/portcullis/application/audit/audittest"
	"github.com/portcullis/portcullis/application/captcha"
	"github.com/portcullis/portcullis/application/captcha/captchatest"
	"github.com/portcullis/portcullis/application/device"
	"github.com/portcullis/portcullis/application/device/devicetest"
	"github.com/portcullis/portcullis/application/login"
	"github.com/portcullis/portcullis/application/mfa/mfatest"
	"github.com/portcullis/portcullis/application/otp"
	"github.com/portcullis/portcullis/application/otp/otptest"
	"github.com/portcullis/portcullis/application/platform"
	"github.com/portcullis/portcullis/application/session"
	"github.com/portcullis/portcullis/application/throttle/throttletest"
	"github.com/portcullis/portcullis/domain/tenant"
)

// Options are what a test brings to the pipeline; Places, Mail and Audit
// may be left nil (fresh in-memory places, a mail port that drops
// everything, a fresh audit recorder).
type Options struct {
	Users  account.Users
	Issuer *session.Issuer
	Clock  platform.Clock
	Places *device.Service
	Mail   login.Mail
	// Audit receives the pipeline's audit events and its second factor's;
	// a method's test passes its own to see the method's too.
	Audit *audittest.Recorder
	// Verifier is the tenant's CAPTCHA provider; nil for none (a route
	// that asks is then unavailable).
	Verifier captcha.Verifier
	// FirstSignIns remembers who signed in; nil: a fresh in-memory one.
	FirstSignIns *MemoryFirstSignIns
	// Storefront merges a guest's cart at sign-in; nil for none. Log is
	// the pipeline's (nil: slog's default).
	Storefront login.Storefront
	Log        *slog.Logger
}

// Pipeline is a tenant's pipeline and the parts a test looks into.
type Pipeline struct {
	*login.Pipeline
	// Factors is the tenant's second factor on in-memory stores.
	Factors mfatest.Fixture
	Places  *device.Service
	// Audit holds the audit events recorded.
	Audit *audittest.Recorder
	// Captcha is the tenant's CAPTCHA service, its failed-login counts in
	// Failures.
	Captcha  *captcha.Service
	Failures *captchatest.MemoryFailures
	// FirstSignIns remembers who signed in.
	FirstSignIns *MemoryFirstSignIns
}

// New returns tenant t's pipeline.
func New(tb testing.TB, t tenant.Tenant, o Options) Pipeline {
	tb.Helper()
	if o.Places == nil {
		o.Places = devicetest.NewService(tb, t, o.Clock)
	}
	if o.Mail == nil {
		o.Mail = mfatest.Discard{}
	}
	if o.Audit == nil {
		o.Audit = audittest.NewRecorder()
	}
	if o.FirstSignIns == nil {
		o.FirstSignIns = NewMemoryFirstSignIns()
	}
	limiter := throttletest.NewMemoryLimiter(o.Clock)
	factors := mfatest.NewFixture(tb, t, o.Clock, limiter, o.Mail, nil, o.Audit)
	key, err := otp.DeriveKey([]byte("a master key of at least sixteen bytes"), t.ID)
	if err != nil {
		tb.Fatal(err)
	}
	challenges := otp.New(t.ID, key, otptest.NewMemoryStore(o.Clock), o.Clock, rand.Reader)
	failures := captchatest.NewMemoryFailures(o.Clock)
	gate := captcha.New(t, captcha.Deps{Verifier: o.Verifier, Failures: failures, Used: captchatest.NewMemoryUsedTokens(o.Clock)})
	p := login.New(t, login.Deps{Users: o.Users, Issuer: o.Issuer, Places: o.Places, Mail: o.Mail, Factors: factors.Service,
		Challenges: challenges, Limiter: limiter, Audit: o.Audit, Captcha: gate, FirstSignIns: o.FirstSignIns, Clock: o.Clock,
		Storefront: o.Storefront, Log: o.Log})
	return Pipeline{Pipeline: p, Factors: factors, Places: o.Places, Audit: o.Audit, Captcha: gate, Failures: failures,
		FirstSignIns: o.FirstSignIns}
}
