package throttletest_test

import (
	"testing"
	"time"

	"github.com/portcullis/portcullis/application/throttle"
	"github.com/portcullis/portcullis/application/throttle/throttletest"
)

type wallClock struct{}

func (wallClock) Now() time.Time { return time.Now() }

func TestMemoryLimiterContract(t *testing.T) {
	throttletest.RunLimiterContract(t, func(*testing.T) throttle.Limiter { return throttletest.NewMemoryLimiter(wallClock{}) })
}
