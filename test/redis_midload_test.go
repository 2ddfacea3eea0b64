package e2e_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestRedisStoppedMidLoad (issue 14, fault suite): Redis goes away — its
// connections refused, and in a second phase hanging — while mixed
// traffic runs: password logins, /me with tokens obtained before, logouts,
// SMS and e-mail code sends, and registrations of fresh accounts. Every
// answer is one of an exact set for its kind and its moment (never a
// 500): logins, registrations and code sends answer 503 "unavailable"
// with a whole-seconds Retry-After while Redis is away; authenticated
// requests fail closed: a live token is answered from the store, and a
// token logged out before or during the outage is refused every time,
// during and after. Nothing is half-written: a registration answered 503
// left no account (a login with its password fails, and the address can
// be registered anew with another password, which then signs in), and one
// answered 202 signs in. Once Redis passes again, logins and /readyz
// recover without a restart.
func TestRedisStoppedMidLoad(t *testing.T) {
	t.Parallel()
	b := startBehindProxiesWith(t, tenantSpec{ID: "local", Domains: []string{"localhost"}, SMS: smsBlock("5m", ""), EmailLink: true})
	phones := atomic.Int64{}
	for _, mode := range []proxyMode{proxyRefuse, proxyHang} {
		t.Run(mode.String(), func(t *testing.T) { redisMidLoad(t, b, mode, &phones) })
	}
}

// Lengths of a mid-load phase: load before Redis goes, while it is away,
// and after it is back.
const (
	midLoadBefore = 1500 * time.Millisecond
	midLoadOutage = 8 * time.Second
	midLoadAfter  = 2 * time.Second
)

// midLoadAnswerBound is what a client may wait for an answer that began
// and ended with Redis away (or before it went): the outage tests' bound
// plus room for the load (a login's hash waits for a slot of the pool; a
// logout writes the store, then tries Redis briefly). A request under way
// when Redis goes may take longer: each of its Redis calls may wait the
// store timeout, and a login that began just before a hang, whose limiter
// calls after the password check each wait, has taken 8.4 s. Those are
// bounded by the client's own timeout (requestTimeout) only.
const midLoadAnswerBound = 2 * outageAnswerBound

// midLoadKind is a kind of request of the mixed traffic.
type midLoadKind string

const (
	kindLogin    midLoadKind = "login"
	kindRegister midLoadKind = "register"
	kindSMSSend  midLoadKind = "sms send"
	kindMailSend midLoadKind = "email code send"
	kindMeLive   midLoadKind = "/me live token"
	kindMeDead   midLoadKind = "/me revoked token"
	kindLogout   midLoadKind = "logout"
)

// midLoadPhase is when a request ran, against the moments Redis was cut
// and restored.
type midLoadPhase string

const (
	phaseBefore  midLoadPhase = "before"  // ended before Redis went away
	phaseOutage  midLoadPhase = "outage"  // began after Redis went away, ended before it was back
	phaseBetween midLoadPhase = "between" // overlapped a switch, or began after Redis was back
)

// midLoadAnswer is one request of the load and its answer.
type midLoadAnswer struct {
	kind       midLoadKind
	begun      time.Time
	took       time.Duration
	status     int
	code       string // the problem's code, if the body is a problem
	retryAfter string
	mediaType  string
	body       string
	err        error
	// account is the registration's, for the check afterwards.
	account account
}

// midLoadToken is a credential of the load: an app token or an access JWT.
type midLoadToken struct {
	kind, value string
}

func (tk midLoadToken) opt() reqOption {
	if tk.kind == "app" {
		return withAppToken(tk.value)
	}
	return withBearer(tk.value)
}

// redisMidLoad runs one phase: load, Redis cut (refused or hanging) under
// it, Redis back, then the checks.
func redisMidLoad(t *testing.T, b *behindProxies, mode proxyMode, phones *atomic.Int64) {
	s := b.srv
	const host = "localhost"
	owner := newAccount("midload-owner-" + mode.String())
	register(t, s, host, owner)
	// Live tokens for /me; tokens logged out now; tokens the logout
	// workers log out during the outage. Both credential forms: an app
	// token's session is looked up (in a cache or the store), while an
	// access JWT verifies by its signature, so that only the revocation
	// check (the set, or the store when Redis fails) refuses it.
	var live, revoked, toRevoke []midLoadToken
	newToken := func(kind string) midLoadToken {
		a := login(t, s, host, owner, kind)
		if kind == "app" {
			return midLoadToken{"app", a.AppToken}
		}
		return midLoadToken{"bearer", a.AccessToken}
	}
	for _, kind := range []string{"app", ""} {
		live = append(live, newToken(kind), newToken(kind))
		revoked = append(revoked, newToken(kind))
		toRevoke = append(toRevoke, newToken(kind))
	}
	for _, tk := range revoked {
		if r := s.do(t, http.MethodPost, "/auth/v1/logout", withHost(host), tk.opt()); r.Status != http.StatusNoContent {
			t.Fatalf("logout of a %s token before the load: %d %s", tk.kind, r.Status, r.Body)
		}
	}

	var (
		mu        sync.Mutex
		answers   []midLoadAnswer
		stop      atomic.Bool
		outage    = make(chan struct{}) // closed once Redis is away
		wg        sync.WaitGroup
		mailSeq   atomic.Int64
		loggedOut sync.Map // token value → true once its logout was answered 204
	)
	call := func(kind midLoadKind, method, path string, acct account, opts ...reqOption) midLoadAnswer {
		a := midLoadAnswer{kind: kind, begun: time.Now(), account: acct}
		r, err := s.send(method, path, append([]reqOption{withHost(host)}, opts...)...)
		a.took, a.err = time.Since(a.begun), err
		a.status, a.retryAfter, a.mediaType, a.body = r.Status, r.Header.Get("Retry-After"), r.Header.Get("Content-Type"), string(r.Body)
		var p problem
		if json.Unmarshal(r.Body, &p) == nil {
			a.code = p.Code
		}
		mu.Lock()
		answers = append(answers, a)
		mu.Unlock()
		return a
	}
	// One request of each kind; i picks among the tokens.
	requests := map[midLoadKind]func(i int) midLoadAnswer{
		kindLogin: func(int) midLoadAnswer {
			return call(kindLogin, http.MethodPost, "/auth/v1/login", account{}, withJSON(map[string]any{"email": owner.Email, "password": owner.Password, "session": "app"}))
		},
		kindRegister: func(int) midLoadAnswer {
			a := newAccount("midload-" + mode.String())
			return call(kindRegister, http.MethodPost, "/auth/v1/register", a, withJSON(registerBody(a)))
		},
		kindSMSSend: func(int) midLoadAnswer {
			return call(kindSMSSend, http.MethodPost, "/auth/v1/sms/send", account{}, withJSON(map[string]any{"phone": trPhone(int(phones.Add(1)))}))
		},
		kindMailSend: func(int) midLoadAnswer {
			addr := fmt.Sprintf("midload-code-%s.%d@example.com", mode, mailSeq.Add(1))
			return call(kindMailSend, http.MethodPost, "/auth/v1/email/code/send", account{}, withJSON(map[string]any{"email": addr}))
		},
		kindMeLive: func(i int) midLoadAnswer {
			return call(kindMeLive, http.MethodGet, "/auth/v1/me", account{}, live[i%len(live)].opt())
		},
		kindMeDead: func(i int) midLoadAnswer {
			return call(kindMeDead, http.MethodGet, "/auth/v1/me", account{}, revoked[i%len(revoked)].opt())
		},
	}
	// The workers: each sends one kind over and over, a pause between
	// requests keeping the load a mix (without it the requests that fail
	// fast while Redis is away would crowd out the rest on a small
	// machine; registrations, which hash, pause longest).
	workers := []struct {
		kind  midLoadKind
		count int
		pause time.Duration
	}{
		{kindLogin, 3, 25 * time.Millisecond}, {kindMeLive, 3, 25 * time.Millisecond}, {kindMeDead, 2, 25 * time.Millisecond},
		{kindRegister, 2, 150 * time.Millisecond}, {kindSMSSend, 1, 50 * time.Millisecond}, {kindMailSend, 1, 50 * time.Millisecond},
	}
	for _, w := range workers {
		for n := range w.count {
			wg.Go(func() {
				for i := n; !stop.Load(); i++ {
					requests[w.kind](i)
					time.Sleep(w.pause)
				}
			})
		}
	}
	// Once Redis is away, each of these logs out a token of its own, then
	// checks that it stays refused.
	for _, tk := range toRevoke {
		wg.Go(func() {
			select {
			case <-outage:
			case <-time.After(midLoadBefore + midLoadOutage): // the test failed before the cut
				return
			}
			if a := call(kindLogout, http.MethodPost, "/auth/v1/logout", account{}, tk.opt()); a.status != http.StatusNoContent {
				return // reported below
			}
			loggedOut.Store(tk.value, true)
			for !stop.Load() {
				call(kindMeDead, http.MethodGet, "/auth/v1/me", account{}, tk.opt())
				time.Sleep(25 * time.Millisecond)
			}
		})
	}

	time.Sleep(midLoadBefore)
	cut := time.Now()
	b.redis.SetMode(mode)
	away := time.Now()
	close(outage)
	// Requests under way at the cut may take long (a login that began
	// just before may wait for several Redis calls in a row), and a
	// worker's next may begin only late in the outage: one request of
	// each kind sent now makes sure that each kind meets the outage.
	var probes sync.WaitGroup
	for _, send := range requests {
		probes.Go(func() { send(0) })
	}
	probes.Wait()
	time.Sleep(time.Until(away.Add(midLoadOutage)))
	restoring := time.Now()
	b.redis.SetMode(proxyPass)
	time.Sleep(midLoadAfter)
	stop.Store(true)
	wg.Wait()

	phaseOf := func(a midLoadAnswer) midLoadPhase {
		switch end := a.begun.Add(a.took); {
		case end.Before(cut):
			return phaseBefore
		case a.begun.After(away) && end.Before(restoring):
			return phaseOutage
		}
		return phaseBetween
	}
	// The answers each kind may give (status and problem code): normally,
	// and while Redis is away; a request that overlaps a switch (or comes
	// while the server reconnects) may give either. Authenticated
	// requests have one answer whatever Redis does.
	type shape struct {
		status int
		code   string // the problem's code; "" for a success
	}
	unavailable := shape{http.StatusServiceUnavailable, "unavailable"}
	normal := map[midLoadKind][]shape{
		kindLogin: {{http.StatusOK, ""}}, kindRegister: {{http.StatusAccepted, ""}}, kindSMSSend: {{http.StatusAccepted, ""}},
		kindMailSend: {{http.StatusAccepted, ""}}, kindMeLive: {{http.StatusOK, ""}}, kindMeDead: {{http.StatusUnauthorized, "invalid_token"}},
		kindLogout: {{http.StatusNoContent, ""}},
	}
	whileAway := map[midLoadKind][]shape{
		kindLogin: {unavailable}, kindRegister: {unavailable}, kindSMSSend: {unavailable}, kindMailSend: {unavailable},
		kindMeLive: normal[kindMeLive], kindMeDead: normal[kindMeDead], kindLogout: normal[kindLogout],
	}
	allowed := func(k midLoadKind, p midLoadPhase) []shape {
		var out []shape
		switch p {
		case phaseBefore:
			out = slices.Clone(normal[k])
		case phaseOutage:
			out = slices.Clone(whileAway[k])
		default:
			out = append(slices.Clone(normal[k]), whileAway[k]...)
		}
		if k == kindLogin || k == kindRegister {
			// The hash pool was full: the machine is busy, whatever
			// Redis does.
			out = append(out, shape{http.StatusServiceUnavailable, "busy"})
		}
		return out
	}

	type tallyKey struct {
		kind   midLoadKind
		phase  midLoadPhase
		status int
		code   string
	}
	tally := map[tallyKey]int{}
	var registered, refused []account
	longest := map[midLoadPhase]time.Duration{}
	for _, a := range answers {
		p := phaseOf(a)
		longest[p] = max(longest[p], a.took)
		what := fmt.Sprintf("%s (%s, begun %s after the cut, took %s)", a.kind, p, a.begun.Sub(cut).Round(time.Millisecond), a.took.Round(time.Millisecond))
		if a.err != nil {
			t.Errorf("%s: no answer: %v", what, a.err)
			continue
		}
		tally[tallyKey{a.kind, p, a.status, a.code}]++
		if want := allowed(a.kind, p); !slices.Contains(want, shape{a.status, a.code}) {
			t.Errorf("%s: %d %s, want one of %v", what, a.status, a.body, want)
			continue
		}
		if p != phaseBetween && a.took > midLoadAnswerBound {
			t.Errorf("%s: answered %d after %s, want within %s", what, a.status, a.took.Round(time.Millisecond), midLoadAnswerBound)
		}
		if a.code != "" && a.mediaType != "application/problem+json" {
			t.Errorf("%s: a problem as %q, want application/problem+json", what, a.mediaType)
		}
		switch a.status {
		case http.StatusServiceUnavailable:
			if n, err := strconv.Atoi(a.retryAfter); err != nil || n < 1 {
				t.Errorf("%s: 503 with Retry-After %q, want whole seconds, at least 1", what, a.retryAfter)
			}
			if a.kind == kindRegister {
				refused = append(refused, a.account)
			}
		case http.StatusAccepted:
			if a.kind == kindRegister {
				registered = append(registered, a.account)
			}
		}
	}
	var lines []string
	for k, n := range tally {
		lines = append(lines, fmt.Sprintf("  %-17s %-7s %d %-11s %5d", k.kind, k.phase, k.status, k.code, n))
	}
	slices.Sort(lines)
	t.Logf("Redis %s mid-load: %d requests (cut %s after the load began, away %s; the longest answer began and ended in the outage %s, overlapping a switch %s):\n%s",
		mode, len(answers), midLoadBefore, restoring.Sub(away).Round(time.Millisecond), longest[phaseOutage].Round(time.Millisecond),
		longest[phaseBetween].Round(time.Millisecond), strings.Join(lines, "\n"))
	// The load must have met the outage, or it proved nothing.
	for k := range requests {
		n := 0
		for key, c := range tally {
			if key.kind == k && key.phase == phaseOutage {
				n += c
			}
		}
		if n == 0 {
			t.Errorf("no %s was answered during the outage: the load did not meet it", k)
		}
	}
	for _, tk := range toRevoke {
		if _, ok := loggedOut.Load(tk.value); !ok {
			t.Errorf("the %s token to be logged out during the outage was not", tk.kind)
		}
	}
	if t.Failed() {
		return
	}

	// Recovery, without a restart.
	eventuallyStatus(t, "login after Redis is back", http.StatusOK, func() reply { return tryLogin(t, s, host, owner.Email, owner.Password) })
	eventuallyStatus(t, "/readyz after Redis is back", http.StatusOK, func() reply { return s.get(t, "/readyz") })
	// The circuit breaker opened in the outage, failed commands at once,
	// and is closed again.
	m := scrape(t, s)
	for _, series := range []string{"portcullis_redis_breaker_opened_total", "portcullis_redis_breaker_refused_total"} {
		if v, ok := sample(m, series); !ok || v < 1 {
			t.Errorf("%s = %v (present %t) after the outage, want at least 1", series, v, ok)
		}
	}
	if v, ok := sample(m, "portcullis_redis_breaker_open"); !ok || v != 0 {
		t.Errorf("portcullis_redis_breaker_open = %v (present %t) with Redis back, want 0", v, ok)
	}
	// Revoked stays revoked, also once the revocation set is refilled
	// (every 2 s); live stays live.
	dead := append(slices.Clone(revoked), toRevoke...)
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
		for _, tk := range dead {
			if r := me(t, s, host, tk.opt()); r.Status != http.StatusUnauthorized {
				t.Fatalf("a %s token logged out before or during the outage, after Redis is back: %d %s, want 401", tk.kind, r.Status, r.Body)
			}
		}
	}
	for _, tk := range live {
		if r := me(t, s, host, tk.opt()); r.Status != http.StatusOK {
			t.Errorf("a live %s token after Redis is back: %d %s", tk.kind, r.Status, r.Body)
		}
	}

	// Nothing half-written: each registration answered 202 signs in; each
	// answered 503 left no account behind.
	post := func(path string, body any) (reply, error) {
		return s.send(http.MethodPost, path, withHost(host), withJSON(body))
	}
	signIn := func(a account) (reply, error) {
		return post("/auth/v1/login", map[string]any{"email": a.Email, "password": a.Password})
	}
	checkEach(t, registered, func(a account) error {
		if r, err := signIn(a); err != nil || r.Status != http.StatusOK {
			return fmt.Errorf("%s, registered with 202 under the load, signs in with %d %s %v", a.Email, r.Status, r.Body, err)
		}
		return nil
	})
	checkEach(t, refused, func(a account) error {
		if r, err := signIn(a); err != nil || r.Status != http.StatusUnauthorized {
			return fmt.Errorf("%s, whose registration was answered 503, signs in with its password: %d %s %v, want 401", a.Email, r.Status, r.Body, err)
		}
		again := account{Email: a.Email, Password: strongPassword()}
		if r, err := post("/auth/v1/register", registerBody(again)); err != nil || r.Status != http.StatusAccepted {
			return fmt.Errorf("registering %s again: %d %s %v, want 202", a.Email, r.Status, r.Body, err)
		}
		if r, err := signIn(again); err != nil || r.Status != http.StatusOK {
			return fmt.Errorf("%s, registered again after its 503, signs in with the new password: %d %s %v, want 200 (the refused registration left an account)", a.Email, r.Status, r.Body, err)
		}
		return nil
	})
	t.Logf("registrations checked after the load: %d answered 202, %d answered 503", len(registered), len(refused))
}

// checkEach runs check on every item, four at a time, reports the errors
// it returns and says how many there were. check must not call t's
// methods: it runs on other goroutines.
func checkEach[T any](t testing.TB, items []T, check func(T) error) int {
	t.Helper()
	var wg sync.WaitGroup
	next := make(chan T)
	found := make(chan error, len(items))
	for range 4 {
		wg.Go(func() {
			for it := range next {
				if err := check(it); err != nil {
					found <- err
				}
			}
		})
	}
	for _, it := range items {
		next <- it
	}
	close(next)
	wg.Wait()
	close(found)
	n := 0
	for err := range found {
		t.Error(err)
		n++
	}
	return n
}
