package mongo_test

import (
	"testing"

	"github.com/portcullis/portcullis/adapters/mongo"
	"github.com/portcullis/portcullis/application/mfa"
	"github.com/portcullis/portcullis/application/mfa/mfatest"
)

func TestBackupCodeStorePassesTheContract(t *testing.T) {
	mfatest.RunBackupCodesContract(t, func(t *testing.T) mfa.BackupCodes { return mongo.NewBackupCodeStore(freshDB(t)) })
}
