// Package tenancytest provides an in-memory tenancy.Store and the contract
// suite every tenancy.Store implementation must pass.
package tenancytest

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portcullis/portcullis/application/tenancy"
	"github.com/portcullis/portcullis/domain/errs"
	"github.com/portcullis/portcullis/domain/tenant"
)

// MemoryStore is an in-memory tenancy.Store.
type MemoryStore struct {
	mu      sync.Mutex
	tenants map[string]tenant.Tenant
	seq     map[string]int
}

var _ tenancy.Store = (*MemoryStore)(nil)

// NewMemoryStore returns an empty store.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{tenants: map[string]tenant.Tenant{}, seq: map[string]int{}}
}

// Get returns one tenant.
func (m *MemoryStore) Get(_ context.Context, id string) (tenant.Tenant, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t, ok := m.tenants[id]
	if !ok {
		return tenant.Tenant{}, errs.ErrTenantNotFound
	}
	return clone(t), nil
}

// List returns every tenant, ordered by id.
func (m *MemoryStore) List(context.Context) ([]tenant.Tenant, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]tenant.Tenant, 0, len(m.tenants))
	for _, t := range m.tenants {
		out = append(out, clone(t))
	}
	slices.SortFunc(out, func(a, b tenant.Tenant) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// Put validates and stores a tenant, giving it a new version.
func (m *MemoryStore) Put(_ context.Context, t tenant.Tenant) (tenant.Tenant, error) {
	t.Source = "store"
	if err := t.Validate(); err != nil {
		return tenant.Tenant{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.seq[t.ID]++
	t.Version = "store:" + strconv.Itoa(m.seq[t.ID])
	m.tenants[t.ID] = clone(t)
	return clone(t), nil
}

// Delete removes a tenant.
func (m *MemoryStore) Delete(_ context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.tenants[id]; !ok {
		return errs.ErrTenantNotFound
	}
	delete(m.tenants, id)
	return nil
}

func clone(t tenant.Tenant) tenant.Tenant {
	t.Domains = slices.Clone(t.Domains)
	t.LoginMethods = slices.Clone(t.LoginMethods)
	t.Redirects.Allow = slices.Clone(t.Redirects.Allow)
	t.SMS.AllowedCountries = slices.Clone(t.SMS.AllowedCountries)
	t.MFA.RequiredRoles = slices.Clone(t.MFA.RequiredRoles)
	if t.Roles != nil {
		roles := make(map[string]tenant.RoleSpec, len(t.Roles))
		for n, r := range t.Roles {
			roles[n] = tenant.RoleSpec{Rank: r.Rank, Scopes: slices.Clone(r.Scopes)}
		}
		t.Roles = roles
	}
	return t
}

// Sample returns a valid tenant with every field set away from its default,
// so that a store which drops a field fails the round-trip check.
func Sample(id string) tenant.Tenant {
	t := tenant.Default()
	t.ID = id
	t.DisplayName = "Sample " + id
	t.Domains = []string{id + ".example", "login." + id + ".example"}
	t.LoginMethods = []tenant.LoginMethod{tenant.MethodPassword, tenant.MethodSMSOTP, tenant.MethodTOTP}
	t.Password = tenant.PasswordPolicy{MinLength: 12, MaxLength: 100, RejectCommon: false,
		Hash: tenant.HashParams{MemoryKiB: 32 * 1024, Iterations: 3, Parallelism: 2}}
	t.Tokens = tenant.TokenTTLs{Access: 5 * time.Minute, Refresh: 48 * time.Hour, App: 90 * 24 * time.Hour}
	t.Sessions = tenant.SessionPolicy{IdleTimeout: 2 * time.Hour, AbsoluteTimeout: 72 * time.Hour}
	t.Redirects = tenant.RedirectPolicy{Allow: []string{"https://" + id + ".example", "/account"}, Default: "/welcome"}
	t.Throttling = tenant.Throttling{
		LoginPerAccount: tenant.Limit{Count: 3, Window: 5 * time.Minute},
		LoginPerIP:      tenant.Limit{Count: 30, Window: 10 * time.Minute},
		LoginPerDevice:  tenant.Limit{Count: 5, Window: 20 * time.Minute},
		RegisterPerIP:   tenant.Limit{Count: 4, Window: 2 * time.Hour},

		SignupNoticePerRecipient: tenant.Limit{Count: 2, Window: 12 * time.Hour},
		SMSPerIP:                 tenant.Limit{Count: 6, Window: 30 * time.Minute},
		SMSPerCallingCode:        tenant.Limit{Count: 50, Window: 2 * time.Hour},
		SMSPerTenant:             tenant.Limit{Count: 500, Window: 12 * time.Hour},

		PasswordResetPerIP:    tenant.Limit{Count: 7, Window: 45 * time.Minute},
		VerificationMailPerIP: tenant.Limit{Count: 8, Window: 90 * time.Minute},
		EmailLoginPerIP:       tenant.Limit{Count: 9, Window: 3 * time.Hour},
		TokenLoginPerIP:       tenant.Limit{Count: 11, Window: 25 * time.Minute},
	}
	t.RequireVerifiedEmail = true
	t.Profiles = tenant.Profiles{Seed000: true, Seed000LoginLinkTTL: 10 * time.Minute, Seed001: true, Seed001Prefix: "/api/auth",
		Seed002: true, Seed002TokenIdle: 48 * time.Hour, Seed002TokenMaxAge: 90 * 24 * time.Hour,
		Seed003: true, Seed003ResendCount: 7, Seed003OTPTTL: 3 * time.Minute}
	t.Registration = tenant.RegistrationPolicy{Enabled: false}
	t.SMS = tenant.SMSPolicy{DefaultRegion: "TR", AllowedCountries: []string{"TR", "CY"}, CodeTTL: 2 * time.Minute, CodeLength: 8,
		MaxAttempts: 3, ResendCooldown: 30 * time.Second, DailyCap: 4, Message: tenant.ParseSMSMessage("{{.Tenant}}: {{.Code}} ({{.Expires}})")}
	t.Mail = tenant.Mail{BaseURL: "https://login." + id + ".example/app", From: "Sample " + id + " <no-reply@" + id + ".example>",
		ReplyTo: "help@" + id + ".example", TemplatesDir: filepath.Clean(os.TempDir()),
		SMTP: tenant.SMTP{Host: "smtp." + id + ".example", Port: 2465, TLS: tenant.SMTPImplicitTLS, Username: id,
			PasswordSealed: "c2VhbGVk", Timeout: 20 * time.Second},
		Brand: tenant.Brand{PrimaryColor: "#ff6600", TextColor: "#000", BackgroundColor: "#fafafa"}}
	// Seed 001 is on, so the backup codes and lockout are set apart from
	// both the general defaults and seed 001's.
	t.MFA = tenant.MFAPolicy{
		TOTP:          tenant.TOTPPolicy{Digits: 8, Period: 60 * time.Second, Algorithm: "SHA256", Skew: 2},
		BackupCodes:   tenant.BackupCodePolicy{Count: 12, Length: 16},
		RequiredRoles: []string{"staff", "admin", "support"},
		MaxAttempts:   3,
		PerUser:       tenant.Limit{Count: 15, Window: 2 * time.Hour},
		BackupLockout: tenant.Limit{Count: 4, Window: 45 * time.Minute},
	}
	t.Roles = map[string]tenant.RoleSpec{"support": {Rank: 5, Scopes: []string{"users:read", "sessions:revoke"}}, "auditor": {Rank: 2}}
	t.Audit = tenant.AuditPolicy{Retention: 400 * 24 * time.Hour}
	t.Storefront = tenant.Storefront{Enabled: true, MaxQuantity: 7, MaxLines: 70, MaxWishlist: 170,
		Webhook: tenant.CartWebhook{URL: "https://" + id + ".example/cart", SecretSealed: "c2VhbGVk", Timeout: 2 * time.Second}}
	return t
}

// equalConfig compares everything but Version and Source.
func equalConfig(a, b tenant.Tenant) bool {
	a.Version, b.Version, a.Source, b.Source = "", "", "", ""
	return a.ID == b.ID && a.DisplayName == b.DisplayName && slices.Equal(a.Domains, b.Domains) &&
		slices.Equal(a.LoginMethods, b.LoginMethods) && a.Password == b.Password && a.Tokens == b.Tokens &&
		a.Sessions == b.Sessions && slices.Equal(a.Redirects.Allow, b.Redirects.Allow) &&
		a.Redirects.Default == b.Redirects.Default && a.Throttling == b.Throttling && a.RequireVerifiedEmail == b.RequireVerifiedEmail && a.Profiles == b.Profiles &&
		a.Registration == b.Registration &&
		equalSMS(a.SMS, b.SMS) && a.Mail == b.Mail && equalMFA(a.MFA, b.MFA) && equalRoles(a.Roles, b.Roles) && a.Audit == b.Audit &&
		a.Storefront == b.Storefront
}

func equalRoles(a, b map[string]tenant.RoleSpec) bool {
	if len(a) != len(b) {
		return false
	}
	for n, r := range a {
		o, ok := b[n]
		if !ok || o.Rank != r.Rank || !slices.Equal(o.Scopes, r.Scopes) {
			return false
		}
	}
	return true
}

func equalMFA(a, b tenant.MFAPolicy) bool {
	return a.TOTP == b.TOTP && a.BackupCodes == b.BackupCodes && slices.Equal(a.RequiredRoles, b.RequiredRoles) &&
		a.MaxAttempts == b.MaxAttempts && a.PerUser == b.PerUser && a.BackupLockout == b.BackupLockout
}

func equalSMS(a, b tenant.SMSPolicy) bool {
	return a.DefaultRegion == b.DefaultRegion && slices.Equal(a.AllowedCountries, b.AllowedCountries) && a.CodeTTL == b.CodeTTL &&
		a.CodeLength == b.CodeLength && a.MaxAttempts == b.MaxAttempts && a.ResendCooldown == b.ResendCooldown && a.DailyCap == b.DailyCap &&
		a.Message.Source() == b.Message.Source()
}

// RunStoreContract checks the behaviour every tenancy.Store must have.
// newStore must return an empty store.
func RunStoreContract(t *testing.T, newStore func(t *testing.T) tenancy.Store) {
	t.Helper()
	ctx := context.Background()

	t.Run("unknown id is tenant_not_found", func(t *testing.T) {
		s := newStore(t)
		if _, err := s.Get(ctx, "ghost"); !errors.Is(err, errs.ErrTenantNotFound) {
			t.Fatalf("Get: %v", err)
		}
		if err := s.Delete(ctx, "ghost"); !errors.Is(err, errs.ErrTenantNotFound) {
			t.Fatalf("Delete: %v", err)
		}
	})

	t.Run("put then get round-trips every field", func(t *testing.T) {
		s := newStore(t)
		want := Sample("acme")
		put, err := s.Put(ctx, want)
		if err != nil {
			t.Fatal(err)
		}
		if put.Version == "" {
			t.Fatal("Put must assign a version")
		}
		got, err := s.Get(ctx, "acme")
		if err != nil {
			t.Fatal(err)
		}
		if !equalConfig(got, want) {
			t.Fatalf("round trip changed the tenant:\n got %+v\nwant %+v", got, want)
		}
		if got.Version != put.Version {
			t.Fatalf("Get version %q, Put returned %q", got.Version, put.Version)
		}
	})

	t.Run("put replaces and changes the version", func(t *testing.T) {
		s := newStore(t)
		first, err := s.Put(ctx, Sample("acme"))
		if err != nil {
			t.Fatal(err)
		}
		changed := Sample("acme")
		changed.DisplayName = "Renamed"
		changed.Domains = []string{"new.example"}
		second, err := s.Put(ctx, changed)
		if err != nil {
			t.Fatal(err)
		}
		if second.Version == first.Version {
			t.Fatalf("version did not change: %q", second.Version)
		}
		got, _ := s.Get(ctx, "acme")
		if got.DisplayName != "Renamed" || !slices.Equal(got.Domains, []string{"new.example"}) || got.Version != second.Version {
			t.Fatalf("got %+v", got)
		}
	})

	t.Run("put refuses an invalid tenant and writes nothing", func(t *testing.T) {
		s := newStore(t)
		bad := Sample("broken")
		bad.Tokens.Access = 0
		_, err := s.Put(ctx, bad)
		var ve *tenant.ValidationError
		if !errors.As(err, &ve) || !strings.Contains(err.Error(), "tokens.access_ttl") {
			t.Fatalf("want a validation error naming tokens.access_ttl, got %v", err)
		}
		if _, err := s.Get(ctx, "broken"); !errors.Is(err, errs.ErrTenantNotFound) {
			t.Fatalf("invalid tenant was stored: %v", err)
		}
	})

	t.Run("list returns all tenants and delete removes one", func(t *testing.T) {
		s := newStore(t)
		for _, id := range []string{"c", "a", "b"} {
			if _, err := s.Put(ctx, Sample(id)); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Delete(ctx, "b"); err != nil {
			t.Fatal(err)
		}
		got, err := s.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, x := range got {
			ids = append(ids, x.ID)
			if !equalConfig(x, Sample(x.ID)) {
				t.Errorf("listed tenant %s differs from what was put", x.ID)
			}
		}
		slices.Sort(ids)
		if !slices.Equal(ids, []string{"a", "c"}) {
			t.Fatalf("ids %v", ids)
		}
	})
}
