package e2e_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	mongodriver "go.mongodb.org/mongo-driver/v2/mongo"
	mongooptions "go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/portcullis/portcullis/adapters/embedded"
	"github.com/portcullis/portcullis/adapters/mongo"
	"github.com/portcullis/portcullis/application/audit"
)

// These tests give the server a store of their own (MONGODB_URI when set,
// else an embedded FerretDB in the test process) and read what it wrote
// there, every stored field; the admin API's GET /admin/v1/audit serves
// the same log (admin_api_test.go).

// auditStore starts the store a server writes its audit log to, and
// returns its URI and a database name of the test's own.
func auditStore(t *testing.T) (uri, database string) {
	t.Helper()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	database = "audit_" + hex.EncodeToString(b)
	if uri = os.Getenv("MONGODB_URI"); uri != "" {
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if client, err := mongodriver.Connect(mongooptions.Client().ApplyURI(uri)); err == nil {
				_ = client.Database(database).Drop(ctx)
				_ = client.Disconnect(ctx)
			}
		})
		return uri, database
	}
	uri, stop, err := embedded.StartFerretDB(context.Background(), embedded.FerretDBOptions{Dir: t.TempDir(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return uri, database
}

// auditDocuments reads every stored audit event, raw.
func auditDocuments(t *testing.T, uri, database string) []bson.M {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	client, err := mongodriver.Connect(mongooptions.Client().ApplyURI(uri))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = client.Disconnect(context.Background()) }()
	cur, err := client.Database(database).Collection("audit_events").Find(ctx, bson.D{}, mongooptions.Find().SetSort(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		t.Fatal(err)
	}
	var docs []bson.M
	if err := cur.All(ctx, &docs); err != nil {
		t.Fatal(err)
	}
	return docs
}

// TestTheAuditLogRecordsWhatHappensAndHoldsNoSecret: sign-ins and failed
// sign-ins (with the account tried, the reason, the method and amr), the
// second step, changes of password and second factor, a reset, a logout
// and revoked sessions are each written to the store, scoped to their
// tenant, with the request's id, address and user agent and the tenant's
// retention; none of the stored documents holds a password, a token, a
// code or a secret; and what was recorded before a graceful stop is there
// after it.
func TestTheAuditLogRecordsWhatHappensAndHoldsNoSecret(t *testing.T) {
	t.Parallel()
	uri, database := auditStore(t)
	audited := mfaTenant("audited", "localhost")
	audited.AuditRetention = "720h"
	s := startTenantsEnv(t, map[string]string{"PORTCULLIS_MONGODB_URI": uri, "PORTCULLIS_MONGODB_DATABASE": database},
		audited, tenantSpec{ID: "other", Domains: []string{"other.localhost"}})
	const host, ua = "localhost", "audit-e2e/1.0 (secret-free)"
	var secrets []string
	keep := func(ss ...string) {
		for _, x := range ss {
			if x != "" {
				secrets = append(secrets, x)
			}
		}
	}

	a := newAccount("audit")
	register(t, s, host, a)
	keep(a.Password, a.Email)
	wrongPassword := strongPassword()
	keep(wrongPassword)
	r := s.do(t, http.MethodPost, "/auth/v1/login", withHost(host), withHeader("User-Agent", ua), withHeader("X-Request-ID", "audit-wrong-1"),
		withJSON(map[string]any{"email": a.Email, "password": wrongPassword}))
	wantProblem(t, r, http.StatusUnauthorized, "invalid_credentials")
	wantProblem(t, tryLogin(t, s, host, uniqueEmail("nobody"), wrongPassword), http.StatusUnauthorized, "invalid_credentials")

	first := login(t, s, host, a, "")
	other := login(t, s, host, a, "app")
	userID := first.User.ID
	keep(first.AccessToken, first.RefreshToken, other.AppToken)

	// A change of password ends the other session.
	fresh := strongPassword()
	keep(fresh)
	r = s.do(t, http.MethodPost, "/auth/v1/password/change", withHost(host), withBearer(first.AccessToken),
		withJSON(map[string]any{"old_password": a.Password, "new_password": fresh}))
	if r.Status != http.StatusNoContent {
		t.Fatalf("change password: %d %s", r.Status, r.Body)
	}
	a.Password = fresh

	// The second factor: on, a challenge, a wrong code, a right one, a
	// backup code.
	e := enrolTOTP(t, s, host, a)
	keep(e.Secret)
	keep(e.BackupCodes...)
	ch := wantChallenge(t, "login", tryLogin(t, s, host, a.Email, a.Password))
	keep(ch.MFAToken)
	wantProblem(t, mfaVerify(t, s, host, ch.MFAToken, "000000"), http.StatusUnauthorized, "mfa_code_invalid")
	code := e.code(t)
	keep(code)
	r = mfaVerify(t, s, host, ch.MFAToken, code)
	if r.Status != http.StatusOK {
		t.Fatalf("second step: %d %s", r.Status, r.Body)
	}
	second := decodeJSON[loginAnswer](t, r)
	keep(second.AccessToken, second.RefreshToken)
	ch = wantChallenge(t, "login", tryLogin(t, s, host, a.Email, a.Password))
	keep(ch.MFAToken)
	r = mfaVerify(t, s, host, ch.MFAToken, e.BackupCodes[0])
	if r.Status != http.StatusOK {
		t.Fatalf("backup code: %d %s", r.Status, r.Body)
	}
	keep(decodeJSON[loginAnswer](t, r).AccessToken)

	// A reset by mailed link ends every session.
	token := resetToken(t, s, host, "audited", a)
	reset := strongPassword()
	keep(token, reset)
	if r := postJSON(t, s, host, "/auth/v1/password/reset", map[string]any{"token": token, "password": reset}); r.Status != http.StatusNoContent {
		t.Fatalf("reset: %d %s", r.Status, r.Body)
	}
	a.Password = reset

	// Another tenant's failed sign-in is its own.
	wantProblem(t, tryLogin(t, s, "other.localhost", a.Email, a.Password), http.StatusUnauthorized, "invalid_credentials")

	// The last thing before the stop: a logout.
	ch = wantChallenge(t, "login", tryLogin(t, s, host, a.Email, a.Password))
	keep(ch.MFAToken)
	code = e.code(t)
	keep(code)
	last := decodeJSON[loginAnswer](t, mfaVerify(t, s, host, ch.MFAToken, code))
	keep(last.AccessToken, last.RefreshToken)
	if r := s.do(t, http.MethodPost, "/auth/v1/logout", withHost(host), withBearer(last.AccessToken), withHeader("X-Request-ID", "audit-logout-1")); r.Status != http.StatusNoContent {
		t.Fatalf("logout: %d %s", r.Status, r.Body)
	}
	if code := s.stop(t, syscall.SIGTERM); code != 0 {
		t.Fatalf("exit code %d after SIGTERM", code)
	}

	docs := auditDocuments(t, uri, database)
	str := func(d bson.M, k string) string { v, _ := d[k].(string); return v }
	var mine []bson.M
	for _, d := range docs {
		if !strings.HasPrefix(str(d, "_id"), str(d, "tenant_id")+"/") {
			t.Errorf("document %v: _id does not begin with its tenant", d)
		}
		at, _ := d["at"].(bson.DateTime)
		exp, _ := d["expires_at"].(bson.DateTime)
		if str(d, "tenant_id") == "audited" {
			mine = append(mine, d)
			if exp.Time().Sub(at.Time()) != 720*time.Hour {
				t.Errorf("document %v: kept %s, want the tenant's 720h", d, exp.Time().Sub(at.Time()))
			}
		}
		if str(d, "request_id") == "" || str(d, "ip") != "127.0.0.1" {
			t.Errorf("document %v: no request id or not from 127.0.0.1", d)
		}
	}
	// What happened, in order, for the audited tenant.
	type seen struct{ typ, reason, target string }
	var got []seen
	for _, d := range mine {
		got = append(got, seen{str(d, "type"), str(d, "reason"), str(d, "target_id")})
	}
	want := []seen{
		{"login.failed", "invalid_credentials", userID}, // wrong password
		{"login.failed", "invalid_credentials", ""},     // unknown address
		{"login.succeeded", "", userID},
		{"login.succeeded", "", userID},
		{"password.changed", "", userID},
		{"session.revoked", "others_revoked", userID},
		{"login.succeeded", "", userID}, // enrolTOTP's sign-in
		{"mfa.enabled", "", userID},
		{"mfa.challenged", "", userID},
		{"login.failed", "mfa_code_invalid", userID},
		{"login.succeeded", "", userID},
		{"mfa.challenged", "", userID},
		{"mfa.backup_code_used", "", userID},
		{"login.succeeded", "", userID},
		{"password.reset", "", userID},
	}
	// The reset ends every live session: those of the three sign-ins
	// before it that were not ended yet (first, enrolTOTP's, the two
	// second steps), in an order of their own.
	for range 4 {
		want = append(want, seen{"session.revoked", "all_revoked", userID})
	}
	want = append(want, seen{"mfa.challenged", "", userID}, seen{"login.succeeded", "", userID}, seen{"logout", "", userID})
	if !slices.Equal(got, want) {
		t.Fatalf("recorded for the audited tenant:\n%v\nwant\n%v", got, want)
	}
	wrong := mine[0]
	if str(wrong, "request_id") != "audit-wrong-1" || str(wrong, "user_agent") != ua || str(wrong, "method") != "password" || str(wrong, "actor_id") != "" {
		t.Errorf("the wrong password's document: %v", wrong)
	}
	if d := mine[len(mine)-1]; str(d, "request_id") != "audit-logout-1" || str(d, "actor_id") != userID || str(d, "session_id") == "" {
		t.Errorf("the logout's document: %v", d)
	}
	if d := mine[len(mine)-2]; fmt.Sprint(d["amr"]) != "[pwd otp mfa]" || str(d, "session_id") == "" {
		t.Errorf("the last sign-in's document: %v (amr %v)", d, d["amr"])
	}
	if n := len(docs) - len(mine); n != 1 {
		t.Errorf("%d documents of the other tenant, want its one failed sign-in", n)
	}

	// No stored document holds a secret, in any field.
	for _, d := range docs {
		raw, err := bson.MarshalExtJSON(d, false, false)
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range secrets {
			if strings.Contains(string(raw), x) {
				t.Errorf("a stored audit event holds a secret (%.6s…): %s", x, raw)
			}
		}
	}

	// The store's query reads them back per tenant, newest first.
	ctx := context.Background()
	db, disconnect, err := mongo.Connect(ctx, uri, database, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer disconnect()
	store := mongo.NewAuditStore(db)
	p, err := store.Query(ctx, "audited", audit.Filter{Types: []audit.Type{audit.LoginFailed}, UserID: userID}, "", 10, time.Now())
	if err != nil || len(p.Events) != 2 || p.Events[0].Reason != "mfa_code_invalid" || p.Events[1].Reason != "invalid_credentials" {
		t.Fatalf("the user's failed sign-ins: %+v, %v", p, err)
	}
	p, err = store.Query(ctx, "other", audit.Filter{}, "", 10, time.Now())
	if err != nil || len(p.Events) != 1 || p.Events[0].TenantID != "other" || p.Events[0].TargetID != "" {
		t.Fatalf("the other tenant's events: %+v, %v", p, err)
	}
}
