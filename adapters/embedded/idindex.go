package embedded

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"

	_ "modernc.org/sqlite" // the database/sql driver FerretDB itself uses
)

// FerretDB 1.24's SQLite layout, read from its source
// (internal/backends/sqlite/metadata): one file "<database>.sqlite" per
// database in the data directory; in each, the table _ferretdb_collections
// maps collection names to table names, and every collection is a table
// whose one column holds the document as JSON.
const (
	sqliteFileExt    = ".sqlite"
	sqliteCollsTable = "_ferretdb_collections"
	// sqliteIDExpr must stay byte for byte what FerretDB's queries filter on
	// (metadata.IDColumn): SQLite uses an index on an expression only for a
	// WHERE term written the same way.
	sqliteIDExpr = "_ferretdb_sjson->'$._id'"
)

// IndexIDs gives every collection FerretDB stores on SQLite in dir (the
// FerretDBOptions.Dir of StartFerretDB) an index that its lookups by _id
// use, and does nothing to a collection that has one. It is for SQLite
// only, and is cheap enough to run at every start: when every collection
// has its index it reads two small tables per database and writes nothing.
//
// Why: FerretDB 1.24 creates the _id index of a collection on
// _ferretdb_sjson->"_id", but its finds by a lone _id, and all its updates
// and deletes, filter on _ferretdb_sjson->'$._id'. The two give the same
// value, but SQLite matches an indexed expression by its spelling, so that
// index is never used: each of those is a scan that parses the JSON of
// every document of the collection. IndexIDs adds the index on the
// spelling FerretDB queries with. It is not unique (FerretDB's own index
// keeps _id unique) and FerretDB does not know of it: it is not listed by
// listIndexes, and dropping the collection drops it.
//
// A collection created after IndexIDs ran (FerretDB makes a collection's
// table on its first insert or index) has no such index until the next
// run; so the caller runs it once every collection it uses exists, and
// again if it creates more.
//
// Its name, "." followed by the table's, cannot be one that FerretDB gives
// an index (the table's name, "_", the MongoDB index name): FerretDB's
// table names begin with the collection's name lower-cased, or "_", and a
// collection name never begins with ".".
//
// IndexIDs can run while FerretDB serves the files: it waits for FerretDB's
// writes (a busy timeout), creates the indexes of a database in one
// transaction that holds off FerretDB's writes meanwhile, opens only files
// that exist (a database FerretDB drops meanwhile is not recreated empty),
// and skips a file in which FerretDB has not yet created its metadata
// table.
//
// StartFerretDB does not do this itself because it runs before the
// collections exist; and a function of its own keeps the fix to FerretDB's
// behaviour in one place, easy to delete when FerretDB queries with the
// spelling it indexes.
func IndexIDs(ctx context.Context, dir string) error {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return fmt.Errorf("embedded ferretdb: index _id: %w", err)
	}
	files, err := filepath.Glob(filepath.Join(dir, "*"+sqliteFileExt))
	if err != nil {
		return fmt.Errorf("embedded ferretdb: index _id: %w", err)
	}
	var problems []error
	for _, f := range files {
		if err := indexIDsOfFile(ctx, f); err != nil {
			problems = append(problems, fmt.Errorf("embedded ferretdb: index _id in %s: %w", f, err))
		}
	}
	return errors.Join(problems...)
}

// indexIDsOfFile creates the missing _id indexes of one database file.
func indexIDsOfFile(ctx context.Context, path string) error {
	db, err := sql.Open("sqlite", sqliteFileDSN(path))
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)

	// A read first, so that a run with nothing to do takes no write lock.
	missing, err := tablesWithoutIDIndex(ctx, db)
	if err != nil || len(missing) == 0 {
		return err
	}
	// BEGIN IMMEDIATE (sqliteFileDSN): the table list read again inside the
	// transaction is the one the indexes are created on, since no other
	// writer (FerretDB creating or dropping a collection) can run between.
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	missing, err = tablesWithoutIDIndex(ctx, tx)
	if err != nil {
		return err
	}
	for _, table := range missing {
		q := fmt.Sprintf("CREATE INDEX IF NOT EXISTS %s ON %s (%s)", quoteIdent(idIndexName(table)), quoteIdent(table), sqliteIDExpr)
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("collection table %s: %w", table, err)
		}
	}
	return tx.Commit()
}

// sqliteFileDSN opens an existing file only (mode=rw), waits up to 10 s for
// another connection's lock as FerretDB does (busy_timeout), and begins
// transactions with the write lock taken (_txlock).
func sqliteFileDSN(path string) string {
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(path), OmitHost: true}
	return u.String() + "?mode=rw&_pragma=busy_timeout(10000)&_txlock=immediate"
}

type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// tablesWithoutIDIndex lists the collection tables of the database that
// lack the _id index of IndexIDs, none if the database has no collection
// table yet.
func tablesWithoutIDIndex(ctx context.Context, q querier) ([]string, error) {
	rows, err := q.QueryContext(ctx, "SELECT type, name FROM sqlite_schema WHERE type IN ('table', 'index')")
	if err != nil {
		return nil, err
	}
	tables, indexes := map[string]bool{}, map[string]bool{}
	for rows.Next() {
		var typ, name string
		if err := rows.Scan(&typ, &name); err != nil {
			rows.Close()
			return nil, err
		}
		if typ == "table" {
			tables[name] = true
		} else {
			indexes[name] = true
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if !tables[sqliteCollsTable] {
		// FerretDB opens a new database's file before it creates its
		// metadata table in it.
		return nil, nil
	}

	rows, err = q.QueryContext(ctx, "SELECT table_name FROM "+quoteIdent(sqliteCollsTable))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var missing []string
	for rows.Next() {
		var table string
		if err := rows.Scan(&table); err != nil {
			return nil, err
		}
		// FerretDB creates a table before its metadata row and deletes
		// the row before the table, so a row without a table is left over
		// from a failure: there is nothing to index.
		if tables[table] && !indexes[idIndexName(table)] {
			missing = append(missing, table)
		}
	}
	return missing, rows.Err()
}

// idIndexName is the name of IndexIDs' index on table; see IndexIDs for
// why it cannot be the name of one of FerretDB's indexes.
func idIndexName(table string) string { return "." + table + "_portcullis_id" }

// quoteIdent quotes an SQLite identifier.
func quoteIdent(name string) string { return `"` + strings.ReplaceAll(name, `"`, `""`) + `"` }
