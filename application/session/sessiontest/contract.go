package sessiontest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portcullis/portcullis/application/platform/platformtest"
	"github.com/portcullis/portcullis/application/session"
	"github.com/portcullis/portcullis/domain/errs"
	"github.com/portcullis/portcullis/domain/identity"
)

// The suites' clock and concurrency, shared with the other contract suites.
const racers = platformtest.Racers

var (
	t0   = platformtest.T0
	at   = platformtest.At
	race = platformtest.Race
)

func sampleSession(tenant, id, user string, kind identity.SessionKind, created time.Time) identity.Session {
	s := identity.Session{ID: id, TenantID: tenant, UserID: user, Kind: kind, CreatedAt: created, LastSeenAt: created,
		IdleExpiresAt: created.Add(30 * time.Minute), ExpiresAt: created.Add(24 * time.Hour),
		IP: "203.0.113.7", UserAgent: "Mozilla/5.0 (X11; Linux x86_64)", AMR: []string{"pwd", "otp"}}
	if kind != identity.SessionAPI {
		s.SecretHash = "sha256-of-secret-" + tenant + "-" + id
	}
	return s
}

func sameSession(a, b identity.Session) bool {
	return a.ID == b.ID && a.TenantID == b.TenantID && a.UserID == b.UserID && a.Kind == b.Kind && a.SecretHash == b.SecretHash &&
		a.CreatedAt.Equal(b.CreatedAt) && a.LastSeenAt.Equal(b.LastSeenAt) && a.IdleExpiresAt.Equal(b.IdleExpiresAt) &&
		a.ExpiresAt.Equal(b.ExpiresAt) && a.RevokedAt.Equal(b.RevokedAt) && a.IP == b.IP && a.UserAgent == b.UserAgent && slices.Equal(a.AMR, b.AMR) &&
		a.IdleTimeout == b.IdleTimeout
}

func ids(ss []identity.Session) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = s.ID
	}
	return out
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// RunSessionsContract checks the behaviour every session.Sessions must
// have. newStore returns an empty store (or one in which the tenant ids the
// suite makes up are unused).
func RunSessionsContract(t *testing.T, newStore func(t *testing.T) session.Sessions) {
	t.Helper()
	ctx := context.Background()
	create := func(t *testing.T, s session.Sessions, sess ...identity.Session) {
		t.Helper()
		for _, x := range sess {
			if err := s.Create(ctx, x); err != nil {
				t.Fatalf("create %s: %v", x.ID, err)
			}
		}
	}

	t.Run("create then ByID and BySecret round-trip every field", func(t *testing.T) {
		s := newStore(t)
		web := sampleSession("s-alpha", "sess-web", "user-1", identity.SessionWeb, at(0))
		app := sampleSession("s-alpha", "sess-app", "user-1", identity.SessionApp, at(time.Second))
		app.AMR, app.IP, app.UserAgent = nil, "", ""
		app.IdleTimeout = 720 * time.Hour // a session with an idle window of its own
		create(t, s, web, app)
		for _, want := range []identity.Session{web, app} {
			if got, err := s.ByID(ctx, "s-alpha", want.ID); err != nil || !sameSession(got, want) {
				t.Fatalf("ByID = %+v, %v; want %+v", got, err, want)
			}
			if got, err := s.BySecret(ctx, "s-alpha", want.SecretHash); err != nil || !sameSession(got, want) {
				t.Fatalf("BySecret = %+v, %v; want %+v", got, err, want)
			}
		}
	})

	t.Run("api sessions have no secret and do not collide", func(t *testing.T) {
		s := newStore(t)
		a := sampleSession("s-beta", "sess-api-1", "user-1", identity.SessionAPI, at(0))
		b := sampleSession("s-beta", "sess-api-2", "user-2", identity.SessionAPI, at(0))
		create(t, s, a, b)
		for _, want := range []identity.Session{a, b} {
			if got, err := s.ByID(ctx, "s-beta", want.ID); err != nil || !sameSession(got, want) || got.SecretHash != "" {
				t.Fatalf("ByID = %+v, %v; want %+v", got, err, want)
			}
		}
		if _, err := s.BySecret(ctx, "s-beta", ""); !errors.Is(err, errs.ErrNotFound) {
			t.Fatalf("BySecret of the empty secret: %v, want ErrNotFound", err)
		}
	})

	t.Run("unknown sessions and other tenants' sessions are not found", func(t *testing.T) {
		s := newStore(t)
		web := sampleSession("s-gamma", "sess-1", "user-1", identity.SessionWeb, at(0))
		create(t, s, web)
		for _, tc := range []struct{ tenant, id, secret string }{
			{"s-gamma", "nobody", "no-such-secret"},
			{"s-delta", web.ID, web.SecretHash},
		} {
			if _, err := s.ByID(ctx, tc.tenant, tc.id); !errors.Is(err, errs.ErrNotFound) {
				t.Errorf("ByID(%s, %s): %v, want ErrNotFound", tc.tenant, tc.id, err)
			}
			if _, err := s.BySecret(ctx, tc.tenant, tc.secret); !errors.Is(err, errs.ErrNotFound) {
				t.Errorf("BySecret(%s, %s): %v, want ErrNotFound", tc.tenant, tc.secret, err)
			}
		}
	})

	t.Run("a second session with a taken secret hash or id conflicts", func(t *testing.T) {
		s := newStore(t)
		first := sampleSession("s-epsilon", "sess-1", "user-1", identity.SessionWeb, at(0))
		create(t, s, first)
		sameSecret := sampleSession("s-epsilon", "sess-2", "user-2", identity.SessionApp, at(0))
		sameSecret.SecretHash = first.SecretHash
		sameID := sampleSession("s-epsilon", "sess-1", "user-2", identity.SessionWeb, at(0))
		sameID.SecretHash = "another-secret"
		for _, x := range []identity.Session{sameSecret, sameID} {
			if err := s.Create(ctx, x); !errors.Is(err, errs.ErrConflict) {
				t.Errorf("create %+v: %v, want ErrConflict", x, err)
			}
		}
		if got, err := s.BySecret(ctx, "s-epsilon", first.SecretHash); err != nil || !sameSession(got, first) {
			t.Fatalf("BySecret = %+v, %v; want the first session", got, err)
		}
		other := sampleSession("s-zeta", "sess-9", "user-1", identity.SessionWeb, at(0))
		other.SecretHash = first.SecretHash
		create(t, s, other) // the same secret hash in another tenant is another session
	})

	t.Run("revoked and expired sessions are still returned by ByID and BySecret", func(t *testing.T) {
		s := newStore(t)
		expired := sampleSession("s-eta", "sess-old", "user-1", identity.SessionWeb, at(-48*time.Hour))
		revoked := sampleSession("s-eta", "sess-revoked", "user-1", identity.SessionWeb, at(0))
		revoked.RevokedAt = at(time.Minute)
		create(t, s, expired, revoked)
		for _, want := range []identity.Session{expired, revoked} {
			if got, err := s.ByID(ctx, "s-eta", want.ID); err != nil || !sameSession(got, want) {
				t.Fatalf("ByID = %+v, %v; want %+v", got, err, want)
			}
			if got, err := s.BySecret(ctx, "s-eta", want.SecretHash); err != nil || !sameSession(got, want) {
				t.Fatalf("BySecret = %+v, %v; want %+v", got, err, want)
			}
		}
	})

	t.Run("ListLive returns only the user's live sessions, newest first", func(t *testing.T) {
		s := newStore(t)
		now := at(time.Hour)
		old := sampleSession("s-theta", "sess-old", "user-1", identity.SessionWeb, at(0))
		old.IdleExpiresAt = at(2 * time.Hour)
		mid := sampleSession("s-theta", "sess-mid", "user-1", identity.SessionAPI, at(10*time.Minute))
		mid.IdleExpiresAt = at(2 * time.Hour)
		recent := sampleSession("s-theta", "sess-new", "user-1", identity.SessionApp, at(50*time.Minute))
		revoked := sampleSession("s-theta", "sess-revoked", "user-1", identity.SessionWeb, at(55*time.Minute))
		revoked.RevokedAt = at(56 * time.Minute)
		idle := sampleSession("s-theta", "sess-idle", "user-1", identity.SessionWeb, at(0)) // idle until 00:30
		absolute := sampleSession("s-theta", "sess-absolute", "user-1", identity.SessionWeb, at(-24*time.Hour))
		absolute.IdleExpiresAt = at(2 * time.Hour) // idle window open, absolute expiry passed
		edge := sampleSession("s-theta", "sess-edge", "user-1", identity.SessionWeb, at(0))
		edge.IdleExpiresAt = now // expires exactly now: no longer live
		otherUser := sampleSession("s-theta", "sess-other-user", "user-2", identity.SessionWeb, at(50*time.Minute))
		otherTenant := sampleSession("s-iota", "sess-other-tenant", "user-1", identity.SessionWeb, at(50*time.Minute))
		create(t, s, mid, revoked, old, idle, absolute, edge, recent, otherUser, otherTenant)
		got, err := s.ListLive(ctx, "s-theta", "user-1", now)
		if err != nil {
			t.Fatal(err)
		}
		want := []identity.Session{recent, mid, old}
		if len(got) != len(want) {
			t.Fatalf("ListLive = %v, want %v", ids(got), ids(want))
		}
		for i := range want {
			if !sameSession(got[i], want[i]) {
				t.Fatalf("session %d: got %+v, want %+v", i, got[i], want[i])
			}
		}
		if got, err := s.ListLive(ctx, "s-theta", "nobody", now); err != nil || len(got) != 0 {
			t.Fatalf("ListLive of a user without sessions = %v, %v", got, err)
		}
	})

	t.Run("Touch slides last seen and the idle expiry", func(t *testing.T) {
		s := newStore(t)
		sess := sampleSession("s-kappa", "sess-1", "user-1", identity.SessionWeb, at(0))
		create(t, s, sess)
		want := sess.Touched(at(20*time.Minute), 30*time.Minute)
		if err := s.Touch(ctx, "s-kappa", "sess-1", want.LastSeenAt, want.IdleExpiresAt); err != nil {
			t.Fatal(err)
		}
		if got, err := s.ByID(ctx, "s-kappa", "sess-1"); err != nil || !sameSession(got, want) {
			t.Fatalf("ByID = %+v, %v; want %+v", got, err, want)
		}
		if got, _ := s.ListLive(ctx, "s-kappa", "user-1", at(40*time.Minute)); len(got) != 1 {
			t.Fatalf("a touched session must stay live past its first idle expiry, got %v", ids(got))
		}
		for _, tc := range []struct{ tenant, id string }{{"s-kappa", "nobody"}, {"s-lambda", "sess-1"}} {
			if err := s.Touch(ctx, tc.tenant, tc.id, at(time.Hour), at(2*time.Hour)); !errors.Is(err, errs.ErrNotFound) {
				t.Errorf("Touch(%s, %s): %v, want ErrNotFound", tc.tenant, tc.id, err)
			}
		}
	})

	t.Run("Revoke revokes once and keeps the first time", func(t *testing.T) {
		s := newStore(t)
		sess := sampleSession("s-mu", "sess-1", "user-1", identity.SessionWeb, at(0))
		create(t, s, sess)
		if ok, err := s.Revoke(ctx, "s-nu", "sess-1", at(time.Minute), at(time.Minute).Add(time.Hour)); ok || err != nil {
			t.Fatalf("Revoke in another tenant = %v, %v; want false, nil", ok, err)
		}
		if ok, err := s.Revoke(ctx, "s-mu", "sess-1", at(time.Minute), at(time.Minute).Add(time.Hour)); !ok || err != nil {
			t.Fatalf("first Revoke = %v, %v; want true", ok, err)
		}
		if ok, err := s.Revoke(ctx, "s-mu", "sess-1", at(2*time.Minute), at(2*time.Minute).Add(time.Hour)); ok || err != nil {
			t.Fatalf("second Revoke = %v, %v; want false, nil", ok, err)
		}
		if ok, err := s.Revoke(ctx, "s-mu", "nobody", at(time.Minute), at(time.Minute).Add(time.Hour)); ok || err != nil {
			t.Fatalf("Revoke of an unknown session = %v, %v; want false, nil", ok, err)
		}
		want := sess
		want.RevokedAt = at(time.Minute)
		if got, err := s.ByID(ctx, "s-mu", "sess-1"); err != nil || !sameSession(got, want) {
			t.Fatalf("ByID = %+v, %v; want %+v", got, err, want)
		}
		if got, _ := s.ListLive(ctx, "s-mu", "user-1", at(3*time.Minute)); len(got) != 0 {
			t.Fatalf("a revoked session is listed live: %v", ids(got))
		}
	})

	t.Run("concurrent revokes of one session: exactly one reports it", func(t *testing.T) {
		s := newStore(t)
		create(t, s, sampleSession("s-xi", "sess-1", "user-1", identity.SessionAPI, at(0)))
		var mu sync.Mutex
		wins := 0
		race(racers, func(int) {
			ok, err := s.Revoke(ctx, "s-xi", "sess-1", at(time.Minute), at(time.Minute).Add(time.Hour))
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				t.Errorf("Revoke: %v", err)
			}
			if ok {
				wins++
			}
		})
		if wins != 1 {
			t.Fatalf("%d revokes reported revoking the session, want exactly 1", wins)
		}
		if got, err := s.ByID(ctx, "s-xi", "sess-1"); err != nil || !got.RevokedAt.Equal(at(time.Minute)) {
			t.Fatalf("ByID = %+v, %v", got, err)
		}
	})

	t.Run("a revocation is not lost to concurrent touches", func(t *testing.T) {
		s := newStore(t)
		for round := range 3 {
			id := fmt.Sprintf("sess-%d", round)
			create(t, s, sampleSession("s-omicron", id, "user-1", identity.SessionWeb, at(0)))
			race(racers, func(i int) {
				var err error
				if i == racers/2 {
					_, err = s.Revoke(ctx, "s-omicron", id, at(time.Minute), at(time.Minute).Add(time.Hour))
				} else {
					err = s.Touch(ctx, "s-omicron", id, at(time.Duration(i)*time.Second), at(30*time.Minute+time.Duration(i)*time.Second))
				}
				if err != nil {
					t.Errorf("racer %d: %v", i, err)
				}
			})
			if got, err := s.ByID(ctx, "s-omicron", id); err != nil || !got.RevokedAt.Equal(at(time.Minute)) {
				t.Fatalf("round %d: ByID = %+v, %v; the revocation was lost", round, got, err)
			}
		}
		if got, _ := s.ListLive(ctx, "s-omicron", "user-1", at(2*time.Minute)); len(got) != 0 {
			t.Fatalf("revoked sessions listed live: %v", ids(got))
		}
	})

	t.Run("RevokeOthers revokes the user's other live sessions and returns their ids", func(t *testing.T) {
		s := newStore(t)
		now := at(time.Hour)
		keep := sampleSession("s-pi", "sess-keep", "user-1", identity.SessionWeb, at(0))
		a := sampleSession("s-pi", "sess-a", "user-1", identity.SessionApp, at(10*time.Minute))
		b := sampleSession("s-pi", "sess-b", "user-1", identity.SessionAPI, at(50*time.Minute))
		revoked := sampleSession("s-pi", "sess-revoked", "user-1", identity.SessionWeb, at(40*time.Minute))
		revoked.RevokedAt = at(45 * time.Minute)
		expired := sampleSession("s-pi", "sess-expired", "user-1", identity.SessionWeb, at(-24*time.Hour))
		otherUser := sampleSession("s-pi", "sess-other-user", "user-2", identity.SessionWeb, at(50*time.Minute))
		otherTenant := sampleSession("s-rho", "sess-other-tenant", "user-1", identity.SessionWeb, at(50*time.Minute))
		for _, x := range []*identity.Session{&keep, &a} {
			x.IdleExpiresAt = at(2 * time.Hour)
		}
		create(t, s, keep, a, b, revoked, expired, otherUser, otherTenant)
		got, err := s.RevokeOthers(ctx, "s-pi", "user-1", "sess-keep", now, now.Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(sorted(got), []string{"sess-a", "sess-b"}) {
			t.Fatalf("RevokeOthers = %v, want sess-a and sess-b", got)
		}
		for id, want := range map[string]time.Time{"sess-keep": {}, "sess-a": now, "sess-b": now, "sess-revoked": revoked.RevokedAt, "sess-expired": {}} {
			if got, err := s.ByID(ctx, "s-pi", id); err != nil || !got.RevokedAt.Equal(want) {
				t.Errorf("%s: RevokedAt = %v, %v; want %v", id, got.RevokedAt, err, want)
			}
		}
		for _, x := range []identity.Session{otherUser, otherTenant} {
			if got, err := s.ByID(ctx, x.TenantID, x.ID); err != nil || !got.RevokedAt.IsZero() {
				t.Errorf("%s was revoked: %+v, %v", x.ID, got, err)
			}
		}
		if live, _ := s.ListLive(ctx, "s-pi", "user-1", now); !slices.Equal(ids(live), []string{"sess-keep"}) {
			t.Fatalf("live after RevokeOthers: %v", ids(live))
		}
		if got, err := s.RevokeOthers(ctx, "s-pi", "user-1", "sess-keep", now, now.Add(time.Hour)); err != nil || len(got) != 0 {
			t.Fatalf("second RevokeOthers = %v, %v; want none", got, err)
		}
	})

	t.Run("concurrent RevokeOthers report each session once", func(t *testing.T) {
		s := newStore(t)
		const sessions, callers = 6, 4
		for i := range sessions {
			create(t, s, sampleSession("s-sigma", fmt.Sprintf("sess-%d", i), "user-1", identity.SessionAPI, at(time.Duration(i)*time.Second)))
		}
		results := make([][]string, callers)
		race(callers, func(i int) {
			var err error
			if results[i], err = s.RevokeOthers(ctx, "s-sigma", "user-1", "sess-0", at(time.Minute), at(time.Minute).Add(time.Hour)); err != nil {
				t.Errorf("RevokeOthers: %v", err)
			}
		})
		all := slices.Concat(results...)
		want := []string{"sess-1", "sess-2", "sess-3", "sess-4", "sess-5"}
		if !slices.Equal(sorted(all), want) {
			t.Fatalf("the calls together reported %v, want each of %v once", sorted(all), want)
		}
	})

	t.Run("every revocation is logged until its until, across tenants, oldest first", func(t *testing.T) {
		s := newStore(t)
		create(t, s,
			sampleSession("s-log-a", "sess-1", "user-1", identity.SessionWeb, at(0)),
			sampleSession("s-log-a", "sess-2", "user-1", identity.SessionApp, at(0)),
			sampleSession("s-log-b", "sess-1", "user-9", identity.SessionAPI, at(0)),
			sampleSession("s-log-a", "sess-keep", "user-1", identity.SessionApp, at(0)))
		mustRevoke := func(tenantID, id string, when, until time.Time) {
			t.Helper()
			if ok, err := s.Revoke(ctx, tenantID, id, when, until); !ok || err != nil {
				t.Fatalf("revoke %s/%s = %v, %v", tenantID, id, ok, err)
			}
		}
		mustRevoke("s-log-b", "sess-1", at(2*time.Minute), at(20*time.Minute))
		mustRevoke("s-log-a", "sess-1", at(time.Minute), at(16*time.Minute))
		if got, err := s.RevokeOthers(ctx, "s-log-a", "user-1", "sess-keep", at(3*time.Minute), at(18*time.Minute)); err != nil || !slices.Equal(got, []string{"sess-2"}) {
			t.Fatalf("RevokeOthers = %v, %v", got, err)
		}
		// A second revoke of a revoked session logs nothing more.
		if ok, err := s.Revoke(ctx, "s-log-a", "sess-1", at(4*time.Minute), at(40*time.Minute)); ok || err != nil {
			t.Fatalf("second revoke = %v, %v", ok, err)
		}
		type entry struct{ tenant, id string }
		list := func(since, now time.Time) []entry {
			t.Helper()
			got, err := s.RevokedSince(ctx, since, now)
			if err != nil {
				t.Fatal(err)
			}
			var out []entry
			for _, r := range got {
				if !strings.HasPrefix(r.TenantID, "s-log-") {
					continue // a store shared with other cases
				}
				out = append(out, entry{r.TenantID, r.SessionID})
				if r.At.IsZero() || !r.Until.After(r.At) {
					t.Fatalf("revocation %+v lacks its times", r)
				}
			}
			return out
		}
		if got, want := list(at(0), at(5*time.Minute)), []entry{{"s-log-a", "sess-1"}, {"s-log-b", "sess-1"}, {"s-log-a", "sess-2"}}; !slices.Equal(got, want) {
			t.Fatalf("log from the start = %v, want %v", got, want)
		}
		if got, want := list(at(2*time.Minute), at(5*time.Minute)), []entry{{"s-log-b", "sess-1"}, {"s-log-a", "sess-2"}}; !slices.Equal(got, want) {
			t.Fatalf("log since 2m = %v, want %v", got, want)
		}
		if got, want := list(at(0), at(17*time.Minute)), []entry{{"s-log-b", "sess-1"}, {"s-log-a", "sess-2"}}; !slices.Equal(got, want) {
			t.Fatalf("log at 17m (the first announcement is over) = %v, want %v", got, want)
		}
	})

}

func sampleToken(tenant, hash string) identity.RefreshToken {
	return identity.RefreshToken{Hash: hash, TenantID: tenant, SessionID: "sess-1", UserID: "user-1", CreatedAt: at(0), ExpiresAt: at(30 * 24 * time.Hour)}
}

func sameToken(a, b identity.RefreshToken) bool {
	return a.Hash == b.Hash && a.TenantID == b.TenantID && a.SessionID == b.SessionID && a.UserID == b.UserID &&
		a.CreatedAt.Equal(b.CreatedAt) && a.ExpiresAt.Equal(b.ExpiresAt) && a.UsedAt.Equal(b.UsedAt)
}

// RunRefreshTokensContract checks the behaviour every session.RefreshTokens
// must have. newStore returns an empty store (or one in which the tenant
// ids the suite makes up are unused).
func RunRefreshTokensContract(t *testing.T, newStore func(t *testing.T) session.RefreshTokens) {
	t.Helper()
	ctx := context.Background()

	t.Run("the first use returns the token unused, later uses return it used", func(t *testing.T) {
		s := newStore(t)
		tok := sampleToken("r-alpha", "hash-1")
		if err := s.Create(ctx, tok); err != nil {
			t.Fatal(err)
		}
		if got, err := s.Use(ctx, "r-alpha", "hash-1", at(time.Hour)); err != nil || !sameToken(got, tok) {
			t.Fatalf("first Use = %+v, %v; want %+v", got, err, tok)
		}
		used := tok
		used.UsedAt = at(time.Hour)
		for _, d := range []time.Duration{2 * time.Hour, 3 * time.Hour} {
			if got, err := s.Use(ctx, "r-alpha", "hash-1", at(d)); err != nil || !sameToken(got, used) {
				t.Fatalf("later Use = %+v, %v; want %+v", got, err, used)
			}
		}
	})

	t.Run("unknown hashes and other tenants' tokens are not found", func(t *testing.T) {
		s := newStore(t)
		if err := s.Create(ctx, sampleToken("r-beta", "hash-1")); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct{ tenant, hash string }{{"r-beta", "no-such-hash"}, {"r-gamma", "hash-1"}} {
			if _, err := s.Use(ctx, tc.tenant, tc.hash, at(time.Hour)); !errors.Is(err, errs.ErrNotFound) {
				t.Errorf("Use(%s, %s): %v, want ErrNotFound", tc.tenant, tc.hash, err)
			}
		}
		if got, err := s.Use(ctx, "r-beta", "hash-1", at(time.Hour)); err != nil || !got.UsedAt.IsZero() {
			t.Fatalf("a use from another tenant used the token: %+v, %v", got, err)
		}
	})

	t.Run("a second token with a taken hash conflicts; another tenant's is separate", func(t *testing.T) {
		s := newStore(t)
		if err := s.Create(ctx, sampleToken("r-delta", "hash-1")); err != nil {
			t.Fatal(err)
		}
		dup := sampleToken("r-delta", "hash-1")
		dup.SessionID = "sess-2"
		if err := s.Create(ctx, dup); !errors.Is(err, errs.ErrConflict) {
			t.Fatalf("second create: %v, want ErrConflict", err)
		}
		other := sampleToken("r-epsilon", "hash-1")
		other.SessionID = "sess-3"
		if err := s.Create(ctx, other); err != nil {
			t.Fatalf("the same hash in another tenant: %v", err)
		}
		if got, err := s.Use(ctx, "r-epsilon", "hash-1", at(time.Hour)); err != nil || !sameToken(got, other) {
			t.Fatalf("Use = %+v, %v; want %+v", got, err, other)
		}
		if got, err := s.Use(ctx, "r-delta", "hash-1", at(time.Hour)); err != nil || got.SessionID != "sess-1" || !got.UsedAt.IsZero() {
			t.Fatalf("Use = %+v, %v; want the first, unused", got, err)
		}
	})

	t.Run("concurrent uses of one token: exactly one sees it unused", func(t *testing.T) {
		s := newStore(t)
		for round := range 3 {
			hash := fmt.Sprintf("hash-%d", round)
			if err := s.Create(ctx, sampleToken("r-zeta", hash)); err != nil {
				t.Fatal(err)
			}
			var mu sync.Mutex
			unused := 0
			race(racers, func(i int) {
				got, err := s.Use(ctx, "r-zeta", hash, at(time.Hour+time.Duration(i)*time.Millisecond))
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err != nil:
					t.Errorf("Use: %v", err)
				case got.UsedAt.IsZero():
					unused++
				case got.Hash != hash || got.SessionID != "sess-1":
					t.Errorf("Use returned %+v", got)
				}
			})
			if unused != 1 {
				t.Fatalf("round %d: %d uses saw the token unused, want exactly 1", round, unused)
			}
		}
	})
}
