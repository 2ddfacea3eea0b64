package mongo_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/portcullis/portcullis/adapters/internal/nettest"
	"github.com/portcullis/portcullis/adapters/mongo"
	"github.com/portcullis/portcullis/application/account"
	"github.com/portcullis/portcullis/application/keyring"
	"github.com/portcullis/portcullis/application/mfa"
	"github.com/portcullis/portcullis/application/platform"
	"github.com/portcullis/portcullis/domain/errs"
	"github.com/portcullis/portcullis/domain/identity"
	"github.com/portcullis/portcullis/domain/tenant"
)

func openAt(t *testing.T, addr string) *mongo.DB {
	t.Helper()
	db, disconnect, err := mongo.OpenUnchecked("mongodb://"+addr+"/", "unreachable")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(disconnect)
	return db
}

// storeOps are one operation of each store, to run against a store that
// cannot answer.
func storeOps(db *mongo.DB) map[string]func(context.Context) error {
	users, sessions, refresh := mongo.NewUserStore(db), mongo.NewSessionStore(db), mongo.NewRefreshTokenStore(db)
	keys, tenants := mongo.NewKeyStore(db), mongo.NewTenantStore(db)
	totps, codes := mongo.NewTOTPStore(db), mongo.NewBackupCodeStore(db)
	now := time.Now()
	return map[string]func(context.Context) error{
		"users.ByID": func(ctx context.Context) error { _, err := users.ByID(ctx, "t", "u"); return err },
		"users.Create": func(ctx context.Context) error {
			return users.Create(ctx, identity.User{ID: "u", TenantID: "t", Email: "a@example.com", EmailKey: "a@example.com", CreatedAt: now})
		},
		"users.RecordLogin": func(ctx context.Context) error { return users.RecordLogin(ctx, "t", "u", now) },
		"users.List": func(ctx context.Context) error {
			_, err := users.List(ctx, "t", account.UserFilter{EmailPrefix: "a"}, account.UserPosition{}, 50)
			return err
		},
		"sessions.BySecret": func(ctx context.Context) error { _, err := sessions.BySecret(ctx, "t", "hash"); return err },
		"sessions.Revoke": func(ctx context.Context) error {
			_, err := sessions.Revoke(ctx, "t", "s", now, now.Add(time.Hour))
			return err
		},
		"sessions.ListLive": func(ctx context.Context) error { _, err := sessions.ListLive(ctx, "t", "u", now); return err },
		"refresh.Use":       func(ctx context.Context) error { _, err := refresh.Use(ctx, "t", "hash", now); return err },
		"keys.List":         func(ctx context.Context) error { _, err := keys.List(ctx, "t"); return err },
		"keys.Insert": func(ctx context.Context) error {
			return keys.Insert(ctx, keyring.SealedKey{TenantID: "t", Generation: 1})
		},
		"tenants.Get":  func(ctx context.Context) error { _, err := tenants.Get(ctx, "t"); return err },
		"tenants.List": func(ctx context.Context) error { _, err := tenants.List(ctx); return err },
		"totps.Get":    func(ctx context.Context) error { _, err := totps.Get(ctx, "t", "u"); return err },
		"totps.Put": func(ctx context.Context) error {
			return totps.Put(ctx, mfa.TOTP{TenantID: "t", UserID: "u", EnrolmentID: "e"})
		},
		"totps.UseStep": func(ctx context.Context) error { _, err := totps.UseStep(ctx, "t", "u", 1, now); return err },
		"codes.Use":     func(ctx context.Context) error { _, err := codes.Use(ctx, "t", "u", "hash", now); return err },
		"codes.Left":    func(ctx context.Context) error { _, err := codes.Left(ctx, "t", "u"); return err },
		"sessions.RevokeOthers": func(ctx context.Context) error {
			_, err := sessions.RevokeOthers(ctx, "t", "u", "keep", now, now.Add(time.Hour))
			return err
		},
	}
}

// TestUnreachableStoreAnswersUnavailableWithinStoreTimeout: against a store
// that hangs or refuses connections, every store operation returns
// errs.ErrUnavailable once the context's store timeout has passed — not
// after the driver's 10 s server selection timeout, and not as an internal
// error.
func TestUnreachableStoreAnswersUnavailableWithinStoreTimeout(t *testing.T) {
	t.Parallel()
	const bound = 300 * time.Millisecond
	for name, addr := range map[string]string{"hanging": nettest.BlackHole(t), "refusing": nettest.Refusing(t)} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			for op, run := range storeOps(openAt(t, addr)) {
				t.Run(op, func(t *testing.T) {
					t.Parallel()
					ctx := platform.WithStoreTimeout(context.Background(), bound)
					start := time.Now()
					err := run(ctx)
					took := time.Since(start)
					if !errors.Is(err, errs.ErrUnavailable) {
						t.Fatalf("error %v, want errs.ErrUnavailable", err)
					}
					if e := errs.As(err); e.Kind != errs.Unavailable || errs.RetryAfter(e) < 1 {
						t.Fatalf("error kind %v, Retry-After %d", e.Kind, errs.RetryAfter(e))
					}
					if took > bound+3*time.Second {
						t.Fatalf("answered after %s, want about %s", took, bound)
					}
				})
			}
		})
	}
}

// TestTenantStoreTimeoutIsHonoured: a tenant of a slow store that raises
// its store timeout gets that long, not the default: against a store that
// hangs, the operation waits out the larger bound and then answers
// unavailable. (A context deadline never fires early, so the lower bound
// is exact; the upper one is generous.)
func TestTenantStoreTimeoutIsHonoured(t *testing.T) {
	t.Parallel()
	users := mongo.NewUserStore(openAt(t, nettest.BlackHole(t)))
	const larger = tenant.DefaultStoreTimeout + 1500*time.Millisecond
	ctx := platform.WithStoreTimeout(context.Background(), larger)
	start := time.Now()
	_, err := users.ByID(ctx, "t", "u")
	took := time.Since(start)
	if !errors.Is(err, errs.ErrUnavailable) {
		t.Fatalf("error %v, want errs.ErrUnavailable", err)
	}
	if took < larger || took > larger+3*time.Second {
		t.Fatalf("answered after %s, want the tenant's %s", took, larger)
	}
}

// TestDisconnectedClientIsUnavailable: a store used after its client was
// closed (a shutdown racing a request) is unavailable, not a server fault.
func TestDisconnectedClientIsUnavailable(t *testing.T) {
	t.Parallel()
	db, disconnect, err := mongo.OpenUnchecked(uri, "disconnected")
	if err != nil {
		t.Fatal(err)
	}
	disconnect()
	_, err = mongo.NewUserStore(db).ByID(context.Background(), "t", "u")
	if !errors.Is(err, errs.ErrUnavailable) {
		t.Fatalf("error %v, want errs.ErrUnavailable", err)
	}
}
