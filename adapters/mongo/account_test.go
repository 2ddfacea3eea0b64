package mongo_test

import (
	"testing"

	"github.com/portcullis/portcullis/adapters/mongo"
	"github.com/portcullis/portcullis/application/account"
	"github.com/portcullis/portcullis/application/account/accounttest"
	"github.com/portcullis/portcullis/application/session"
	"github.com/portcullis/portcullis/application/session/sessiontest"
)

func TestUserStoreContract(t *testing.T) {
	accounttest.RunUsersContract(t, func(t *testing.T) account.Users { return mongo.NewUserStore(freshDB(t)) })
}

func TestSessionStoreContract(t *testing.T) {
	sessiontest.RunSessionsContract(t, func(t *testing.T) session.Sessions { return mongo.NewSessionStore(freshDB(t)) })
}

func TestRefreshTokenStoreContract(t *testing.T) {
	sessiontest.RunRefreshTokensContract(t, func(t *testing.T) session.RefreshTokens { return mongo.NewRefreshTokenStore(freshDB(t)) })
}
