package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
	"golang.org/x/sync/errgroup"

	"github.com/portcullis/portcullis/cmd/internal/devdb"
	"github.com/portcullis/portcullis/cmd/internal/proc"
	"github.com/portcullis/portcullis/config"
	"github.com/portcullis/portcullis/domain/tenant"
)

// The multi-tenant phase (issue 14) measures what serving many tenants
// costs the server. Mode A only: it starts a server of its own, apart from
// the one of the other phases, with -mt-tenants tenant files (mt-00001 on
// mt-00001.localhost, …), each with the bench tenant's settings, and
// measures its start-up time and resident memory. Of those tenants
// -mt-active are active, spread evenly over them: one account in each is
// registered and logged in for a bearer token (setup, not measured), which
// builds each active tenant's services, as a first request does. The
// first active tenant also gets as many accounts in all, so that both
// kinds of /me below rotate over the same number of users and tokens (the
// same working set for the caches of users, sessions and tokens) and
// differ only in how many tenants they are spread over.
//
// Then GET /auth/v1/me with those bearer tokens, at the /me phases'
// concurrency. First a pass of one request with each token, single kind
// then multi, timed on its own: it is each token's first verification
// (which may read the tenant's signing keys from the store) and each
// user's first read since the setup, the cold start the slices leave out.
// Then, after -warmup, the two kinds side by side in the same server
// process: multi,
// each request to another of the active tenants (by its Host), and single,
// every request to the first active tenant. They alternate in slices in
// the order single, multi, multi, single, … (ABBA, as the storefront
// phase's), so that the machine's noise and any drift weigh on both
// alike. A slice begins with a switch: every worker goes on with the new
// kind once its request of the other kind is answered; when all have
// switched, and a settling time later, the slice's recorded window opens.
// Only requests answered within a window of their kind count.
//
// The targets: p99(multi) ≤ 1.5 × p99(single), and the server's VmRSS
// below 512 MiB after start-up and at the end of the phase.
const (
	targetMTP99Ratio = 1.5
	targetMTRSS      = 512 << 20
)

// Phase names of the multi-tenant phase's two kinds of /me, as they appear
// in the JSON file.
const (
	phaseMTSingle = "single_tenant_me"
	phaseMTMulti  = "multitenant_me"
)

// mtKind is the kind of a multi-tenant-phase request.
type mtKind int

const (
	mtSingle mtKind = iota // to the one tenant
	mtMulti                // spread over the active tenants
)

// String names the kind as the report does.
func (k mtKind) String() string {
	if k == mtMulti {
		return "multi"
	}
	return "single"
}

// mtKindOf is the kind of slice k: single, multi, multi, single, single,
// … (abbaB).
func mtKindOf(k int) mtKind {
	if abbaB(k) {
		return mtMulti
	}
	return mtSingle
}

// mtTenantID is the id of the i-th of n tenants of the phase: mt-00001,
// the number padded to five digits or to n's, so that the files sort in
// order. Number 0 is no tenant's (the template of the files).
func mtTenantID(i, n int) string {
	return fmt.Sprintf("mt-%0*d", max(5, len(strconv.Itoa(n))), i)
}

// mtDomain is the domain of the tenant id.
func mtDomain(id string) string { return id + ".localhost" }

// mtTenant is a tenant of the multi-tenant phase: the bench tenant's
// settings under its own id, display name and domain.
func mtTenant(id string, hash tenant.HashParams) tenant.Tenant {
	t := benchTenant(mtDomain(id), hash)
	t.ID = id
	t.DisplayName = "Load harness " + id
	return t
}

// mtActive returns the numbers (1 to n) of the active tenants: active of
// the n, spread evenly, the first being 1.
func mtActive(n, active int) []int {
	out := make([]int, active)
	for j := range out {
		out[j] = 1 + j*n/active
	}
	return out
}

// mtPick is the index into n targets of worker w's i-th request when conc
// workers run: each worker starts at its own offset, spread over the
// targets, and goes through them in order, so that the workers are spread
// over the tenants at any time.
func mtPick(w, i, conc, n int) int {
	return (w*n/conc + i) % n
}

// writeMTTenants writes the files of n tenants with the hash parameters
// into dir and returns their total size. The files differ only in the id,
// so one is rendered (tenant 0) and the others are it with their id put
// in; the first and the last are read back by the server's own parser.
// (Rendering each through YAML and the parser takes about 1.5 ms of CPU a
// file: 15 s or more for 10,000 on a shared 2-core machine.)
func writeMTTenants(dir string, n int, hash tenant.HashParams) (int64, error) {
	tmplID := mtTenantID(0, n)
	tmpl, err := tenantYAML(mtTenant(tmplID, hash))
	if err != nil {
		return 0, err
	}
	var size int64
	for i := 1; i <= n; i++ {
		id := mtTenantID(i, n)
		body := bytes.ReplaceAll(tmpl, []byte(tmplID), []byte(id))
		if i == 1 || i == n {
			if err := checkMTTenantFile(body, id, hash); err != nil {
				return size, err
			}
		}
		if err := os.WriteFile(filepath.Join(dir, id+".yaml"), body, 0o600); err != nil {
			return size, err
		}
		size += int64(len(body))
	}
	return size, nil
}

// checkMTTenantFile checks that body is the file of tenant id as the
// server reads it.
func checkMTTenantFile(body []byte, id string, hash tenant.HashParams) error {
	got, err := config.ParseTenantYAML(body, id+".yaml")
	if err != nil {
		return fmt.Errorf("the generated file of tenant %s is invalid: %w", id, err)
	}
	want := mtTenant(id, hash)
	if got.ID != want.ID || !slices.Equal(got.Domains, want.Domains) || got.DisplayName != want.DisplayName || got.Password.Hash != hash {
		return fmt.Errorf("the generated file of tenant %s reads as id %q, domains %v, display name %q, hash %+v",
			id, got.ID, got.Domains, got.DisplayName, got.Password.Hash)
	}
	return nil
}

// mtTarget is one request's tenant and credential.
type mtTarget struct {
	Host string // the tenant's domain
	Auth string // "Bearer <access token>"
}

// mtRecord is one request of the phase.
type mtRecord struct {
	Kind    mtKind
	End     time.Time
	Latency time.Duration
	Class   string // "" for a 2xx, else the error class
}

// mtWindow is a slice's recorded window as measured.
type mtWindow struct {
	Kind        mtKind
	Switch      time.Time // when the slice began
	From, End   time.Time
	ServerCPU   time.Duration
	GenCPU      time.Duration
	ServerKnown bool
}

// mtPass is one pass over a kind's targets: one request with each.
type mtPass struct {
	Wall   time.Duration
	OK     int
	Sorted []time.Duration
	Errors errorCounts
	// ServerCPU is the server's CPU time in the pass; ServerKnown is
	// false when it could not be read.
	ServerCPU   time.Duration
	ServerKnown bool
}

// firstPass sends one request with each of targets, conc at once, and
// returns what it measured, with the CPU time of the process serverPid
// (none if 0).
func firstPass(ctx context.Context, hc *fasthttp.HostClient, targets []mtTarget, conc int, timeout time.Duration, serverPid int) mtPass {
	srv := runner{ServerPid: serverPid}
	cpu0, err0 := srv.serverCPU()
	var next atomic.Int64
	lat := make([][]time.Duration, conc)
	errs := make([]errorCounts, conc)
	oks := make([]int, conc)
	start := time.Now()
	var wg sync.WaitGroup
	for w := range conc {
		wg.Go(func() {
			req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
			defer fasthttp.ReleaseRequest(req)
			defer fasthttp.ReleaseResponse(resp)
			errs[w] = errorCounts{}
			for ctx.Err() == nil {
				i := int(next.Add(1)) - 1
				if i >= len(targets) {
					return
				}
				t := targets[i]
				req.Reset()
				req.Header.SetHost(t.Host)
				req.SetRequestURI(pathMe)
				req.Header.Set(fasthttp.HeaderAuthorization, t.Auth)
				t0 := time.Now()
				err := hc.DoTimeout(req, resp, timeout)
				lat[w] = append(lat[w], time.Since(t0))
				class := ""
				if err != nil {
					class = errorClass(err)
				} else {
					class = statusClass(resp.StatusCode(), len(resp.Header.Peek(fasthttp.HeaderRetryAfter)) > 0)
				}
				if class != "" {
					errs[w][class]++
				} else {
					oks[w]++
				}
			}
		})
	}
	wg.Wait()
	p := mtPass{Wall: time.Since(start), Sorted: latencies(lat), Errors: errorCounts{}}
	if cpu1, err1 := srv.serverCPU(); err0 == nil && err1 == nil {
		p.ServerCPU, p.ServerKnown = cpu1-cpu0, true
	}
	for w := range conc {
		p.OK += oks[w]
		p.Errors.merge(errs[w])
	}
	return p
}

// figures reports the pass.
func (p mtPass) figures() *PassFigures {
	f := &PassFigures{Requests: len(p.Sorted), OK: p.OK, Seconds: round(p.Wall.Seconds(), 3),
		P50MS: round(ms(percentile(p.Sorted, 50)), 3), P99MS: round(ms(percentile(p.Sorted, 99)), 3),
		MaxMS: round(ms(percentile(p.Sorted, 100)), 3), Errors: map[string]int(p.Errors), ErrorsTotal: p.Errors.Total()}
	if p.ServerKnown && len(p.Sorted) > 0 {
		f.ServerCPUSeconds = ptr(round(p.ServerCPU.Seconds(), 3))
		f.ServerCPUPerRequestMS = ptr(round(ms(p.ServerCPU)/float64(len(p.Sorted)), 3))
	}
	return f
}

// mtRun is one run of the alternating /me slices.
type mtRun struct {
	addr      string
	timeout   time.Duration
	serverPid int
	conc      int
	slices    int
	// warmup is run before the first slice, both kinds alternating;
	// settle is the time from the last worker's switch to the window's
	// opening, window the recorded window's length.
	warmup, settle, window time.Duration
	targets                [2][]mtTarget // by kind

	slice    atomic.Int64   // the current slice; −1 in the warm-up
	switched []atomic.Int64 // by slice: the workers that have switched to it
	stopped  atomic.Bool
}

// run runs the warm-up and the slices and returns the windows and every
// request.
func (r *mtRun) run(ctx context.Context) ([]mtWindow, []mtRecord) {
	hc := newClient(r.addr, r.conc, r.timeout)
	defer hc.CloseIdleConnections()
	ctxDone := context.AfterFunc(ctx, func() { r.stopped.Store(true) })
	defer ctxDone()

	r.slice.Store(-1)
	r.switched = make([]atomic.Int64, r.slices)
	records := make([][]mtRecord, r.conc)
	var wg sync.WaitGroup
	for w := range r.conc {
		wg.Go(func() { records[w] = r.worker(hc, w) })
	}
	windows := r.coordinate(ctx)
	r.stopped.Store(true)
	wg.Wait()
	var all []mtRecord
	for _, rs := range records {
		all = append(all, rs...)
	}
	return windows, all
}

// coordinate waits out the warm-up, then switches the slices and reads
// the server's and this process's CPU time at each window's ends.
func (r *mtRun) coordinate(ctx context.Context) []mtWindow {
	var out []mtWindow
	if !sleepCtx(ctx, r.warmup) {
		return out
	}
	for k := range r.slices {
		switchAt := time.Now()
		r.slice.Store(int64(k))
		for r.switched[k].Load() < int64(r.conc) {
			if !sleepCtx(ctx, time.Millisecond) {
				return out
			}
		}
		if !sleepCtx(ctx, r.settle) {
			return out
		}
		t0, srv0, gen0, ok0 := readCPU(r.serverPid)
		if !sleepCtx(ctx, time.Until(t0.Add(r.window))) {
			return out
		}
		t1, srv1, gen1, ok1 := readCPU(r.serverPid)
		out = append(out, mtWindow{Kind: mtKindOf(k), Switch: switchAt, From: t0, End: t1,
			ServerCPU: srv1 - srv0, GenCPU: gen1 - gen0, ServerKnown: ok0 && ok1})
	}
	return out
}

// worker is one closed loop: GET /auth/v1/me of the current slice's kind
// (in the warm-up, the two kinds in turn), each with the next of the
// kind's targets.
func (r *mtRun) worker(hc *fasthttp.HostClient, w int) []mtRecord {
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	recs := make([]mtRecord, 0, 4096)
	entered := int64(-1)
	for i := 0; !r.stopped.Load(); i++ {
		k := r.slice.Load()
		if k != entered {
			entered = k
			r.switched[k].Add(1)
		}
		kind := mtKind(i % 2)
		if k >= 0 {
			kind = mtKindOf(int(k))
		}
		ts := r.targets[kind]
		t := ts[mtPick(w, i, r.conc, len(ts))]
		req.Reset()
		req.Header.SetHost(t.Host)
		req.SetRequestURI(pathMe)
		req.Header.Set(fasthttp.HeaderAuthorization, t.Auth)
		start := time.Now()
		err := hc.DoTimeout(req, resp, r.timeout)
		rec := mtRecord{Kind: kind, End: time.Now()}
		rec.Latency = rec.End.Sub(start)
		switch {
		case err != nil:
			rec.Class = errorClass(err)
			time.Sleep(time.Millisecond) // a dead server must not turn the loop into a spin
		default:
			rec.Class = statusClass(resp.StatusCode(), len(resp.Header.Peek(fasthttp.HeaderRetryAfter)) > 0)
		}
		recs = append(recs, rec)
	}
	return recs
}

// mtTally is a run sorted into its windows.
type mtTally struct {
	Kinds [2]mtKindTally
	// Spill counts requests of the other kind answered within a window,
	// which the switch before each window should prevent.
	Spill int
	// Unrecorded counts the failed requests answered outside any window
	// of their kind (in the warm-up, the switches, after the last), by
	// class.
	Unrecorded errorCounts
}

// mtKindTally is one kind's share of a run.
type mtKindTally struct {
	Windows     int
	Wall        time.Duration
	Requests    int
	OK          int
	Errors      errorCounts
	Sorted      []time.Duration
	ServerCPU   time.Duration
	GenCPU      time.Duration
	ServerKnown bool
}

// tallyMT sorts records into windows: a request answered within a window
// of its kind counts there; one of the other kind is spill.
func tallyMT(windows []mtWindow, records []mtRecord) mtTally {
	t := mtTally{Unrecorded: errorCounts{}}
	for i := range t.Kinds {
		t.Kinds[i] = mtKindTally{Errors: errorCounts{}, ServerKnown: true}
	}
	lat := make([][]time.Duration, 2)
	for _, rec := range records {
		j := -1
		for i, w := range windows {
			if !rec.End.Before(w.From) && rec.End.Before(w.End) {
				j = i
				break
			}
		}
		if j < 0 || rec.Kind != windows[j].Kind {
			if j >= 0 {
				t.Spill++
			}
			if rec.Class != "" {
				t.Unrecorded[rec.Class]++
			}
			continue
		}
		k := &t.Kinds[rec.Kind]
		k.Requests++
		lat[rec.Kind] = append(lat[rec.Kind], rec.Latency)
		if rec.Class != "" {
			k.Errors[rec.Class]++
			continue
		}
		k.OK++
	}
	for _, w := range windows {
		k := &t.Kinds[w.Kind]
		k.Windows++
		k.Wall += w.End.Sub(w.From)
		k.ServerCPU += w.ServerCPU
		k.GenCPU += w.GenCPU
		k.ServerKnown = k.ServerKnown && w.ServerKnown
	}
	for i := range t.Kinds {
		k := &t.Kinds[i]
		k.Sorted = latencies(lat[i : i+1])
		if k.Windows == 0 {
			k.ServerKnown = false
		}
	}
	return t
}

// sample is the kind's figures in the shape of the other phases'.
func (k mtKindTally) sample() sample {
	return sample{Wall: k.Wall, Requests: k.Requests, OK: k.OK, Sorted: k.Sorted, Errors: k.Errors,
		GenCPU: k.GenCPU, ServerCPU: k.ServerCPU, ServerKnown: k.ServerKnown}
}

// multitenantPhase starts the phase's server, sets it up and runs the
// phase.
type multitenantPhase struct {
	o        options
	progress func(format string, args ...any)
	// profileDir, if set (-profile), gets the server's CPU profiles of the
	// first -duration of the setup and of the slices (both kinds), a
	// goroutine dump from half-way through the slices, and its heap
	// profiles after the setup and at the end.
	profileDir string
}

// mtOutcome is what the phase measured: each kind's sample and the
// phase's figures, not yet compared.
type mtOutcome struct {
	Single, Multi sample
	Figures       *MultitenantFigures
}

// run writes the tenant files, starts the server on them, registers and
// logs in the accounts, runs the slices and stops the server.
func (p multitenantPhase) run(ctx context.Context) (mtOutcome, error) {
	o := p.o
	fig := &MultitenantFigures{Tenants: o.MTTenants, ActiveTenants: o.MTActive, Concurrency: o.Concurrency,
		Order: "single, multi, multi, single, …", SettleSeconds: o.MTSettle.Seconds(), WindowSeconds: o.MTWindow.Seconds(),
		SetupConcurrency: o.MTSetupConcurrency, TargetP99Ratio: targetMTP99Ratio, TargetRSSMiB: targetMTRSS >> 20}
	active := mtActive(o.MTTenants, o.MTActive)
	singleID := mtTenantID(active[0], o.MTTenants)
	fig.SingleTenant = singleID
	fig.FirstTenant, fig.LastTenant = mtTenantID(1, o.MTTenants), mtTenantID(o.MTTenants, o.MTTenants)

	p.progress("multitenant: writing %d tenant files (%s … %s) for a server of its own", o.MTTenants, fig.FirstTenant, fig.LastTenant)
	var written time.Duration
	settings := serverSettings{Binary: o.Server, LogLevel: o.LogLevel, TenantFiles: func(dir string) error {
		t0 := time.Now()
		size, err := writeMTTenants(dir, o.MTTenants, o.Hash)
		written, fig.FilesMiB = time.Since(t0), round(float64(size)/(1<<20), 1)
		return err
	}}
	var prof *profiler
	if p.profileDir != "" {
		if err := os.MkdirAll(p.profileDir, 0o755); err != nil {
			return mtOutcome{}, err
		}
		pa, err := proc.FreeLoopbackAddr()
		if err != nil {
			return mtOutcome{}, err
		}
		settings.PprofListen = pa
		prof = &profiler{Addr: pa, Dir: p.profileDir, CPUOnly: true}
	}
	profErr := func(what string, err error) {
		if err != nil {
			p.progress("multitenant: profile of %s: %v", what, err)
		}
	}
	fig.Stores = "inside the server's process"
	var stores *devdb.Process
	if o.MTDevDB != "" {
		dir, err := os.MkdirTemp("", "portcullis-load-devdb-")
		if err != nil {
			return mtOutcome{}, err
		}
		defer os.RemoveAll(dir)
		if stores, err = devdb.Start(o.MTDevDB, dir); err != nil {
			return mtOutcome{}, fmt.Errorf("multitenant: %w; or pass -mt-devdb '' for the stores inside the server", err)
		}
		defer stores.Stop()
		fig.Stores = "a portcullis-devdb process beside the server"
		settings.Env = []string{"PORTCULLIS_MONGODB_URI=" + stores.MongoURI, "PORTCULLIS_MONGODB_DATABASE=load", "PORTCULLIS_REDIS_URL=" + stores.RedisURL}
	}
	srv, cleanup, err := startServer(ctx, settings)
	if err != nil {
		return mtOutcome{}, err
	}
	defer cleanup()
	fig.WriteSeconds = round(written.Seconds(), 3)
	fig.Pid = srv.Pid()
	fig.StartupSeconds = round(srv.ListeningAt.Sub(srv.Started).Seconds(), 3)
	fig.ServerStartupSeconds = round(srv.Listening.Startup.Seconds(), 3)
	fig.ServerTenants = srv.Listening.Tenants
	p.progress("multitenant: server (pid %d) listening %.2fs after exec (its own figure %.2fs) with %d tenants; files written in %.1fs",
		fig.Pid, fig.StartupSeconds, fig.ServerStartupSeconds, fig.ServerTenants, fig.WriteSeconds)
	failed := func(what string, err error) error {
		if !srv.alive() {
			return fmt.Errorf("multitenant: %s: %w; its server has exited; its log ends:\n%s", what, err, srv.tail)
		}
		return fmt.Errorf("multitenant: %s: %w", what, err)
	}
	if fig.ServerTenants != o.MTTenants {
		return mtOutcome{}, failed("start-up", fmt.Errorf("the server says it loaded %d tenants, not the %d files written", fig.ServerTenants, o.MTTenants))
	}
	if err := waitReady(ctx, srv.Addr, time.Minute); err != nil {
		return mtOutcome{}, failed("server not ready", err)
	}
	rss := func() *float64 {
		if b, err := proc.RSS(fig.Pid); err == nil {
			return ptr(round(float64(b)/(1<<20), 1))
		}
		return nil
	}
	fig.RSSStartMiB = rss()

	// Setup: an account in each active tenant, and as many in all in the
	// single tenant, each registered and logged in for a bearer token.
	perTenant := newUsers(o.MTActive)
	extra := newUsers(o.MTActive - 1)
	type account struct {
		host string
		u    *user
	}
	var accounts []account
	var targets [2][]mtTarget
	for j, n := range active {
		accounts = append(accounts, account{mtDomain(mtTenantID(n, o.MTTenants)), perTenant[j]})
	}
	for _, u := range extra {
		accounts = append(accounts, account{mtDomain(singleID), u})
	}
	fig.Accounts = len(accounts)
	p.progress("setup: registering and logging in %d accounts: one in each of %d active tenants, %d more in %s (concurrency %d)",
		len(accounts), o.MTActive, len(extra), singleID, o.MTSetupConcurrency)
	hc := newClient(srv.Addr, o.MTSetupConcurrency, o.Timeout)
	defer hc.CloseIdleConnections()
	setupProfiled := prof.start(ctx, "multitenant_setup", o.Duration)
	cpu0, cpuErr0 := procCPU(fig.Pid)
	t0 := time.Now()
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(o.MTSetupConcurrency)
	for _, a := range accounts {
		c := client{hc: hc, host: a.host, timeout: o.Timeout}
		g.Go(func() error {
			if err := register(gctx, c, a.u); err != nil {
				return err
			}
			return logIn(gctx, c, a.u, "bearer")
		})
	}
	if err := g.Wait(); err != nil {
		return mtOutcome{}, failed("setup", err)
	}
	fig.SetupSeconds = round(time.Since(t0).Seconds(), 3)
	if cpu1, err := procCPU(fig.Pid); err == nil && cpuErr0 == nil {
		fig.SetupServerCPUSeconds = ptr(round((cpu1 - cpu0).Seconds(), 3))
	}
	for _, a := range accounts[:o.MTActive] {
		targets[mtMulti] = append(targets[mtMulti], mtTarget{Host: a.host, Auth: a.u.Bearer})
	}
	targets[mtSingle] = []mtTarget{{Host: accounts[0].host, Auth: accounts[0].u.Bearer}}
	for _, a := range accounts[o.MTActive:] {
		targets[mtSingle] = append(targets[mtSingle], mtTarget{Host: a.host, Auth: a.u.Bearer})
	}
	for _, a := range []account{accounts[0], accounts[o.MTActive-1], accounts[len(accounts)-1]} {
		if err := checkBearer(client{hc: hc, host: a.host, timeout: o.Timeout}, a.u); err != nil {
			return mtOutcome{}, failed("setup check", err)
		}
	}
	fig.RSSSetupMiB = rss()
	profErr("the setup", setupProfiled()) // before the slices: one CPU profile at a time
	profErr("the heap after the setup", prof.heap(ctx, "multitenant_setup"))
	p.progress("setup: %d accounts in %d tenants (%.1fs, server CPU %ss); server RSS %s MiB after start-up, %s after the setup",
		len(accounts), o.MTActive, fig.SetupSeconds, fmtSeconds(fig.SetupServerCPUSeconds), fmtMiB(fig.RSSStartMiB), fmtMiB(fig.RSSSetupMiB))

	// The slices.
	n := 2 * sfSlicesPerKind(o.Duration, o.MTWindow)
	fig.SlicesPerKind = n / 2
	p.progress("multitenant: /me at concurrency %d: a first pass of one request with each token, then %d slices (single, multi, multi, single, …),\n"+
		"        each a switch, %s of settling and a %s window, after a %s warm-up", o.Concurrency, n, o.MTSettle, o.MTWindow, o.Warmup)
	r := &mtRun{addr: srv.Addr, timeout: o.Timeout, serverPid: fig.Pid, conc: o.Concurrency, slices: n,
		warmup: o.Warmup, settle: o.MTSettle, window: o.MTWindow, targets: targets}
	var slicesProf *profiler
	if prof != nil {
		// With a goroutine dump from half-way through, which shows what
		// the requests in flight wait for.
		slicesProf = &profiler{Addr: prof.Addr, Dir: prof.Dir}
	}
	passHC := newClient(srv.Addr, o.Concurrency, o.Timeout)
	for _, k := range []mtKind{mtSingle, mtMulti} {
		pass := firstPass(ctx, passHC, targets[k], o.Concurrency, o.Timeout, fig.Pid)
		f := pass.figures()
		if k == mtSingle {
			fig.FirstPassSingle = f
		} else {
			fig.FirstPassMulti = f
		}
		p.progress("multitenant: first pass, %s: %d requests, one with each token, in %.2fs (p50 %s, p99 %s, errors %d, server CPU %ss)",
			k, f.Requests, f.Seconds, fmtDur(fromMS(f.P50MS)), fmtDur(fromMS(f.P99MS)), f.ErrorsTotal, fmtSeconds(f.ServerCPUSeconds))
	}
	passHC.CloseIdleConnections()
	if err := ctx.Err(); err != nil {
		return mtOutcome{}, err
	}
	slicesProfiled := slicesProf.start(ctx, "multitenant_slices", o.Warmup+time.Duration(n)*(o.MTSettle+o.MTWindow))
	windows, records := r.run(ctx)
	profErr("the slices", slicesProfiled())
	if err := ctx.Err(); err != nil {
		return mtOutcome{}, err
	}
	if !srv.alive() {
		return mtOutcome{}, failed("the /me slices", fmt.Errorf("%d of %d windows run", len(windows), n))
	}
	fig.RSSEndMiB = rss()
	if b, err := proc.PeakRSS(fig.Pid); err == nil {
		fig.PeakRSSMiB = ptr(round(float64(b)/(1<<20), 1))
	}
	if stores != nil {
		if b, err := stores.RSS(); err == nil {
			fig.StoresRSSMiB = ptr(round(float64(b)/(1<<20), 1))
		}
	}
	profErr("the heap at the end", prof.heap(ctx, "multitenant_end"))
	t := tallyMT(windows, records)
	fig.Spill, fig.UnrecordedErrors = t.Spill, map[string]int(t.Unrecorded)
	if len(windows) > 0 {
		var sum, most time.Duration
		for _, w := range windows {
			g := w.From.Sub(w.Switch)
			sum += g
			most = max(most, g)
		}
		fig.MeanGapSeconds = round((sum / time.Duration(len(windows))).Seconds(), 3)
		fig.MaxGapSeconds = round(most.Seconds(), 3)
	}
	return mtOutcome{Single: t.Kinds[mtSingle].sample(), Multi: t.Kinds[mtMulti].sample(), Figures: fig}, nil
}

// checkBearer makes sure that u's bearer token answers GET /auth/v1/me
// with u at c's tenant.
func checkBearer(c client, u *user) error {
	a, err := c.do("GET", pathMe, nil, "Authorization: "+u.Bearer)
	if err != nil {
		return err
	}
	if a.Status != fasthttp.StatusOK || !bytes.Contains(a.Body, []byte(u.Email)) {
		return fmt.Errorf("GET %s at %s with %s's bearer token: status %d: %s", pathMe, c.host, u.Email, a.Status, a.Body)
	}
	return nil
}

// fmtSeconds prints seconds, or "-" when unknown.
func fmtSeconds(v *float64) string {
	if v == nil {
		return "-"
	}
	return fmt.Sprintf("%.1f", *v)
}

// fmtMiB prints a size in MiB, or "-" when unknown.
func fmtMiB(v *float64) string {
	if v == nil {
		return "-"
	}
	return fmt.Sprintf("%.1f", *v)
}
