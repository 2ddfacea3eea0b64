package main

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/portcullis/portcullis/adapters/crypto/argon2"
	"github.com/portcullis/portcullis/domain/tenant"
)

// benchPassword is what the hash measurements hash: as long as the users'.
const benchPassword = "Lh7-correct-horse-battery-qZ"

// hashTiming is the measured cost of one password hash made alone.
type hashTiming struct {
	Params           tenant.HashParams
	Samples          []time.Duration // wall time of each, sorted
	Median, Min, Max time.Duration
	// CPU is this process's CPU time per hash over the samples: what one
	// hash costs, whatever else the machine is running.
	CPU time.Duration
}

// measureHash times n argon2id hashes with params, one after another on one
// goroutine, through the server's own hasher (a pool of one slot), after
// one untimed hash that faults in the memory.
func measureHash(ctx context.Context, params tenant.HashParams, n int) (hashTiming, error) {
	h := argon2.New(argon2.Options{Concurrency: 1})
	if _, err := h.Hash(ctx, benchPassword, params); err != nil {
		return hashTiming{}, err
	}
	ht := hashTiming{Params: params, Samples: make([]time.Duration, 0, n)}
	cpu0 := selfCPU()
	for range n {
		start := time.Now()
		if _, err := h.Hash(ctx, benchPassword, params); err != nil {
			return hashTiming{}, err
		}
		ht.Samples = append(ht.Samples, time.Since(start))
	}
	ht.CPU = (selfCPU() - cpu0) / time.Duration(n)
	slices.Sort(ht.Samples)
	ht.Median = median(ht.Samples)
	ht.Min, ht.Max = ht.Samples[0], ht.Samples[len(ht.Samples)-1]
	return ht, nil
}

// hashRate is the measured rate of workers goroutines hashing at once: the
// most password logins per second this machine can hash, and so the
// hash-bound limit.
type hashRate struct {
	Workers int
	Hashes  int // timed, over all workers
	// PerSecond is the sum of the workers' rates, each its hashes over its
	// own wall time, so that a worker finishing early does not leave a
	// tail of one worker hashing alone in the figure.
	PerSecond float64
	Median    time.Duration // wall time of one hash among the others
	// CPU is this process's CPU time per hash while they ran.
	CPU time.Duration
}

// measureHashRate runs workers goroutines that each hash n times with
// params, all at once, through one hasher with a slot per worker (the
// server's pool has one per core), after one untimed hash each that faults
// in the memory. Hashes running together share caches and memory
// bandwidth, so the rate is what the machine sustains, which a single
// hash's time multiplied by the cores overstates.
func measureHashRate(ctx context.Context, params tenant.HashParams, workers, n int) (hashRate, error) {
	h := argon2.New(argon2.Options{Concurrency: workers})
	times := make([][]time.Duration, workers)
	walls := make([]time.Duration, workers)
	errs := make([]error, workers)
	var ready, done sync.WaitGroup
	start := make(chan struct{})
	ready.Add(workers)
	for w := range workers {
		done.Go(func() {
			_, errs[w] = h.Hash(ctx, benchPassword, params)
			ready.Done()
			<-start
			if errs[w] != nil {
				return
			}
			times[w] = make([]time.Duration, 0, n)
			began := time.Now()
			for range n {
				t := time.Now()
				if _, err := h.Hash(ctx, benchPassword, params); err != nil {
					errs[w] = err
					return
				}
				times[w] = append(times[w], time.Since(t))
			}
			walls[w] = time.Since(began)
		})
	}
	ready.Wait()
	cpu0 := selfCPU()
	close(start)
	done.Wait()
	cpu := selfCPU() - cpu0
	for _, err := range errs {
		if err != nil {
			return hashRate{}, err
		}
	}
	r := hashRate{Workers: workers, Hashes: workers * n, Median: median(latencies(times))}
	for _, wall := range walls {
		r.PerSecond += perSecond(n, wall)
	}
	r.CPU = cpu / time.Duration(r.Hashes)
	return r, nil
}

// median of sorted values: the middle one, or the mean of the two middle
// ones.
func median(sorted []time.Duration) time.Duration {
	n := len(sorted)
	switch {
	case n == 0:
		return 0
	case n%2 == 1:
		return sorted[n/2]
	}
	return (sorted[n/2-1] + sorted[n/2]) / 2
}

// singleHashLimit is what cores could hash if hashes running together did
// not slow each other down: cores ÷ the time of one hash alone. It is
// reported beside the measured parallel rate, which is the limit.
func singleHashLimit(cores int, hash time.Duration) float64 {
	if hash <= 0 {
		return 0
	}
	return float64(cores) / hash.Seconds()
}
