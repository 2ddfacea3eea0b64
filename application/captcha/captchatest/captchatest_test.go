package captchatest_test

import (
	"testing"
	"time"

	"github.com/portcullis/portcullis/application/captcha"
	"github.com/portcullis/portcullis/application/captcha/captchatest"
)

type wallClock struct{}

func (wallClock) Now() time.Time { return time.Now() }

func TestMemoryFailuresContract(t *testing.T) {
	captchatest.RunFailuresContract(t, func(*testing.T) captcha.Failures { return captchatest.NewMemoryFailures(wallClock{}) })
}

func TestMemoryUsedTokensContract(t *testing.T) {
	captchatest.RunUsedTokensContract(t, func(*testing.T) captcha.UsedTokens { return captchatest.NewMemoryUsedTokens(wallClock{}) })
}
