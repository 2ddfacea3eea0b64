// Package proc reads what the measuring commands (portcullis-load,
// portcullis-soak, and the stores they start beside the server) need of
// a Linux process, and finds free loopback ports for the children they
// start.
package proc

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
)

// RSS returns pid's resident set size (VmRSS) in bytes.
func RSS(pid int) (uint64, error) { return statusKB(pid, "VmRSS") }

// PeakRSS returns pid's peak resident set size so far (VmHWM) in bytes.
func PeakRSS(pid int) (uint64, error) { return statusKB(pid, "VmHWM") }

func statusKB(pid int, field string) (uint64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	return parseStatusKB(string(b), field)
}

// parseStatusKB reads the line of field (such as "VmRSS", "VmHWM") of the
// contents of /proc/<pid>/status, a size in kB ("VmRSS:	  123456 kB"),
// and returns it in bytes.
func parseStatusKB(status, field string) (uint64, error) {
	for line := range strings.Lines(status) {
		rest, ok := strings.CutPrefix(line, field+":")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("/proc status: odd %s line %q", field, strings.TrimSpace(line))
		}
		kb, err := strconv.ParseUint(f[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc status: %s: %w", field, err)
		}
		return kb << 10, nil
	}
	return 0, fmt.Errorf("/proc status: no %s line", field)
}

// FreeLoopbackAddr returns a 127.0.0.1 address with a port that was free
// a moment ago, for a listener whose address cannot be asked for
// afterwards.
func FreeLoopbackAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}
