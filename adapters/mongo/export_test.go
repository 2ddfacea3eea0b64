package mongo

import (
	"context"
	"io"
	"log/slog"
	"reflect"
	"time"
	"unsafe"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// OpenUnchecked returns a DB for uri without pinging it first, as Connect
// does, so that tests can point stores at a server that is down or hangs.
func OpenUnchecked(uri, database string) (*DB, func(), error) {
	client, err := mongo.Connect(options.Client().ApplyURI(uri).SetServerSelectionTimeout(10 * time.Second).SetConnectTimeout(5 * time.Second))
	if err != nil {
		return nil, nil, err
	}
	disconnect := func() { _ = client.Disconnect(context.Background()) }
	return &DB{client: client, db: client.Database(database), log: slog.New(slog.NewTextHandler(io.Discard, nil)), ttlIndexes: true}, disconnect, nil
}

// EnsureCollections creates those of names that are missing, as
// EnsureIndexes does with Collections.
func (d *DB) EnsureCollections(ctx context.Context, names []string) error {
	return d.ensureCollections(ctx, names)
}

// CollectionsOf returns the names of the collections that store, a pointer
// to a store, keeps in its fields.
func CollectionsOf(store any) []string {
	v := reflect.ValueOf(store).Elem()
	collType := reflect.TypeFor[*mongo.Collection]()
	var names []string
	for i := range v.NumField() {
		f := v.Field(i)
		if f.Type() != collType || f.IsNil() {
			continue
		}
		// The fields are unexported; read them through their address.
		c := reflect.NewAt(collType, unsafe.Pointer(f.UnsafeAddr())).Elem().Interface().(*mongo.Collection)
		names = append(names, c.Name())
	}
	return names
}
