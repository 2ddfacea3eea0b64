// Package mongo keeps Portcullis' durable state in MongoDB (or a server
// speaking its wire protocol, such as FerretDB) through the official driver.
//
// Every tenant-scoped document carries tenant_id and every unique index
// starts with it. Code here avoids what FerretDB lacks (transactions, TTL
// indexes, partial indexes, arrayFilters): invariants are kept by
// single-document atomic operations, and expiry by an expires_at field that
// reads filter on and a periodic sweep deletes.
package mongo

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/mongo/readpref"

	"github.com/portcullis/portcullis/adapters/tracing"
)

// DB is a connected database.
type DB struct {
	client *mongo.Client
	db     *mongo.Database
	log    *slog.Logger
	// ferret is whether the server is FerretDB (see setUnlessPresent).
	ferret bool
	// ttlIndexes is whether the server supports TTL indexes; without them
	// the sweep alone removes expired documents.
	ttlIndexes bool
}

// Connect opens a client to uri, pings the primary and returns the database
// with a function that disconnects.
func Connect(ctx context.Context, uri, database string, log *slog.Logger) (*DB, func(), error) {
	opts := options.Client().ApplyURI(uri).
		SetAppName("portcullis").
		SetServerSelectionTimeout(10 * time.Second).
		SetConnectTimeout(5 * time.Second).
		SetMonitor(tracing.MongoMonitor())
	client, err := mongo.Connect(opts)
	if err != nil {
		return nil, nil, fmt.Errorf("mongodb: connect: %w", err)
	}
	disconnect := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = client.Disconnect(ctx)
	}
	pingCtx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := client.Ping(pingCtx, readpref.Primary()); err != nil {
		disconnect()
		return nil, nil, fmt.Errorf("mongodb: ping %s: %w", redact(uri), err)
	}
	var info bson.M
	_ = client.Database("admin").RunCommand(pingCtx, bson.D{{Key: "buildInfo", Value: 1}}).Decode(&info)
	_, ferret := info["ferretdbVersion"]
	return &DB{client: client, db: client.Database(database), log: log, ttlIndexes: true, ferret: ferret}, disconnect, nil
}

// setUnlessPresent sets field to value on the document _id unless the
// document has field already, decoding the document as it was before into
// before; ok is false when there is no such document or it has the field.
// On MongoDB it is one conditional findAndModify. On FerretDB it is a read
// by _id and a write by _id: FerretDB answers only a lone _id filter from
// an index (any other filter decodes the whole collection, which made a
// session revocation or a refresh slower with every session stored), and
// its conditional writes are a read and a write anyway, not atomic. So
// callers decide races by an insert claim, never by this.
func (d *DB) setUnlessPresent(ctx context.Context, coll *mongo.Collection, id, field string, value any, before any) (bool, error) {
	set := bson.D{{Key: "$set", Value: bson.D{{Key: field, Value: value}}}}
	if !d.ferret {
		err := coll.FindOneAndUpdate(ctx, bson.D{{Key: "_id", Value: id}, {Key: field, Value: bson.D{{Key: "$exists", Value: false}}}}, set,
			options.FindOneAndUpdate().SetReturnDocument(options.Before)).Decode(before)
		if errors.Is(err, mongo.ErrNoDocuments) {
			return false, nil
		}
		return err == nil, err
	}
	raw, err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Raw()
	if errors.Is(err, mongo.ErrNoDocuments) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if _, err := raw.LookupErr(field); err == nil {
		return false, nil
	}
	if err := bson.Unmarshal(raw, before); err != nil {
		return false, err
	}
	if _, err := coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}}, set); err != nil {
		return false, err
	}
	return true, nil
}

// Ping checks that the primary answers.
func (d *DB) Ping(ctx context.Context) error {
	return d.client.Ping(ctx, readpref.Primary())
}

// Collection returns a collection of the database.
func (d *DB) Collection(name string) *mongo.Collection { return d.db.Collection(name) }

// Index declares one index.
type Index struct {
	Collection string
	Name       string
	Keys       bson.D
	Unique     bool
	// ExpiresAt marks an index on the expires_at field of a collection whose
	// documents expire: it becomes a TTL index where the server has them,
	// and the collection is swept either way.
	ExpiresAt bool
	// Prepare, when set, runs before the index is created, to make the
	// documents stored before the index existed fit it.
	Prepare func(ctx context.Context, coll *mongo.Collection) error
}

// Indexes lists every index Portcullis needs. Collections that are not
// tenant-scoped are listed in globalCollections.
var Indexes = []Index{
	{Collection: "signing_keys", Name: "tenant_generation", Keys: bson.D{{Key: "tenant_id", Value: 1}, {Key: "generation", Value: 1}}, Unique: true},
	{Collection: "users", Name: "tenant_email_key", Keys: bson.D{{Key: "tenant_id", Value: 1}, {Key: "email_key", Value: 1}}, Unique: true},
	// Users without a phone store a unique placeholder in phone_key; see UserStore.
	{Collection: "users", Name: "tenant_phone_key", Keys: bson.D{{Key: "tenant_id", Value: 1}, {Key: "phone_key", Value: 1}}, Unique: true, Prepare: backfillPhoneKeys},
	// The admin API lists a tenant's users newest first (UserStore.List).
	{Collection: "users", Name: "tenant_created", Keys: bson.D{{Key: "tenant_id", Value: 1}, {Key: "created_at", Value: -1}, {Key: "_id", Value: -1}}},
	// The directory of e-mail keys and phones; see UserStore. Its claims of
	// users stored before it existed are written before this index.
	{Collection: "user_keys", Name: "tenant_user", Keys: bson.D{{Key: "tenant_id", Value: 1}, {Key: "user_id", Value: 1}}, Prepare: backfillUserKeys},
	// Secret-less sessions store a unique placeholder in secret_hash; see SessionStore.
	{Collection: "sessions", Name: "tenant_secret_hash", Keys: bson.D{{Key: "tenant_id", Value: 1}, {Key: "secret_hash", Value: 1}}, Unique: true},
	{Collection: "sessions", Name: "tenant_user", Keys: bson.D{{Key: "tenant_id", Value: 1}, {Key: "user_id", Value: 1}}},
	{Collection: "sessions", Name: "expiry", Keys: bson.D{{Key: "expires_at", Value: 1}}, ExpiresAt: true},
	// The revocation log is read by the time of revocation (RevokedSince).
	{Collection: "session_revocations", Name: "at", Keys: bson.D{{Key: "at", Value: 1}}},
	{Collection: "session_revocations", Name: "expiry", Keys: bson.D{{Key: "expires_at", Value: 1}}, ExpiresAt: true},
	{Collection: "refresh_tokens", Name: "expiry", Keys: bson.D{{Key: "expires_at", Value: 1}}, ExpiresAt: true},
	{Collection: "refresh_token_uses", Name: "expiry", Keys: bson.D{{Key: "expires_at", Value: 1}}, ExpiresAt: true},
	// The TOTP replay guard's claims; see TOTPStore. totp_secrets,
	// backup_codes and backup_code_uses are read by _id alone.
	{Collection: "totp_steps", Name: "expiry", Keys: bson.D{{Key: "expires_at", Value: 1}}, ExpiresAt: true},
	// The audit log is read newest first by _id within a tenant (see
	// AuditStore), and by the user an event's actor or target is.
	{Collection: "audit_events", Name: "tenant_actor", Keys: bson.D{{Key: "tenant_id", Value: 1}, {Key: "actor_id", Value: 1}, {Key: "_id", Value: -1}}},
	{Collection: "audit_events", Name: "tenant_target", Keys: bson.D{{Key: "tenant_id", Value: 1}, {Key: "target_id", Value: 1}, {Key: "_id", Value: -1}}},
	{Collection: "audit_events", Name: "expiry", Keys: bson.D{{Key: "expires_at", Value: 1}}, ExpiresAt: true},
	// Carts and wishlists are read by _id; all of a user's documents only
	// to repair a stale head (see StorefrontStore).
	{Collection: "storefronts", Name: "tenant_user", Keys: bson.D{{Key: "tenant_id", Value: 1}, {Key: "user_id", Value: 1}}},
	{Collection: "storefronts", Name: "expiry", Keys: bson.D{{Key: "expires_at", Value: 1}}, ExpiresAt: true},
}

// Collections lists every collection Portcullis uses: those of Indexes and
// those the stores open. EnsureIndexes creates them all, so that a store
// whose setup works on the tables that exist (embedded.IndexIDs) sees every
// one from the start. user_keys is listed ahead of its store.
var Collections = []string{
	"tenants",
	"signing_keys",
	"users",
	"user_keys",
	"sessions",
	"session_revocations",
	"refresh_tokens",
	"refresh_token_uses",
	"totp_secrets",
	"totp_steps",
	"backup_codes",
	"backup_code_uses",
	"audit_events",
	"storefronts",
	"first_signins",
	"platform_keys",
}

// globalCollections hold platform data keyed by _id, not tenant data.
var globalCollections = map[string]bool{"tenants": true, "platform_keys": true}

// PurgeTenant deletes every document of the tenant from every tenant
// collection (not its configuration in tenants): what a deleted tenant
// leaves once its grace period is over.
func (d *DB) PurgeTenant(ctx context.Context, id string) error {
	for _, name := range Collections {
		if globalCollections[name] {
			continue
		}
		if _, err := d.db.Collection(name).DeleteMany(ctx, bson.D{{Key: "tenant_id", Value: id}}); err != nil {
			return storeErr("purge "+name+" of "+id, err)
		}
	}
	return nil
}

// CheckIndexes enforces the tenancy rule: every unique index of a
// tenant-scoped collection begins with tenant_id.
func CheckIndexes(idx []Index) error {
	var problems []error
	for _, ix := range idx {
		if globalCollections[ix.Collection] {
			continue
		}
		if ix.Unique && (len(ix.Keys) == 0 || ix.Keys[0].Key != "tenant_id") {
			problems = append(problems, fmt.Errorf("index %s.%s is unique but does not begin with tenant_id", ix.Collection, ix.Name))
		}
		if ix.ExpiresAt && (len(ix.Keys) != 1 || ix.Keys[0].Key != "expires_at") {
			problems = append(problems, fmt.Errorf("index %s.%s: an expiry index must be on expires_at alone", ix.Collection, ix.Name))
		}
	}
	return errors.Join(problems...)
}

// EnsureIndexes creates every collection of Collections that is missing
// and the declared indexes; creating an index that exists is a no-op, so
// this runs at every start.
func (d *DB) EnsureIndexes(ctx context.Context, idx []Index) error {
	if err := CheckIndexes(idx); err != nil {
		return err
	}
	if err := d.ensureCollections(ctx, Collections); err != nil {
		return err
	}
	for _, ix := range idx {
		if ix.Prepare != nil {
			if err := ix.Prepare(ctx, d.db.Collection(ix.Collection)); err != nil {
				return fmt.Errorf("mongodb: prepare index %s.%s: %w", ix.Collection, ix.Name, err)
			}
		}
		opts := options.Index().SetName(ix.Name)
		if ix.Unique {
			opts.SetUnique(true)
		}
		if ix.ExpiresAt && d.ttlIndexes {
			_, err := d.db.Collection(ix.Collection).Indexes().CreateOne(ctx, mongo.IndexModel{Keys: ix.Keys, Options: options.Index().SetName(ix.Name).SetExpireAfterSeconds(0)})
			if err == nil {
				continue
			}
			if !isNotImplemented(err) {
				return fmt.Errorf("mongodb: create index %s.%s: %w", ix.Collection, ix.Name, err)
			}
			d.ttlIndexes = false
			d.log.Info("the database has no TTL indexes; expired documents are removed by the periodic sweep only")
		}
		if _, err := d.db.Collection(ix.Collection).Indexes().CreateOne(ctx, mongo.IndexModel{Keys: ix.Keys, Options: opts}); err != nil {
			return fmt.Errorf("mongodb: create index %s.%s: %w", ix.Collection, ix.Name, err)
		}
	}
	return nil
}

// ensureCollections creates those of names that do not exist. Another
// process starting at the same time may create one first: the server then
// answers NamespaceExists, which is success here.
func (d *DB) ensureCollections(ctx context.Context, names []string) error {
	existing, err := d.db.ListCollectionNames(ctx, bson.D{})
	if err != nil {
		return fmt.Errorf("mongodb: list collections: %w", err)
	}
	for _, name := range names {
		if slices.Contains(existing, name) {
			continue
		}
		if err := d.db.CreateCollection(ctx, name); err != nil && !isNamespaceExists(err) {
			return fmt.Errorf("mongodb: create collection %s: %w", name, err)
		}
	}
	return nil
}

// Sweep deletes documents whose expires_at has passed from every collection
// with an expiry index, and returns how many it deleted.
func (d *DB) Sweep(ctx context.Context, idx []Index, now time.Time) (int64, error) {
	var total int64
	for _, ix := range idx {
		if !ix.ExpiresAt {
			continue
		}
		res, err := d.db.Collection(ix.Collection).DeleteMany(ctx, bson.D{{Key: "expires_at", Value: bson.D{{Key: "$lte", Value: now}}}})
		if err != nil {
			return total, fmt.Errorf("mongodb: sweep %s: %w", ix.Collection, err)
		}
		total += res.DeletedCount
	}
	return total, nil
}

// RunSweeper sweeps every interval until ctx ends.
func (d *DB) RunSweeper(ctx context.Context, idx []Index, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			if n, err := d.Sweep(ctx, idx, now); err != nil && ctx.Err() == nil {
				d.log.Warn("expiry sweep failed", "error", err)
			} else if n > 0 {
				d.log.Debug("expired documents removed", "count", n)
			}
		}
	}
}

// isNamespaceExists reports the answer of MongoDB (before 7.0) and FerretDB
// to the creation of a collection that exists.
func isNamespaceExists(err error) bool {
	var ce mongo.CommandError
	return errors.As(err, &ce) && (ce.Code == 48 || ce.Name == "NamespaceExists")
}

func isNotImplemented(err error) bool {
	var ce mongo.CommandError
	if errors.As(err, &ce) {
		return ce.Code == 238 || ce.Name == "NotImplemented"
	}
	return strings.Contains(err.Error(), "NotImplemented")
}

// docID is the _id of a tenant's document: the tenant id, "/", the
// document's own id. A filter on _id alone is then tenant-scoped by
// construction — and it is the one filter FerretDB's SQLite backend hands
// to SQLite instead of reading every document (it pushes down a filter
// only when _id is its single key), where embedded.IndexIDs' index answers
// it without a scan.
func docID(tenantID, id string) string { return tenantID + "/" + id }

// domainID is the document's own id inside its _id.
func domainID(tenantID, id string) string { return strings.TrimPrefix(id, tenantID+"/") }

// idFilter selects one tenant's document by its own id.
func idFilter(tenantID, id string) bson.D { return bson.D{{Key: "_id", Value: docID(tenantID, id)}} }

// isDuplicate reports a unique-index violation. FerretDB reports some as an
// internal error rather than E11000, so callers that can, check with a read.
func isDuplicate(err error) bool {
	return mongo.IsDuplicateKeyError(err)
}

func redact(uri string) string {
	if i := strings.Index(uri, "@"); i > 0 {
		if j := strings.Index(uri, "://"); j >= 0 && j < i {
			return uri[:j+3] + "xxxxx@" + uri[i+1:]
		}
	}
	return uri
}

// Drop deletes the whole database; tests use it to clean up.
func (d *DB) Drop(ctx context.Context) error { return d.db.Drop(ctx) }
