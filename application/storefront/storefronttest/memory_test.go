package storefronttest_test

import (
	"testing"

	app "github.com/portcullis/portcullis/application/storefront"
	"github.com/portcullis/portcullis/application/storefront/storefronttest"
)

func TestMemoryStoreContract(t *testing.T) {
	storefronttest.RunStoreContract(t, func(*testing.T) app.Store { return storefronttest.NewMemoryStore() })
}
