package accounttest_test

import (
	"testing"

	"github.com/portcullis/portcullis/application/account"
	"github.com/portcullis/portcullis/application/account/accounttest"
)

func TestMemoryUsersContract(t *testing.T) {
	accounttest.RunUsersContract(t, func(*testing.T) account.Users { return accounttest.NewMemoryUsers() })
}

func TestMemorySessionsContract(t *testing.T) {
	accounttest.RunSessionsContract(t, func(*testing.T) account.Sessions { return accounttest.NewMemorySessions() })
}

func TestMemoryRefreshTokensContract(t *testing.T) {
	accounttest.RunRefreshTokensContract(t, func(*testing.T) account.RefreshTokens { return accounttest.NewMemoryRefreshTokens() })
}
