package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/adapters/crypto/aesgcm"
	"github.com/portcullis/portcullis/config"
	"github.com/portcullis/portcullis/domain/tenant"
)

const testMasterKey = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="

// The sealed value opens for its tenant only, to the token given, and the
// token appears nowhere in the output.
func TestSealSMSTokenOpensForItsTenantOnly(t *testing.T) {
	t.Setenv("PORTCULLIS_MASTER_KEY", testMasterKey)
	t.Setenv("PORTCULLIS_DATA_DIR", t.TempDir())
	var out, errOut bytes.Buffer
	if code := sealSMSToken("", "shop", strings.NewReader("s3cr3t-token\n"), &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	sealed := strings.TrimSpace(out.String())
	if sealed == "" || strings.Contains(out.String()+errOut.String(), "s3cr3t-token") {
		t.Fatalf("output %q, stderr %q", out.String(), errOut.String())
	}
	key, err := config.DecodeMasterKey(testMasterKey)
	if err != nil {
		t.Fatal(err)
	}
	opener, err := aesgcm.New(key)
	if err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]bool{"shop": true, "other": false} {
		tn := tenant.Default()
		tn.ID = id
		tn.SMSProvider = tenant.SMSProvider{Kind: tenant.SMSProviderTwilio, AuthTokenSealed: sealed}
		got, err := config.SMSAuthToken(tn, func(string) (string, bool) { return "", false }, opener)
		if want && (err != nil || got != "s3cr3t-token") {
			t.Fatalf("tenant %s: %q, %v", id, got, err)
		}
		if !want && err == nil {
			t.Fatalf("tenant %s opened another tenant's token", id)
		}
	}
}

func TestSealSMSTokenNeedsATenantAndAToken(t *testing.T) {
	t.Setenv("PORTCULLIS_MASTER_KEY", testMasterKey)
	var out, errOut bytes.Buffer
	if code := sealSMSToken("", "", strings.NewReader("x\n"), &out, &errOut); code != 1 || !strings.Contains(errOut.String(), "-tenant is required") {
		t.Fatalf("no tenant: exit %d, %q", code, errOut.String())
	}
	errOut.Reset()
	if code := sealSMSToken("", "shop", strings.NewReader("\n"), &out, &errOut); code != 1 || !strings.Contains(errOut.String(), "no token") {
		t.Fatalf("no token: exit %d, %q", code, errOut.String())
	}
}
