package e2e_test

import (
	"bufio"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"
)

// jwk is a public key as the JWKS endpoint publishes it.
type jwk struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Kid string `json:"kid"`
	Use string `json:"use"`
	Alg string `json:"alg"`
}

// jwksKey fetches the JWKS of the tenant the options resolve to, checks that
// it holds exactly one well-formed Ed25519 key whose kid is its RFC 7638
// thumbprint, and returns the key and the reply.
func jwksKey(t *testing.T, s *server, opts ...reqOption) (jwk, reply) {
	t.Helper()
	r := s.get(t, "/.well-known/jwks.json", opts...)
	return checkJWKS(t, r), r
}

// checkJWKS checks a JWKS reply as jwksKey describes and returns its key.
func checkJWKS(t *testing.T, r reply) jwk {
	t.Helper()
	if r.Status != http.StatusOK {
		t.Fatalf("JWKS: status %d, want 200; body %s", r.Status, r.Body)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("JWKS: Content-Type %q, want application/json", ct)
	}
	set := decodeJSON[struct {
		Keys []jwk `json:"keys"`
	}](t, r)
	if len(set.Keys) != 1 {
		t.Fatalf("JWKS: %d keys, want 1: %s", len(set.Keys), r.Body)
	}
	k := set.Keys[0]
	if k.Kty != "OKP" || k.Crv != "Ed25519" || k.Use != "sig" || k.Alg != "EdDSA" {
		t.Errorf("JWKS key = %+v, want kty OKP, crv Ed25519, use sig, alg EdDSA", k)
	}
	pub, err := base64.RawURLEncoding.DecodeString(k.X)
	if err != nil || len(pub) != 32 {
		t.Errorf("JWKS key x %q is not 32 bytes of unpadded base64url (err %v)", k.X, err)
	}
	sum := sha256.Sum256([]byte(`{"crv":"Ed25519","kty":"OKP","x":"` + k.X + `"}`))
	if want := base64.RawURLEncoding.EncodeToString(sum[:]); k.Kid != want {
		t.Errorf("JWKS kid %q is not the RFC 7638 thumbprint of x (%q)", k.Kid, want)
	}
	return k
}

// problem is an RFC 9457 problem body.
type problem struct {
	Type      string `json:"type"`
	Title     string `json:"title"`
	Status    int    `json:"status"`
	Detail    string `json:"detail"`
	Code      string `json:"code"`
	RequestID string `json:"request_id"`
}

// twoTenants is a tenants directory with the shipped demo and a second
// tenant, acme.
func twoTenants(t *testing.T) string {
	t.Helper()
	return writeTenants(t, map[string]string{
		"demo.yaml": shippedDemo(t),
		"acme.yaml": "id: acme\ndisplay_name: Acme\ndomains: [acme.localhost]\n",
	})
}

func TestProbes(t *testing.T) {
	t.Parallel()
	s := start(t, options{})
	tests := []struct {
		name string
		path string
		host string
		want map[string]any
	}{
		{"healthz", "/healthz", "", map[string]any{"status": "ok"}},
		{"healthz needs no tenant", "/healthz", "nobody.invalid", map[string]any{"status": "ok"}},
		{"readyz", "/readyz", "", map[string]any{"status": "ready", "checks": map[string]any{"mongodb": "ok", "redis": "ok"}}},
		{"readyz needs no tenant", "/readyz", "nobody.invalid", map[string]any{"status": "ready", "checks": map[string]any{"mongodb": "ok", "redis": "ok"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var opts []reqOption
			if tc.host != "" {
				opts = append(opts, withHost(tc.host))
			}
			r := s.get(t, tc.path, opts...)
			if r.Status != http.StatusOK {
				t.Fatalf("GET %s: status %d, want 200; body %s", tc.path, r.Status, r.Body)
			}
			got := decodeJSON[map[string]any](t, r)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("GET %s: body %s, want %v", tc.path, r.Body, tc.want)
			}
		})
	}
}

func TestJWKSPerTenant(t *testing.T) {
	t.Parallel()
	s := start(t, options{Env: map[string]string{"PORTCULLIS_TENANTS_DIR": twoTenants(t)}})
	tests := []struct {
		name   string
		opts   []reqOption
		tenant string
	}{
		{"demo by Host", []reqOption{withHost("localhost")}, "demo"},
		{"demo by its second domain", []reqOption{withHost("demo.localhost")}, "demo"},
		{"demo by Host with a port", []reqOption{withHost("localhost:8080")}, "demo"},
		{"demo by X-Tenant-ID", []reqOption{withTenant("demo")}, "demo"},
		{"Host wins over X-Tenant-ID", []reqOption{withHost("localhost"), withTenant("acme")}, "demo"},
		{"acme by Host", []reqOption{withHost("acme.localhost")}, "acme"},
		{"acme by X-Tenant-ID", []reqOption{withTenant("acme")}, "acme"},
	}
	kids := map[string]map[string]string{} // tenant → kid → first case that saw it
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k, r := jwksKey(t, s, tc.opts...)
			if got := s.waitRequestLogged(t, r.RequestID).Str("tenant"); got != tc.tenant {
				t.Errorf("access log says tenant %q, want %q", got, tc.tenant)
			}
			if kids[tc.tenant] == nil {
				kids[tc.tenant] = map[string]string{}
			}
			if _, seen := kids[tc.tenant][k.Kid]; !seen {
				kids[tc.tenant][k.Kid] = tc.name
			}
		})
	}
	for tenant, ks := range kids {
		if len(ks) != 1 {
			t.Errorf("tenant %s was served %d different kids, want 1: %v", tenant, len(ks), ks)
		}
	}
	if len(kids["demo"]) == 1 && len(kids["acme"]) == 1 {
		for kid := range kids["demo"] {
			if _, same := kids["acme"][kid]; same {
				t.Errorf("demo and acme share the kid %s; each tenant must have its own key", kid)
			}
		}
	}
}

func TestNotFoundProblems(t *testing.T) {
	t.Parallel()
	s := start(t, options{})
	tests := []struct {
		name     string
		path     string
		opts     []reqOption
		wantCode string
		// wantRID is the request id the client sent, if any.
		wantRID string
	}{
		{"unknown Host", "/.well-known/jwks.json", []reqOption{withHost("nobody.example")}, "tenant_not_found", ""},
		{"unknown X-Tenant-ID", "/.well-known/jwks.json", []reqOption{withTenant("nobody")}, "tenant_not_found", ""},
		{"no Host match and no header", "/.well-known/jwks.json", nil, "tenant_not_found", ""},
		{"client request id is echoed", "/.well-known/jwks.json", []reqOption{withHost("nobody.example"), withHeader("X-Request-ID", "e2e-req.42")}, "tenant_not_found", "e2e-req.42"},
		{"unknown route on a known tenant", "/no/such/route", []reqOption{withHost("localhost")}, "not_found", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := s.get(t, tc.path, tc.opts...)
			if r.Status != http.StatusNotFound {
				t.Fatalf("status %d, want 404; body %s", r.Status, r.Body)
			}
			if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" {
				t.Errorf("Content-Type %q, want application/problem+json", ct)
			}
			p := decodeJSON[problem](t, r)
			want := problem{Type: "urn:portcullis:problem:" + tc.wantCode, Title: "Not Found", Status: 404, Code: tc.wantCode, RequestID: r.RequestID, Detail: p.Detail}
			if p != want {
				t.Errorf("problem = %+v, want %+v", p, want)
			}
			if p.Detail == "" {
				t.Errorf("problem has no detail: %s", r.Body)
			}
			if tc.wantRID != "" && r.RequestID != tc.wantRID {
				t.Errorf("X-Request-ID %q, want the client's %q", r.RequestID, tc.wantRID)
			}
		})
	}
}

func TestRestartKeepsKeys(t *testing.T) {
	t.Parallel()
	dataDir := t.TempDir()
	isKeyWarning := func(e logEntry) bool { return strings.Contains(e.Msg(), "generated a master key") }

	first := start(t, options{DataDir: dataDir})
	demo1, _ := jwksKey(t, first, withHost("localhost"))
	byHeader, _ := jwksKey(t, first, withTenant("demo"))
	if byHeader != demo1 {
		t.Fatalf("demo served %+v by Host and %+v by X-Tenant-ID", demo1, byHeader)
	}
	if first.count(isKeyWarning) != 1 {
		t.Errorf("first start with an empty data dir logged %d \"generated a master key\" warnings, want 1", first.count(isKeyWarning))
	}

	keyFile := filepath.Join(dataDir, "master.key")
	info, err := os.Stat(keyFile)
	if err != nil {
		t.Fatalf("dev mode did not leave a master key in the data dir: %v", err)
	}
	if perm := info.Mode().Perm(); perm != 0o600 {
		t.Errorf("%s has mode %04o, want 0600", keyFile, perm)
	}
	key1, err := os.ReadFile(keyFile)
	if err != nil || len(key1) == 0 {
		t.Fatalf("read %s: %v (%d bytes)", keyFile, err, len(key1))
	}

	if code := first.stop(t, syscall.SIGTERM); code != 0 {
		t.Fatalf("exit code %d after SIGTERM, want 0", code)
	}
	first.waitMsg(t, "stopped")

	second := start(t, options{DataDir: dataDir})
	if n := second.count(isKeyWarning); n != 0 {
		t.Errorf("restart with an existing master.key logged %d \"generated a master key\" warnings, want 0", n)
	}
	demo2, _ := jwksKey(t, second, withHost("localhost"))
	if demo2 != demo1 {
		t.Errorf("after restart demo's key is %+v, want the stored %+v", demo2, demo1)
	}
	key2, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if string(key2) != string(key1) {
		t.Errorf("restart rewrote %s", keyFile)
	}
	if code := second.stop(t, syscall.SIGINT); code != 0 {
		t.Fatalf("exit code %d after SIGINT, want 0", code)
	}
	second.waitMsg(t, "stopped")
}

// TestShutdownDrainsInFlightRequest holds a request open mid-body across
// SIGTERM. Expect: 100-continue makes the server say when it has read the
// headers, so the request is surely in flight before the signal.
func TestShutdownDrainsInFlightRequest(t *testing.T) {
	t.Parallel()
	s := start(t, options{})

	conn, err := net.DialTimeout("tcp", s.Addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(60 * time.Second)); err != nil {
		t.Fatal(err)
	}
	body := "0123456789abcdef"
	if _, err := fmt.Fprintf(conn, "POST /.well-known/jwks.json HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/plain\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n", len(body)); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	cont, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("reading the interim response to Expect: 100-continue: %v", err)
	}
	if cont.StatusCode != http.StatusContinue {
		t.Fatalf("interim response %s, want 100 Continue", cont.Status)
	}
	if _, err := io.WriteString(conn, body[:5]); err != nil {
		t.Fatal(err)
	}

	s.signal(t, syscall.SIGTERM)
	s.waitMsg(t, "shutting down: draining in-flight requests")

	// The listener closes once draining starts; poll until a new
	// connection is refused.
	refuseBy := time.Now().Add(5 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", s.Addr, time.Second)
		if err != nil {
			if !errors.Is(err, syscall.ECONNREFUSED) {
				t.Errorf("new connection during shutdown failed with %v, want connection refused", err)
			}
			break
		}
		c.Close()
		if time.Now().After(refuseBy) {
			t.Fatalf("the server still accepts connections 5s after it logged shutting down")
		}
		time.Sleep(20 * time.Millisecond)
	}

	// Keep the request in flight across several of the server's drain
	// rounds before finishing it.
	time.Sleep(time.Second)
	if s.hasExited() {
		t.Fatalf("server exited (code %d) while a request was in flight", s.code)
	}
	if _, err := io.WriteString(conn, body[5:]); err != nil {
		t.Fatalf("server dropped the in-flight connection: %v", err)
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("no complete response to the in-flight request: %v", err)
	}
	respBody, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("response body of the in-flight request cut short: %v", err)
	}
	t.Logf("in-flight request answered %s, %d bytes body", resp.Status, len(respBody))
	rid := resp.Header.Get("X-Request-ID")
	if rid == "" {
		t.Errorf("in-flight response has no X-Request-ID")
	}

	if code := s.waitExit(t, exitTimeout); code != 0 {
		t.Fatalf("exit code %d after draining, want 0", code)
	}
	s.waitMsg(t, "stopped")
	order := map[string]int{}
	for i, e := range s.entries() {
		switch {
		case e.Msg() == "shutting down: draining in-flight requests", e.Msg() == "stopped":
			order[e.Msg()] = i
		case e.Msg() == "request" && e.Str("request_id") == rid:
			order["request"] = i
		}
	}
	if _, ok := order["request"]; !ok {
		t.Fatalf("the in-flight request %s was not access-logged", rid)
	}
	if !(order["shutting down: draining in-flight requests"] < order["request"] && order["request"] < order["stopped"]) {
		t.Errorf("log order %v, want shutting down < request < stopped", order)
	}
}

// TestShutdownNotHeldBySilentConnection: a client that connects and sends
// nothing (a TCP health check, a browser preconnect) must not hold up a
// graceful shutdown (fasthttp counts a connection as active before its first
// byte arrives; the server closes such connections when it drains).
func TestShutdownNotHeldBySilentConnection(t *testing.T) {
	t.Parallel()
	s := start(t, options{Env: map[string]string{"PORTCULLIS_SHUTDOWN_TIMEOUT": "10s"}})
	conn, err := net.DialTimeout("tcp", s.Addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// The server accepts connections in order: once a request on a second
	// connection is answered, the silent one has been accepted.
	s.get(t, "/healthz")
	begun := time.Now()
	if code := s.stop(t, syscall.SIGTERM); code != 0 {
		t.Errorf("exit code %d, want 0", code)
	}
	t.Logf("exited %s after SIGTERM", time.Since(begun).Round(time.Millisecond))
	s.waitMsg(t, "stopped")
}

func TestThousandTenantsBuildLazily(t *testing.T) {
	t.Parallel()
	const n = 1000
	files := make(map[string]string, n)
	for i := range n {
		id := fmt.Sprintf("t%04d", i)
		files[id+".yaml"] = fmt.Sprintf("id: %s\ndomains: [%s.example]\n", id, id)
	}
	s := start(t, options{Env: map[string]string{"PORTCULLIS_TENANTS_DIR": writeTenants(t, files)}})
	t.Logf("startup with %d tenants: %s from process start to listening (server reports %s)",
		n, s.Startup.Round(time.Millisecond), s.Listening.Duration("startup"))
	if got, _ := s.Listening.Num("tenants"); got != n {
		t.Fatalf("listening line says tenants=%v, want %d: %s", s.Listening.Fields["tenants"], n, s.Listening.Raw)
	}

	isBuilt := func(e logEntry) bool { return e.Msg() == "tenant built" }
	builtPerTenant := func() map[string]int {
		m := map[string]int{}
		for _, e := range s.entries() {
			if isBuilt(e) {
				m[e.Str("tenant")]++
			}
		}
		return m
	}

	// A request no tenant serves is a log barrier that builds nothing.
	miss := s.get(t, "/.well-known/jwks.json", withHost("nobody.invalid"))
	if miss.Status != http.StatusNotFound {
		t.Fatalf("request for no tenant: status %d, want 404", miss.Status)
	}
	s.waitRequestLogged(t, miss.RequestID)
	if got := builtPerTenant(); len(got) != 0 {
		t.Fatalf("tenants were built before any request for them: %v", got)
	}

	kids := map[string]string{}
	for _, id := range []string{"t0000", "t0999"} {
		k, r := jwksKey(t, s, withHost(id+".example"))
		s.waitRequestLogged(t, r.RequestID)
		kids[id] = k.Kid
	}

	// Many first requests for one tenant, released together, share one
	// build and one signing key.
	const concurrent = 16
	replies := s.sendTogether(t, concurrent, "GET /.well-known/jwks.json HTTP/1.1\r\nHost: t0500.example\r\nConnection: close\r\n\r\n")
	seen := map[string]int{}
	for _, r := range replies {
		seen[checkJWKS(t, r).Kid]++
		s.waitRequestLogged(t, r.RequestID)
	}
	if len(seen) != 1 {
		t.Errorf("%d concurrent first requests for t0500 saw %d different kids: %v", concurrent, len(seen), seen)
	}
	for kid := range seen {
		kids["t0500"] = kid
	}

	want := map[string]int{"t0000": 1, "t0500": 1, "t0999": 1}
	if got := builtPerTenant(); !maps.Equal(got, want) {
		t.Errorf("tenant built lines per tenant = %v, want %v", got, want)
	}
	if len(kids) == 3 && (kids["t0000"] == kids["t0500"] || kids["t0500"] == kids["t0999"] || kids["t0000"] == kids["t0999"]) {
		t.Errorf("tenants share signing keys: %v", kids)
	}

	again, r := jwksKey(t, s, withHost("t0000.example"))
	s.waitRequestLogged(t, r.RequestID)
	if again.Kid != kids["t0000"] {
		t.Errorf("t0000 kid changed from %s to %s", kids["t0000"], again.Kid)
	}
	if got := s.count(isBuilt); got != 3 {
		t.Errorf("after a repeat request: %d tenant built lines, want 3", got)
	}
}

func TestInvalidStartupConfiguration(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// bad is the content of bad.yaml, put next to a valid demo file;
		// empty for no tenant file change.
		bad  string
		env  map[string]string
		want []string // in stderr; "{file}" stands for bad.yaml's path
	}{
		{
			name: "tenant id is not a slug",
			bad:  "id: Bad_ID\ndomains: [bad.example]\n",
			want: []string{"{file}", `tenant \"Bad_ID\"`, "id: must be 1-63 lower-case letters, digits or hyphens"},
		},
		{
			name: "duration without a unit",
			bad:  "id: bad\ntokens: {access_ttl: 900}\n",
			want: []string{"{file}", "tokens.access_ttl", "must be a duration with a unit", "got 900"},
		},
		{
			name: "unknown tenant field",
			bad:  "id: bad\ncolour: blue\n",
			want: []string{"{file}", "colour", "is not a known setting"},
		},
		{
			name: "unknown environment variable",
			env:  map[string]string{"PORTCULLIS_LISTN": "127.0.0.1:0"},
			want: []string{"PORTCULLIS_LISTN", "is not a known setting"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := maps.Clone(tc.env)
			file := ""
			if tc.bad != "" {
				dir := writeTenants(t, map[string]string{"demo.yaml": shippedDemo(t), "bad.yaml": tc.bad})
				file = filepath.Join(dir, "bad.yaml")
				env = map[string]string{"PORTCULLIS_TENANTS_DIR": dir}
			}
			s := launch(t, options{Env: env})
			code := s.waitExit(t, startTimeout)
			stderr := s.logs.text()
			if code != 1 {
				t.Errorf("exit code %d, want 1", code)
			}
			if s.count(func(e logEntry) bool { return e.Msg() == "listening" }) != 0 {
				t.Errorf("server logged listening despite the invalid configuration")
			}
			for _, w := range tc.want {
				w = strings.ReplaceAll(w, "{file}", file)
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr does not contain %q:\n%s", w, stderr)
				}
			}
		})
	}
}

// TestDefaultTenantFromEnv: PORTCULLIS_DEFAULT_TENANT serves requests no
// domain or header resolves, and wins over the platform config file.
func TestDefaultTenantFromEnv(t *testing.T) {
	t.Parallel()
	tenants := twoTenants(t)
	cfgFile := filepath.Join(t.TempDir(), "portcullis.yaml")
	if err := os.WriteFile(cfgFile, []byte("default_tenant: acme\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"config file alone", map[string]string{}, "acme"},
		{"environment wins over the file", map[string]string{"PORTCULLIS_DEFAULT_TENANT": "demo"}, "demo"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := maps.Clone(tc.env)
			env["PORTCULLIS_TENANTS_DIR"] = tenants
			s := start(t, options{Env: env, Args: []string{"-config", cfgFile}})
			k, r := jwksKey(t, s, withHost("nobody.example"))
			if got := s.waitRequestLogged(t, r.RequestID).Str("tenant"); got != tc.want {
				t.Errorf("request with an unknown Host resolved to tenant %q, want the default %q", got, tc.want)
			}
			byHeader, _ := jwksKey(t, s, withTenant(tc.want))
			if k != byHeader {
				t.Errorf("default tenant served %+v, but %s by X-Tenant-ID serves %+v", k, tc.want, byHeader)
			}
		})
	}
}
