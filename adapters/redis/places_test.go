package redis_test

import (
	"testing"

	"github.com/portcullis/portcullis/adapters/redis"
	"github.com/portcullis/portcullis/application/device"
	"github.com/portcullis/portcullis/application/device/devicetest"
)

// TestPlacesContract runs the Places contract suite on the Redis store: on
// the embedded Redis in make test, on a real Redis where REDIS_URL is set.
func TestPlacesContract(t *testing.T) {
	c := client(t)
	devicetest.RunPlacesContract(t, func(t *testing.T) device.Places { return redis.NewPlaces(c, freshTenant(t, c)) })
}
