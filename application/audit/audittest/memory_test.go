package audittest_test

import (
	"context"
	"testing"
	"time"

	"github.com/portcullis/portcullis/application/audit/audittest"
)

func TestMemoryLogContract(t *testing.T) {
	audittest.RunLogContract(t, func(t *testing.T) audittest.Harness {
		m := audittest.NewMemoryLog()
		return audittest.Harness{Log: m, Sweep: func(_ context.Context, now time.Time) error { m.Sweep(now); return nil }}
	})
}
