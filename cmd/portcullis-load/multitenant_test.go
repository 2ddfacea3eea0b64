package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/portcullis/portcullis/config"
	"github.com/portcullis/portcullis/domain/tenant"
)

func TestMTKindOf(t *testing.T) {
	t.Parallel()
	var got []string
	for k := range 8 {
		got = append(got, mtKindOf(k).String())
	}
	want := []string{"single", "multi", "multi", "single", "single", "multi", "multi", "single"}
	if !slices.Equal(got, want) {
		t.Errorf("kinds %v, want %v (ABBA)", got, want)
	}
}

func TestMTTenantID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		i, n int
		want string
	}{
		{1, 10_000, "mt-00001"},
		{10_000, 10_000, "mt-10000"},
		{7, 20, "mt-00007"},
		{0, 10_000, "mt-00000"},
		{42, 123_456, "mt-000042"},
	}
	for _, tt := range tests {
		if got := mtTenantID(tt.i, tt.n); got != tt.want {
			t.Errorf("mtTenantID(%d, %d) = %q, want %q", tt.i, tt.n, got, tt.want)
		}
	}
	if d := mtDomain("mt-00001"); d != "mt-00001.localhost" {
		t.Errorf("mtDomain = %q", d)
	}
}

func TestMTActive(t *testing.T) {
	t.Parallel()
	tests := []struct {
		n, active int
		first     []int
		last      int
	}{
		{10_000, 1000, []int{1, 11, 21}, 9991},
		{10, 10, []int{1, 2, 3}, 10},
		{10, 3, []int{1, 4, 7}, 7},
		{5, 1, []int{1}, 1},
	}
	for _, tt := range tests {
		got := mtActive(tt.n, tt.active)
		if len(got) != tt.active || !slices.Equal(got[:len(tt.first)], tt.first) || got[len(got)-1] != tt.last {
			t.Errorf("mtActive(%d, %d) = %v…%d, want %d numbers %v…%d", tt.n, tt.active, got[:min(3, len(got))], got[len(got)-1], tt.active, tt.first, tt.last)
		}
		for j := 1; j < len(got); j++ {
			if got[j] <= got[j-1] || got[j] > tt.n {
				t.Errorf("mtActive(%d, %d): %d after %d: not increasing within 1..%d", tt.n, tt.active, got[j], got[j-1], tt.n)
			}
		}
	}
}

func TestMTPick(t *testing.T) {
	t.Parallel()
	// 64 workers over 1000 targets: each starts at its own offset, and
	// together their first requests go to 64 different targets.
	seen := map[int]bool{}
	for w := range 64 {
		seen[mtPick(w, 0, 64, 1000)] = true
	}
	if len(seen) != 64 {
		t.Errorf("the first requests of 64 workers go to %d targets, want 64", len(seen))
	}
	// One worker goes through every target in turn.
	counts := make([]int, 1000)
	for i := range 3000 {
		counts[mtPick(5, i, 64, 1000)]++
	}
	for j, c := range counts {
		if c != 3 {
			t.Fatalf("target %d taken %d times in 3000 requests of one worker, want 3", j, c)
		}
	}
	// More workers than targets.
	for w := range 8 {
		if p := mtPick(w, 3, 8, 2); p < 0 || p >= 2 {
			t.Errorf("mtPick(%d, 3, 8, 2) = %d, out of range", w, p)
		}
	}
}

func TestWriteMTTenants(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	hash := tenant.HashParams{MemoryKiB: 8192, Iterations: 3, Parallelism: 1}
	size, err := writeMTTenants(dir, 12, hash)
	if err != nil {
		t.Fatal(err)
	}
	ts, err := config.NewTenantDir(dir).Tenants(t.Context())
	if err != nil {
		t.Fatalf("the server refuses the tenant files: %v", err)
	}
	if len(ts) != 12 {
		t.Fatalf("%d tenants, want 12", len(ts))
	}
	var total int64
	want := mtTenant("mt-00007", hash)
	for _, got := range ts {
		info, err := os.Stat(filepath.Join(dir, got.ID+".yaml"))
		if err != nil {
			t.Fatal(err)
		}
		total += info.Size()
		if got.ID != "mt-00007" {
			continue
		}
		if !slices.Equal(got.Domains, []string{"mt-00007.localhost"}) || got.DisplayName != "Load harness mt-00007" {
			t.Errorf("mt-00007: domains %v, display name %q", got.Domains, got.DisplayName)
		}
		// Apart from the id, display name and domain, the bench tenant's
		// settings: the same file as the bench tenant's with those changed.
		a, _ := tenantYAML(want)
		b, _ := tenantYAML(got)
		if !bytes.Equal(a, b) {
			t.Errorf("mt-00007 reads back otherwise than written:\n%s\nwant:\n%s", b, a)
		}
		if got.Password.Hash != hash || got.Throttling.RegisterPerIP != highLimit || got.Throttling.LoginPerIP != highLimit {
			t.Errorf("mt-00007: hash %+v, register_per_ip %+v, login_per_ip %+v; want the bench tenant's", got.Password.Hash, got.Throttling.RegisterPerIP, got.Throttling.LoginPerIP)
		}
	}
	if total != size {
		t.Errorf("reported size %d, files hold %d", size, total)
	}
	if _, err := os.Stat(filepath.Join(dir, "mt-00000.yaml")); err == nil {
		t.Error("the template tenant mt-00000 was written")
	}
}

func TestCheckMTTenantFile(t *testing.T) {
	t.Parallel()
	hash := tenant.Default().Password.Hash
	body, err := tenantYAML(mtTenant("mt-00003", hash))
	if err != nil {
		t.Fatal(err)
	}
	if err := checkMTTenantFile(body, "mt-00003", hash); err != nil {
		t.Errorf("a good file: %v", err)
	}
	if err := checkMTTenantFile(body, "mt-00004", hash); err == nil || !strings.Contains(err.Error(), `reads as id "mt-00003"`) {
		t.Errorf("another tenant's file: %v", err)
	}
	if err := checkMTTenantFile([]byte("id: [\n"), "mt-00003", hash); err == nil || !strings.Contains(err.Error(), "invalid") {
		t.Errorf("a broken file: %v", err)
	}
}

func TestTallyMT(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	windows := []mtWindow{
		{Kind: mtSingle, Switch: at(0), From: at(100), End: at(1100), ServerCPU: 800 * time.Millisecond, GenCPU: 100 * time.Millisecond, ServerKnown: true},
		{Kind: mtMulti, Switch: at(1100), From: at(1200), End: at(2200), ServerCPU: 900 * time.Millisecond, GenCPU: 100 * time.Millisecond, ServerKnown: true},
		{Kind: mtMulti, Switch: at(2200), From: at(2300), End: at(3300), ServerCPU: 700 * time.Millisecond, GenCPU: 100 * time.Millisecond, ServerKnown: true},
	}
	records := []mtRecord{
		{Kind: mtSingle, End: at(50), Latency: time.Millisecond, Class: "401"},      // warm-up: unrecorded error
		{Kind: mtSingle, End: at(100), Latency: 2 * time.Millisecond},               // the window's first instant counts
		{Kind: mtSingle, End: at(600), Latency: 3 * time.Millisecond, Class: "500"}, // counted, an error
		{Kind: mtSingle, End: at(1100), Latency: time.Millisecond},                  // the end is outside
		{Kind: mtMulti, End: at(1150), Latency: time.Millisecond},                   // in the gap
		{Kind: mtMulti, End: at(1500), Latency: 4 * time.Millisecond},
		{Kind: mtSingle, End: at(1600), Latency: 9 * time.Millisecond}, // spill
		{Kind: mtMulti, End: at(2500), Latency: 5 * time.Millisecond},
		{Kind: mtMulti, End: at(3400), Latency: 5 * time.Millisecond, Class: classTimeout}, // after the last
	}
	got := tallyMT(windows, records)
	if got.Spill != 1 {
		t.Errorf("spill %d, want 1", got.Spill)
	}
	if want := (errorCounts{"401": 1, classTimeout: 1}); !equalCounts(got.Unrecorded, want) {
		t.Errorf("unrecorded %v, want %v", got.Unrecorded, want)
	}
	s, m := got.Kinds[mtSingle], got.Kinds[mtMulti]
	if s.Windows != 1 || s.Wall != time.Second || s.Requests != 2 || s.OK != 1 || s.Errors["500"] != 1 || s.ServerCPU != 800*time.Millisecond || !s.ServerKnown {
		t.Errorf("single %+v", s)
	}
	if !slices.Equal(s.Sorted, []time.Duration{2 * time.Millisecond, 3 * time.Millisecond}) {
		t.Errorf("single latencies %v", s.Sorted)
	}
	if m.Windows != 2 || m.Wall != 2*time.Second || m.Requests != 2 || m.OK != 2 || m.ServerCPU != 1600*time.Millisecond || m.GenCPU != 200*time.Millisecond {
		t.Errorf("multi %+v", m)
	}
	if smp := m.sample(); smp.OK != 2 || smp.Wall != 2*time.Second || !smp.ServerKnown || len(smp.Sorted) != 2 {
		t.Errorf("multi sample %+v", smp)
	}
	// A window whose server CPU could not be read leaves its kind's
	// server figures unknown; a kind without a window has none.
	windows[0].ServerKnown = false
	if got := tallyMT(windows[:1], nil); got.Kinds[mtSingle].ServerKnown || got.Kinds[mtMulti].ServerKnown {
		t.Errorf("server known: single %t, multi %t; want false, false", got.Kinds[mtSingle].ServerKnown, got.Kinds[mtMulti].ServerKnown)
	}
}

func equalCounts(a, b errorCounts) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// testMTPhases are the two kinds' figures over 10 s: single 10,000
// requests, p99 4 ms; multi 9,000, p99 multiP99 (the slowest 2% of each).
func testMTPhases(multiP99 time.Duration) (PhaseFigures, PhaseFigures) {
	mk := func(name, label string, p99 time.Duration, ok int) PhaseFigures {
		s := sample{Wall: 10 * time.Second, OK: ok, Requests: ok, Errors: errorCounts{}, ServerCPU: 5 * time.Second, ServerKnown: true}
		for i := range ok {
			d := time.Millisecond
			if i >= ok*98/100 {
				d = p99
			}
			s.Sorted = append(s.Sorted, d)
		}
		return phaseFigures(name, label, 64, 2, s)
	}
	return mk(phaseMTSingle, "single-tenant me", 4*time.Millisecond, 10_000), mk(phaseMTMulti, "multitenant me (1000 tenants)", multiP99, 9000)
}

func testMTFigures() *MultitenantFigures {
	return &MultitenantFigures{Tenants: 10_000, ActiveTenants: 1000, FirstTenant: "mt-00001", LastTenant: "mt-10000", SingleTenant: "mt-00001",
		FilesMiB: 36.4, WriteSeconds: 0.8, Pid: 4242, StartupSeconds: 5.61, ServerStartupSeconds: 5.44, ServerTenants: 10_000,
		RSSStartMiB: ptr(208.0), RSSSetupMiB: ptr(400.0), RSSEndMiB: ptr(350.5), PeakRSSMiB: ptr(420.0),
		Accounts: 1999, SetupConcurrency: 32, SetupSeconds: 61, SetupServerCPUSeconds: ptr(140.5), Concurrency: 64, SlicesPerKind: 10, Order: "single, multi, multi, single, …",
		SettleSeconds: 0.25, WindowSeconds: 1, MeanGapSeconds: 0.26, MaxGapSeconds: 0.3,
		TargetP99Ratio: targetMTP99Ratio, TargetRSSMiB: targetMTRSS >> 20}
}

func TestMultitenantCompare(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		multiP99 time.Duration
		change   func(*MultitenantFigures, *PhaseFigures)
		ratio    *float64
		verdict  string
		misses   []string
		rpsRatio float64
	}{
		{name: "within both targets", multiP99: 5 * time.Millisecond, ratio: ptr(1.25), verdict: "pass", rpsRatio: 0.9},
		{name: "exactly 1.5×", multiP99: 6 * time.Millisecond, ratio: ptr(1.5), verdict: "pass", rpsRatio: 0.9},
		{name: "p99 over", multiP99: 7 * time.Millisecond, ratio: ptr(1.75), verdict: "miss", misses: []string{"p99"}, rpsRatio: 0.9},
		{name: "RSS at the end over", multiP99: 5 * time.Millisecond, ratio: ptr(1.25), verdict: "miss", misses: []string{"rss"}, rpsRatio: 0.9,
			change: func(m *MultitenantFigures, _ *PhaseFigures) { m.RSSEndMiB = ptr(512.0) }},
		{name: "RSS after start-up over", multiP99: 5 * time.Millisecond, ratio: ptr(1.25), verdict: "miss", misses: []string{"rss"}, rpsRatio: 0.9,
			change: func(m *MultitenantFigures, _ *PhaseFigures) { m.RSSStartMiB = ptr(600.0) }},
		{name: "RSS unknown", multiP99: 5 * time.Millisecond, ratio: ptr(1.25), verdict: "unknown", misses: []string{"rss"}, rpsRatio: 0.9,
			change: func(m *MultitenantFigures, _ *PhaseFigures) { m.RSSEndMiB = nil }},
		{name: "an error outside the windows", multiP99: 5 * time.Millisecond, ratio: ptr(1.25), verdict: "miss", misses: []string{"errors"}, rpsRatio: 0.9,
			change: func(m *MultitenantFigures, _ *PhaseFigures) { m.UnrecordedErrors = map[string]int{"401": 1} }},
		{name: "an error in the single windows", multiP99: 5 * time.Millisecond, ratio: ptr(1.25), verdict: "miss", misses: []string{"errors"}, rpsRatio: 0.9,
			change: func(_ *MultitenantFigures, single *PhaseFigures) { single.Errors = map[string]int{"500": 1} }},
		{name: "an error in a first pass", multiP99: 7 * time.Millisecond, ratio: ptr(1.75), verdict: "miss", misses: []string{"p99", "errors"}, rpsRatio: 0.9,
			change: func(m *MultitenantFigures, _ *PhaseFigures) { m.FirstPassMulti = &PassFigures{ErrorsTotal: 1} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			single, multi := testMTPhases(tt.multiP99)
			m := testMTFigures()
			if tt.change != nil {
				tt.change(m, &single)
			}
			m.compare(single, &multi)
			if (m.P99Ratio == nil) != (tt.ratio == nil) || (m.P99Ratio != nil && *m.P99Ratio != *tt.ratio) {
				t.Errorf("p99 ratio %v, want %v", fmtPtr(m.P99Ratio), fmtPtr(tt.ratio))
			}
			if m.Verdict != tt.verdict || !slices.Equal(m.Misses, tt.misses) || multi.Verdict != m.Verdict {
				t.Errorf("verdict %q %v (phase %q), want %q %v", m.Verdict, m.Misses, multi.Verdict, tt.verdict, tt.misses)
			}
			if multi.Ratio == nil || *multi.Ratio != tt.rpsRatio || multi.RatioTo != "single_tenant" {
				t.Errorf("multi ratio %v to %q, want %v to single_tenant", fmtPtr(multi.Ratio), multi.RatioTo, tt.rpsRatio)
			}
		})
	}
	// Without requests in the single windows there is no p99 ratio.
	single, multi := testMTPhases(5 * time.Millisecond)
	single.P99MS = 0
	m := testMTFigures()
	m.compare(single, &multi)
	if m.P99Ratio != nil || m.Verdict != "unknown" || !slices.Equal(m.Misses, []string{"p99"}) {
		t.Errorf("no single requests: ratio %v, verdict %q %v; want none, unknown [p99]", fmtPtr(m.P99Ratio), m.Verdict, m.Misses)
	}
}

func fmtPtr(v *float64) string {
	if v == nil {
		return "nil"
	}
	return strconv.FormatFloat(*v, 'g', -1, 64)
}

func TestReportMultitenant(t *testing.T) {
	t.Parallel()
	single, multi := testMTPhases(5 * time.Millisecond)
	m := testMTFigures()
	m.FirstPassSingle = &PassFigures{Requests: 1000, OK: 1000, Seconds: 0.5, P50MS: 20, P99MS: 40, MaxMS: 45, Errors: map[string]int{}}
	m.FirstPassMulti = &PassFigures{Requests: 1000, OK: 998, Seconds: 60, P50MS: 3000, P99MS: 9000, MaxMS: 10000,
		Errors: map[string]int{classTimeout: 2}, ErrorsTotal: 2, ServerCPUSeconds: ptr(80.0), ServerCPUPerRequestMS: ptr(80.0)}
	m.compare(single, &multi)
	rep := testReport()
	rep.Phases = append(rep.Phases, single, multi)
	rep.Multitenant = m

	var b bytes.Buffer
	rep.writeTable(&b)
	out := b.String()
	for _, want := range []string{
		"single-tenant me", "multitenant me (1000 tenants)", "90.0% single", "p99 ≤1.5× single, RSS <512 MiB",
		"multitenant: 10000 tenant files (mt-00001 … mt-10000, 36.4 MiB, written in 0.8s)",
		`start-up 5.61s from exec to "listening" (the server's own figure 5.44s, 10000 tenants loaded)`,
		"setup:  1999 accounts (one in each of 1000 active tenants, 999 more in mt-00001) registered and logged in for a bearer",
		"token, 32 at once, in 61.0s (server CPU 140.5s: two password hashes per account, and the active tenants' builds)",
		"slices: /me at concurrency 64, 10+10 slices in the order single, multi, multi, single, …",
		"first:  single-tenant me, one request with each of its 1000 tokens",
		"64 at once: 0.50s, p50 20.0ms, p99 40.0ms, max 45.0ms, errors 0",
		"first:  multitenant me, one request with each of its 1000 tokens",
		"64 at once: 60.00s, p50 3.00s, p99 9.00s, max 10.00s, server CPU 80.0ms per request, errors 2 (transport:timeout 2)",
		"rss:    multitenant server: 208.0 MiB after start-up, 400.0 MiB after the setup (1000 tenants built), 350.5 MiB at the end",
		"(peak 420.0 MiB); target <512 MiB after start-up and at the end: pass",
		"p99:    multitenant me (1000 tenants) 5.00ms ÷ single-tenant me 4.00ms = 1.25× (target ≤1.5×): pass",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "note:   no server process id") {
		t.Errorf("mode A's table says there is no server process id:\n%s", out)
	}

	b.Reset()
	if err := rep.writeJSON(&b); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Schema      string           `json:"schema"`
		Phases      []map[string]any `json:"phases"`
		Multitenant map[string]any   `json:"multitenant"`
	}
	if err := json.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Schema != "portcullis-load/6" {
		t.Errorf("schema %q", doc.Schema)
	}
	last := doc.Phases[len(doc.Phases)-1]
	if last["name"] != phaseMTMulti || last["verdict"] != "miss" || last["ratio_to"] != "single_tenant" || doc.Phases[len(doc.Phases)-2]["name"] != phaseMTSingle {
		t.Errorf("last phases %v, %v", doc.Phases[len(doc.Phases)-2]["name"], last)
	}
	for k, want := range map[string]any{
		"tenants": 10000.0, "active_tenants": 1000.0, "startup_seconds": 5.61, "server_startup_seconds": 5.44, "server_tenants": 10000.0,
		"rss_after_startup_mib": 208.0, "rss_at_end_mib": 350.5, "peak_rss_mib": 420.0, "p99_ratio": 1.25, "target_p99_ratio": 1.5,
		"target_rss_mib": 512.0, "verdict": "miss", "accounts": 1999.0, "setup_seconds": 61.0, "spill": 0.0, "setup_server_cpu_seconds": 140.5,
	} {
		if got := doc.Multitenant[k]; got != want {
			t.Errorf("multitenant.%s = %v, want %v", k, got, want)
		}
	}
	if fp, _ := doc.Multitenant["first_pass_multi"].(map[string]any); fp["seconds"] != 60.0 || fp["errors_total"] != 2.0 {
		t.Errorf("multitenant.first_pass_multi = %v", doc.Multitenant["first_pass_multi"])
	}
	if misses, _ := doc.Multitenant["misses"].([]any); len(misses) != 1 || misses[0] != "errors" {
		t.Errorf("multitenant.misses = %v, want [errors]: the first pass's timeouts", doc.Multitenant["misses"])
	}
	if _, ok := doc.Multitenant["skipped"]; ok {
		t.Error("multitenant.skipped is set for a phase that ran")
	}
}

func TestReportMultitenantSkipped(t *testing.T) {
	t.Parallel()
	rep := testReport()
	rep.Server.Mode, rep.Server.Pid = "url", 0
	rep.Multitenant = &MultitenantFigures{Skipped: "mode B: needs mode A"}
	var b bytes.Buffer
	rep.writeTable(&b)
	if out := b.String(); !strings.Contains(out, "multitenant: skipped: mode B: needs mode A") || !strings.Contains(out, "no server process id") {
		t.Errorf("table:\n%s", out)
	}
	b.Reset()
	if err := rep.writeJSON(&b); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Multitenant map[string]any `json:"multitenant"`
	}
	if err := json.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Multitenant["skipped"] != "mode B: needs mode A" || doc.Multitenant["tenants"] != nil {
		t.Errorf("multitenant %v, want only skipped (and spill)", doc.Multitenant)
	}
}

func TestParseFlagsMultitenant(t *testing.T) {
	t.Parallel()
	var stderr bytes.Buffer
	o, err := parseFlags([]string{"-phases", "multitenant"}, &stderr)
	if err != nil {
		t.Fatal(err)
	}
	if o.MTTenants != 10_000 || o.MTActive != 1000 || o.MTWindow != time.Second || o.MTSettle != 250*time.Millisecond || o.MTSetupConcurrency != 32 {
		t.Errorf("defaults: tenants %d, active %d, window %s, settle %s, setup concurrency %d", o.MTTenants, o.MTActive, o.MTWindow, o.MTSettle, o.MTSetupConcurrency)
	}
	if o.Phases.needServer() || o.Phases.needUsers() || o.Phases.needHash() {
		t.Errorf("multitenant alone: server %t, users %t, hash %t; want none of the main server's", o.Phases.needServer(), o.Phases.needUsers(), o.Phases.needHash())
	}
	if all, _ := parsePhases("all"); !all.needServer() || !all[groupMultitenant] {
		t.Error("all: no main server, or no multitenant")
	}
	for _, bad := range [][]string{
		{"-mt-active", "0"},
		{"-mt-tenants", "10", "-mt-active", "11"},
		{"-mt-tenants", "0"},
		{"-mt-window", "0s"},
		{"-mt-settle", "-1s"},
		{"-mt-setup-concurrency", "0"},
	} {
		if _, err := parseFlags(bad, &stderr); err == nil {
			t.Errorf("parseFlags(%q) accepted", bad)
		}
	}
}

// fakeTenants answers GET /auth/v1/me with 200 when the bearer token is
// one of the Host's ("Bearer <host>/<n>"), else 401, and counts the
// requests by token.
type fakeTenants struct {
	mu    sync.Mutex
	seen  map[string]int
	delay time.Duration
}

func (f *fakeTenants) handle(ctx *fasthttp.RequestCtx) {
	time.Sleep(f.delay)
	auth := string(ctx.Request.Header.Peek(fasthttp.HeaderAuthorization))
	f.mu.Lock()
	f.seen[auth]++
	f.mu.Unlock()
	if string(ctx.Path()) != pathMe || !strings.HasPrefix(auth, "Bearer "+string(ctx.Host())+"/") {
		ctx.SetStatusCode(fasthttp.StatusUnauthorized)
		return
	}
	ctx.SetBodyString(`{"id":"x"}`)
}

func startFakeTenants(t *testing.T, f *fakeTenants) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &fasthttp.Server{Handler: f.handle}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Shutdown() })
	return ln.Addr().String()
}

// fakeTargets are the single kind's n tokens on one host and the multi
// kind's one on each of n hosts.
func fakeTargets(n int) [2][]mtTarget {
	var ts [2][]mtTarget
	for i := range n {
		ts[mtSingle] = append(ts[mtSingle], mtTarget{Host: "one.test", Auth: fmt.Sprintf("Bearer one.test/%d", i)})
		h := fmt.Sprintf("t%d.test", i)
		ts[mtMulti] = append(ts[mtMulti], mtTarget{Host: h, Auth: "Bearer " + h + "/0"})
	}
	return ts
}

func TestFirstPassSendsEachTokenOnce(t *testing.T) {
	t.Parallel()
	f := &fakeTenants{seen: map[string]int{}, delay: time.Millisecond}
	addr := startFakeTenants(t, f)
	ts := fakeTargets(25)
	bad := append(slices.Clone(ts[mtMulti][:3]), mtTarget{Host: "t1.test", Auth: "Bearer t2.test/0"}) // another tenant's token
	hc := newClient(addr, 4, 5*time.Second)
	defer hc.CloseIdleConnections()

	p := firstPass(t.Context(), hc, ts[mtMulti], 4, 5*time.Second, 0)
	if len(p.Sorted) != 25 || p.OK != 25 || p.Errors.Total() != 0 || p.Wall <= 0 {
		t.Errorf("pass: %d requests, %d ok, errors %v, wall %s; want 25, 25, none", len(p.Sorted), p.OK, p.Errors, p.Wall)
	}
	f.mu.Lock()
	for _, tg := range ts[mtMulti] {
		if f.seen[tg.Auth] != 1 {
			t.Errorf("%s sent %d times, want once", tg.Auth, f.seen[tg.Auth])
		}
	}
	f.mu.Unlock()
	if p.ServerKnown || p.figures().ServerCPUSeconds != nil {
		t.Errorf("server CPU known without a server process")
	}
	_, noProc := os.Stat("/proc/self/stat")
	q := firstPass(t.Context(), hc, bad, 8, 5*time.Second, os.Getpid()) // this process stands in for the server
	if fig := q.figures(); fig.Requests != 4 || fig.OK != 3 || fig.ErrorsTotal != 1 || fig.Errors["401"] != 1 || (noProc == nil) != (fig.ServerCPUSeconds != nil) {
		t.Errorf("pass with a wrong token: %+v", fig)
	}
}

func TestMTRunAgainstFake(t *testing.T) {
	t.Parallel()
	f := &fakeTenants{seen: map[string]int{}, delay: 2 * time.Millisecond}
	addr := startFakeTenants(t, f)
	r := &mtRun{addr: addr, timeout: 5 * time.Second, conc: 3, slices: 4, warmup: 30 * time.Millisecond,
		settle: 20 * time.Millisecond, window: 100 * time.Millisecond, targets: fakeTargets(7)}
	windows, records := r.run(t.Context())
	if len(windows) != 4 {
		t.Fatalf("%d windows, want 4", len(windows))
	}
	for k, w := range windows {
		if w.Kind != mtKindOf(k) || w.From.Sub(w.Switch) < r.settle || w.End.Sub(w.From) < r.window || w.ServerKnown {
			t.Errorf("window %d: %+v", k, w)
		}
	}
	tally := tallyMT(windows, records)
	for _, k := range []mtKind{mtSingle, mtMulti} {
		if kt := tally.Kinds[k]; kt.Windows != 2 || kt.OK == 0 || kt.Requests != kt.OK || kt.Errors.Total() != 0 || kt.ServerKnown {
			t.Errorf("%s: %d windows, %d requests, %d ok, errors %v, server known %t", k, kt.Windows, kt.Requests, kt.OK, kt.Errors, kt.ServerKnown)
		}
	}
	if tally.Spill != 0 || tally.Unrecorded.Total() != 0 {
		t.Errorf("spill %d, unrecorded %v; want none", tally.Spill, tally.Unrecorded)
	}
	// Both kinds went through all their tokens (the warm-up alone sends
	// both kinds), each to its own host.
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, ts := range fakeTargets(7) {
		for _, tg := range ts {
			if f.seen[tg.Auth] == 0 {
				t.Errorf("%s never sent", tg.Auth)
			}
		}
	}
}
