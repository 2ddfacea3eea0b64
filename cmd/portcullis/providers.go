package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/google/wire"

	"github.com/portcullis/portcullis/adapters/cache"
	"github.com/portcullis/portcullis/adapters/commonpass"
	"github.com/portcullis/portcullis/adapters/credential"
	"github.com/portcullis/portcullis/adapters/crypto/aesgcm"
	"github.com/portcullis/portcullis/adapters/crypto/argon2"
	"github.com/portcullis/portcullis/adapters/crypto/jwt"
	"github.com/portcullis/portcullis/adapters/embedded"
	"github.com/portcullis/portcullis/adapters/http/web"
	"github.com/portcullis/portcullis/adapters/mailtmpl"
	"github.com/portcullis/portcullis/adapters/metrics"
	"github.com/portcullis/portcullis/adapters/mongo"
	"github.com/portcullis/portcullis/adapters/outbox"
	"github.com/portcullis/portcullis/adapters/redis"
	"github.com/portcullis/portcullis/adapters/sms"
	"github.com/portcullis/portcullis/adapters/smtp"
	"github.com/portcullis/portcullis/adapters/tracing"
	"github.com/portcullis/portcullis/application/account"
	"github.com/portcullis/portcullis/application/admin"
	"github.com/portcullis/portcullis/application/adminlogin"
	"github.com/portcullis/portcullis/application/audit"
	"github.com/portcullis/portcullis/application/captcha"
	"github.com/portcullis/portcullis/application/courier"
	"github.com/portcullis/portcullis/application/device"
	"github.com/portcullis/portcullis/application/emaillogin"
	"github.com/portcullis/portcullis/application/keyring"
	"github.com/portcullis/portcullis/application/login"
	"github.com/portcullis/portcullis/application/loginlink"
	"github.com/portcullis/portcullis/application/mfa"
	"github.com/portcullis/portcullis/application/notify"
	"github.com/portcullis/portcullis/application/otp"
	"github.com/portcullis/portcullis/application/password"
	"github.com/portcullis/portcullis/application/platform"
	"github.com/portcullis/portcullis/application/profile"
	"github.com/portcullis/portcullis/application/recovery"
	"github.com/portcullis/portcullis/application/session"
	"github.com/portcullis/portcullis/application/setuplink"
	"github.com/portcullis/portcullis/application/smslogin"
	"github.com/portcullis/portcullis/application/storefront"
	"github.com/portcullis/portcullis/application/throttle"
	"github.com/portcullis/portcullis/application/tokenlogin"
	"github.com/portcullis/portcullis/application/verification"
	"github.com/portcullis/portcullis/config"
	"github.com/portcullis/portcullis/domain/identity"
	"github.com/portcullis/portcullis/domain/link"
	otpdomain "github.com/portcullis/portcullis/domain/otp"
	"github.com/portcullis/portcullis/domain/tenant"
)

// Platform is what all tenants share, built once by the platform injector:
// the connections, and the stores, caches and pools that bound the whole
// process. The tenant injector reads its fields.
type Platform struct {
	Logger *slog.Logger
	Mongo  *mongo.DB
	Redis  redis.Client
	Clock  platform.Clock
	Random platform.Random
	// MasterKey is what per-tenant secrets are derived from.
	MasterKey MasterKey
	Sealer    *aesgcm.Sealer
	Keys      *mongo.KeyStore
	Tenants   *mongo.TenantStore
	// Outbox records mail and SMS in dev mode; nil otherwise.
	Outbox *outbox.Outbox
	// DevBaseURL is the mail.base_url of a tenant that sets none, in dev
	// mode; empty otherwise.
	DevBaseURL DevBaseURL

	RefreshTokens *mongo.RefreshTokenStore
	// The users' second factors: TOTP secrets and backup codes.
	TOTPs       *mongo.TOTPStore
	BackupCodes *mongo.BackupCodeStore
	Revocations *redis.Revocations
	OTPStore    *redis.OTPStore
	// RevocationSync keeps the revocation set a complete copy of the
	// store's revocation log; serve runs it.
	RevocationSync *session.Sync
	// Hasher is shared by all tenants: its pool bounds the CPU and memory
	// spent on password hashing for the whole process.
	Hasher *argon2.Hasher
	Common *commonpass.List
	// Metrics are the process's Prometheus collectors.
	Metrics *metrics.Metrics

	// Process-wide caches in front of the stores and token verification.
	UserCache    *cache.Users
	SessionCache *cache.Sessions
	TokenCache   *cache.Tokens

	// AuditLog is the tenants' audit log; AuditWriter the one bounded
	// buffer every tenant's events wait in for it.
	AuditLog    *mongo.AuditStore
	AuditWriter *audit.Writer
	// FirstSignIns remembers which users have signed in (seed 003's
	// is_first_time_login).
	FirstSignIns *mongo.FirstSignInStore

	// Carts are the storefront tenants' carts and wishlists in the
	// database (a tenant with a cart webhook uses its own service
	// instead); CartRetrier the one queue of merges retried after their
	// store was unavailable at login.
	Carts       *mongo.StorefrontStore
	CartRetrier *storefront.Retrier
}

// MasterKey is the decoded platform master key.
type MasterKey []byte

// DevBaseURL is the base URL of mailed links for a tenant that configures
// none, in dev mode (config.DevBaseURL).
type DevBaseURL string

var platformSet = wire.NewSet(
	wire.Struct(new(Platform), "*"),
	provideMongo,
	provideRedis,
	provideRedisBreaker,
	provideClock,
	provideRandom,
	provideMasterKey,
	provideSealer,
	mongo.NewKeyStore,
	mongo.NewTenantStore,
	provideOutbox,
	provideDevBaseURL,
	mongo.NewUserStore,
	mongo.NewSessionStore,
	mongo.NewRefreshTokenStore,
	mongo.NewTOTPStore,
	mongo.NewBackupCodeStore,
	redis.NewRevocations,
	redis.NewOTPStore,
	provideRevocationSync,
	provideHasher,
	commonpass.Default,
	provideUserCache,
	provideSessionCache,
	provideTokenCache,
	mongo.NewAuditStore,
	provideAuditWriter,
	mongo.NewFirstSignInStore,
	storefrontPlatformSet,
	provideMetrics,
)

// The tenant graph: one provider set per package of the core, and one set
// where the platform's adapters meet the ports they implement (Wire wants
// a bind beside the provider of its concrete type, and those are the
// platform's fields). The use cases know only their ports.
var (
	throttleSet = wire.NewSet(provideLimiter, provideObservedLimiter, wire.Bind(new(throttle.Limiter), new(*metrics.Limiter)))
	sessionSet  = wire.NewSet(wire.Struct(new(session.Deps), "*"), session.New, session.NewIssuer,
		provideAccessTokens, wire.Bind(new(session.AccessTokens), new(*cache.AccessTokens)))
	loginSet = wire.NewSet(wire.Struct(new(login.Deps), "*"), login.New)
	adminSet = wire.NewSet(provideAdmin)
	mfaSet   = wire.NewSet(wire.Struct(new(mfa.Deps), "*"), mfa.New, provideMFAKey,
		wire.Bind(new(login.SecondFactors), new(*mfa.Service)))
	passwordSet = wire.NewSet(wire.Struct(new(password.Deps), "*"), password.New)
	deviceSet   = wire.NewSet(wire.Struct(new(device.Deps), "*"), device.New, provideDeviceKey,
		providePlaces, wire.Bind(new(device.Places), new(*redis.Places)), wire.Bind(new(login.Places), new(*device.Service)))
	keyringSet = wire.NewSet(provideKeyring)
	otpSet     = wire.NewSet(provideOTPKey, provideOTPEngine)
	smsSet     = wire.NewSet(provideSMSSender, provideSMSLogin)
	mailSet    = wire.NewSet(provideMail, provideMailer, provideMailTemplates, wire.Bind(new(notify.Composer), new(*mailtmpl.Templates)), provideCourier,
		wire.Bind(new(password.Mail), new(*courier.Courier)), wire.Bind(new(login.Mail), new(*courier.Courier)),
		wire.Bind(new(mfa.Mail), new(*courier.Courier)))
	emailSet = wire.NewSet(provideRecovery, provideSetupLinkKey, provideVerification, provideEmailLogin, provideProfile, wire.Bind(new(password.Verifier), new(*verification.Service)),
		wire.Bind(new(mfa.Reauth), new(*profile.Service)))
	linkSet    = wire.NewSet(provideLoginLinks, provideTokenLogin)
	seed002Set = wire.NewSet(provideAdminLogin)
	seed003Set = wire.NewSet(provideSeed003)
	auditSet   = wire.NewSet(provideAuditRecorder, provideObservedAudit, wire.Bind(new(audit.Recorder), new(*metrics.AuditObserver)), provideAuditService)

	platformBinds = wire.NewSet(
		wire.FieldsOf(new(*Platform), "Logger", "Keys", "Sealer", "MasterKey", "Clock", "Random", "Outbox", "DevBaseURL", "Redis",
			"UserCache", "SessionCache", "TokenCache", "RefreshTokens", "Revocations", "OTPStore", "RevocationSync", "Hasher", "Common",
			"TOTPs", "BackupCodes", "AuditLog", "AuditWriter", "FirstSignIns", "Carts", "CartRetrier", "Metrics"),
		wire.Bind(new(mfa.TOTPs), new(*mongo.TOTPStore)),
		wire.Bind(new(mfa.BackupCodes), new(*mongo.BackupCodeStore)),
		wire.Bind(new(mfa.Sealer), new(*aesgcm.Sealer)),
		wire.Bind(new(otp.Store), new(*redis.OTPStore)),
		wire.Bind(new(account.Users), new(*cache.Users)),
		wire.Bind(new(session.Sessions), new(*cache.Sessions)),
		wire.Bind(new(session.RefreshTokens), new(*mongo.RefreshTokenStore)),
		wire.Bind(new(session.Revocations), new(*redis.Revocations)),
		wire.Bind(new(password.Hasher), new(*argon2.Hasher)),
		wire.Bind(new(password.CommonPasswords), new(*commonpass.List)),
		wire.Bind(new(keyring.Store), new(*mongo.KeyStore)),
		wire.Bind(new(keyring.Sealer), new(*aesgcm.Sealer)),
		wire.Bind(new(audit.Log), new(*mongo.AuditStore)),
		wire.Bind(new(login.FirstSignIns), new(*mongo.FirstSignInStore)),
	)
)

var tenantSet = wire.NewSet(
	platformBinds,
	throttleSet, sessionSet, loginSet, mfaSet, adminSet, passwordSet, deviceSet, keyringSet, otpSet, smsSet, mailSet, emailSet, linkSet, auditSet,
	seed002Set, seed003Set, captchaSet, storefrontSet,
	wire.Struct(new(web.TenantServices), "*"),
)

// provideMongo connects to the configured MongoDB, or starts the embedded
// FerretDB under the data directory, and creates the collections and
// indexes; on the embedded store also the _id indexes its SQLite tables
// lack (embedded.IndexIDs), once EnsureIndexes has created every table.
func provideMongo(ctx context.Context, cfg config.Platform, log *slog.Logger) (*mongo.DB, func(), error) {
	uri := cfg.MongoDBURI
	sqliteDir := ""
	stopEmbedded := func() {}
	if uri == "" {
		var err error
		sqliteDir = filepath.Join(cfg.DataDir, "ferretdb")
		uri, stopEmbedded, err = embedded.StartFerretDB(ctx, embedded.FerretDBOptions{Dir: sqliteDir, Logger: log})
		if err != nil {
			return nil, nil, err
		}
		log.Info("embedded MongoDB-compatible store started (FerretDB on SQLite)", "dir", sqliteDir)
	}
	db, disconnect, err := mongo.Connect(ctx, uri, cfg.MongoDBDatabase, log)
	if err != nil {
		stopEmbedded()
		return nil, nil, err
	}
	if err := db.EnsureIndexes(ctx, mongo.Indexes); err != nil {
		disconnect()
		stopEmbedded()
		return nil, nil, err
	}
	if sqliteDir != "" {
		// The store is correct without these indexes, only slower: a
		// failure does not stop the start.
		if err := embedded.IndexIDs(ctx, sqliteDir); err != nil {
			log.Warn("embedded store: lookups by _id scan their collection", "error", err)
		}
	}
	return db, func() { disconnect(); stopEmbedded() }, nil
}

// provideRedis connects to the configured Redis, or starts the embedded one.
// provideRedisBreaker is the process's circuit breaker on Redis, with its
// defaults.
func provideRedisBreaker(log *slog.Logger) *redis.Breaker { return redis.NewBreaker(0, 0, log) }

func provideRedis(ctx context.Context, cfg config.Platform, log *slog.Logger, breaker *redis.Breaker) (redis.Client, func(), error) {
	url := cfg.RedisURL
	stopEmbedded := func() {}
	if url == "" {
		var err error
		url, stopEmbedded, err = embedded.StartRedis()
		if err != nil {
			return nil, nil, err
		}
		log.Info("embedded Redis started (miniredis; state is lost at exit)")
	}
	c, err := redis.NewClient(url)
	if err != nil {
		stopEmbedded()
		return nil, nil, err
	}
	c.AddHook(tracing.RedisHook{})
	// After the tracing hook, so that a command refused at once is a
	// span too.
	c.AddHook(breaker)
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := redis.Ping(pingCtx, c); err != nil {
		_ = c.Close()
		stopEmbedded()
		return nil, nil, fmt.Errorf("redis: ping: %w", err)
	}
	return c, func() { _ = c.Close(); stopEmbedded() }, nil
}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

func provideClock() platform.Clock { return systemClock{} }

func provideRandom() platform.Random { return rand.Reader }

// masterKeyFile is where dev mode keeps a generated master key.
const masterKeyFile = "master.key"

// provideMasterKey decodes the configured master key. In dev mode without
// one, it reads or generates data_dir/master.key, with a warning.
func provideMasterKey(cfg config.Platform, log *slog.Logger) (MasterKey, error) {
	if cfg.MasterKey != "" {
		return config.DecodeMasterKey(cfg.MasterKey)
	}
	if !cfg.DevMode {
		return nil, errors.New("master_key: is required outside dev mode")
	}
	path := filepath.Join(cfg.DataDir, masterKeyFile)
	data, err := os.ReadFile(path)
	if err == nil {
		key, err := config.DecodeMasterKey(string(data))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		log.Warn("dev mode: using the generated master key; set PORTCULLIS_MASTER_KEY in production", "file", path)
		return key, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	key := make([]byte, config.MasterKeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data_dir: %w", err)
	}
	encoded := base64.StdEncoding.EncodeToString(key) + "\n"
	if err := os.WriteFile(path, []byte(encoded), 0o600); err != nil {
		return nil, fmt.Errorf("write %s: %w", path, err)
	}
	log.Warn("dev mode: generated a master key; anything sealed with it is unreadable without this file, and production must set PORTCULLIS_MASTER_KEY", "file", path)
	return key, nil
}

func provideSealer(key MasterKey) (*aesgcm.Sealer, error) { return aesgcm.New(key) }

func provideOutbox(cfg config.Platform, log *slog.Logger) *outbox.Outbox {
	if !cfg.DevMode {
		return nil
	}
	return outbox.New(log, outbox.DefaultCapacity)
}

// provideDevBaseURL is http://localhost with the listen port in dev mode
// (http://localhost:8080 under make run).
func provideDevBaseURL(cfg config.Platform) DevBaseURL {
	if !cfg.DevMode {
		return ""
	}
	return DevBaseURL(config.DevBaseURL(cfg.Listen))
}

func provideKeyring(t tenant.Tenant, store keyring.Store, sealer keyring.Sealer, clock platform.Clock, random platform.Random) *keyring.Ring {
	return keyring.New(t.ID, store, sealer, clock, random, keyring.Policy{TokenLifetime: t.Tokens.Access, Rotation: t.Tokens.KeyRotation})
}

// provideRevocationSync reads the store's log directly, never through the
// session cache.
func provideRevocationSync(sessions *mongo.SessionStore, set *redis.Revocations, clock platform.Clock) *session.Sync {
	return session.NewSync(sessions, set, clock, session.DefaultSyncInterval)
}

func provideHasher() *argon2.Hasher { return argon2.New(argon2.Options{}) }

func provideUserCache(cfg config.Platform, users *mongo.UserStore) *cache.Users {
	return cache.NewUsers(users, cfg.CacheEntries, cache.DefaultUserTTL)
}

func provideSessionCache(cfg config.Platform, sessions *mongo.SessionStore, clock platform.Clock) *cache.Sessions {
	return cache.NewSessions(sessions, clock, cfg.CacheEntries, cache.DefaultRecordTTL)
}

func provideTokenCache(cfg config.Platform) *cache.Tokens {
	return cache.NewTokens(cfg.CacheEntries, cache.DefaultTokenTTL)
}

// provideAccessTokens returns the tenant's issuer, its verifications cached
// in the process-wide token cache.
func provideAccessTokens(t tenant.Tenant, ring *keyring.Ring, clock platform.Clock, tokens *cache.Tokens) *cache.AccessTokens {
	return cache.NewAccessTokens(jwt.New(t.ID, ring, clock, t.Tokens.Access), t.ID, tokens, clock)
}

func provideLimiter(t tenant.Tenant, c redis.Client) *redis.Limiter { return redis.NewLimiter(c, t.ID) }

// provideObservedLimiter is the tenant's limiter, its denials counted.
func provideObservedLimiter(t tenant.Tenant, m *metrics.Metrics, l *redis.Limiter) *metrics.Limiter {
	return m.ObserveLimiter(t.ID, l)
}

// provideObservedAudit is the tenant's audit recorder, its sign-ins
// counted.
func provideObservedAudit(t tenant.Tenant, m *metrics.Metrics, r *audit.TenantRecorder) *metrics.AuditObserver {
	return m.ObserveAudit(t.ID, r)
}

// provideMetrics returns the process's metrics, watching the hashing
// pool, the audit writer and the caches.
func provideMetrics(cfg config.Platform, h *argon2.Hasher, w *audit.Writer, users *cache.Users, sessions *cache.Sessions, tokens *cache.Tokens, breaker *redis.Breaker) *metrics.Metrics {
	m := metrics.New(metrics.Options{MaxTenants: cfg.MetricsMaxTenants})
	m.WatchHasher(h)
	m.WatchRedisBreaker(breaker)
	m.WatchAuditWriter(w)
	m.WatchCache("users", users)
	m.WatchCache("sessions", sessions)
	m.WatchCache("access_tokens", tokens)
	return m
}

func providePlaces(t tenant.Tenant, c redis.Client) *redis.Places { return redis.NewPlaces(c, t.ID) }

// provideDeviceKey derives the tenant's device-credential key from the
// master key: rotating the master key invalidates every device credential
// (their devices then count as strangers until they log in again).
func provideDeviceKey(t tenant.Tenant, mk MasterKey) (device.Key, error) {
	return device.DeriveKey(mk, t.ID)
}

// provideMail returns the tenant's mail settings as its services use
// them (config.EffectiveMail): outside dev mode a tenant with an e-mail
// flow and no SMTP server or base URL does not build; in dev mode a
// missing base URL is the server's own.
func provideMail(t tenant.Tenant, box *outbox.Outbox, dev DevBaseURL) (tenant.Mail, error) {
	return config.EffectiveMail(t, box != nil, string(dev))
}

// provideMailer returns the tenant's mail sender (mailProvider), its sends
// counted.
func provideMailer(t tenant.Tenant, m tenant.Mail, box *outbox.Outbox, sealer *aesgcm.Sealer, log *slog.Logger, mx *metrics.Metrics) (notify.Mailer, error) {
	s, err := mailProvider(t, m, box, sealer, log)
	if err != nil {
		return nil, err
	}
	return mx.ObserveMail(t.ID, s), nil
}

// mailProvider returns the tenant's mail sender: its SMTP server when it
// has one; else the dev outbox in dev mode, or one that refuses.
func mailProvider(t tenant.Tenant, m tenant.Mail, box *outbox.Outbox, sealer *aesgcm.Sealer, log *slog.Logger) (notify.Mailer, error) {
	if !m.SMTP.Configured() {
		if box != nil {
			return box.Mailer(t.ID), nil
		}
		return outbox.Unconfigured{Channel: "mail"}, nil
	}
	password, err := config.SMTPPassword(t, os.LookupEnv, sealer)
	if err != nil {
		return nil, err
	}
	s := m.SMTP
	return smtp.NewMailer(smtp.Options{Host: s.Host, Port: s.Port, TLS: s.TLS, InsecureSkipVerify: s.InsecureSkipVerify,
		Username: s.Username, Password: credential.New(password), From: m.From, ReplyTo: m.ReplyTo, Timeout: s.Timeout,
		Tenant: t.ID, Logger: log})
}

// provideAdmin returns the tenant's admin actions over its users,
// sessions and second factors, its invitations (the reset flow), login
// links and audit log.
func provideAdmin(t tenant.Tenant, users account.Users, sessions *session.Service, factors *mfa.Service, invites *recovery.Service,
	links *loginlink.Service, log *audit.Service, rec audit.Recorder, clock platform.Clock, random platform.Random) *admin.Service {
	return admin.New(t, admin.Deps{Users: users, Sessions: sessions, Factors: factors, Invites: invites, Links: links, Log: log,
		Audit: rec, Clock: clock, Random: random})
}

// provideMFAKey derives the tenant's key for backup-code hashes from the
// master key.
func provideMFAKey(t tenant.Tenant, mk MasterKey) (mfa.Key, error) { return mfa.DeriveKey(mk, t.ID) }

// provideOTPKey derives the tenant's key for one-time secrets from the
// master key.
func provideOTPKey(t tenant.Tenant, mk MasterKey) (otp.Key, error) { return otp.DeriveKey(mk, t.ID) }

func provideOTPEngine(t tenant.Tenant, key otp.Key, store otp.Store, clock platform.Clock, random platform.Random) *otp.Engine {
	return otp.New(t.ID, key, store, clock, random)
}

// provideSMSSender returns the tenant's SMS sender (smsProvider), its
// sends counted.
func provideSMSSender(t tenant.Tenant, box *outbox.Outbox, sealer *aesgcm.Sealer, log *slog.Logger, m *metrics.Metrics) (notify.SMSSender, error) {
	s, err := smsProvider(t, box, sealer, log)
	if err != nil {
		return nil, err
	}
	return m.ObserveSMS(t.ID, s), nil
}

// smsProvider returns the tenant's SMS sender: its provider when it has
// one; else the dev outbox in dev mode, or one that refuses. Outside dev
// mode a tenant with sms_otp and no provider does not build.
func smsProvider(t tenant.Tenant, box *outbox.Outbox, sealer *aesgcm.Sealer, log *slog.Logger) (notify.SMSSender, error) {
	if err := config.CheckSMSProvider(t, box != nil); err != nil {
		return nil, err
	}
	if !t.SMSProvider.Configured() {
		if box != nil {
			return box.SMS(t.ID), nil
		}
		return outbox.Unconfigured{Channel: "SMS"}, nil
	}
	token, err := config.SMSAuthToken(t, os.LookupEnv, sealer)
	if err != nil {
		return nil, err
	}
	p := t.SMSProvider
	return sms.NewTwilio(sms.Options{BaseURL: p.BaseURL, AccountSID: p.AccountSID, AuthToken: sms.NewSecret(token),
		From: p.From, MessagingServiceSID: p.MessagingServiceSID, Logger: log.With("tenant", t.ID)})
}

// provideSMSLogin returns the tenant's SMS login; its cleanup waits a
// moment for codes still being delivered in the background.
func provideSMSLogin(t tenant.Tenant, users account.Users, codes *otp.Engine, sender notify.SMSSender, limiter throttle.Limiter,
	pipeline *login.Pipeline, rec audit.Recorder, clock platform.Clock) (*smslogin.Service, func()) {
	svc := newSMSLogin(t, t.SMS, users, codes, sender, limiter, pipeline, rec, clock)
	return svc, waitAtShutdown(svc)
}

// newSMSLogin is the tenant's SMS login with the SMS policy policy (its
// numbers read with the tenant's default region and allowed countries)
// and the tenant's pumping budgets.
func newSMSLogin(t tenant.Tenant, policy tenant.SMSPolicy, users account.Users, codes *otp.Engine, sender notify.SMSSender,
	limiter throttle.Limiter, pipeline *login.Pipeline, rec audit.Recorder, clock platform.Clock) *smslogin.Service {
	return smslogin.New(t, policy, smslogin.Limits{
		PerIP: t.Throttling.SMSPerIP, PerCallingCode: t.Throttling.SMSPerCallingCode, PerTenant: t.Throttling.SMSPerTenant,
	}, smslogin.Deps{
		Users: users, Codes: codes, Sender: sender, Limiter: limiter, Login: pipeline, Audit: rec, Clock: clock,
		Parse: func(raw string) (string, string, error) {
			e164, err := identity.NormalizePhone(raw, policy.DefaultRegion, policy.AllowedCountries)
			if err != nil {
				return "", "", err
			}
			return e164, identity.PhoneCallingCode(e164), nil
		},
	})
}

// provideSeed003 returns what seed 003's profile uses: the tenant's SMS
// login under the profile's daily cap per number (resend_count) and code
// lifetime (otp_ttl, else sms.code_ttl), the rest of the tenant's SMS
// policy and budgets as they are; and sessions that live as long as
// their access token (tokens.access_ttl). Its cleanup waits a moment for
// codes still being delivered.
func provideSeed003(t tenant.Tenant, users account.Users, codes *otp.Engine, sender notify.SMSSender, limiter throttle.Limiter,
	pipeline *login.Pipeline, rec audit.Recorder, clock platform.Clock) (web.Seed003, func()) {
	policy := t.SMS
	policy.DailyCap = t.Profiles.Seed003ResendCount
	policy.CodeTTL = t.Profiles.Seed003CodeTTL(t.SMS)
	svc := newSMSLogin(t, policy, users, codes, sender, limiter, pipeline, rec, clock)
	return web.Seed003{SMS: svc, Session: session.Lifetime{Absolute: t.Tokens.Access}}, waitAtShutdown(svc)
}

// provideMailTemplates parses the tenant's mail templates (its overrides
// over the defaults built in) once, when its services are built.
func provideMailTemplates(t tenant.Tenant, m tenant.Mail) (*mailtmpl.Templates, error) {
	tpl, err := mailtmpl.New(mailtmpl.Options{TenantName: t.Name(), OverrideDir: m.TemplatesDir,
		Brand:            mailtmpl.Brand{PrimaryColor: m.Brand.PrimaryColor, TextColor: m.Brand.TextColor, BackgroundColor: m.Brand.BackgroundColor},
		VerificationCode: t.Email.VerificationCode})
	if err != nil {
		return nil, fmt.Errorf("tenant %q: mail: %w", t.ID, err)
	}
	return tpl, nil
}

// provideCourier returns the tenant's mail delivery; its cleanup waits a
// moment for the mail still being delivered.
func provideCourier(t tenant.Tenant, compose notify.Composer, mailer notify.Mailer, log *slog.Logger) (*courier.Courier, func()) {
	c := courier.New(t.ID, compose, mailer, log)
	return c, waitAtShutdown(c)
}

func provideRecovery(t tenant.Tenant, m tenant.Mail, users account.Users, codes *otp.Engine, limiter throttle.Limiter, hasher password.Hasher,
	common password.CommonPasswords, c *courier.Courier, sessions *session.Service, rec audit.Recorder, clock platform.Clock,
	setup setuplink.Key, gate *captcha.Service) *recovery.Service {
	p := t.Email
	return recovery.New(t, recovery.Policy{BaseURL: m.BaseURL, LinkTTL: p.ResetTTL, Cooldown: p.ResendCooldown, DailyCap: p.DailyCap,
		PerIP: t.Throttling.PasswordResetPerIP},
		recovery.Deps{Users: users, Codes: codes, Limiter: limiter, Hasher: hasher, Common: common, Mail: c, Sessions: sessions, Audit: rec,
			Clock: clock, Setup: setup, Captcha: gate})
}

// provideSetupLinkKey derives the tenant's key for the set-password links
// of `portcullis admin create -link` from the master key, as the command
// does: rotating the master key kills every outstanding link.
func provideSetupLinkKey(t tenant.Tenant, mk MasterKey) (setuplink.Key, error) {
	return setuplink.DeriveKey(mk, t.ID)
}

func provideVerification(t tenant.Tenant, m tenant.Mail, users account.Users, codes *otp.Engine, limiter throttle.Limiter,
	c *courier.Courier, clock platform.Clock) *verification.Service {
	p := t.Email
	return verification.New(t, verification.Policy{
		Policy: link.Policy{BaseURL: m.BaseURL, LinkTTL: p.VerificationTTL, Cooldown: p.ResendCooldown, DailyCap: p.DailyCap,
			PerIP: t.Throttling.VerificationMailPerIP},
		Code: p.VerificationCode, CodeLength: p.CodeLength, MaxAttempts: p.MaxAttempts},
		verification.Deps{Users: users, Codes: codes, Limiter: limiter, Mail: c, Clock: clock})
}

func provideEmailLogin(t tenant.Tenant, m tenant.Mail, users account.Users, codes *otp.Engine, limiter throttle.Limiter,
	c *courier.Courier, pipeline *login.Pipeline, rec audit.Recorder, clock platform.Clock) *emaillogin.Service {
	p := t.Email
	return emaillogin.New(t, emaillogin.Policy{BaseURL: m.BaseURL, CodeTTL: p.CodeTTL, CodeLength: p.CodeLength,
		Limits:  otpdomain.Limits{MaxAttempts: p.MaxAttempts, Cooldown: p.ResendCooldown, DailyCap: p.DailyCap},
		LinkTTL: p.MagicLinkTTL, SameDevice: p.SameDevice, SendPerIP: t.Throttling.EmailLoginPerIP},
		emaillogin.Deps{Users: users, Codes: codes, Courier: c, Limiter: limiter, Login: pipeline, Audit: rec, Clock: clock})
}

func provideProfile(t tenant.Tenant, users account.Users, hasher password.Hasher, common password.CommonPasswords, sessions *session.Service,
	verifier *verification.Service, c *courier.Courier, limiter throttle.Limiter, rec audit.Recorder, clock platform.Clock) *profile.Service {
	return profile.New(t, profile.Deps{Users: users, Hasher: hasher, Common: common, Sessions: sessions, Verifier: verifier, Mail: c,
		Limiter: limiter, Audit: rec, Clock: clock})
}

// auditFlushWait bounds how long the shutdown waits for the audit events
// still in the buffer to be written.
const auditFlushWait = 10 * time.Second

// provideAuditWriter starts the platform's audit writer into the store;
// its cleanup flushes what waits, at most auditFlushWait. It runs after
// every tenant's release (the tenants' services are built on it), and
// before the store disconnects.
func provideAuditWriter(store *mongo.AuditStore, log *slog.Logger) (*audit.Writer, func()) {
	w := audit.NewWriter(store, audit.WriterOptions{Logger: log.With("component", "audit")})
	return w, func() {
		ctx, cancel := context.WithTimeout(context.Background(), auditFlushWait)
		defer cancel()
		if err := w.Close(ctx); err != nil {
			log.Warn("audit events not all written at shutdown", "error", err, "queued", w.Stats().Queued)
		}
	}
}

// provideAuditRecorder is the tenant's recorder, keeping its events for
// its audit.retention.
func provideAuditRecorder(t tenant.Tenant, w *audit.Writer, clock platform.Clock) *audit.TenantRecorder {
	return audit.NewTenantRecorder(t.ID, t.Audit.Retention, w, clock)
}

// provideAuditService is the tenant's audit log as admins query it.
func provideAuditService(t tenant.Tenant, l audit.Log, clock platform.Clock) *audit.Service {
	return audit.NewService(t.ID, l, clock)
}

// provideLoginLinks returns the tenant's admin-issued login links, living
// its seed 000 profile's passwordless_login_max_age.
func provideLoginLinks(t tenant.Tenant, users account.Users, links *otp.Engine, pipeline *login.Pipeline, rec audit.Recorder) *loginlink.Service {
	return loginlink.New(t, loginlink.Policy{TTL: t.Profiles.Seed000LoginLinkTTL, Rights: identity.RightsOf(t)},
		loginlink.Deps{Users: users, Links: links, Login: pipeline, Audit: rec})
}

// provideTokenLogin returns the tenant's token login, whose app tokens the
// session service authenticates.
func provideTokenLogin(t tenant.Tenant, sessions *session.Service, limiter throttle.Limiter, pipeline *login.Pipeline, rec audit.Recorder) *tokenlogin.Service {
	return tokenlogin.New(t, t.Throttling.TokenLoginPerIP, tokenlogin.Deps{Tokens: sessions, Limiter: limiter, Login: pipeline, Audit: rec})
}

// provideAdminLogin returns the tenant's seed 002 admin login: its
// activation codes under the tenant's e-mail code policy (code_ttl,
// max_attempts, resend_cooldown, daily_cap; six digits whatever
// code_length says, as the seed has them), Resend counted against
// throttling.verification_mail_per_ip, its tokens living the seed 002
// profile's lifetimes.
func provideAdminLogin(t tenant.Tenant, users account.Users, passwords *password.Service, codes *otp.Engine, c *courier.Courier,
	limiter throttle.Limiter, sessions *session.Service, rec audit.Recorder, clock platform.Clock) *adminlogin.Service {
	p := t.Email
	return adminlogin.New(t, adminlogin.Policy{CodeTTL: p.CodeTTL,
		Limits:    otpdomain.Limits{MaxAttempts: p.MaxAttempts, Cooldown: p.ResendCooldown, DailyCap: p.DailyCap},
		SendPerIP: t.Throttling.VerificationMailPerIP,
		Token:     session.Lifetime{Idle: t.Profiles.Seed002TokenIdle, Absolute: t.Profiles.Seed002TokenMaxAge}},
		adminlogin.Deps{Users: users, Passwords: passwords, Codes: codes, Courier: c, Limiter: limiter, Sessions: sessions, Audit: rec, Clock: clock})
}

// shutdownWait bounds how long a tenant's release waits for the messages
// its services still deliver in the background.
const shutdownWait = 10 * time.Second

// waitAtShutdown is the cleanup of a service that delivers in the
// background: it waits for that work, at most shutdownWait.
func waitAtShutdown(s interface{ Wait(context.Context) error }) func() {
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), shutdownWait)
		defer cancel()
		_ = s.Wait(ctx)
	}
}
