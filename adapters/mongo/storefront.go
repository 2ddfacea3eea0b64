package mongo

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"slices"
	"strconv"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/portcullis/portcullis/application/platform"
	app "github.com/portcullis/portcullis/application/storefront"
	"github.com/portcullis/portcullis/domain/errs"
	"github.com/portcullis/portcullis/domain/storefront"
)

// StorefrontStore keeps each user's cart and wishlist in the storefronts
// collection as a chain of versions: version n is one document holding
// the whole cart and wishlist, with the _id <tenant>/<len>:<user>|v<n>.
// It keeps the promises of storefront.Store — racing merges exact,
// replaces atomic — on MongoDB and on FerretDB alike with inserts only:
// no transaction, no conditional update.
//
// Why: FerretDB applies an update as a read of the document followed by
// a write of the whole document, with nothing in between to stop another
// writer (measured on the embedded FerretDB 1.24: 20 racing {$max} updates
// of one document kept 18 or 19 instead of 20), while an insert of an _id
// is atomic there too: of racing inserts of one _id exactly one succeeds.
// So a write is a compare-and-swap: read version n, compute the new cart
// and wishlist, insert version n+1. Of racing writers one inserts it; the
// others read it and try again on top of it (at most maxAttempts times,
// with a growing random pause). Writes of one user are thereby one after
// the other, and each merge merges into what the ones before it left.
// Every read and write goes by _id alone, which FerretDB answers from its
// _id index; a find on other fields decodes the whole collection there.
//
// Finding the newest version: a head document (_id …|head) holds a
// number n that some writer's version n has; each writer raises it after
// its insert ($max; on FerretDB a racing update may lower it again, never
// past a version that was written). A read starts at the head's number and
// reads the versions after it until one is missing.
//
// Old versions: a writer that raised the head to n empties version n-2
// into a tombstone (kind "gone", no cart, expires_at an hour on), which
// readers step over. A number is never free again while a writer could
// still build on the version before it: a writer does not insert on a read
// older than sfMaxReadAge, far less than the tombstone's sfTombstoneTTL.
// (Deleting version n-2 at once would let a writer that read version n-3
// long ago insert n-2 again, on an old cart, and win: a lost merge.) A
// head that names a version gone since (a tombstone expired under a head
// lowered by a racing update) sends the reader to all the user's
// documents (the tenant_user index), and it repairs the head. A version is
// emptied only after the head has been written past it, so with no head,
// version 1 is the first there is.
//
// A merge that changes nothing writes nothing, so an empty cart and
// wishlist are never written as version 1.
type StorefrontStore struct {
	coll *mongo.Collection
	now  func() time.Time
}

var _ app.Store = (*StorefrontStore)(nil)

// NewStorefrontStore returns the cart and wishlist store of db.
func NewStorefrontStore(db *DB) *StorefrontStore {
	return &StorefrontStore{coll: db.Collection("storefronts"), now: time.Now}
}

// maxAttempts bounds the compare-and-swap loop of one write: each attempt
// that fails lost to another writer of the same user, which succeeded.
const maxAttempts = 64

// The kinds of storefront documents.
const (
	sfVersion = "version"
	sfGone    = "gone" // a version emptied when two newer ones were written
	sfHead    = "head"
)

const (
	// sfTombstoneTTL is how long an emptied version keeps its number.
	sfTombstoneTTL = time.Hour
	// sfMaxReadAge is the age past which a writer reads the newest
	// version again before it inserts the next.
	sfMaxReadAge = time.Minute
)

// sfDocument is a version of a user's cart and wishlist, or its head.
type sfDocument struct {
	ID       string `bson:"_id"`
	TenantID string `bson:"tenant_id"`
	UserID   string `bson:"user_id"`
	Kind     string `bson:"kind"`
	// N is the version's number; on the head, the newest number known.
	N int64 `bson:"n"`
	// Nonce tells the writer of a version whether the insert that the
	// store answered with an error was its own.
	Nonce    string    `bson:"nonce,omitempty"`
	Cart     []sfLine  `bson:"cart,omitempty"`
	Wishlist []string  `bson:"wishlist,omitempty"`
	At       time.Time `bson:"at"`
}

type sfLine struct {
	ProductID string `bson:"p"`
	VariantID string `bson:"v,omitempty"`
	Quantity  int    `bson:"q"`
}

func (d sfDocument) cart() storefront.Cart {
	c := storefront.Cart{Lines: make([]storefront.Line, len(d.Cart))}
	for i, l := range d.Cart {
		c.Lines[i] = storefront.Line{ProductID: l.ProductID, VariantID: l.VariantID, Quantity: l.Quantity}
	}
	return c
}

func (d sfDocument) wishlist() storefront.Wishlist {
	return append(storefront.Wishlist{}, d.Wishlist...)
}

// sfPrefix begins every _id of a user's documents: the tenant, then the
// user id with its length, so that no user id, whatever it holds, makes
// two _ids alike.
func sfPrefix(tenantID, userID string) string {
	return docID(tenantID, strconv.Itoa(len(userID))+":"+userID)
}

func versionID(tenantID, userID string, n int64) string {
	return sfPrefix(tenantID, userID) + "|v" + strconv.FormatInt(n, 10)
}

func headID(tenantID, userID string) string { return sfPrefix(tenantID, userID) + "|head" }

// byID reads the document id, reporting whether it is there.
func (s *StorefrontStore) byID(ctx context.Context, id string) (sfDocument, bool, error) {
	ctx, cancel := platform.BoundStore(ctx)
	defer cancel()
	var d sfDocument
	err := s.coll.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&d)
	switch {
	case errors.Is(err, mongo.ErrNoDocuments):
		return sfDocument{}, false, nil
	case err != nil:
		return sfDocument{}, false, storeErr("storefronts: find", err)
	}
	return d, true, nil
}

// newest returns the user's newest version, from version from on when it
// is not 0 (a version known to have been written) and from the head's
// otherwise; N 0 for a user with none. With probe, it reads on until a
// version is missing, so that what it returns was the newest when it
// returned; without, the caller's insert of the next version is the probe.
func (s *StorefrontStore) newest(ctx context.Context, tenantID, userID string, from int64, probe bool) (sfDocument, error) {
	if from == 0 {
		h, ok, err := s.byID(ctx, headID(tenantID, userID))
		if err != nil {
			return sfDocument{}, err
		}
		if ok {
			from = h.N
		}
	}
	cur := sfDocument{TenantID: tenantID, UserID: userID}
	if from > 0 {
		d, ok, err := s.byID(ctx, versionID(tenantID, userID, from))
		if err != nil {
			return sfDocument{}, err
		}
		if !ok { // gone for good since the head named it
			return s.scan(ctx, tenantID, userID)
		}
		cur = d
	}
	// A tombstone always has a newer version after it.
	for probe || cur.N == 0 || cur.Kind == sfGone {
		d, ok, err := s.byID(ctx, versionID(tenantID, userID, cur.N+1))
		if err != nil {
			return sfDocument{}, err
		}
		if !ok {
			break
		}
		cur = d
	}
	if cur.Kind == sfGone {
		return s.scan(ctx, tenantID, userID)
	}
	return cur, nil
}

// scan finds the newest version among all the user's documents, when the
// head names one gone for good, and raises the head to it.
func (s *StorefrontStore) scan(ctx context.Context, tenantID, userID string) (sfDocument, error) {
	ctx, cancel := platform.BoundStore(ctx)
	defer cancel()
	cur, err := s.coll.Find(ctx, bson.D{{Key: "tenant_id", Value: tenantID}, {Key: "user_id", Value: userID}})
	if err != nil {
		return sfDocument{}, storeErr("storefronts: find", err)
	}
	var docs []sfDocument
	if err := cur.All(ctx, &docs); err != nil {
		return sfDocument{}, storeErr("storefronts: read", err)
	}
	newest := sfDocument{TenantID: tenantID, UserID: userID}
	for _, d := range docs {
		if d.Kind == sfVersion && d.N > newest.N {
			newest = d
		}
	}
	if newest.N > 0 {
		s.raiseHead(ctx, tenantID, userID, newest.N)
	}
	return newest, nil
}

// raiseHead raises the user's head to n, and reports whether it did (a
// failure leaves a head that is lower, which only costs reads).
func (s *StorefrontStore) raiseHead(ctx context.Context, tenantID, userID string, n int64) bool {
	ctx, cancel := platform.BoundStore(ctx)
	defer cancel()
	_, err := s.coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: headID(tenantID, userID)}},
		bson.D{{Key: "$max", Value: bson.D{{Key: "n", Value: n}}}, {Key: "$setOnInsert", Value: bson.D{
			{Key: "tenant_id", Value: tenantID}, {Key: "user_id", Value: userID}, {Key: "kind", Value: sfHead}, {Key: "at", Value: s.now().UTC()}}}},
		options.UpdateOne().SetUpsert(true))
	return err == nil
}

// claim inserts d, the version after the one its writer read, and reports
// whether it was this insert that wrote it. An error that leaves doubt
// (FerretDB reports some duplicate _ids as internal errors) is settled by
// reading the version back.
func (s *StorefrontStore) claim(ctx context.Context, d sfDocument) (bool, error) {
	ictx, cancel := platform.BoundStore(ctx)
	_, err := s.coll.InsertOne(ictx, d)
	cancel()
	if err == nil {
		return true, nil
	}
	if isDuplicate(err) {
		return false, nil
	}
	got, ok, rerr := s.byID(ctx, d.ID)
	if rerr != nil || !ok {
		return false, errors.Join(storeErr("storefronts: insert", err), rerr)
	}
	return got.Nonce == d.Nonce, nil
}

// write runs the compare-and-swap loop: next computes, from the newest
// version, the cart and wishlist to store, or reports that they are the
// same (then nothing is written). It returns the version stored after it.
// The first read does not probe past the head's version (the insert of
// the next one is the probe); probed says whether cur was checked newest.
func (s *StorefrontStore) write(ctx context.Context, tenantID, userID string, next func(cur sfDocument) (storefront.Cart, storefront.Wishlist)) (sfDocument, error) {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		return sfDocument{}, fmt.Errorf("storefronts: nonce: %w", err)
	}
	nonce := hex.EncodeToString(b)
	cur, err := s.newest(ctx, tenantID, userID, 0, false)
	if err != nil {
		return sfDocument{}, err
	}
	probed, read := false, time.Now()
	for attempt := 1; ; attempt++ {
		if time.Since(read) > sfMaxReadAge {
			if cur, err = s.newest(ctx, tenantID, userID, cur.N, false); err != nil {
				return sfDocument{}, err
			}
			probed, read = false, time.Now()
		}
		c, w := next(cur)
		if slices.Equal(c.Lines, cur.cart().Lines) && slices.Equal(w, cur.wishlist()) {
			if probed {
				return cur, nil // cur was the newest when read
			}
			// A version read without probing may be stale: look once more.
			if cur, err = s.newest(ctx, tenantID, userID, cur.N, true); err != nil {
				return sfDocument{}, err
			}
			probed, read = true, time.Now()
			continue
		}
		d := sfDocument{ID: versionID(tenantID, userID, cur.N+1), TenantID: tenantID, UserID: userID, Kind: sfVersion,
			N: cur.N + 1, Nonce: nonce, Cart: sfLines(c), Wishlist: w, At: s.now().UTC().Truncate(time.Millisecond)}
		won, err := s.claim(ctx, d)
		if err != nil {
			return sfDocument{}, err
		}
		if won {
			if s.raiseHead(ctx, tenantID, userID, d.N) && d.N > 2 {
				s.bury(ctx, tenantID, userID, d.N-2)
			}
			return d, nil
		}
		if attempt == maxAttempts {
			return sfDocument{}, errs.ErrUnavailable.Wrap(fmt.Errorf("storefronts: %d writes of one user in a row lost to racing ones", attempt))
		}
		if err := pause(ctx, attempt); err != nil {
			return sfDocument{}, storeErr("storefronts: write", err)
		}
		// Another writer inserted d.N: go on from it.
		if cur, err = s.newest(ctx, tenantID, userID, d.N, true); err != nil {
			return sfDocument{}, err
		}
		probed, read = true, time.Now()
	}
}

// bury empties version n into a tombstone. A failure leaves a version
// that readers step over all the same; the sweeper never removes it.
func (s *StorefrontStore) bury(ctx context.Context, tenantID, userID string, n int64) {
	ctx, cancel := platform.BoundStore(ctx)
	defer cancel()
	_, _ = s.coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: versionID(tenantID, userID, n)}}, bson.D{
		{Key: "$set", Value: bson.D{{Key: "kind", Value: sfGone}, {Key: "expires_at", Value: s.now().UTC().Add(sfTombstoneTTL)}}},
		{Key: "$unset", Value: bson.D{{Key: "cart", Value: ""}, {Key: "wishlist", Value: ""}}},
	})
}

// pause waits a random time that grows with the attempts lost, so that
// racing writers of one user spread out instead of colliding again.
func pause(ctx context.Context, attempt int) error {
	t := time.NewTimer(mrand.N(time.Duration(min(attempt, 20)) * time.Millisecond))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func sfLines(c storefront.Cart) []sfLine {
	out := make([]sfLine, len(c.Lines))
	for i, l := range c.Lines {
		out[i] = sfLine{ProductID: l.ProductID, VariantID: l.VariantID, Quantity: l.Quantity}
	}
	return out
}

// Get returns the user's cart and wishlist, and a version that is a digest
// of them.
func (s *StorefrontStore) Get(ctx context.Context, tenantID, userID string) (storefront.Cart, storefront.Wishlist, string, error) {
	d, err := s.newest(ctx, tenantID, userID, 0, true)
	if err != nil {
		return storefront.Cart{}, nil, "", err
	}
	c, w := d.cart(), d.wishlist()
	return c, w, digest(c, w), nil
}

// digest is the version Get reports: it changes when the cart or the
// wishlist does, and only then.
func digest(c storefront.Cart, w storefront.Wishlist) string {
	h := sha256.New()
	for _, l := range c.Lines {
		fmt.Fprintf(h, "%s\x00%s\x00%d\x01", l.ProductID, l.VariantID, l.Quantity)
	}
	h.Write([]byte{2})
	for _, id := range w {
		h.Write([]byte(id))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// Merge merges into the newest version and writes the result as the next
// one, unless it changes nothing.
func (s *StorefrontStore) Merge(ctx context.Context, tenantID, userID string, c storefront.Cart, w storefront.Wishlist, limits storefront.Limits) (storefront.Cart, storefront.Wishlist, error) {
	limits = limits.WithDefaults()
	d, err := s.write(ctx, tenantID, userID, func(cur sfDocument) (storefront.Cart, storefront.Wishlist) {
		mc, _ := storefront.MergeCart(cur.cart(), c, limits)
		mw, _ := storefront.MergeWishlist(cur.wishlist(), w, limits)
		return mc, mw
	})
	if err != nil {
		return storefront.Cart{}, nil, err
	}
	return d.cart(), d.wishlist(), nil
}

// ReplaceCart writes the next version with cart and the wishlist as it is.
func (s *StorefrontStore) ReplaceCart(ctx context.Context, tenantID, userID string, c storefront.Cart) error {
	_, err := s.write(ctx, tenantID, userID, func(cur sfDocument) (storefront.Cart, storefront.Wishlist) {
		return storefront.Cart{Lines: slices.Clone(c.Lines)}, cur.wishlist()
	})
	return err
}

// ReplaceWishlist writes the next version with the cart as it is and w.
func (s *StorefrontStore) ReplaceWishlist(ctx context.Context, tenantID, userID string, w storefront.Wishlist) error {
	_, err := s.write(ctx, tenantID, userID, func(cur sfDocument) (storefront.Cart, storefront.Wishlist) {
		return cur.cart(), slices.Clone(w)
	})
	return err
}
