// Command portcullis is the Portcullis authentication server.
//
//	portcullis [serve] [-config FILE]   run the server (the default)
//	portcullis check-config [-config FILE]  validate the configuration and tenants, then exit
//	portcullis version                  print the version
//	portcullis seal-sms-token -tenant ID [-config FILE]
//	                                    read an SMS provider token on stdin and print it sealed
//	                                    for the tenant's sms.provider.auth_token_sealed
//	portcullis seal-smtp-password -tenant ID [-config FILE]
//	                                    read an SMTP password on stdin and print it sealed
//	                                    for the tenant's mail.smtp.password_sealed
//	portcullis seal-captcha-secret -tenant ID [-config FILE]
//	                                    read a CAPTCHA provider secret on stdin and print it
//	                                    sealed for the tenant's captcha.secret_sealed
//	portcullis seal-cart-webhook-secret -tenant ID [-config FILE]
//	                                    read a cart webhook's signing secret on stdin and print
//	                                    it sealed for the tenant's storefront.webhook.secret_sealed
//	portcullis admin create -tenant ID -email ADDRESS [-role ROLE] [-link [-link-ttl D]]
//	                                    make an active account (password on stdin, or
//	                                    with -link print a one-time set-password link)
//	portcullis admin promote -tenant ID -email ADDRESS -role ROLE
//	                                    give an account a role and end its sessions
//
// Settings come from the YAML file named by -config or PORTCULLIS_CONFIG,
// then PORTCULLIS_* environment variables; README.md lists them all.
package main

import (
	"bufio"
	"context"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/portcullis/portcullis/adapters/crypto/aesgcm"
	"github.com/portcullis/portcullis/adapters/http/admin"
	"github.com/portcullis/portcullis/adapters/http/pages"
	"github.com/portcullis/portcullis/adapters/http/platformapi"
	"github.com/portcullis/portcullis/adapters/http/seed000"
	"github.com/portcullis/portcullis/adapters/http/seed001"
	"github.com/portcullis/portcullis/adapters/http/seed002"
	"github.com/portcullis/portcullis/adapters/http/seed003"
	"github.com/portcullis/portcullis/adapters/http/server"
	v1 "github.com/portcullis/portcullis/adapters/http/v1"
	"github.com/portcullis/portcullis/adapters/http/web"
	"github.com/portcullis/portcullis/adapters/metrics"
	"github.com/portcullis/portcullis/adapters/mongo"
	"github.com/portcullis/portcullis/adapters/redis"
	"github.com/portcullis/portcullis/adapters/tracing"
	"github.com/portcullis/portcullis/application/audit"
	"github.com/portcullis/portcullis/application/platform"
	"github.com/portcullis/portcullis/application/tenancy"
	"github.com/portcullis/portcullis/config"
	"github.com/portcullis/portcullis/domain/tenant"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stderr))
}

func run(args []string, stderr io.Writer) int {
	cmd := "serve"
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "admin":
		return adminCommand(args, os.Stdin, os.Stdout, stderr)
	case "keys":
		return keysCommand(args, os.Stdout, stderr)
	case "platform":
		return platformCommand(args, os.Stdout, stderr)
	}
	fs := flag.NewFlagSet("portcullis "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := configFlag(fs)
	var tenantID *string
	seal, isSeal := sealCommands[cmd]
	if isSeal {
		tenantID = fs.String("tenant", "", "the tenant whose "+seal.setting+" the value is for")
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if isSeal {
		return seal.run(*configPath, *tenantID, os.Stdin, os.Stdout, stderr)
	}
	switch cmd {
	case "serve":
		return serve(*configPath, stderr)
	case "check-config":
		return checkConfig(*configPath, stderr)
	case "version":
		fmt.Fprintln(stderr, "portcullis", version())
		return 0
	case "help":
		fs.Usage()
		return 0
	}
	fmt.Fprintf(stderr, "portcullis: unknown command %q (serve, check-config, version, seal-sms-token, seal-smtp-password, seal-captcha-secret, seal-cart-webhook-secret, admin, keys, platform)\n", cmd)
	return 2
}

func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				return bi.Main.Version + " " + s.Value
			}
		}
		return bi.Main.Version
	}
	return "unknown"
}

func newLogger(cfg config.Platform, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.Level()}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func checkConfig(path string, stderr io.Writer) int {
	cfg, err := config.Load(path, os.Environ())
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	ts, err := config.NewTenantDir(cfg.TenantsDir).Tenants(context.Background())
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	fmt.Fprintf(stderr, "configuration is valid; %d tenant file(s) in %s\n", len(ts), cfg.TenantsDir)
	return 0
}

// sealCommand reads a credential (the first line of its input) and writes
// it sealed under the platform master key for one setting of one tenant:
// a value that opens for that tenant and setting only. The credential
// itself is never written anywhere.
type sealCommand struct {
	name    string // the command
	what    string // what is read: "token", "password"
	setting string // where the output goes in the tenant configuration
	seal    func(s config.Sealer, tenantID, secret string) (string, error)
}

// The seal commands, by name.
var (
	sealSMSToken     = sealCommand{name: "seal-sms-token", what: "token", setting: "sms.provider.auth_token_sealed", seal: config.SealSMSAuthToken}
	sealSMTPPassword = sealCommand{name: "seal-smtp-password", what: "password", setting: "mail.smtp.password_sealed", seal: config.SealSMTPPassword}
	sealCommands     = map[string]sealCommand{sealSMSToken.name: sealSMSToken, sealSMTPPassword.name: sealSMTPPassword,
		sealCaptchaSecret.name: sealCaptchaSecret, sealCartWebhookSecret.name: sealCartWebhookSecret}
)

func (c sealCommand) run(path, tenantID string, in io.Reader, out, stderr io.Writer) int {
	fail := func(format string, args ...any) int {
		fmt.Fprintf(stderr, "portcullis "+c.name+": "+format+"\n", args...)
		return 1
	}
	if tenantID == "" {
		return fail("-tenant is required")
	}
	cfg, err := config.Load(path, os.Environ())
	if err != nil {
		return fail("%v", err)
	}
	key, err := provideMasterKey(cfg, slog.New(slog.NewTextHandler(stderr, nil)))
	if err != nil {
		return fail("%v", err)
	}
	sealer, err := aesgcm.New(key)
	if err != nil {
		return fail("%v", err)
	}
	line, err := bufio.NewReader(io.LimitReader(in, 4096)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return fail("read the %s: %v", c.what, err)
	}
	secret := strings.TrimRight(line, "\r\n")
	if strings.TrimSpace(secret) == "" {
		return fail("no %s on standard input", c.what)
	}
	sealed, err := c.seal(sealer, tenantID, secret)
	if err != nil {
		return fail("%v", err)
	}
	fmt.Fprintln(out, sealed)
	return 0
}

func serve(path string, stderr io.Writer) int {
	started := time.Now()
	cfg, err := config.Load(path, os.Environ())
	if err != nil {
		fmt.Fprintln(stderr, "portcullis:", err)
		return 1
	}
	logOut := newBufferedLog(stderr, 256<<10, 100*time.Millisecond)
	defer logOut.Close()
	log := newLogger(cfg, logOut)
	log.Info("starting portcullis", "version", version(), "config", cfg)
	if cfg.DevMode {
		log.Warn("dev mode is on: the dev outbox is exposed and cookies work over plain HTTP; never run it in production")
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	stopTracing, err := tracing.Setup(ctx, tracing.Options{Endpoint: cfg.OTLPEndpoint, SampleRatio: cfg.TraceSampleRatio, Version: version()})
	if err != nil {
		log.Error("start-up failed", "error", err)
		return 1
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := stopTracing(ctx); err != nil {
			log.Warn("traces not all exported at shutdown", "error", err)
		}
	}()
	if cfg.OTLPEndpoint != "" {
		log.Info("tracing on", "otlp_endpoint", cfg.OTLPEndpoint, "sample_ratio", cfg.TraceSampleRatio)
	}

	p, cleanup, err := initPlatform(ctx, cfg, log)
	if err != nil {
		log.Error("start-up failed", "error", err)
		return 1
	}
	defer cleanup()

	dir := tenancy.NewDirectory(config.NewTenantDir(cfg.TenantsDir), p.Tenants, cfg.DefaultTenant, log)
	if err := dir.Refresh(platform.WithStoreTimeout(ctx, tenantListTimeout)); err != nil {
		log.Error("tenant configuration is invalid", "error", err)
		return 1
	}
	registry := NewRegistry(dir, func(ctx context.Context, t tenant.Tenant) (*web.TenantServices, func(), error) {
		rt, cleanup, err := initTenant(ctx, p, t)
		if err == nil {
			p.Metrics.TenantBuilt()
		}
		return rt, cleanup, err
	}, log, cfg.ShutdownTimeout)
	defer registry.Close()

	tenantAdmin := tenancy.NewAdmin(dir, tenancy.AdminOptions{
		Store: p.Tenants, Deletions: p.Tenants,
		// The durable store first: a purge that fails in Redis is run
		// again, whole, at the next sweep.
		Purgers:  []tenancy.Purger{p.Mongo, redis.NewPurger(p.Redis)},
		Audit:    audit.NewPlatformRecorder(p.AuditWriter, p.Clock),
		Sections: config.EncodeTenant,
		Logger:   log, Clock: p.Clock, Grace: cfg.TenantDeleteGrace,
	})
	srv := server.New(server.Options{
		Logger:         log,
		Resolver:       registry,
		TrustedProxies: web.TrustedProxies(cfg.Proxies()),
		Checks: []server.Check{
			{Name: "mongodb", Ping: p.Mongo.Ping},
			{Name: "redis", Ping: func(ctx context.Context) error { return p.Redis.Ping(ctx).Err() }},
		},
		Outbox:  p.Outbox,
		Observe: p.Metrics.Request,
		Platform: []func(fiber.Router){func(r fiber.Router) {
			platformapi.Register(r, platformapi.Options{Admin: tenantAdmin, Keys: platformKeys(cfg, p.Mongo),
				Audit: audit.NewPlatformService(p.AuditLog, p.Clock)})
		}},
		Metrics: devMetrics(cfg, p.Metrics),
		Surfaces: []func(fiber.Router){
			func(r fiber.Router) { v1.Register(r, v1.Options{Dev: cfg.DevMode}) },
			func(r fiber.Router) { admin.Register(r, admin.Options{Dev: cfg.DevMode}) },
			func(r fiber.Router) { seed000.Register(r, seed000.Options{Dev: cfg.DevMode}) },
			func(r fiber.Router) { seed001.Register(r, seed001.Options{Dev: cfg.DevMode}) },
			seed002.Register,
			seed003.Register,
			func(r fiber.Router) { pages.Register(r, pages.Options{Dev: cfg.DevMode, Logger: log}) },
		},
	})

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		log.Error("cannot listen", "listen", cfg.Listen, "error", err)
		return 1
	}
	url := "http://" + ln.Addr().String()
	log.Info("listening", "url", url, "tenants", dir.Len(), "startup", time.Since(started).Round(time.Millisecond))
	logOut.Flush()
	if cfg.DevMode {
		printDevBanner(stderr, ln.Addr().(*net.TCPAddr), dir)
	}

	if cfg.PprofListen != "" {
		go servePprof(cfg.PprofListen, log)
	}
	if cfg.MetricsListen != config.MetricsOff {
		stopMetrics := serveMetrics(cfg.MetricsListen, p.Metrics, log)
		defer stopMetrics()
	}

	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()

	bg, stopBG := context.WithCancel(context.Background())
	defer stopBG()
	go refreshTenants(bg, dir, registry, cfg.TenantRefreshInterval, log)
	go p.Mongo.RunSweeper(bg, mongo.Indexes, time.Minute)
	go sweepTenants(bg, tenantAdmin, cfg.TenantRefreshInterval, log)
	go p.RevocationSync.Run(bg)

	select {
	case err := <-serveErr:
		log.Error("server stopped", "error", err)
		return 1
	case <-ctx.Done():
	}
	log.Info("shutting down: draining in-flight requests", "timeout", cfg.ShutdownTimeout)
	shutdownCtx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		log.Error("shutdown did not finish in time", "error", err)
		return 1
	}
	if err := <-serveErr; err != nil && !errors.Is(err, net.ErrClosed) {
		log.Warn("listener", "error", err)
	}
	stopBG()
	log.Info("stopped")
	return 0
}

// servePprof serves the runtime profiles of net/http/pprof on their own
// listener, never on the public one.
func servePprof(addr string, log *slog.Logger) {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	log.Warn("pprof profiles are served", "listen", addr)
	srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	if err := srv.ListenAndServe(); err != nil {
		log.Error("pprof listener", "error", err)
	}
}

// tenantListTimeout bounds the reading of every stored tenant, which is not
// one request's work and may take longer than a tenant's store timeout.
const tenantListTimeout = 30 * time.Second

func refreshTenants(ctx context.Context, dir *tenancy.Directory, reg *Registry, interval time.Duration, log *slog.Logger) {
	every(ctx, interval, func() {
		if err := dir.Refresh(platform.WithStoreTimeout(ctx, tenantListTimeout)); err != nil {
			if ctx.Err() == nil {
				log.Error("tenant refresh failed; keeping the previous tenants", "error", err)
			}
			return
		}
		reg.Prune()
	})
}

// configFlag defines the -config flag every command of the binary takes:
// the platform configuration file, by default the one the environment
// names.
func configFlag(fs *flag.FlagSet) *string {
	return fs.String("config", os.Getenv(config.EnvConfigFile), "platform configuration file (YAML); env "+config.EnvConfigFile)
}

// every runs f every interval until ctx ends.
func every(ctx context.Context, interval time.Duration, f func()) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			f()
		}
	}
}

// platformKeys finds a platform API key: among the configuration's, then
// among those `portcullis platform key create` stored.
func platformKeys(cfg config.Platform, db *mongo.DB) platformapi.Keys {
	store := mongo.NewPlatformKeyStore(db)
	return func(ctx context.Context, id string) (platformapi.Key, bool, error) {
		for _, k := range cfg.PlatformAPIKeys {
			if k.ID == id {
				sum, _ := hex.DecodeString(k.SHA256) // validated with the configuration
				return platformapi.Key{SHA256: sum, Scopes: k.Scopes}, true, nil
			}
		}
		k, ok, err := store.Get(ctx, id)
		return platformapi.Key{SHA256: k.SHA256, Scopes: k.Scopes}, ok, err
	}
}

// sweepTenants deletes, every interval, the tenants whose deletion grace
// has passed, with their data (each deletion is logged, and audited, by
// the Admin).
func sweepTenants(ctx context.Context, admin *tenancy.Admin, interval time.Duration, log *slog.Logger) {
	every(ctx, interval, func() {
		_, err := admin.Sweep(ctx)
		if err != nil && ctx.Err() == nil {
			log.Error("tenant deletion", "error", err)
		}
	})
}

// devMetrics is what the main listener serves at /metrics: the metrics in
// dev mode, nothing otherwise.
func devMetrics(cfg config.Platform, m *metrics.Metrics) http.Handler {
	if !cfg.DevMode {
		return nil
	}
	return m.Handler()
}

// serveMetrics serves GET /metrics on addr, apart from the public
// listener, and returns its stop. A listener that cannot start is logged
// and the server goes on without it: metrics are not worth refusing
// sign-ins over.
func serveMetrics(addr string, m *metrics.Metrics, log *slog.Logger) func() {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		log.Error("metrics listener did not start; no metrics are served", "metrics_listen", addr, "error", err)
		return func() {}
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	log.Info("metrics listening", "url", "http://"+ln.Addr().String()+"/metrics")
	return func() { _ = srv.Close() }
}

func printDevBanner(w io.Writer, addr *net.TCPAddr, dir *tenancy.Directory) {
	base := fmt.Sprintf("http://localhost:%d", addr.Port)
	fmt.Fprintf(w, `
  Portcullis is running in dev mode on %s (%d tenant(s)).
  The demo tenant answers on the host "localhost"; any tenant answers to X-Tenant-ID.

  Sign-in page of the demo tenant: %s/auth/

    curl -s %s/readyz
    curl -s %s/.well-known/jwks.json
    curl -s -H 'X-Tenant-ID: demo' http://%s/.well-known/jwks.json
    curl -s %s/dev/outbox          # mail and SMS the server "sent"
    curl -s %s/auth/v1/openapi.json  # the account API: register, login, me, sessions, logout

`, base, dir.Len(), base, base, base, addr.String(), base, base)
}
