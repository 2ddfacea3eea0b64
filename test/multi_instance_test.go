package e2e_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/adapters/embedded"
)

// sharedStores starts, in the test process, the MongoDB-compatible store and
// the Redis that several server processes then share, as production
// instances share a replica set and a Redis. MONGODB_URI / REDIS_URL, when
// set, are used instead.
func sharedStores(t *testing.T) (mongoURI, redisURL string) {
	t.Helper()
	mongoURI, redisURL = os.Getenv("MONGODB_URI"), os.Getenv("REDIS_URL")
	if mongoURI == "" {
		uri, stop, err := embedded.StartFerretDB(context.Background(), embedded.FerretDBOptions{Dir: t.TempDir(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(stop)
		mongoURI = uri
	}
	if redisURL == "" {
		url, stop, err := embedded.StartRedis()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(stop)
		redisURL = url
	}
	return mongoURI, redisURL
}

func bodyOf(contentType, body string) reqOption {
	return func(r *http.Request) {
		r.Header.Set("Content-Type", contentType)
		r.Body = io.NopCloser(strings.NewReader(body))
		r.ContentLength = int64(len(body))
	}
}

// TestLogoutOnOneInstanceRevokesOnEvery runs two server processes on one
// database and one Redis: credentials issued by one work on the other, and a
// logout on one is refused at once by the other — for an access JWT (the
// revocation set) and for an app token (the session record).
func TestLogoutOnOneInstanceRevokesOnEvery(t *testing.T) {
	t.Parallel()
	mongoURI, redisURL := sharedStores(t)
	env := map[string]string{
		"PORTCULLIS_MONGODB_URI":      mongoURI,
		"PORTCULLIS_MONGODB_DATABASE": "multi_" + strings.ToLower(strings.NewReplacer("/", "_", " ", "_").Replace(t.Name()))[:20],
		"PORTCULLIS_REDIS_URL":        redisURL,
		"PORTCULLIS_MASTER_KEY":       "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
	}
	a := start(t, options{Env: env})
	b := start(t, options{Env: env})
	host := withHost("localhost")
	js := func(body string) reqOption { return bodyOf("application/json", body) }

	reg := a.do(t, http.MethodPost, "/auth/v1/register", host, js(`{"email":"multi@example.com","password":"two instances one truth","first_name":"M","last_name":"I"}`))
	if reg.Status != http.StatusAccepted {
		t.Fatalf("register: %d %s", reg.Status, reg.Body)
	}
	login := func(s *server, session string) map[string]any {
		r := s.do(t, http.MethodPost, "/auth/v1/login", host, js(`{"email":"multi@example.com","password":"two instances one truth","session":"`+session+`"}`))
		if r.Status != http.StatusOK {
			t.Fatalf("login on %s: %d %s", s.URL, r.Status, r.Body)
		}
		var m map[string]any
		if err := json.Unmarshal(r.Body, &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	bearer := "Bearer " + login(a, "bearer")["access_token"].(string)
	token := "Token " + login(a, "app")["app_token"].(string)

	for _, cred := range []string{bearer, token} {
		scheme, _, _ := strings.Cut(cred, " ")
		if r := b.get(t, "/auth/v1/me", host, withHeader("Authorization", cred)); r.Status != http.StatusOK {
			t.Fatalf("%s issued by instance A, used on B: %d %s", scheme, r.Status, r.Body)
		}
		if r := a.do(t, http.MethodPost, "/auth/v1/logout", host, withHeader("Authorization", cred)); r.Status != http.StatusNoContent {
			t.Fatalf("%s logout on A: %d %s", scheme, r.Status, r.Body)
		}
		for _, s := range []*server{b, a} {
			if r := s.get(t, "/auth/v1/me", host, withHeader("Authorization", cred)); r.Status != http.StatusUnauthorized {
				t.Fatalf("%s after logout on A, used on %s: %d %s", scheme, s.URL, r.Status, r.Body)
			}
		}
	}
	// Both instances publish the same tenant key.
	ka, kb := a.get(t, "/.well-known/jwks.json", host), b.get(t, "/.well-known/jwks.json", host)
	if string(ka.Body) != string(kb.Body) {
		t.Fatalf("instances disagree on the tenant's keys:\n%s\n%s", ka.Body, kb.Body)
	}
}
