package e2e_test

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// adminCLI runs `portcullis admin ARGS` on the data dir and tenants dir,
// with stdin as its standard input, and returns its exit code and output.
func adminCLI(t *testing.T, dataDir, tenantsDir, stdin string, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"admin"}, args...)...)
	cmd.Env = append(os.Environ(), "PORTCULLIS_DATA_DIR="+dataDir, "PORTCULLIS_TENANTS_DIR="+tenantsDir, "PORTCULLIS_DEV_MODE=true")
	for k, v := range storeEnv(dataDir) { // the store the server on dataDir uses
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("admin %v: %v", args, err)
		}
		code = ee.ExitCode()
	}
	return code, string(out)
}

// TestAdminBootstrapOnAStoppedServersStore: `portcullis admin create` makes
// an active admin on the embedded store of a stopped server (the password
// read from standard input), who then signs in; `admin promote` gives an
// account another role and ends its sessions; bad input is refused with a
// reason and exit code 1.
func TestAdminBootstrapOnAStoppedServersStore(t *testing.T) {
	t.Parallel()
	dataDir, tenants := t.TempDir(), t.TempDir()
	spec := tenantSpec{ID: "local", Domains: []string{"localhost"}}
	if err := os.WriteFile(filepath.Join(tenants, "local.yaml"), []byte(spec.yaml()), 0o644); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"PORTCULLIS_TENANTS_DIR": tenants}
	admin := newAccount("boss")
	if code, out := adminCLI(t, dataDir, tenants, "password\n", "create", "-tenant", "local", "-email", admin.Email); code != 1 || !strings.Contains(out, "password") {
		t.Fatalf("a common password: exit %d, %s", code, out)
	}
	if code, out := adminCLI(t, dataDir, tenants, admin.Password+"\n", "create", "-tenant", "nowhere", "-email", admin.Email); code != 1 || !strings.Contains(out, `no tenant "nowhere"`) {
		t.Fatalf("an unknown tenant: exit %d, %s", code, out)
	}
	code, out := adminCLI(t, dataDir, tenants, admin.Password+"\n", "create", "-tenant", "local", "-email", admin.Email)
	if code != 0 || !strings.Contains(out, "role admin") {
		t.Fatalf("admin create: exit %d, %s", code, out)
	}
	s := start(t, options{DataDir: dataDir, Env: env})
	ans := login(t, s, "localhost", admin, "")
	if ans.User.Role != "admin" || !ans.User.EmailVerified {
		t.Fatalf("the bootstrapped admin: %+v", ans.User)
	}
	worker := newAccount("worker")
	register(t, s, "localhost", worker)
	tok := login(t, s, "localhost", worker, "").AccessToken
	s.stop(t, syscall.SIGTERM)

	if code, out := adminCLI(t, dataDir, tenants, "", "promote", "-tenant", "local", "-email", "nobody@example.com", "-role", "staff"); code != 1 || !strings.Contains(out, "no account") {
		t.Fatalf("promote an unknown address: exit %d, %s", code, out)
	}
	if code, out := adminCLI(t, dataDir, tenants, "", "promote", "-tenant", "local", "-email", worker.Email, "-role", "emperor"); code != 1 || !strings.Contains(out, "not a role") {
		t.Fatalf("promote to an unknown role: exit %d, %s", code, out)
	}
	code, out = adminCLI(t, dataDir, tenants, "", "promote", "-tenant", "local", "-email", worker.Email, "-role", "staff")
	if code != 0 || !strings.Contains(out, "1 session(s) ended") {
		t.Fatalf("admin promote: exit %d, %s", code, out)
	}
	s = start(t, options{DataDir: dataDir, Env: env})
	if r := me(t, s, "localhost", withBearer(tok)); r.Status != http.StatusUnauthorized {
		t.Fatalf("a token from before the promotion: %d %s", r.Status, r.Body)
	}
	if got := login(t, s, "localhost", worker, "").User.Role; got != "staff" {
		t.Fatalf("role after promote %q", got)
	}
}
