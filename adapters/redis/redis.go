// Package redis keeps Portcullis' ephemeral, TTL-bound state (codes,
// counters, throttles, revocations, caches) in Redis through go-redis. Every
// key is namespaced by tenant.
package redis

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// Client is the client type every Redis adapter takes: standalone, Sentinel
// and Cluster clients all implement it.
type Client = goredis.UniversalClient

// NewClient returns a client for a URL:
//
//	redis://[user:pass@]host:port[/db]                  standalone
//	rediss://...                                        standalone over TLS
//	unix:///path/to/redis.sock[?db=N]                   standalone over a Unix socket
//	redis+sentinel://[user:pass@]host:port[,host:port...]/?master_name=NAME  Sentinel
//	redis+cluster://[user:pass@]host:port[,host:port...]                    Cluster
//
// Query parameters are go-redis options (dial_timeout, read_timeout,
// pool_size, ...); rediss+sentinel and rediss+cluster use TLS.
//
// Every client honours the deadlines of the contexts it is given, also for
// socket reads and writes (go-redis ignores them there unless told), so
// that a Redis that hangs costs a request its store timeout and /readyz
// its two seconds, not the socket timeouts times the retries. Dial, read
// and write timeouts the URL does not set are DefaultDialTimeout and
// DefaultIOTimeout.
func NewClient(rawURL string) (Client, error) {
	scheme, rest, ok := strings.Cut(rawURL, "://")
	if !ok {
		return nil, fmt.Errorf("redis_url: missing scheme")
	}
	base, mode, _ := strings.Cut(scheme, "+")
	if base != "redis" && base != "rediss" && base != "unix" {
		return nil, fmt.Errorf("redis_url: unsupported scheme %q", scheme)
	}
	switch mode {
	case "":
		opt, err := goredis.ParseURL(rawURL)
		if err != nil {
			return nil, fmt.Errorf("redis_url: %w", err)
		}
		opt.ContextTimeoutEnabled = true
		defaultTimeouts(rawURL, &opt.DialTimeout, &opt.ReadTimeout, &opt.WriteTimeout)
		return goredis.NewClient(opt), nil
	case "sentinel", "cluster":
		u, err := withSeedAddrs(base, rest)
		if err != nil {
			return nil, err
		}
		if mode == "sentinel" {
			opt, err := goredis.ParseFailoverURL(u)
			if err != nil {
				return nil, fmt.Errorf("redis_url: %w", err)
			}
			if opt.MasterName == "" {
				return nil, fmt.Errorf("redis_url: a sentinel URL needs ?master_name=")
			}
			opt.ContextTimeoutEnabled = true
			defaultTimeouts(u, &opt.DialTimeout, &opt.ReadTimeout, &opt.WriteTimeout)
			return goredis.NewFailoverClient(opt), nil
		}
		opt, err := goredis.ParseClusterURL(u)
		if err != nil {
			return nil, fmt.Errorf("redis_url: %w", err)
		}
		opt.ContextTimeoutEnabled = true
		defaultTimeouts(u, &opt.DialTimeout, &opt.ReadTimeout, &opt.WriteTimeout)
		return goredis.NewClusterClient(opt), nil
	}
	return nil, fmt.Errorf("redis_url: unsupported scheme %q", scheme)
}

// Socket timeouts of a client whose URL does not set them; go-redis' own
// (5 s to dial, 3 s per read) are longer than a request's store timeout.
const (
	DefaultDialTimeout = 2 * time.Second
	DefaultIOTimeout   = 2 * time.Second
)

// defaultTimeouts sets the timeouts that rawURL's query leaves out. A URL
// that sets read_timeout only keeps go-redis' rule that the write timeout
// follows it.
func defaultTimeouts(rawURL string, dial, read, write *time.Duration) {
	var q url.Values
	if u, err := url.Parse(rawURL); err == nil {
		q = u.Query()
	}
	if !q.Has("dial_timeout") {
		*dial = DefaultDialTimeout
	}
	if !q.Has("read_timeout") {
		*read = DefaultIOTimeout
		if !q.Has("write_timeout") {
			*write = DefaultIOTimeout
		}
	}
}

// withSeedAddrs turns "host1:p,host2:p/path?q" into go-redis' form
// "scheme://host1:p/path?q&addr=host2:p".
func withSeedAddrs(scheme, rest string) (string, error) {
	auth := ""
	if i := strings.LastIndex(rest, "@"); i >= 0 {
		auth, rest = rest[:i+1], rest[i+1:]
	}
	hosts, tail := rest, ""
	if i := strings.IndexAny(rest, "/?"); i >= 0 {
		hosts, tail = rest[:i], rest[i:]
	}
	list := strings.Split(hosts, ",")
	if hosts == "" || len(list) == 0 {
		return "", fmt.Errorf("redis_url: no host")
	}
	u, err := url.Parse(scheme + "://" + auth + list[0] + tail)
	if err != nil {
		return "", fmt.Errorf("redis_url: %w", err)
	}
	q := u.Query()
	for _, h := range list[1:] {
		q.Add("addr", h)
	}
	u.RawQuery = q.Encode()
	if u.Path == "/" {
		u.Path = ""
	}
	return u.String(), nil
}

// Key builds a tenant-scoped key: "pc:<tenant>:<part>:<part>...". Tenant ids
// cannot contain ':', so keys of different tenants never collide.
func Key(tenantID string, parts ...string) string {
	var b strings.Builder
	b.WriteString("pc:")
	b.WriteString(tenantID)
	for _, p := range parts {
		b.WriteByte(':')
		b.WriteString(p)
	}
	return b.String()
}

// Ping checks that the server answers.
func Ping(ctx context.Context, c Client) error {
	return c.Ping(ctx).Err()
}
