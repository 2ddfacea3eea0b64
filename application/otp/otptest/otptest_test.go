package otptest_test

import (
	"testing"
	"time"

	"github.com/portcullis/portcullis/application/otp"
	"github.com/portcullis/portcullis/application/otp/otptest"
)

type wallClock struct{}

func (wallClock) Now() time.Time { return time.Now() }

func TestMemoryStoreContract(t *testing.T) {
	otptest.RunStoreContract(t, func(*testing.T) (otp.Store, string) { return otptest.NewMemoryStore(wallClock{}), "t-memory" })
}
