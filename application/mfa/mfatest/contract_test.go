package mfatest_test

import (
	"testing"

	"github.com/portcullis/portcullis/application/mfa"
	"github.com/portcullis/portcullis/application/mfa/mfatest"
)

func TestMemoryTOTPsContract(t *testing.T) {
	mfatest.RunTOTPsContract(t, func(*testing.T) mfa.TOTPs { return mfatest.NewMemoryTOTPs() })
}

func TestMemoryBackupCodesContract(t *testing.T) {
	mfatest.RunBackupCodesContract(t, func(*testing.T) mfa.BackupCodes { return mfatest.NewMemoryBackupCodes() })
}
