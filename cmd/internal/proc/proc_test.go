package proc

import (
	"net"
	"os"
	"strings"
	"testing"
)

func TestRSSOfThisProcess(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("no /proc")
	}
	rss, err := RSS(os.Getpid())
	if err != nil || rss == 0 {
		t.Errorf("RSS(self) = %d, %v; want a positive size", rss, err)
	}
	if peak, err := PeakRSS(os.Getpid()); err != nil || peak < rss {
		t.Errorf("PeakRSS(self) = %d, %v; want at least RSS %d", peak, err, rss)
	}
}

func TestParseStatusKB(t *testing.T) {
	t.Parallel()
	status := "Name:\tportcullis\nVmPeak:\t  900000 kB\nVmRSS:\t  123456 kB\nThreads:\t9\n"
	got, err := parseStatusKB(status, "VmRSS")
	if err != nil {
		t.Fatal(err)
	}
	if want := uint64(123456) << 10; got != want {
		t.Errorf("parseStatusKB(VmRSS) = %d, want %d", got, want)
	}
	for _, bad := range []string{"Name:\tx\n", "VmRSS:\t12 MB\n", "VmRSS:\tlots kB\n"} {
		if _, err := parseStatusKB(bad, "VmRSS"); err == nil {
			t.Errorf("parseStatusKB(%q, VmRSS) accepted", bad)
		}
	}
	hwm, err := parseStatusKB(status+"VmHWM:\t  200000 kB\n", "VmHWM")
	if err != nil || hwm != uint64(200000)<<10 {
		t.Errorf("parseStatusKB(VmHWM) = %d, %v; want %d", hwm, err, uint64(200000)<<10)
	}
	if _, err := parseStatusKB(status, "VmHWM"); err == nil || !strings.Contains(err.Error(), "no VmHWM line") {
		t.Errorf("parseStatusKB without the line: %v", err)
	}
}

func TestFreeLoopbackAddrCanBeListenedOn(t *testing.T) {
	t.Parallel()
	addr, err := FreeLoopbackAddr()
	if err != nil {
		t.Fatal(err)
	}
	if host, _, _ := net.SplitHostPort(addr); host != "127.0.0.1" {
		t.Fatalf("FreeLoopbackAddr = %q, want an address on 127.0.0.1", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen on %s: %v", addr, err)
	}
	_ = ln.Close()
}
