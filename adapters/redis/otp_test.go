package redis_test

import (
	"testing"

	"github.com/portcullis/portcullis/adapters/redis"
	"github.com/portcullis/portcullis/application/otp"
	"github.com/portcullis/portcullis/application/otp/otptest"
)

// TestOTPStoreContract runs the otp.Store contract suite on Redis: on
// miniredis in make test, on a real Redis where REDIS_URL is set.
func TestOTPStoreContract(t *testing.T) {
	c := client(t)
	otptest.RunStoreContract(t, func(t *testing.T) (otp.Store, string) { return redis.NewOTPStore(c), freshTenant(t, c) })
}
