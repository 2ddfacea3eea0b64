package config_test

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/config"
)

const goodKey = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=" // 32 bytes

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "portcullis.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDefaultsNeedOnlyDevModeOrAKey(t *testing.T) {
	t.Parallel()
	p, err := config.Load("", []string{"PORTCULLIS_DEV_MODE=true"})
	if err != nil {
		t.Fatal(err)
	}
	d := config.Defaults()
	if p.Listen != d.Listen || p.DataDir != "var" || p.TenantsDir != "config/tenants" || !p.DevMode || p.ShutdownTimeout != 15*time.Second {
		t.Fatalf("got %+v", p)
	}
	if _, err := config.Load("", []string{"PORTCULLIS_MASTER_KEY=" + goodKey}); err != nil {
		t.Fatal(err)
	}
}

func TestFileThenEnvironmentWins(t *testing.T) {
	t.Parallel()
	path := writeFile(t, "listen: 0.0.0.0:9000\nlog_level: debug\nmaster_key: "+goodKey+"\ntrusted_proxies: [10.0.0.0/8, 192.168.1.1]\nshutdown_timeout: 30s\n")
	p, err := config.Load(path, []string{"PORTCULLIS_LISTEN=127.0.0.1:9999", "PORTCULLIS_TRUSTED_PROXIES=10.1.0.0/16, ::1", "PORTCULLIS_CONFIG=ignored", "HOME=/root"})
	if err != nil {
		t.Fatal(err)
	}
	if p.Listen != "127.0.0.1:9999" || p.LogLevel != "debug" || p.ShutdownTimeout != 30*time.Second {
		t.Fatalf("got %+v", p)
	}
	pr := p.Proxies()
	if len(pr) != 2 || pr[0].String() != "10.1.0.0/16" || pr[1].String() != "::1/128" {
		t.Fatalf("proxies %v", pr)
	}
	if p.Level() != slog.LevelDebug {
		t.Fatalf("level %v", p.Level())
	}
}

func TestBadPlatformConfigNamesEveryFieldAndProblem(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		file string
		env  []string
		want []string
	}{
		{"master key required outside dev", "", nil, []string{"master_key: is required outside dev mode: set PORTCULLIS_MASTER_KEY"}},
		{"short master key", "", []string{"PORTCULLIS_MASTER_KEY=c2hvcnQ="}, []string{"master_key: must decode to 32 bytes, got 5"}},
		{"non-base64 master key", "", []string{"PORTCULLIS_MASTER_KEY=%%%"}, []string{"master_key: must be base64"}},
		{"many at once", "listen: nope\nlog_level: loud\nlog_format: xml\ntrusted_proxies: [10.0.0.0/33]\ndev_mode: true\n",
			[]string{"PORTCULLIS_REDIS_URL=http://x", "PORTCULLIS_MONGODB_URI=postgres://x"},
			[]string{`listen: "nope" must be host:port`, `log_level: must be one of debug, info, warn, error; got "loud"`,
				`log_format: must be text or json; got "xml"`, `trusted_proxies[0]: "10.0.0.0/33" is not an IP address or CIDR prefix`,
				"redis_url: must be a URL with scheme redis, rediss", "mongodb_uri: must be a mongodb:// or mongodb+srv:// URI"}},
		{"unknown file key", "dev_mode: true\nlisten_addr: :80\n", nil, []string{"listen_addr: is not a known setting"}},
		{"unknown env var", "", []string{"PORTCULLIS_DEV_MODE=1", "PORTCULLIS_LISTN=:80"}, []string{"PORTCULLIS_LISTN: is not a known setting (known: PORTCULLIS_LISTEN"}},
		{"bad duration", "dev_mode: true\nshutdown_timeout: 15\n", nil, []string{"shutdown_timeout: must be a duration with a unit such as 15m or 1h30m, got 15"}},
		{"negative duration", "dev_mode: true\nshutdown_timeout: -1s\n", nil, []string{"shutdown_timeout: must be a positive duration, got -1s"}},
		{"bad bool", "", []string{"PORTCULLIS_DEV_MODE=maybe"}, []string{"dev_mode"}},
		{"bad default tenant", "dev_mode: true\ndefault_tenant: Not Valid\n", nil, []string{`default_tenant: "Not Valid" is not a valid tenant id`}},
		{"empty data dir", "dev_mode: true\ndata_dir: \"\"\n", nil, []string{"data_dir: is required"}},
		{"refresh too fast", "dev_mode: true\ntenant_refresh_interval: 10ms\n", nil, []string{"tenant_refresh_interval: must be at least 1s, got 10ms"}},
		{"no cache", "dev_mode: true\ncache_entries: 0\n", nil, []string{"cache_entries: must be between 1 and 10000000, got 0"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := ""
			if tc.file != "" {
				path = writeFile(t, tc.file)
			}
			_, err := config.Load(path, tc.env)
			var ce *config.Error
			if !errors.As(err, &ce) {
				t.Fatalf("want *config.Error, got %v", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\ndoes not contain %q", err, w)
				}
			}
		})
	}
}

func TestMissingConfigFileIsAnError(t *testing.T) {
	t.Parallel()
	_, err := config.Load(filepath.Join(t.TempDir(), "absent.yaml"), []string{"PORTCULLIS_DEV_MODE=true"})
	if err == nil || !strings.Contains(err.Error(), "config file") {
		t.Fatalf("got %v", err)
	}
}

func TestLogValueMasksSecrets(t *testing.T) {
	t.Parallel()
	p, err := config.Load("", []string{
		"PORTCULLIS_MASTER_KEY=" + goodKey,
		"PORTCULLIS_MONGODB_URI=mongodb://app:hunter2@db.example:27017/?authSource=admin",
		"PORTCULLIS_REDIS_URL=redis://:s3cret@cache.example:6379/0",
	})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("start", "config", p)
	out := buf.String()
	for _, secret := range []string{goodKey, "hunter2", "s3cret"} {
		if strings.Contains(out, secret) {
			t.Fatalf("secret %q in log: %s", secret, out)
		}
	}
	for _, want := range []string{`"master_key":"set"`, "db.example:27017", "cache.example:6379"} {
		if !strings.Contains(out, want) {
			t.Fatalf("%q missing from %s", want, out)
		}
	}
}

func TestShippedExampleConfigIsValid(t *testing.T) {
	t.Parallel()
	p, err := config.Load("portcullis.example.yaml", []string{"PORTCULLIS_MASTER_KEY=" + goodKey})
	if err != nil {
		t.Fatal(err)
	}
	if p.LogFormat != "json" || len(p.Proxies()) != 1 {
		t.Fatalf("%+v", p)
	}
}
