package e2e_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
)

// keysCLI runs `portcullis keys ARGS` on the data dir, as adminCLI does.
func keysCLI(t *testing.T, dataDir string, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"keys"}, args...)...)
	cmd.Env = append(os.Environ(), "PORTCULLIS_DATA_DIR="+dataDir, "PORTCULLIS_TENANTS_DIR="+shippedTenants, "PORTCULLIS_DEV_MODE=true")
	for k, v := range storeEnv(dataDir) {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out, err := cmd.CombinedOutput()
	return exitCode(t, args, err), string(out)
}

// kidOf is the kid in an access token's header.
func kidOf(t *testing.T, token string) string {
	t.Helper()
	head, err := base64.RawURLEncoding.DecodeString(strings.SplitN(token, ".", 2)[0])
	if err != nil {
		t.Fatal(err)
	}
	var h struct {
		Kid string `json:"kid"`
	}
	if err := json.Unmarshal(head, &h); err != nil {
		t.Fatal(err)
	}
	return h.Kid
}

// jwksKids are the kids the demo tenant publishes.
func jwksKids(t *testing.T, s *server) []string {
	t.Helper()
	r := s.get(t, "/.well-known/jwks.json", withHost("localhost"))
	var set struct {
		Keys []struct {
			Kid string `json:"kid"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(r.Body, &set); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, k := range set.Keys {
		out = append(out, k.Kid)
	}
	return out
}

// A rotation publishes the new key at once and signs with it after the
// lead; with -now at once. Tokens of the keys before keep working.
func TestKeysRotate(t *testing.T) {
	t.Parallel()
	dataDir := t.TempDir()
	a := newAccount("keys")
	s := start(t, options{DataDir: dataDir})
	register(t, s, "localhost", a)
	before := login(t, s, "localhost", a, "")
	k1 := kidOf(t, before.AccessToken)
	if got := jwksKids(t, s); len(got) != 1 || got[0] != k1 {
		t.Fatalf("JWKS %v, want the one key %s", got, k1)
	}
	s.stop(t, syscall.SIGTERM)

	if code, out := keysCLI(t, dataDir, "rotate"); code != 1 || !strings.Contains(out, "-tenant is required") {
		t.Fatalf("rotate without -tenant: %d %s", code, out)
	}
	code, out := keysCLI(t, dataDir, "rotate", "-tenant", "demo")
	if code != 0 || !strings.Contains(out, "(generation 2) is published") {
		t.Fatalf("rotate: %d %s", code, out)
	}
	s = start(t, options{DataDir: dataDir})
	kids := jwksKids(t, s)
	if len(kids) != 2 || kids[0] != k1 {
		t.Fatalf("JWKS after the rotation %v, want the old key and the new", kids)
	}
	if got := kidOf(t, login(t, s, "localhost", a, "").AccessToken); got != k1 {
		t.Fatalf("a token of right after the rotation is signed by %s, want the old key until the new one's lead is over", got)
	}
	s.stop(t, syscall.SIGTERM)

	if code, out := keysCLI(t, dataDir, "rotate", "-tenant", "demo", "-now"); code != 0 || !strings.Contains(out, "(generation 3)") {
		t.Fatalf("rotate -now: %d %s", code, out)
	}
	s = start(t, options{DataDir: dataDir})
	kids = jwksKids(t, s)
	after := login(t, s, "localhost", a, "")
	if len(kids) != 3 || kidOf(t, after.AccessToken) != kids[2] {
		t.Fatalf("after rotate -now: JWKS %v, new token signed by %s; want three keys and the newest signing", kids, kidOf(t, after.AccessToken))
	}
	for name, tok := range map[string]string{"of the first key": before.AccessToken, "of the newest key": after.AccessToken} {
		if r := me(t, s, "localhost", withBearer(tok)); r.Status != http.StatusOK {
			t.Errorf("a token %s: /me %d, want 200", name, r.Status)
		}
	}
}
