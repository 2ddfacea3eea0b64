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

// countDocs counts a user's storefront documents of a kind (version, gone
// or head).
func countDocs(t *testing.T, db *mongo.DB, user, kind string) int64 {
	t.Helper()
	n, err := db.Collection("storefronts").CountDocuments(context.Background(), bson.D{{Key: "tenant_id", Value: "shop"}, {Key: "user_id", Value: user}, {Key: "kind", Value: kind}})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestStorefrontDocumentsStayFew: a merge that changes nothing writes
// nothing, and however many writes, a user has its head and the two
// newest versions; the older ones are tombstones, which the sweep removes
// once they expire.
func TestStorefrontDocumentsStayFew(t *testing.T) {
	ctx := context.Background()
	db := freshDB(t)
	s := mongo.NewStorefrontStore(db)
	limits := storefront.DefaultLimits()
	L, C, W := storefronttest.L, storefronttest.C, storefronttest.W
	merge := func(c storefront.Cart, w storefront.Wishlist) {
		t.Helper()
		if _, _, err := s.Merge(ctx, "shop", "u", c, w, limits); err != nil {
			t.Fatal(err)
		}
	}
	want := func(what string, versions, gone int64) {
		t.Helper()
		if v, g, h := countDocs(t, db, "u", "version"), countDocs(t, db, "u", "gone"), countDocs(t, db, "u", "head"); v != versions || g != gone || h != min(versions, 1) {
			t.Fatalf("%s: %d versions, %d tombstones, %d heads; want %d, %d and %d", what, v, g, h, versions, gone, min(versions, 1))
		}
	}
	merge(C(), nil)
	want("an empty merge into nothing", 0, 0)
	merge(C(L("a", "", 1), L("b", "", 2)), W("x"))
	want("first merge: version 1", 1, 0)
	for range 3 {
		merge(C(L("a", "", 1), L("b", "", 1)), W("x"))
	}
	want("repeated merges", 1, 0)
	merge(C(L("a", "", 4)), nil)
	want("a raised quantity: version 2", 2, 0)
	for i := range 10 {
		merge(C(L(fmt.Sprint("p", i), "", 1)), W(fmt.Sprint("w", i)))
	}
	if err := s.ReplaceCart(ctx, "shop", "u", C(L("c", "", 1))); err != nil {
		t.Fatal(err)
	}
	want("after 11 more writes", 2, 11)
	if _, err := db.Sweep(ctx, mongo.Indexes, time.Now().Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	want("swept two hours on", 2, 0)
	c, w, _, err := s.Get(ctx, "shop", "u")
	if err != nil || !slices.Equal(c.Lines, C(L("c", "", 1)).Lines) || len(w) != 11 {
		t.Fatalf("after the writes: %v %v %v", c.Lines, w, err)
	}
}

// TestStorefrontAStaleHeadIsReadPast: a head that names an older version
// or a tombstone is read past by the next versions; one that names a
// version swept away is repaired from all of the user's documents. Either
// way reads and writes go on from the newest version.
func TestStorefrontAStaleHeadIsReadPast(t *testing.T) {
	ctx := context.Background()
	db := freshDB(t)
	s := mongo.NewStorefrontStore(db)
	L, C, W := storefronttest.L, storefronttest.C, storefronttest.W
	limits := storefront.DefaultLimits()
	for i := range 6 {
		if _, _, err := s.Merge(ctx, "shop", "u", C(L(fmt.Sprint("p", i), "", 1)), W(fmt.Sprint("w", i)), limits); err != nil {
			t.Fatal(err)
		}
	}
	coll := db.Collection("storefronts")
	setHead := func(n int64) {
		t.Helper()
		if _, err := coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: "shop/1:u|head"}}, bson.D{{Key: "$set", Value: bson.D{{Key: "n", Value: n}}}}); err != nil {
			t.Fatal(err)
		}
	}
	check := func(what string, lines int) {
		t.Helper()
		c, w, _, err := s.Get(ctx, "shop", "u")
		if err != nil || len(c.Lines) != lines || len(w) != lines {
			t.Fatalf("%s: %d lines, %d items, %v; want %d of each", what, len(c.Lines), len(w), err, lines)
		}
	}
	setHead(5) // version 5 is there, 6 after it
	check("a head one behind", 6)
	setHead(2) // a tombstone
	check("a head naming a tombstone", 6)
	if _, err := db.Sweep(ctx, mongo.Indexes, time.Now().Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	check("a head naming a version swept away", 6)
	if _, _, err := s.Merge(ctx, "shop", "u", C(L("p6", "", 1)), W("w6"), limits); err != nil {
		t.Fatal(err)
	}
	check("a merge after the repair", 7)
	var head struct {
		N int64 `bson:"n"`
	}
	if err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: "shop/1:u|head"}}).Decode(&head); err != nil || head.N != 7 {
		t.Fatalf("head %d (%v), want 7", head.N, err)
	}
	if n := countDocs(t, db, "u", "version"); n != 2 {
		t.Fatalf("%d versions after the repair, want 2", n)
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
