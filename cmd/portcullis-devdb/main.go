// Command portcullis-devdb runs Portcullis' embedded MongoDB-compatible store
// (FerretDB) as a standalone server, on SQLite files or on PostgreSQL, and
// with -redis-listen its embedded Redis (miniredis, in memory) too. It is
// for development, CI and measurement: several Portcullis processes can
// share it, the adapter tests can run against it over the network
// (MONGODB_URI), and the load and soak commands run it beside the server
// so that the server's RSS is its own. It is not a production database.
//
// On SQLite it gives every collection the _id index that FerretDB's lookups
// use (embedded.IndexIDs) at start and every 10 seconds after: its clients
// create their collections after it started, and cannot reach its files.
//
//	portcullis-devdb -listen 127.0.0.1:27017 -sqlite-dir var/devdb
//	portcullis-devdb -listen 127.0.0.1:27017 -postgresql-url postgres://postgres@127.0.0.1:5432/ferretdb
//	portcullis-devdb -listen 127.0.0.1:27017 -redis-listen 127.0.0.1:6380
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/portcullis/portcullis/adapters/embedded"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:27017", "TCP address to serve the MongoDB wire protocol on")
	dir := flag.String("sqlite-dir", "var/devdb", "directory of the SQLite files (when -postgresql-url is empty)")
	pg := flag.String("postgresql-url", "", "store data in this PostgreSQL database instead of SQLite")
	redisListen := flag.String("redis-listen", "", "also serve the embedded Redis (in memory) on this TCP address")
	flag.Parse()

	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	uri, shutdown, err := embedded.StartFerretDB(ctx, embedded.FerretDBOptions{Listen: *listen, Dir: *dir, PostgreSQLURL: *pg, Logger: log})
	if err != nil {
		fmt.Fprintln(os.Stderr, "portcullis-devdb:", err)
		os.Exit(1)
	}
	backend := "sqlite:" + *dir
	if *pg != "" {
		backend = "postgresql"
	}
	redisURL := ""
	if *redisListen != "" {
		u, stopRedis, err := embedded.StartRedisAt(*redisListen)
		if err != nil {
			shutdown()
			fmt.Fprintln(os.Stderr, "portcullis-devdb:", err)
			os.Exit(1)
		}
		defer stopRedis()
		redisURL = u
	}
	log.Info("serving", "uri", uri, "backend", backend, "redis_url", redisURL)
	indexed := make(chan struct{})
	if *pg == "" {
		go func() { defer close(indexed); indexIDs(ctx, *dir, 10*time.Second, log) }()
	} else {
		close(indexed)
	}
	<-ctx.Done()
	<-indexed
	shutdown()
	log.Info("stopped")
}

// indexIDs runs embedded.IndexIDs on dir now and every interval until ctx
// ends. A failure is logged: without the indexes lookups are slower, not
// wrong.
func indexIDs(ctx context.Context, dir string, interval time.Duration, log *slog.Logger) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if err := embedded.IndexIDs(ctx, dir); err != nil && ctx.Err() == nil {
			log.Warn("index _id", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
