package config

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/knadh/koanf/parsers/yaml"
	"github.com/knadh/koanf/providers/env/v2"
	"github.com/knadh/koanf/providers/file"
	"github.com/knadh/koanf/v2"

	"github.com/portcullis/portcullis/domain/tenant"
)

// EnvPrefix starts every environment variable Portcullis reads.
const EnvPrefix = "PORTCULLIS_"

// EnvConfigFile names the variable holding the platform config file path.
const EnvConfigFile = EnvPrefix + "CONFIG"

// MasterKeySize is the length of the decoded master key.
const MasterKeySize = 32

// Platform holds the settings shared by all tenants. README.md documents
// each with its default; Defaults returns them.
type Platform struct {
	// Listen is the HTTP listen address, host:port.
	Listen string `koanf:"listen"`
	// MongoDBURI selects the database; empty starts the embedded store.
	MongoDBURI string `koanf:"mongodb_uri"`
	// MongoDBDatabase is the database name inside MongoDB.
	MongoDBDatabase string `koanf:"mongodb_database"`
	// RedisURL selects Redis; empty starts the embedded Redis.
	RedisURL string `koanf:"redis_url"`
	// MasterKey is 32 bytes in standard or URL-safe base64; it seals
	// signing keys and other secrets at rest.
	MasterKey string `koanf:"master_key"`
	// TrustedProxies lists the IPs or CIDR prefixes of proxies whose
	// X-Forwarded-For header is believed.
	TrustedProxies []string `koanf:"trusted_proxies"`
	// TenantsDir holds one YAML file per tenant.
	TenantsDir string `koanf:"tenants_dir"`
	// DataDir holds the embedded store's files and, in dev mode, the
	// generated master key.
	DataDir string `koanf:"data_dir"`
	// LogLevel is debug, info, warn or error.
	LogLevel string `koanf:"log_level"`
	// LogFormat is text or json.
	LogFormat string `koanf:"log_format"`
	// DevMode enables the dev outbox endpoint, insecure cookies for plain
	// HTTP, and a generated master key.
	DevMode bool `koanf:"dev_mode"`
	// DefaultTenant serves requests that no domain or X-Tenant-ID resolves.
	DefaultTenant string `koanf:"default_tenant"`
	// ShutdownTimeout bounds how long in-flight requests may take to drain.
	ShutdownTimeout time.Duration `koanf:"shutdown_timeout"`
	// TenantRefreshInterval is how often tenant files and stored tenants
	// are re-read.
	TenantRefreshInterval time.Duration `koanf:"tenant_refresh_interval"`
	// PprofListen, if set, serves Go's net/http/pprof profiles on this
	// address (keep it on loopback); empty disables it.
	PprofListen string `koanf:"pprof_listen"`
	// MetricsListen serves GET /metrics (Prometheus) on this address,
	// apart from the public listener; "off" disables it. In dev mode the
	// main listener serves /metrics too.
	MetricsListen string `koanf:"metrics_listen"`
	// MetricsMaxTenants is how many tenants get a metrics label of their
	// own; the rest are folded into "other".
	MetricsMaxTenants int `koanf:"metrics_max_tenants"`
	// CacheEntries bounds each of the process's caches shared by all
	// tenants (users, sessions, verified access tokens), least recently
	// used first out.
	CacheEntries int `koanf:"cache_entries"`
	// OTLPEndpoint, when set, exports traces over OTLP/HTTP to this
	// collector (such as http://127.0.0.1:4318); empty: tracing is off.
	OTLPEndpoint string `koanf:"otlp_endpoint"`
	// TraceSampleRatio is the share of new traces recorded, 0 to 1.
	TraceSampleRatio float64 `koanf:"trace_sample_ratio"`
	// PlatformAPIKeys are platform API keys given in the configuration
	// (besides those `portcullis platform key create` stores).
	PlatformAPIKeys []PlatformAPIKey `koanf:"platform_api_keys"`
	// TenantDeleteGrace is how long a tenant deleted through the platform
	// API stays restorable before its data is deleted.
	TenantDeleteGrace time.Duration `koanf:"tenant_delete_grace"`
}

// PlatformAPIKey is a platform API key of the configuration: its id, the
// SHA-256 of its secret (hex) and its scopes.
type PlatformAPIKey struct {
	ID     string   `koanf:"id"`
	SHA256 string   `koanf:"sha256"`
	Scopes []string `koanf:"scopes"`
}

// The scopes of platform API keys.
const (
	ScopeTenantsRead  = "tenants:read"
	ScopeTenantsWrite = "tenants:write"
)

// PlatformKeyID is the form of a platform API key's id.
var PlatformKeyID = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,31}$`)

// MetricsOff is the metrics_listen that serves no metrics listener.
const MetricsOff = "off"

// Defaults returns the platform settings used when nothing is configured.
func Defaults() Platform {
	return Platform{
		Listen:                "127.0.0.1:8080",
		MongoDBDatabase:       "portcullis",
		TenantsDir:            "config/tenants",
		DataDir:               "var",
		LogLevel:              "info",
		LogFormat:             "text",
		ShutdownTimeout:       15 * time.Second,
		TenantRefreshInterval: 10 * time.Second,
		MetricsListen:         "127.0.0.1:9464",
		MetricsMaxTenants:     100,
		CacheEntries:          50_000,
		TraceSampleRatio:      1,
		TenantDeleteGrace:     7 * 24 * time.Hour,
	}
}

// Load reads the platform configuration: defaults, then the YAML file at
// path (if path is not empty), then PORTCULLIS_* variables from environ
// (which win). The result is validated; every problem is reported at once.
func Load(path string, environ []string) (Platform, error) {
	k := koanf.New(".")
	if path != "" {
		if _, err := os.Stat(path); err != nil {
			return Platform{}, fmt.Errorf("config file: %w", err)
		}
		if err := k.Load(file.Provider(path), yaml.Parser()); err != nil {
			return Platform{}, fmt.Errorf("config file %s: %w", path, err)
		}
	}
	var unknownEnv []string
	known := settingNames()
	envProvider := env.Provider(".", env.Opt{
		Prefix:      EnvPrefix,
		EnvironFunc: func() []string { return environ },
		TransformFunc: func(key, value string) (string, any) {
			if key == EnvConfigFile {
				return "", nil
			}
			name := strings.ToLower(strings.TrimPrefix(key, EnvPrefix))
			if !slices.Contains(known, name) {
				unknownEnv = append(unknownEnv, key)
				return "", nil
			}
			if name == "trusted_proxies" {
				return name, splitList(value)
			}
			return name, value
		},
	})
	if err := k.Load(envProvider, nil); err != nil {
		return Platform{}, fmt.Errorf("environment: %w", err)
	}

	p := Defaults()
	err := k.UnmarshalWithConf("", &p, koanf.UnmarshalConf{DecoderConfig: &mapstructure.DecoderConfig{
		ErrorUnused:      true,
		WeaklyTypedInput: true, // environment values are strings: "true", "8080"
		ZeroFields:       true,
		TagName:          "koanf",
		DecodeHook:       mapstructure.ComposeDecodeHookFunc(durationHook, mapstructure.StringToSliceHookFunc(",")),
	}})
	var problems []Problem
	if err != nil {
		problems = decodeProblems(err)
	}
	slices.Sort(unknownEnv)
	for _, name := range unknownEnv {
		problems = append(problems, Problem{Field: name, Reason: "is not a known setting (known: " + EnvPrefix + strings.ToUpper(strings.Join(known, ", "+EnvPrefix)) + ")"})
	}
	if err == nil {
		problems = append(problems, p.validate()...)
	}
	if len(problems) > 0 {
		return Platform{}, &Error{Problems: problems}
	}
	return p, nil
}

func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func settingNames() []string {
	t := reflect.TypeFor[Platform]()
	names := make([]string, t.NumField())
	for i := range t.NumField() {
		names[i] = t.Field(i).Tag.Get("koanf")
	}
	return names
}

var redisSchemes = []string{"redis", "rediss", "redis+sentinel", "rediss+sentinel", "redis+cluster", "rediss+cluster", "unix"}

func (p Platform) validate() []Problem {
	var ps []Problem
	add := func(field, format string, args ...any) {
		ps = append(ps, Problem{Field: field, Reason: fmt.Sprintf(format, args...)})
	}
	if host, port, err := net.SplitHostPort(p.Listen); err != nil || port == "" {
		add("listen", "%q must be host:port, e.g. 127.0.0.1:8080 or :8080", p.Listen)
	} else if host != "" && net.ParseIP(host) == nil && strings.ContainsAny(host, "/ ") {
		add("listen", "%q has an invalid host", p.Listen)
	}
	if p.MongoDBURI != "" {
		u, err := url.Parse(p.MongoDBURI)
		if err != nil || (u.Scheme != "mongodb" && u.Scheme != "mongodb+srv") || u.Host == "" {
			add("mongodb_uri", "must be a mongodb:// or mongodb+srv:// URI with a host")
		}
	}
	if p.MongoDBDatabase == "" || strings.ContainsAny(p.MongoDBDatabase, `/\. "$`) {
		add("mongodb_database", "%q must be a non-empty name without / \\ . space \" or $", p.MongoDBDatabase)
	}
	if p.RedisURL != "" {
		u, err := url.Parse(p.RedisURL)
		if err != nil || !slices.Contains(redisSchemes, u.Scheme) || (u.Host == "" && u.Scheme != "unix") {
			add("redis_url", "must be a URL with scheme %s and a host", strings.Join(redisSchemes, ", "))
		}
	}
	switch {
	case p.MasterKey == "" && !p.DevMode:
		add("master_key", "is required outside dev mode: set %sMASTER_KEY to 32 random bytes in base64 (openssl rand -base64 32)", EnvPrefix)
	case p.MasterKey != "":
		if _, err := DecodeMasterKey(p.MasterKey); err != nil {
			add("master_key", "%v", err)
		}
	}
	for i, s := range p.TrustedProxies {
		if _, err := parseProxy(s); err != nil {
			add(fmt.Sprintf("trusted_proxies[%d]", i), "%q is not an IP address or CIDR prefix", s)
		}
	}
	if p.DataDir == "" {
		add("data_dir", "is required")
	}
	if !slices.Contains([]string{"debug", "info", "warn", "error"}, strings.ToLower(p.LogLevel)) {
		add("log_level", "must be one of debug, info, warn, error; got %q", p.LogLevel)
	}
	if p.LogFormat != "text" && p.LogFormat != "json" {
		add("log_format", "must be text or json; got %q", p.LogFormat)
	}
	if p.DefaultTenant != "" {
		probe := tenant.Default()
		probe.ID = p.DefaultTenant
		if probe.Validate() != nil {
			add("default_tenant", "%q is not a valid tenant id", p.DefaultTenant)
		}
	}
	if p.PprofListen != "" {
		if _, port, err := net.SplitHostPort(p.PprofListen); err != nil || port == "" {
			add("pprof_listen", "%q must be host:port, e.g. 127.0.0.1:6060", p.PprofListen)
		}
	}
	if p.MetricsListen != MetricsOff {
		if _, port, err := net.SplitHostPort(p.MetricsListen); err != nil || port == "" {
			add("metrics_listen", "%q must be host:port, e.g. 127.0.0.1:9464, or off", p.MetricsListen)
		}
	}
	if p.MetricsMaxTenants < 1 || p.MetricsMaxTenants > 100000 {
		add("metrics_max_tenants", "must be between 1 and 100000, got %d", p.MetricsMaxTenants)
	}
	if p.CacheEntries < 1 || p.CacheEntries > 10_000_000 {
		add("cache_entries", "must be between 1 and 10000000, got %d", p.CacheEntries)
	}
	if p.OTLPEndpoint != "" {
		if u, err := url.Parse(p.OTLPEndpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			add("otlp_endpoint", "%q must be an http(s) URL such as http://127.0.0.1:4318", p.OTLPEndpoint)
		}
	}
	for i, k := range p.PlatformAPIKeys {
		f := fmt.Sprintf("platform_api_keys[%d]", i)
		if !PlatformKeyID.MatchString(k.ID) {
			add(f+".id", "%q must be 1 to 32 lowercase letters, digits and dashes", k.ID)
		}
		if b, err := hex.DecodeString(k.SHA256); err != nil || len(b) != 32 {
			add(f+".sha256", "must be the SHA-256 of the key's secret, 64 hex digits")
		}
		if len(k.Scopes) == 0 {
			add(f+".scopes", "must name at least one of %s, %s", ScopeTenantsRead, ScopeTenantsWrite)
		}
		for _, sc := range k.Scopes {
			if sc != ScopeTenantsRead && sc != ScopeTenantsWrite {
				add(f+".scopes", "%q is not a scope (%s, %s)", sc, ScopeTenantsRead, ScopeTenantsWrite)
			}
		}
	}
	if p.TenantDeleteGrace < 0 {
		add("tenant_delete_grace", "must not be negative, got %s", p.TenantDeleteGrace)
	}
	if p.TraceSampleRatio < 0 || p.TraceSampleRatio > 1 {
		add("trace_sample_ratio", "must be between 0 and 1, got %g", p.TraceSampleRatio)
	}
	if p.ShutdownTimeout <= 0 {
		add("shutdown_timeout", "must be a positive duration, got %s", p.ShutdownTimeout)
	}
	if p.TenantRefreshInterval < time.Second {
		add("tenant_refresh_interval", "must be at least 1s, got %s", p.TenantRefreshInterval)
	}
	return ps
}

// DecodeMasterKey decodes a base64 master key and checks its length.
func DecodeMasterKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			if len(b) != MasterKeySize {
				return nil, fmt.Errorf("must decode to %d bytes, got %d", MasterKeySize, len(b))
			}
			return b, nil
		}
	}
	return nil, errors.New("must be base64 (standard or URL-safe)")
}

// Level returns the configured log level.
func (p Platform) Level() slog.Level {
	var l slog.Level
	_ = l.UnmarshalText([]byte(p.LogLevel))
	return l
}

// Proxies returns the trusted proxies as prefixes (a bare IP is a /32 or
// /128 prefix).
func (p Platform) Proxies() []netip.Prefix {
	out := make([]netip.Prefix, 0, len(p.TrustedProxies))
	for _, s := range p.TrustedProxies {
		if pr, err := parseProxy(s); err == nil {
			out = append(out, pr)
		}
	}
	return out
}

func parseProxy(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		pr, err := netip.ParsePrefix(s)
		return pr.Masked(), err
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()), nil
}

// LogValue renders the settings for the start-up log with every secret
// masked: the master key is shown only as set or unset, and passwords in
// URIs are replaced.
func (p Platform) LogValue() slog.Value {
	mask := func(uri string) string {
		if uri == "" {
			return "(embedded)"
		}
		u, err := url.Parse(uri)
		if err != nil {
			return "(unparsable)"
		}
		if u.User != nil {
			if _, has := u.User.Password(); has {
				u.User = url.UserPassword(u.User.Username(), "xxxxx")
			}
		}
		q := u.Query()
		for k := range q {
			if strings.Contains(strings.ToLower(k), "password") || strings.Contains(strings.ToLower(k), "secret") {
				q.Set(k, "xxxxx")
			}
		}
		u.RawQuery = q.Encode()
		return u.String()
	}
	key := "unset"
	if p.MasterKey != "" {
		key = "set"
	}
	return slog.GroupValue(
		slog.String("listen", p.Listen),
		slog.String("mongodb_uri", mask(p.MongoDBURI)),
		slog.String("mongodb_database", p.MongoDBDatabase),
		slog.String("redis_url", mask(p.RedisURL)),
		slog.String("master_key", key),
		slog.Any("trusted_proxies", p.TrustedProxies),
		slog.String("tenants_dir", p.TenantsDir),
		slog.String("data_dir", p.DataDir),
		slog.String("log_level", p.LogLevel),
		slog.String("log_format", p.LogFormat),
		slog.Bool("dev_mode", p.DevMode),
		slog.String("default_tenant", p.DefaultTenant),
		slog.Duration("shutdown_timeout", p.ShutdownTimeout),
		slog.Duration("tenant_refresh_interval", p.TenantRefreshInterval),
		slog.String("pprof_listen", p.PprofListen),
		slog.String("metrics_listen", p.MetricsListen),
		slog.Int("cache_entries", p.CacheEntries),
		slog.String("otlp_endpoint", p.OTLPEndpoint),
	)
}
