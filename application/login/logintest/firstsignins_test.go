package logintest_test

import (
	"testing"

	"github.com/portcullis/portcullis/application/login"
	"github.com/portcullis/portcullis/application/login/logintest"
)

func TestMemoryFirstSignInsPassesTheContract(t *testing.T) {
	logintest.RunFirstSignInsContract(t, func(*testing.T) login.FirstSignIns { return logintest.NewMemoryFirstSignIns() })
}
