package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
	"golang.org/x/sync/errgroup"
)

// The storefront phase measures what the cart merge adds to a password
// login: on a storefront tenant, logins without a local cart (plain) and
// logins with a local cart of sfCartLines lines and sfWishlistItems
// wishlist items (cart), in the same run at the same concurrency, in short
// slices of one kind each, alternated plain, cart, cart, plain, … so that
// the machine's noise and any drift hit both alike.
//
// A slice begins by switching the kind: each worker, once its login of
// the previous kind is answered, empties its users whose carts are full
// and goes on with the new kind. Only when every worker has switched, and
// then a settling time later, does the slice's recorded window open, so
// that no login of the other kind is in flight in it, however slow the
// logins are. Only what is answered within a window counts, with the
// server's CPU time read at the window's ends: in a closed loop at steady
// state the logins answered in a window are those its CPU served.
//
// The case measured: every cart login merges sfCartLines lines and
// sfWishlistItems items that are new to the user's cart and wishlist, into
// a cart of bounded size. Each worker has its own users, used one after
// another: a user takes cycle cart logins, its k-th (from 0) merging into
// a cart of k×sfCartLines lines and a wishlist of k×sfWishlistItems
// items, and is then emptied (PUT /auth/v1/cart and /auth/v1/wishlist with
// no items) when a slice begins. Plain logins log the same users in
// without a cart, so they read carts of the same sizes: their answer shows
// the cart too.
const (
	sfCartLines     = 20
	sfWishlistItems = 10
)

// Paths of the cart and wishlist routes.
const (
	pathCart     = "/auth/v1/cart"
	pathWishlist = "/auth/v1/wishlist"
)

// sfKind is the kind of a storefront-phase login.
type sfKind int

const (
	sfPlain sfKind = iota // without a local cart
	sfCart                // with a local cart and wishlist
)

// String names the kind as the report does.
func (k sfKind) String() string {
	if k == sfCart {
		return "cart"
	}
	return "plain"
}

// abbaB says whether slice k of a phase that alternates two kinds in the
// order A, B, B, A, A, B, B, A, … is of kind B: a drift over the phase
// (the store growing, the machine's load changing) then weighs on both
// kinds alike.
func abbaB(k int) bool { return (k+1)/2%2 == 1 }

// sfKindOf is the kind of slice k: plain, cart, cart, plain, … (abbaB).
func sfKindOf(k int) sfKind {
	if abbaB(k) {
		return sfCart
	}
	return sfPlain
}

// sfPhaseName is the name of the phase of kind k's figures.
func sfPhaseName(k sfKind) string {
	if k == sfCart {
		return phaseSFCart
	}
	return phaseSFPlain
}

// sfSlicesPerKind is how many slices of each kind make about total
// recorded time with windows of window: an even number, at least 2, so
// that the ABBA order is whole.
func sfSlicesPerKind(total, window time.Duration) int {
	return max(2, 2*int(math.Ceil(total.Seconds()/window.Seconds()/2-1e-9)))
}

// sfUsersPerWorker is how many users each worker needs so that it does
// not run out of users within a slice: at most rate logins per second in
// all (the hash-bound limit, with a margin) spread over concurrency
// workers for a slice's settling time and window, plus the one answered
// after the switch and the one in flight when the window closes. After the
// resets at a slice's start a worker has at least (users−1)×cycle+1 cart
// logins left: its current user may be part-used, the others are empty.
// One more is a reserve for users that are retired or await a reset that
// failed.
func sfUsersPerWorker(rate float64, concurrency int, slice time.Duration, cycle int) int {
	perWorker := rate*1.5/float64(concurrency)*slice.Seconds() + 2
	return 2 + max(1, int(math.Ceil((perWorker-1)/float64(cycle))))
}

// cartLine is a line of a local cart as the login body carries it.
type cartLine struct {
	ProductID string `json:"product_id"`
	VariantID string `json:"variant_id,omitempty"`
	Quantity  int    `json:"quantity"`
}

// sfLocal returns the local cart and wishlist of user u's k-th cart login
// since its last reset: sfCartLines lines and sfWishlistItems items whose
// ids name u and k, so that each is new to the user's cart and wishlist,
// which hold only those of its earlier logins since the reset. Every other
// line has a variant; quantities are 1 to 3.
func sfLocal(u, k int) ([]cartLine, []string) {
	lines := make([]cartLine, sfCartLines)
	for i := range lines {
		lines[i] = cartLine{ProductID: fmt.Sprintf("sku-%d-%d-%02d", u, k, i), Quantity: 1 + i%3}
		if i%2 == 1 {
			lines[i].VariantID = fmt.Sprintf("size-%d", i%4)
		}
	}
	wish := make([]string, sfWishlistItems)
	for i := range wish {
		wish[i] = fmt.Sprintf("wish-%d-%d-%02d", u, k, i)
	}
	return lines, wish
}

// sfLoginBody is the body of a bearer password login; with lines or wish
// it carries them as the guest's local cart and wishlist.
func sfLoginBody(email, password string, lines []cartLine, wish []string) []byte {
	body := map[string]any{"email": email, "password": password, "session": "bearer"}
	if lines != nil {
		body["cart"] = map[string]any{"items": lines}
	}
	if wish != nil {
		body["wishlist"] = wish
	}
	return mustJSON(body)
}

// sfUser is an account of the storefront phase. Only its worker uses it.
type sfUser struct {
	Email    string
	Password string
	plain    []byte   // the login body without a cart
	cart     [][]byte // cart[k]: the body of its k-th cart login since its reset
	// count is its cart logins since the reset: its cart holds
	// count×sfCartLines lines and its wishlist count×sfWishlistItems items.
	count int
	// dirty says a login of it failed or answered otherwise than
	// expected: what its cart holds is unknown until it is reset.
	dirty bool
	// retired says it is not used again: a login of it timed out or
	// answered merge_pending, so the server may still be merging into its
	// cart (the request's work goes on, or the merge is retried in the
	// background), or resetting it failed sfMaxResetFailures times.
	retired bool
	// failedResets counts its resets that failed.
	failedResets int
	token        string // "Bearer <access token>" of its latest login
	// stored bounds the cart lines stored for it: those of every cart
	// login since the reset, whether it succeeded or not.
	stored int
}

// sfMaxResetFailures is how many failed resets retire a user.
const sfMaxResetFailures = 3

// newSFUsers returns workers×perWorker users whose addresses begin with
// prefix, in groups of perWorker for each worker, with their login bodies
// for cycles of cycle cart logins.
func newSFUsers(prefix string, workers, perWorker, cycle int) [][]*sfUser {
	base := newUsers(workers * perWorker)
	out := make([][]*sfUser, workers)
	for w := range out {
		out[w] = make([]*sfUser, perWorker)
		for j := range out[w] {
			i := w*perWorker + j
			u := &sfUser{Email: prefix + base[i].Email, Password: base[i].Password}
			u.plain = sfLoginBody(u.Email, u.Password, nil, nil)
			for k := range cycle {
				lines, wish := sfLocal(i, k)
				u.cart = append(u.cart, sfLoginBody(u.Email, u.Password, lines, wish))
			}
			out[w][j] = u
		}
	}
	return out
}

// registerSFUsers registers every user, several at once (each
// registration hashes a password).
func registerSFUsers(ctx context.Context, c client, users []*sfUser, concurrency int) error {
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(concurrency)
	for _, u := range users {
		g.Go(func() error {
			a, err := c.doRetrying(ctx, "POST", pathRegister, mustJSON(map[string]string{
				"email": u.Email, "password": u.Password, "first_name": "Load", "last_name": "Shopper",
			}))
			if err != nil {
				return err
			}
			if a.Status != fasthttp.StatusAccepted {
				return fmt.Errorf("register %s: status %d, want 202: %s", u.Email, a.Status, a.Body)
			}
			return nil
		})
	}
	return g.Wait()
}

// Error classes of a storefront login answered 200 otherwise than
// expected.
const (
	classSFUnreadable = "200:unreadable"    // not the JSON of a login answer
	classSFNoCart     = "200:no_cart"       // no cart: the tenant is not a storefront
	classSFPending    = "200:merge_pending" // the store was not reached; the merge is queued
	classSFDropped    = "200:dropped"       // a line or item of the local cart was dropped
	classSFWrongSize  = "200:wrong_cart"    // the cart or wishlist has another size than expected
)

// sfAnswer is what the phase reads of a storefront login's answer.
type sfAnswer struct {
	AccessToken string `json:"access_token"`
	Cart        *struct {
		Items []json.RawMessage `json:"items"`
	} `json:"cart"`
	Wishlist     []json.RawMessage `json:"wishlist"`
	Dropped      []json.RawMessage `json:"dropped"`
	MergePending bool              `json:"merge_pending"`
}

// readSFAnswer reads a login's answer; it must hold an access token.
func readSFAnswer(body []byte) (sfAnswer, error) {
	var a sfAnswer
	if err := json.Unmarshal(body, &a); err != nil {
		return sfAnswer{}, err
	}
	if a.AccessToken == "" {
		return sfAnswer{}, fmt.Errorf("no access_token")
	}
	return a, nil
}

// checkSFAnswer checks a 200 answer of a storefront login: a cart of
// lines lines and a wishlist of items items, nothing dropped, the merge
// not pending. It returns the access token and "" when so, else the error
// class.
func checkSFAnswer(body []byte, lines, items int) (token, class string) {
	a, err := readSFAnswer(body)
	if err != nil {
		return "", classSFUnreadable
	}
	switch {
	case a.Cart == nil:
		return a.AccessToken, classSFNoCart
	case a.MergePending:
		return a.AccessToken, classSFPending
	case len(a.Dropped) > 0:
		return a.AccessToken, classSFDropped
	case len(a.Cart.Items) != lines || len(a.Wishlist) != items:
		return a.AccessToken, classSFWrongSize
	}
	return a.AccessToken, ""
}

// sfRecord is one request of the storefront phase.
type sfRecord struct {
	Kind sfKind
	// Reset says it is part of a reset (a PUT emptying a cart or a
	// wishlist, or a login for the token), not a measured login.
	Reset   bool
	End     time.Time
	Latency time.Duration
	Class   string // "" for success, else the error class
	// Before is the lines of the cart the login merged into (or, without
	// a cart, read).
	Before int
}

// sfWindow is a slice's recorded window as measured: when the slice
// began (the switch), its ends as read, and the CPU time between them.
type sfWindow struct {
	Kind        sfKind
	Switch      time.Time
	From, End   time.Time
	ServerCPU   time.Duration
	GenCPU      time.Duration
	ServerKnown bool
}

// sfRun is one run of the storefront phase.
type sfRun struct {
	addr      string
	host      string
	timeout   time.Duration
	serverPid int
	cycle     int
	slices    int
	// settle is the time between the last worker's switch and the
	// window's opening (the first slice's is at least warmup); window the
	// recorded window's length.
	settle, warmup, window time.Duration
	users                  [][]*sfUser // by worker
	// prof, if set, profiles the server's CPU in each window
	// (<phase>.<slice>.cpu.pprof, phase by the window's kind).
	prof *profiler

	slice    atomic.Int64   // the current slice: workers log in with its kind
	switched []atomic.Int64 // by slice: the workers that have switched to it
	stopped  atomic.Bool
	// lines is an upper bound of the cart lines stored for the phase's
	// users, and maxLines the largest it has been.
	lines, maxLines atomic.Int64
	resets          atomic.Int64 // users emptied
	resetFailures   atomic.Int64
	retired         atomic.Int64 // users not used again
	exhausted       atomic.Int64 // slices a worker spent without a usable user
}

// sfResult is what a run measured.
type sfResult struct {
	Windows       []sfWindow
	Records       []sfRecord
	Resets        int
	ResetFailures int
	Exhausted     int
	Retired       int
	MaxLines      int
	ProfileErr    error // what went wrong with the profiles
}

// run runs the phase: every worker logs its users in back to back, of the
// kind of the current slice, while the slices are switched and the
// server's CPU time is read at each window's ends.
func (r *sfRun) run(ctx context.Context) sfResult {
	hc := newClient(r.addr, len(r.users), r.timeout)
	defer hc.CloseIdleConnections()
	ctxDone := context.AfterFunc(ctx, func() { r.stopped.Store(true) })
	defer ctxDone()

	r.switched = make([]atomic.Int64, r.slices)
	records := make([][]sfRecord, len(r.users))
	var wg sync.WaitGroup
	for w := range r.users {
		wg.Go(func() { records[w] = r.worker(hc, w) })
	}
	windows, profErr := r.coordinate(ctx)
	r.stopped.Store(true)
	wg.Wait()

	res := sfResult{Windows: windows, ProfileErr: profErr, Resets: int(r.resets.Load()), ResetFailures: int(r.resetFailures.Load()),
		Exhausted: int(r.exhausted.Load()), Retired: int(r.retired.Load()), MaxLines: int(r.maxLines.Load())}
	for w := range r.users {
		res.Records = append(res.Records, records[w]...)
	}
	return res
}

// coordinate switches the slices and measures their windows: for each, it
// waits until every worker has switched to it, then for the settling
// time, then reads the server's and this process's CPU time at the
// window's ends (and profiles the window when asked to).
func (r *sfRun) coordinate(ctx context.Context) ([]sfWindow, error) {
	var out []sfWindow
	var profErr error
	for k := range r.slices {
		switchAt := time.Now()
		r.slice.Store(int64(k))
		for r.switched[k].Load() < int64(len(r.users)) {
			if !sleepCtx(ctx, 5*time.Millisecond) {
				return out, profErr
			}
		}
		settle := r.settle
		if k == 0 {
			settle = max(settle, r.warmup)
		}
		if !sleepCtx(ctx, settle) {
			return out, profErr
		}
		t0, srv0, gen0, ok0 := readCPU(r.serverPid)
		profiled := r.prof.start(ctx, fmt.Sprintf("%s.%02d", sfPhaseName(sfKindOf(k)), k), r.window)
		if !sleepCtx(ctx, time.Until(t0.Add(r.window))) {
			return out, profErr
		}
		t1, srv1, gen1, ok1 := readCPU(r.serverPid)
		out = append(out, sfWindow{Kind: sfKindOf(k), Switch: switchAt, From: t0, End: t1,
			ServerCPU: srv1 - srv0, GenCPU: gen1 - gen0, ServerKnown: ok0 && ok1})
		// The profile lasts the window rounded to whole seconds: the next
		// one can start only once it is written.
		if err := profiled(); err != nil && profErr == nil {
			profErr = err
		}
	}
	return out, profErr
}

// worker is one closed loop over the users of worker w.
func (r *sfRun) worker(hc *fasthttp.HostClient, w int) []sfRecord {
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	users := r.users[w]
	recs := make([]sfRecord, 0, 256)
	cur, entered := 0, -1
	for !r.stopped.Load() {
		k := int(r.slice.Load())
		if k != entered {
			entered = k
			recs = r.resetFull(hc, req, resp, users, recs)
			r.switched[k].Add(1)
		}
		kind := sfKindOf(k)
		u := nextUsable(users, &cur, r.cycle)
		if u == nil {
			// Every user is full or broken until the next slice's resets.
			r.exhausted.Add(1)
			for int(r.slice.Load()) == k && !r.stopped.Load() {
				time.Sleep(10 * time.Millisecond)
			}
			continue
		}
		body, lines, items := u.plain, u.count*sfCartLines, u.count*sfWishlistItems
		if kind == sfCart {
			body, lines, items = u.cart[u.count], lines+sfCartLines, items+sfWishlistItems
		}
		req.Reset()
		req.Header.SetMethod(fasthttp.MethodPost)
		req.Header.SetHost(r.host)
		req.SetRequestURI(pathLogin)
		req.Header.SetContentType("application/json")
		req.SetBodyRaw(body)
		start := time.Now()
		err := hc.DoTimeout(req, resp, r.timeout)
		rec := sfRecord{Kind: kind, End: time.Now(), Before: u.count * sfCartLines}
		rec.Latency = rec.End.Sub(start)
		switch {
		case err != nil:
			rec.Class = errorClass(err)
			time.Sleep(time.Millisecond) // a dead server must not turn the loop into a spin
		case resp.StatusCode() != fasthttp.StatusOK:
			rec.Class = statusClass(resp.StatusCode(), len(resp.Header.Peek(fasthttp.HeaderRetryAfter)) > 0)
			if rec.Class == "" {
				rec.Class = fmt.Sprint(resp.StatusCode()) // another 2xx
			}
		default:
			var token string
			token, rec.Class = checkSFAnswer(resp.Body(), lines, items)
			if token != "" {
				u.token = "Bearer " + token
			}
		}
		if kind == sfCart {
			r.addLines(sfCartLines)
		}
		if u.answered(kind, rec.Class) {
			r.retired.Add(1)
		}
		recs = append(recs, rec)
	}
	return recs
}

// answered keeps what u's login of kind, with outcome class ("" for
// success), did to its cart, and reports whether it retired u.
func (u *sfUser) answered(kind sfKind, class string) (retired bool) {
	if kind == sfCart {
		u.stored += sfCartLines
	}
	switch class {
	case "":
		if kind == sfCart {
			u.count++
		}
	case classTimeout, classSFPending:
		// The server may still change its cart: the request's work goes
		// on after the timeout, a pending merge is retried.
		u.retired = true
		return true
	default:
		// The merge may have happened or not: the cart is unknown until
		// the user is reset.
		u.dirty = true
	}
	return false
}

// nextUsable returns the user logins go on with: the one at *cur if it
// has room and is known, else the next such, moving *cur to it; nil when
// there is none.
func nextUsable(users []*sfUser, cur *int, cycle int) *sfUser {
	for range users {
		u := users[*cur]
		if !u.dirty && !u.retired && u.count < cycle {
			return u
		}
		*cur = (*cur + 1) % len(users)
	}
	return nil
}

// resetFull empties the cart and wishlist of each user that is full or
// dirty, and records the requests. After a failed reset it leaves the
// others to the next slice, so that a switch stays short when the server
// is struggling.
func (r *sfRun) resetFull(hc *fasthttp.HostClient, req *fasthttp.Request, resp *fasthttp.Response, users []*sfUser, recs []sfRecord) []sfRecord {
	send := func(method, path string, fill func()) string {
		req.Reset()
		req.Header.SetMethod(method)
		req.Header.SetHost(r.host)
		req.SetRequestURI(path)
		req.Header.SetContentType("application/json")
		fill()
		start := time.Now()
		err := hc.DoTimeout(req, resp, r.timeout)
		rec := sfRecord{Reset: true, End: time.Now()}
		rec.Latency = rec.End.Sub(start)
		switch {
		case err != nil:
			rec.Class = errorClass(err)
		case resp.StatusCode() != fasthttp.StatusOK:
			rec.Class = fmt.Sprint(resp.StatusCode())
		}
		recs = append(recs, rec)
		return rec.Class
	}
	failed := func(u *sfUser) []sfRecord {
		r.resetFailures.Add(1)
		if u.failedResets++; u.failedResets >= sfMaxResetFailures {
			u.retired = true
			r.retired.Add(1)
		}
		return recs
	}
	for _, u := range users {
		if u.retired || (!u.dirty && u.count < r.cycle) {
			continue
		}
		if u.token == "" {
			// No login of it has succeeded yet: one without a cart gets
			// the token the reset needs.
			class := send(fasthttp.MethodPost, pathLogin, func() { req.SetBodyRaw(u.plain) })
			if class == "" {
				if a, err := readSFAnswer(resp.Body()); err == nil {
					u.token = "Bearer " + a.AccessToken
				}
			}
			if u.token == "" {
				return failed(u) // still dirty: tried again at the next slice
			}
		}
		ok := true
		for _, path := range []string{pathCart, pathWishlist} {
			class := send(fasthttp.MethodPut, path, func() {
				req.Header.Set(fasthttp.HeaderAuthorization, u.token)
				req.SetBodyString(`{"items":[]}`)
			})
			ok = ok && class == ""
		}
		if !ok {
			return failed(u) // still dirty: tried again at the next slice
		}
		r.lines.Add(-int64(u.stored))
		u.count, u.dirty, u.stored = 0, false, 0
		r.resets.Add(1)
	}
	return recs
}

// addLines counts n lines stored and keeps the largest total.
func (r *sfRun) addLines(n int64) {
	v := r.lines.Add(n)
	for {
		m := r.maxLines.Load()
		if v <= m || r.maxLines.CompareAndSwap(m, v) {
			return
		}
	}
}

// sfTally is a run sorted into its windows, for each kind.
type sfTally struct {
	Kinds [2]sfKindTally
	// Spill counts requests answered within a window that are not the
	// window's kind of login: the other kind's, or a reset's. Their CPU
	// would be partly in the window; the switch before each window is
	// there to prevent them, and this counts that it did.
	Spill int
	// Unrecorded counts the failed logins answered outside any window
	// (in the gaps, after the last, or as spill), by class.
	Unrecorded errorCounts
	// ResetErrors counts the resets' failed requests by class.
	ResetErrors errorCounts
}

// sfKindTally is one kind's share of a run.
type sfKindTally struct {
	Windows     int
	Wall        time.Duration // the windows' time
	Requests    int           // logins answered within them
	OK          int
	Errors      errorCounts
	Sorted      []time.Duration // their latencies, sorted
	ServerCPU   time.Duration
	GenCPU      time.Duration
	ServerKnown bool
	// PerLoginMS is each window's server CPU per successful login (windows
	// with none left out), for the spread between slices.
	PerLoginMS []float64
	// LinesBefore sums the lines of the carts its successful logins merged
	// into (or, without a cart, read).
	LinesBefore int
	// InFlight is the mean number of its logins in flight during its
	// windows: the concurrency the windows had, below the workers' when
	// some waited for users.
	InFlight float64
}

// tallySF sorts records into windows: a login answered within a window
// of its kind counts there; anything else answered within a window is
// spill.
func tallySF(windows []sfWindow, records []sfRecord) sfTally {
	t := sfTally{Unrecorded: errorCounts{}, ResetErrors: errorCounts{}}
	for i := range t.Kinds {
		t.Kinds[i] = sfKindTally{Errors: errorCounts{}, ServerKnown: true}
	}
	ok := make([]int, len(windows))
	lat := make([][]time.Duration, 2)
	var busy [2]time.Duration // logins' time in flight within their kind's windows
	for _, rec := range records {
		if rec.Reset && rec.Class != "" {
			t.ResetErrors[rec.Class]++
		}
		if !rec.Reset {
			start := rec.End.Add(-rec.Latency)
			for _, w := range windows {
				if w.Kind == rec.Kind && start.Before(w.End) && rec.End.After(w.From) {
					busy[rec.Kind] += minTime(rec.End, w.End).Sub(maxTime(start, w.From))
				}
			}
		}
		j := -1
		for i, w := range windows {
			if !rec.End.Before(w.From) && rec.End.Before(w.End) {
				j = i
				break
			}
		}
		if j >= 0 && (rec.Reset || rec.Kind != windows[j].Kind) {
			t.Spill++
		}
		if j < 0 || rec.Reset || rec.Kind != windows[j].Kind {
			if !rec.Reset && rec.Class != "" {
				t.Unrecorded[rec.Class]++
			}
			continue
		}
		k := &t.Kinds[rec.Kind]
		k.Requests++
		lat[rec.Kind] = append(lat[rec.Kind], rec.Latency)
		if rec.Class != "" {
			k.Errors[rec.Class]++
			continue
		}
		k.OK++
		ok[j]++
		k.LinesBefore += rec.Before
	}
	for i, w := range windows {
		k := &t.Kinds[w.Kind]
		k.Windows++
		k.Wall += w.End.Sub(w.From)
		k.ServerCPU += w.ServerCPU
		k.GenCPU += w.GenCPU
		k.ServerKnown = k.ServerKnown && w.ServerKnown
		if w.ServerKnown && ok[i] > 0 {
			k.PerLoginMS = append(k.PerLoginMS, ms(w.ServerCPU)/float64(ok[i]))
		}
	}
	for i := range t.Kinds {
		k := &t.Kinds[i]
		k.Sorted = latencies(lat[i : i+1])
		if k.Windows == 0 {
			k.ServerKnown = false
		}
		if k.Wall > 0 {
			k.InFlight = float64(busy[i]) / float64(k.Wall)
		}
	}
	return t
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// sample is the kind's figures in the shape of the other phases'.
func (k sfKindTally) sample() sample {
	return sample{Wall: k.Wall, Requests: k.Requests, OK: k.OK, Sorted: k.Sorted, Errors: k.Errors,
		GenCPU: k.GenCPU, ServerCPU: k.ServerCPU, ServerKnown: k.ServerKnown}
}

// storefrontPhase sets the storefront phase up and runs it.
type storefrontPhase struct {
	o         options
	addr      string
	serverPid int
	limit     float64 // the hash-bound limit, logins per second
	progress  func(format string, args ...any)
	// prof, if set, profiles the server's CPU in each window, and the
	// profiles split each kind's server CPU per login.
	prof *profiler
}

// sfOutcome is what the phase measured: each kind's sample and CPU split
// (when profiled), and the phase's figures, not yet compared.
type sfOutcome struct {
	Plain, Cart           sample
	PlainSplit, CartSplit *cpuSplit
	Figures               *StorefrontFigures
}

// run registers the phase's users (setupConc at once, through hc), checks
// that a cart login merges, and runs slices of each kind adding up to
// about perKind.
func (p storefrontPhase) run(ctx context.Context, hc *fasthttp.HostClient, setupConc int, perKind time.Duration) (sfOutcome, error) {
	o := p.o
	conc := o.SFConcurrency
	perWorker := sfUsersPerWorker(p.limit, conc, o.SFSettle+o.SFWindow, o.SFCycle)
	users := newSFUsers("shop-", conc, perWorker, o.SFCycle)
	probe := newSFUsers("shop-probe-", 1, 1, 1)[0][0]
	all := []*sfUser{probe}
	for _, us := range users {
		all = append(all, us...)
	}
	c := client{hc: hc, host: o.StorefrontHost, timeout: o.Timeout}
	t0 := time.Now()
	p.progress("setup: registering %d storefront users at %s (%d per worker, for up to %.0f logins/s)", len(all), o.StorefrontHost, perWorker, p.limit)
	if err := registerSFUsers(ctx, c, all, setupConc); err != nil {
		return sfOutcome{}, err
	}
	if err := checkStorefront(c, probe); err != nil {
		return sfOutcome{}, fmt.Errorf("setup check: %w", err)
	}
	p.progress("setup: %d storefront users registered, one cart login checked (%.1fs)", len(all), time.Since(t0).Seconds())

	n := 2 * sfSlicesPerKind(perKind, o.SFWindow)
	p.progress("storefront: concurrency %d, %d slices (plain, cart, cart, plain, …), each a switch, %s of settling and a %s window",
		conc, n, o.SFSettle, o.SFWindow)
	r := &sfRun{addr: p.addr, host: o.StorefrontHost, timeout: o.Timeout, serverPid: p.serverPid, cycle: o.SFCycle, slices: n,
		settle: o.SFSettle, warmup: o.Warmup, window: o.SFWindow, users: users}
	if p.prof != nil {
		r.prof = &profiler{Addr: p.prof.Addr, Dir: p.prof.Dir, CPUOnly: true}
	}
	res := r.run(ctx)
	if err := ctx.Err(); err != nil {
		return sfOutcome{}, err
	}
	t := tallySF(res.Windows, res.Records)
	fig := &StorefrontFigures{
		TenantHost: o.StorefrontHost, Concurrency: conc,
		SlicesPerKind: n / 2, Order: "plain, cart, cart, plain, …", SettleSeconds: o.SFSettle.Seconds(), WindowSeconds: o.SFWindow.Seconds(),
		Users: conc * perWorker, UsersPerWorker: perWorker, Cycle: o.SFCycle, CartLines: sfCartLines, WishlistItems: sfWishlistItems,
		Case:           sfCase(o.SFCycle),
		MaxStoredLines: res.MaxLines, Resets: res.Resets, ResetErrors: map[string]int(t.ResetErrors),
		UnrecordedErrors: map[string]int(t.Unrecorded), Spill: t.Spill, Exhausted: res.Exhausted, ResetFailures: res.ResetFailures,
		RetiredUsers:  res.Retired,
		PlainInFlight: round(t.Kinds[sfPlain].InFlight, 1), CartInFlight: round(t.Kinds[sfCart].InFlight, 1),
		PlainSliceCPUMS: roundAll(t.Kinds[sfPlain].PerLoginMS, 3), CartSliceCPUMS: roundAll(t.Kinds[sfCart].PerLoginMS, 3),
	}
	if len(res.Windows) > 0 {
		var sum, most time.Duration
		for _, w := range res.Windows {
			g := w.From.Sub(w.Switch)
			sum += g
			most = max(most, g)
		}
		fig.MeanGapSeconds = round((sum / time.Duration(len(res.Windows))).Seconds(), 3)
		fig.MaxGapSeconds = round(most.Seconds(), 3)
	}
	if k := t.Kinds[sfCart]; k.OK > 0 {
		fig.MeanLinesBefore = ptr(round(float64(k.LinesBefore)/float64(k.OK), 1))
	}
	out := sfOutcome{Plain: t.Kinds[sfPlain].sample(), Cart: t.Kinds[sfCart].sample(), Figures: fig}
	if r.prof != nil {
		if res.ProfileErr != nil {
			p.progress("storefront: profile: %v; no CPU split", res.ProfileErr)
			return out, nil
		}
		var err error
		if out.PlainSplit, out.CartSplit, err = sfSplits(r.prof.Dir, res.Windows); err != nil {
			p.progress("storefront: no CPU split: %v", err)
		}
	}
	return out, nil
}

// sfSplits reads the CPU profiles of the windows from dir and sums them
// by kind.
func sfSplits(dir string, windows []sfWindow) (plain, cart *cpuSplit, err error) {
	var by [2]cpuSplit
	for k, w := range windows {
		s, err := readCPUSplit(filepath.Join(dir, fmt.Sprintf("%s.%02d.cpu.pprof", sfPhaseName(w.Kind), k)))
		if err != nil {
			return nil, nil, err
		}
		by[w.Kind].add(s)
	}
	return &by[sfPlain], &by[sfCart], nil
}

// checkStorefront makes sure that the tenant is a storefront that merges
// a cart login's local cart, so that the phase measures what it claims.
func checkStorefront(c client, u *sfUser) error {
	a, err := c.do("POST", pathLogin, u.cart[0])
	if err != nil {
		return err
	}
	if a.Status != fasthttp.StatusOK {
		return fmt.Errorf("a cart login of %s: status %d, want 200: %s", u.Email, a.Status, a.Body)
	}
	switch _, class := checkSFAnswer(a.Body, sfCartLines, sfWishlistItems); class {
	case "":
		return nil
	case classSFNoCart:
		return fmt.Errorf("the tenant at %s is not a storefront (storefront.enabled): its login answer has no cart: %s", c.host, a.Body)
	default:
		return fmt.Errorf("a cart login of %s (%d lines, %d wishlist items) answered %s: %s", u.Email, sfCartLines, sfWishlistItems, class, a.Body)
	}
}

// roundAll rounds each of v to digits.
func roundAll(v []float64, digits int) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = round(x, digits)
	}
	return out
}

// readCPU reads the time, the server's CPU time (ok false when there is no
// server pid or it cannot be read) and this process's, at a window's end.
func readCPU(serverPid int) (at time.Time, srv, gen time.Duration, ok bool) {
	gen = selfCPU()
	if serverPid <= 0 {
		return time.Now(), 0, gen, false
	}
	srv, err := procCPU(serverPid)
	return time.Now(), srv, gen, err == nil
}

// sleepCtx waits d, and reports false when ctx ends first.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	select {
	case <-time.After(d):
		return true
	case <-ctx.Done():
		return false
	}
}
