package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/valyala/fasthttp"
	"gopkg.in/yaml.v3"

	"github.com/portcullis/portcullis/config"
	"github.com/portcullis/portcullis/domain/tenant"
)

// benchTenantID is the id of the tenant the command creates in mode A,
// and shopTenantID that of the storefront phase's tenant.
const (
	benchTenantID = "bench"
	shopTenantID  = "bench-shop"
)

// highLimit is a throttling limit the load never reaches: a million events
// per hour, as a burst. The measurement is of the server's work, not of its
// throttle.
var highLimit = tenant.Limit{Count: 1_000_000, Window: time.Hour}

// benchTenant is the tenant of mode A: the documented defaults (so argon2id
// with the default parameters unless hash says otherwise), password and SMS
// code login (default region US, the default code lifetime), the one domain
// host, and throttling limits the load never reaches. It has no SMS
// provider: in dev mode its codes go to the dev outbox, where the SMS phase
// reads them, and no message leaves the machine.
func benchTenant(host string, hash tenant.HashParams) tenant.Tenant {
	t := tenant.Default()
	t.ID = benchTenantID
	t.DisplayName = "Load harness"
	t.Domains = []string{host}
	t.LoginMethods = []tenant.LoginMethod{tenant.MethodPassword, tenant.MethodSMSOTP}
	t.SMS.DefaultRegion = "US"
	t.Password.Hash = hash
	t.Throttling = tenant.Throttling{LoginPerAccount: highLimit, LoginPerIP: highLimit, LoginPerDevice: highLimit,
		RegisterPerIP: highLimit, SignupNoticePerRecipient: highLimit, SMSPerIP: highLimit, SMSPerCallingCode: highLimit, SMSPerTenant: highLimit,
		PasswordResetPerIP: highLimit, VerificationMailPerIP: highLimit, EmailLoginPerIP: highLimit,
		TokenLoginPerIP: highLimit}
	return t
}

// shopTenant is the storefront phase's tenant of mode A: the bench
// tenant's settings on its own domain, and a storefront with the default
// limits. It is a tenant of its own so that the other phases' logins
// neither read nor merge carts, as before the storefront phase existed.
func shopTenant(host string, hash tenant.HashParams) tenant.Tenant {
	t := benchTenant(host, hash)
	t.ID = shopTenantID
	t.DisplayName = "Load harness storefront"
	t.Storefront = tenant.DefaultStorefront()
	t.Storefront.Enabled = true
	return t
}

// tenantYAML renders t as a tenant file and checks that the server's own
// parser accepts it as t.
func tenantYAML(t tenant.Tenant) ([]byte, error) {
	b, err := yaml.Marshal(config.EncodeTenant(t))
	if err != nil {
		return nil, err
	}
	if _, err := config.ParseTenantYAML(b, t.ID+".yaml"); err != nil {
		return nil, fmt.Errorf("the generated tenant file is invalid: %w", err)
	}
	return b, nil
}

// writeTenantFile writes t as dir/<id>.yaml, checked by the server's own
// parser.
func writeTenantFile(dir string, t tenant.Tenant) error {
	body, err := tenantYAML(t)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, t.ID+".yaml"), body, 0o600)
}

// serverSettings configure the server process of mode A.
type serverSettings struct {
	Binary   string
	Host     string // the tenant's domain
	Hash     tenant.HashParams
	LogLevel string
	// PprofListen, if set, is the server's pprof_listen.
	PprofListen string
	// StorefrontHost, if set, is the domain of the storefront tenant
	// (shopTenant) the server gets beside the bench tenant.
	StorefrontHost string
	// TenantFiles, if set, writes the tenant files into the tenants
	// directory instead of the bench tenant's (and the storefront
	// tenant's); Host and StorefrontHost are then unused.
	TenantFiles func(dir string) error
	// Env, if set, is added to the server's environment (e.g. the stores'
	// addresses).
	Env []string
}

// startServer starts the server binary on its embedded defaults in dev mode,
// with a fresh data directory and a tenants directory holding only the bench
// tenant (and the storefront tenant when s asks for it), or the files
// s.TenantFiles writes, listening on a free
// port of 127.0.0.1. The returned cleanup stops it and removes the
// directories.
func startServer(ctx context.Context, s serverSettings) (*child, func(), error) {
	bin, err := filepath.Abs(s.Binary)
	if err != nil {
		return nil, nil, err
	}
	if _, err := os.Stat(bin); err != nil {
		return nil, nil, fmt.Errorf("server binary: %w (build it with: go build -o bin/portcullis ./cmd/portcullis)", err)
	}
	root, err := os.MkdirTemp("", "portcullis-load-")
	if err != nil {
		return nil, nil, err
	}
	removeRoot := func() { _ = os.RemoveAll(root) }
	dataDir, tenantsDir, workDir := filepath.Join(root, "data"), filepath.Join(root, "tenants"), filepath.Join(root, "work")
	for _, d := range []string{dataDir, tenantsDir, workDir} {
		if err := os.Mkdir(d, 0o700); err != nil {
			removeRoot()
			return nil, nil, err
		}
	}
	if s.TenantFiles == nil {
		s.TenantFiles = func(dir string) error {
			tenants := []tenant.Tenant{benchTenant(s.Host, s.Hash)}
			if s.StorefrontHost != "" {
				tenants = append(tenants, shopTenant(s.StorefrontHost, s.Hash))
			}
			for _, t := range tenants {
				if err := writeTenantFile(dir, t); err != nil {
					return err
				}
			}
			return nil
		}
	}
	if err := s.TenantFiles(tenantsDir); err != nil {
		removeRoot()
		return nil, nil, err
	}
	env := childEnv(map[string]string{
		"PORTCULLIS_DEV_MODE":    "true",
		"PORTCULLIS_DATA_DIR":    dataDir,
		"PORTCULLIS_TENANTS_DIR": tenantsDir,
		"PORTCULLIS_LISTEN":      "127.0.0.1:0",
		"PORTCULLIS_LOG_FORMAT":  "json",
		// Its servers (the multi-tenant phase runs a second) cannot share
		// the default metrics address.
		"PORTCULLIS_METRICS_LISTEN": "127.0.0.1:0",
		// "listening" is logged at info; so is every request's access-log
		// line, which the server writes as it would in production and this
		// command reads and discards.
		"PORTCULLIS_LOG_LEVEL": s.LogLevel,
	})
	if s.PprofListen != "" {
		env = append(env, "PORTCULLIS_PPROF_LISTEN="+s.PprofListen)
	}
	env = append(env, s.Env...)
	// The working directory is empty, so that no relative default finds
	// the repository's files.
	c, err := startChild(ctx, "server", bin, []string{"serve"}, env, workDir)
	if err != nil {
		removeRoot()
		return nil, nil, err
	}
	return c, func() { c.stop(); removeRoot() }, nil
}

// waitReady polls GET /readyz until it answers 200.
func waitReady(ctx context.Context, addr string, within time.Duration) error {
	hc := newClient(addr, 1, 5*time.Second)
	defer hc.CloseIdleConnections()
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	deadline := time.Now().Add(within)
	var last string
	for time.Now().Before(deadline) {
		req.Reset()
		req.Header.SetHost("127.0.0.1")
		req.SetRequestURI("/readyz")
		err := hc.DoTimeout(req, resp, 5*time.Second)
		if err == nil && resp.StatusCode() == fasthttp.StatusOK {
			return nil
		}
		if err != nil {
			last = err.Error()
		} else {
			last = fmt.Sprintf("status %d: %s", resp.StatusCode(), resp.Body())
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return fmt.Errorf("GET /readyz did not answer 200 within %s (last: %s)", within, last)
}
