package redis_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	goredis "github.com/redis/go-redis/v9"

	"github.com/portcullis/portcullis/adapters/embedded"
	"github.com/portcullis/portcullis/adapters/redis"
)

func TestNewClientModes(t *testing.T) {
	t.Parallel()
	cases := []struct {
		url  string
		want string // the concrete client type
		addr []string
	}{
		{"redis://127.0.0.1:6390/2", "*redis.Client", []string{"127.0.0.1:6390"}},
		{"rediss://user:pw@cache.example:6380/0", "*redis.Client", []string{"cache.example:6380"}},
		{"redis+cluster://a.example:7000,b.example:7001,c.example:7002", "*redis.ClusterClient", []string{"a.example:7000", "b.example:7001", "c.example:7002"}},
		{"redis+sentinel://:pw@s1.example:26379,s2.example:26379/?master_name=main", "*redis.Client", nil},
	}
	for _, tc := range cases {
		c, err := redis.NewClient(tc.url)
		if err != nil {
			t.Errorf("%s: %v", tc.url, err)
			continue
		}
		switch cl := c.(type) {
		case *goredis.Client:
			if tc.want != "*redis.Client" {
				t.Errorf("%s: got a standalone client", tc.url)
			}
			if tc.addr != nil && cl.Options().Addr != tc.addr[0] {
				t.Errorf("%s: addr %s", tc.url, cl.Options().Addr)
			}
		case *goredis.ClusterClient:
			if tc.want != "*redis.ClusterClient" {
				t.Errorf("%s: got a cluster client", tc.url)
			}
			got := cl.Options().Addrs
			if len(got) != len(tc.addr) {
				t.Errorf("%s: seed addrs %v", tc.url, got)
			}
			for i := range got {
				if got[i] != tc.addr[i] {
					t.Errorf("%s: seed addrs %v", tc.url, got)
				}
			}
		default:
			t.Errorf("%s: unexpected %T", tc.url, c)
		}
		_ = c.Close()
	}
	for _, bad := range []string{"http://x:1", "nothing", "redis+sentinel://s1:26379", "redis+cluster://", "redis://x:1/?no_such_option=1"} {
		if c, err := redis.NewClient(bad); err == nil {
			_ = c.Close()
			t.Errorf("%q: want an error", bad)
		}
	}
}

func TestKeyIsTenantScoped(t *testing.T) {
	t.Parallel()
	if got := redis.Key("shop", "otp", "+15550100"); got != "pc:shop:otp:+15550100" {
		t.Fatalf("got %q", got)
	}
	if redis.Key("shop") != "pc:shop" {
		t.Fatal("a bare tenant key")
	}
}

// server returns the URL to test against: REDIS_URL when set, else the
// embedded Redis.
func server(t testing.TB) string {
	t.Helper()
	if u := os.Getenv("REDIS_URL"); u != "" {
		return u
	}
	u, stop, err := embedded.StartRedis()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return u
}

func TestRoundTripAndTTLInRealTime(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c, err := redis.NewClient(server(t))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := redis.Ping(ctx, c); err != nil {
		t.Fatal(err)
	}
	key := redis.Key("adapter-test", time.Now().Format(time.RFC3339Nano))
	if err := c.Set(ctx, key, "v", 300*time.Millisecond).Err(); err != nil {
		t.Fatal(err)
	}
	if v, err := c.Get(ctx, key).Result(); err != nil || v != "v" {
		t.Fatalf("get: %q %v", v, err)
	}
	// Expiry on the wall clock: the embedded Redis must drive its own clock.
	deadline := time.Now().Add(5 * time.Second)
	for c.Exists(ctx, key).Val() == 1 {
		if time.Now().After(deadline) {
			t.Fatal("key with a 300ms TTL still exists after 5s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestDriveClockAdvancesMiniredis(t *testing.T) {
	t.Parallel()
	m := miniredis.RunT(t)
	stop := embedded.DriveClock(m, 10*time.Millisecond)
	defer stop()
	m.Set("k", "v")
	m.SetTTL("k", 100*time.Millisecond)
	time.Sleep(300 * time.Millisecond)
	if m.Exists("k") {
		t.Fatal("miniredis clock not driven")
	}
}

// eventually polls cond every 50ms until it holds or within has passed.
func eventually(t *testing.T, within time.Duration, cond func() bool) bool {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
	return true
}
