package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"
	"time"
	"unicode/utf8"
)

// The targets of the load-harness issue. They are goals for the server; the
// report says "miss" when a run does not reach them.
const (
	targetMeRatio       = 0.35                  // /me Bearer: at least this share of the bare ceiling
	targetMeP99         = 10 * time.Millisecond // /me Bearer: p99 below this
	targetLoginRatio    = 0.90                  // logins: at least this share of the hash-bound limit
	targetLoginExtraCPU = 2 * time.Millisecond  // logins: at most this much server CPU per login beyond the hash
	targetStormRSS      = 256 << 20             // storm: peak RSS at most this many bytes
	targetSMSCPU        = 2 * time.Millisecond  // SMS logins: at most this much server CPU per complete login
	targetMergeCPU      = 1 * time.Millisecond  // storefront: the cart merge adds at most this much server CPU per login
)

// Phase names, as they appear in the JSON file.
const (
	phaseCeiling  = "ceiling"
	phaseBearer   = "me_bearer"
	phaseToken    = "me_token"
	phaseCookie   = "me_cookie"
	phaseLoginLow = "login_2x_cores"
	phaseLoginHi  = "login_64"
	phaseSMS      = "sms_login"
	phaseStorm    = "login_storm"
	phaseSFPlain  = "storefront_login"      // storefront phase: logins without a local cart
	phaseSFCart   = "storefront_login_cart" // storefront phase: logins with a local cart and wishlist
)

// reportSchema names the JSON file's shape; change it when the shape
// changes, so that comparisons across runs know what they read.
const reportSchema = "portcullis-load/6"

// Report is the JSON file: every figure of the table and the facts of the
// machine and run that produced them.
type Report struct {
	Schema   string         `json:"schema"`
	Date     time.Time      `json:"date"`
	Machine  Machine        `json:"machine"`
	Server   ServerInfo     `json:"server"`
	Settings Settings       `json:"settings"`
	Setup    SetupFigures   `json:"setup"`
	Hash     HashFigures    `json:"hash"`
	Phases   []PhaseFigures `json:"phases"`
	// Storefront compares the storefront phase's two kinds of login
	// (phases storefront_login and storefront_login_cart); absent when the
	// phase did not run.
	Storefront *StorefrontFigures `json:"storefront,omitempty"`
	// Multitenant describes the multi-tenant phase's server and compares
	// its two kinds of /me (phases single_tenant_me and multitenant_me);
	// absent when the phase was not asked for, and only "skipped" when it
	// could not run.
	Multitenant *MultitenantFigures `json:"multitenant,omitempty"`
	// TotalSeconds is the wall time of the whole run, start-up included.
	TotalSeconds float64 `json:"total_seconds"`
}

// Machine describes where the run happened.
type Machine struct {
	Cores      int    `json:"cores"` // runtime.NumCPU(): the usable cores of the hash-bound limit
	GOMAXPROCS int    `json:"gomaxprocs"`
	GoVersion  string `json:"go_version"`
	OS         string `json:"os"`
	Arch       string `json:"arch"`
	// ClockTicks is the unit of the server CPU times read from /proc.
	ClockTicks int `json:"clock_ticks_per_second"`
}

// ServerInfo describes the server under load.
type ServerInfo struct {
	Mode       string `json:"mode"` // "spawned" (mode A) or "url" (mode B)
	URL        string `json:"url"`
	TenantHost string `json:"tenant_host"`
	Binary     string `json:"binary,omitempty"`
	Pid        int    `json:"pid,omitempty"` // 0: unknown, no CPU or memory figures
	LogLevel   string `json:"log_level,omitempty"`
}

// Settings are the command's parameters for the run.
type Settings struct {
	// Phases are the groups of phases run (-phases).
	Phases           []string `json:"phases"`
	Users            int      `json:"users"`
	Concurrency      int      `json:"concurrency"`
	StormConcurrency int      `json:"storm_concurrency"`
	MeSeconds        float64  `json:"me_seconds"`
	LoginSeconds     float64  `json:"login_seconds"`
	StormSeconds     float64  `json:"storm_seconds"`
	SMSSeconds       float64  `json:"sms_seconds"`
	// SMSRate is the expected SMS logins per second the SMS accounts were
	// registered for (-sms-rate); 0: no SMS phase.
	SMSRate        float64 `json:"sms_expected_rate"`
	WarmupSeconds  float64 `json:"warmup_seconds"`
	TimeoutSeconds float64 `json:"request_timeout_seconds"`
}

// SetupFigures describe the setup.
type SetupFigures struct {
	Users   int     `json:"users"`
	Seconds float64 `json:"seconds"`
	// SMSUsers accounts with a phone number each were registered for the
	// SMS phase in SMSSeconds (one SMS login checked included).
	SMSUsers   int     `json:"sms_users,omitempty"`
	SMSSeconds float64 `json:"sms_seconds,omitempty"`
}

// HashFigures are the measured hash costs and the hash-bound limit: the
// rate of as many hashes at once as there are usable cores, measured in
// this process in the same run, beside what one hash alone would predict.
type HashFigures struct {
	Algorithm   string `json:"algorithm"`
	MemoryKiB   uint32 `json:"memory_kib"`
	Iterations  uint32 `json:"iterations"`
	Parallelism uint8  `json:"parallelism"`
	UsableCores int    `json:"usable_cores"`
	// One hash alone: wall times of Samples hashes in a row, and this
	// process's CPU time per hash over them.
	Samples  int     `json:"samples"`
	MedianMS float64 `json:"median_ms"`
	MinMS    float64 `json:"min_ms"`
	MaxMS    float64 `json:"max_ms"`
	CPUMS    float64 `json:"cpu_ms"`
	// SingleLimitPerSecond is usable cores ÷ MedianMS: the limit if hashes
	// running together did not slow each other down.
	SingleLimitPerSecond float64 `json:"single_limit_per_second"`
	// ParallelWorkers hash ParallelHashes in all, at once: the median wall
	// time of one, this process's CPU time per hash, and the rate.
	ParallelWorkers  int     `json:"parallel_workers"`
	ParallelHashes   int     `json:"parallel_hashes"`
	ParallelMedianMS float64 `json:"parallel_median_ms"`
	ParallelCPUMS    float64 `json:"parallel_cpu_ms"`
	// LimitPerSecond is the measured parallel rate, the hash-bound limit
	// the login phases' ratios are of; ParallelScaling is it over
	// SingleLimitPerSecond.
	LimitPerSecond  float64 `json:"limit_per_second"`
	ParallelScaling float64 `json:"parallel_scaling"`
}

// hashFigures reports the two hash measurements.
func hashFigures(cores int, one hashTiming, par hashRate) HashFigures {
	single := singleHashLimit(cores, one.Median)
	f := HashFigures{
		Algorithm: "argon2id", MemoryKiB: one.Params.MemoryKiB, Iterations: one.Params.Iterations, Parallelism: one.Params.Parallelism,
		UsableCores: cores,
		Samples:     len(one.Samples), MedianMS: round(ms(one.Median), 3), MinMS: round(ms(one.Min), 3), MaxMS: round(ms(one.Max), 3),
		CPUMS: round(ms(one.CPU), 3), SingleLimitPerSecond: round(single, 2),
		ParallelWorkers: par.Workers, ParallelHashes: par.Hashes, ParallelMedianMS: round(ms(par.Median), 3), ParallelCPUMS: round(ms(par.CPU), 3),
		LimitPerSecond: round(par.PerSecond, 2),
	}
	if single > 0 {
		f.ParallelScaling = round(par.PerSecond/single, 4)
	}
	return f
}

// PhaseFigures are one phase's figures.
type PhaseFigures struct {
	Name        string  `json:"name"`
	Label       string  `json:"label"`
	Concurrency int     `json:"concurrency"`
	Seconds     float64 `json:"seconds"`  // measured wall time
	Requests    int     `json:"requests"` // recorded, answered or not
	OK          int     `json:"ok"`       // answered 2xx
	// RPS is 2xx answers per second.
	RPS   float64 `json:"rps"`
	P50MS float64 `json:"p50_ms"`
	P99MS float64 `json:"p99_ms"`
	// Errors counts failed requests by status ("401", "503+Retry-After")
	// or transport failure ("transport:timeout").
	Errors      map[string]int `json:"errors"`
	ErrorsTotal int            `json:"errors_total"`
	// Ratio is RPS over RatioTo's figure ("ceiling": the bare ceiling's
	// RPS; "hash_limit": the hash-bound limit, the measured rate of as
	// many hashes at once as cores; "single_tenant": the multi-tenant
	// phase's single-tenant /me's RPS); null when there is none.
	Ratio   *float64 `json:"ratio"`
	RatioTo string   `json:"ratio_to,omitempty"`
	Target  string   `json:"target,omitempty"`
	// Verdict is "pass", "miss", "unknown" (a figure the target needs could
	// not be measured) or "" (no target); Misses names what missed.
	Verdict string   `json:"verdict,omitempty"`
	Misses  []string `json:"misses,omitempty"`
	// GenCPUShare is this command's CPU time ÷ (wall × cores), and
	// GenCPUPerRequestUS that CPU time ÷ recorded requests.
	GenCPUShare        float64 `json:"gen_cpu_share"`
	GenCPUPerRequestUS float64 `json:"gen_cpu_us_per_request"`
	// ServerCPUShare is the server's (for the ceiling: the bare server's)
	// CPU time ÷ (wall × cores); ServerCPUSeconds that CPU time.
	ServerCPUShare        *float64 `json:"server_cpu_share"`
	ServerCPUSeconds      *float64 `json:"server_cpu_seconds"`
	ServerCPUPerRequestUS *float64 `json:"server_cpu_us_per_request"`
	// ServerCPUPerLoginMS is server CPU ÷ successful logins, and
	// CPUBeyondHashMS that minus the CPU of one hash measured with as many
	// at once as cores, as the server hashes under login load (login
	// phases).
	ServerCPUPerLoginMS *float64 `json:"server_cpu_per_login_ms,omitempty"`
	CPUBeyondHashMS     *float64 `json:"cpu_per_login_beyond_hash_ms,omitempty"`
	// SMS phase: each recorded request is a complete login (send, outbox
	// reads, verify); RequestsPerLogin and OutboxReadsPerLogin are the
	// HTTP requests and dev-outbox reads per login begun (warm-up
	// included), and SMSNumbersRanOut says the phase ended early because
	// every registered number had been used. A login takes seconds there,
	// so the CPU is taken over the phase's time (without the answers after
	// it): SMSLoginsInWindow logins were answered within it
	// (SMSWindowRate per second), and ServerCPUPerLoginMS is the server
	// CPU within it ÷ them.
	SMSLoginsInWindow   int      `json:"sms_logins_in_window,omitempty"`
	SMSWindowSeconds    float64  `json:"sms_window_seconds,omitempty"`
	SMSWindowRate       float64  `json:"sms_logins_per_second_in_window,omitempty"`
	RequestsPerLogin    *float64 `json:"requests_per_login,omitempty"`
	OutboxReadsPerLogin *float64 `json:"outbox_reads_per_login,omitempty"`
	SMSNumbersRanOut    bool     `json:"sms_numbers_ran_out,omitempty"`
	// ServerProfiled says the server's CPU profiler ran during the phase
	// (the SMS phase of mode A always, the others with -profile): its
	// small overhead is in the phase's server CPU.
	ServerProfiled bool `json:"server_profiled,omitempty"`
	// ServerCPUSplit divides ServerCPUPerLoginMS by where the server spent
	// it (SMS phase, mode A), from the phase's CPU profile.
	ServerCPUSplit *CPUSplitFigures `json:"server_cpu_per_login_split,omitempty"`
	// PeakRSSMiB is the server's peak VmRSS, sampled every 10 ms (storm),
	// and BaselineRSSMiB its VmRSS just before.
	PeakRSSMiB     *float64 `json:"peak_rss_mib,omitempty"`
	BaselineRSSMiB *float64 `json:"baseline_rss_mib,omitempty"`
}

// CPUSplitFigures divide a measured server CPU per login among the
// classes of a CPU profile of the same phase: each is the class's share of
// the profile's CPU samples times the figure read from /proc, which covers
// nearly the same interval. On the embedded defaults the server process
// also runs the stand-ins of MongoDB and Redis, which a deployment runs as
// separate servers: there the server's CPU per login is about PortcullisMS
// plus what of GCRuntimeMS its own allocations cause.
type CPUSplitFigures struct {
	StoreStandInMS float64 `json:"store_stand_in_ms"` // FerretDB on SQLite
	RedisStandInMS float64 `json:"redis_stand_in_ms"` // miniredis
	// GCRuntimeMS is the samples with no frame outside the Go runtime:
	// the GC's background workers, sweeping, scavenging, the scheduler,
	// for the whole process. GC assists run on the goroutine that
	// allocates and count in its class.
	GCRuntimeMS  float64 `json:"gc_runtime_ms"`
	PortcullisMS float64 `json:"portcullis_ms"` // the rest: request handling, database clients, background loops
	// The profile the shares are of: its samples, their CPU time, and
	// its length.
	ProfileSamples    int     `json:"profile_samples"`
	ProfileCPUSeconds float64 `json:"profile_cpu_seconds"`
	ProfileSeconds    float64 `json:"profile_seconds"`
}

// StorefrontFigures describe the storefront phase and compare its two
// kinds of login, measured side by side on one storefront tenant: plain
// (no local cart) and cart (a local cart and wishlist to merge). Their
// figures are the phases storefront_login and storefront_login_cart, taken
// over the slices' recorded windows only.
type StorefrontFigures struct {
	TenantHost  string `json:"tenant_host"`
	Concurrency int    `json:"concurrency"`
	// SlicesPerKind slices of each kind ran in Order, each a switch (every
	// worker's login of the other kind answered, full carts emptied), a
	// settling time of SettleSeconds, and a recorded window of
	// WindowSeconds. The unrecorded gap from a switch to its window's
	// opening lasted MeanGapSeconds on average, MaxGapSeconds at most.
	SlicesPerKind  int     `json:"slices_per_kind"`
	Order          string  `json:"order"`
	SettleSeconds  float64 `json:"settle_seconds"`
	WindowSeconds  float64 `json:"window_seconds"`
	MeanGapSeconds float64 `json:"mean_gap_seconds"`
	MaxGapSeconds  float64 `json:"max_gap_seconds"`
	// Users accounts, UsersPerWorker for each worker, each emptied after
	// Cycle cart logins; each cart login sends CartLines lines and
	// WishlistItems items new to the user's cart and wishlist.
	Users          int `json:"users"`
	UsersPerWorker int `json:"users_per_worker"`
	Cycle          int `json:"cart_logins_between_resets"`
	CartLines      int `json:"cart_lines_per_login"`
	WishlistItems  int `json:"wishlist_items_per_login"`
	// Case says in words what a measured cart login merges into.
	Case string `json:"case"`
	// MeanLinesBefore is the mean size of the carts the recorded cart
	// logins merged into; MaxStoredLines bounds the cart lines stored for
	// all the phase's users at once (the embedded store scans them to find
	// one user's).
	MeanLinesBefore *float64 `json:"mean_cart_lines_before_merge"`
	MaxStoredLines  int      `json:"max_cart_lines_stored"`
	// Resets users were emptied in the gaps; ResetErrors counts the failed
	// PUTs by class.
	Resets      int            `json:"resets"`
	ResetErrors map[string]int `json:"reset_errors"`
	// UnrecordedErrors counts the failed logins answered outside the
	// windows (in a gap, or after the last), by class: every login is
	// checked, recorded or not.
	UnrecordedErrors map[string]int `json:"unrecorded_errors"`
	// Spill counts requests answered inside a window that were not its
	// kind of login (the other kind's, resets): their CPU is partly in the
	// window, so the gap was too short for them.
	Spill int `json:"spill"`
	// PlainInFlight and CartInFlight are the mean logins of each kind in
	// flight during its windows: the concurrency the figures are of, below
	// Concurrency when workers waited for a user.
	PlainInFlight float64 `json:"plain_mean_in_flight"`
	CartInFlight  float64 `json:"cart_mean_in_flight"`
	// Exhausted counts the slices a worker spent without a user it could
	// log in (all full, unknown or retired), waiting; ResetFailures counts
	// the resets that failed (tried again at the next slice);
	// RetiredUsers were not used again: a login of theirs timed out or
	// answered merge_pending, so the server might still change their
	// carts, or three resets of theirs failed.
	Exhausted     int `json:"worker_slices_without_user"`
	ResetFailures int `json:"reset_failures"`
	RetiredUsers  int `json:"retired_users"`
	// PlainSliceCPUMS and CartSliceCPUMS are each window's server CPU per
	// successful login, in order.
	PlainSliceCPUMS []float64 `json:"plain_slice_cpu_per_login_ms"`
	CartSliceCPUMS  []float64 `json:"cart_slice_cpu_per_login_ms"`
	// MergeCPUMS is the cart logins' server CPU per login minus the plain
	// logins': what merging the local cart adds to a login (with reading
	// the longer request and writing the longer answer). MergeCPUStderrMS
	// is its standard error, from the spread of the slices' figures. Null
	// when not measured.
	MergeCPUMS       *float64 `json:"merge_cpu_ms"`
	MergeCPUStderrMS *float64 `json:"merge_cpu_ms_stderr"`
	// MergeCPUSplit divides MergeCPUMS as the two kinds' CPU splits
	// differ (mode A, from the windows' CPU profiles): the part of the
	// stand-ins is spent by MongoDB and Redis in a deployment.
	MergeCPUSplit *MergeSplitFigures `json:"merge_cpu_split,omitempty"`
	TargetMS      float64            `json:"target_ms"`
	// Verdict and Misses are the cart phase's: "pass" when MergeCPUMS is
	// within TargetMS and no login or reset failed (but with 503 +
	// Retry-After, as the login phases).
	Verdict string   `json:"verdict"`
	Misses  []string `json:"misses,omitempty"`
}

// MergeSplitFigures are the differences, cart logins minus plain logins,
// of the classes of their server CPU per login (CPUSplitFigures).
type MergeSplitFigures struct {
	StoreStandInMS float64 `json:"store_stand_in_ms"`
	RedisStandInMS float64 `json:"redis_stand_in_ms"`
	GCRuntimeMS    float64 `json:"gc_runtime_ms"`
	PortcullisMS   float64 `json:"portcullis_ms"`
}

// MultitenantFigures describe the multi-tenant phase: its server of Tenants
// tenant files, that server's start-up and memory, and the comparison of
// GET /auth/v1/me spread over ActiveTenants tenants (phase multitenant_me)
// with the same spread over one tenant's as many users (single_tenant_me),
// taken over the slices' recorded windows only.
type MultitenantFigures struct {
	// Skipped says why the phase did not run (mode B); the other figures
	// are then absent.
	Skipped string `json:"skipped,omitempty"`
	// Tenants tenant files, FirstTenant to LastTenant, FilesMiB in all,
	// written in WriteSeconds; ActiveTenants of them are spread over by
	// the multi kind, SingleTenant (the first active one) alone by the
	// single kind.
	Tenants       int     `json:"tenants,omitempty"`
	ActiveTenants int     `json:"active_tenants,omitempty"`
	FirstTenant   string  `json:"first_tenant,omitempty"`
	LastTenant    string  `json:"last_tenant,omitempty"`
	SingleTenant  string  `json:"single_tenant,omitempty"`
	FilesMiB      float64 `json:"files_mib,omitempty"`
	WriteSeconds  float64 `json:"write_files_seconds,omitempty"`
	// Pid is the phase's own server. StartupSeconds is the time from its
	// exec to the "listening" line read; ServerStartupSeconds and
	// ServerTenants are what that line says (its start-up from the start
	// of the serve command, the tenants loaded).
	Pid                  int     `json:"pid,omitempty"`
	StartupSeconds       float64 `json:"startup_seconds,omitempty"`
	ServerStartupSeconds float64 `json:"server_startup_seconds,omitempty"`
	ServerTenants        int     `json:"server_tenants,omitempty"`
	// The server's VmRSS once ready after start-up, after the setup, and
	// at the end of the slices, and its peak (VmHWM) then; null when
	// unreadable.
	RSSStartMiB *float64 `json:"rss_after_startup_mib,omitempty"`
	RSSSetupMiB *float64 `json:"rss_after_setup_mib,omitempty"`
	RSSEndMiB   *float64 `json:"rss_at_end_mib,omitempty"`
	PeakRSSMiB  *float64 `json:"peak_rss_mib,omitempty"`
	// Stores says where the server's stores ran: in a portcullis-devdb
	// process beside it (-mt-devdb), whose RSS at the end is StoresRSSMiB
	// (not judged), or inside it, and so in its RSS.
	Stores       string   `json:"stores,omitempty"`
	StoresRSSMiB *float64 `json:"stores_rss_at_end_mib,omitempty"`
	// Accounts were registered and logged in for a bearer token each (one
	// in each active tenant, the rest in the single tenant), SetupConcurrency
	// at once, in SetupSeconds; this built each active tenant's services.
	Accounts         int     `json:"accounts,omitempty"`
	SetupConcurrency int     `json:"setup_concurrency,omitempty"`
	SetupSeconds     float64 `json:"setup_seconds,omitempty"`
	// SetupServerCPUSeconds is the server's CPU time in the setup: two
	// password hashes per account and the builds of the active tenants'
	// services.
	SetupServerCPUSeconds *float64 `json:"setup_server_cpu_seconds,omitempty"`
	// FirstPassSingle and FirstPassMulti are the passes of one request
	// with each token of the kind, before the warm-up and the slices: each
	// token's first verification (which may read its tenant's signing keys
	// from the store) and each user's first read since the setup.
	FirstPassSingle *PassFigures `json:"first_pass_single,omitempty"`
	FirstPassMulti  *PassFigures `json:"first_pass_multi,omitempty"`
	// Concurrency workers ran SlicesPerKind slices of each kind in Order,
	// each a switch (every worker's request of the other kind answered), a
	// settling time of SettleSeconds and a recorded window of
	// WindowSeconds; the gap from a switch to its window lasted
	// MeanGapSeconds on average, MaxGapSeconds at most.
	Concurrency    int     `json:"concurrency,omitempty"`
	SlicesPerKind  int     `json:"slices_per_kind,omitempty"`
	Order          string  `json:"order,omitempty"`
	SettleSeconds  float64 `json:"settle_seconds,omitempty"`
	WindowSeconds  float64 `json:"window_seconds,omitempty"`
	MeanGapSeconds float64 `json:"mean_gap_seconds,omitempty"`
	MaxGapSeconds  float64 `json:"max_gap_seconds,omitempty"`
	// Spill counts requests of the other kind answered in a window;
	// UnrecordedErrors the failed requests answered outside the windows,
	// by class.
	Spill            int            `json:"spill"`
	UnrecordedErrors map[string]int `json:"unrecorded_errors,omitempty"`
	// P99Ratio is p99(multitenant_me) ÷ p99(single_tenant_me), against
	// TargetP99Ratio; the RSS after start-up and at the end must be below
	// TargetRSSMiB. Verdict and Misses are the multitenant_me phase's.
	P99Ratio       *float64 `json:"p99_ratio,omitempty"`
	TargetP99Ratio float64  `json:"target_p99_ratio,omitempty"`
	TargetRSSMiB   int      `json:"target_rss_mib,omitempty"`
	Verdict        string   `json:"verdict,omitempty"`
	Misses         []string `json:"misses,omitempty"`
}

// PassFigures describe a pass of one request with each of a kind's
// tokens.
type PassFigures struct {
	Requests    int            `json:"requests"`
	OK          int            `json:"ok"`
	Seconds     float64        `json:"seconds"`
	P50MS       float64        `json:"p50_ms"`
	P99MS       float64        `json:"p99_ms"`
	MaxMS       float64        `json:"max_ms"`
	Errors      map[string]int `json:"errors"`
	ErrorsTotal int            `json:"errors_total"`
	// ServerCPUSeconds is the server's CPU time in the pass, and
	// ServerCPUPerRequestMS that over its requests; null when unknown.
	ServerCPUSeconds      *float64 `json:"server_cpu_seconds"`
	ServerCPUPerRequestMS *float64 `json:"server_cpu_ms_per_request"`
}

// compare sets the ratio of multi's RPS to single's and of their p99s,
// and judges multi: p99 within TargetP99Ratio × single's, the server's
// RSS after start-up and at the end below TargetRSSMiB, and no failed
// request, in the windows, out of them or in the first passes.
func (m *MultitenantFigures) compare(single PhaseFigures, multi *PhaseFigures) {
	multi.setRatio("single_tenant", single.RPS)
	var p99OK, rssOK *bool
	if single.P99MS > 0 && multi.Requests > 0 {
		m.P99Ratio = ptr(round(multi.P99MS/single.P99MS, 3))
		p99OK = is(*m.P99Ratio <= m.TargetP99Ratio)
	}
	if m.RSSStartMiB != nil && m.RSSEndMiB != nil {
		rssOK = is(max(*m.RSSStartMiB, *m.RSSEndMiB) < float64(m.TargetRSSMiB))
	}
	failed := errorCounts(single.Errors).Total() + errorCounts(multi.Errors).Total() + errorCounts(m.UnrecordedErrors).Total()
	for _, p := range []*PassFigures{m.FirstPassSingle, m.FirstPassMulti} {
		if p != nil {
			failed += p.ErrorsTotal
		}
	}
	multi.judge(fmt.Sprintf("p99 ≤%.1f× single, RSS <%d MiB", m.TargetP99Ratio, m.TargetRSSMiB),
		check{"p99", p99OK},
		check{"rss", rssOK},
		check{"errors", is(failed == 0)})
	m.Verdict, m.Misses = multi.Verdict, multi.Misses
}

// writeTable prints the multi-tenant phase's server, setup, slices, RSS
// and p99 comparison beneath the table.
func (m *MultitenantFigures) writeTable(w io.Writer, phases []PhaseFigures) {
	if m.Skipped != "" {
		fmt.Fprintf(w, "multitenant: skipped: %s\n", m.Skipped)
		return
	}
	var single, multi *PhaseFigures
	for i := range phases {
		switch phases[i].Name {
		case phaseMTSingle:
			single = &phases[i]
		case phaseMTMulti:
			multi = &phases[i]
		}
	}
	fmt.Fprintf(w, "multitenant: %d tenant files (%s … %s, %.1f MiB, written in %.1fs), the bench tenant's settings, in a server of\n"+
		"        their own (pid %d): start-up %.2fs from exec to \"listening\" (the server's own figure %.2fs, %d tenants loaded)\n",
		m.Tenants, m.FirstTenant, m.LastTenant, m.FilesMiB, m.WriteSeconds, m.Pid, m.StartupSeconds, m.ServerStartupSeconds, m.ServerTenants)
	fmt.Fprintf(w, "setup:  %d accounts (one in each of %d active tenants, %d more in %s) registered and logged in for a bearer\n"+
		"        token, %d at once, in %.1fs (server CPU %ss: two password hashes per account, and the active tenants' builds)\n",
		m.Accounts, m.ActiveTenants, m.Accounts-m.ActiveTenants, m.SingleTenant, m.SetupConcurrency, m.SetupSeconds, fmtSeconds(m.SetupServerCPUSeconds))
	fmt.Fprintf(w, "slices: /me at concurrency %d, %d+%d slices in the order %s, each a switch, %.2fs of settling and a %.1fs window\n"+
		"        (gap from the switch to the window: mean %.2fs, at most %.2fs); the rows' figures are of the windows only\n",
		m.Concurrency, m.SlicesPerKind, m.SlicesPerKind, m.Order, m.SettleSeconds, m.WindowSeconds, m.MeanGapSeconds, m.MaxGapSeconds)
	for _, fp := range []struct {
		label string
		p     *PassFigures
	}{{"single-tenant", m.FirstPassSingle}, {"multitenant", m.FirstPassMulti}} {
		if fp.p == nil {
			continue
		}
		errs := ""
		if fp.p.ErrorsTotal > 0 {
			errs = " (" + errorCounts(fp.p.Errors).String() + ")"
		}
		cpu := ""
		if fp.p.ServerCPUPerRequestMS != nil {
			cpu = fmt.Sprintf(", server CPU %s per request", fmtDur(fromMS(*fp.p.ServerCPUPerRequestMS)))
		}
		fmt.Fprintf(w, "first:  %s me, one request with each of its %d tokens (their first verification, the users' first reads\n"+
			"        since the setup), %d at once: %.2fs, p50 %s, p99 %s, max %s%s, errors %d%s\n",
			fp.label, fp.p.Requests, min(m.Concurrency, fp.p.Requests), fp.p.Seconds, fmtDur(fromMS(fp.p.P50MS)), fmtDur(fromMS(fp.p.P99MS)), fmtDur(fromMS(fp.p.MaxMS)), cpu, fp.p.ErrorsTotal, errs)
	}
	rssOK := "unknown"
	if m.RSSStartMiB != nil && m.RSSEndMiB != nil {
		rssOK = "pass"
		if max(*m.RSSStartMiB, *m.RSSEndMiB) >= float64(m.TargetRSSMiB) {
			rssOK = "miss"
		}
	}
	fmt.Fprintf(w, "rss:    multitenant server: %s MiB after start-up, %s MiB after the setup (%d tenants built), %s MiB at the end\n"+
		"        (peak %s MiB); target <%d MiB after start-up and at the end: %s\n",
		fmtMiB(m.RSSStartMiB), fmtMiB(m.RSSSetupMiB), m.ActiveTenants, fmtMiB(m.RSSEndMiB), fmtMiB(m.PeakRSSMiB), m.TargetRSSMiB, rssOK)
	if m.Stores != "" {
		fmt.Fprintf(w, "        its stores: %s", m.Stores)
		if m.StoresRSSMiB != nil {
			fmt.Fprintf(w, " (RSS %s MiB at the end, not judged)", fmtMiB(m.StoresRSSMiB))
		}
		fmt.Fprintln(w)
	}
	if m.P99Ratio != nil && single != nil && multi != nil {
		p99OK := "pass"
		if *m.P99Ratio > m.TargetP99Ratio {
			p99OK = "miss"
		}
		fmt.Fprintf(w, "p99:    %s %s ÷ %s %s = %.2f× (target ≤%.1f×): %s\n",
			multi.Label, fmtDur(fromMS(multi.P99MS)), single.Label, fmtDur(fromMS(single.P99MS)), *m.P99Ratio, m.TargetP99Ratio, p99OK)
	} else {
		fmt.Fprintln(w, "p99:    multitenant: no p99 ratio (a kind had no request in its windows)")
	}
	if m.Spill > 0 {
		fmt.Fprintf(w, "note:   multitenant: %d requests of the other kind were answered inside a window, which the switch before each\n"+
			"        window should prevent: the figures are mixed\n", m.Spill)
	}
	if len(m.UnrecordedErrors) > 0 {
		fmt.Fprintf(w, "errors: multitenant requests answered outside the windows: %s\n", errorCounts(m.UnrecordedErrors))
	}
}

// sfCase says what a cart login of a phase with cycle cart logins between
// resets merges into.
func sfCase(cycle int) string {
	return fmt.Sprintf("each cart login merges %d new lines and %d new wishlist items into a cart of 0–%d lines and a wishlist of 0–%d items "+
		"(the k-th of a user's %d cart logins between resets into (k−1)×%d lines); plain logins log the same users in and read carts of the same sizes",
		sfCartLines, sfWishlistItems, (cycle-1)*sfCartLines, (cycle-1)*sfWishlistItems, cycle, sfCartLines)
}

// compare sets the merge's cost, the cart logins' server CPU per login
// minus the plain logins', with its standard error from the slices, and
// judges it on cart, the cart logins' figures: within targetMergeCPU, and
// no failed login or reset but 503 + Retry-After.
func (sf *StorefrontFigures) compare(plain PhaseFigures, cart *PhaseFigures) {
	sf.TargetMS = ms(targetMergeCPU)
	var cpuOK *bool
	if plain.ServerCPUPerLoginMS != nil && cart.ServerCPUPerLoginMS != nil {
		sf.MergeCPUMS = ptr(round(*cart.ServerCPUPerLoginMS-*plain.ServerCPUPerLoginMS, 3))
		cpuOK = is(*sf.MergeCPUMS <= sf.TargetMS)
	}
	if a, b := plain.ServerCPUSplit, cart.ServerCPUSplit; a != nil && b != nil {
		sf.MergeCPUSplit = &MergeSplitFigures{
			StoreStandInMS: round(b.StoreStandInMS-a.StoreStandInMS, 3),
			RedisStandInMS: round(b.RedisStandInMS-a.RedisStandInMS, 3),
			GCRuntimeMS:    round(b.GCRuntimeMS-a.GCRuntimeMS, 3),
			PortcullisMS:   round(b.PortcullisMS-a.PortcullisMS, 3),
		}
	}
	if a, b := sf.PlainSliceCPUMS, sf.CartSliceCPUMS; len(a) >= 2 && len(b) >= 2 {
		sf.MergeCPUStderrMS = ptr(round(math.Sqrt(variance(a)/float64(len(a))+variance(b)/float64(len(b))), 3))
	}
	failed := errorCounts(plain.Errors).Except(class503RetryAfter) + errorCounts(cart.Errors).Except(class503RetryAfter) +
		errorCounts(sf.UnrecordedErrors).Except(class503RetryAfter) + errorCounts(sf.ResetErrors).Total()
	cart.judge(fmt.Sprintf("merge ≤%s CPU", targetMergeCPU),
		check{"cpu", cpuOK},
		check{"errors", is(failed == 0)})
	sf.Verdict, sf.Misses = cart.Verdict, cart.Misses
}

// variance is the sample variance of v (at least two values).
func variance(v []float64) float64 {
	var mean float64
	for _, x := range v {
		mean += x
	}
	mean /= float64(len(v))
	var ss float64
	for _, x := range v {
		ss += (x - mean) * (x - mean)
	}
	return ss / float64(len(v)-1)
}

// phaseFigures turns a sample into figures, without ratio or target.
func phaseFigures(name, label string, concurrency, cores int, s sample) PhaseFigures {
	f := PhaseFigures{
		Name: name, Label: label, Concurrency: concurrency,
		Seconds:            round(s.Wall.Seconds(), 3),
		Requests:           s.Requests,
		OK:                 s.OK,
		RPS:                round(perSecond(s.OK, s.Wall), 1),
		P50MS:              round(ms(percentile(s.Sorted, 50)), 3),
		P99MS:              round(ms(percentile(s.Sorted, 99)), 3),
		Errors:             map[string]int(s.Errors),
		ErrorsTotal:        s.Errors.Total(),
		GenCPUShare:        round(cpuShare(s.GenCPU, s.Wall, cores), 4),
		GenCPUPerRequestUS: round(perRequestUS(s.GenCPU, s.Requests), 2),
	}
	if f.Errors == nil {
		f.Errors = map[string]int{}
	}
	if s.ServerKnown {
		f.ServerCPUShare = ptr(round(cpuShare(s.ServerCPU, s.Wall, cores), 4))
		f.ServerCPUSeconds = ptr(round(s.ServerCPU.Seconds(), 3))
		f.ServerCPUPerRequestUS = ptr(round(perRequestUS(s.ServerCPU, s.Requests), 2))
	}
	return f
}

// perRequestUS is CPU time per request in microseconds.
func perRequestUS(cpu time.Duration, requests int) float64 {
	if requests == 0 {
		return 0
	}
	return float64(cpu) / float64(requests) / float64(time.Microsecond)
}

// setRatio sets the ratio of f's RPS to ref (when ref is positive).
func (f *PhaseFigures) setRatio(to string, ref float64) {
	f.RatioTo = to
	if ref > 0 {
		f.Ratio = ptr(round(f.RPS/ref, 4))
	}
}

// setLoginCPU sets the server CPU per successful login and what is left of
// it after hashCPU, the CPU time of one hash.
func (f *PhaseFigures) setLoginCPU(s sample, hashCPU time.Duration) {
	if !s.ServerKnown || s.OK == 0 {
		return
	}
	per := s.ServerCPU / time.Duration(s.OK)
	f.ServerCPUPerLoginMS = ptr(round(ms(per), 3))
	f.CPUBeyondHashMS = ptr(round(ms(per-hashCPU), 3))
}

// setSMS sets the SMS phase's figures: server CPU per complete login and
// the requests per login begun.
func (f *PhaseFigures) setSMS(s sample, inWindow int, logins, requests, polls int64, ranOut bool) {
	f.SMSLoginsInWindow = inWindow
	if w := s.End.Sub(s.From); w > 0 {
		f.SMSWindowSeconds = round(w.Seconds(), 3)
		f.SMSWindowRate = round(perSecond(inWindow, w), 1)
	}
	if s.ServerKnown && inWindow > 0 {
		f.ServerCPUPerLoginMS = ptr(round(ms(s.ServerCPUWindow/time.Duration(inWindow)), 3))
	}
	if logins > 0 {
		f.RequestsPerLogin = ptr(round(float64(requests)/float64(logins), 3))
		f.OutboxReadsPerLogin = ptr(round(float64(polls)/float64(logins), 3))
	}
	f.SMSNumbersRanOut = ranOut
}

// setCPUSplit divides the SMS phase's server CPU per login by the shares
// of the classes in s, a CPU profile of the phase.
func (f *PhaseFigures) setCPUSplit(s cpuSplit) {
	if f.ServerCPUPerLoginMS == nil || s.Total() <= 0 {
		return
	}
	per := *f.ServerCPUPerLoginMS
	f.ServerCPUSplit = &CPUSplitFigures{
		StoreStandInMS:    round(per*s.Share(classStore), 3),
		RedisStandInMS:    round(per*s.Share(classRedis), 3),
		GCRuntimeMS:       round(per*s.Share(classRuntime), 3),
		PortcullisMS:      round(per*s.Share(classPortcullis), 3),
		ProfileSamples:    s.Samples,
		ProfileCPUSeconds: round(s.Total().Seconds(), 3),
		ProfileSeconds:    round(s.Duration.Seconds(), 3),
	}
}

// judgeSMS applies the SMS login target: server CPU per complete login,
// and no failed login.
func (f *PhaseFigures) judgeSMS() {
	var cpuOK *bool
	if f.ServerCPUPerLoginMS != nil {
		cpuOK = is(*f.ServerCPUPerLoginMS <= ms(targetSMSCPU))
	}
	f.judge(fmt.Sprintf("≤%s CPU per login", targetSMSCPU),
		check{"cpu", cpuOK},
		check{"errors", is(f.ErrorsTotal == 0)})
}

// check is one part of a target: ok is nil when it could not be measured.
type check struct {
	name string
	ok   *bool
}

func is(b bool) *bool { return &b }

// judge sets f's target and verdict from its checks.
func (f *PhaseFigures) judge(target string, checks ...check) {
	f.Target = target
	f.Verdict = "pass"
	var unknown []string
	for _, c := range checks {
		switch {
		case c.ok == nil:
			unknown = append(unknown, c.name)
		case !*c.ok:
			f.Misses = append(f.Misses, c.name)
		}
	}
	switch {
	case len(f.Misses) > 0:
		f.Verdict = "miss"
	case len(unknown) > 0:
		f.Verdict = "unknown"
		f.Misses = unknown
	}
}

// judgeBearer applies the /me Bearer target.
func (f *PhaseFigures) judgeBearer() {
	var ratioOK *bool
	if f.Ratio != nil {
		ratioOK = is(*f.Ratio >= targetMeRatio)
	}
	f.judge(fmt.Sprintf("≥%.0f%% of ceiling, p99 <%s", targetMeRatio*100, targetMeP99),
		check{"ratio", ratioOK},
		check{"p99", is(f.P99MS < ms(targetMeP99))},
		check{"errors", is(f.ErrorsTotal == 0)})
}

// judgeLogin applies the login target. Only the bounded hash pool's
// "503 + Retry-After" is an acceptable error; it still counts against the
// ratio, which is of successful logins.
func (f *PhaseFigures) judgeLogin() {
	var ratioOK, cpuOK *bool
	if f.Ratio != nil {
		ratioOK = is(*f.Ratio >= targetLoginRatio)
	}
	if f.CPUBeyondHashMS != nil {
		cpuOK = is(*f.CPUBeyondHashMS <= ms(targetLoginExtraCPU))
	}
	f.judge(fmt.Sprintf("≥%.0f%% of limit, ≤%s CPU beyond hash", targetLoginRatio*100, targetLoginExtraCPU),
		check{"ratio", ratioOK},
		check{"cpu", cpuOK},
		check{"errors", is(errorCounts(f.Errors).Except(class503RetryAfter) == 0)})
}

// judgeStorm applies the storm target.
func (f *PhaseFigures) judgeStorm() {
	var rssOK *bool
	if f.PeakRSSMiB != nil {
		rssOK = is(*f.PeakRSSMiB <= float64(targetStormRSS>>20))
	}
	f.judge(fmt.Sprintf("peak RSS ≤%d MiB, only 503+RA", targetStormRSS>>20),
		check{"rss", rssOK},
		check{"errors", is(errorCounts(f.Errors).Except(class503RetryAfter) == 0)})
}

// writeJSON writes the report, indented.
func (r *Report) writeJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(r)
}

// writeTable prints the report for people: the table, then the figures
// behind the ratios and every error by class.
func (r *Report) writeTable(w io.Writer) {
	header := []string{"phase", "conc", "req/s", "p50", "p99", "errors", "ratio", "target", "result", "gen CPU", "srv CPU"}
	right := []bool{false, true, true, true, true, true, true, false, false, true, true}
	rows := make([][]string, 0, len(r.Phases))
	for _, p := range r.Phases {
		rows = append(rows, []string{
			p.Label,
			fmt.Sprint(p.Concurrency),
			fmt.Sprintf("%.1f", p.RPS),
			fmtDur(fromMS(p.P50MS)),
			fmtDur(fromMS(p.P99MS)),
			fmt.Sprint(p.ErrorsTotal),
			fmtRatio(p),
			orDash(p.Target),
			fmtVerdict(p),
			fmtShare(&p.GenCPUShare),
			fmtShare(p.ServerCPUShare),
		})
	}
	renderTable(w, header, right, rows)

	fmt.Fprintln(w)
	h := r.Hash
	if h.Samples > 0 { // measured only for the phases that need it
		fmt.Fprintf(w, "hash:   %s m=%d KiB t=%d p=%d, measured in this process:\n", h.Algorithm, h.MemoryKiB, h.Iterations, h.Parallelism)
		fmt.Fprintf(w, "        alone: median of %d = %s (min %s, max %s), %s CPU each → %d cores ÷ %s = %.1f/s\n",
			h.Samples, fmtDur(fromMS(h.MedianMS)), fmtDur(fromMS(h.MinMS)), fmtDur(fromMS(h.MaxMS)), fmtDur(fromMS(h.CPUMS)),
			h.UsableCores, fmtDur(fromMS(h.MedianMS)), h.SingleLimitPerSecond)
		fmt.Fprintf(w, "        %d at once: %d hashes, median %s each, %s CPU each → %.1f/s (%.0f%% of the single-hash figure)\n",
			h.ParallelWorkers, h.ParallelHashes, fmtDur(fromMS(h.ParallelMedianMS)), fmtDur(fromMS(h.ParallelCPUMS)), h.LimitPerSecond, h.ParallelScaling*100)
		fmt.Fprintf(w, "limit:  %.1f logins/s, the rate of %d hashes at once; login ratios are of it\n", h.LimitPerSecond, h.ParallelWorkers)
	}
	for _, p := range r.Phases {
		if p.CPUBeyondHashMS != nil {
			fmt.Fprintf(w, "cpu:    %s: %s server CPU per login, %s beyond the %s of a hash\n",
				p.Label, fmtDur(fromMS(*p.ServerCPUPerLoginMS)), fmtDur(fromMS(*p.CPUBeyondHashMS)), fmtDur(fromMS(h.ParallelCPUMS)))
		}
		if p.Name == phaseSMS && p.ServerCPUPerLoginMS != nil {
			fmt.Fprintf(w, "cpu:    %s: %s server CPU per complete login (send, outbox reads, verify), over the %d logins answered\n        within the phase's %.1fs (%.1f/s)",
				p.Label, fmtDur(fromMS(*p.ServerCPUPerLoginMS)), p.SMSLoginsInWindow, p.SMSWindowSeconds, p.SMSWindowRate)
			if p.RequestsPerLogin != nil {
				fmt.Fprintf(w, "; %.2f requests per login, %.2f of them outbox reads", *p.RequestsPerLogin, *p.OutboxReadsPerLogin)
			}
			fmt.Fprintln(w)
			if sp := p.ServerCPUSplit; sp != nil {
				fmt.Fprintf(w, "        of the %s: store stand-in %s, redis stand-in %s, GC and runtime %s, Portcullis %s (shares of the profiled samples applied to the measured total)\n",
					fmtDur(fromMS(*p.ServerCPUPerLoginMS)), fmtDur(fromMS(sp.StoreStandInMS)), fmtDur(fromMS(sp.RedisStandInMS)), fmtDur(fromMS(sp.GCRuntimeMS)), fmtDur(fromMS(sp.PortcullisMS)))
				fmt.Fprintf(w, "note:   %s: the split is of the phase's CPU profile (%d samples, %.1fs of CPU over %.1fs), which covers nearly the same\n"+
					"        interval as the /proc figure; store and redis stand-in are FerretDB on SQLite and miniredis, which run in the server\n"+
					"        process only on the embedded defaults; GC and runtime is the stacks without a frame outside the Go runtime\n",
					p.Label, sp.ProfileSamples, sp.ProfileCPUSeconds, sp.ProfileSeconds)
			}
		}
		if sp := p.ServerCPUSplit; sp != nil && strings.HasPrefix(p.Name, "storefront") {
			fmt.Fprintf(w, "        of the %s: store stand-in %s, redis stand-in %s, GC and runtime %s, Portcullis %s (from the windows' CPU profiles,\n"+
				"        %d samples, %.1fs of CPU over %.1fs)\n",
				fmtDur(fromMS(*p.ServerCPUPerLoginMS)), fmtDur(fromMS(sp.StoreStandInMS)), fmtDur(fromMS(sp.RedisStandInMS)), fmtDur(fromMS(sp.GCRuntimeMS)), fmtDur(fromMS(sp.PortcullisMS)),
				sp.ProfileSamples, sp.ProfileCPUSeconds, sp.ProfileSeconds)
		}
		if p.SMSNumbersRanOut {
			fmt.Fprintf(w, "note:   %s: the registered phone numbers ran out before the end of the phase (raise -sms-rate)\n", p.Label)
		}
		if p.PeakRSSMiB != nil {
			base := ""
			if p.BaselineRSSMiB != nil {
				base = fmt.Sprintf(" (%.1f MiB before)", *p.BaselineRSSMiB)
			}
			fmt.Fprintf(w, "rss:    %s: peak %.1f MiB%s\n", p.Label, *p.PeakRSSMiB, base)
		}
	}
	if sf := r.Storefront; sf != nil {
		sf.writeTable(w, r.Phases)
	}
	if m := r.Multitenant; m != nil {
		m.writeTable(w, r.Phases)
	}
	var perReq []string
	for _, p := range r.Phases {
		if p.ServerCPUPerRequestUS != nil && !isLogin(p.Name) {
			perReq = append(perReq, fmt.Sprintf("%s server %.1fµs, gen %.1fµs", p.Label, *p.ServerCPUPerRequestUS, p.GenCPUPerRequestUS))
		}
	}
	if len(perReq) > 0 {
		fmt.Fprintf(w, "cpu/req: %s\n", strings.Join(perReq, "; "))
	}
	for _, p := range r.Phases {
		if p.ErrorsTotal > 0 {
			fmt.Fprintf(w, "errors: %s: %s\n", p.Label, errorCounts(p.Errors))
		}
	}
	if sf := r.Storefront; sf != nil {
		if len(sf.UnrecordedErrors) > 0 {
			fmt.Fprintf(w, "errors: storefront logins answered outside the windows: %s\n", errorCounts(sf.UnrecordedErrors))
		}
		if len(sf.ResetErrors) > 0 {
			fmt.Fprintf(w, "errors: storefront resets (PUT %s and %s, and a login for a token where none had succeeded): %s\n", pathCart, pathWishlist, errorCounts(sf.ResetErrors))
		}
	}
	var profiled []string
	for _, p := range r.Phases {
		if p.ServerProfiled {
			profiled = append(profiled, p.Label)
		}
	}
	if len(profiled) > 0 {
		fmt.Fprintf(w, "note:   the server ran with its CPU profiler on during %s; its overhead is small and counts in those phases' figures\n", strings.Join(profiled, ", "))
	}
	if r.Server.Mode == "url" && r.Server.Pid == 0 {
		fmt.Fprintln(w, "note:   no server process id (-server-pid): no server CPU or memory figures")
	}
	fmt.Fprintln(w, "note:   gen CPU and srv CPU are shares of all cores; the generator and the server (for the ceiling, the bare")
	fmt.Fprintln(w, "        server) share this machine's cores, so the ceiling is the rate of generator plus bare handler on it")
	fmt.Fprintf(w, "machine: %d cores, GOMAXPROCS %d, %s %s/%s; server CPU from /proc/<pid>/stat at %d ticks/s; req/s counts 2xx answers; p50/p99 over every request\n",
		r.Machine.Cores, r.Machine.GOMAXPROCS, r.Machine.GoVersion, r.Machine.OS, r.Machine.Arch, r.Machine.ClockTicks)
}

// isLogin reports whether phase name is one of logins, whose server CPU
// is reported per login rather than per request.
func isLogin(name string) bool {
	return strings.HasPrefix(name, "login") || strings.HasPrefix(name, "storefront") || name == phaseSMS
}

// writeTable prints the storefront phase's settings, the case measured
// and the merge's cost beneath the table.
func (sf *StorefrontFigures) writeTable(w io.Writer, phases []PhaseFigures) {
	label := func(name string) string {
		for _, p := range phases {
			if p.Name == name {
				return p.Label
			}
		}
		return name
	}
	fmt.Fprintf(w, "storefront: tenant %s, concurrency %d, %d+%d slices in the order %s; each switches the kind (every worker's\n"+
		"        login of the other kind answered, full carts emptied), settles %.1fs and records a %.1fs window (gap from the switch\n"+
		"        to the window: mean %.1fs, at most %.1fs); the figures are of the windows only\n",
		sf.TenantHost, sf.Concurrency, sf.SlicesPerKind, sf.SlicesPerKind, sf.Order, sf.SettleSeconds, sf.WindowSeconds, sf.MeanGapSeconds, sf.MaxGapSeconds)
	mean := "-"
	if sf.MeanLinesBefore != nil {
		mean = fmt.Sprintf("%.1f", *sf.MeanLinesBefore)
	}
	fmt.Fprintf(w, "        mean logins in flight in the windows: %.1f plain, %.1f cart, of %d workers\n", sf.PlainInFlight, sf.CartInFlight, sf.Concurrency)
	fmt.Fprintf(w, "case:   each cart login merges %d new lines and %d new wishlist items into a cart of 0–%d lines (mean %s) and a\n"+
		"        wishlist of 0–%d items: each of %d users (%d per worker) takes %d cart logins, then is emptied in a gap (%d resets);\n"+
		"        plain logins log the same users in without a cart and read carts of the same sizes; at most %d cart lines stored\n",
		sf.CartLines, sf.WishlistItems, (sf.Cycle-1)*sf.CartLines, mean, (sf.Cycle-1)*sf.WishlistItems,
		sf.Users, sf.UsersPerWorker, sf.Cycle, sf.Resets, sf.MaxStoredLines)
	if sf.MergeCPUMS != nil {
		se := ""
		if sf.MergeCPUStderrMS != nil {
			se = fmt.Sprintf(" (standard error %s over the slices)", fmtDur(fromMS(*sf.MergeCPUStderrMS)))
		}
		fmt.Fprintf(w, "merge:  %s − %s = %s server CPU per login%s; target ≤%s: %s\n",
			label(phaseSFCart), label(phaseSFPlain), fmtSignedMS(*sf.MergeCPUMS), se, fmtDur(fromMS(sf.TargetMS)), sf.Verdict)
		if m := sf.MergeCPUSplit; m != nil {
			fmt.Fprintf(w, "        of which store stand-in %s, redis stand-in %s, GC and runtime %s, Portcullis %s (the two kinds' CPU splits)\n",
				fmtSignedMS(m.StoreStandInMS), fmtSignedMS(m.RedisStandInMS), fmtSignedMS(m.GCRuntimeMS), fmtSignedMS(m.PortcullisMS))
		}
	} else {
		fmt.Fprintf(w, "merge:  no server CPU figures: the merge's cost is unknown\n")
	}
	if sf.Spill > 0 {
		fmt.Fprintf(w, "note:   storefront: %d requests of the other kind or resets were answered inside a window,\n        which the switch before each window should prevent: the CPU figures are mixed\n", sf.Spill)
	}
	if low := 0.9 * float64(sf.Concurrency); sf.PlainInFlight < low || sf.CartInFlight < low {
		fmt.Fprintf(w, "note:   storefront: fewer logins were in flight than the %d workers (in %d slices a worker had no user it could log in:\n"+
			"        all full or unknown awaiting a reset, or retired): the figures are of the lower concurrency\n", sf.Concurrency, sf.Exhausted)
	}
	if sf.ResetFailures > 0 || sf.RetiredUsers > 0 {
		fmt.Fprintf(w, "note:   storefront: %d resets failed (their users were tried again at the next slice); %d users were retired\n", sf.ResetFailures, sf.RetiredUsers)
	}
	if n := sfOverload(sf, phases); n > 0 {
		fmt.Fprintf(w, "note:   storefront: %d requests timed out or answered merge_pending: the server was overloaded, and work of theirs that\n"+
			"        went on after the answer (the store's, a retried merge) may count in a window's CPU\n", n)
	}
}

// sfOverload counts the storefront phase's requests whose work may have
// gone on after their answer: timeouts and pending merges.
func sfOverload(sf *StorefrontFigures, phases []PhaseFigures) int {
	all := []map[string]int{sf.UnrecordedErrors, sf.ResetErrors}
	for _, p := range phases {
		if p.Name == phaseSFPlain || p.Name == phaseSFCart {
			all = append(all, p.Errors)
		}
	}
	n := 0
	for _, errs := range all {
		n += errs[classTimeout] + errs[classSFPending]
	}
	return n
}

// fmtSignedMS prints a difference of milliseconds with its sign.
func fmtSignedMS(v float64) string {
	if v < 0 {
		return "−" + fmtDur(fromMS(-v))
	}
	return fmtDur(fromMS(v))
}

// renderTable writes rows under header in aligned columns, right-aligning
// the columns marked in right.
func renderTable(w io.Writer, header []string, right []bool, rows [][]string) {
	width := make([]int, len(header))
	for i, h := range header {
		width[i] = utf8.RuneCountInString(h)
	}
	for _, row := range rows {
		for i, c := range row {
			width[i] = max(width[i], utf8.RuneCountInString(c))
		}
	}
	line := func(cells []string) {
		var b strings.Builder
		for i, c := range cells {
			if i > 0 {
				b.WriteString("  ")
			}
			pad := strings.Repeat(" ", width[i]-utf8.RuneCountInString(c))
			if right[i] {
				b.WriteString(pad + c)
			} else if i < len(cells)-1 {
				b.WriteString(c + pad)
			} else {
				b.WriteString(c)
			}
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
	}
	line(header)
	rule := make([]string, len(header))
	for i := range rule {
		rule[i] = strings.Repeat("-", width[i])
	}
	line(rule)
	for _, row := range rows {
		line(row)
	}
}

func fmtRatio(p PhaseFigures) string {
	switch {
	case p.Ratio == nil:
		return "-"
	}
	if p.Name == phaseCeiling {
		return "(ref)"
	}
	of := map[string]string{"ceiling": "ceiling", "hash_limit": "limit", "single_tenant": "single"}[p.RatioTo]
	return fmt.Sprintf("%.1f%% %s", *p.Ratio*100, of)
}

func fmtVerdict(p PhaseFigures) string {
	if p.Verdict == "" {
		return "-"
	}
	if len(p.Misses) > 0 {
		return p.Verdict + ": " + strings.Join(p.Misses, ",")
	}
	return p.Verdict
}

func fmtShare(s *float64) string {
	if s == nil {
		return "-"
	}
	return fmt.Sprintf("%.0f%%", *s*100)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// fmtDur prints a latency with three significant digits or so.
func fmtDur(d time.Duration) string {
	switch {
	case d < 10*time.Millisecond:
		return fmt.Sprintf("%.2fms", ms(d))
	case d < 100*time.Millisecond:
		return fmt.Sprintf("%.1fms", ms(d))
	case d < time.Second:
		return fmt.Sprintf("%.0fms", ms(d))
	}
	return fmt.Sprintf("%.2fs", d.Seconds())
}

func fromMS(v float64) time.Duration { return time.Duration(v * float64(time.Millisecond)) }

func round(v float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(v*p) / p
}

func ptr[T any](v T) *T { return &v }
