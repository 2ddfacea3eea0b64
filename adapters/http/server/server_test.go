package server_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/portcullis/portcullis/adapters/http/server"
	"github.com/portcullis/portcullis/adapters/http/web"
	"github.com/portcullis/portcullis/adapters/outbox"
	"github.com/portcullis/portcullis/application/keyring"
	"github.com/portcullis/portcullis/application/keyring/keyringtest"
	"github.com/portcullis/portcullis/application/platform"
	"github.com/portcullis/portcullis/application/platform/platformtest"
	"github.com/portcullis/portcullis/domain/errs"
	"github.com/portcullis/portcullis/domain/message"
	"github.com/portcullis/portcullis/domain/tenant"
)

type nopSealer struct{}

func (nopSealer) Seal(p, _ []byte) ([]byte, error) { return append([]byte(nil), p...), nil }
func (nopSealer) Open(c, _ []byte) ([]byte, error) { return append([]byte(nil), c...), nil }

type wallClock struct{}

func (wallClock) Now() time.Time { return time.Now() }

// fakeResolver serves tenants by Host; "panic.example" panics.
type fakeResolver struct {
	tenants map[string]*web.TenantServices
}

func (f *fakeResolver) Resolve(_ context.Context, host, id string) (*web.TenantServices, error) {
	if host == "panic.example" {
		panic("resolver exploded with secret s3cr3t")
	}
	if rt, ok := f.tenants[host]; ok {
		return rt, nil
	}
	if rt, ok := f.tenants[id]; ok {
		return rt, nil
	}
	return nil, errs.ErrTenantNotFound
}

func runtimeFor(id string) *web.TenantServices {
	t := tenant.Default()
	t.ID = id
	return &web.TenantServices{Tenant: t, Keys: keyring.New(id, keyringtest.NewMemoryStore(), nopSealer{}, wallClock{}, rand.Reader, keyring.Policy{})}
}

func newServer(t *testing.T, opts server.Options) (*server.Server, *platformtest.LogBuffer) {
	t.Helper()
	logs := &platformtest.LogBuffer{}
	opts.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if opts.Resolver == nil {
		opts.Resolver = &fakeResolver{tenants: map[string]*web.TenantServices{"shop.example": runtimeFor("shop"), "other.example": runtimeFor("other")}}
	}
	return server.New(opts), logs
}

func do(t *testing.T, s *server.Server, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	resp, err := s.App().Test(req, 10_000)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	return resp, body
}

type problem struct {
	Type      string `json:"type"`
	Title     string `json:"title"`
	Detail    string `json:"detail"`
	Code      string `json:"code"`
	RequestID string `json:"request_id"`
	Status    int    `json:"status"`
}

func decodeProblem(t *testing.T, resp *http.Response, body []byte) problem {
	t.Helper()
	if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("content type %q, body %s", ct, body)
	}
	var p problem
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatal(err)
	}
	if p.Status != resp.StatusCode {
		t.Fatalf("body status %d, response %d", p.Status, resp.StatusCode)
	}
	return p
}

func TestUnknownTenantIsProblem404(t *testing.T) {
	t.Parallel()
	s, _ := newServer(t, server.Options{})
	req := httptest.NewRequest(http.MethodGet, "/.well-known/jwks.json", nil)
	req.Host = "nobody.example"
	resp, body := do(t, s, req)
	p := decodeProblem(t, resp, body)
	if resp.StatusCode != 404 || p.Code != "tenant_not_found" || p.Type != "urn:portcullis:problem:tenant_not_found" || p.RequestID == "" {
		t.Fatalf("%d %+v", resp.StatusCode, p)
	}
	if p.RequestID != resp.Header.Get("X-Request-ID") {
		t.Fatal("the problem must quote the response's request id")
	}
}

func TestJWKSPerTenant(t *testing.T) {
	t.Parallel()
	s, _ := newServer(t, server.Options{})
	kid := func(host string) string {
		req := httptest.NewRequest(http.MethodGet, "/.well-known/jwks.json", nil)
		req.Host = host
		resp, body := do(t, s, req)
		if resp.StatusCode != 200 || resp.Header.Get("Cache-Control") == "" {
			t.Fatalf("%d %s", resp.StatusCode, body)
		}
		var set struct {
			Keys []struct{ Kty, Crv, X, Kid, Alg, Use string }
		}
		if err := json.Unmarshal(body, &set); err != nil || len(set.Keys) != 1 {
			t.Fatalf("%s %v", body, err)
		}
		k := set.Keys[0]
		if k.Kty != "OKP" || k.Crv != "Ed25519" || k.Alg != "EdDSA" || k.Use != "sig" || k.X == "" || k.Kid == "" {
			t.Fatalf("%+v", k)
		}
		return k.Kid
	}
	a, b := kid("shop.example"), kid("other.example")
	if a == b {
		t.Fatal("two tenants share a signing key")
	}
	if kid("shop.example") != a {
		t.Fatal("the key changed between requests")
	}
}

func TestRequestIDIsEchoedWhenSaneAndReplacedOtherwise(t *testing.T) {
	t.Parallel()
	s, _ := newServer(t, server.Options{})
	req := httptest.NewRequest(http.MethodGet, "/healthz", nil)
	req.Header.Set("X-Request-ID", "abc-123")
	resp, _ := do(t, s, req)
	if resp.Header.Get("X-Request-ID") != "abc-123" {
		t.Fatalf("got %q", resp.Header.Get("X-Request-ID"))
	}
	req = httptest.NewRequest(http.MethodGet, "/healthz", nil)
	req.Header.Set("X-Request-ID", "<script>alert(1)</script>")
	resp, _ = do(t, s, req)
	if got := resp.Header.Get("X-Request-ID"); got == "" || strings.Contains(got, "<") {
		t.Fatalf("got %q", got)
	}
}

func TestPanicBecomesGeneric500AndIsLogged(t *testing.T) {
	t.Parallel()
	s, logs := newServer(t, server.Options{})
	req := httptest.NewRequest(http.MethodGet, "/.well-known/jwks.json", nil)
	req.Host = "panic.example"
	resp, body := do(t, s, req)
	p := decodeProblem(t, resp, body)
	if resp.StatusCode != 500 || p.Code != "internal" {
		t.Fatalf("%d %+v", resp.StatusCode, p)
	}
	if strings.Contains(string(body), "s3cr3t") || strings.Contains(string(body), "goroutine") {
		t.Fatalf("panic details leaked to the client: %s", body)
	}
	if !strings.Contains(logs.String(), "panic in handler") || !strings.Contains(logs.String(), `"status":500`) {
		t.Fatalf("panic not logged: %s", logs)
	}
}

func TestReadiness(t *testing.T) {
	t.Parallel()
	ok := server.Check{Name: "mongodb", Ping: func(context.Context) error { return nil }}
	down := server.Check{Name: "redis", Ping: func(context.Context) error { return errors.New("dial tcp: refused") }}

	s, _ := newServer(t, server.Options{Checks: []server.Check{ok}})
	resp, body := do(t, s, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"mongodb":"ok"`) {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}

	s, logs := newServer(t, server.Options{Checks: []server.Check{ok, down}})
	resp, body = do(t, s, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	p := decodeProblem(t, resp, body)
	if resp.StatusCode != 503 || p.Code != "unavailable" || !strings.Contains(p.Detail, "redis") || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("%d %+v", resp.StatusCode, p)
	}
	if strings.Contains(string(body), "refused") {
		t.Fatal("dependency errors belong in the log, not the response")
	}
	if !strings.Contains(logs.String(), "readiness check failed") {
		t.Fatal("failure not logged")
	}
	if resp, _ := do(t, s, httptest.NewRequest(http.MethodGet, "/healthz", nil)); resp.StatusCode != 200 {
		t.Fatal("liveness must not depend on dependencies")
	}
}

func TestOversizedInputIsRefusedWith4xx(t *testing.T) {
	t.Parallel()
	s, _ := newServer(t, server.Options{BodyLimit: 1024})
	// Over a real connection: the header limit is enforced while reading.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = s.Serve(ln) }()
	t.Cleanup(func() { _ = s.Shutdown(context.Background()) })
	header := func(size int) (*http.Response, error) {
		req, _ := http.NewRequest(http.MethodGet, "http://"+ln.Addr().String()+"/.well-known/jwks.json", nil)
		req.Host = "shop.example"
		req.Header.Set("Authorization", "Bearer "+strings.Repeat(".", size))
		return http.DefaultClient.Do(req)
	}
	// Just over the limit: the whole request fits in the socket buffers, so
	// the client always reads the answer.
	resp, err := header(20 << 10)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 431 {
		t.Fatalf("20 KiB header: status %d, want 431", resp.StatusCode)
	}
	// 1 MiB: the server answers 431 and closes while the client is still
	// writing, so the client sees either the 431 or the reset — never a
	// success — and the server stays healthy.
	resp, err = header(1 << 20)
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode != 431 {
			t.Fatalf("1 MiB header: status %d, want 431", resp.StatusCode)
		}
	} else if !strings.Contains(err.Error(), "reset") && !strings.Contains(err.Error(), "broken pipe") {
		t.Fatalf("1 MiB header: %v", err)
	}
	if resp, err := http.Get("http://" + ln.Addr().String() + "/healthz"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("server unhealthy after oversized header: %v", err)
	}

	req, _ := http.NewRequest(http.MethodPost, "http://"+ln.Addr().String()+"/.well-known/jwks.json", strings.NewReader(strings.Repeat("x", 4096)))
	req.Host = "shop.example"
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 413 {
		t.Fatalf("large body: %d %s", resp.StatusCode, body)
	}
	if p := decodeProblem(t, resp, body); p.Code != "request_too_large" {
		t.Fatalf("%+v", p)
	}
}

func TestDevOutboxOnlyWhenEnabled(t *testing.T) {
	t.Parallel()
	s, _ := newServer(t, server.Options{})
	req := httptest.NewRequest(http.MethodGet, "/dev/outbox", nil)
	req.Host = "shop.example"
	if resp, _ := do(t, s, req); resp.StatusCode != 404 {
		t.Fatalf("dev outbox exposed without dev mode: %d", resp.StatusCode)
	}

	box := outbox.New(slog.New(slog.NewTextHandler(io.Discard, nil)), 10)
	s, _ = newServer(t, server.Options{Outbox: box})
	_ = box.Mailer("shop").SendMail(context.Background(), message.Mail{To: "a@shop.example", Subject: "Code", Text: "111222"})
	_ = box.Mailer("other").SendMail(context.Background(), message.Mail{To: "b@other.example", Text: "999"})
	req = httptest.NewRequest(http.MethodGet, "/dev/outbox", nil)
	req.Host = "shop.example"
	resp, body := do(t, s, req)
	// Another tenant's message is not shown (its address, not its text:
	// "999" can be part of a sent_at's nanoseconds).
	if resp.StatusCode != 200 || !strings.Contains(string(body), "111222") || strings.Contains(string(body), "b@other.example") {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	req = httptest.NewRequest(http.MethodDelete, "/dev/outbox", nil)
	req.Host = "shop.example"
	if resp, _ := do(t, s, req); resp.StatusCode != 204 || len(box.Messages("shop", "")) != 0 {
		t.Fatalf("clear: %d", resp.StatusCode)
	}
}

func TestAccessLogOmitsQueryAndNamesTenant(t *testing.T) {
	t.Parallel()
	s, logs := newServer(t, server.Options{})
	req := httptest.NewRequest(http.MethodGet, "/.well-known/jwks.json?token=supersecret", nil)
	req.Host = "shop.example"
	do(t, s, req)
	out := logs.String()
	if strings.Contains(out, "supersecret") {
		t.Fatalf("query string logged: %s", out)
	}
	if !strings.Contains(out, `"tenant":"shop"`) || !strings.Contains(out, `"path":"/.well-known/jwks.json"`) {
		t.Fatalf("access log: %s", out)
	}
}

// TestAccessLogHidesAPathItsRouteHides: a route whose path carries a
// secret is logged by its pattern, on success and on an internal error.
func TestAccessLogHidesAPathItsRouteHides(t *testing.T) {
	t.Parallel()
	for name, fail := range map[string]bool{"success": false, "internal error": true} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s, logs := newServer(t, server.Options{Surfaces: []func(fiber.Router){func(r fiber.Router) {
				r.Get("/links/:token", func(c *fiber.Ctx) error {
					web.HidePath(c, "/links/{token}")
					if fail {
						return errors.New("boom")
					}
					return c.SendStatus(fiber.StatusNoContent)
				})
			}}})
			req := httptest.NewRequest(http.MethodGet, "/links/supersecret", nil)
			req.Host = "shop.example"
			do(t, s, req)
			out := logs.String()
			if strings.Contains(out, "supersecret") || !strings.Contains(out, `"path":"/links/{token}"`) {
				t.Fatalf("log: %s", out)
			}
		})
	}
}

func TestShutdownIsNotHeldBySilentConnection(t *testing.T) {
	t.Parallel()
	s, _ := newServer(t, server.Options{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()
	silent, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	// A request on another connection proves the silent one was accepted.
	resp, err := http.Get("http://" + ln.Addr().String() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown held by a connection that never sent a byte: %v", err)
	}
	<-served
}

// TestReadyzAnswersInTimeWhenADependencyHangs: a check that never returns
// (a driver that ignores its context's deadline) does not hold /readyz past
// ReadyTimeout; it is reported unreachable, with Retry-After.
func TestReadyzAnswersInTimeWhenADependencyHangs(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	ok := server.Check{Name: "mongodb", Ping: func(context.Context) error { return nil }}
	hangs := server.Check{Name: "redis", Ping: func(context.Context) error { <-release; return nil }}
	s, logs := newServer(t, server.Options{Checks: []server.Check{ok, hangs}})
	start := time.Now()
	resp, body := do(t, s, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	took := time.Since(start)
	p := decodeProblem(t, resp, body)
	if resp.StatusCode != 503 || p.Code != "unavailable" || p.Detail != "Not ready: redis unreachable." || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("%d %+v Retry-After %q", resp.StatusCode, p, resp.Header.Get("Retry-After"))
	}
	if took > server.ReadyTimeout+2*time.Second {
		t.Fatalf("/readyz answered after %s, want about %s", took, server.ReadyTimeout)
	}
	if !strings.Contains(logs.String(), "no answer within") {
		t.Fatal("the hanging check is not logged")
	}
}

// TestRequestContextCarriesTheTenantsStoreTimeout: the store adapters read
// the bound of each operation from the request context; the tenant
// middleware puts the tenant's store_timeout there.
func TestRequestContextCarriesTheTenantsStoreTimeout(t *testing.T) {
	t.Parallel()
	slow := runtimeFor("slow")
	slow.Tenant.StoreTimeout = 45 * time.Second
	probe := func(r fiber.Router) {
		r.Get("/probe", func(c *fiber.Ctx) error { return c.SendString(platform.StoreTimeout(c.UserContext()).String()) })
	}
	s, _ := newServer(t, server.Options{
		Resolver: &fakeResolver{tenants: map[string]*web.TenantServices{"slow.example": slow, "shop.example": runtimeFor("shop")}},
		Surfaces: []func(fiber.Router){probe},
	})
	for host, want := range map[string]string{"slow.example": "45s", "shop.example": tenant.DefaultStoreTimeout.String()} {
		req := httptest.NewRequest(http.MethodGet, "/probe", nil)
		req.Host = host
		if resp, body := do(t, s, req); resp.StatusCode != 200 || string(body) != want {
			t.Errorf("%s: %d %s, want store timeout %s", host, resp.StatusCode, body, want)
		}
	}
}

// TestEveryUnavailableAnswerCarriesRetryAfter: a 503 from a use case tells
// the client when to retry, with the error's own advice or the default.
func TestEveryUnavailableAnswerCarriesRetryAfter(t *testing.T) {
	t.Parallel()
	routes := func(r fiber.Router) {
		r.Get("/store-down", func(*fiber.Ctx) error {
			return fmt.Errorf("login: %w", errs.ErrUnavailable.Wrap(errors.New("users: find: server selection error")))
		})
		r.Get("/busy", func(*fiber.Ctx) error {
			return errs.E(errs.Unavailable, "busy", "The server is busy.").WithRetryAfter(1)
		})
	}
	s, _ := newServer(t, server.Options{Surfaces: []func(fiber.Router){routes}})
	for path, want := range map[string]string{"/store-down": strconv.Itoa(errs.DefaultRetryAfter), "/busy": "1"} {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.Host = "shop.example"
		resp, body := do(t, s, req)
		p := decodeProblem(t, resp, body)
		if resp.StatusCode != 503 || resp.Header.Get("Retry-After") != want {
			t.Errorf("%s: %d %+v Retry-After %q, want 503 with %s", path, resp.StatusCode, p, resp.Header.Get("Retry-After"), want)
		}
		if strings.Contains(string(body), "selection") {
			t.Errorf("%s: the cause leaked into the body: %s", path, body)
		}
	}
}

// TestRequestContextSaysWhereTheRequestCameFrom: what a request records
// (an audit event) reads its id, the client's address and its user agent
// from the context the use cases get, not from Fiber.
func TestRequestContextSaysWhereTheRequestCameFrom(t *testing.T) {
	t.Parallel()
	probe := func(r fiber.Router) {
		r.Get("/probe", func(c *fiber.Ctx) error {
			ctx := c.UserContext()
			return c.SendString(platform.RequestID(ctx) + "|" + platform.ClientIP(ctx).String() + "|" + platform.UserAgent(ctx))
		})
	}
	s, _ := newServer(t, server.Options{Surfaces: []func(fiber.Router){probe}})
	req := httptest.NewRequest(http.MethodGet, "/probe", nil)
	req.Host = "shop.example"
	req.Header.Set("X-Request-ID", "req-42")
	req.Header.Set("User-Agent", "probe/1.0")
	resp, body := do(t, s, req)
	if want := "req-42|0.0.0.0|probe/1.0"; resp.StatusCode != 200 || string(body) != want {
		t.Fatalf("%d %q, want %q", resp.StatusCode, body, want)
	}
}
