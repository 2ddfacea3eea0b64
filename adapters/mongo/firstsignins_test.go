package mongo_test

import (
	"testing"

	"github.com/portcullis/portcullis/adapters/mongo"
	"github.com/portcullis/portcullis/application/login"
	"github.com/portcullis/portcullis/application/login/logintest"
)

func TestFirstSignInStorePassesTheContract(t *testing.T) {
	logintest.RunFirstSignInsContract(t, func(t *testing.T) login.FirstSignIns { return mongo.NewFirstSignInStore(freshDB(t)) })
}
