package sessiontest_test

import (
	"testing"

	"github.com/portcullis/portcullis/application/session"
	"github.com/portcullis/portcullis/application/session/sessiontest"
)

func TestMemorySessionsContract(t *testing.T) {
	sessiontest.RunSessionsContract(t, func(*testing.T) session.Sessions { return sessiontest.NewMemorySessions() })
}

func TestMemoryRefreshTokensContract(t *testing.T) {
	sessiontest.RunRefreshTokensContract(t, func(*testing.T) session.RefreshTokens { return sessiontest.NewMemoryRefreshTokens() })
}
