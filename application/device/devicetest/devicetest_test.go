package devicetest_test

import (
	"testing"

	"github.com/portcullis/portcullis/application/device"
	"github.com/portcullis/portcullis/application/device/devicetest"
)

func TestMemoryPlacesContract(t *testing.T) {
	devicetest.RunPlacesContract(t, func(*testing.T) device.Places { return devicetest.NewMemoryPlaces(devicetest.WallClock) })
}
