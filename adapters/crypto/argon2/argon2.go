// Package argon2 hashes and verifies passwords with argon2id on a bounded
// pool, storing them as PHC strings
// ($argon2id$v=19$m=<KiB>,t=<iterations>,p=<parallelism>$<salt>$<hash>, the
// format of the reference argon2 CLI and of alexedwards/argon2id).
package argon2

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	xargon2 "golang.org/x/crypto/argon2"

	"github.com/portcullis/portcullis/adapters/tracing"
	"github.com/portcullis/portcullis/application/password"
	"github.com/portcullis/portcullis/domain/tenant"
)

var _ password.Hasher = (*Hasher)(nil)

// Lengths of what Hash produces.
const (
	SaltLength = 16
	KeyLength  = 32
)

// DefaultQueueTimeout is how long a call waits for a free slot unless
// Options say otherwise.
const DefaultQueueTimeout = 2 * time.Second

// Limits on the parameters of a stored hash. They match the limits a tenant
// configuration is validated against, so that a tampered row cannot make one
// verification cost more than the most expensive tenant may.
const (
	maxMemoryKiB   = 1024 * 1024 // 1 GiB
	maxIterations  = 64
	minSaltLength  = 8 // RFC 9106 §3.1
	maxSaltLength  = 64
	minKeyLength   = 16
	maxKeyLength   = 64
	maxEncodedSize = 256 // generous: the longest valid string has about 210 bytes
)

// ErrMalformedHash reports a stored hash that is not an argon2id PHC string
// this package accepts: wrong shape, another algorithm or version, bad
// base64, or parameters outside the limits.
var ErrMalformedHash = errors.New("argon2: malformed password hash")

// ErrParams reports hashing parameters outside the limits.
var ErrParams = errors.New("argon2: hash parameters out of range")

// Options configure a Hasher.
type Options struct {
	// Concurrency is the most hashes computed at once; zero or less means
	// runtime.GOMAXPROCS(0). Each hash holds its MemoryKiB for its
	// duration, so this bounds the memory argon2 uses.
	Concurrency int
	// QueueTimeout is how long a call waits for a free slot before it
	// fails with password.ErrBusy; zero or less means DefaultQueueTimeout.
	QueueTimeout time.Duration
}

// Hasher is an password.Hasher. It is safe for concurrent use.
type Hasher struct {
	slots        chan struct{}
	queueTimeout time.Duration
	// The pool's counters, for Stats.
	waiting, waits, busy atomic.Int64
	waited               atomic.Int64 // nanoseconds
	computed             atomic.Int64
	// key computes argon2id; tests replace it to observe the pool.
	key func(password, salt []byte, time, memory uint32, threads uint8, keyLen uint32) []byte
}

// New returns a hasher running at most opts.Concurrency hashes at once.
func New(opts Options) *Hasher {
	n := opts.Concurrency
	if n <= 0 {
		n = runtime.GOMAXPROCS(0)
	}
	qt := opts.QueueTimeout
	if qt <= 0 {
		qt = DefaultQueueTimeout
	}
	return &Hasher{slots: make(chan struct{}, n), queueTimeout: qt, key: xargon2.IDKey}
}

// Hash returns the PHC string of password under a fresh random salt.
func (h *Hasher) Hash(ctx context.Context, password string, p tenant.HashParams) (string, error) {
	if err := checkParams(p); err != nil {
		return "", fmt.Errorf("%w: %v", ErrParams, err)
	}
	salt := make([]byte, SaltLength)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("argon2: salt: %w", err)
	}
	key, err := h.compute(ctx, password, salt, p, KeyLength)
	if err != nil {
		return "", err
	}
	return encode(p, salt, key), nil
}

// Verify reports whether password matches encoded, recomputing the hash with
// the parameters stored in encoded. rehash is true only together with ok,
// when encoded was made with parameters other than p or with a salt or key
// length other than Hash uses now. A malformed encoded fails with
// ErrMalformedHash before taking a slot. The work done does not depend on
// whether the password is right.
func (h *Hasher) Verify(ctx context.Context, password, encoded string, p tenant.HashParams) (ok, rehash bool, err error) {
	d, err := decode(encoded)
	if err != nil {
		return false, false, err
	}
	key, err := h.compute(ctx, password, d.salt, d.params, uint32(len(d.key)))
	if err != nil {
		return false, false, err
	}
	if subtle.ConstantTimeCompare(key, d.key) != 1 {
		return false, false, nil
	}
	stale := d.params != p || len(d.salt) != SaltLength || len(d.key) != KeyLength
	return true, stale, nil
}

// compute runs argon2id in a slot of the pool.
func (h *Hasher) compute(ctx context.Context, password string, salt []byte, p tenant.HashParams, keyLen uint32) (_ []byte, err error) {
	_, span := tracing.Start(ctx, "password hash")
	defer func() { tracing.End(span, err) }()
	if err := h.acquire(ctx); err != nil {
		return nil, err
	}
	defer func() { <-h.slots }()
	h.computed.Add(1)
	return h.key([]byte(password), salt, p.Iterations, p.MemoryKiB, p.Parallelism, keyLen), nil
}

// acquire takes a slot, waiting at most the queue timeout; a nil error
// obliges the caller to give the slot back.
func (h *Hasher) acquire(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("argon2: waiting for a hashing slot: %w", err)
	}
	select {
	case h.slots <- struct{}{}:
		return nil
	default:
	}
	start := time.Now()
	h.waiting.Add(1)
	defer func() {
		h.waiting.Add(-1)
		h.waits.Add(1)
		h.waited.Add(int64(time.Since(start)))
	}()
	timer := time.NewTimer(h.queueTimeout)
	defer timer.Stop()
	select {
	case h.slots <- struct{}{}:
		return nil
	case <-timer.C:
		h.busy.Add(1)
		return password.ErrBusy.WithRetryAfter(1).Wrap(fmt.Errorf("argon2: no hashing slot free within %s", h.queueTimeout))
	case <-ctx.Done():
		return fmt.Errorf("argon2: waiting for a hashing slot: %w", ctx.Err())
	}
}

// Stats are the pool's figures: its size, the hashes computing and waiting
// now, and totals since the start.
type Stats struct {
	Slots, InUse, Waiting int
	// Computed counts the hashes computed; Waits the calls that found no
	// free slot and waited (WaitSeconds in all); Busy those that gave up
	// after the queue timeout (password.ErrBusy).
	Computed, Waits, Busy int64
	WaitSeconds           float64
}

// Stats returns the pool's figures.
func (h *Hasher) Stats() Stats {
	return Stats{Slots: cap(h.slots), InUse: len(h.slots), Waiting: int(h.waiting.Load()), Computed: h.computed.Load(),
		Waits: h.waits.Load(), Busy: h.busy.Load(), WaitSeconds: time.Duration(h.waited.Load()).Seconds()}
}

func checkParams(p tenant.HashParams) error {
	switch {
	case p.Parallelism < 1:
		return fmt.Errorf("parallelism %d below 1", p.Parallelism)
	case p.Iterations < 1 || p.Iterations > maxIterations:
		return fmt.Errorf("iterations %d not between 1 and %d", p.Iterations, maxIterations)
	case p.MemoryKiB < 8*uint32(p.Parallelism) || p.MemoryKiB > maxMemoryKiB:
		return fmt.Errorf("memory %d KiB not between %d and %d", p.MemoryKiB, 8*uint32(p.Parallelism), maxMemoryKiB)
	}
	return nil
}

func encode(p tenant.HashParams, salt, key []byte) string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", xargon2.Version, p.MemoryKiB, p.Iterations, p.Parallelism,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
}

type decoded struct {
	params    tenant.HashParams
	salt, key []byte
}

// b64 rejects padding, whitespace and non-zero trailing bits, so that one
// hash has one encoding.
var b64 = base64.RawStdEncoding.Strict()

func decode(encoded string) (decoded, error) {
	bad := func(format string, args ...any) (decoded, error) {
		return decoded{}, fmt.Errorf("%w: %s", ErrMalformedHash, fmt.Sprintf(format, args...))
	}
	if len(encoded) > maxEncodedSize {
		return bad("%d bytes long", len(encoded))
	}
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[0] != "" {
		return bad("not a PHC string of 5 fields")
	}
	if parts[1] != "argon2id" {
		return bad("algorithm %q, want argon2id", parts[1])
	}
	if parts[2] != "v="+strconv.Itoa(xargon2.Version) {
		return bad("version field %q, want v=%d", parts[2], xargon2.Version)
	}
	var d decoded
	fields := strings.Split(parts[3], ",")
	if len(fields) != 3 {
		return bad("parameters %q, want m=,t=,p=", parts[3])
	}
	m, err1 := number(fields[0], "m=", 32)
	t, err2 := number(fields[1], "t=", 32)
	par, err3 := number(fields[2], "p=", 8)
	if err := errors.Join(err1, err2, err3); err != nil {
		return bad("parameters %q: %v", parts[3], err)
	}
	d.params = tenant.HashParams{MemoryKiB: uint32(m), Iterations: uint32(t), Parallelism: uint8(par)}
	if err := checkParams(d.params); err != nil {
		return bad("%v", err)
	}
	var err error
	if d.salt, err = b64.DecodeString(parts[4]); err != nil {
		return bad("salt: %v", err)
	}
	if len(d.salt) < minSaltLength || len(d.salt) > maxSaltLength {
		return bad("salt of %d bytes", len(d.salt))
	}
	if d.key, err = b64.DecodeString(parts[5]); err != nil {
		return bad("hash: %v", err)
	}
	if len(d.key) < minKeyLength || len(d.key) > maxKeyLength {
		return bad("hash of %d bytes", len(d.key))
	}
	return d, nil
}

// number parses "<prefix><decimal>" with no sign, spaces or leading zeros.
func number(field, prefix string, bits int) (uint64, error) {
	s, ok := strings.CutPrefix(field, prefix)
	if !ok {
		return 0, fmt.Errorf("%q lacks %q", field, prefix)
	}
	if len(s) > 1 && s[0] == '0' {
		return 0, fmt.Errorf("%q has a leading zero", field)
	}
	n, err := strconv.ParseUint(s, 10, bits)
	if err != nil {
		return 0, fmt.Errorf("%q: not a number in range", field)
	}
	return n, nil
}
