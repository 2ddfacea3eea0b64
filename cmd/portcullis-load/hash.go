package main

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/portcullis/portcullis/adapters/crypto/argon2"
	"github.com/portcullis/portcullis/domain/tenant"
)

// hashTiming is the measured cost of one password hash.
type hashTiming struct {
	Params           tenant.HashParams
	Samples          []time.Duration // sorted
	Median, Min, Max time.Duration
}

// measureHash times n argon2id hashes with params, one after another on one
// goroutine, through the server's own hasher (a pool of one slot), after
// one untimed hash that faults in the memory.
func measureHash(ctx context.Context, params tenant.HashParams, n int) (hashTiming, error) {
	h := argon2.New(argon2.Options{Concurrency: 1})
	const password = "Lh7-correct-horse-battery-qZ"
	if _, err := h.Hash(ctx, password, params); err != nil {
		return hashTiming{}, err
	}
	ht := hashTiming{Params: params, Samples: make([]time.Duration, 0, n)}
	for range n {
		start := time.Now()
		if _, err := h.Hash(ctx, password, params); err != nil {
			return hashTiming{}, err
		}
		ht.Samples = append(ht.Samples, time.Since(start))
	}
	slices.Sort(ht.Samples)
	ht.Median = median(ht.Samples)
	ht.Min, ht.Max = ht.Samples[0], ht.Samples[len(ht.Samples)-1]
	return ht, nil
}

// measureHashParallel times n hashes made by workers goroutines at once,
// each its own hash, and returns the median time of one. It is not the
// hash-bound limit's input (that is one hash alone, as the issue defines
// it) but tells whether hashes slow each other down on this machine (shared
// caches, memory bandwidth): if they do, part of what the login phases
// report as CPU beyond the hash is the hash itself.
func measureHashParallel(ctx context.Context, params tenant.HashParams, workers, n int) (time.Duration, error) {
	h := argon2.New(argon2.Options{Concurrency: workers})
	const password = "Lh7-correct-horse-battery-qZ"
	per := max(n/workers, 1)
	times := make([][]time.Duration, workers)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for range per {
				start := time.Now()
				if _, err := h.Hash(ctx, password, params); err != nil {
					errs[w] = err
					return
				}
				times[w] = append(times[w], time.Since(start))
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return 0, err
		}
	}
	return median(latencies(times)), nil
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

// hashLimit is the most logins per second cores can hash: cores ÷ hash time.
func hashLimit(cores int, hash time.Duration) float64 {
	if hash <= 0 {
		return 0
	}
	return float64(cores) / hash.Seconds()
}
