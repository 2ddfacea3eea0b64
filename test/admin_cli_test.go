package e2e_test

import (
	"encoding/json"
	"net/http"
	"net/url"
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
	cmd := adminCmd(dataDir, tenantsDir, stdin, args...)
	out, err := cmd.CombinedOutput()
	return exitCode(t, args, err), string(out)
}

// adminCLISplit is adminCLI with standard output and standard error apart.
func adminCLISplit(t *testing.T, dataDir, tenantsDir, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	cmd := adminCmd(dataDir, tenantsDir, stdin, args...)
	var o, e strings.Builder
	cmd.Stdout, cmd.Stderr = &o, &e
	return exitCode(t, args, cmd.Run()), o.String(), e.String()
}

func adminCmd(dataDir, tenantsDir, stdin string, args ...string) *exec.Cmd {
	cmd := exec.Command(binary, append([]string{"admin"}, args...)...)
	cmd.Env = append(os.Environ(), "PORTCULLIS_DATA_DIR="+dataDir, "PORTCULLIS_TENANTS_DIR="+tenantsDir, "PORTCULLIS_DEV_MODE=true")
	for k, v := range storeEnv(dataDir) { // the store the server on dataDir uses
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Stdin = strings.NewReader(stdin)
	return cmd
}

func exitCode(t *testing.T, args []string, err error) int {
	t.Helper()
	if err == nil {
		return 0
	}
	ee, ok := err.(*exec.ExitError)
	if !ok {
		t.Fatalf("admin %v: %v", args, err)
	}
	return ee.ExitCode()
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

// createWithLink runs `admin create -link` for email (standard input
// empty: it is not read) and returns the printed link's token, checking
// that the link is the only line of standard output, under the tenant's
// base URL on the canonical reset path, and that standard error says when
// it expires.
func createWithLink(t *testing.T, dataDir, tenants, email string, args ...string) string {
	t.Helper()
	code, stdout, stderr := adminCLISplit(t, dataDir, tenants, "", append([]string{"create", "-tenant", "local", "-email", email, "--link"}, args...)...)
	if code != 0 {
		t.Fatalf("admin create --link: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
	if len(lines) != 1 || !strings.HasSuffix(stdout, "\n") {
		t.Fatalf("standard output is not one line: %q", stdout)
	}
	u, err := url.Parse(lines[0])
	if err != nil || u.Scheme != "http" || u.Hostname() != "localhost" || u.Path != "/auth/v1/password/reset" {
		t.Fatalf("link %q (%v): want the dev base URL and the canonical reset path", lines[0], err)
	}
	token := u.Query().Get("token")
	if !strings.HasPrefix(token, "st1.") {
		t.Fatalf("link %q has no set-password token", lines[0])
	}
	if !strings.Contains(stderr, "created "+email) || !strings.Contains(stderr, "until ") {
		t.Fatalf("standard error does not say what was made and until when the link works: %s", stderr)
	}
	return token
}

// TestAdminCreateWithALinkOnAStoppedServersStore: `admin create --link`
// makes an active admin without a password and prints a one-time
// set-password link, before the server ever ran (the command makes the
// dev master key the server then uses) and on the store of a stopped
// server (the embedded one, or MONGODB_URI's). Once the server runs, the
// link's token sets the password on the canonical reset route, and then
// the account signs in. The token works once: again it is invalid_token,
// and of twenty uses of a fresh token released together exactly one sets
// the password.
func TestAdminCreateWithALinkOnAStoppedServersStore(t *testing.T) {
	t.Parallel()
	dataDir, tenants := t.TempDir(), t.TempDir()
	spec := tenantSpec{ID: "local", Domains: []string{"localhost"}}
	if err := os.WriteFile(filepath.Join(tenants, "local.yaml"), []byte(spec.yaml()), 0o644); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"PORTCULLIS_TENANTS_DIR": tenants}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"promote", "-tenant", "local", "-email", "x@example.com", "-role", "staff", "--link"}, "-link is only for create"},
		{[]string{"create", "-tenant", "local", "-email", "x@example.com", "--link", "-link-ttl", "169h"}, "-link-ttl"},
		{[]string{"create", "-tenant", "local", "-email", "x@example.com", "-link-ttl", "1h"}, "-link-ttl goes with -link"},
	} {
		if code, out := adminCLI(t, dataDir, tenants, "", c.args...); code != 1 || !strings.Contains(out, c.want) {
			t.Fatalf("admin %v: exit %d, %s", c.args, code, out)
		}
	}
	boss := newAccount("boss")
	token := createWithLink(t, dataDir, tenants, boss.Email)
	if _, err := os.Stat(filepath.Join(dataDir, "master.key")); err != nil {
		t.Fatalf("the dev master key: %v", err)
	}

	s := start(t, options{DataDir: dataDir, Env: env})
	wantProblem(t, tryLogin(t, s, "localhost", boss.Email, boss.Password), http.StatusUnauthorized, "invalid_credentials")
	if r := s.get(t, "/auth/v1/password/reset?token="+url.QueryEscape(token), withHost("localhost")); r.Status != http.StatusOK {
		t.Fatalf("the link opened: %d %s", r.Status, r.Body)
	}
	if r := postJSON(t, s, "localhost", "/auth/v1/password/reset", map[string]any{"token": token, "password": boss.Password}); r.Status != http.StatusNoContent {
		t.Fatalf("set the password with the link: %d %s", r.Status, r.Body)
	}
	ans := login(t, s, "localhost", boss, "")
	if ans.User.Role != "admin" || !ans.User.EmailVerified {
		t.Fatalf("the bootstrapped admin: %+v", ans.User)
	}
	again := postJSON(t, s, "localhost", "/auth/v1/password/reset", map[string]any{"token": token, "password": strongPassword()})
	wantProblem(t, again, http.StatusBadRequest, "invalid_token")
	wantProblem(t, postJSON(t, s, "localhost", "/auth/v1/password/reset/validate", map[string]any{"token": token}), http.StatusBadRequest, "invalid_token")
	login(t, s, "localhost", boss, "") // the second use changed nothing
	s.stop(t, syscall.SIGTERM)

	racer := newAccount("racer")
	raceToken := createWithLink(t, dataDir, tenants, racer.Email, "-link-ttl", "1h", "-role", "staff")
	s = start(t, options{DataDir: dataDir, Env: env})
	const n = 20
	raws, passwords := make([]string, n), make([]string, n)
	for i := range raws {
		passwords[i] = strongPassword()
		body, _ := json.Marshal(map[string]any{"token": raceToken, "password": passwords[i]})
		raws[i] = rawJSONRequest(http.MethodPost, "/auth/v1/password/reset", "localhost", string(body))
	}
	winner, refused, busy := -1, 0, 0
	for i, r := range s.sendEachTogether(t, raws) {
		switch {
		case r.Status == http.StatusNoContent:
			if winner >= 0 {
				t.Errorf("uses %d and %d of one link both set the password", winner, i)
			}
			winner = i
		case r.Status == http.StatusBadRequest && decodeJSON[problem](t, r).Code == "invalid_token":
			refused++
		case r.Status == http.StatusServiceUnavailable && decodeJSON[problem](t, r).Code == "busy":
			busy++ // hashing saturated before the token was used
		default:
			t.Errorf("use %d: %d %s", i, r.Status, r.Body)
		}
	}
	t.Logf("%d uses of one set-password link sent together: 1 succeeded, %d invalid_token, %d busy", n, refused, busy)
	if winner < 0 {
		t.Fatalf("no use of %d succeeded", n)
	}
	if got := login(t, s, "localhost", account{Email: racer.Email, Password: passwords[winner]}, "").User.Role; got != "staff" {
		t.Fatalf("the racer's role %q", got)
	}
}
