package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/pprof/profile"
)

// testCPUProfile builds a CPU profile the way the Go runtime writes one
// (sample types samples/count and cpu/nanoseconds), with a stack of each
// class and the cases in between. Stacks are leaf first.
func testCPUProfile(t *testing.T) *profile.Profile {
	t.Helper()
	p := &profile.Profile{
		SampleType:    []*profile.ValueType{{Type: "samples", Unit: "count"}, {Type: "cpu", Unit: "nanoseconds"}},
		PeriodType:    &profile.ValueType{Type: "cpu", Unit: "nanoseconds"},
		Period:        int64(10 * time.Millisecond),
		DurationNanos: int64(4 * time.Second),
	}
	funcs := map[string]*profile.Function{}
	fn := func(name string) *profile.Function {
		if f, ok := funcs[name]; ok {
			return f
		}
		f := &profile.Function{ID: uint64(len(p.Function) + 1), Name: name, SystemName: name}
		funcs[name] = f
		p.Function = append(p.Function, f)
		return f
	}
	// loc is one frame; several names are one frame with inlined calls,
	// innermost first. No name is an unsymbolised frame.
	loc := func(names ...string) *profile.Location {
		l := &profile.Location{ID: uint64(len(p.Location) + 1), Address: uint64(0x1000 + len(p.Location))}
		for _, n := range names {
			l.Line = append(l.Line, profile.Line{Function: fn(n), Line: 1})
		}
		p.Location = append(p.Location, l)
		return l
	}
	sample := func(ms int64, stack ...*profile.Location) {
		ns := ms * int64(time.Millisecond)
		p.Sample = append(p.Sample, &profile.Sample{Location: stack, Value: []int64{ns / p.Period, ns}})
	}
	goexit := loc("runtime.goexit")

	// The store stand-in: FerretDB's handler, SQLite under it, a GC
	// assist on FerretDB's goroutine, and a FerretDB call inlined into a
	// frame of another package.
	sample(300, loc("modernc.org/sqlite/lib._sqlite3VdbeExec"), loc("modernc.org/sqlite.(*stmt).query"),
		loc("github.com/FerretDB/FerretDB/v2/internal/handler.(*Handler).MsgFind"), goexit)
	sample(40, loc("runtime.scanobject"), loc("runtime.gcAssistAlloc"), loc("runtime.mallocgc"),
		loc("github.com/FerretDB/FerretDB/v2/internal/util/sjson.Unmarshal"), goexit)
	sample(10, loc("github.com/FerretDB/wire.ReadMessage", "bufio.(*Reader).Read"), loc("net.(*conn).Read"), goexit)
	// The redis stand-in: miniredis and its Lua interpreter.
	sample(70, loc("github.com/yuin/gopher-lua.(*LState).mainLoop"), loc("github.com/alicebob/miniredis/v2.(*Miniredis).cmdEval"), goexit)
	sample(30, loc("github.com/alicebob/miniredis/v2/server.(*Server).servePeer"), goexit)
	// GC and runtime background: the GC's workers, the scavenger, the
	// scheduler, and the profiler's frame for a sample without a stack.
	sample(50, loc("runtime.scanobject"), loc("runtime.gcDrain"), loc("runtime.gcBgMarkWorker"), goexit)
	sample(5, loc("runtime.(*pageAlloc).scavenge"), loc("runtime.bgscavenge"), goexit)
	sample(15, loc("runtime.findRunnable"), loc("runtime.schedule"), loc("runtime.park_m"), loc("runtime.mcall"))
	sample(10, loc("runtime._GC"))
	sample(3, loc("internal/runtime/syscall.Syscall6"), loc("runtime.netpoll"), loc("runtime.findRunnable"))
	// Portcullis: its handlers through fiber and fasthttp, the mongo and
	// redis clients called from them, a GC assist there, a background
	// loop, and an unsymbolised frame.
	sample(200, loc("encoding/json.Marshal"), loc("github.com/portcullis/portcullis/adapters/http.(*Handlers).me"),
		loc("github.com/gofiber/fiber/v2.(*App).handler"), loc("github.com/valyala/fasthttp.(*Server).serveConn"), goexit)
	sample(60, loc("go.mongodb.org/mongo-driver/v2/x/mongo/driver.Operation.Execute"), loc("github.com/portcullis/portcullis/adapters/mongo.(*UserRepository).ByID"), goexit)
	sample(20, loc("runtime.mallocgc"), loc("github.com/redis/go-redis/v9.(*baseClient).process"), goexit)
	sample(7, loc("time.Sleep"), loc("github.com/portcullis/portcullis/adapters/log.(*batcher).loop"), goexit)
	sample(10, loc(), goexit)
	// No CPU time: not counted.
	sample(0, loc("github.com/FerretDB/FerretDB/v2/internal/handler.(*Handler).MsgUpdate"), goexit)

	if err := p.CheckValid(); err != nil {
		t.Fatalf("test profile invalid: %v", err)
	}
	return p
}

func TestSplitCPUByClass(t *testing.T) {
	t.Parallel()
	s, err := splitCPU(testCPUProfile(t))
	if err != nil {
		t.Fatal(err)
	}
	want := map[cpuClass]time.Duration{
		classStore:      350 * time.Millisecond,
		classRedis:      100 * time.Millisecond,
		classRuntime:    83 * time.Millisecond,
		classPortcullis: 297 * time.Millisecond,
	}
	for c, d := range want {
		if s.CPU[c] != d {
			t.Errorf("%s: %v, want %v", c, s.CPU[c], d)
		}
	}
	if s.Samples != 15 || s.Total() != 830*time.Millisecond || s.Duration != 4*time.Second {
		t.Errorf("%d samples, %v of CPU over %v; want 15, 830ms, 4s", s.Samples, s.Total(), s.Duration)
	}
	if got := s.Share(classStore); got != 350.0/830 {
		t.Errorf("store share %v, want 350/830", got)
	}
}

func TestReadCPUSplitFromFile(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	if err := testCPUProfile(t).Write(&b); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), phaseSMS+".cpu.pprof")
	if err := os.WriteFile(path, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := readCPUSplit(path)
	if err != nil {
		t.Fatal(err)
	}
	if s.CPU[classStore] != 350*time.Millisecond || s.CPU[classPortcullis] != 297*time.Millisecond {
		t.Errorf("read back %v", s.CPU)
	}

	if _, err := readCPUSplit(filepath.Join(t.TempDir(), "none.pprof")); err == nil {
		t.Error("a missing file: no error")
	}
}

func TestSplitCPUNeedsACPUProfile(t *testing.T) {
	t.Parallel()
	heap := &profile.Profile{SampleType: []*profile.ValueType{{Type: "alloc_space", Unit: "bytes"}}}
	if _, err := splitCPU(heap); err == nil || !strings.Contains(err.Error(), "cpu") {
		t.Errorf("a heap profile: %v, want an error naming cpu", err)
	}
}

func TestCPUSplitAdd(t *testing.T) {
	t.Parallel()
	var sum cpuSplit
	sum.add(cpuSplit{CPU: [numCPUClasses]time.Duration{classStore: 3 * time.Second, classPortcullis: time.Second}, Samples: 400, Duration: 2 * time.Second})
	sum.add(cpuSplit{CPU: [numCPUClasses]time.Duration{classStore: time.Second, classRuntime: time.Second}, Samples: 200, Duration: 2 * time.Second})
	if sum.Total() != 6*time.Second || sum.Samples != 600 || sum.Duration != 4*time.Second {
		t.Errorf("sum: %s of CPU, %d samples over %s; want 6s, 600, 4s", sum.Total(), sum.Samples, sum.Duration)
	}
	if got := sum.Share(classStore); got != 4.0/6 {
		t.Errorf("store share %v, want 2/3", got)
	}
}
