// Package devdb runs portcullis-devdb as a child process serving the
// embedded store and the embedded Redis, for the load and soak commands: a
// server pointed at it holds no store of its own, so that its RSS and CPU
// are Portcullis' alone, as they are beside a real MongoDB and Redis.
package devdb

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/portcullis/portcullis/cmd/internal/proc"
)

// startTimeout bounds the wait for both ports to accept connections.
const startTimeout = time.Minute

// Process is a running portcullis-devdb.
type Process struct {
	// MongoURI and RedisURL are what PORTCULLIS_MONGODB_URI and
	// PORTCULLIS_REDIS_URL of a server take.
	MongoURI, RedisURL string

	cmd    *exec.Cmd
	log    string // the child's output, a file
	exited chan struct{}
	once   sync.Once
}

// Start runs the binary with its SQLite files under dir (which must exist)
// on two free loopback ports, and returns once both accept connections.
func Start(binary, dir string) (*Process, error) {
	bin, err := filepath.Abs(binary)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(bin); err != nil {
		return nil, fmt.Errorf("%w (build it with: go build -o bin/portcullis-devdb ./cmd/portcullis-devdb)", err)
	}
	var addrs [2]string
	for i := range addrs {
		if addrs[i], err = proc.FreeLoopbackAddr(); err != nil {
			return nil, err
		}
	}
	p := &Process{MongoURI: "mongodb://" + addrs[0] + "/", RedisURL: "redis://" + addrs[1] + "/0",
		log: filepath.Join(dir, "devdb.log"), exited: make(chan struct{})}
	out, err := os.Create(p.log)
	if err != nil {
		return nil, err
	}
	defer out.Close() // the child has its own descriptor
	p.cmd = exec.Command(bin, "-listen", addrs[0], "-redis-listen", addrs[1], "-sqlite-dir", filepath.Join(dir, "devdb"))
	p.cmd.Stdout, p.cmd.Stderr = out, out
	// Should this process die without stopping it, the child gets SIGTERM.
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start portcullis-devdb: %w", err)
	}
	go func() { _ = p.cmd.Wait(); close(p.exited) }()
	deadline := time.Now().Add(startTimeout)
	for _, a := range addrs {
		for {
			c, err := net.DialTimeout("tcp", a, time.Second)
			if err == nil {
				c.Close()
				break
			}
			select {
			case <-p.exited:
				return nil, fmt.Errorf("portcullis-devdb exited (%s) before serving; its log ends:\n%s", p.cmd.ProcessState, p.tail())
			default:
			}
			if time.Now().After(deadline) {
				p.Stop()
				return nil, fmt.Errorf("portcullis-devdb does not accept connections on %s within %s; its log ends:\n%s", a, startTimeout, p.tail())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return p, nil
}

// Pid is the child's process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// RSS is the child's resident set size in bytes.
func (p *Process) RSS() (uint64, error) { return proc.RSS(p.Pid()) }

// Stop ends the child with SIGTERM (SIGKILL after 10 s) and waits for it.
func (p *Process) Stop() {
	p.once.Do(func() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.exited:
		case <-time.After(10 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
	})
}

// tail is the last 4 KB of the child's output.
func (p *Process) tail() string {
	b, _ := os.ReadFile(p.log)
	return string(b[max(0, len(b)-4<<10):])
}
