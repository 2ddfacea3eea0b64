// Command portcullis-soak runs a built portcullis server for a while under
// mixed traffic over every login method — password, SMS code, e-mail code,
// magic link — with the signed-in user's /me, a token refresh and a
// logout, and reports, interval by interval, the operations, the errors,
// the p99 latency and the server's RSS; then the drift of p99 and RSS from
// the first interval to the last (targets: no unexpected error, RSS growth
// under 10%).
//
// The server runs in dev mode with a tenant of its own whose limits are
// far above the load, so that every error is one. Its stores, the embedded
// ones, run in a portcullis-devdb process beside it (-devdb), so that the
// RSS measured is the server's own, as beside a real MongoDB and Redis (an
// in-memory Redis and the store's caches inside the server would grow with
// the data the soak writes). Codes and links are read from the dev outbox.
// `make soak` runs it for 10 minutes.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/portcullis/portcullis/cmd/internal/devdb"
	"github.com/portcullis/portcullis/cmd/internal/proc"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// options are the soak's flags.
type options struct {
	Server      string
	Duration    time.Duration
	Intervals   int
	Concurrency int
	JSON        string
	DevDB       string
	// CacheEntries is the server's cache_entries.
	CacheEntries int
}

func run(args []string, stdout, stderr io.Writer) int {
	var o options
	fs := flag.NewFlagSet("portcullis-soak", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.Server, "server", "bin/portcullis", "the server binary to run")
	fs.DurationVar(&o.Duration, "duration", 10*time.Minute, "how long the traffic runs")
	fs.IntVar(&o.Intervals, "intervals", 10, "how many intervals the run is reported in (p99 and RSS each)")
	fs.IntVar(&o.Concurrency, "concurrency", 8, "concurrent users, each going through the login methods in turn")
	fs.StringVar(&o.JSON, "json", "", "also write the figures to this file")
	fs.IntVar(&o.CacheEntries, "cache-entries", 1000, "the server's cache_entries: small, so that its caches of users, sessions and tokens, bounded\nby it, are full within the first interval and what grows after is not theirs (the default of 50,000 takes an hour of\nthis traffic to fill)")
	fs.StringVar(&o.DevDB, "devdb", "bin/portcullis-devdb", "the portcullis-devdb binary that serves the server's stores beside it;\nempty: the embedded stores inside the server's process (whose RSS then counts them)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if o.Duration <= 0 || o.Intervals < 2 || o.Concurrency < 1 || o.CacheEntries < 1 {
		fmt.Fprintln(stderr, "portcullis-soak: -duration must be positive, -intervals at least 2, -concurrency and -cache-entries at least 1")
		return 2
	}
	rep, err := soak(o, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "portcullis-soak:", err)
		return 1
	}
	rep.write(stdout)
	if o.JSON != "" {
		b, _ := json.MarshalIndent(rep, "", "  ")
		if err := os.WriteFile(o.JSON, b, 0o644); err != nil {
			fmt.Fprintln(stderr, "portcullis-soak:", err)
			return 1
		}
	}
	if !rep.Pass {
		return 1
	}
	return 0
}

// soakTenant is the tenant file of the run: every login method, limits far
// above the load, no cooldown between codes.
const soakTenant = `id: soak
display_name: Soak
domains: [soak.localhost]
login_methods: [password, sms_otp, email_link]
sms: {default_region: TR, resend_cooldown: 0s, daily_cap: 1000, code_ttl: 5m}
email: {resend_cooldown: 1s, daily_cap: 1000}
throttling:
  login_per_account: {limit: 1000000, window: 1m}
  login_per_ip: {limit: 1000000, window: 1m}
  login_per_device: {limit: 1000000, window: 1m}
  register_per_ip: {limit: 1000000, window: 1m}
  signup_notice_per_recipient: {limit: 1000000, window: 1m}
  sms_per_ip: {limit: 1000000, window: 1m}
  sms_per_calling_code: {limit: 1000000, window: 1m}
  sms_per_tenant: {limit: 1000000, window: 1m}
  password_reset_per_ip: {limit: 1000000, window: 1m}
  verification_mail_per_ip: {limit: 1000000, window: 1m}
  email_login_per_ip: {limit: 1000000, window: 1m}
`

// server is the running server.
type server struct {
	cmd  *exec.Cmd
	base string
	host string
	// stores serves its stores; nil when they are inside it.
	stores *devdb.Process
}

func startServer(o options, dir string) (*server, error) {
	tenants := filepath.Join(dir, "tenants")
	if err := os.MkdirAll(tenants, 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(tenants, "soak.yaml"), []byte(soakTenant), 0o644); err != nil {
		return nil, err
	}
	cmd := exec.Command(o.Server, "serve")
	cmd.Env = append(os.Environ(), "PORTCULLIS_DEV_MODE=true", "PORTCULLIS_DATA_DIR="+filepath.Join(dir, "var"),
		"PORTCULLIS_TENANTS_DIR="+tenants, "PORTCULLIS_LISTEN=127.0.0.1:0", "PORTCULLIS_METRICS_LISTEN=off",
		"PORTCULLIS_LOG_FORMAT=json", "PORTCULLIS_LOG_LEVEL=warn", "PORTCULLIS_CACHE_ENTRIES="+strconv.Itoa(o.CacheEntries))
	var stores *devdb.Process
	if o.DevDB != "" {
		var err error
		if stores, err = devdb.Start(o.DevDB, dir); err != nil {
			return nil, fmt.Errorf("%w; or pass -devdb '' for the stores inside the server", err)
		}
		cmd.Env = append(cmd.Env, "PORTCULLIS_MONGODB_URI="+stores.MongoURI, "PORTCULLIS_MONGODB_DATABASE=soak", "PORTCULLIS_REDIS_URL="+stores.RedisURL)
	}
	stopStores := func() {
		if stores != nil {
			stores.Stop()
		}
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		stopStores()
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		stopStores()
		return nil, err
	}
	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		re := regexp.MustCompile(`running in dev mode on (http://[^ ]+)`)
		for sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case urls <- m[1]:
				default:
				}
			}
		}
	}()
	select {
	case u := <-urls:
		port := u[strings.LastIndex(u, ":")+1:]
		return &server{cmd: cmd, base: "http://127.0.0.1:" + port, host: "soak.localhost", stores: stores}, nil
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		stopStores()
		return nil, errors.New("the server did not start within 60s")
	}
}

// client sends the soak's requests.
type client struct {
	s    *server
	http *http.Client
}

// call sends a JSON request and decodes a JSON answer into out (nil: none).
func (c *client) call(method, path, bearer string, body, out any) (int, error) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.s.base+path, rd)
	if err != nil {
		return 0, err
	}
	req.Host = c.s.host
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, err
	}
	if resp.StatusCode >= 300 {
		return resp.StatusCode, fmt.Errorf("%s %s: %d %.200s", method, path, resp.StatusCode, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return resp.StatusCode, fmt.Errorf("%s %s: %w", method, path, err)
		}
	}
	return resp.StatusCode, nil
}

type outboxMessage struct {
	ID      string `json:"id"`
	To      string `json:"to"`
	Subject string `json:"subject"`
	Text    string `json:"text"`
}

// newest returns the newest message to to whose subject begins with
// subject (any SMS for ""), once it is one not seen before, waiting up to
// 10s.
func (c *client) newest(to, subject string, seen map[string]bool) (outboxMessage, error) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		var box struct {
			Messages []outboxMessage `json:"messages"`
		}
		if _, err := c.call(http.MethodGet, "/dev/outbox?to="+urlEscape(to), "", nil, &box); err != nil {
			return outboxMessage{}, err
		}
		for i := len(box.Messages) - 1; i >= 0; i-- {
			m := box.Messages[i]
			if !strings.HasPrefix(m.Subject, subject) {
				continue
			}
			if !seen[m.ID] {
				seen[m.ID] = true
				return m, nil
			}
			break // the newest of its kind was seen: wait for a new one
		}
		if time.Now().After(deadline) {
			return outboxMessage{}, fmt.Errorf("no new message to %s in the outbox after 10s", to)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func urlEscape(s string) string { return strings.ReplaceAll(s, "+", "%2B") }

var (
	codeRE  = regexp.MustCompile(`\b(\d{6})\b`)
	tokenRE = regexp.MustCompile(`[?&]token=([A-Za-z0-9_.%-]+)`)
)

// user is one account of the soak, with its own address and number.
type user struct {
	email, phone, password string
	seen                   map[string]bool // ids of the messages used
	// mailed is when each e-mail flow last mailed the user: the tenant's
	// shortest resend cooldown (1s) must pass before the next.
	mailed map[string]time.Time
}

// mailCooldown is the soak tenant's email.resend_cooldown, and a margin.
const mailCooldown = 1100 * time.Millisecond

// waitCooldown waits until flow may mail u again, and notes the mail.
func (u *user) waitCooldown(flow string) {
	if u.mailed == nil {
		u.mailed = map[string]time.Time{}
	}
	time.Sleep(time.Until(u.mailed[flow].Add(mailCooldown)))
	u.mailed[flow] = time.Now()
}

type tokens struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
}

// methods are the login methods a user goes through in turn.
var methods = []string{"password", "sms", "email_code", "magic_link"}

// signIn signs u in by method and returns the tokens.
func (c *client) signIn(u *user, method string) (tokens, error) {
	var t tokens
	switch method {
	case "password":
		_, err := c.call(http.MethodPost, "/auth/v1/login", "", map[string]any{"email": u.email, "password": u.password}, &t)
		return t, err
	case "sms":
		if _, err := c.call(http.MethodPost, "/auth/v1/sms/send", "", map[string]any{"phone": u.phone}, nil); err != nil {
			return t, err
		}
		m, err := c.newest(u.phone, "", u.seen)
		if err != nil {
			return t, err
		}
		_, err = c.call(http.MethodPost, "/auth/v1/sms/verify", "", map[string]any{"phone": u.phone, "code": codeRE.FindString(m.Text)}, &t)
		return t, err
	case "email_code":
		u.waitCooldown("mail") // the code and the link share a cooldown
		if _, err := c.call(http.MethodPost, "/auth/v1/email/code/send", "", map[string]any{"email": u.email}, nil); err != nil {
			return t, err
		}
		m, err := c.newest(u.email, "Your Soak sign-in code", u.seen)
		if err != nil {
			return t, err
		}
		_, err = c.call(http.MethodPost, "/auth/v1/email/code/verify", "", map[string]any{"email": u.email, "code": codeRE.FindString(m.Text)}, &t)
		return t, err
	default: // magic_link
		u.waitCooldown("mail") // the code and the link share a cooldown
		if _, err := c.call(http.MethodPost, "/auth/v1/magic-link/send", "", map[string]any{"email": u.email}, nil); err != nil {
			return t, err
		}
		m, err := c.newest(u.email, "Sign in to Soak", u.seen)
		if err != nil {
			return t, err
		}
		tok := tokenRE.FindStringSubmatch(m.Text)
		if tok == nil {
			return t, fmt.Errorf("no link in the mail to %s", u.email)
		}
		_, err = c.call(http.MethodPost, "/auth/v1/magic-link/consume", "", map[string]any{"token": unescape(tok[1])}, &t)
		return t, err
	}
}

func unescape(s string) string {
	r := strings.NewReplacer("%2D", "-", "%5F", "_", "%2E", ".", "%7E", "~")
	return r.Replace(s)
}

// sample is one operation's outcome.
type sample struct {
	at      time.Time
	took    time.Duration
	failure string // "" for success
}

func soak(o options, stderr io.Writer) (*report, error) {
	dir, err := os.MkdirTemp("", "portcullis-soak-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	s, err := startServer(o, dir)
	if err != nil {
		return nil, err
	}
	defer func() {
		_ = s.cmd.Process.Kill()
		_ = s.cmd.Wait()
		if s.stores != nil {
			s.stores.Stop()
		}
	}()
	c := &client{s: s, http: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}}

	users := make([]*user, o.Concurrency)
	for i := range users {
		users[i] = &user{email: fmt.Sprintf("soak-%d@example.com", i), phone: fmt.Sprintf("+90535555%04d", i), password: "soak-Password-" + strconv.Itoa(i),
			seen: map[string]bool{}}
		if _, err := c.call(http.MethodPost, "/auth/v1/register", "", map[string]any{"email": users[i].email, "password": users[i].password,
			"phone": users[i].phone, "first_name": "Soak", "last_name": strconv.Itoa(i)}, nil); err != nil {
			return nil, fmt.Errorf("register: %w", err)
		}
	}
	fmt.Fprintf(stderr, "soak: %d users, %s of traffic in %d intervals\n", len(users), o.Duration, o.Intervals)

	var (
		mu      sync.Mutex
		samples []sample
		stop    atomic.Bool
		wg      sync.WaitGroup
	)
	record := func(start time.Time, err error) {
		smp := sample{at: start, took: time.Since(start)}
		if err != nil {
			smp.failure = err.Error()
		}
		mu.Lock()
		samples = append(samples, smp)
		mu.Unlock()
	}
	begin := time.Now()
	for i, u := range users {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := i; !stop.Load(); n++ {
				start := time.Now()
				t, err := c.signIn(u, methods[n%len(methods)])
				if err == nil {
					_, err = c.call(http.MethodGet, "/auth/v1/me", t.AccessToken, nil, nil)
				}
				if err == nil {
					var r tokens
					if _, err = c.call(http.MethodPost, "/auth/v1/token/refresh", "", map[string]any{"refresh_token": t.RefreshToken}, &r); err == nil {
						_, err = c.call(http.MethodPost, "/auth/v1/logout", r.AccessToken, nil, nil)
					}
				}
				record(start, err)
			}
		}()
	}
	interval := o.Duration / time.Duration(o.Intervals)
	rep := &report{Duration: o.Duration.String(), Concurrency: o.Concurrency, Users: len(users), Stores: "inside the server's process", CacheEntries: o.CacheEntries}
	if s.stores != nil {
		rep.Stores = "a portcullis-devdb process beside the server"
	}
	// An interval's RSS is the median of a reading every second: each
	// password hash allocates its 19 MiB and the garbage collector returns
	// memory to the system when it gets to it, so that one reading can be
	// tens of MiB off the process's level either way.
	var rssBytes []uint64
	for i := range o.Intervals {
		end := begin.Add(time.Duration(i+1) * interval)
		var readings []uint64
		for {
			rss, err := proc.RSS(s.cmd.Process.Pid)
			if err != nil {
				return nil, err
			}
			readings = append(readings, rss)
			if !time.Now().Add(time.Second).Before(end) {
				break
			}
			time.Sleep(time.Second)
		}
		time.Sleep(time.Until(end))
		slices.Sort(readings)
		rssBytes = append(rssBytes, readings[len(readings)/2])
		fmt.Fprintf(stderr, "soak: interval %d/%d done, RSS %.1f MiB (median of %d readings, %.1f to %.1f)\n", i+1, o.Intervals,
			float64(rssBytes[i])/(1<<20), len(readings), float64(readings[0])/(1<<20), float64(readings[len(readings)-1])/(1<<20))
	}
	if s.stores != nil {
		if b, err := s.stores.RSS(); err == nil {
			rep.StoresRSSMiB = float64(b) / (1 << 20)
		}
	}
	stop.Store(true)
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	rep.fill(samples, rssBytes, begin, interval)
	return rep, nil
}

// intervalFigures are one interval's figures.
type intervalFigures struct {
	Index      int     `json:"index"`
	Operations int     `json:"operations"`
	Errors     int     `json:"errors"`
	P99MS      float64 `json:"p99_ms"`
	RSSMiB     float64 `json:"rss_mib"`
}

// report is the soak's outcome.
type report struct {
	Duration    string `json:"duration"`
	Concurrency int    `json:"concurrency"`
	Users       int    `json:"users"`
	Stores      string `json:"stores"`
	// CacheEntries is the server's cache_entries.
	CacheEntries int `json:"cache_entries"`
	// StoresRSSMiB is the devdb process's RSS at the end (not judged).
	StoresRSSMiB float64           `json:"stores_rss_mib,omitempty"`
	Intervals    []intervalFigures `json:"intervals"`
	Operations   int               `json:"operations"`
	Errors       int               `json:"errors"`
	ErrorKinds   map[string]int    `json:"error_kinds,omitempty"`
	P99Drift     float64           `json:"p99_drift"`
	RSSGrowth    float64           `json:"rss_growth"`
	Pass         bool              `json:"pass"`
}

// fill computes the figures: each operation in the interval it began in.
func (r *report) fill(samples []sample, rss []uint64, begin time.Time, interval time.Duration) {
	r.ErrorKinds = map[string]int{}
	per := make([][]time.Duration, len(rss))
	r.Intervals = make([]intervalFigures, len(rss))
	for i := range r.Intervals {
		r.Intervals[i] = intervalFigures{Index: i + 1, RSSMiB: float64(rss[i]) / (1 << 20)}
	}
	for _, s := range samples {
		i := int(s.at.Sub(begin) / interval)
		if i >= len(rss) {
			continue // begun after the last interval: not counted
		}
		r.Intervals[i].Operations++
		r.Operations++
		if s.failure != "" {
			r.Intervals[i].Errors++
			r.Errors++
			r.ErrorKinds[errorKind(s.failure)]++
			continue
		}
		per[i] = append(per[i], s.took)
	}
	for i := range per {
		r.Intervals[i].P99MS = p99(per[i])
	}
	// Drift compares the start and the end of the run: the median of the
	// first three intervals and of the last three (the first and the last
	// in a shorter run), so that one garbage collection does not decide it.
	k := 1
	if len(r.Intervals) >= 6 {
		k = 3
	}
	median := func(ivs []intervalFigures, f func(intervalFigures) float64) float64 {
		v := make([]float64, len(ivs))
		for i, iv := range ivs {
			v[i] = f(iv)
		}
		slices.Sort(v)
		return v[len(v)/2]
	}
	p99Of := func(iv intervalFigures) float64 { return iv.P99MS }
	rssOf := func(iv intervalFigures) float64 { return iv.RSSMiB }
	head, tail := r.Intervals[:k], r.Intervals[len(r.Intervals)-k:]
	if m := median(head, p99Of); m > 0 {
		r.P99Drift = median(tail, p99Of) / m
	}
	if m := median(head, rssOf); m > 0 {
		r.RSSGrowth = (median(tail, rssOf) - m) / m
	}
	r.Pass = r.Errors == 0 && r.RSSGrowth < 0.10 && r.Operations > 0
}

// errorKind shortens a failure to its request and status.
func errorKind(f string) string {
	if i := strings.Index(f, ": "); i > 0 {
		if j := strings.Index(f[i+2:], " "); j > 0 {
			return f[:i+2+j]
		}
	}
	if len(f) > 80 {
		return f[:80]
	}
	return f
}

// p99 is the 99th percentile of ds, in milliseconds (nearest rank).
func p99(ds []time.Duration) float64 {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := (len(s)*99 + 99) / 100
	return float64(s[i-1].Microseconds()) / 1000
}

func (r *report) write(w io.Writer) {
	fmt.Fprintf(w, "soak: %s at concurrency %d (%d users, each signing in by password, SMS code, e-mail code and magic link in turn,\n"+
		"      then /me, a refresh and a logout); cache_entries %d; the stores %s", r.Duration, r.Concurrency, r.Users, r.CacheEntries, r.Stores)
	if r.StoresRSSMiB > 0 {
		fmt.Fprintf(w, " (its RSS at the end %.1f MiB, not judged)", r.StoresRSSMiB)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "interval  operations  errors   p99 ms  RSS MiB")
	for _, iv := range r.Intervals {
		fmt.Fprintf(w, "%8d  %10d  %6d  %7.1f  %7.1f\n", iv.Index, iv.Operations, iv.Errors, iv.P99MS, iv.RSSMiB)
	}
	verdict := "pass"
	if !r.Pass {
		verdict = "miss"
	}
	fmt.Fprintf(w, "total: %d operations, %d errors; p99 drift %.2f× and RSS growth %+.1f%% (target < 10%%), the end against the start\n"+
		"       (medians of the last and the first three intervals): %s\n",
		r.Operations, r.Errors, r.P99Drift, 100*r.RSSGrowth, verdict)
	for k, n := range r.ErrorKinds {
		fmt.Fprintf(w, "errors: %d × %s\n", n, k)
	}
}
