package e2e_test

import (
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// scrape reads the metrics listener's /metrics.
func scrape(t *testing.T, s *server) string {
	t.Helper()
	url := s.waitMsg(t, "metrics listening").Str("url")
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("GET %s: %d %q %v", url, resp.StatusCode, resp.Header.Get("Content-Type"), err)
	}
	return string(b)
}

// sample is the value of the series name{labels} (labels as exposed, in
// order), and whether it is there.
func sample(text, series string) (float64, bool) {
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` ([0-9.e+-]+)$`).FindStringSubmatch(text)
	if m == nil {
		return 0, false
	}
	v, err := strconv.ParseFloat(m[1], 64)
	return v, err == nil
}

func wantSample(t *testing.T, text, series string, want float64) {
	t.Helper()
	if got, ok := sample(text, series); !ok || got != want {
		t.Errorf("%s = %v (present %t), want %v", series, got, ok, want)
	}
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	s := startLocal(t)
	a := newAccount("metrics")
	register(t, s, "localhost", a)
	login(t, s, "localhost", a, "")
	tryLogin(t, s, "localhost", a.Email, "wrong-"+a.Password)
	s.do(t, http.MethodDelete, "/auth/v1/sessions/some-session-id", withHost("localhost"))
	s.get(t, "/no/such/route", withHost("localhost"))

	// The access log is written after the observation: once it holds the
	// last request, every request is counted.
	time.Sleep(100 * time.Millisecond)
	text := scrape(t, s)
	wantSample(t, text, `portcullis_logins_total{method="password",outcome="succeeded",tenant="local"}`, 1)
	wantSample(t, text, `portcullis_logins_total{method="password",outcome="failed",tenant="local"}`, 1)
	wantSample(t, text, `portcullis_login_failures_total{method="password",reason="invalid_credentials",tenant="local"}`, 1)
	wantSample(t, text, `portcullis_http_request_duration_seconds_count{method="POST",route="/auth/v1/login",status="200"}`, 1)
	wantSample(t, text, `portcullis_http_request_duration_seconds_count{method="POST",route="/auth/v1/login",status="401"}`, 1)
	wantSample(t, text, `portcullis_http_request_duration_seconds_count{method="DELETE",route="/auth/v1/sessions/:id",status="401"}`, 1)
	wantSample(t, text, `portcullis_http_request_duration_seconds_count{method="GET",route="unmatched",status="404"}`, 1)
	// The registration's verification mail went to the dev outbox.
	wantSample(t, text, `portcullis_messages_sent_total{channel="mail",outcome="sent",tenant="local"}`, 1)
	if strings.Contains(text, "some-session-id") || strings.Contains(text, "/no/such/route") {
		t.Error("a raw path is a label value")
	}
	if v, ok := sample(text, `portcullis_hash_pool_computed_total`); !ok || v < 3 {
		t.Errorf("hash pool computed %v (present %t), want at least the registration and two logins", v, ok)
	}
	for _, name := range []string{"portcullis_hash_pool_queue_depth", "portcullis_hash_pool_slots", "portcullis_hash_pool_wait_seconds_total",
		"portcullis_audit_events_dropped_total", `portcullis_cache_hits_total{cache="users"}`, `portcullis_cache_misses_total{cache="sessions"}`, "portcullis_audit_events_queued", "portcullis_tenant_containers_built_total", "go_goroutines", "process_resident_memory_bytes"} {
		if _, ok := sample(text, name); !ok {
			t.Errorf("no %s", name)
		}
	}
	if v, _ := sample(text, "portcullis_tenant_containers_built_total"); v < 1 {
		t.Errorf("tenant containers built %v, want at least 1", v)
	}
	// Dev mode: the main listener serves them too.
	if r := s.get(t, "/metrics"); r.Status != http.StatusOK || !strings.Contains(string(r.Body), "portcullis_logins_total") {
		t.Errorf("dev mode /metrics on the main listener: %d", r.Status)
	}
}

// Past metrics_max_tenants, tenants share the label "other".
func TestMetricsFoldTenants(t *testing.T) {
	t.Parallel()
	s := startTenantsEnv(t, map[string]string{"PORTCULLIS_METRICS_MAX_TENANTS": "1"},
		tenantSpec{ID: "first", Domains: []string{"first.localhost"}}, tenantSpec{ID: "second", Domains: []string{"second.localhost"}})
	for _, host := range []string{"first.localhost", "second.localhost"} {
		tryLogin(t, s, host, "nobody@example.com", "wrong-password-1")
	}
	time.Sleep(100 * time.Millisecond)
	text := scrape(t, s)
	wantSample(t, text, `portcullis_logins_total{method="password",outcome="failed",tenant="first"}`, 1)
	wantSample(t, text, `portcullis_logins_total{method="password",outcome="failed",tenant="other"}`, 1)
	if strings.Contains(text, `tenant="second"`) {
		t.Error("the second tenant has a label of its own past metrics_max_tenants 1")
	}
}
