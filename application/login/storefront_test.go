package login_test

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portcullis/portcullis/application/captcha"
	"github.com/portcullis/portcullis/application/login"
	"github.com/portcullis/portcullis/application/platform"
	"github.com/portcullis/portcullis/application/platform/platformtest"
	shop "github.com/portcullis/portcullis/application/storefront"
	"github.com/portcullis/portcullis/application/storefront/storefronttest"
	"github.com/portcullis/portcullis/domain/errs"
	"github.com/portcullis/portcullis/domain/identity"
	"github.com/portcullis/portcullis/domain/storefront"
	"github.com/portcullis/portcullis/domain/tenant"
)

// shopFixture is a tenant's cart and wishlist: the service on an
// in-memory store that fails while told to, with a quick Retrier, and the
// pipeline's log.
type shopFixture struct {
	store *failingStore
	svc   *shop.Service
	retry *shop.Retrier
	log   *slog.Logger
	logs  *platformtest.LogBuffer
}

func newShopFixture(t *testing.T, tn tenant.Tenant) *shopFixture {
	t.Helper()
	f := &shopFixture{store: &failingStore{MemoryStore: storefronttest.NewMemoryStore()}, logs: &platformtest.LogBuffer{}}
	f.log = slog.New(slog.NewTextHandler(f.logs, nil))
	f.retry = shop.NewRetrier(shop.RetryPolicy{First: time.Millisecond, Max: 4 * time.Millisecond}, f.log)
	t.Cleanup(func() { _ = f.retry.Close(context.Background()) })
	f.svc = shop.New(tn, shop.Deps{Store: f.store, Retrier: f.retry})
	return f
}

// failingStore fails its next n reads and merges with the error it is
// given, and counts the merges that reached the store.
type failingStore struct {
	*storefronttest.MemoryStore
	mu     sync.Mutex
	fail   error
	n      int
	merges atomic.Int32
}

func (s *failingStore) failWith(err error, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail, s.n = err, n
}

func (s *failingStore) err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.n == 0 {
		return nil
	}
	s.n--
	return s.fail
}

func (s *failingStore) Get(ctx context.Context, tenantID, userID string) (storefront.Cart, storefront.Wishlist, string, error) {
	if err := s.err(); err != nil {
		return storefront.Cart{}, nil, "", err
	}
	return s.MemoryStore.Get(ctx, tenantID, userID)
}

func (s *failingStore) Merge(ctx context.Context, tenantID, userID string, c storefront.Cart, w storefront.Wishlist, l storefront.Limits) (storefront.Cart, storefront.Wishlist, error) {
	if err := s.err(); err != nil {
		return storefront.Cart{}, nil, err
	}
	s.merges.Add(1)
	return s.MemoryStore.Merge(ctx, tenantID, userID, c, w, l)
}

func storefrontOn(tn *tenant.Tenant) { tn.Storefront.Enabled = true }

func line(product, variant string, q int) storefront.Line {
	return storefront.Line{ProductID: product, VariantID: variant, Quantity: q}
}

func cart(lines ...storefront.Line) storefront.Cart { return storefront.Cart{Lines: lines} }

func dropped(list storefront.List, i int, r storefront.Reason) storefront.Dropped {
	return storefront.Dropped{List: list, Index: i, Reason: r}
}

// guest is a local cart and wishlist as a surface reads them: sent as
// cart [not-a-line, b×2, a×3, zero×0] and wishlist [y, "bad id"], the
// first line taken out as unreadable.
func guest() storefront.Local {
	return storefront.Local{
		Cart:     cart(line("b", "red", 2), line("a", "", 3), line("zero", "", 0)),
		Wishlist: storefront.Wishlist{"y", "bad id"},
		Dropped:  []storefront.Dropped{dropped(storefront.ListCart, 0, storefront.ReasonInvalidLine)},
	}
}

// guestDropped is what guest reports: by list and index as sent.
var guestDropped = []storefront.Dropped{
	dropped(storefront.ListCart, 0, storefront.ReasonInvalidLine),
	dropped(storefront.ListCart, 3, storefront.ReasonInvalidQuantity),
	dropped(storefront.ListWishlist, 1, storefront.ReasonInvalidID),
}

// seedCart gives the fixture's user a server cart [a×1] and wishlist [x].
func (f *fixture) seedCart(t *testing.T) {
	t.Helper()
	if _, err := f.shop.svc.Merge(ctx, f.user.ID, cart(line("a", "", 1)), storefront.Wishlist{"x"}); err != nil {
		t.Fatal(err)
	}
	f.shop.store.merges.Store(0)
}

// signInWith is complete with the context given.
func (f *fixture) signInWith(c context.Context, g login.Grant) (login.Outcome, error) {
	pass, err := f.pipe.Gate(c, captcha.RouteLogin, "", g.Client, g.User.EmailKey)
	if err != nil {
		return login.Outcome{}, err
	}
	g.Pass = pass
	return f.pipe.Complete(c, g)
}

func (f *fixture) passwordGrant(local storefront.Local) login.Grant {
	return login.Grant{User: f.user, Method: tenant.MethodPassword, AMR: []string{"pwd"}, Kind: identity.SessionAPI, Local: local}
}

// wantMerged checks the outcome's and the store's cart and wishlist:
// [a×3, b/red×2] and [x, y] (guest merged into seedCart).
func (f *fixture) wantMerged(t *testing.T, out login.Outcome) {
	t.Helper()
	want, wantW := cart(line("a", "", 3), line("b", "red", 2)), storefront.Wishlist{"x", "y"}
	res := out.Storefront
	if res == nil {
		t.Fatal("a storefront's sign-in has no merge result")
	}
	if !slices.Equal(res.Cart.Lines, want.Lines) || !slices.Equal(res.Wishlist, wantW) || res.Pending {
		t.Fatalf("merge result %+v, want %v %v not pending", *res, want.Lines, wantW)
	}
	if !slices.Equal(res.Dropped, guestDropped) {
		t.Fatalf("dropped\n%v\nwant\n%v", res.Dropped, guestDropped)
	}
	c, w, _, _ := f.shop.store.Get(ctx, "shop", f.user.ID)
	if !slices.Equal(c.Lines, want.Lines) || !slices.Equal(w, wantW) {
		t.Fatalf("stored %v %v", c.Lines, w)
	}
}

func TestAPasswordSignInMergesTheLocalCart(t *testing.T) {
	t.Parallel()
	f := newFixture(t, false, storefrontOn)
	f.seedCart(t)
	out, err := f.complete(f.passwordGrant(guest()))
	if err != nil || out.Result != login.Signed {
		t.Fatalf("sign-in: %+v, %v", out, err)
	}
	f.wantMerged(t, out)

	// The same login again doubles nothing and writes nothing.
	out, err = f.complete(f.passwordGrant(guest()))
	if err != nil {
		t.Fatal(err)
	}
	f.wantMerged(t, out)
	// A sign-in with nothing local shows the cart as it is.
	out, err = f.complete(f.passwordGrant(storefront.Local{}))
	if err != nil || out.Storefront == nil || len(out.Storefront.Cart.Lines) != 2 || len(out.Storefront.Dropped) != 0 {
		t.Fatalf("a sign-in without a local cart: %+v, %v", out.Storefront, err)
	}
}

func TestATenantThatIsNoStorefrontMergesNothing(t *testing.T) {
	t.Parallel()
	f := newFixture(t, false)
	out, err := f.complete(f.passwordGrant(guest()))
	if err != nil || out.Result != login.Signed || out.Storefront != nil {
		t.Fatalf("sign-in: %+v, %v; want a session and no merge result", out, err)
	}
	if c, w, _, _ := f.shop.store.Get(ctx, "shop", f.user.ID); len(c.Lines) != 0 || len(w) != 0 {
		t.Fatalf("stored %v %v", c.Lines, w)
	}
}

// TestTheMergeWaitsForTheSecondFactor: a first factor that ends in a
// challenge merges nothing; the challenge keeps the local cart, and the
// second step merges it when it starts the session, reporting the drops
// by their indexes as sent in the first step.
func TestTheMergeWaitsForTheSecondFactor(t *testing.T) {
	t.Parallel()
	f := newFixture(t, false, storefrontOn)
	f.seedCart(t)
	e := f.enrolled(t)
	_, err := f.complete(f.passwordGrant(guest()))
	ch, ok := login.ChallengeOf(err)
	if !ok {
		t.Fatalf("first factor: %v, want the challenge", err)
	}
	if n := f.shop.store.merges.Load(); n != 0 {
		t.Fatalf("%d merges before the second factor", n)
	}
	if _, err := f.second(ch.Token, "000000"); err == nil {
		t.Fatal("a wrong code signed in")
	}
	if n := f.shop.store.merges.Load(); n != 0 {
		t.Fatalf("%d merges after a wrong second factor", n)
	}
	out, err := f.second(ch.Token, f.totp(t, e.Secret))
	if err != nil || out.Result != login.Signed {
		t.Fatalf("second step: %+v, %v", out, err)
	}
	f.wantMerged(t, out)
	if n := f.shop.store.merges.Load(); n != 1 {
		t.Fatalf("%d merges, want 1", n)
	}
}

func TestTheMergeWaitsForARequiredEnrolment(t *testing.T) {
	t.Parallel()
	f := newFixture(t, false, storefrontOn, func(tn *tenant.Tenant) { tn.MFA.RequiredRoles = []string{"user"} })
	f.seedCart(t)
	_, err := f.complete(f.passwordGrant(guest()))
	token, _ := errs.As(err).Extensions["enrolment_token"].(string)
	if token == "" {
		t.Fatalf("%v, want mfa_enrolment_required", err)
	}
	if n := f.shop.store.merges.Load(); n != 0 {
		t.Fatalf("%d merges before the enrolment", n)
	}
	en, err := f.factors.Service.Start(ctx, f.user)
	if err != nil {
		t.Fatal(err)
	}
	out, err := f.pipe.CompleteEnrolment(ctx, login.SecondStep{Token: token, Code: f.totp(t, en.Secret)})
	if err != nil {
		t.Fatal(err)
	}
	f.wantMerged(t, out)
}

// TestAFailedMergeDoesNotFailTheSignIn: with the store unavailable the
// sign-in stands, its result is the local cart marked pending, the
// failure is in the log with the request id, and the Retrier delivers
// the merge once the store is back; another error is retried by the
// Retrier too (once more: it retries outages only).
func TestAFailedMergeDoesNotFailTheSignIn(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		fail error
		// n is how many calls fail: the sign-in's, then the Retrier's.
		n int
	}{
		// Retried while unavailable: after two more failures, it lands.
		{"store unavailable", errs.ErrUnavailable, 3},
		// Queued again by the hook; the Retrier's attempt lands.
		{"store error", errors.New("boom"), 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, false, storefrontOn)
			f.seedCart(t)
			f.shop.store.failWith(tc.fail, tc.n)
			rctx := platform.WithRequestID(ctx, "req-sf-1")
			out, err := f.signInWith(rctx, f.passwordGrant(guest()))
			if err != nil || out.Result != login.Signed || out.Credentials.AccessToken == "" {
				t.Fatalf("sign-in with the cart store failing: %+v, %v", out, err)
			}
			res := out.Storefront
			if res == nil || !res.Pending || !slices.Equal(res.Cart.Lines, cart(line("b", "red", 2), line("a", "", 3)).Lines) ||
				!slices.Equal(res.Wishlist, storefront.Wishlist{"y"}) || !slices.Equal(res.Dropped, guestDropped) {
				t.Fatalf("result %+v: want the local cart, cleaned, pending", res)
			}
			if !errors.Is(tc.fail, errs.ErrUnavailable) {
				if logs := f.shop.logs.String(); !strings.Contains(logs, "req-sf-1") || !strings.Contains(logs, "boom") {
					t.Fatalf("the failure is not logged with the request id:\n%s", logs)
				}
			}
			eventually(t, "the merge delivered", func() bool {
				c, _, _, _ := f.shop.store.MemoryStore.Get(ctx, "shop", f.user.ID)
				return slices.Equal(c.Lines, cart(line("a", "", 3), line("b", "red", 2)).Lines)
			})
		})
	}
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(2 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 5s", what)
		}
	}
}
