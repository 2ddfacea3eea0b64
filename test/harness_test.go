// Package e2e_test drives the built portcullis binary over HTTP and signals,
// exactly as a client and an operator would. TestMain builds the binary once;
// every test starts its own server process on 127.0.0.1:0 with its own data
// directory, so tests run in parallel.
//
// With MONGODB_URI set (make test-integration) the servers use it instead of
// the embedded store, each fresh data directory getting its own database.
package e2e_test

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Bounds on waits. Start-up is generous: the first start of the embedded
// FerretDB on a loaded two-core machine can take a while.
const (
	startTimeout   = 60 * time.Second
	exitTimeout    = 30 * time.Second
	logWaitTimeout = 10 * time.Second
	requestTimeout = 30 * time.Second
)

var (
	// binary is the server built by TestMain.
	binary string
	// shippedTenants is the repository's config/tenants directory (demo).
	shippedTenants string
)

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "portcullis-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	binary = filepath.Join(dir, "portcullis")
	build := exec.Command("go", "build", "-o", binary, "github.com/portcullis/portcullis/cmd/portcullis")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: building the server failed:", err)
		return 1
	}
	shippedTenants, err = filepath.Abs(filepath.Join("..", "config", "tenants"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	return m.Run()
}

// options configure one server process.
type options struct {
	// Env adds or overrides PORTCULLIS_* variables. The harness always sets
	// dev mode, JSON logs, listen 127.0.0.1:0, the data dir and the shipped
	// tenants dir, unless Env overrides them.
	Env map[string]string
	// DataDir is reused when set (restart tests); otherwise a fresh one.
	DataDir string
	// Args follow "serve" on the command line, e.g. -config FILE.
	Args []string
}

// server is one running (or exited) portcullis process.
type server struct {
	URL     string // http://127.0.0.1:PORT, from the "listening" log line
	Addr    string // 127.0.0.1:PORT
	DataDir string
	// Startup is the time from process start to reading the "listening" line.
	Startup time.Duration
	// Listening is the "listening" log entry.
	Listening logEntry

	cmd     *exec.Cmd
	started time.Time
	logs    *logBook
	client  *http.Client
	exited  chan struct{} // closed once the process has exited and stderr is drained
	code    int           // exit code, valid after exited is closed
}

// launch starts the process and begins collecting its stderr; it does not
// wait for anything. A cleanup stops the process if it still runs.
func launch(t testing.TB, opts options) *server {
	t.Helper()
	dataDir := opts.DataDir
	if dataDir == "" {
		dataDir = t.TempDir()
	}
	s := &server{
		DataDir: dataDir,
		logs:    newLogBook(),
		exited:  make(chan struct{}),
		client:  &http.Client{Timeout: requestTimeout, Transport: &http.Transport{}},
	}
	s.cmd = exec.Command(binary, append([]string{"serve"}, opts.Args...)...)
	s.cmd.Env = serverEnv(dataDir, opts.Env)
	s.cmd.Dir = t.TempDir() // relative defaults must not find the repository's files
	stderr, err := s.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	s.started = time.Now()
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("start server: %v", err)
	}
	go func() {
		r := bufio.NewReader(stderr)
		for {
			line, err := r.ReadString('\n')
			if line = strings.TrimRight(line, "\r\n"); line != "" {
				s.logs.add(line)
			}
			if err != nil {
				break
			}
		}
		_ = s.cmd.Wait() // only after every read from the pipe
		s.code = s.cmd.ProcessState.ExitCode()
		s.logs.close()
		close(s.exited)
	}()
	t.Cleanup(func() {
		s.client.CloseIdleConnections()
		if !s.hasExited() {
			_ = s.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-s.exited:
			case <-time.After(exitTimeout):
				t.Errorf("server did not exit within %s of SIGTERM at cleanup; killing it", exitTimeout)
				_ = s.cmd.Process.Kill()
				<-s.exited
			}
		}
		if t.Failed() {
			t.Logf("server stderr (exit code %d):\n%s", s.code, s.logs.tail(200))
		}
	})
	return s
}

// start launches a server and waits for its "listening" line.
func start(t testing.TB, opts options) *server {
	t.Helper()
	s := launch(t, opts)
	e, ok := s.logs.wait(startTimeout, func(e logEntry) bool { return e.Msg() == "listening" })
	if !ok {
		if s.hasExited() {
			t.Fatalf("server exited with code %d before listening; stderr:\n%s", s.code, s.logs.tail(50))
		}
		t.Fatalf("server did not log \"listening\" within %s; stderr so far:\n%s", startTimeout, s.logs.tail(50))
	}
	s.Listening = e
	s.Startup = e.At.Sub(s.started)
	s.URL = e.Str("url")
	s.Addr = strings.TrimPrefix(s.URL, "http://")
	if _, _, err := net.SplitHostPort(s.Addr); err != nil || !strings.HasPrefix(s.URL, "http://") {
		t.Fatalf("\"listening\" line has no usable url: %s", e.Raw)
	}
	t.Logf("server %s listening after %s (server reports %s)", s.URL, s.Startup.Round(time.Millisecond), e.Duration("startup"))
	return s
}

// serverEnv is the test process's environment without any PORTCULLIS_*
// variable, plus the harness defaults and extra.
func serverEnv(dataDir string, extra map[string]string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PORTCULLIS_") {
			env = append(env, kv)
		}
	}
	set := map[string]string{
		"PORTCULLIS_DEV_MODE":   "true",
		"PORTCULLIS_DATA_DIR":   dataDir,
		"PORTCULLIS_LOG_FORMAT": "json",
		"PORTCULLIS_LISTEN":     "127.0.0.1:0",
		// Parallel servers cannot share the default 127.0.0.1:9464.
		"PORTCULLIS_METRICS_LISTEN": "127.0.0.1:0",
		"PORTCULLIS_TENANTS_DIR":    shippedTenants,
	}
	maps.Copy(set, storeEnv(dataDir))
	// REDIS_URL is deliberately not passed on: Redis keys are namespaced by
	// tenant, not by server, so servers of parallel tests (and of earlier
	// runs) sharing one Redis would share throttling budgets of same-named
	// tenants. Each server keeps its own embedded Redis; the Redis adapter
	// tests, and TestLogoutOnOneInstanceRevokesOnEvery, use REDIS_URL.
	maps.Copy(set, extra)
	for _, k := range slices.Sorted(maps.Keys(set)) {
		env = append(env, k+"="+set[k])
	}
	return env
}

func (s *server) hasExited() bool {
	select {
	case <-s.exited:
		return true
	default:
		return false
	}
}

// signal sends sig to the process.
func (s *server) signal(t testing.TB, sig os.Signal) {
	t.Helper()
	if err := s.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signal %v: %v", sig, err)
	}
}

// waitExit waits for the process to exit and returns its exit code.
func (s *server) waitExit(t testing.TB, within time.Duration) int {
	t.Helper()
	select {
	case <-s.exited:
		return s.code
	case <-time.After(within):
		t.Fatalf("server did not exit within %s; stderr so far:\n%s", within, s.logs.tail(30))
		return -1
	}
}

// stop sends sig and returns the exit code.
func (s *server) stop(t testing.TB, sig os.Signal) int {
	t.Helper()
	s.client.CloseIdleConnections()
	s.signal(t, sig)
	return s.waitExit(t, exitTimeout)
}

// waitLog waits for a log entry matching match; what describes it in the
// failure message.
func (s *server) waitLog(t testing.TB, what string, match func(logEntry) bool) logEntry {
	t.Helper()
	e, ok := s.logs.wait(logWaitTimeout, match)
	if !ok {
		if s.hasExited() {
			t.Fatalf("no log line %s: the server exited with code %d; stderr:\n%s", what, s.code, s.logs.tail(30))
		}
		t.Fatalf("no log line %s within %s; stderr so far:\n%s", what, logWaitTimeout, s.logs.tail(30))
	}
	return e
}

// waitMsg waits for a log entry whose msg is msg.
func (s *server) waitMsg(t testing.TB, msg string) logEntry {
	t.Helper()
	return s.waitLog(t, fmt.Sprintf("with msg %q", msg), func(e logEntry) bool { return e.Msg() == msg })
}

// waitRequestLogged waits for the access-log line of the request with id
// rid. The server writes it after everything the request logged, and stderr
// is one ordered stream, so afterwards the log book holds every line that
// request caused.
func (s *server) waitRequestLogged(t *testing.T, rid string) logEntry {
	t.Helper()
	return s.waitLog(t, fmt.Sprintf("for request %s", rid), func(e logEntry) bool {
		return e.Msg() == "request" && e.Str("request_id") == rid
	})
}

// entries returns the log entries read so far.
func (s *server) entries() []logEntry { return s.logs.snapshot() }

// count returns how many log entries read so far match.
func (s *server) count(match func(logEntry) bool) int {
	n := 0
	for _, e := range s.entries() {
		if match(e) {
			n++
		}
	}
	return n
}

// reqOption adjusts a request.
type reqOption func(*http.Request)

// withHost sends the request with this Host header.
func withHost(host string) reqOption { return func(r *http.Request) { r.Host = host } }

// withTenant sends X-Tenant-ID.
func withTenant(id string) reqOption {
	return func(r *http.Request) { r.Header.Set("X-Tenant-ID", id) }
}

// withHeader sets any header.
func withHeader(k, v string) reqOption { return func(r *http.Request) { r.Header.Set(k, v) } }

// reply is a fully read response.
type reply struct {
	Status    int
	Header    http.Header
	Body      []byte
	RequestID string
}

// do sends a request and reads the whole response. Every response must
// carry X-Request-ID; do fails the test otherwise.
func (s *server) do(t *testing.T, method, path string, opts ...reqOption) reply {
	t.Helper()
	r, err := s.send(method, path, opts...)
	if err != nil {
		t.Fatal(err)
	}
	if r.RequestID == "" {
		t.Errorf("%s %s: response %d has no X-Request-ID header", method, path, r.Status)
	}
	return r
}

// send is do for any goroutine: it reports failures instead of failing the
// test, and an absent X-Request-ID leaves RequestID empty.
func (s *server) send(method, path string, opts ...reqOption) (reply, error) {
	req, err := http.NewRequest(method, s.URL+path, nil)
	if err != nil {
		return reply{}, err
	}
	for _, o := range opts {
		o(req)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return reply{}, fmt.Errorf("%s %s (Host %q): %w", method, path, req.Host, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return reply{}, fmt.Errorf("%s %s: reading body: %w", method, path, err)
	}
	return reply{Status: resp.StatusCode, Header: resp.Header, Body: body, RequestID: resp.Header.Get("X-Request-ID")}, nil
}

// sendTogether sends the raw HTTP/1.1 request n times at once: it opens n
// connections, writes all of each request but its last byte, then writes
// the last bytes together, so the server starts n handlers at the same
// moment. It returns the n replies.
func (s *server) sendTogether(t *testing.T, n int, raw string) []reply {
	t.Helper()
	raws := make([]string, n)
	for i := range raws {
		raws[i] = raw
	}
	return s.sendEachTogether(t, raws)
}

// sendEachTogether is sendTogether for requests that differ: it opens one
// connection per raw request, writes all of each but its last byte, then
// writes the last bytes together. Replies are in the order of raws.
func (s *server) sendEachTogether(t *testing.T, raws []string) []reply {
	t.Helper()
	conns := make([]net.Conn, len(raws))
	for i, raw := range raws {
		c, err := net.DialTimeout("tcp", s.Addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.SetDeadline(time.Now().Add(requestTimeout)); err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(c, raw[:len(raw)-1]); err != nil {
			t.Fatal(err)
		}
		conns[i] = c
	}
	replies := make([]reply, len(raws))
	errs := make([]error, len(raws))
	var wg sync.WaitGroup
	release := make(chan struct{})
	for i, c := range conns {
		wg.Go(func() {
			<-release
			raw := raws[i]
			if _, errs[i] = io.WriteString(c, raw[len(raw)-1:]); errs[i] != nil {
				return
			}
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				errs[i] = err
				return
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			replies[i], errs[i] = reply{Status: resp.StatusCode, Header: resp.Header, Body: body, RequestID: resp.Header.Get("X-Request-ID")}, err
		})
	}
	close(release)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("request %d of %d sent together: %v", i+1, len(raws), err)
		}
	}
	return replies
}

// get is do with GET.
func (s *server) get(t *testing.T, path string, opts ...reqOption) reply {
	t.Helper()
	return s.do(t, http.MethodGet, path, opts...)
}

// decodeJSON decodes a reply body strictly into a T.
func decodeJSON[T any](t *testing.T, r reply) T {
	t.Helper()
	var v T
	dec := json.NewDecoder(bytes.NewReader(r.Body))
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("response %d body is not the expected JSON (%v): %s", r.Status, err, r.Body)
	}
	return v
}

// writeTenants writes tenant files (name → YAML) into a fresh directory and
// returns it.
func writeTenants(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// shippedDemo returns the repository's demo tenant file.
func shippedDemo(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(shippedTenants, "demo.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// logEntry is one stderr line; Fields is nil when the line is not JSON
// (the dev-mode banner, plain error messages).
type logEntry struct {
	Raw    string
	Fields map[string]any
	At     time.Time // when the harness read it
}

// Msg returns the entry's msg field.
func (e logEntry) Msg() string { return e.Str("msg") }

// Str returns a string field, or "".
func (e logEntry) Str(key string) string {
	s, _ := e.Fields[key].(string)
	return s
}

// Num returns a numeric field and whether it is there.
func (e logEntry) Num(key string) (float64, bool) {
	n, ok := e.Fields[key].(float64)
	return n, ok
}

// Duration reads a field slog's JSON handler wrote for a time.Duration
// (nanoseconds).
func (e logEntry) Duration(key string) time.Duration {
	n, _ := e.Num(key)
	return time.Duration(n)
}

// logBook collects log entries and lets tests wait for one.
type logBook struct {
	mu      sync.Mutex
	entries []logEntry
	changed chan struct{} // closed and replaced on every add
	closed  bool
}

func newLogBook() *logBook { return &logBook{changed: make(chan struct{})} }

func (b *logBook) add(raw string) {
	e := logEntry{Raw: raw, At: time.Now()}
	if strings.HasPrefix(raw, "{") {
		var f map[string]any
		if json.Unmarshal([]byte(raw), &f) == nil {
			e.Fields = f
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.entries = append(b.entries, e)
	close(b.changed)
	b.changed = make(chan struct{})
}

// close records that no more lines will come.
func (b *logBook) close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	close(b.changed)
	b.changed = make(chan struct{})
}

// wait returns the first entry matching match, waiting up to timeout for it
// to be written. It gives up early once the stream has ended.
func (b *logBook) wait(timeout time.Duration, match func(logEntry) bool) (logEntry, bool) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	next := 0
	for {
		b.mu.Lock()
		for ; next < len(b.entries); next++ {
			if match(b.entries[next]) {
				e := b.entries[next]
				b.mu.Unlock()
				return e, true
			}
		}
		closed, changed := b.closed, b.changed
		b.mu.Unlock()
		if closed {
			return logEntry{}, false
		}
		select {
		case <-changed:
		case <-deadline.C:
			return logEntry{}, false
		}
	}
}

func (b *logBook) snapshot() []logEntry {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.entries)
}

// text returns every line read so far.
func (b *logBook) text() string { return b.tail(0) }

// tail returns the last n lines read so far (all when n is 0).
func (b *logBook) tail(n int) string {
	es := b.snapshot()
	if n > 0 && len(es) > n {
		es = es[len(es)-n:]
	}
	var sb strings.Builder
	for _, e := range es {
		sb.WriteString(e.Raw)
		sb.WriteByte('\n')
	}
	return sb.String()
}

// storeEnv is the store settings of a server on dataDir: none (the
// embedded store under dataDir), or with MONGODB_URI set (make
// test-integration) that server with a database of the data dir's own.
// Each data dir has its own master key, so it needs its own database: keys
// sealed under another master key cannot be opened.
func storeEnv(dataDir string) map[string]string {
	uri := os.Getenv("MONGODB_URI")
	if uri == "" {
		return nil
	}
	sum := sha256.Sum256([]byte(dataDir))
	return map[string]string{"PORTCULLIS_MONGODB_URI": uri, "PORTCULLIS_MONGODB_DATABASE": "e2e_" + hex.EncodeToString(sum[:8])}
}
