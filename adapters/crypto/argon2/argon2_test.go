package argon2_test

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	xargon2 "golang.org/x/crypto/argon2"

	"github.com/portcullis/portcullis/adapters/crypto/argon2"
	"github.com/portcullis/portcullis/application/password"
	"github.com/portcullis/portcullis/domain/errs"
	"github.com/portcullis/portcullis/domain/tenant"
)

// cheap keeps the tests fast; the format and logic do not depend on cost.
var cheap = tenant.HashParams{MemoryKiB: 64, Iterations: 1, Parallelism: 1}

var phc = regexp.MustCompile(`^\$argon2id\$v=19\$m=64,t=1,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`)

func TestHashVerifyRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := argon2.New(argon2.Options{})
	enc, err := h.Hash(ctx, "correct horse battery staple", cheap)
	if err != nil {
		t.Fatal(err)
	}
	if !phc.MatchString(enc) {
		t.Fatalf("hash %q is not a PHC argon2id string with a 16-byte salt and 32-byte key", enc)
	}
	again, err := h.Hash(ctx, "correct horse battery staple", cheap)
	if err != nil {
		t.Fatal(err)
	}
	if again == enc {
		t.Fatal("two hashes of one password must differ (random salt)")
	}
	ok, rehash, err := h.Verify(ctx, "correct horse battery staple", enc, cheap)
	if err != nil || !ok || rehash {
		t.Fatalf("Verify = %v, %v, %v; want true, false, nil", ok, rehash, err)
	}
}

func TestVerifyWrongPassword(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := argon2.New(argon2.Options{})
	enc, err := h.Hash(ctx, "correct horse battery staple", cheap)
	if err != nil {
		t.Fatal(err)
	}
	for _, pw := range []string{"", "correct horse battery stapl", "Correct horse battery staple", "correct horse battery staple "} {
		ok, rehash, err := h.Verify(ctx, pw, enc, cheap)
		if err != nil || ok || rehash {
			t.Errorf("Verify(%q) = %v, %v, %v; want false, false, nil", pw, ok, rehash, err)
		}
	}
}

// TestVerifyReferenceVector checks interoperability with hashes made
// elsewhere: the argon2id vector of the reference implementation
// (password "password", salt "somesalt", t=3, m=256, p=2, 24-byte tag)
// written as the argon2 CLI prints it.
func TestVerifyReferenceVector(t *testing.T) {
	t.Parallel()
	const enc = "$argon2id$v=19$m=256,t=3,p=2$c29tZXNhbHQ$RmjTCsQYfmh47t6s8P2DxaCjDbLMFu8L"
	p := tenant.HashParams{MemoryKiB: 256, Iterations: 3, Parallelism: 2}
	h := argon2.New(argon2.Options{})
	ok, rehash, err := h.Verify(context.Background(), "password", enc, p)
	if err != nil || !ok {
		t.Fatalf("Verify = %v, %v, %v; want ok", ok, rehash, err)
	}
	if !rehash {
		t.Fatal("an 8-byte salt and 24-byte tag are not what Hash makes now: want rehash")
	}
}

func TestVerifyReportsRehashWhenParamsChange(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := argon2.New(argon2.Options{})
	stored := tenant.HashParams{MemoryKiB: 64, Iterations: 2, Parallelism: 1}
	enc, err := h.Hash(ctx, "pw", stored)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		now    tenant.HashParams
		rehash bool
	}{
		{"same parameters", stored, false},
		{"more memory", tenant.HashParams{MemoryKiB: 128, Iterations: 2, Parallelism: 1}, true},
		{"less memory", tenant.HashParams{MemoryKiB: 32, Iterations: 2, Parallelism: 1}, true},
		{"more iterations", tenant.HashParams{MemoryKiB: 64, Iterations: 3, Parallelism: 1}, true},
		{"fewer iterations", tenant.HashParams{MemoryKiB: 64, Iterations: 1, Parallelism: 1}, true},
		{"more parallelism", tenant.HashParams{MemoryKiB: 64, Iterations: 2, Parallelism: 2}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ok, rehash, err := h.Verify(ctx, "pw", enc, tc.now)
			if err != nil || !ok || rehash != tc.rehash {
				t.Fatalf("Verify = %v, %v, %v; want true, %v, nil", ok, rehash, err, tc.rehash)
			}
			// A wrong password never asks for a rehash: the caller must not
			// store a hash of it.
			ok, rehash, err = h.Verify(ctx, "wrong", enc, tc.now)
			if err != nil || ok || rehash {
				t.Fatalf("wrong password: Verify = %v, %v, %v; want false, false, nil", ok, rehash, err)
			}
		})
	}
}

func TestVerifyRejectsMalformedHashes(t *testing.T) {
	t.Parallel()
	const salt, key = "c29tZXNhbHRzb21lc2FsdA", "RmjTCsQYfmh47t6s8P2DxaCjDbLMFu8LRmjTCsQYfmg"
	valid := "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + key
	h := argon2.New(argon2.Options{})
	if _, _, err := h.Verify(context.Background(), "x", valid, cheap); err != nil {
		t.Fatalf("the template itself must parse: %v", err)
	}
	for _, tc := range []struct{ name, enc string }{
		{"empty", ""},
		{"garbage", "not a hash"},
		{"bcrypt", "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy"},
		{"argon2i", "$argon2i$v=19$m=64,t=1,p=1$" + salt + "$" + key},
		{"argon2d", "$argon2d$v=19$m=64,t=1,p=1$" + salt + "$" + key},
		{"upper-case algorithm", "$ARGON2ID$v=19$m=64,t=1,p=1$" + salt + "$" + key},
		{"no leading dollar", "argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + key},
		{"missing version", "$argon2id$m=64,t=1,p=1$" + salt + "$" + key},
		{"version 16", "$argon2id$v=16$m=64,t=1,p=1$" + salt + "$" + key},
		{"version garbage", "$argon2id$v=19x$m=64,t=1,p=1$" + salt + "$" + key},
		{"missing hash", "$argon2id$v=19$m=64,t=1,p=1$" + salt},
		{"empty hash", "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$"},
		{"extra field", valid + "$x"},
		{"trailing dollar", valid + "$"},
		{"parameters reordered", "$argon2id$v=19$t=1,m=64,p=1$" + salt + "$" + key},
		{"parameter missing", "$argon2id$v=19$m=64,t=1$" + salt + "$" + key},
		{"parameter extra", "$argon2id$v=19$m=64,t=1,p=1,k=1$" + salt + "$" + key},
		{"parameter with spaces", "$argon2id$v=19$m=64, t=1,p=1$" + salt + "$" + key},
		{"parameter signed", "$argon2id$v=19$m=+64,t=1,p=1$" + salt + "$" + key},
		{"parameter negative", "$argon2id$v=19$m=64,t=-1,p=1$" + salt + "$" + key},
		{"parameter leading zero", "$argon2id$v=19$m=064,t=1,p=1$" + salt + "$" + key},
		{"parameter not a number", "$argon2id$v=19$m=lots,t=1,p=1$" + salt + "$" + key},
		{"memory overflows uint32", "$argon2id$v=19$m=4294967296,t=1,p=1$" + salt + "$" + key},
		{"memory above 1 GiB", "$argon2id$v=19$m=1048577,t=1,p=1$" + salt + "$" + key},
		{"memory below 8 per lane", "$argon2id$v=19$m=15,t=1,p=2$" + salt + "$" + key},
		{"zero iterations", "$argon2id$v=19$m=64,t=0,p=1$" + salt + "$" + key},
		{"iterations above 64", "$argon2id$v=19$m=64,t=65,p=1$" + salt + "$" + key},
		{"iterations overflow", "$argon2id$v=19$m=64,t=99999999999,p=1$" + salt + "$" + key},
		{"zero parallelism", "$argon2id$v=19$m=64,t=1,p=0$" + salt + "$" + key},
		{"parallelism overflows uint8", "$argon2id$v=19$m=4096,t=1,p=256$" + salt + "$" + key},
		{"salt not base64", "$argon2id$v=19$m=64,t=1,p=1$!!!!$" + key},
		{"salt padded", "$argon2id$v=19$m=64,t=1,p=1$" + salt + "==$" + key},
		{"salt url alphabet", "$argon2id$v=19$m=64,t=1,p=1$c29tZX-_bHRzb21lc2FsdA$" + key},
		{"salt too short", "$argon2id$v=19$m=64,t=1,p=1$c2FsdA$" + key},
		{"salt too long", "$argon2id$v=19$m=64,t=1,p=1$" + strings.Repeat("c29tZXNh", 12) + "$" + key},
		{"hash not base64", "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + key[:42] + "*"},
		{"hash non-canonical trailing bits", "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + key[:42] + "h"},
		{"hash too short", "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + key[:16]},
		{"hash too long", "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + strings.Repeat("RmjT", 30)},
		{"huge string", valid + strings.Repeat("A", 1<<20)},
		{"NUL inside", "$argon2id$v=19$m=64,t=1,p=1\x00$" + salt + "$" + key},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ok, rehash, err := h.Verify(context.Background(), "x", tc.enc, cheap)
			if !errors.Is(err, argon2.ErrMalformedHash) || ok || rehash {
				t.Fatalf("Verify(%q) = %v, %v, %v; want ErrMalformedHash", tc.enc, ok, rehash, err)
			}
		})
	}
}

func TestHashRejectsUnsafeParams(t *testing.T) {
	t.Parallel()
	h := argon2.New(argon2.Options{})
	for _, tc := range []struct {
		name string
		p    tenant.HashParams
	}{
		{"zero value", tenant.HashParams{}},
		{"zero parallelism", tenant.HashParams{MemoryKiB: 64, Iterations: 1}},
		{"zero iterations", tenant.HashParams{MemoryKiB: 64, Parallelism: 1}},
		{"memory above 1 GiB", tenant.HashParams{MemoryKiB: 1<<20 + 1, Iterations: 1, Parallelism: 1}},
		{"iterations above 64", tenant.HashParams{MemoryKiB: 64, Iterations: 65, Parallelism: 1}},
		{"memory below 8 per lane", tenant.HashParams{MemoryKiB: 31, Iterations: 1, Parallelism: 4}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if _, err := h.Hash(context.Background(), "pw", tc.p); !errors.Is(err, argon2.ErrParams) {
				t.Fatalf("Hash = %v, want ErrParams", err)
			}
		})
	}
}

// gate is an argon2 stand-in that blocks every computation until released
// and records how many ran at once.
type gate struct {
	entered chan struct{}
	release chan struct{}
	running atomic.Int32
	peak    atomic.Int32
}

func newGate() *gate { return &gate{entered: make(chan struct{}, 100), release: make(chan struct{})} }

func (g *gate) key(password, salt []byte, t, m uint32, p uint8, keyLen uint32) []byte {
	n := g.running.Add(1)
	for {
		old := g.peak.Load()
		if n <= old || g.peak.CompareAndSwap(old, n) {
			break
		}
	}
	g.entered <- struct{}{}
	<-g.release
	g.running.Add(-1)
	return xargon2.IDKey(password, salt, t, m, p, keyLen)
}

func (g *gate) awaitEntered(t *testing.T, n int) {
	t.Helper()
	for range n {
		select {
		case <-g.entered:
		case <-time.After(10 * time.Second):
			t.Fatalf("fewer than %d computations started", n)
		}
	}
}

func TestPoolRunsAtMostConcurrencyHashes(t *testing.T) {
	t.Parallel()
	const slots, callers = 3, 20
	h := argon2.New(argon2.Options{Concurrency: slots, QueueTimeout: time.Minute})
	g := newGate()
	h.SetKeyFunc(g.key)

	var wg sync.WaitGroup
	start := make(chan struct{})
	errc := make(chan error, callers)
	for range callers {
		wg.Go(func() {
			<-start
			_, err := h.Hash(context.Background(), "pw", cheap)
			errc <- err
		})
	}
	close(start)
	g.awaitEntered(t, slots)
	select {
	case <-g.entered:
		t.Fatalf("a computation started while all %d slots were held", slots)
	case <-time.After(50 * time.Millisecond):
	}
	close(g.release) // let everyone through
	wg.Wait()
	close(errc)
	for err := range errc {
		if err != nil {
			t.Errorf("with a long queue timeout every caller must get a slot, got %v", err)
		}
	}
	if p := g.peak.Load(); p != slots {
		t.Fatalf("peak concurrency %d, want exactly %d", p, slots)
	}
}

func TestPoolSaturatedAnswersBusy(t *testing.T) {
	t.Parallel()
	const slots, waiters = 2, 8
	h := argon2.New(argon2.Options{Concurrency: slots, QueueTimeout: 5 * time.Millisecond})
	g := newGate()
	h.SetKeyFunc(g.key)
	ctx := context.Background()

	enc, err := argon2.New(argon2.Options{}).Hash(ctx, "pw", cheap)
	if err != nil {
		t.Fatal(err)
	}

	var holders sync.WaitGroup
	for range slots {
		holders.Go(func() {
			if _, err := h.Hash(ctx, "pw", cheap); err != nil {
				t.Errorf("holder: %v", err)
			}
		})
	}
	g.awaitEntered(t, slots)

	var wg sync.WaitGroup
	start := make(chan struct{})
	var busy atomic.Int32
	for i := range waiters {
		wg.Go(func() {
			<-start
			var err error
			if i%2 == 0 {
				_, err = h.Hash(ctx, "pw", cheap)
			} else {
				_, _, err = h.Verify(ctx, "pw", enc, cheap)
			}
			var e *errs.Error
			switch {
			case !errors.Is(err, password.ErrBusy):
				t.Errorf("want ErrBusy, got %v", err)
			case !errors.As(err, &e) || e.Kind != errs.Unavailable || e.RetryAfter != 1:
				t.Errorf("want an Unavailable error with RetryAfter 1, got %#v", e)
			default:
				busy.Add(1)
			}
		})
	}
	close(start)
	wg.Wait()
	if n := busy.Load(); n != waiters {
		t.Fatalf("%d of %d callers got ErrBusy", n, waiters)
	}

	close(g.release)
	holders.Wait()
	// The slots are free again.
	if _, _, err := h.Verify(ctx, "pw", enc, cheap); err != nil {
		t.Fatalf("after the holders finished: %v", err)
	}
}

func TestCancelledWhileWaitingForSlot(t *testing.T) {
	t.Parallel()
	h := argon2.New(argon2.Options{Concurrency: 1, QueueTimeout: time.Minute})
	g := newGate()
	h.SetKeyFunc(g.key)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = h.Hash(context.Background(), "pw", cheap)
	}()
	g.awaitEntered(t, 1)
	defer func() { close(g.release); <-done }()

	for _, tc := range []struct {
		name string
		ctx  func() (context.Context, context.CancelFunc)
		want error
	}{
		{"cancelled while queued", func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(5*time.Millisecond, cancel)
			return ctx, cancel
		}, context.Canceled},
		{"deadline while queued", func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 5*time.Millisecond)
		}, context.DeadlineExceeded},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := tc.ctx()
			defer cancel()
			_, err := h.Hash(ctx, "pw", cheap)
			if !errors.Is(err, tc.want) || errors.Is(err, password.ErrBusy) {
				t.Fatalf("Hash = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestCancelledContextDoesNotHash(t *testing.T) {
	t.Parallel()
	h := argon2.New(argon2.Options{})
	g := newGate()
	close(g.release)
	h.SetKeyFunc(g.key)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := h.Hash(ctx, "pw", cheap); !errors.Is(err, context.Canceled) {
		t.Fatalf("Hash = %v, want context.Canceled", err)
	}
	if _, _, err := h.Verify(ctx, "pw", "$argon2id$v=19$m=256,t=3,p=2$c29tZXNhbHQ$RmjTCsQYfmh47t6s8P2DxaCjDbLMFu8L", cheap); !errors.Is(err, context.Canceled) {
		t.Fatalf("Verify = %v, want context.Canceled", err)
	}
	if n := g.peak.Load(); n != 0 {
		t.Fatalf("%d computations ran for a cancelled context", n)
	}
}

// defaultParams are a new tenant's: m=19456, t=2, p=1.
var defaultParams = tenant.Default().Password.Hash

func BenchmarkHash(b *testing.B) {
	h := argon2.New(argon2.Options{})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := h.Hash(context.Background(), "correct horse battery staple", defaultParams); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	h := argon2.New(argon2.Options{})
	enc, err := h.Hash(context.Background(), "correct horse battery staple", defaultParams)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, _, err := h.Verify(context.Background(), "correct horse battery staple", enc, defaultParams); err != nil {
			b.Fatal(err)
		}
	}
}
