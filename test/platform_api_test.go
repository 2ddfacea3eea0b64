package e2e_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/portcullis/portcullis/adapters/redis"
)

// platformKeyCLI runs `portcullis platform key create` on the data dir and
// returns the key it prints.
func platformKeyCLI(t *testing.T, dataDir string, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"platform", "key", "create"}, args...)...)
	cmd.Env = append(os.Environ(), "PORTCULLIS_DATA_DIR="+dataDir, "PORTCULLIS_TENANTS_DIR="+shippedTenants, "PORTCULLIS_DEV_MODE=true")
	for k, v := range storeEnv(dataDir) {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var o, e strings.Builder
	cmd.Stdout, cmd.Stderr = &o, &e
	return exitCode(t, args, cmd.Run()), strings.TrimSpace(o.String()), e.String()
}

func TestPlatformAPI(t *testing.T) {
	t.Parallel()
	dataDir := t.TempDir()
	if code, _, errOut := platformKeyCLI(t, dataDir, "-id", "Bad_ID"); code != 1 || !strings.Contains(errOut, "-id") {
		t.Fatalf("key create with a bad id: %d %s", code, errOut)
	}
	code, writer, errOut := platformKeyCLI(t, dataDir, "-id", "ops")
	if code != 0 || !strings.HasPrefix(writer, "pk.ops.") {
		t.Fatalf("key create: %d %q %s", code, writer, errOut)
	}
	if code, _, errOut := platformKeyCLI(t, dataDir, "-id", "ops"); code != 1 || !strings.Contains(errOut, "exists") {
		t.Fatalf("a second key with the id: %d %s", code, errOut)
	}
	// A read-only key from the configuration file: only its secret's digest.
	const readerSecret = "reader-secret-0123456789"
	sum := sha256.Sum256([]byte(readerSecret))
	cfgFile := filepath.Join(t.TempDir(), "portcullis.yaml")
	if err := os.WriteFile(cfgFile, []byte("platform_api_keys:\n  - {id: reader, sha256: "+hex.EncodeToString(sum[:])+", scopes: [tenants:read]}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := start(t, options{DataDir: dataDir, Env: map[string]string{"PORTCULLIS_CONFIG": cfgFile, "PORTCULLIS_TENANT_DELETE_GRACE": "1h",
		"PORTCULLIS_TENANT_REFRESH_INTERVAL": "1s"}})
	reader := "pk.reader." + readerSecret
	api := func(method, path, key string, body any) reply {
		t.Helper()
		opts := []reqOption{}
		if key != "" {
			opts = append(opts, withBearer(key))
		}
		if body != nil {
			opts = append(opts, withJSON(body))
		}
		return s.do(t, method, "/platform/v1"+path, opts...)
	}

	t.Run("keys and scopes", func(t *testing.T) {
		wantProblem(t, api(http.MethodGet, "/tenants", "", nil), http.StatusUnauthorized, "platform_key_required")
		wantProblem(t, api(http.MethodGet, "/tenants", "pk.ops.wrong", nil), http.StatusUnauthorized, "platform_key_invalid")
		wantProblem(t, api(http.MethodGet, "/tenants", "pk.nobody.x", nil), http.StatusUnauthorized, "platform_key_invalid")
		if r := api(http.MethodGet, "/tenants", reader, nil); r.Status != http.StatusOK || !strings.Contains(string(r.Body), `"id":"demo"`) {
			t.Fatalf("list with the read key: %d %s", r.Status, r.Body)
		}
		wantProblem(t, api(http.MethodPost, "/tenants", reader, map[string]any{"id": "x"}), http.StatusForbidden, "forbidden")
	})

	acme := map[string]any{"id": "acme", "display_name": "Acme", "domains": []string{"acme.localhost"}, "login_methods": []string{"password"}}
	user := newAccount("platform")
	t.Run("create, and it serves at once", func(t *testing.T) {
		r := api(http.MethodPost, "/tenants", writer, acme)
		if r.Status != http.StatusCreated || r.Header.Get("Location") != "/platform/v1/tenants/acme" || !strings.Contains(string(r.Body), `"source":"store"`) {
			t.Fatalf("create: %d %s", r.Status, r.Body)
		}
		register(t, s, "acme.localhost", user)
		login(t, s, "acme.localhost", user, "")
		wantProblem(t, api(http.MethodPost, "/tenants", writer, acme), http.StatusConflict, "tenant_exists")
		wantProblem(t, api(http.MethodPost, "/tenants", writer, map[string]any{"id": "thief", "domains": []string{"localhost"}}), http.StatusBadRequest, "invalid_request")
		for field, body := range map[string]map[string]any{
			"password_policy.min_length": {"id": "weak", "password_policy": map[string]any{"min_length": 0}},
			"colour":                     {"id": "typo", "colour": "red"},
		} {
			r := api(http.MethodPost, "/tenants", writer, body)
			wantProblem(t, r, http.StatusBadRequest, "invalid_request")
			if !strings.Contains(string(r.Body), `"field":"`+field+`"`) {
				t.Errorf("the refusal does not name %s: %s", field, r.Body)
			}
		}
	})
	t.Run("update; a file's tenant is the file's", func(t *testing.T) {
		acme["display_name"] = "Acme Corp"
		r := api(http.MethodPut, "/tenants/acme", writer, acme)
		if r.Status != http.StatusOK || !strings.Contains(string(r.Body), `"display_name":"Acme Corp"`) {
			t.Fatalf("update: %d %s", r.Status, r.Body)
		}
		wantProblem(t, api(http.MethodPut, "/tenants/demo", writer, map[string]any{"domains": []string{"localhost"}}), http.StatusConflict, "tenant_managed_by_file")
		wantProblem(t, api(http.MethodPut, "/tenants/acme", writer, map[string]any{"id": "other"}), http.StatusBadRequest, "invalid_request")
	})
	t.Run("disable and enable", func(t *testing.T) {
		if r := api(http.MethodPost, "/tenants/acme/disable", writer, nil); r.Status != http.StatusOK {
			t.Fatalf("disable: %d %s", r.Status, r.Body)
		}
		wantProblem(t, tryLogin(t, s, "acme.localhost", user.Email, user.Password), http.StatusForbidden, "tenant_disabled")
		if r := api(http.MethodPost, "/tenants/acme/enable", writer, nil); r.Status != http.StatusOK {
			t.Fatalf("enable: %d %s", r.Status, r.Body)
		}
		login(t, s, "acme.localhost", user, "")
	})
	t.Run("delete, restore", func(t *testing.T) {
		r := api(http.MethodDelete, "/tenants/acme", writer, nil)
		if r.Status != http.StatusAccepted || !strings.Contains(string(r.Body), `"delete_after":"`) {
			t.Fatalf("delete: %d %s", r.Status, r.Body)
		}
		wantProblem(t, tryLogin(t, s, "acme.localhost", user.Email, user.Password), http.StatusForbidden, "tenant_disabled")
		wantProblem(t, api(http.MethodPost, "/tenants/acme/enable", writer, nil), http.StatusConflict, "tenant_deleted")
		// The listing names when each tenant goes: acme's time, no other's.
		var list struct {
			Tenants []struct {
				ID          string  `json:"id"`
				DeleteAfter *string `json:"delete_after"`
			} `json:"tenants"`
		}
		if r := api(http.MethodGet, "/tenants", writer, nil); r.Status != http.StatusOK || json.Unmarshal(r.Body, &list) != nil || len(list.Tenants) < 2 {
			t.Fatalf("list: %d %s", r.Status, r.Body)
		}
		for _, lt := range list.Tenants {
			if (lt.DeleteAfter != nil) != (lt.ID == "acme") {
				t.Errorf("list: %s delete_after %v", lt.ID, lt.DeleteAfter)
			}
		}
		if r := api(http.MethodPost, "/tenants/acme/restore", writer, nil); r.Status != http.StatusOK || !strings.Contains(string(r.Body), `"delete_after":null`) {
			t.Fatalf("restore: %d %s", r.Status, r.Body)
		}
		if r := api(http.MethodPost, "/tenants/acme/enable", writer, nil); r.Status != http.StatusOK {
			t.Fatalf("enable after restore: %d %s", r.Status, r.Body)
		}
		login(t, s, "acme.localhost", user, "")
	})
	s.stop(t, syscall.SIGTERM)

	// Without grace, a deleted tenant goes with its data at the next sweep.
	s = start(t, options{DataDir: dataDir, Env: map[string]string{"PORTCULLIS_TENANT_DELETE_GRACE": "0s", "PORTCULLIS_TENANT_REFRESH_INTERVAL": "1s"}})
	if r := api(http.MethodDelete, "/tenants/acme", writer, nil); r.Status != http.StatusAccepted {
		t.Fatalf("delete without grace: %d %s", r.Status, r.Body)
	}
	s.waitLog(t, "the sweep's deletion of acme", func(e logEntry) bool {
		return e.Msg() == "platform: tenant.purged" && e.Str("tenant") == "acme"
	})
	wantProblem(t, api(http.MethodGet, "/tenants/acme", writer, nil), http.StatusNotFound, "tenant_not_found")
	// Created again, the tenant has nobody: the old account is gone.
	if r := api(http.MethodPost, "/tenants", writer, acme); r.Status != http.StatusCreated {
		t.Fatalf("create again: %d %s", r.Status, r.Body)
	}
	deadline := time.Now().Add(3 * time.Second)
	for {
		r := tryLogin(t, s, "acme.localhost", user.Email, user.Password)
		if r.Status == http.StatusUnauthorized {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the deleted tenant's account still signs in: %d %s", r.Status, r.Body)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// A change through the platform API on one instance reaches another, on
// the same stores, within tenant_refresh_interval and without a restart.
func TestPlatformChangeReachesEveryInstance(t *testing.T) {
	t.Parallel()
	mongoURI, redisURL := sharedStores(t)
	const secret = "every-instance-secret-0123"
	sum := sha256.Sum256([]byte(secret))
	cfgFile := filepath.Join(t.TempDir(), "portcullis.yaml")
	if err := os.WriteFile(cfgFile, []byte("platform_api_keys:\n  - {id: ops, sha256: "+hex.EncodeToString(sum[:])+", scopes: [tenants:read, tenants:write]}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"PORTCULLIS_MONGODB_URI": mongoURI, "PORTCULLIS_MONGODB_DATABASE": "multi_platform", "PORTCULLIS_REDIS_URL": redisURL,
		"PORTCULLIS_MASTER_KEY": "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", "PORTCULLIS_CONFIG": cfgFile,
		"PORTCULLIS_TENANT_REFRESH_INTERVAL": "1s",
	}
	a := start(t, options{Env: env})
	b := start(t, options{Env: env})
	key := withBearer("pk.ops." + secret)
	r := a.do(t, http.MethodPost, "/platform/v1/tenants", key, withJSON(map[string]any{"id": "shared", "domains": []string{"shared.localhost"}}))
	if r.Status != http.StatusCreated {
		t.Fatalf("create on A: %d %s", r.Status, r.Body)
	}
	within := func(what string, want int, f func() reply) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			r := f()
			if r.Status == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: %d %s after 5s, want %d", what, r.Status, r.Body, want)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	u := newAccount("every-instance")
	within("the new tenant on B", http.StatusAccepted, func() reply {
		return b.do(t, http.MethodPost, "/auth/v1/register", withHost("shared.localhost"), withJSON(registerBody(u)))
	})
	if r := a.do(t, http.MethodPost, "/platform/v1/tenants/shared/disable", key); r.Status != http.StatusOK {
		t.Fatalf("disable on A: %d %s", r.Status, r.Body)
	}
	within("the disabled tenant on B", http.StatusForbidden, func() reply { return tryLogin(t, b, "shared.localhost", u.Email, u.Password) })
}

// redisKeys lists the keys of a tenant in the Redis at url.
func redisKeys(t *testing.T, url, tenantID string) []string {
	t.Helper()
	c, err := redis.NewClient(url)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	keys, err := c.Keys(context.Background(), redis.TenantPattern(tenantID)).Result()
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(keys)
	return keys
}

// platformEvent is an event of GET /platform/v1/audit.
type platformEvent struct {
	ID        string   `json:"id"`
	Type      string   `json:"type"`
	TenantID  string   `json:"tenant_id"`
	ActorType string   `json:"actor_type"`
	ActorID   string   `json:"actor_id"`
	Changes   []string `json:"changes"`
	RequestID string   `json:"request_id"`
}

// TestPlatformDeletionPurgesRedisAndIsAudited: a tenant deleted through
// the platform API loses, at the sweep, its Redis keys too — its counters
// and its revocations — while a tenant whose id begins with its own keeps
// every key, and a revoked token of that tenant stays refused. Every
// change (create, update with the sections it changed, disable, enable,
// delete) and the purge are in the platform's audit stream, with
// the key's id and never its secret, read at GET /platform/v1/audit; they
// are stored under the platform's own tenant id, never a tenant's, so no
// tenant's admins see them.
func TestPlatformDeletionPurgesRedisAndIsAudited(t *testing.T) {
	t.Parallel()
	mongoURI, redisURL := sharedStores(t)
	const secret = "purge-audit-secret-0123456789"
	sum := sha256.Sum256([]byte(secret))
	cfgFile := filepath.Join(t.TempDir(), "portcullis.yaml")
	if err := os.WriteFile(cfgFile, []byte("platform_api_keys:\n  - {id: ops, sha256: "+hex.EncodeToString(sum[:])+", scopes: [tenants:read, tenants:write]}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	database := fmt.Sprintf("platform_purge_%d", time.Now().UnixNano())
	s := start(t, options{Env: map[string]string{
		"PORTCULLIS_MONGODB_URI": mongoURI, "PORTCULLIS_MONGODB_DATABASE": database, "PORTCULLIS_REDIS_URL": redisURL,
		"PORTCULLIS_CONFIG": cfgFile, "PORTCULLIS_TENANT_DELETE_GRACE": "0s", "PORTCULLIS_TENANT_REFRESH_INTERVAL": "1s",
	}})
	key := withBearer("pk.ops." + secret)
	api := func(method, path string, body any) reply {
		t.Helper()
		opts := []reqOption{key}
		if body != nil {
			opts = append(opts, withJSON(body))
		}
		return s.do(t, method, "/platform/v1"+path, opts...)
	}

	// Two tenants, one's id the other's prefix; on each an account that
	// signed in and out (limiter counters, a revocation in Redis).
	tokens := map[string]string{}
	for _, id := range []string{"acme", "acme2"} {
		if r := api(http.MethodPost, "/tenants", map[string]any{"id": id, "domains": []string{id + ".localhost"}}); r.Status != http.StatusCreated {
			t.Fatalf("create %s: %d %s", id, r.Status, r.Body)
		}
		u := newAccount("purge-" + id)
		register(t, s, id+".localhost", u)
		ans := login(t, s, id+".localhost", u, "")
		if r := s.do(t, http.MethodPost, "/auth/v1/logout", withHost(id+".localhost"), withBearer(ans.AccessToken)); r.Status != http.StatusNoContent {
			t.Fatalf("logout on %s: %d %s", id, r.Status, r.Body)
		}
		tokens[id] = ans.AccessToken
	}
	before := map[string][]string{"acme": redisKeys(t, redisURL, "acme"), "acme2": redisKeys(t, redisURL, "acme2")}
	for id, keys := range before {
		if !slices.ContainsFunc(keys, func(k string) bool { return strings.Contains(k, ":{revocations}:") }) {
			t.Fatalf("%s has no revocation in Redis to purge or keep: %v", id, keys)
		}
	}

	if r := api(http.MethodPut, "/tenants/acme", map[string]any{"display_name": "Acme Corp", "domains": []string{"acme.localhost"}}); r.Status != http.StatusOK {
		t.Fatalf("update: %d %s", r.Status, r.Body)
	}
	for _, step := range []string{"disable", "enable"} {
		if r := api(http.MethodPost, "/tenants/acme/"+step, nil); r.Status != http.StatusOK {
			t.Fatalf("%s: %d %s", step, r.Status, r.Body)
		}
	}
	if r := api(http.MethodDelete, "/tenants/acme", nil); r.Status != http.StatusAccepted {
		t.Fatalf("delete: %d %s", r.Status, r.Body)
	}
	s.waitLog(t, "the sweep's purge of acme", func(e logEntry) bool {
		return e.Msg() == "platform: tenant.purged" && e.Str("tenant") == "acme"
	})

	if left := redisKeys(t, redisURL, "acme"); len(left) != 0 {
		t.Errorf("acme's Redis keys after its purge: %v", left)
	}
	if after := redisKeys(t, redisURL, "acme2"); !slices.Equal(after, before["acme2"]) {
		t.Errorf("acme2's Redis keys changed with acme's purge:\nbefore %v\nafter  %v", before["acme2"], after)
	}
	wantProblem(t, me(t, s, "acme2.localhost", withBearer(tokens["acme2"])), http.StatusUnauthorized, "invalid_token")

	// The platform's audit stream, newest first (the writer stores events
	// a moment after they happen).
	want := []string{"tenant.purged", "tenant.delete_requested", "tenant.enabled", "tenant.disabled", "tenant.updated", "tenant.created"}
	var page struct {
		Events []platformEvent `json:"events"`
		Next   *string         `json:"next_cursor"`
	}
	var r reply
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		r = api(http.MethodGet, "/audit?tenant_id=acme", nil)
		if r.Status != http.StatusOK {
			t.Fatalf("audit: %d %s", r.Status, r.Body)
		}
		if err := json.Unmarshal(r.Body, &page); err != nil {
			t.Fatalf("audit answer %s: %v", r.Body, err)
		}
		if len(page.Events) >= len(want) || time.Now().After(deadline) {
			break
		}
	}
	var got []string
	for _, e := range page.Events {
		got = append(got, e.Type)
		wantActor, wantActorID := "platform_key", "ops"
		if e.Type == "tenant.purged" {
			wantActor, wantActorID = "system", ""
		}
		if e.TenantID != "acme" || e.ActorType != wantActor || e.ActorID != wantActorID || (wantActorID != "" && e.RequestID == "") {
			t.Errorf("event %+v: want about acme, by %s %q, with its request", e, wantActor, wantActorID)
		}
	}
	if !slices.Equal(got, want) || page.Next != nil {
		t.Fatalf("acme's platform events %v (next %v), want %v", got, page.Next, want)
	}
	if up := page.Events[4]; !slices.Equal(up.Changes, []string{"display_name"}) {
		t.Errorf("the update's changes: %v, want [display_name]", up.Changes)
	}
	// Paging, a filter by type, and bad input.
	r = api(http.MethodGet, "/audit?tenant_id=acme&limit=4", nil)
	if err := json.Unmarshal(r.Body, &page); err != nil || len(page.Events) != 4 || page.Next == nil {
		t.Fatalf("a first page of 4: %d %s", r.Status, r.Body)
	}
	r = api(http.MethodGet, "/audit?tenant_id=acme&limit=4&cursor="+*page.Next, nil)
	if err := json.Unmarshal(r.Body, &page); err != nil || len(page.Events) != 2 || page.Events[1].Type != "tenant.created" || page.Next != nil {
		t.Fatalf("the second page: %d %s", r.Status, r.Body)
	}
	r = api(http.MethodGet, "/audit?type=tenant.created", nil)
	if err := json.Unmarshal(r.Body, &page); err != nil || len(page.Events) != 2 {
		t.Fatalf("the created tenants: %d %s", r.Status, r.Body)
	}
	for q, field := range map[string]string{"limit=many": "limit", "type=login.succeeded": "type", "since=yesterday": "since", "cursor=x": "cursor", "limit=1000": "limit"} {
		r := api(http.MethodGet, "/audit?"+q, nil)
		wantProblem(t, r, http.StatusBadRequest, "invalid_request")
		if !strings.Contains(string(r.Body), `"field":"`+field+`"`) {
			t.Errorf("?%s: the refusal does not name %s: %s", q, field, r.Body)
		}
	}
	wantProblem(t, s.do(t, http.MethodGet, "/platform/v1/audit"), http.StatusUnauthorized, "platform_key_required")

	// Stored under the platform's own tenant id; nothing holds the secret.
	var platformDocs int
	for _, d := range auditDocuments(t, mongoURI, database) {
		if typ, _ := d["type"].(string); strings.HasPrefix(typ, "tenant.") {
			platformDocs++
			if d["tenant_id"] != "_platform" {
				t.Errorf("a platform event in tenant %v's stream: %v", d["tenant_id"], d)
			}
		}
		if strings.Contains(fmt.Sprint(d), secret) {
			t.Errorf("an audit event holds the key's secret: %v", d)
		}
	}
	if platformDocs != 7 {
		t.Errorf("%d platform events stored, want 7 (2 created, updated, disabled, enabled, delete requested, purged)", platformDocs)
	}
	if strings.Contains(s.logs.text(), secret) {
		t.Error("the server logged the key's secret")
	}
}
