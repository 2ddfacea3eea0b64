package mongo_test

import (
	"testing"

	"github.com/portcullis/portcullis/adapters/mongo"
	"github.com/portcullis/portcullis/application/account"
	"github.com/portcullis/portcullis/application/account/accounttest"
)

func TestUserStoreContract(t *testing.T) {
	accounttest.RunUsersContract(t, func(t *testing.T) account.Users { return mongo.NewUserStore(freshDB(t)) })
}

func TestSessionStoreContract(t *testing.T) {
	accounttest.RunSessionsContract(t, func(t *testing.T) account.Sessions { return mongo.NewSessionStore(freshDB(t)) })
}

func TestRefreshTokenStoreContract(t *testing.T) {
	accounttest.RunRefreshTokensContract(t, func(t *testing.T) account.RefreshTokens { return mongo.NewRefreshTokenStore(freshDB(t)) })
}
