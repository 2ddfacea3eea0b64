package mongo_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/portcullis/portcullis/adapters/internal/nettest"
	"github.com/portcullis/portcullis/adapters/mongo"
	"github.com/portcullis/portcullis/application/platform"
	"github.com/portcullis/portcullis/application/platform/platformtest"
	app "github.com/portcullis/portcullis/application/storefront"
	"github.com/portcullis/portcullis/application/storefront/storefronttest"
	"github.com/portcullis/portcullis/domain/errs"
	"github.com/portcullis/portcullis/domain/storefront"
)

// TestStorefrontStoreContract runs the port's suite, its racing merges and
// replaces included, on the embedded FerretDB (whose updates are not
// atomic) or on MONGODB_URI.
func TestStorefrontStoreContract(t *testing.T) {
	storefronttest.RunStoreContract(t, func(t *testing.T) app.Store { return mongo.NewStorefrontStore(freshDB(t)) })
}

// TestStorefrontRacingQuantitiesManyRounds repeats the race a $max update
// loses on FerretDB (one line, 20 merges with the quantities 1..20 in a
// random order), on fresh users, so that a lucky round proves nothing
// alone.
func TestStorefrontRacingQuantitiesManyRounds(t *testing.T) {
	ctx := context.Background()
	s := mongo.NewStorefrontStore(freshDB(t))
	limits := storefront.Limits{MaxQuantity: 100, MaxLines: 100, MaxWishlist: 100, MaxIDLength: 64}
	rng := rand.New(rand.NewPCG(7, 7))
	for round := range 5 {
		user := fmt.Sprint("u", round)
		qs := rng.Perm(platformtest.Racers)
		errs := make([]error, len(qs))
		platformtest.Race(len(qs), func(i int) {
			_, _, errs[i] = s.Merge(ctx, "shop", user, storefronttest.C(storefronttest.L("p", "", qs[i]+1)), nil, limits)
		})
		if err := errors.Join(errs...); err != nil {
			t.Fatal(err)
		}
		c, _, _, err := s.Get(ctx, "shop", user)
		if err != nil || !slices.Equal(c.Lines, storefronttest.C(storefronttest.L("p", "", platformtest.Racers)).Lines) {
			t.Fatalf("round %d: %v, %v; want p once with %d", round, c.Lines, err, platformtest.Racers)
		}
	}
}

// countDocs counts a user's documents in coll.
func countDocs(t *testing.T, db *mongo.DB, coll, user string) int64 {
	t.Helper()
	n, err := db.Collection(coll).CountDocuments(context.Background(), bson.D{{Key: "tenant_id", Value: "shop"}, {Key: "user_id", Value: user}})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestStorefrontDocumentsStayFew: a repeated merge writes nothing, a
// raised quantity one document, a replace leaves only its own documents
// and its epoch's marker, and a merge deletes what is past the cap.
func TestStorefrontDocumentsStayFew(t *testing.T) {
	ctx := context.Background()
	db := freshDB(t)
	s := mongo.NewStorefrontStore(db)
	limits := storefront.DefaultLimits()
	L, C, W := storefronttest.L, storefronttest.C, storefronttest.W
	merge := func(c storefront.Cart, w storefront.Wishlist, l storefront.Limits) {
		t.Helper()
		if _, _, err := s.Merge(ctx, "shop", "u", c, w, l); err != nil {
			t.Fatal(err)
		}
	}
	want := func(what string, lines, items int64) {
		t.Helper()
		if n, m := countDocs(t, db, "cart_lines", "u"), countDocs(t, db, "wishlist_items", "u"); n != lines || m != items {
			t.Fatalf("%s: %d cart and %d wishlist documents, want %d and %d", what, n, m, lines, items)
		}
	}
	merge(C(L("a", "", 1), L("b", "", 2)), W("x"), limits)
	want("first merge", 2, 1)
	for range 3 {
		merge(C(L("a", "", 1), L("b", "", 1)), W("x"), limits)
	}
	want("repeated merges", 2, 1)
	merge(C(L("a", "", 4)), nil, limits)
	want("a raised quantity", 3, 1)

	if err := s.ReplaceCart(ctx, "shop", "u", C(L("c", "", 1))); err != nil {
		t.Fatal(err)
	}
	want("after a replace: its line and its marker", 2, 1)
	if err := s.ReplaceWishlist(ctx, "shop", "u", W("y", "z")); err != nil {
		t.Fatal(err)
	}
	want("after a wishlist replace", 2, 3)

	// Past a lowered cap: the next merge deletes the lines it cannot show.
	merge(C(L("d", "", 1), L("e", "", 1)), W("w"), limits)
	want("three lines, three items", 4, 4)
	merge(C(), nil, storefront.Limits{MaxQuantity: 10, MaxLines: 1, MaxWishlist: 2, MaxIDLength: 64})
	want("trimmed to one line and two items", 2, 3)
	c, w, _, err := s.Get(ctx, "shop", "u")
	if err != nil || !slices.Equal(c.Lines, C(L("c", "", 1)).Lines) || !slices.Equal(w, W("y", "z")) {
		t.Fatalf("after the trim: %v %v %v", c.Lines, w, err)
	}
}

// TestStorefrontGarbageIsNeverShownAndIsRemoved: the documents of a replace that
// lost its epoch, or of an old epoch, are never shown and are removed by
// the next merge.
func TestStorefrontGarbageIsNeverShownAndIsRemoved(t *testing.T) {
	ctx := context.Background()
	db := freshDB(t)
	s := mongo.NewStorefrontStore(db)
	L, C := storefronttest.L, storefronttest.C
	if err := s.ReplaceCart(ctx, "shop", "u", C(L("a", "", 1))); err != nil {
		t.Fatal(err)
	}
	// Left by replaces that died: one that lost epoch 1, one that never
	// claimed epoch 2, and a line of epoch 0.
	coll := db.Collection("cart_lines")
	for i, d := range []bson.D{
		{{Key: "epoch", Value: int64(1)}, {Key: "nonce", Value: "lost"}, {Key: "product_id", Value: "lost"}},
		{{Key: "epoch", Value: int64(2)}, {Key: "nonce", Value: "unclaimed"}, {Key: "product_id", Value: "unclaimed"}},
		{{Key: "epoch", Value: int64(0)}, {Key: "product_id", Value: "old"}},
	} {
		doc := append(bson.D{{Key: "_id", Value: fmt.Sprint("shop/junk", i)}, {Key: "tenant_id", Value: "shop"}, {Key: "user_id", Value: "u"},
			{Key: "kind", Value: "line"}, {Key: "quantity", Value: 1}, {Key: "added_at", Value: time.Now()}, {Key: "seq", Value: int64(0)}}, d...)
		if _, err := coll.InsertOne(ctx, doc); err != nil {
			t.Fatal(err)
		}
	}
	c, _, _, err := s.Get(ctx, "shop", "u")
	if err != nil || !slices.Equal(c.Lines, C(L("a", "", 1)).Lines) {
		t.Fatalf("shown: %v, %v; want only the replaced cart", c.Lines, err)
	}
	if _, _, err := s.Merge(ctx, "shop", "u", C(), nil, storefront.DefaultLimits()); err != nil {
		t.Fatal(err)
	}
	// The replace's line, its marker, and the unclaimed epoch 2's line (a
	// replace may still be on its way to claim it).
	if n := countDocs(t, db, "cart_lines", "u"); n != 3 {
		t.Fatalf("%d documents after the merge, want 3", n)
	}
}

// TestStorefrontStoreUnavailable: against a store that hangs or refuses,
// every operation answers errs.ErrUnavailable within the store timeout —
// what makes the login hook queue the merge instead of failing the login.
func TestStorefrontStoreUnavailable(t *testing.T) {
	t.Parallel()
	const bound = 300 * time.Millisecond
	for name, addr := range map[string]string{"hanging": nettest.BlackHole(t), "refusing": nettest.Refusing(t)} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := mongo.NewStorefrontStore(openAt(t, addr))
			L, C, W := storefronttest.L, storefronttest.C, storefronttest.W
			ops := map[string]func(context.Context) error{
				"Get": func(ctx context.Context) error { _, _, _, err := s.Get(ctx, "t", "u"); return err },
				"Merge": func(ctx context.Context) error {
					_, _, err := s.Merge(ctx, "t", "u", C(L("a", "", 1)), W("x"), storefront.Limits{})
					return err
				},
				"ReplaceCart":     func(ctx context.Context) error { return s.ReplaceCart(ctx, "t", "u", C(L("a", "", 1))) },
				"ReplaceWishlist": func(ctx context.Context) error { return s.ReplaceWishlist(ctx, "t", "u", W("x")) },
			}
			for op, run := range ops {
				t.Run(op, func(t *testing.T) {
					t.Parallel()
					start := time.Now()
					err := run(platform.WithStoreTimeout(context.Background(), bound))
					if !errors.Is(err, errs.ErrUnavailable) || time.Since(start) > bound+3*time.Second {
						t.Fatalf("error %v after %s, want errs.ErrUnavailable after about %s", err, time.Since(start), bound)
					}
				})
			}
		})
	}
}

func TestStorefrontCollectionsAreListed(t *testing.T) {
	t.Parallel()
	for _, name := range mongo.CollectionsOf(mongo.NewStorefrontStore(freshDB(t))) {
		if !slices.Contains(mongo.Collections, name) {
			t.Errorf("StorefrontStore uses %s, which is not in mongo.Collections", name)
		}
	}
}
