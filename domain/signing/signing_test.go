package signing_test

import (
	"crypto/ed25519"
	"encoding/hex"
	"testing"
	"time"

	"github.com/portcullis/portcullis/domain/signing"
)

// The Ed25519 key from RFC 8037 appendix A.1, whose thumbprint RFC 8037
// appendix A.3 gives.
func TestThumbprintMatchesRFC8037(t *testing.T) {
	t.Parallel()
	seed, _ := hex.DecodeString("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
	k := signing.NewKey("t", 1, ed25519.NewKeyFromSeed(seed), time.Unix(0, 0))
	if k.ID != "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k" {
		t.Fatalf("thumbprint %s", k.ID)
	}
	jwk := k.PublicJWK()
	if jwk.X != "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo" || jwk.KeyType != "OKP" || jwk.Curve != "Ed25519" || jwk.Algorithm != "EdDSA" || jwk.KeyID != k.ID {
		t.Fatalf("jwk %+v", jwk)
	}
}
