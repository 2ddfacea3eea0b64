package main

import (
	"bytes"
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestRenderTableAligns(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	renderTable(&b, []string{"phase", "req/s", "result"}, []bool{false, true, false}, [][]string{
		{"ceiling", "1234.5", "-"},
		{"/me Bearer ×", "12.0", "miss: p99"},
	})
	want := "" +
		"phase          req/s  result\n" +
		"------------  ------  ---------\n" +
		"ceiling       1234.5  -\n" +
		"/me Bearer ×    12.0  miss: p99\n"
	if got := b.String(); got != want {
		t.Errorf("table:\n%s\nwant:\n%s", got, want)
	}
}

func TestFmtDur(t *testing.T) {
	t.Parallel()
	tests := []struct {
		d    time.Duration
		want string
	}{
		{420 * time.Microsecond, "0.42ms"},
		{5318 * time.Microsecond, "5.32ms"},
		{72 * time.Millisecond, "72.0ms"},
		{244 * time.Millisecond, "244ms"},
		{1790 * time.Millisecond, "1.79s"},
	}
	for _, tt := range tests {
		if got := fmtDur(tt.d); got != tt.want {
			t.Errorf("fmtDur(%v) = %q, want %q", tt.d, got, tt.want)
		}
	}
}

// testSample is 1000 requests over 2 s: 990 answered 2xx with latencies
// 1..990 µs, 10 answered 503 with Retry-After after 2 s each.
func testSample() sample {
	s := sample{Wall: 2 * time.Second, OK: 990, Errors: errorCounts{class503RetryAfter: 10},
		GenCPU: time.Second, ServerCPU: 2 * time.Second, ServerKnown: true}
	for i := 1; i <= 990; i++ {
		s.Sorted = append(s.Sorted, time.Duration(i)*time.Microsecond)
	}
	for range 10 {
		s.Sorted = append(s.Sorted, 2*time.Second)
	}
	s.Requests = len(s.Sorted)
	return s
}

func TestPhaseFigures(t *testing.T) {
	t.Parallel()
	f := phaseFigures(phaseLoginHi, "login ×64", 64, 2, testSample())
	if f.RPS != 495 {
		t.Errorf("RPS = %v, want 495 (2xx answers per second)", f.RPS)
	}
	if f.P50MS != 0.5 || f.P99MS != 0.99 {
		t.Errorf("p50, p99 = %v, %v ms; want 0.5, 0.99", f.P50MS, f.P99MS)
	}
	if f.Requests != 1000 || f.OK != 990 || f.ErrorsTotal != 10 {
		t.Errorf("requests %d, ok %d, errors %d; want 1000, 990, 10", f.Requests, f.OK, f.ErrorsTotal)
	}
	if f.GenCPUShare != 0.25 || f.ServerCPUShare == nil || *f.ServerCPUShare != 0.5 {
		t.Errorf("gen share %v, server share %v; want 0.25, 0.5", f.GenCPUShare, f.ServerCPUShare)
	}
	if f.GenCPUPerRequestUS != 1000 || f.ServerCPUPerRequestUS == nil || *f.ServerCPUPerRequestUS != 2000 {
		t.Errorf("gen, server CPU per request %v, %v µs; want 1000, 2000", f.GenCPUPerRequestUS, f.ServerCPUPerRequestUS)
	}
	f.setRatio("hash_limit", 550)
	if f.Ratio == nil || *f.Ratio != 0.9 {
		t.Errorf("ratio = %v, want 0.9", f.Ratio)
	}
	f.setLoginCPU(testSample(), time.Millisecond)
	// 2 s of server CPU over 990 logins is 2.0202 ms each, 1.0202 beyond a 1 ms hash.
	if f.ServerCPUPerLoginMS == nil || *f.ServerCPUPerLoginMS != 2.02 || f.CPUBeyondHashMS == nil || *f.CPUBeyondHashMS != 1.02 {
		t.Errorf("cpu per login %v, beyond hash %v; want 2.02, 1.02", f.ServerCPUPerLoginMS, f.CPUBeyondHashMS)
	}
	f.judgeLogin()
	if f.Verdict != "pass" {
		t.Errorf("verdict %q (misses %v), want pass: 503+Retry-After is allowed", f.Verdict, f.Misses)
	}

	unknown := phaseFigures(phaseLoginHi, "login ×64", 64, 2, sample{Wall: time.Second, OK: 1})
	if unknown.ServerCPUShare != nil || unknown.ServerCPUSeconds != nil {
		t.Error("server CPU figures without a known server process")
	}
	unknown.setLoginCPU(sample{Wall: time.Second, OK: 1}, time.Millisecond)
	if unknown.CPUBeyondHashMS != nil {
		t.Error("CPU per login without a known server process")
	}
}

func TestJudge(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		f           PhaseFigures
		judge       func(*PhaseFigures)
		verdict     string
		misses      []string
		targetHints []string
	}{
		{
			name:  "bearer passes",
			f:     PhaseFigures{Ratio: ptr(0.36), P99MS: 9.9, Errors: map[string]int{}},
			judge: (*PhaseFigures).judgeBearer, verdict: "pass",
			targetHints: []string{"35%", "10ms"},
		},
		{
			name:  "bearer too slow at p99 and below the ratio",
			f:     PhaseFigures{Ratio: ptr(0.349), P99MS: 10, Errors: map[string]int{}},
			judge: (*PhaseFigures).judgeBearer, verdict: "miss", misses: []string{"ratio", "p99"},
		},
		{
			name:  "bearer with errors misses",
			f:     PhaseFigures{Ratio: ptr(0.5), P99MS: 1, Errors: map[string]int{"401": 1}, ErrorsTotal: 1},
			judge: (*PhaseFigures).judgeBearer, verdict: "miss", misses: []string{"errors"},
		},
		{
			name:  "login passes at the bounds",
			f:     PhaseFigures{Ratio: ptr(0.9), CPUBeyondHashMS: ptr(2.0), Errors: map[string]int{class503RetryAfter: 3}},
			judge: (*PhaseFigures).judgeLogin, verdict: "pass",
			targetHints: []string{"90%", "2ms"},
		},
		{
			name:  "login misses on CPU and on a 500",
			f:     PhaseFigures{Ratio: ptr(0.95), CPUBeyondHashMS: ptr(2.01), Errors: map[string]int{"500": 1}},
			judge: (*PhaseFigures).judgeLogin, verdict: "miss", misses: []string{"cpu", "errors"},
		},
		{
			name:  "login without server CPU is unknown",
			f:     PhaseFigures{Ratio: ptr(0.95), Errors: map[string]int{}},
			judge: (*PhaseFigures).judgeLogin, verdict: "unknown", misses: []string{"cpu"},
		},
		{
			name:  "a known miss outweighs an unknown",
			f:     PhaseFigures{Ratio: ptr(0.5), Errors: map[string]int{}},
			judge: (*PhaseFigures).judgeLogin, verdict: "miss", misses: []string{"ratio"},
		},
		{
			name:  "storm passes with only 503+Retry-After",
			f:     PhaseFigures{PeakRSSMiB: ptr(256.0), Errors: map[string]int{class503RetryAfter: 900}},
			judge: (*PhaseFigures).judgeStorm, verdict: "pass",
			targetHints: []string{"256 MiB"},
		},
		{
			name:  "storm misses on memory and a bare 503",
			f:     PhaseFigures{PeakRSSMiB: ptr(256.1), Errors: map[string]int{"503": 1}},
			judge: (*PhaseFigures).judgeStorm, verdict: "miss", misses: []string{"rss", "errors"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := tt.f
			tt.judge(&f)
			if f.Verdict != tt.verdict || !slices.Equal(f.Misses, tt.misses) {
				t.Errorf("verdict %q, misses %v; want %q, %v", f.Verdict, f.Misses, tt.verdict, tt.misses)
			}
			for _, h := range tt.targetHints {
				if !strings.Contains(f.Target, h) {
					t.Errorf("target %q does not mention %q", f.Target, h)
				}
			}
		})
	}
}

func testReport() *Report {
	ceiling := phaseFigures(phaseCeiling, "ceiling (bare Fiber)", 64, 2, sample{Wall: time.Second, OK: 1000, Sorted: durations(1, 2), Requests: 2})
	ceiling.setRatio("ceiling", ceiling.RPS)
	bearer := phaseFigures(phaseBearer, "/me Bearer", 64, 2, sample{Wall: time.Second, OK: 300, Sorted: durations(1, 2), Requests: 2, Errors: errorCounts{"401": 2}})
	bearer.setRatio("ceiling", ceiling.RPS)
	bearer.judgeBearer()
	login := phaseFigures(phaseLoginLow, "login ×4", 4, 2, testSample())
	login.setRatio("hash_limit", 100)
	login.setLoginCPU(testSample(), time.Millisecond)
	login.judgeLogin()
	storm := phaseFigures(phaseStorm, "login storm ×256", 256, 2, testSample())
	storm.PeakRSSMiB, storm.BaselineRSSMiB = ptr(200.0), ptr(150.0)
	storm.judgeStorm()
	return &Report{
		Schema:  reportSchema,
		Date:    time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		Machine: Machine{Cores: 2, GOMAXPROCS: 2, GoVersion: "go1.26", OS: "linux", Arch: "amd64", ClockTicks: clockTicks},
		Server:  ServerInfo{Mode: "spawned", URL: "http://127.0.0.1:1", TenantHost: "bench.localhost", Pid: 42},
		Hash: HashFigures{Algorithm: "argon2id", MemoryKiB: 19456, Iterations: 2, Parallelism: 1, UsableCores: 2,
			Samples: 20, MedianMS: 16, MinMS: 15, MaxMS: 30, CPUMS: 15.5, SingleLimitPerSecond: 125,
			ParallelWorkers: 2, ParallelHashes: 40, ParallelMedianMS: 20, ParallelCPUMS: 1, LimitPerSecond: 100, ParallelScaling: 0.8},
		Phases: []PhaseFigures{ceiling, bearer, login, storm},
	}
}

func TestReportJSONShape(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	if err := testReport().writeJSON(&b); err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, b.String())
	}
	wantTop := []string{"date", "hash", "machine", "phases", "schema", "server", "settings", "setup", "total_seconds"}
	if got := slices.Sorted(maps.Keys(doc)); !slices.Equal(got, wantTop) {
		t.Errorf("top-level keys %v, want %v", got, wantTop)
	}
	if doc["schema"] != reportSchema || doc["date"] != "2026-01-02T03:04:05Z" {
		t.Errorf("schema %v, date %v", doc["schema"], doc["date"])
	}
	machine := doc["machine"].(map[string]any)
	for _, k := range []string{"cores", "go_version", "clock_ticks_per_second"} {
		if _, ok := machine[k]; !ok {
			t.Errorf("machine lacks %q", k)
		}
	}
	hash := doc["hash"].(map[string]any)
	for _, k := range []string{"median_ms", "cpu_ms", "single_limit_per_second", "parallel_workers", "parallel_hashes",
		"parallel_median_ms", "parallel_cpu_ms", "limit_per_second", "parallel_scaling", "usable_cores", "memory_kib", "iterations", "parallelism"} {
		if _, ok := hash[k]; !ok {
			t.Errorf("hash lacks %q", k)
		}
	}
	phases := doc["phases"].([]any)
	if len(phases) != 4 {
		t.Fatalf("%d phases, want 4", len(phases))
	}
	// Every phase has these, null when unknown, so that runs compare
	// column by column.
	always := []string{"name", "label", "concurrency", "seconds", "requests", "ok", "rps", "p50_ms", "p99_ms",
		"errors", "errors_total", "ratio", "gen_cpu_share", "gen_cpu_us_per_request",
		"server_cpu_share", "server_cpu_seconds", "server_cpu_us_per_request"}
	for i, p := range phases {
		pm := p.(map[string]any)
		for _, k := range always {
			if _, ok := pm[k]; !ok {
				t.Errorf("phase %d (%v) lacks %q", i, pm["name"], k)
			}
		}
	}
	bearer := phases[1].(map[string]any)
	if bearer["ratio"] != 0.3 || bearer["ratio_to"] != "ceiling" || bearer["verdict"] != "miss" {
		t.Errorf("bearer ratio %v to %v, verdict %v; want 0.3 to ceiling, miss", bearer["ratio"], bearer["ratio_to"], bearer["verdict"])
	}
	if errs := bearer["errors"].(map[string]any); errs["401"] != 2.0 {
		t.Errorf("bearer errors %v, want {401: 2}", errs)
	}
	login := phases[2].(map[string]any)
	if login["cpu_per_login_beyond_hash_ms"] != 1.02 || login["ratio_to"] != "hash_limit" {
		t.Errorf("login cpu beyond hash %v, ratio to %v", login["cpu_per_login_beyond_hash_ms"], login["ratio_to"])
	}
	if storm := phases[3].(map[string]any); storm["peak_rss_mib"] != 200.0 || storm["verdict"] != "pass" {
		t.Errorf("storm peak %v, verdict %v", storm["peak_rss_mib"], storm["verdict"])
	}
	if strings.Contains(b.String(), `\u003c`) {
		t.Error("JSON escapes < in targets; it should stay readable")
	}
}

func TestReportTable(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	testReport().writeTable(&b)
	out := b.String()
	lines := strings.Split(out, "\n")
	if !strings.HasPrefix(lines[0], "phase") || !strings.Contains(lines[0], "gen CPU") || !strings.Contains(lines[0], "srv CPU") {
		t.Errorf("header %q", lines[0])
	}
	for _, want := range []string{
		"ceiling (bare Fiber)", "(ref)",
		"30.0% ceiling", "miss: ratio,errors",
		"495.0% limit",
		"login storm ×256",
		"alone: median of 20 = 16.0ms (min 15.0ms, max 30.0ms), 15.5ms CPU each → 2 cores ÷ 16.0ms = 125.0/s",
		"2 at once: 40 hashes, median 20.0ms each, 1.00ms CPU each → 100.0/s (80% of the single-hash figure)",
		"limit:  100.0 logins/s, the rate of 2 hashes at once; login ratios are of it",
		"login ×4: 2.02ms server CPU per login, 1.02ms beyond the 1.00ms of a hash",
		"peak 200.0 MiB (150.0 MiB before)",
		"errors: /me Bearer: 401 2",
		"errors: login storm ×256: 503+Retry-After 10",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	// The first data rows line up under the header's columns.
	col := len([]rune(lines[0][:strings.Index(lines[0], "req/s")])) + len("req/s")
	for _, l := range lines[2:6] {
		r := []rune(l)
		if len(r) <= col || r[col-1] == ' ' || r[col] != ' ' {
			t.Errorf("req/s not right-aligned to column %d in %q", col, l)
		}
	}
}

// testSMSPhase is an SMS phase of 400 logins answered within its 4 s and
// 4 s of server CPU in them: 10 ms per login.
func testSMSPhase() PhaseFigures {
	from := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	s := sample{Wall: 5 * time.Second, OK: 420, Sorted: durations(1, 2), Requests: 2, Errors: errorCounts{},
		ServerCPU: 5 * time.Second, ServerKnown: true, From: from, End: from.Add(4 * time.Second), ServerCPUWindow: 4 * time.Second}
	f := phaseFigures(phaseSMS, "sms login ×64", 64, 2, s)
	f.setSMS(s, 400, 450, 1400, 500, false)
	f.ServerProfiled = true
	return f
}

func TestReportSMSCPUSplit(t *testing.T) {
	t.Parallel()
	f := testSMSPhase()
	f.setCPUSplit(cpuSplit{
		CPU:     [numCPUClasses]time.Duration{classStore: 5 * time.Second, classRedis: 1600 * time.Millisecond, classRuntime: time.Second, classPortcullis: 2400 * time.Millisecond},
		Samples: 1000, Duration: 4 * time.Second,
	})
	f.judgeSMS()
	rep := testReport()
	rep.Phases = append(rep.Phases, f)

	var b bytes.Buffer
	rep.writeTable(&b)
	out := b.String()
	for _, want := range []string{
		"cpu:    sms login ×64: 10.0ms server CPU per complete login (send, outbox reads, verify), over the 400 logins answered\n" +
			"        within the phase's 4.0s (100.0/s); 3.11 requests per login, 1.11 of them outbox reads\n" +
			"        of the 10.0ms: store stand-in 5.00ms, redis stand-in 1.60ms, GC and runtime 1.00ms, Portcullis 2.40ms (shares of the profiled samples applied to the measured total)\n",
		"note:   sms login ×64: the split is of the phase's CPU profile (1000 samples, 10.0s of CPU over 4.0s), which covers nearly the same\n        interval as the /proc figure",
		"note:   the server ran with its CPU profiler on during sms login ×64; its overhead is small and counts in those phases' figures\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	// The verdict stays on the total.
	if f.Verdict != "miss" || !slices.Equal(f.Misses, []string{"cpu"}) {
		t.Errorf("verdict %q, misses %v; want a miss on cpu (10 ms > 2 ms) whatever the split", f.Verdict, f.Misses)
	}

	b.Reset()
	if err := rep.writeJSON(&b); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Phases []map[string]any `json:"phases"`
	}
	if err := json.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	sms := doc.Phases[len(doc.Phases)-1]
	if sms["server_cpu_per_login_ms"] != 10.0 || sms["server_profiled"] != true {
		t.Errorf("sms phase: cpu per login %v, profiled %v", sms["server_cpu_per_login_ms"], sms["server_profiled"])
	}
	split, _ := sms["server_cpu_per_login_split"].(map[string]any)
	for k, v := range map[string]float64{
		"store_stand_in_ms": 5, "redis_stand_in_ms": 1.6, "gc_runtime_ms": 1, "portcullis_ms": 2.4,
		"profile_samples": 1000, "profile_cpu_seconds": 10, "profile_seconds": 4,
	} {
		if split[k] != v {
			t.Errorf("server_cpu_per_login_split.%s = %v, want %v (split %v)", k, split[k], v, split)
		}
	}
	if _, ok := doc.Phases[0]["server_cpu_per_login_split"]; ok {
		t.Error("the ceiling has a CPU split")
	}
}

func TestReportSMSWithoutSplit(t *testing.T) {
	t.Parallel()
	f := testSMSPhase()
	f.setCPUSplit(cpuSplit{}) // an empty profile
	if f.ServerCPUSplit != nil {
		t.Errorf("split of an empty profile: %+v", f.ServerCPUSplit)
	}
	unknown := phaseFigures(phaseSMS, "sms login ×64", 64, 2, sample{Wall: time.Second})
	unknown.setCPUSplit(cpuSplit{CPU: [numCPUClasses]time.Duration{classStore: time.Second}, Samples: 100})
	if unknown.ServerCPUSplit != nil {
		t.Error("a split without a measured total")
	}
	rep := testReport()
	rep.Phases = append(rep.Phases, f)
	var b bytes.Buffer
	rep.writeTable(&b)
	if out := b.String(); strings.Contains(out, "store stand-in") || !strings.Contains(out, "10.0ms server CPU per complete login") {
		t.Errorf("table without a split:\n%s", out)
	}
}
