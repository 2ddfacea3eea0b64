package mongo

import (
	"context"
	"io"
	"log/slog"
	"time"

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
