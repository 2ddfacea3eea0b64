package main

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/config"
	"github.com/portcullis/portcullis/domain/tenant"
)

func TestParseStatCPU(t *testing.T) {
	t.Parallel()
	// Fields 14 and 15 (utime, stime) are 250 and 50 ticks; the command
	// name holds a space and a ")" to make sure fields count from the last.
	stat := "4242 (my (odd) cmd) S 1 4242 4242 0 -1 4194560 1234 0 0 0 250 50 0 0 20 0 12 0 555 123456 789 18446744073709551615"
	got, err := parseStatCPU(stat)
	if err != nil {
		t.Fatal(err)
	}
	if want := 3 * time.Second; got != want {
		t.Errorf("parseStatCPU = %v, want %v", got, want)
	}
	for _, bad := range []string{"", "4242 no parens", "4242 (x) S 1 2 3"} {
		if _, err := parseStatCPU(bad); err == nil {
			t.Errorf("parseStatCPU(%q) accepted", bad)
		}
	}
}

func TestProcCPUOfThisProcess(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc")
	}
	if _, err := procCPU(os.Getpid()); err != nil {
		t.Errorf("procCPU(self): %v", err)
	}
}

func TestParseListening(t *testing.T) {
	t.Parallel()
	tests := []struct {
		line string
		want listening
		ok   bool
	}{
		{`{"time":"x","level":"INFO","msg":"listening","url":"http://127.0.0.1:4321","tenants":10000,"startup":2345000000}` + "\n",
			listening{URL: "http://127.0.0.1:4321", Tenants: 10000, Startup: 2345 * time.Millisecond}, true},
		{`{"msg":"listening","url":"http://127.0.0.1:4321","startup":"1.5s"}`, listening{URL: "http://127.0.0.1:4321", Startup: 1500 * time.Millisecond}, true},
		{`{"msg":"listening","url":"http://127.0.0.1:1"}`, listening{URL: "http://127.0.0.1:1"}, true}, // the bare server's
		{`{"level":"INFO","msg":"request","url":"http://127.0.0.1:1"}`, listening{}, false},
		{`Portcullis dev mode: listening on http://127.0.0.1:1`, listening{}, false},
		{`{"msg":"listening"`, listening{}, false},
		{`{"msg":"listening"}`, listening{}, false},
	}
	for _, tt := range tests {
		if got, ok := parseListening(tt.line); got != tt.want || ok != tt.ok {
			t.Errorf("parseListening(%q) = %+v, %t; want %+v, %t", tt.line, got, ok, tt.want, tt.ok)
		}
	}
}

func TestLoopbackAddr(t *testing.T) {
	t.Parallel()
	tests := []struct {
		url, want string
		ok        bool
	}{
		{"http://127.0.0.1:8080", "127.0.0.1:8080", true},
		{"http://localhost:8080/", "127.0.0.1:8080", true},
		{"http://10.0.0.1:8080", "", false},
		{"http://example.com:80", "", false},
		{"https://127.0.0.1:8443", "", false},
		{"http://127.0.0.1", "", false},
		{"http://[::1]:8080", "", false},
	}
	for _, tt := range tests {
		got, err := loopbackAddr(tt.url)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("loopbackAddr(%q) = %q, %v; want %q, ok %t", tt.url, got, err, tt.want, tt.ok)
		}
	}
}

func TestTailBufferKeepsTheEnd(t *testing.T) {
	t.Parallel()
	b := newTailBuffer(10)
	for _, s := range []string{"abc", "defgh", "ijklmn"} {
		if n, err := b.Write([]byte(s)); n != len(s) || err != nil {
			t.Fatalf("Write(%q) = %d, %v", s, n, err)
		}
	}
	if got := b.String(); got != "efghijklmn" {
		t.Errorf("tail = %q, want %q", got, "efghijklmn")
	}
	_, _ = b.Write([]byte("0123456789ABCDEF"))
	if got := b.String(); got != "6789ABCDEF" {
		t.Errorf("tail after a long write = %q, want %q", got, "6789ABCDEF")
	}
	lines := newTailBuffer(1 << 20)
	_, _ = lines.Write([]byte(strings.Repeat("line\n", 100)))
	if got := strings.Count(lines.String(), "line"); got != 40 {
		t.Errorf("String kept %d lines, want 40", got)
	}
}

func TestBenchTenantFileIsValidAndUnthrottled(t *testing.T) {
	t.Parallel()
	hash := tenant.HashParams{MemoryKiB: 8192, Iterations: 3, Parallelism: 1}
	b, err := tenantYAML(benchTenant("bench.localhost", hash))
	if err != nil {
		t.Fatal(err)
	}
	got, err := config.ParseTenantYAML(b, "bench.yaml")
	if err != nil {
		t.Fatalf("the server's parser refuses the bench tenant: %v\n%s", err, b)
	}
	if got.ID != benchTenantID || len(got.Domains) != 1 || got.Domains[0] != "bench.localhost" {
		t.Errorf("id %q, domains %v; want %q on bench.localhost", got.ID, got.Domains, benchTenantID)
	}
	if !got.Enabled(tenant.MethodPassword) {
		t.Error("password login is not enabled")
	}
	if got.Password.Hash != hash {
		t.Errorf("hash parameters %+v, want %+v", got.Password.Hash, hash)
	}
	for name, l := range map[string]tenant.Limit{
		"login_per_account": got.Throttling.LoginPerAccount,
		"login_per_ip":      got.Throttling.LoginPerIP,
		"login_per_device":  got.Throttling.LoginPerDevice,
		"register_per_ip":   got.Throttling.RegisterPerIP,

		"signup_notice_per_recipient": got.Throttling.SignupNoticePerRecipient,
		"sms_per_ip":                  got.Throttling.SMSPerIP,
		"sms_per_calling_code":        got.Throttling.SMSPerCallingCode,
		"sms_per_tenant":              got.Throttling.SMSPerTenant,
		"password_reset_per_ip":       got.Throttling.PasswordResetPerIP,
		"verification_mail_per_ip":    got.Throttling.VerificationMailPerIP,
		"email_login_per_ip":          got.Throttling.EmailLoginPerIP,
		"token_login_per_ip":          got.Throttling.TokenLoginPerIP,
	} {
		if l != highLimit {
			t.Errorf("throttling.%s = %+v, want %+v", name, l, highLimit)
		}
	}
	def, err := tenantYAML(benchTenant("bench.localhost", tenant.Default().Password.Hash))
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := config.ParseTenantYAML(def, "bench.yaml"); d.Password.Hash != tenant.Default().Password.Hash {
		t.Errorf("default hash parameters %+v, want the documented %+v", d.Password.Hash, tenant.Default().Password.Hash)
	}
}
