// Command portcullis-load measures the server under load and reports every
// figure as a ratio to a limit measured in the same run, because the
// machines it runs on are shared and noisy:
//
//   - the ceiling: a bare Fiber handler (this binary re-executed as the
//     hidden subcommand "bare", served with the server's own Fiber
//     configuration) answering a small JSON body;
//   - GET /auth/v1/me with a Bearer access token, an app token
//     (Authorization: Token) and the session cookie, against the ceiling;
//   - the hash-bound limit, the rate of as many argon2id hashes at once as
//     there are usable cores, with the tenant's parameters, measured in
//     this process (beside cores ÷ the time of one hash alone), and
//     password logins at 2×cores and at the high concurrency against it,
//     with the server CPU per login and per login beyond the CPU of a hash;
//   - the server's peak resident memory in a storm of concurrent logins;
//   - on a storefront tenant, password logins without and with a local
//     cart to merge, alternated in short slices, and what the merge adds
//     to the server CPU per login (storefront.go);
//   - on a server of its own with 10,000 tenant files, its start-up time
//     and memory, and GET /auth/v1/me spread over 1,000 tenants against
//     the same on one tenant, alternated in short slices (multitenant.go).
//
// -phases selects the groups of phases to run. The command prints a table
// and writes the same figures to a JSON file. See -h.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/portcullis/portcullis/cmd/internal/proc"
	"github.com/portcullis/portcullis/domain/tenant"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

var errNoServerProcess = errors.New("no server process to read")

// options are the command line.
type options struct {
	Server      string
	URL         string
	TenantHost  string
	ServerPid   int
	LogLevel    string
	Users       int
	Concurrency int
	Storm       int
	Duration    time.Duration
	Warmup      time.Duration
	Timeout     time.Duration
	MaxRequests int
	HashSamples int
	SMSRate     float64
	Hash        tenant.HashParams
	JSON        string
	ProfileDir  string
	Phases      phaseSet
	// The storefront phase: its tenant's host, each slice's settling time
	// and recorded window, and the cart logins of a user between resets.
	StorefrontHost string
	SFConcurrency  int
	SFSettle       time.Duration
	SFWindow       time.Duration
	SFCycle        int
	// The multi-tenant phase: the tenant files of its server, the active
	// tenants, each slice's settling time and recorded window, and the
	// setup's concurrency.
	MTTenants          int
	MTActive           int
	MTSettle           time.Duration
	MTWindow           time.Duration
	MTSetupConcurrency int
	// MTDevDB is the portcullis-devdb binary serving the multitenant
	// server's stores; empty: the stores inside the server.
	MTDevDB string
}

// The groups of phases -phases selects from, in the order they run.
const (
	groupCeiling     = "ceiling"
	groupMe          = "me"
	groupLogin       = "login"
	groupSMS         = "sms"
	groupStorm       = "storm"
	groupStorefront  = "storefront"
	groupMultitenant = "multitenant"
)

var allGroups = []string{groupCeiling, groupMe, groupLogin, groupSMS, groupStorm, groupStorefront, groupMultitenant}

// phaseSet is the groups of phases a run makes.
type phaseSet map[string]bool

// parsePhases reads -phases: "all", or group names separated by commas.
func parsePhases(v string) (phaseSet, error) {
	set := phaseSet{}
	for _, g := range strings.Split(v, ",") {
		g = strings.TrimSpace(g)
		switch {
		case g == "all":
			for _, a := range allGroups {
				set[a] = true
			}
		case slices.Contains(allGroups, g):
			set[g] = true
		case g == "":
		default:
			return nil, fmt.Errorf("-phases: unknown phase %q (known: all, %s)", g, strings.Join(allGroups, ", "))
		}
	}
	if len(set) == 0 {
		return nil, errors.New("-phases: no phase")
	}
	return set, nil
}

// list returns the groups in the order they run.
func (s phaseSet) list() []string {
	var out []string
	for _, g := range allGroups {
		if s[g] {
			out = append(out, g)
		}
	}
	return out
}

// needUsers reports whether a phase of s uses the users of the setup.
func (s phaseSet) needUsers() bool {
	return s[groupCeiling] || s[groupMe] || s[groupLogin] || s[groupStorm]
}

// needServer reports whether a phase of s loads the server of mode A
// (or the server of mode B): every group but multitenant, which starts a
// server of its own.
func (s phaseSet) needServer() bool {
	for g := range s {
		if g != groupMultitenant {
			return true
		}
	}
	return false
}

// needHash reports whether a phase of s needs the hash measurements: the
// hash-bound limit, and the CPU of a hash that "beyond the hash" subtracts.
func (s phaseSet) needHash() bool { return s[groupLogin] || s[groupStorm] || s[groupStorefront] }

// Phase lengths as multiples of -duration: the 15 s for the /me
// phases and the ceiling, 20 s for logins, about 5 s for the storm.
// The SMS phase is as long as a login phase: on the embedded store an SMS
// login at concurrency 64 takes seconds, so a shorter phase would hold few.
const (
	loginScale = 4.0 / 3
	stormScale = 1.0 / 3
	smsScale   = loginScale
)

// smsMargin is the share of numbers registered beyond the expected logins.
const smsMargin = 1.25

func parseFlags(args []string, stderr io.Writer) (options, error) {
	def := tenant.Default().Password.Hash
	var o options
	fs := flag.NewFlagSet("portcullis-load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.Server, "server", "bin/portcullis", "server binary to start (mode A); rebuild it before each run")
	fs.StringVar(&o.URL, "url", "", "load a running server at http://127.0.0.1:PORT instead of starting one (mode B)")
	fs.StringVar(&o.TenantHost, "tenant-host", "bench.localhost", "Host header selecting the tenant. In mode B the tenant must exist, allow password login and have throttling\nlimits far above the load (e.g. {limit: 1000000, window: 1h} for all three), and the server must run in dev mode\n(the cookie phase sends the dev-mode cookie portcullis_session over plain HTTP)")
	fs.IntVar(&o.ServerPid, "server-pid", 0, "mode B: the server's process id on this machine, for its CPU and memory figures (without it they are not reported)")
	fs.StringVar(&o.LogLevel, "server-log-level", "info", "mode A: PORTCULLIS_LOG_LEVEL of the server; at info it writes an access-log line per request, as in production,\nwhich this command reads and discards (\"listening\" is logged at info)")
	fs.IntVar(&o.Users, "users", 64, "users registered and logged in before the phases; requests rotate over them")
	fs.IntVar(&o.Concurrency, "concurrency", 64, "concurrency of the ceiling, the /me phases and the high login phase")
	fs.IntVar(&o.Storm, "storm", 256, "concurrent logins in the memory storm")
	fs.DurationVar(&o.Duration, "duration", 15*time.Second, "length of the ceiling and each /me phase; each login phase runs 4/3 of it (20s) and the storm 1/3 (5s)")
	fs.DurationVar(&o.Warmup, "warmup", time.Second, "unrecorded warm-up before each phase but the storm (connections, caches)")
	fs.DurationVar(&o.Timeout, "timeout", 10*time.Second, "timeout of one request")
	fs.IntVar(&o.MaxRequests, "max-requests", 5_000_000, "most requests recorded in one phase (bounds memory)")
	fs.IntVar(&o.HashSamples, "hash-samples", 20, "argon2id hashes timed alone (the median counts) and by each of the cores' workers hashing at once (the rate is the hash-bound limit)")
	var mem, iter, par uint
	fs.UintVar(&mem, "hash-memory-kib", uint(def.MemoryKiB), "argon2id memory of the tenant (mode A: written into its file; mode B: must match the tenant's)")
	fs.UintVar(&iter, "hash-iterations", uint(def.Iterations), "argon2id iterations of the tenant")
	fs.UintVar(&par, "hash-parallelism", uint(def.Parallelism), "argon2id parallelism of the tenant")
	fs.Float64Var(&o.SMSRate, "sms-rate", 80, "mode A: SMS logins per second the SMS phase is expected to reach; the setup registers an account with its own phone number\nfor each login that rate allows in the phase and its warm-up (×1.25, +concurrency), and the phase ends early if they run out\n(raise it then); 0 skips the phase")
	phases := fs.String("phases", "all", "phases to run, separated by commas: "+strings.Join(allGroups, ", ")+", or all. The setup's users are registered for\nceiling, me, login and storm, the hash measured for login, storm and storefront; me without ceiling has no ratio")
	fs.StringVar(&o.StorefrontHost, "storefront-host", "bench-shop.localhost", "Host header selecting the storefront phase's tenant. Mode A creates it (tenant bench-shop: the bench tenant's settings\nand storefront: {enabled: true}); in mode B it must exist, be a storefront with the default limits, allow password login\nand have throttling limits far above the load")
	fs.IntVar(&o.SFConcurrency, "storefront-concurrency", 64, "storefront phase: concurrency of both kinds of login")
	fs.DurationVar(&o.SFWindow, "storefront-window", 2*time.Second, "storefront phase: the recorded window of each slice; the slices of each kind add up to about 4/3 of -duration")
	fs.DurationVar(&o.SFSettle, "storefront-settle", time.Second, "storefront phase: once every worker has switched to a slice's kind (its login of the other kind answered, its full\ncarts emptied), this long before the slice's window opens (the first slice's: at least -warmup)")
	fs.IntVar(&o.SFCycle, "storefront-cycle", 5, fmt.Sprintf("storefront phase: cart logins of a user between two resets of its cart and wishlist (1 to %d): its k-th merges %d lines\ninto a cart of (k−1)×%d", tenant.DefaultStorefront().MaxLines/sfCartLines, sfCartLines, sfCartLines))
	fs.IntVar(&o.MTTenants, "mt-tenants", 10_000, "multitenant phase (mode A): tenant files of its own server, mt-00001 on mt-00001.localhost, …, each with the\nbench tenant's settings")
	fs.IntVar(&o.MTActive, "mt-active", 1000, "multitenant phase: tenants among -mt-tenants (spread evenly) with an account each that the multi-tenant /me\nspreads its requests over; the single-tenant /me rotates over as many accounts of the first of them")
	fs.DurationVar(&o.MTWindow, "mt-window", time.Second, "multitenant phase: the recorded window of each slice; the slices of each kind add up to about -duration")
	fs.DurationVar(&o.MTSettle, "mt-settle", 250*time.Millisecond, "multitenant phase: once every worker has switched to a slice's kind, this long before its window opens")
	fs.IntVar(&o.MTSetupConcurrency, "mt-setup-concurrency", 32, "multitenant phase: accounts registered and logged in at once in its setup")
	fs.StringVar(&o.MTDevDB, "mt-devdb", "bin/portcullis-devdb", "multitenant phase: the portcullis-devdb binary that serves its server's stores beside it, so that the RSS\nmeasured is the server's own; empty: the embedded stores inside the server's process (counted in its RSS)")
	fs.StringVar(&o.JSON, "json", "bin/bench.json", "file to write the figures to as JSON (\"\": none)")
	fs.StringVar(&o.ProfileDir, "profile", "", "mode A: start the server with pprof_listen and write, for each /me, login and SMS-login phase, a CPU profile of it\n(DIR/<phase>.cpu.pprof, for go tool pprof) and a goroutine dump from half-way through (DIR/<phase>.goroutines.txt).\nThe SMS-login phase and each window of the storefront phase (DIR/<phase>.<slice>.cpu.pprof) are profiled in mode A in any\ncase (without -profile into a temporary directory), to split their server CPU. The multitenant phase's own server gets CPU profiles\nof the first -duration of its setup and of its slices, a goroutine dump from half-way through the slices and heap profiles\nafter the setup and at the end (DIR/multitenant_*)")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: portcullis-load [flags]

Measures Portcullis under load against limits measured in the same run and
prints a table (phase, concurrency, req/s, p50, p99, errors, ratio, target,
pass/miss, this command's and the server's CPU share), then writes the
figures as JSON.

Mode A (default) starts -server in dev mode on its embedded store, on
127.0.0.1:0, with a fresh data directory and one tenant "bench" (domain
-tenant-host, password and SMS code login, default argon2id parameters,
throttling limits far above the load, no SMS provider: codes go to the dev
outbox), and stops it with SIGTERM at the end. Mode B (-url)
loads a running server instead. Only 127.0.0.1 is ever loaded.

Phases (-phases selects them): setup (register -users users; log each in
for an access token, an app token and a session cookie), the bare Fiber
ceiling, GET /auth/v1/me with each credential, the argon2id hash time alone
and the rate of as many hashes at once as cores (the hash-bound limit),
logins at 2×cores and at -concurrency, SMS logins at -concurrency (mode A:
send, the code from the dev outbox, verify; each with its own number,
registered in the setup; the server's CPU profile of it splits its CPU per
login into the store and Redis stand-ins, GC and runtime, and Portcullis), a
storm of -storm concurrent logins while the server's VmRSS is sampled every
10 ms, and the storefront phase: on the tenant -storefront-host, logins
without a cart and logins with a 20-line local cart and 10 wishlist items
at -storefront-concurrency, alternated in slices, and the difference of their server
CPU per login, the merge's cost; and the multitenant phase (mode A): a server
of its own with -mt-tenants tenant files, its start-up time and memory, and
GET /auth/v1/me spread over -mt-active tenants against the same on one
tenant, alternated in slices. Exit status: 0 when the run completed
(missed targets included), 1 when it failed, 2 for bad flags.

Flags:
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	o.Hash = tenant.HashParams{MemoryKiB: uint32(mem), Iterations: uint32(iter), Parallelism: uint8(par)}
	var err error
	if o.Phases, err = parsePhases(*phases); err != nil {
		return o, err
	}
	sfd := tenant.DefaultStorefront()
	switch {
	case o.Users < 1:
		return o, errors.New("-users must be at least 1")
	case o.Concurrency < 1 || o.Storm < 1 || o.SFConcurrency < 1:
		return o, errors.New("-concurrency, -storm and -storefront-concurrency must be at least 1")
	case o.Duration <= 0 || o.Warmup < 0 || o.Timeout <= 0:
		return o, errors.New("-duration and -timeout must be positive, -warmup not negative")
	case o.SMSRate < 0:
		return o, errors.New("-sms-rate must not be negative")
	case o.HashSamples < 1 || o.MaxRequests < 1:
		return o, errors.New("-hash-samples and -max-requests must be at least 1")
	case mem > 1<<32-1 || iter > 1<<32-1 || par < 1 || par > 255:
		return o, errors.New("argon2id parameters out of range")
	case o.SFWindow <= 0 || o.SFSettle < 0:
		return o, errors.New("-storefront-window must be positive, -storefront-settle not negative")
	case o.SFCycle < 1 || o.SFCycle*sfCartLines > sfd.MaxLines || o.SFCycle*sfWishlistItems > sfd.MaxWishlist:
		return o, fmt.Errorf("-storefront-cycle must be between 1 and %d: the carts must stay within max_lines %d", sfd.MaxLines/sfCartLines, sfd.MaxLines)
	case o.MTTenants < 1 || o.MTActive < 1 || o.MTActive > o.MTTenants:
		return o, fmt.Errorf("-mt-active must be between 1 and -mt-tenants (%d), and -mt-tenants at least 1", o.MTTenants)
	case o.MTWindow <= 0 || o.MTSettle < 0 || o.MTSetupConcurrency < 1:
		return o, errors.New("-mt-window must be positive, -mt-settle not negative, -mt-setup-concurrency at least 1")
	}
	if o.URL != "" && o.ProfileDir != "" {
		return o, errors.New("-profile needs mode A: set pprof_listen on the server of mode B and profile it with go tool pprof")
	}
	if o.URL != "" {
		if _, err := loopbackAddr(o.URL); err != nil {
			return o, fmt.Errorf("-url: %w", err)
		}
	}
	return o, nil
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == bareCommand {
		return runBare(args[1:], stderr)
	}
	o, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "portcullis-load:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	rep, err := bench(ctx, o, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "portcullis-load:", err)
		return 1
	}
	rep.writeTable(stdout)
	if o.JSON != "" {
		if err := writeReportFile(o.JSON, rep); err != nil {
			fmt.Fprintln(stderr, "portcullis-load:", err)
			return 1
		}
		fmt.Fprintf(stdout, "figures written to %s\n", o.JSON)
	}
	return 0
}

func writeReportFile(path string, rep *Report) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := rep.writeJSON(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// bench runs every phase and returns the report.
func bench(ctx context.Context, o options, log io.Writer) (*Report, error) {
	began := time.Now()
	cores := runtime.NumCPU()
	progress := func(format string, args ...any) {
		fmt.Fprintf(log, "[%5.1fs] "+format+"\n", append([]any{time.Since(began).Seconds()}, args...)...)
	}
	rep := &Report{
		Schema: reportSchema,
		Date:   began.UTC().Truncate(time.Second),
		Machine: Machine{Cores: cores, GOMAXPROCS: runtime.GOMAXPROCS(0), GoVersion: runtime.Version(),
			OS: runtime.GOOS, Arch: runtime.GOARCH, ClockTicks: clockTicks},
		Settings: Settings{
			Phases: o.Phases.list(), Users: o.Users, Concurrency: o.Concurrency, StormConcurrency: o.Storm,
			MeSeconds: o.Duration.Seconds(), SMSSeconds: scale(o.Duration, smsScale).Seconds(), SMSRate: o.SMSRate, LoginSeconds: scale(o.Duration, loginScale).Seconds(), StormSeconds: scale(o.Duration, stormScale).Seconds(),
			WarmupSeconds: o.Warmup.Seconds(), TimeoutSeconds: o.Timeout.Seconds(),
		},
	}

	// The server: started (mode A) or given (mode B).
	// prof profiles the /me and login phases (-profile), splitProf the SMS
	// phase and the storefront phase's windows, always in mode A: their
	// report splits the server's CPU by the profile (the files go to
	// -profile DIR, or to a temporary directory removed at the end).
	var srv *child
	var prof, splitProf *profiler
	addr := ""
	runSMS := o.Phases[groupSMS] && o.SMSRate > 0
	switch {
	case o.URL == "" && !o.Phases.needServer():
		// Only the multitenant phase, which starts a server of its own.
		rep.Server = ServerInfo{Mode: "spawned", Binary: o.Server, LogLevel: o.LogLevel}
	case o.URL == "":
		settings := serverSettings{Binary: o.Server, Host: o.TenantHost, Hash: o.Hash, LogLevel: o.LogLevel}
		if o.Phases[groupStorefront] {
			settings.StorefrontHost = o.StorefrontHost
		}
		if o.ProfileDir != "" || runSMS || o.Phases[groupStorefront] {
			pa, err := proc.FreeLoopbackAddr()
			if err != nil {
				return nil, err
			}
			settings.PprofListen = pa
			if o.ProfileDir != "" {
				if err := os.MkdirAll(o.ProfileDir, 0o755); err != nil {
					return nil, err
				}
				prof = &profiler{Addr: pa, Dir: o.ProfileDir}
				splitProf = prof
			} else {
				dir, err := os.MkdirTemp("", "portcullis-load-profile-")
				if err != nil {
					return nil, err
				}
				defer os.RemoveAll(dir)
				splitProf = &profiler{Addr: pa, Dir: dir, CPUOnly: true}
			}
		}
		progress("starting %s", o.Server)
		c, cleanup, err := startServer(ctx, settings)
		if err != nil {
			return nil, err
		}
		defer cleanup()
		srv, addr = c, c.Addr
		rep.Server = ServerInfo{Mode: "spawned", URL: c.URL, TenantHost: o.TenantHost, Binary: o.Server, Pid: c.Pid(), LogLevel: o.LogLevel}
	default:
		addr, _ = loopbackAddr(o.URL)
		rep.Server = ServerInfo{Mode: "url", URL: o.URL, TenantHost: o.TenantHost, Pid: o.ServerPid}
	}
	failed := func(what string, err error) error {
		if srv != nil && !srv.alive() {
			return fmt.Errorf("%s: %w; the server has exited; its log ends:\n%s", what, err, srv.tail)
		}
		return fmt.Errorf("%s: %w", what, err)
	}
	if o.Phases.needServer() {
		if err := waitReady(ctx, addr, time.Minute); err != nil {
			return nil, failed("server not ready", err)
		}
		progress("server ready at %s (pid %d)", addr, rep.Server.Pid)
	}

	// Setup.
	setupClient := client{hc: newClient(addr, 2*cores, o.Timeout), host: o.TenantHost, timeout: o.Timeout}
	defer setupClient.hc.CloseIdleConnections()
	var users []*user
	if o.Phases.needUsers() {
		users = newUsers(o.Users)
		t0 := time.Now()
		if err := setUp(ctx, setupClient, users, 2*cores); err != nil {
			return nil, failed("setup", err)
		}
		if err := checkMe(setupClient, users[0]); err != nil {
			return nil, failed("setup check", err)
		}
		rep.Setup = SetupFigures{Users: len(users), Seconds: round(time.Since(t0).Seconds(), 3)}
		progress("setup: %d users registered, each logged in for a bearer token, an app token and a cookie (%.1fs)", len(users), rep.Setup.Seconds)
	}

	// The SMS phase's accounts: one phone number for each login it can
	// make, since the engine sends one code per number per 60 s.
	var sms *smsLogins
	smsDur := scale(o.Duration, smsScale)
	switch {
	case !o.Phases[groupSMS]:
	case o.SMSRate == 0:
		progress("sms: skipped (-sms-rate 0)")
	case o.URL != "":
		progress("sms: skipped in mode B (it needs the bench tenant of mode A: sms_otp, no SMS provider, the dev outbox)")
	default:
		n := smsBudget(o.SMSRate, o.Warmup+smsDur, o.Concurrency)
		if n+1 > maxSMSNumbers {
			return nil, fmt.Errorf("-sms-rate %.0f needs %d phone numbers, more than the %d the harness makes", o.SMSRate, n+1, maxSMSNumbers)
		}
		progress("setup: registering %d accounts with phone numbers for the SMS phase (%.0f logins/s expected over %s and the warm-up)", n+1, o.SMSRate, smsDur)
		t0 := time.Now()
		numbers := smsNumbers(n + 1)
		if err := registerPhones(ctx, setupClient, numbers, 2*cores); err != nil {
			return nil, failed("setup of the SMS accounts", err)
		}
		sms = &smsLogins{host: o.TenantHost, timeout: o.Timeout, numbers: numbers}
		if c, _ := sms.do(setupClient.hc, 0, 0); c != "" {
			return nil, failed("setup check", fmt.Errorf("an SMS login with %s failed: %s", numbers[0], c))
		}
		sms.reset()
		rep.Setup.SMSUsers, rep.Setup.SMSSeconds = len(numbers), round(time.Since(t0).Seconds(), 3)
		progress("setup: %d SMS accounts registered, one SMS login checked (%.1fs)", len(numbers), rep.Setup.SMSSeconds)
	}

	serverRunner := runner{Addr: addr, Timeout: o.Timeout, MaxRequests: o.MaxRequests, ServerPid: rep.Server.Pid}
	profiled := func(name string, pr *profiler, p phase) sample {
		p.Profile = func() func() error { return pr.start(ctx, name, p.Duration) }
		s := serverRunner.run(ctx, p)
		if s.ProfileErr != nil {
			progress("%s: profile: %v", name, s.ProfileErr)
		}
		return s
	}
	record := func(name, label string, conc int, s sample) *PhaseFigures {
		f := phaseFigures(name, label, conc, cores, s)
		rep.Phases = append(rep.Phases, f)
		progress("%s: %.1f req/s, p50 %s, p99 %s, errors %d", label, f.RPS, fmtDur(fromMS(f.P50MS)), fmtDur(fromMS(f.P99MS)), f.ErrorsTotal)
		return &rep.Phases[len(rep.Phases)-1]
	}
	alive := func() error {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("interrupted (%w); the phases run so far are not reported", err)
		}
		if srv != nil && !srv.alive() {
			return fmt.Errorf("the server exited during the run; its log ends:\n%s", srv.tail)
		}
		return nil
	}
	me := func(header string, value func(*user) string) func(*fasthttp.Request, int, int) {
		vals := make([]string, len(users))
		for i, u := range users {
			vals[i] = value(u)
		}
		return func(req *fasthttp.Request, w, i int) {
			req.Header.SetHost(o.TenantHost)
			req.SetRequestURI(pathMe)
			req.Header.Set(header, vals[(w+i)%len(vals)])
		}
	}
	bearer := me("Authorization", func(u *user) string { return u.Bearer })

	// 1. The ceiling, with the very requests of the Bearer phase.
	var ceilingRPS float64
	if o.Phases[groupCeiling] {
		bare, err := startBare(ctx)
		if err != nil {
			return nil, err
		}
		progress("ceiling: bare Fiber handler at %s, concurrency %d, %s", bare.Addr, o.Concurrency, o.Duration)
		defer bare.stop()
		bareRunner := runner{Addr: bare.Addr, Timeout: o.Timeout, MaxRequests: o.MaxRequests, ServerPid: bare.Pid()}
		s := bareRunner.run(ctx, phase{Name: phaseCeiling, Concurrency: o.Concurrency, Warmup: o.Warmup, Duration: o.Duration, Fill: bearer})
		bare.stop()
		ceiling := record(phaseCeiling, "ceiling (bare Fiber)", o.Concurrency, s)
		ceilingRPS = ceiling.RPS
		ceiling.setRatio("ceiling", ceilingRPS)
		if ceiling.ErrorsTotal > 0 || ceilingRPS == 0 {
			return nil, fmt.Errorf("the bare ceiling had %d errors (%s) and %.1f req/s: no credible reference", ceiling.ErrorsTotal, errorCounts(ceiling.Errors), ceilingRPS)
		}
	}

	// 2 and 3. GET /auth/v1/me with each credential.
	for _, m := range []struct {
		name, label string
		fill        func(*fasthttp.Request, int, int)
	}{
		{phaseBearer, "/me Bearer", bearer},
		{phaseToken, "/me Token", me("Authorization", func(u *user) string { return u.AppToken })},
		{phaseCookie, "/me cookie", me("Cookie", func(u *user) string { return u.Cookie })},
	} {
		if !o.Phases[groupMe] {
			break
		}
		if err := alive(); err != nil {
			return nil, err
		}
		progress("%s: concurrency %d, %s", m.label, o.Concurrency, o.Duration)
		s := profiled(m.name, prof, phase{Name: m.name, Concurrency: o.Concurrency, Warmup: o.Warmup, Duration: o.Duration, Fill: m.fill})
		f := record(m.name, m.label, o.Concurrency, s)
		f.ServerProfiled = prof != nil
		f.setRatio("ceiling", ceilingRPS)
		if m.name == phaseBearer {
			f.judgeBearer()
		}
	}

	// 4. The hash-bound limit, with the server idle.
	var par hashRate
	var limit float64
	if o.Phases.needHash() {
		if err := alive(); err != nil {
			return nil, err
		}
		ht, err := measureHash(ctx, o.Hash, o.HashSamples)
		if err != nil {
			return nil, fmt.Errorf("timing argon2id: %w", err)
		}
		par, err = measureHashRate(ctx, o.Hash, cores, o.HashSamples)
		if err != nil {
			return nil, fmt.Errorf("timing argon2id: %w", err)
		}
		rep.Hash = hashFigures(cores, ht, par)
		limit = rep.Hash.LimitPerSecond
		progress("hash: alone %s (%s CPU) → %.1f/s on %d cores; %d at once %s each (%s CPU) → limit %.1f logins/s",
			fmtDur(ht.Median), fmtDur(ht.CPU), rep.Hash.SingleLimitPerSecond, cores, cores, fmtDur(par.Median), fmtDur(par.CPU), limit)
	}

	// 5. Password logins.
	login := func(req *fasthttp.Request, w, i int) {
		req.Header.SetMethod(fasthttp.MethodPost)
		req.Header.SetHost(o.TenantHost)
		req.SetRequestURI(pathLogin)
		req.Header.SetContentType("application/json")
		req.SetBodyRaw(users[(w+i)%len(users)].LoginBody)
	}
	loginDur := scale(o.Duration, loginScale)
	for _, l := range []struct {
		name string
		conc int
	}{{phaseLoginLow, 2 * cores}, {phaseLoginHi, o.Concurrency}} {
		if !o.Phases[groupLogin] {
			break
		}
		if err := alive(); err != nil {
			return nil, err
		}
		label := fmt.Sprintf("login ×%d", l.conc)
		progress("%s: %s", label, loginDur)
		s := profiled(l.name, prof, phase{Name: l.name, Concurrency: l.conc, Warmup: o.Warmup, Duration: loginDur, Fill: login})
		f := record(l.name, label, l.conc, s)
		f.ServerProfiled = prof != nil
		f.setRatio("hash_limit", limit)
		f.setLoginCPU(s, par.CPU)
		f.judgeLogin()
	}

	// 6. SMS logins: send, the code from the dev outbox, verify.
	if sms != nil {
		if err := alive(); err != nil {
			return nil, err
		}
		label := fmt.Sprintf("sms login ×%d", o.Concurrency)
		progress("%s: %s, %d numbers", label, smsDur, sms.left())
		s := profiled(phaseSMS, splitProf, phase{Name: phaseSMS, Concurrency: o.Concurrency, Warmup: o.Warmup, Duration: smsDur, Do: sms.do})
		f := record(phaseSMS, label, o.Concurrency, s)
		f.ServerProfiled = splitProf != nil
		f.setSMS(s, sms.completedWithin(s.From, s.End), sms.started.Load(), sms.requests.Load(), sms.polls.Load(), sms.left() == 0)
		if splitProf != nil && s.ProfileErr == nil {
			// The profile starts with the recording and lasts the phase's
			// length rounded to whole seconds; the /proc figure is of the
			// recording too: nearly the same interval.
			split, err := readCPUSplit(filepath.Join(splitProf.Dir, phaseSMS+".cpu.pprof"))
			if err != nil {
				progress("%s: no CPU split: %v", label, err)
			} else {
				f.setCPUSplit(split)
			}
		}
		if f.SMSNumbersRanOut {
			progress("%s: the phone numbers ran out after %.1fs of %s: raise -sms-rate", label, s.Wall.Seconds(), smsDur)
		}
		f.judgeSMS()
	}

	// 7. The storm, while sampling the server's memory.
	if o.Phases[groupStorm] {
		if err := alive(); err != nil {
			return nil, err
		}
		var baseline *float64
		if rep.Server.Pid > 0 {
			if rss, err := proc.RSS(rep.Server.Pid); err == nil {
				baseline = ptr(round(float64(rss)/(1<<20), 1))
			}
		}
		stormDur := scale(o.Duration, stormScale)
		progress("storm: %d concurrent logins for %s", o.Storm, stormDur)
		s := serverRunner.run(ctx, phase{Name: phaseStorm, Concurrency: o.Storm, Duration: stormDur, Fill: login, SampleRSS: true})
		f := record(phaseStorm, fmt.Sprintf("login storm ×%d", o.Storm), o.Storm, s)
		f.setRatio("hash_limit", limit)
		if s.PeakRSS > 0 {
			f.PeakRSSMiB = ptr(round(float64(s.PeakRSS)/(1<<20), 1))
			f.BaselineRSSMiB = baseline
		}
		f.judgeStorm()
	}

	// 8. Storefront logins without and with a local cart, alternated. It
	// runs last, so that the carts it leaves in the store weigh on no other
	// phase.
	if o.Phases[groupStorefront] {
		if err := alive(); err != nil {
			return nil, err
		}
		sf := storefrontPhase{o: o, addr: addr, serverPid: rep.Server.Pid, limit: limit, progress: progress, prof: splitProf}
		out, err := sf.run(ctx, setupClient.hc, 2*cores, loginDur)
		if err != nil {
			return nil, failed("storefront phase", err)
		}
		for _, k := range []struct {
			name, label string
			s           sample
			split       *cpuSplit
		}{
			{phaseSFPlain, fmt.Sprintf("storefront login ×%d", o.SFConcurrency), out.Plain, out.PlainSplit},
			{phaseSFCart, fmt.Sprintf("storefront +cart ×%d", o.SFConcurrency), out.Cart, out.CartSplit},
		} {
			f := record(k.name, k.label, o.SFConcurrency, k.s)
			f.setRatio("hash_limit", limit)
			f.setLoginCPU(k.s, par.CPU)
			f.ServerProfiled = splitProf != nil
			if k.split != nil {
				f.setCPUSplit(*k.split)
			}
		}
		fig := out.Figures
		fig.compare(rep.Phases[len(rep.Phases)-2], &rep.Phases[len(rep.Phases)-1])
		rep.Storefront = fig
		if fig.MergeCPUMS != nil {
			progress("storefront: the merge adds %s server CPU per login (target ≤%s): %s", fmtSignedMS(*fig.MergeCPUMS), targetMergeCPU, fig.Verdict)
		}
	}
	// 9. Many tenants, on a server of their own (mode A): it runs last,
	// and its server stops before the run ends.
	if o.Phases[groupMultitenant] {
		if err := alive(); err != nil {
			return nil, err
		}
		if o.URL != "" {
			why := "mode B: the phase starts a server of its own with -mt-tenants tenant files, which needs mode A (-server)"
			progress("multitenant: skipped (%s)", why)
			rep.Multitenant = &MultitenantFigures{Skipped: why}
		} else {
			mt := multitenantPhase{o: o, progress: progress, profileDir: o.ProfileDir}
			out, err := mt.run(ctx)
			if err != nil {
				return nil, err
			}
			record(phaseMTSingle, "single-tenant me", o.Concurrency, out.Single)
			multi := record(phaseMTMulti, fmt.Sprintf("multitenant me (%d tenants)", o.MTActive), o.Concurrency, out.Multi)
			fig := out.Figures
			fig.compare(rep.Phases[len(rep.Phases)-2], multi)
			rep.Multitenant = fig
			if fig.P99Ratio != nil {
				progress("multitenant: p99 %.2f× the single tenant's (target ≤%.1f×), RSS %s MiB after start-up and %s at the end (target <%d MiB): %s",
					*fig.P99Ratio, fig.TargetP99Ratio, fmtMiB(fig.RSSStartMiB), fmtMiB(fig.RSSEndMiB), fig.TargetRSSMiB, fig.Verdict)
			}
		}
	}
	if err := alive(); err != nil {
		return nil, err
	}
	rep.TotalSeconds = round(time.Since(began).Seconds(), 1)
	progress("done")
	return rep, nil
}

// smsBudget is how many numbers the SMS phase needs at rate logins per
// second over d, with a margin and one login in flight per worker.
func smsBudget(rate float64, d time.Duration, concurrency int) int {
	return int(math.Ceil(rate*d.Seconds()*smsMargin)) + concurrency
}

func scale(d time.Duration, by float64) time.Duration {
	return time.Duration(float64(d) * by).Round(time.Millisecond)
}
