package seed002

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/portcullis/portcullis/adapters/http/web"
	"github.com/portcullis/portcullis/application/adminlogin"
	"github.com/portcullis/portcullis/application/captcha"
	"github.com/portcullis/portcullis/application/login"
	"github.com/portcullis/portcullis/application/mfa"
	"github.com/portcullis/portcullis/application/otp"
	"github.com/portcullis/portcullis/application/session"
	"github.com/portcullis/portcullis/application/throttle"
	"github.com/portcullis/portcullis/domain/errs"
	"github.com/portcullis/portcullis/domain/identity"
	"github.com/portcullis/portcullis/domain/tenant"
)

// app is a server with the profile's error table and the tenant t, whose
// route GET /fail answers err and the profile's routes as Register adds
// them; anything else is the platform's 404.
func app(t tenant.Tenant, err error) *fiber.App {
	a := fiber.New(fiber.Config{ErrorHandler: web.ErrorHandler(slog.New(slog.DiscardHandler))})
	rt := &web.TenantServices{Tenant: t}
	a.Use(func(c *fiber.Ctx) error {
		c.SetUserContext(web.WithTenant(c.UserContext(), rt))
		return c.Next()
	})
	a.Get("/fail", enabled(func(*fiber.Ctx) error { return err }))
	Register(a)
	a.Use(func(*fiber.Ctx) error { return errs.ErrNotFound })
	return a
}

func seed002Tenant(on bool) tenant.Tenant {
	t := tenant.Default()
	t.ID = "shop"
	t.Profiles.Seed002 = on
	return t
}

func do(t *testing.T, a *fiber.App, req *http.Request) (int, http.Header, string) {
	t.Helper()
	resp, err := a.Test(req, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(body)
}

// TestEveryRefusalHasTheSeedsBody: each core error a route meets is
// answered with the seed's status and exact body.
func TestEveryRefusalHasTheSeedsBody(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		err    error
		status int
		body   string
		retry  string
	}{
		{"wrong credentials", login.ErrInvalidCredentials, 401, `{"error":"Invalid credentials"}`, ""},
		{"pending activation", adminlogin.ErrActivationPending, 403, `{"error":"If an account exists and requires activation, an OTP has been sent."}`, ""},
		{"a code within the cooldown", otp.ErrCooldown.WithRetryAfter(42), 429, `{"error":"Please wait before requesting another OTP"}`, "42"},
		{"the codes of the day", otp.ErrDailyCap.WithRetryAfter(3600), 429, `{"error":"Please wait before requesting another OTP"}`, "3600"},
		{"no such account", adminlogin.ErrUserNotFound, 404, `{"error":"User Not Found"}`, ""},
		{"a wrong code", otp.ErrInvalid, 404, `{"error":"User OTP Is Not Correct"}`, ""},
		{"a used or expired code", otp.ErrExpired, 404, `{"error":"User OTP Is Not Correct"}`, ""},
		{"a dead code", otp.ErrExhausted, 404, `{"error":"User OTP Is Not Correct"}`, ""},
		{"no token", session.ErrUnauthenticated, 401, `{"error":"Missing token on header!"}`, ""},
		{"a dead token", session.ErrInvalidToken, 401, `{"error":"token is not active!"}`, ""},
		{"not an admin", adminlogin.ErrAccessDenied, 403, `{"error":"Access denied!"}`, ""},
		{"no second factor code", login.ErrMFARequired.WithExtensions(map[string]any{"mfa_token": "secret-token"}), 401, `{"error":"Second factor code required"}`, ""},
		{"a wrong second factor code", mfa.ErrInvalidCode, 401, `{"error":"Second factor code is not correct"}`, ""},
		{"a second factor to set up", login.ErrMFAEnrolmentRequired, 403, `{"error":"Two-step verification must be set up before signing in"}`, ""},
		{"fields", errs.InvalidFields(errs.FieldError{Field: "email", Reason: "is required"}, errs.FieldError{Field: "password", Reason: "is required"}),
			400, `{"error":"email: is required; password: is required"}`, ""},
		{"too many attempts", throttle.ErrThrottled.WithRetryAfter(7), 429, `{"error":"Too many attempts. Try again later."}`, "7"},
		{"method disabled", login.ErrMethodDisabled, 403, `{"error":"This sign-in method is not enabled for this tenant."}`, ""},
		{"no CAPTCHA", captcha.ErrCaptchaRequired, 400, `{"error":"Invalid Captcha"}`, ""},
		{"a refused CAPTCHA", captcha.ErrCaptchaInvalid, 400, `{"error":"Invalid Captcha"}`, ""},
		{"the CAPTCHA provider away", captcha.ErrCaptchaUnavailable, 503, `{"error":"The CAPTCHA cannot be checked right now; try again later."}`, "5"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			status, h, body := do(t, app(seed002Tenant(true), tc.err), httptest.NewRequest(http.MethodGet, "/fail", nil))
			if status != tc.status || body != tc.body || h.Get("Retry-After") != tc.retry {
				t.Fatalf("%d %s (Retry-After %q); want %d %s (%q)", status, body, h.Get("Retry-After"), tc.status, tc.body, tc.retry)
			}
			if ct := h.Get("Content-Type"); ct != "application/json" {
				t.Fatalf("Content-Type %q", ct)
			}
		})
	}
}

// TestTheRoutesAreServedOnlyWithTheProfile: without profiles.seed002 the
// paths are the platform's 404; with it, both path forms answer, and a
// request the handler refuses before any use case has the seed's shape.
func TestTheRoutesAreServedOnlyWithTheProfile(t *testing.T) {
	t.Parallel()
	off, on := app(seed002Tenant(false), nil), app(seed002Tenant(true), nil)
	for _, path := range []string{"/v1/accounts/me", "/v1/accounts/me/"} {
		if status, _, body := do(t, off, httptest.NewRequest(http.MethodGet, path, nil)); status != 404 || strings.Contains(body, "token") {
			t.Fatalf("%s without the profile: %d %s", path, status, body)
		}
		if status, _, body := do(t, on, httptest.NewRequest(http.MethodGet, path, nil)); status != 401 || body != `{"error":"Missing token on header!"}` {
			t.Fatalf("%s without a token: %d %s", path, status, body)
		}
	}
	for _, path := range []string{"/v1/accounts/login/admin", "/v1/accounts/login/admin/", "/v1/accounts/otp/user/", "/v1/accounts/resend/otp/user/"} {
		req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(`{"email": "a@example.com",`))
		req.Header.Set("Content-Type", "application/json")
		if status, _, body := do(t, on, req); status != 400 || body != `{"error":"body: is not valid JSON"}` {
			t.Fatalf("%s with a broken body: %d %s", path, status, body)
		}
		req = httptest.NewRequest(http.MethodPost, path, strings.NewReader(`{"email": 7}`))
		req.Header.Set("Content-Type", "application/json")
		if status, _, body := do(t, on, req); status != 400 || body != `{"error":"email: must be a string, got number"}` {
			t.Fatalf("%s with a number for the address: %d %s", path, status, body)
		}
	}
}

// TestTheTokenIsReadFromTheTokenScheme: only "Authorization: Token <t>"
// presents a token; no header, another scheme, or no token is missing.
func TestTheTokenIsReadFromTheTokenScheme(t *testing.T) {
	t.Parallel()
	a := fiber.New()
	a.Get("/", func(c *fiber.Ctx) error {
		tok, err := presented(c)
		if err != nil {
			return c.SendString("missing")
		}
		return c.SendString("token " + tok)
	})
	for header, want := range map[string]string{
		"":                   "missing",
		"Token abc123":       "token abc123",
		"token  abc123 ":     "token abc123",
		"TOKEN abc123":       "token abc123",
		"Token":              "missing",
		"Token   ":           "missing",
		"Bearer abc123":      "missing",
		"abc123":             "missing",
		"Basic dXNlcjpwYXNz": "missing",
		"Tokenabc123":        "missing",
	} {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		if header != "" {
			req.Header.Set("Authorization", header)
		}
		if _, _, got := do(t, a, req); got != want {
			t.Errorf("Authorization %q: %q, want %q", header, got, want)
		}
	}
}

// TestTheUserHasTheSeedsFieldsAndRoleCodes: the user object's fields in
// the seed's order, the time in UTC seconds, the roles as the seed's
// codes (staff as the seed's store) and a tenant's own role by name.
func TestTheUserHasTheSeedsFieldsAndRoleCodes(t *testing.T) {
	t.Parallel()
	u := identity.User{ID: "u1", FirstName: "Admin", LastName: "User", Email: "admin@example.com", Phone: "+994501234567",
		ProfilePhoto: "https://cdn.example.com/a.jpg", PreferredLanguage: "AZERBAIJANI", Role: identity.RoleAdmin,
		CreatedAt: time.Date(2025, 1, 15, 14, 30, 0, 123, time.FixedZone("AZT", 4*3600))}
	b, err := json.Marshal(loginAnswer{AccessToken: "t0k3n", User: userJSON(u)})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"access_token":"t0k3n","user":{"id":"u1","first_name":"Admin","last_name":"User","email":"admin@example.com",` +
		`"phone":"+994501234567","profile_photo":"https://cdn.example.com/a.jpg","preferred_language":"AZERBAIJANI","role":"2","created":"2025-01-15T10:30:00Z"}}`
	if string(b) != want {
		t.Fatalf("%s\nwant\n%s", b, want)
	}
	for role, code := range map[identity.Role]string{identity.RoleUser: "1", identity.RoleAdmin: "2", identity.RoleStaff: "3", "support": "support"} {
		if got := roleCode(role); got != code {
			t.Errorf("role %s: %q, want %q", role, got, code)
		}
	}
	empty, _ := json.Marshal(userJSON(identity.User{ID: "u2", Role: identity.RoleAdmin}))
	if !strings.Contains(string(empty), `"phone":"","profile_photo":"","preferred_language":""`) {
		t.Fatalf("a user without them: %s", empty)
	}
}
