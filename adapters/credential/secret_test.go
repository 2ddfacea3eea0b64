package credential_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/adapters/credential"
)

func TestSecretNeverPrints(t *testing.T) {
	t.Parallel()
	const value = "hunter2-s3cret"
	s := credential.New(value)
	type holder struct {
		Password credential.Secret
	}
	var out bytes.Buffer
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%d", "%x"} {
		fmt.Fprintf(&out, verb+"\n", s)
		fmt.Fprintf(&out, verb+"\n", holder{s})
	}
	js, _ := json.Marshal(holder{s})
	out.Write(js)
	slog.New(slog.NewJSONHandler(&out, nil)).Info("x", "secret", s, "holder", holder{s})
	slog.New(slog.NewTextHandler(&out, nil)).Info("x", "secret", s)
	if strings.Contains(out.String(), value) {
		t.Fatalf("the secret was printed:\n%s", out.String())
	}
	if s.Reveal() != value || s.IsZero() || !credential.New("").IsZero() {
		t.Fatal("Reveal and IsZero")
	}
}
