package embedded

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

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

// serveSQLite starts FerretDB with StartFerretDB on dir and connects a
// client, both closed when the test ends.
func serveSQLite(tb testing.TB, dir string) *mongo.Client {
	tb.Helper()
	uri, stop, err := StartFerretDB(context.Background(), FerretDBOptions{Dir: dir, Logger: quieter(nil, slog.LevelError)})
	if err != nil {
		tb.Fatal(err)
	}
	c, err := mongo.Connect(options.Client().ApplyURI(uri))
	if err != nil {
		stop()
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = c.Disconnect(context.Background()); stop() })
	return c
}

// insertDocs inserts n documents with _id "id-0" … into coll.
func insertDocs(tb testing.TB, coll *mongo.Collection, n int) {
	tb.Helper()
	docs := make([]any, n)
	for i := range docs {
		docs[i] = bson.D{
			{Key: "_id", Value: fmt.Sprintf("id-%d", i)},
			{Key: "tenant_id", Value: "t1"},
			{Key: "email_key", Value: fmt.Sprintf("user%d@example.com", i)},
			{Key: "phone_key", Value: fmt.Sprintf("+4479460%05d", i)},
			{Key: "n", Value: i},
		}
	}
	if _, err := coll.InsertMany(context.Background(), docs); err != nil {
		tb.Fatal(err)
	}
}

// openSQLite opens FerretDB's file of database db in dir.
func openSQLite(t *testing.T, dir, db string) *sql.DB {
	t.Helper()
	s, err := sql.Open("sqlite", sqliteFileDSN(filepath.Join(dir, db+sqliteFileExt)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// tableOf is the SQLite table FerretDB stores collection coll in.
func tableOf(t *testing.T, s *sql.DB, coll string) string {
	t.Helper()
	var table string
	if err := s.QueryRow(`SELECT table_name FROM "_ferretdb_collections" WHERE name = ?`, coll).Scan(&table); err != nil {
		t.Fatalf("table of %s: %v", coll, err)
	}
	return table
}

// idStatements are the statements by _id that FerretDB runs on a table
// (internal/backends/sqlite/collection.go: Query with a lone _id filter,
// UpdateAll, DeleteAll), with their arguments.
func idStatements(table string) map[string][]any {
	t := quoteIdent(table)
	return map[string][]any{
		"find":   {`SELECT _ferretdb_sjson FROM ` + t + ` WHERE _ferretdb_sjson->'$._id' = ?`, `"id-1"`},
		"update": {`UPDATE ` + t + ` SET _ferretdb_sjson = ? WHERE _ferretdb_sjson->'$._id' = ?`, `{}`, `"id-1"`},
		"delete": {`DELETE FROM ` + t + ` WHERE _ferretdb_sjson->'$._id' IN (?, ?)`, `"id-1"`, `"id-2"`},
	}
}

// queryPlan is SQLite's plan of q, its steps' details joined by "; ".
func queryPlan(t *testing.T, s *sql.DB, q string, args ...any) string {
	t.Helper()
	rows, err := s.Query("EXPLAIN QUERY PLAN "+q, args...)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	var steps []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		steps = append(steps, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return strings.Join(steps, "; ")
}

func TestIndexIDsMakesLookupsByIDSearchAnIndex(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	c := serveSQLite(t, dir)
	colls := map[string][]string{"app": {"users", "sessions"}, "other": {"users"}}
	for db, names := range colls {
		for _, name := range names {
			insertDocs(t, c.Database(db).Collection(name), 50)
		}
	}

	// FerretDB's own _id index is not used: the reason for IndexIDs. When
	// this fails, FerretDB queries with the expression it indexes, and
	// IndexIDs can go.
	s := openSQLite(t, dir, "app")
	for name, st := range idStatements(tableOf(t, s, "users")) {
		if plan := queryPlan(t, s, st[0].(string), st[1:]...); !strings.HasPrefix(plan, "SCAN ") {
			t.Errorf("before IndexIDs, %s by _id: want a scan, got %q", name, plan)
		}
	}

	if err := IndexIDs(ctx, dir); err != nil {
		t.Fatal(err)
	}
	for db, names := range colls {
		s := openSQLite(t, dir, db)
		for _, coll := range names {
			table := tableOf(t, s, coll)
			want := "USING INDEX " + idIndexName(table) + " (<expr>"
			for name, st := range idStatements(table) {
				plan := queryPlan(t, s, st[0].(string), st[1:]...)
				if !strings.HasPrefix(plan, "SEARCH ") || !strings.Contains(plan, want) {
					t.Errorf("%s.%s, %s by _id: want a search %s…, got %q", db, coll, name, want, plan)
				}
			}
		}
	}
}

func TestIndexIDsTwiceLeavesFerretDBWorking(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	coll := serveSQLite(t, dir).Database("app").Collection("users")
	insertDocs(t, coll, 20)
	for range 2 {
		if err := IndexIDs(ctx, dir); err != nil {
			t.Fatal(err)
		}
	}
	s := openSQLite(t, dir, "app")
	var n int
	if err := s.QueryRow(`SELECT count(*) FROM sqlite_schema WHERE type = 'index' AND tbl_name = ? AND sql LIKE ?`,
		tableOf(t, s, "users"), "%"+sqliteIDExpr+"%").Scan(&n); err != nil || n != 1 {
		t.Fatalf("indexes on %s: %d, %v; want 1", sqliteIDExpr, n, err)
	}

	var got bson.M
	if err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: "id-7"}}).Decode(&got); err != nil || got["n"] != int32(7) {
		t.Fatalf("find by _id: %v, %v", got, err)
	}
	res, err := coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: "id-7"}}, bson.D{{Key: "$set", Value: bson.D{{Key: "n", Value: 70}}}})
	if err != nil || res.MatchedCount != 1 || res.ModifiedCount != 1 {
		t.Fatalf("update by _id: %+v, %v", res, err)
	}
	if err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: "id-7"}}).Decode(&got); err != nil || got["n"] != int32(70) {
		t.Fatalf("find after the update: %v, %v", got, err)
	}
	del, err := coll.DeleteOne(ctx, bson.D{{Key: "_id", Value: "id-8"}})
	if err != nil || del.DeletedCount != 1 {
		t.Fatalf("delete by _id: %+v, %v", del, err)
	}
	if err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: "id-8"}}).Err(); !errors.Is(err, mongo.ErrNoDocuments) {
		t.Fatalf("find of the deleted document: %v", err)
	}
	if n, err := coll.CountDocuments(ctx, bson.D{}); err != nil || n != 19 {
		t.Fatalf("documents left: %d, %v; want 19", n, err)
	}
	// _id stays unique, and FerretDB's index list is its own.
	if _, err := coll.InsertOne(ctx, bson.D{{Key: "_id", Value: "id-1"}}); !mongo.IsDuplicateKeyError(err) {
		t.Fatalf("insert of an existing _id: %v", err)
	}
	if _, err := coll.Indexes().CreateOne(ctx, mongo.IndexModel{Keys: bson.D{{Key: "email_key", Value: 1}}, Options: options.Index().SetName("email")}); err != nil {
		t.Fatal(err)
	}
	specs, err := coll.Indexes().ListSpecifications(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, sp := range specs {
		names = append(names, sp.Name)
	}
	if strings.Join(names, ",") != "_id_,email" {
		t.Fatalf("listIndexes: %v", names)
	}
}

func TestIndexIDsOnADroppedAndRecreatedCollection(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	coll := serveSQLite(t, dir).Database("app").Collection("users")
	insertDocs(t, coll, 5)
	if err := IndexIDs(ctx, dir); err != nil {
		t.Fatal(err)
	}
	if err := coll.Drop(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := coll.InsertOne(ctx, bson.D{{Key: "_id", Value: "again"}, {Key: "n", Value: 1}}); err != nil {
		t.Fatal(err)
	}
	var got bson.M
	if err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: "again"}}).Decode(&got); err != nil || got["n"] != int32(1) {
		t.Fatalf("find by _id in the recreated collection: %v, %v", got, err)
	}
	if err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: "id-1"}}).Err(); !errors.Is(err, mongo.ErrNoDocuments) {
		t.Fatalf("a document of the dropped collection: %v", err)
	}
	// The new table has no index until IndexIDs runs again.
	if err := IndexIDs(ctx, dir); err != nil {
		t.Fatal(err)
	}
	s := openSQLite(t, dir, "app")
	table := tableOf(t, s, "users")
	st := idStatements(table)["find"]
	if plan := queryPlan(t, s, st[0].(string), st[1:]...); !strings.Contains(plan, idIndexName(table)) {
		t.Fatalf("find by _id in the recreated collection: %q", plan)
	}
	if err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: "again"}}).Decode(&got); err != nil || got["n"] != int32(1) {
		t.Fatalf("find by _id after IndexIDs: %v, %v", got, err)
	}
}

func TestIndexIDsWaitsForAWriterToFinish(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	insertDocs(t, serveSQLite(t, dir).Database("app").Collection("users"), 5)

	s := openSQLite(t, dir, "app")
	conn, err := s.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- IndexIDs(ctx, dir) }()
	select {
	case err := <-done:
		t.Fatalf("IndexIDs returned while another connection held the write lock: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	if _, err := conn.ExecContext(ctx, "COMMIT"); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestIndexIDsWithoutDatabases(t *testing.T) {
	for name, dir := range map[string]string{"empty": t.TempDir(), "missing": filepath.Join(t.TempDir(), "none")} {
		if err := IndexIDs(context.Background(), dir); err != nil {
			t.Errorf("%s directory: %v", name, err)
		}
	}
}

// BenchmarkFindByID compares FindOne by _id on a collection of 2000
// documents without and with IndexIDs' index, side by side in one run (the
// two finds alternate, so that both see the same machine): scan-ns and
// indexed-ns are one find of each, and speedup their ratio.
// go test -run '^$' -bench FindByID ./adapters/embedded/
func BenchmarkFindByID(b *testing.B) {
	ctx := context.Background()
	scanDir, indexedDir := b.TempDir(), b.TempDir()
	scan := serveSQLite(b, scanDir).Database("bench").Collection("users")
	indexed := serveSQLite(b, indexedDir).Database("bench").Collection("users")
	const n = 2000
	insertDocs(b, scan, n)
	insertDocs(b, indexed, n)
	if err := IndexIDs(ctx, indexedDir); err != nil {
		b.Fatal(err)
	}
	find := func(coll *mongo.Collection, id string) time.Duration {
		start := time.Now()
		if err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Err(); err != nil {
			b.Fatal(err)
		}
		return time.Since(start)
	}
	var scanTotal, indexedTotal time.Duration
	i := 0
	for b.Loop() {
		id := fmt.Sprintf("id-%d", i*7919%n)
		scanTotal += find(scan, id)
		indexedTotal += find(indexed, id)
		i++
	}
	b.ReportMetric(float64(scanTotal.Nanoseconds())/float64(i), "scan-ns/find")
	b.ReportMetric(float64(indexedTotal.Nanoseconds())/float64(i), "indexed-ns/find")
	b.ReportMetric(float64(scanTotal)/float64(indexedTotal), "speedup")
}
