// Package embedded starts in-process stand-ins for the platform's servers so
// that Portcullis runs with zero set-up: FerretDB (a MongoDB wire-protocol
// server on SQLite or PostgreSQL) and miniredis. The real drivers talk to
// them over loopback TCP exactly as they talk to production servers.
package embedded

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
	"github.com/alicebob/miniredis/v2"
)

// FerretDBOptions selects the embedded store's backend.
type FerretDBOptions struct {
	// Dir holds the SQLite files; used when PostgreSQLURL is empty.
	Dir string
	// PostgreSQLURL, if set, stores data in PostgreSQL instead of SQLite.
	PostgreSQLURL string
	// Logger receives FerretDB's own errors.
	Logger *slog.Logger
	// Listen is the TCP address to serve on; empty picks a free loopback
	// port.
	Listen string
}

// StartFerretDB starts FerretDB (on a free loopback port unless
// opts.Listen says otherwise) and returns its
// mongodb:// URI and a function that stops it and closes its files.
func StartFerretDB(ctx context.Context, opts FerretDBOptions) (string, func(), error) {
	cfg := &ferretdb.Config{
		Listener: ferretdb.ListenerConfig{TCP: cmp.Or(opts.Listen, "127.0.0.1:0")},
		// FerretDB logs whole wire messages at warning level when it answers
		// with an error; those can hold user data, so only its errors are
		// let through.
		Logger: quieter(opts.Logger, slog.LevelError).With("component", "ferretdb"),
	}
	if opts.PostgreSQLURL != "" {
		cfg.Handler, cfg.PostgreSQLURL = "postgresql", opts.PostgreSQLURL
	} else {
		if opts.Dir == "" {
			return "", nil, errors.New("embedded ferretdb: a data directory is required")
		}
		dir, err := filepath.Abs(opts.Dir)
		if err != nil {
			return "", nil, fmt.Errorf("embedded ferretdb: %w", err)
		}
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return "", nil, fmt.Errorf("embedded ferretdb: create %s: %w", dir, err)
		}
		cfg.Handler, cfg.SQLiteURL = "sqlite", sqliteURL(dir)
	}
	f, err := ferretdb.New(cfg)
	if err != nil {
		return "", nil, fmt.Errorf("embedded ferretdb: %w", err)
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = f.Run(runCtx)
	}()
	// MongoDBURI waits for the listener to be bound.
	uri := f.MongoDBURI()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			<-done
		})
	}
	return uri, stop, nil
}

// sqliteURL is the FerretDB SQLite URL of the files in dir. FerretDB opens
// them in WAL mode; synchronous(normal) spares a commit its fsync of the
// WAL, which on a busy disk costs a login (a session and a refresh token
// written) more wall time than its password hash. WAL with NORMAL is the
// pairing SQLite recommends: a commit survives the process crashing, and
// the files are never corrupted, but the last commits before a power loss
// or an operating-system crash may be rolled back. That is the durability
// of a development store; production uses MongoDB.
func sqliteURL(dir string) string {
	return "file:" + dir + "/?_pragma=synchronous(normal)"
}

// StartRedis starts miniredis on a free loopback port and returns its
// redis:// URL and a function that stops it. miniredis keeps TTLs on its own
// clock; a ticker drives that clock from the wall clock so that keys expire
// in real time.
func StartRedis() (string, func(), error) {
	return StartRedisAt("127.0.0.1:0")
}

// StartRedisAt is StartRedis on the TCP address addr.
func StartRedisAt(addr string) (string, func(), error) {
	m := miniredis.NewMiniRedis()
	if err := m.StartAddr(addr); err != nil {
		return "", nil, fmt.Errorf("embedded redis: %w", err)
	}
	stopClock := DriveClock(m, 50*time.Millisecond)
	var once sync.Once
	stop := func() {
		once.Do(func() {
			stopClock()
			m.Close()
		})
	}
	return "redis://" + m.Addr() + "/0", stop, nil
}

// DriveClock advances m's clock with the wall clock every tick until the
// returned function is called.
func DriveClock(m *miniredis.Miniredis, tick time.Duration) func() {
	last := time.Now()
	m.SetTime(last)
	t := time.NewTicker(tick)
	quit := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-quit:
				t.Stop()
				return
			case now := <-t.C:
				m.SetTime(now)
				m.FastForward(now.Sub(last))
				last = now
			}
		}
	}()
	return func() { close(quit); <-done }
}

// quieter returns a logger that drops records below min.
func quieter(l *slog.Logger, min slog.Level) *slog.Logger {
	if l == nil {
		l = slog.Default()
	}
	return slog.New(levelFilter{h: l.Handler(), min: min})
}

type levelFilter struct {
	h   slog.Handler
	min slog.Level
}

func (f levelFilter) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= f.min && f.h.Enabled(ctx, l)
}
func (f levelFilter) Handle(ctx context.Context, r slog.Record) error { return f.h.Handle(ctx, r) }
func (f levelFilter) WithAttrs(as []slog.Attr) slog.Handler {
	return levelFilter{h: f.h.WithAttrs(as), min: f.min}
}
func (f levelFilter) WithGroup(n string) slog.Handler {
	return levelFilter{h: f.h.WithGroup(n), min: f.min}
}
