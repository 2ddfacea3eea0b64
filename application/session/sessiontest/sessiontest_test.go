package sessiontest_test

import (
	"testing"
	"time"

	"github.com/portcullis/portcullis/application/session"
	"github.com/portcullis/portcullis/application/session/sessiontest"
)

func TestMemorySessionsContract(t *testing.T) {
	sessiontest.RunSessionsContract(t, func(*testing.T) session.Sessions { return sessiontest.NewMemorySessions() })
}

func TestMemoryRefreshTokensContract(t *testing.T) {
	sessiontest.RunRefreshTokensContract(t, func(*testing.T) session.RefreshTokens { return sessiontest.NewMemoryRefreshTokens() })
}

func TestMemoryRevocationsContract(t *testing.T) {
	sessiontest.RunRevocationsContract(t, func(*testing.T) (session.Revocations, string, func()) {
		r := sessiontest.NewMemoryRevocations(wallClock{})
		return r, "t-memory", r.Flush
	})
}

type wallClock struct{}

func (wallClock) Now() time.Time { return time.Now() }
