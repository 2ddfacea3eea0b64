package mongo_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/portcullis/portcullis/adapters/embedded"
	"github.com/portcullis/portcullis/adapters/mongo"
	"github.com/portcullis/portcullis/application/keyring"
	"github.com/portcullis/portcullis/application/keyring/keyringtest"
	"github.com/portcullis/portcullis/application/platform/platformtest"
	"github.com/portcullis/portcullis/application/tenancy"
	"github.com/portcullis/portcullis/application/tenancy/tenancytest"
	"github.com/portcullis/portcullis/domain/tenant"
)

// uri is the server the tests use: MONGODB_URI when set, else an embedded
// FerretDB (on FERRETDB_POSTGRESQL_URL when set, else on SQLite).
var uri string

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func TestMain(m *testing.M) {
	uri = os.Getenv("MONGODB_URI")
	var stop func()
	if uri == "" {
		dir, err := os.MkdirTemp("", "portcullis-mongo-test")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		defer os.RemoveAll(dir)
		uri, stop, err = embedded.StartFerretDB(context.Background(), embedded.FerretDBOptions{Dir: dir, PostgreSQLURL: os.Getenv("FERRETDB_POSTGRESQL_URL"), Logger: quiet})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	code := m.Run()
	if stop != nil {
		stop()
	}
	os.Exit(code)
}

// freshDB connects to a database of its own, dropped when the test ends.
func freshDB(t *testing.T) *mongo.DB {
	t.Helper()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "test_" + hex.EncodeToString(b)
	db, disconnect, err := mongo.Connect(context.Background(), uri, name, quiet)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = db.Drop(context.Background())
		disconnect()
	})
	if err := db.EnsureIndexes(context.Background(), mongo.Indexes); err != nil {
		t.Fatal(err)
	}
	return db
}

func TestTenantStoreContract(t *testing.T) {
	tenancytest.RunStoreContract(t, func(t *testing.T) tenancy.Store { return mongo.NewTenantStore(freshDB(t)) })
}

func TestKeyStoreContract(t *testing.T) {
	keyringtest.RunStoreContract(t, func(t *testing.T) keyring.Store { return mongo.NewKeyStore(freshDB(t)) })
}

func TestInvalidStoredTenantIsReportedAndOthersStillListed(t *testing.T) {
	ctx := context.Background()
	db := freshDB(t)
	store := mongo.NewTenantStore(db)
	if _, err := store.Put(ctx, tenancytest.Sample("good")); err != nil {
		t.Fatal(err)
	}
	// Written by hand, as an operator might: a typo and a bad value.
	_, err := db.Collection("tenants").InsertOne(ctx, bson.D{
		{Key: "_id", Value: "bad"}, {Key: "tokens", Value: bson.D{{Key: "access_ttl", Value: "forever"}}}, {Key: "colour", Value: "red"},
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := store.List(ctx)
	if len(got) != 1 || got[0].ID != "good" {
		t.Fatalf("valid tenants must still be listed, got %v", got)
	}
	var ve *tenant.ValidationError
	if !errors.As(err, &ve) || ve.Tenant != "bad" {
		t.Fatalf("want a validation error naming the stored tenant, got %v", err)
	}
	for _, want := range []string{"colour: is not a known setting", `tokens.access_ttl: must be a duration with a unit such as 15m or 1h30m, got "forever"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q missing from %q", want, err)
		}
	}
	if _, err := store.Get(ctx, "bad"); !errors.As(err, &ve) {
		t.Fatalf("Get of an invalid tenant: %v", err)
	}
}

func TestHandWrittenMinimalTenantTakesDefaults(t *testing.T) {
	ctx := context.Background()
	db := freshDB(t)
	if _, err := db.Collection("tenants").InsertOne(ctx, bson.D{{Key: "_id", Value: "mini"}, {Key: "domains", Value: bson.A{"mini.example"}}}); err != nil {
		t.Fatal(err)
	}
	got, err := mongo.NewTenantStore(db).Get(ctx, "mini")
	if err != nil {
		t.Fatal(err)
	}
	if got.Tokens != tenant.Default().Tokens || got.Domains[0] != "mini.example" || got.Version != "store:0" {
		t.Fatalf("got %+v", got)
	}
}

func TestUniqueIndexesMustBeginWithTenantID(t *testing.T) {
	t.Parallel()
	if err := mongo.CheckIndexes(mongo.Indexes); err != nil {
		t.Fatalf("declared indexes break the rule: %v", err)
	}
	bad := []mongo.Index{{Collection: "users", Name: "email", Keys: bson.D{{Key: "email", Value: 1}}, Unique: true}}
	if err := mongo.CheckIndexes(bad); err == nil || !strings.Contains(err.Error(), "users.email is unique but does not begin with tenant_id") {
		t.Fatalf("got %v", err)
	}
	if err := freshDB(t).EnsureIndexes(context.Background(), bad); err == nil {
		t.Fatal("EnsureIndexes must refuse such an index")
	}
}

func TestEnsureIndexesIsIdempotentAndEnforcesUniqueness(t *testing.T) {
	ctx := context.Background()
	db := freshDB(t) // already ensured once
	if err := db.EnsureIndexes(ctx, mongo.Indexes); err != nil {
		t.Fatalf("second run: %v", err)
	}
	c := db.Collection("signing_keys")
	if _, err := c.InsertOne(ctx, bson.D{{Key: "_id", Value: "a"}, {Key: "tenant_id", Value: "t"}, {Key: "generation", Value: 1}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.InsertOne(ctx, bson.D{{Key: "_id", Value: "b"}, {Key: "tenant_id", Value: "t"}, {Key: "generation", Value: 1}}); err == nil {
		t.Fatal("the unique index on tenant_id+generation was not created")
	}
	if _, err := c.InsertOne(ctx, bson.D{{Key: "_id", Value: "c"}, {Key: "tenant_id", Value: "u"}, {Key: "generation", Value: 1}}); err != nil {
		t.Fatalf("another tenant's generation 1 must be allowed: %v", err)
	}
}

func TestSweepRemovesOnlyExpiredDocuments(t *testing.T) {
	ctx := context.Background()
	db := freshDB(t)
	idx := []mongo.Index{{Collection: "sweep_probe", Name: "expiry", Keys: bson.D{{Key: "expires_at", Value: 1}}, ExpiresAt: true}}
	if err := db.EnsureIndexes(ctx, idx); err != nil {
		t.Fatalf("an expiry index must be created or fall back to sweeping: %v", err)
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	c := db.Collection("sweep_probe")
	for i, at := range []time.Time{now.Add(-time.Hour), now.Add(-time.Second), now.Add(time.Hour)} {
		if _, err := c.InsertOne(ctx, bson.D{{Key: "_id", Value: i}, {Key: "expires_at", Value: at}}); err != nil {
			t.Fatal(err)
		}
	}
	n, err := db.Sweep(ctx, idx, now)
	if err != nil || n != 2 {
		t.Fatalf("swept %d, %v; want 2", n, err)
	}
	left, _ := c.CountDocuments(ctx, bson.D{})
	if left != 1 {
		t.Fatalf("%d documents left, want 1", left)
	}
}

func TestCollectionsListsEveryCollectionUsed(t *testing.T) {
	db := freshDB(t)
	listed := map[string]bool{}
	for _, name := range mongo.Collections {
		listed[name] = true
	}
	stores := map[string]any{
		"TenantStore":       mongo.NewTenantStore(db),
		"KeyStore":          mongo.NewKeyStore(db),
		"UserStore":         mongo.NewUserStore(db),
		"SessionStore":      mongo.NewSessionStore(db),
		"RefreshTokenStore": mongo.NewRefreshTokenStore(db),
		"TOTPStore":         mongo.NewTOTPStore(db),
		"BackupCodeStore":   mongo.NewBackupCodeStore(db),
		"AuditStore":        mongo.NewAuditStore(db),
		"FirstSignInStore":  mongo.NewFirstSignInStore(db),
	}
	for store, s := range stores {
		names := mongo.CollectionsOf(s)
		if len(names) == 0 {
			t.Errorf("%s: no collection found in its fields", store)
		}
		for _, name := range names {
			if !listed[name] {
				t.Errorf("%s uses collection %s, which is not in mongo.Collections", store, name)
			}
		}
	}
	for _, ix := range mongo.Indexes {
		if !listed[ix.Collection] {
			t.Errorf("index %s.%s is on a collection not in mongo.Collections", ix.Collection, ix.Name)
		}
	}

	// freshDB ran EnsureIndexes: every listed collection exists, also those
	// without an index and those no document was written to.
	got, err := db.Collection("tenants").Database().ListCollectionNames(context.Background(), bson.D{})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	want := slices.Sorted(maps.Keys(listed))
	if !slices.Equal(got, want) {
		t.Fatalf("collections after EnsureIndexes: %v, want %v", got, want)
	}
}

func TestEnsureCollectionsConcurrently(t *testing.T) {
	ctx := context.Background()
	db := freshDB(t)
	names := []string{"created_by_racers_a", "created_by_racers_b"}
	errs := make([]error, platformtest.Racers)
	platformtest.Race(len(errs), func(i int) { errs[i] = db.EnsureCollections(ctx, names) })
	for i, err := range errs {
		if err != nil {
			t.Fatalf("racer %d: %v", i, err)
		}
	}
	got, err := db.Collection("tenants").Database().ListCollectionNames(ctx, bson.D{{Key: "name", Value: bson.D{{Key: "$in", Value: names}}}})
	if err != nil || len(got) != len(names) {
		t.Fatalf("collections created: %v, %v; want %v", got, err, names)
	}
}
