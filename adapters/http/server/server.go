// Package server assembles the Fiber application: middleware (request id,
// client IP, access log, panic recovery, tenant resolution), the platform
// routes (/healthz, /readyz), the per-tenant routes every tenant has (JWKS)
// and, in dev mode only, the dev outbox.
package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"regexp"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"

	"github.com/portcullis/portcullis/adapters/http/web"
	"github.com/portcullis/portcullis/adapters/outbox"
	"github.com/portcullis/portcullis/adapters/tracing"
	"github.com/portcullis/portcullis/application/platform"
	"github.com/portcullis/portcullis/domain/errs"
	"github.com/portcullis/portcullis/domain/signing"
)

// Resolver finds and builds the tenant a request is for.
type Resolver interface {
	Resolve(ctx context.Context, host, tenantID string) (*web.TenantServices, error)
}

// Check is one readiness probe.
type Check struct {
	Name string
	Ping func(context.Context) error
}

// Options configure the server.
type Options struct {
	Logger         *slog.Logger
	Resolver       Resolver
	Checks         []Check
	TrustedProxies web.TrustedProxies
	// RequestTimeout is the deadline of every request's context.
	RequestTimeout time.Duration
	// BodyLimit caps request bodies, in bytes.
	BodyLimit int
	// Outbox, when not nil, exposes the dev outbox endpoint. Set it in dev
	// mode only.
	Outbox *outbox.Outbox
	// Surfaces add the API surfaces (canonical API, compatibility
	// profiles) to the tenant-scoped router.
	Surfaces []func(fiber.Router)
	// Observe, when set, is told of every answered request: the route
	// template that matched ("" for none), the method, the status sent and
	// how long it took.
	Observe func(route, method string, status int, took time.Duration)
	// Metrics, when set, is served at GET /metrics on this listener (dev
	// mode: in production metrics have a listener of their own).
	Metrics http.Handler
	// Platform add routes outside any tenant (the platform API).
	Platform []func(fiber.Router)
}

// Server is the HTTP server.
type Server struct {
	app      *fiber.App
	opts     Options
	draining atomic.Bool

	mu        sync.Mutex
	listeners []*trackingListener
	// endpoints are the routes that are not middleware.
	endpoints map[routeKey]bool
}

// Request header names.
const (
	HeaderRequestID = "X-Request-ID"
	HeaderTenantID  = "X-Tenant-ID"
)

// Defaults for Options left zero.
const (
	DefaultRequestTimeout = 30 * time.Second
	DefaultBodyLimit      = 1 << 20
)

// New builds the server and its routes.
func New(opts Options) *Server {
	if opts.RequestTimeout <= 0 {
		opts.RequestTimeout = DefaultRequestTimeout
	}
	if opts.BodyLimit <= 0 {
		opts.BodyLimit = DefaultBodyLimit
	}
	s := &Server{opts: opts}
	cfg := BaseConfig(opts.RequestTimeout)
	cfg.ErrorHandler = web.ErrorHandler(opts.Logger)
	cfg.BodyLimit = opts.BodyLimit
	s.app = fiber.New(cfg)
	s.app.Use(s.requestContext, s.accessLog, s.recoverPanic)
	s.app.Get("/healthz", s.healthz)
	s.app.Get("/readyz", s.readyz)
	if opts.Metrics != nil {
		s.app.Get("/metrics", adaptor.HTTPHandler(opts.Metrics))
	}
	for _, add := range opts.Platform {
		add(s.app)
	}

	tenant := s.app.Group("", s.resolveTenant)
	// Each surface checks requests itself (web.CheckRequest), so that its
	// errors have its shape; the guard covers every tenant route after them.
	for _, add := range opts.Surfaces {
		add(tenant)
	}
	tenant.Use(web.Guard)
	tenant.Get("/.well-known/jwks.json", jwks)
	if opts.Outbox != nil {
		tenant.Get("/dev/outbox", s.devOutbox)
		tenant.Delete("/dev/outbox", s.devOutboxClear)
	}
	tenant.Use(func(*fiber.Ctx) error { return errs.ErrNotFound })
	s.endpoints = map[routeKey]bool{}
	for _, r := range s.app.GetRoutes(true) {
		s.endpoints[routeKey{r.Method, r.Path}] = true
	}
	return s
}

// App returns the Fiber application, for tests and for adding surfaces.
func (s *Server) App() *fiber.App { return s.app }

// Serve accepts connections on ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error {
	tl := newTrackingListener(ln)
	s.mu.Lock()
	s.listeners = append(s.listeners, tl)
	s.mu.Unlock()
	return s.app.Listener(tl)
}

// Shutdown stops accepting connections and waits for in-flight requests to
// finish until ctx ends. Connections that have not sent a byte are closed,
// so that a silent client cannot hold the shutdown; idle keep-alive
// connections are closed by Fiber.
func (s *Server) Shutdown(ctx context.Context) error {
	s.draining.Store(true)
	done := make(chan error, 1)
	go func() { done <- s.app.ShutdownWithContext(ctx) }()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		s.closeSilent()
		select {
		case err := <-done:
			return err
		case <-tick.C:
		}
	}
}

func (s *Server) closeSilent() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, l := range s.listeners {
		l.closeSilent()
	}
}

// BaseConfig is the Fiber configuration the server runs with, before its
// error handler and body limit are set. The load harness serves its bare
// reference handler with it, so that both are served the same way.
func BaseConfig(requestTimeout time.Duration) fiber.Config {
	return fiber.Config{
		AppName:               "portcullis",
		DisableStartupMessage: true,
		// Request line and headers must fit in 16 KiB: a larger
		// Authorization header is refused with 431 before any handler runs.
		ReadBufferSize: 16 << 10,
		ReadTimeout:    requestTimeout,
		WriteTimeout:   requestTimeout,
		IdleTimeout:    2 * time.Minute,
		CaseSensitive:  true,
	}
}

var requestIDPattern = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)

// requestContext gives every request its id, client IP, user agent and
// deadline.
func (s *Server) requestContext(c *fiber.Ctx) error {
	rid := c.Get(HeaderRequestID)
	if !requestIDPattern.MatchString(rid) {
		rid = newRequestID()
	} else {
		rid = strings.Clone(rid)
	}
	c.Set(HeaderRequestID, rid)

	peer, _ := netip.AddrFromSlice(c.Context().RemoteIP())
	ip := peer.Unmap()
	if s.opts.TrustedProxies.Trusts(peer) { // only then is X-Forwarded-For read at all
		var xff []string
		c.Request().Header.VisitAll(func(k, v []byte) {
			if strings.EqualFold(string(k), fiber.HeaderXForwardedFor) {
				xff = append(xff, string(v))
			}
		})
		ip = s.opts.TrustedProxies.ClientIP(peer, xff)
	}

	ctx, cancel := context.WithTimeout(c.UserContext(), s.opts.RequestTimeout)
	defer cancel()
	ctx = web.WithClientIP(web.WithRequestID(ctx, rid), ip)
	// string() copies: Fiber reuses the header's bytes.
	ctx = platform.WithUserAgent(ctx, string(c.Request().Header.UserAgent()))
	c.SetUserContext(ctx)
	return c.Next()
}

func newRequestID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// accessLog writes one structured line per request. The query string is
// left out: it can carry one-time tokens; so is a path its route hides
// (web.HidePath).
func (s *Server) accessLog(c *fiber.Ctx) error {
	start := time.Now()
	// The request's span: a child of the caller's traceparent, if any.
	ctx := otel.GetTextMapPropagator().Extract(c.UserContext(), propagation.HeaderCarrier(requestHeaders(c)))
	ctx, span := tracing.StartServer(ctx, "HTTP "+c.Method(), attribute.String("http.request.method", c.Method()))
	c.SetUserContext(ctx)
	err := c.Next()
	if err != nil {
		// Render now so that the logged status is the one sent.
		if herr := s.app.ErrorHandler(c, err); herr != nil {
			_ = c.SendStatus(fiber.StatusInternalServerError)
		}
	}
	status := c.Response().StatusCode()
	route := s.routeOf(c)
	if s.opts.Observe != nil {
		s.opts.Observe(route, c.Method(), status, time.Since(start))
	}
	if route != "" {
		span.SetName(c.Method() + " " + route)
		span.SetAttributes(attribute.String("http.route", route))
	}
	span.SetAttributes(attribute.Int("http.response.status_code", status))
	if rt := web.Tenant(c.UserContext()); rt != nil {
		span.SetAttributes(attribute.String("portcullis.tenant", rt.Tenant.ID))
	}
	if status >= 500 {
		span.SetStatus(codes.Error, http.StatusText(status))
	}
	span.End()
	level := slog.LevelInfo
	switch {
	case status >= 500:
		level = slog.LevelError
	case c.Path() == "/healthz" || c.Path() == "/readyz":
		level = slog.LevelDebug
	}
	ctx = c.UserContext()
	attrs := []slog.Attr{
		slog.String("method", c.Method()),
		slog.String("path", web.LogPath(c)),
		slog.Int("status", status),
		slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000),
		slog.Int("bytes", len(c.Response().Body())),
		slog.String("request_id", web.RequestID(ctx)),
		slog.String("client_ip", web.ClientIP(ctx).String()),
	}
	if rt := web.Tenant(ctx); rt != nil {
		attrs = append(attrs, slog.String("tenant", rt.Tenant.ID))
	}
	if id := tracing.TraceID(ctx); id != "" {
		attrs = append(attrs, slog.String("trace_id", id))
	}
	s.opts.Logger.LogAttrs(ctx, level, "request", attrs...)
	return nil
}

// routeKey names a route: a key of no allocation per request.
type routeKey struct{ method, path string }

// routeOf is the template of the route that answered c, never the raw
// path: "" when no endpoint matched (the last route was middleware, such as
// the tenant resolution or the not-found catch-all).
func (s *Server) routeOf(c *fiber.Ctx) string {
	r := c.Route()
	if r == nil || !s.endpoints[routeKey{r.Method, r.Path}] {
		return ""
	}
	return r.Path
}

// requestHeaders are the request's headers as net/http keeps them, for the
// trace propagator.
func requestHeaders(c *fiber.Ctx) http.Header {
	h := http.Header{}
	if v := c.Get("traceparent"); v != "" {
		h.Set("traceparent", v)
		if st := c.Get("tracestate"); st != "" {
			h.Set("tracestate", st)
		}
	}
	return h
}

// recoverPanic turns a panic into a logged internal error.
func (s *Server) recoverPanic(c *fiber.Ctx) (err error) {
	defer func() {
		if r := recover(); r != nil {
			s.opts.Logger.Error("panic in handler", "request_id", web.RequestID(c.UserContext()), "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			err = errs.ErrInternal.Wrap(fmt.Errorf("panic: %v", r))
		}
	}()
	return c.Next()
}

// resolveTenant puts the request's tenant into its context, with the
// tenant's store timeout that bounds every store operation of the request.
// The Host header is read as sent (X-Forwarded-Host only from a trusted
// proxy).
func (s *Server) resolveTenant(c *fiber.Ctx) error {
	host := string(c.Request().Host())
	if fwd := c.Get(fiber.HeaderXForwardedHost); fwd != "" {
		if peer, ok := netip.AddrFromSlice(c.Context().RemoteIP()); ok && s.opts.TrustedProxies.Trusts(peer) {
			host, _, _ = strings.Cut(fwd, ",")
		}
	}
	rt, err := s.opts.Resolver.Resolve(c.UserContext(), host, c.Get(HeaderTenantID))
	if err != nil {
		return err
	}
	c.SetUserContext(platform.WithStoreTimeout(web.WithTenant(c.UserContext(), rt), rt.Tenant.StoreTimeout))
	return c.Next()
}

func (s *Server) healthz(c *fiber.Ctx) error {
	return c.JSON(fiber.Map{"status": "ok"})
}

// ReadyTimeout is how long /readyz waits for the dependencies.
const ReadyTimeout = 2 * time.Second

// readyz answers 200 when every dependency answers within ReadyTimeout, and
// 503 while draining or when one does not. It answers by then even when a
// check ignores its context's deadline: a check still running counts as
// unreachable.
func (s *Server) readyz(c *fiber.Ctx) error {
	if s.draining.Load() {
		return errs.ErrUnavailable.WithMessage("The server is shutting down.")
	}
	ctx, cancel := context.WithTimeout(c.UserContext(), ReadyTimeout)
	defer cancel()
	type result struct {
		name string
		err  error
	}
	done := make(chan result, len(s.opts.Checks)) // buffered: a late check never blocks
	for _, ch := range s.opts.Checks {
		go func() { done <- result{ch.Name, ch.Ping(ctx)} }()
	}
	results := make(map[string]string, len(s.opts.Checks))
	for _, ch := range s.opts.Checks {
		results[ch.Name] = "unreachable"
	}
	var failed []string
collect:
	for range s.opts.Checks {
		select {
		case r := <-done:
			if r.err != nil {
				s.opts.Logger.Warn("readiness check failed", "check", r.name, "error", r.err)
				failed = append(failed, r.name)
				continue
			}
			results[r.name] = "ok"
		case <-ctx.Done():
			break collect
		}
	}
	for _, ch := range s.opts.Checks {
		if results[ch.Name] != "ok" && !slices.Contains(failed, ch.Name) {
			s.opts.Logger.Warn("readiness check failed", "check", ch.Name, "error", fmt.Sprintf("no answer within %s", ReadyTimeout))
			failed = append(failed, ch.Name)
		}
	}
	if len(failed) > 0 {
		slices.Sort(failed)
		return errs.ErrUnavailable.WithMessage("Not ready: %s unreachable.", strings.Join(failed, ", "))
	}
	return c.JSON(fiber.Map{"status": "ready", "checks": results})
}

// jwks serves the tenant's public signing keys.
func jwks(c *fiber.Ctx) error {
	rt := web.Tenant(c.UserContext())
	keys, err := rt.Keys.Keys(c.UserContext())
	if err != nil {
		return err
	}
	set := struct {
		Keys []signing.JWK `json:"keys"`
	}{Keys: make([]signing.JWK, len(keys))}
	for i, k := range keys {
		set.Keys[i] = k.PublicJWK()
	}
	c.Set(fiber.HeaderCacheControl, "public, max-age=300")
	return c.JSON(set)
}

func (s *Server) devOutbox(c *fiber.Ctx) error {
	rt := web.Tenant(c.UserContext())
	msgs := s.opts.Outbox.Messages(rt.Tenant.ID, c.Query("to"))
	if msgs == nil {
		msgs = []outbox.Message{}
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(fiber.Map{"messages": msgs})
}

func (s *Server) devOutboxClear(c *fiber.Ctx) error {
	s.opts.Outbox.Clear(web.Tenant(c.UserContext()).Tenant.ID)
	return c.SendStatus(fiber.StatusNoContent)
}
