package accounttest_test

import (
	"testing"

	"github.com/portcullis/portcullis/application/account"
	"github.com/portcullis/portcullis/application/account/accounttest"
)

func TestMemoryUsersContract(t *testing.T) {
	accounttest.RunUsersContract(t, func(*testing.T) account.Users { return accounttest.NewMemoryUsers() })
}
