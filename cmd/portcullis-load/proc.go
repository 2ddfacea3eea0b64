package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/<pid>/stat.
// It is 100 on every Linux architecture Go supports; the constant spares a
// getconf CLK_TCK call.
const clockTicks = 100

// Bounds on waiting for child processes.
const (
	startTimeout = 90 * time.Second // the first start of the embedded store on a busy machine is slow
	stopTimeout  = 20 * time.Second
)

// procCPU returns the CPU time (user + system) pid has used so far.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	return parseStatCPU(string(b))
}

// parseStatCPU reads utime and stime (fields 14 and 15) from the contents
// of /proc/<pid>/stat. The command name (field 2) is in parentheses and may
// hold spaces and parentheses itself, so fields are counted from the last
// ")".
func parseStatCPU(stat string) (time.Duration, error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, errors.New("/proc stat: no command field")
	}
	f := strings.Fields(stat[i+1:])
	// f[0] is field 3 (state), so field n is f[n-3].
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc stat: %d fields after the command, want at least 13", len(f))
	}
	utime, err1 := strconv.ParseUint(f[11], 10, 64)
	stime, err2 := strconv.ParseUint(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("/proc stat: %w", err)
	}
	return time.Duration(utime+stime) * time.Second / clockTicks, nil
}

// selfCPU returns the CPU time (user + system) this process has used.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// child is a process this command started: the server or the bare
// reference server. Both write JSON log lines to stderr, one of which has
// msg "listening" and the URL.
type child struct {
	name   string
	cmd    *exec.Cmd
	URL    string // http://127.0.0.1:PORT
	Addr   string // 127.0.0.1:PORT
	tail   *tailBuffer
	exited chan struct{} // closed when the process has exited and its stderr is drained
	// Started is when the process was executed, ListeningAt when its
	// "listening" line was read, and Listening what that line said.
	Started     time.Time
	ListeningAt time.Time
	Listening   listening
}

// startChild starts path with args, env and working directory dir, and
// waits for its "listening" line.
func startChild(ctx context.Context, name, path string, args, env []string, dir string) (*child, error) {
	c := &child{name: name, tail: newTailBuffer(64 << 10), exited: make(chan struct{})}
	c.cmd = exec.Command(path, args...)
	c.cmd.Env = env
	c.cmd.Dir = dir
	// Should this process die without stopping it, the child gets SIGTERM.
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	stderr, err := c.cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	c.Started = time.Now()
	if err := c.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	found := make(chan listening, 1)
	go func() {
		r := bufio.NewReaderSize(stderr, 64<<10)
		for {
			line, err := r.ReadString('\n')
			_, _ = c.tail.Write([]byte(line))
			if l, ok := parseListening(line); ok {
				c.ListeningAt = time.Now()
				found <- l
				break
			}
			if err != nil {
				break
			}
		}
		// The rest (access logs at info level) is kept only as a tail for
		// error messages; reading it in large blocks keeps this cheap.
		_, _ = io.Copy(c.tail, r)
		_ = c.cmd.Wait()
		close(c.exited)
	}()
	timer := time.NewTimer(startTimeout)
	defer timer.Stop()
	select {
	case l := <-found:
		c.Listening = l
		if err := c.setURL(l.URL); err != nil {
			c.stop()
			return nil, err
		}
		return c, nil
	case <-c.exited:
		return nil, fmt.Errorf("%s exited (%s) before listening; its log ends:\n%s", name, c.cmd.ProcessState, c.tail)
	case <-timer.C:
		c.stop()
		return nil, fmt.Errorf("%s did not log \"listening\" within %s; its log ends:\n%s", name, startTimeout, c.tail)
	case <-ctx.Done():
		c.stop()
		return nil, ctx.Err()
	}
}

func (c *child) setURL(raw string) error {
	addr, err := loopbackAddr(raw)
	if err != nil {
		return fmt.Errorf("%s: %w", c.name, err)
	}
	c.URL, c.Addr = raw, addr
	return nil
}

// listening is what a "listening" log line says.
type listening struct {
	URL string
	// Tenants is the number of tenants the server loaded, and Startup its
	// own start-up time (from the start of its serve command to the line);
	// 0 when the line does not give them (the bare server's).
	Tenants int
	Startup time.Duration
}

// parseListening reads a JSON log line whose msg is "listening" and that
// has a url. The server's slog JSON handler writes a duration as integer
// nanoseconds; a string such as "1.5s" is read too.
func parseListening(line string) (listening, bool) {
	if !strings.HasPrefix(line, "{") {
		return listening{}, false
	}
	var e struct {
		Msg     string          `json:"msg"`
		URL     string          `json:"url"`
		Tenants int             `json:"tenants"`
		Startup json.RawMessage `json:"startup"`
	}
	if json.Unmarshal([]byte(line), &e) != nil || e.Msg != "listening" || e.URL == "" {
		return listening{}, false
	}
	l := listening{URL: e.URL, Tenants: e.Tenants}
	var ns int64
	var str string
	switch {
	case json.Unmarshal(e.Startup, &ns) == nil:
		l.Startup = time.Duration(ns)
	case json.Unmarshal(e.Startup, &str) == nil:
		l.Startup, _ = time.ParseDuration(str)
	}
	return l, true
}

// loopbackAddr returns host:port of an http:// URL on 127.0.0.1 (or
// localhost, taken as 127.0.0.1). Anything else is refused: this command
// loads only the local machine.
func loopbackAddr(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("url %q: %w", raw, err)
	}
	if u.Scheme != "http" {
		return "", fmt.Errorf("url %q: only http:// is supported", raw)
	}
	host, port := u.Hostname(), u.Port()
	if host != "127.0.0.1" && host != "localhost" {
		return "", fmt.Errorf("url %q: only 127.0.0.1 may be loaded", raw)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return "", fmt.Errorf("url %q: needs a port", raw)
	}
	return net.JoinHostPort("127.0.0.1", port), nil
}

// Pid returns the process id.
func (c *child) Pid() int { return c.cmd.Process.Pid }

// alive reports whether the process still runs.
func (c *child) alive() bool {
	select {
	case <-c.exited:
		return false
	default:
		return true
	}
}

// stop sends SIGTERM and waits for the exit, killing the process if it
// does not exit in time. It is safe to call more than once.
func (c *child) stop() {
	if !c.alive() {
		return
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.exited:
	case <-time.After(stopTimeout):
		fmt.Fprintf(os.Stderr, "portcullis-load: %s did not exit within %s of SIGTERM; killing it\n", c.name, stopTimeout)
		_ = c.cmd.Process.Kill()
		<-c.exited
	}
}

// childEnv is this process's environment without PORTCULLIS_* variables,
// plus set.
func childEnv(set map[string]string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PORTCULLIS_") {
			env = append(env, kv)
		}
	}
	for k, v := range set {
		env = append(env, k+"="+v)
	}
	return env
}

// tailBuffer keeps the last bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func newTailBuffer(max int) *tailBuffer { return &tailBuffer{max: max} }

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := len(p)
	if len(p) >= t.max {
		p = p[len(p)-t.max:]
		t.b = t.b[:0]
	}
	if over := len(t.b) + len(p) - t.max; over > 0 {
		t.b = append(t.b[:0], t.b[over:]...)
	}
	t.b = append(t.b, p...)
	return n, nil
}

// String returns the last lines kept, at most 40 of them.
func (t *tailBuffer) String() string {
	t.mu.Lock()
	s := string(t.b)
	t.mu.Unlock()
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > 40 {
		lines = lines[len(lines)-40:]
	}
	return strings.Join(lines, "\n")
}
