package embedded

import (
	"context"
	"fmt"
	"log/slog"
	"testing"

	"github.com/FerretDB/FerretDB/ferretdb"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// startSQLite serves a fresh FerretDB on url, until the benchmark ends.
func startSQLite(b *testing.B, url string) *mongo.Collection {
	b.Helper()
	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: "127.0.0.1:0"},
		Handler:   "sqlite",
		SQLiteURL: url,
		Logger:    quieter(nil, slog.LevelError),
	})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = f.Run(ctx) }()
	c, err := mongo.Connect(options.Client().ApplyURI(f.MongoDBURI()))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = c.Disconnect(context.Background()); cancel(); <-done })
	coll := c.Database("bench").Collection("sessions")
	if _, err := coll.InsertOne(ctx, bson.D{{Key: "_id", Value: "warm-up"}}); err != nil {
		b.Fatal(err)
	}
	return coll
}

// BenchmarkInsert compares one document insert, a commit, on the files as
// StartFerretDB opens them with FerretDB's own default (synchronous full:
// an fsync per commit), side by side in one run; it is the measurement
// behind sqliteURL. go test -run '^$' -bench Insert ./adapters/embedded/
func BenchmarkInsert(b *testing.B) {
	for _, tc := range []struct {
		name string
		url  func(dir string) string
	}{
		{"ferretdb-default", func(dir string) string { return "file:" + dir + "/" }},
		{"start-ferretdb", sqliteURL},
	} {
		b.Run(tc.name, func(b *testing.B) {
			coll := startSQLite(b, tc.url(b.TempDir()))
			i := 0
			for b.Loop() {
				i++
				doc := bson.D{{Key: "_id", Value: fmt.Sprint(i)}, {Key: "tenant_id", Value: "bench"}, {Key: "user_id", Value: "u1"}}
				if _, err := coll.InsertOne(context.Background(), doc); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
