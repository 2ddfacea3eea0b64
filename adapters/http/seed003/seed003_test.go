package seed003

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/portcullis/portcullis/adapters/http/web"
	"github.com/portcullis/portcullis/application/captcha"
	"github.com/portcullis/portcullis/application/login"
	"github.com/portcullis/portcullis/application/mfa"
	"github.com/portcullis/portcullis/application/otp"
	"github.com/portcullis/portcullis/application/password"
	"github.com/portcullis/portcullis/application/smslogin"
	"github.com/portcullis/portcullis/domain/errs"
	"github.com/portcullis/portcullis/domain/identity"
	"github.com/portcullis/portcullis/domain/tenant"
)

// app is a server with the tenant t, whose routes /fail/{table} answer
// err in the profile's error tables, and the profile's routes as Register
// adds them; anything else is the platform's 404.
func app(t tenant.Tenant, err error) *fiber.App {
	a := fiber.New(fiber.Config{ErrorHandler: web.ErrorHandler(slog.New(slog.DiscardHandler))})
	rt := &web.TenantServices{Tenant: t}
	a.Use(func(c *fiber.Ctx) error {
		c.SetUserContext(web.WithTenant(c.UserContext(), rt))
		return c.Next()
	})
	fail := func(*fiber.Ctx) error { return err }
	for name, table := range map[string]*web.ErrorTable{"login": loginErrors, "tfa": tfaErrors, "mobile": mobileErrors} {
		a.Post("/fail/"+name, enabled(route{handle: fail, errors: table}))
	}
	Register(a)
	a.Use(func(*fiber.Ctx) error { return errs.ErrNotFound })
	return a
}

func seed003Tenant(on bool, provider tenant.CaptchaProvider) tenant.Tenant {
	t := tenant.Default()
	t.ID = "shop"
	t.Profiles.Seed003 = on
	t.Captcha.Provider = provider
	return t
}

func post(t *testing.T, a *fiber.App, path string) (int, http.Header, string) {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(`{}`))
	req.Header.Set("Content-Type", "application/json")
	resp, err := a.Test(req, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(body)
}

// TestErrorTables: each code a client of the seed meets, in each route's
// table, with its status and exact body.
func TestErrorTables(t *testing.T) {
	t.Parallel()
	challenge := login.ErrMFARequired.WithExtensions(map[string]any{"mfa_token": "tok", "mfa_expires_at": "2026-12-06T00:00:00Z"})
	cases := []struct {
		name, table string
		err         error
		status      int
		body        string
	}{
		{"wrong credentials", "login", login.ErrInvalidCredentials, 401, `{"title":"Invalid Credentials"}`},
		{"no CAPTCHA", "login", captcha.ErrCaptchaRequired, 400, `{"title":"Invalid Captcha"}`},
		{"a refused CAPTCHA", "login", captcha.ErrCaptchaInvalid, 400, `{"title":"Invalid Captcha"}`},
		{"the CAPTCHA provider away", "login", captcha.ErrCaptchaUnavailable, 503, `{"title":"Captcha verification is unavailable, try again later"}`},
		{"a second factor at v2", "login", challenge, 401, `{"title":"Two-factor authentication required"}`},
		{"a second factor at login-tfa", "tfa", challenge, 200,
			`{"access_token":"2f.tok","username":"","status":1,"ccnt":0,"cart":{"items":[]},"wishlist":[],"is_first_time_login":false}`},
		{"a second factor to set up", "tfa", login.ErrMFAEnrolmentRequired, 403, `{"title":"Two-factor authentication must be set up before signing in"}`},
		{"a bad 2f. token", "login", login.ErrMFATokenInvalid, 401, `{"title":"Invalid or expired token"}`},
		{"a wrong code", "login", mfa.ErrInvalidCode, 401, `{"title":"Invalid Code"}`},
		{"a dead challenge", "login", login.ErrMFAAttemptsExceeded, 401, `{"title":"Too many incorrect attempts"}`},
		{"a wrong SMS code", "login", otp.ErrInvalid, 401, `{"title":"Invalid OTP"}`},
		{"a used SMS code", "login", otp.ErrExpired, 401, `{"title":"OTP expired"}`},
		{"a dead SMS code", "login", otp.ErrExhausted, 401, `{"title":"Too many incorrect attempts"}`},
		{"the daily cap", "mobile", otp.ErrDailyCap.WithRetryAfter(60), 429, `{"title":"Maximum OTP requests reached for today"}`},
		{"a number without an account", "mobile", smslogin.ErrUnknownPhone, 200,
			`{"message":"Mobile number is not registered","otp_sent":false,"is_registered":false}`},
		{"a taken address", "login", identity.ErrEmailTaken, 400, `{"title":"Email already registered"}`},
		{"a taken number", "login", identity.ErrPhoneTaken, 400, `{"title":"Mobile number already registered"}`},
		{"a bad address", "login", errs.InvalidFields(errs.FieldError{Field: "email", Reason: "is required"}), 400, `{"title":"Enter a valid email address"}`},
		{"a bad number", "mobile", errs.InvalidFields(errs.FieldError{Field: "phone", Reason: "is not a mobile number"}), 400, `{"title":"Invalid Phone"}`},
		{"fields", "login", errs.InvalidFields(errs.FieldError{Field: "first_name", Reason: "is required"}, errs.FieldError{Field: "password", Reason: "is too short"}),
			400, `{"title":"firstname: is required; password: is too short"}`},
		{"closed sign-up", "login", password.ErrRegistrationDisabled, 403, `{"title":"Sign-up is closed for this tenant."}`},
		{"an outage", "login", errs.ErrUnavailable, 503, `{"title":"The service is temporarily unavailable."}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			status, h, body := post(t, app(seed003Tenant(true, ""), tc.err), "/fail/"+tc.table)
			if status != tc.status || body != tc.body {
				t.Fatalf("%d %s, want %d %s", status, body, tc.status, tc.body)
			}
			if h.Get("Cache-Control") != "no-store" {
				t.Fatalf("Cache-Control %q, want no-store", h.Get("Cache-Control"))
			}
		})
	}
}

// TestRoutesOfATenantWithoutTheProfileAreNotServed: the profile off, and
// v3 on a tenant without a CAPTCHA provider, end in the platform's 404.
func TestRoutesOfATenantWithoutTheProfileAreNotServed(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		t    tenant.Tenant
		path string
	}{
		{"profile off", seed003Tenant(false, tenant.CaptchaTurnstile), "/api/v2/login"},
		{"profile off, v3", seed003Tenant(false, tenant.CaptchaTurnstile), "/api/v3/login"},
		{"v3 without a provider", seed003Tenant(true, tenant.CaptchaNone), "/api/v3/login"},
	} {
		status, _, body := post(t, app(tc.t, nil), tc.path)
		if status != http.StatusNotFound || !strings.Contains(body, `"code":"not_found"`) {
			t.Errorf("%s: %d %s, want the platform's 404", tc.name, status, body)
		}
	}
}

func TestNationalMobile(t *testing.T) {
	t.Parallel()
	if m, err := nationalMobile(" 5321112233 "); err != nil || m != "5321112233" {
		t.Fatalf("%q, %v", m, err)
	}
	for _, m := range []string{"", "532111223", "05321112233", "+905321112233", "532 111 2233", "５３２１１１２２３３"} {
		if _, err := nationalMobile(m); err == nil {
			t.Errorf("%q accepted", m)
		}
	}
}

func TestCheckDetails(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	if err := checkDetails("", "", "", now); err != nil {
		t.Fatalf("none: %v", err)
	}
	if err := checkDetails("female", "1990-04-01", "FRIEND_10-x", now); err != nil {
		t.Fatalf("valid: %v", err)
	}
	for name, c := range map[string][3]string{
		"a long gender":          {strings.Repeat("x", 33), "", ""},
		"a date of another form": {"", "01/04/1990", ""},
		"no such date":           {"", "1990-02-30", ""},
		"before 1900":            {"", "1899-12-31", ""},
		"in the future":          {"", "2026-12-07", ""},
		"a code with a space":    {"", "", "FRIEND 10"},
		"a code too long":        {"", "", strings.Repeat("a", 65)},
	} {
		if err := checkDetails(c[0], c[1], c[2], now); errs.KindOf(err) != errs.Invalid || len(errs.As(err).Fields) != 1 {
			t.Errorf("%s: %v, want one field error", name, err)
		}
	}
}
