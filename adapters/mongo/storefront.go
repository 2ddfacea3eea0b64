package mongo

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/portcullis/portcullis/application/platform"
	app "github.com/portcullis/portcullis/application/storefront"
	"github.com/portcullis/portcullis/domain/storefront"
)

// StorefrontStore keeps carts in cart_lines and wishlists in
// wishlist_items. It keeps the promises of storefront.Store — racing merges
// exact, replaces atomic — on MongoDB and on FerretDB alike, with inserts
// and deletes only: no transaction, no update, no conditional write.
//
// Why not one document per line updated with $max: FerretDB applies an
// update as a read of the document followed by a write of the whole
// document, with nothing in between to stop another writer. Measured on
// the embedded FerretDB 1.24: 20 racing {$max: {quantity: i}} updates of
// one document left 18 or 19 instead of 20 (a lost update), and racing
// upserts of one missing _id failed with E11000. An insert of an _id, by
// contrast, is atomic there too: of racing inserts of one _id exactly one
// succeeds (the unique index on _id decides).
//
// So every document is written once and never changed:
//   - A merge inserts one document per line it adds or raises, with the
//     _id naming the user, the epoch (below), the line and the quantity.
//     A line's quantity is the largest among its documents, its position
//     the smallest (seq, added_at, _id) among them. Racing merges of the
//     same line and quantity insert the same _id: one wins, the others
//     find it there, and nothing is doubled. Racing merges of different
//     quantities leave a document each, and the read takes the largest: a
//     max that needs no atomic update. A merge inserts nothing for a line
//     whose quantity is already as large, so a repeated merge writes
//     nothing. A line keeps at most MaxQuantity documents (one per
//     quantity it was raised to); a replace clears them.
//   - A wishlist item is one document per user, epoch and product: racing
//     merges of one item insert one _id, so it is there once.
//   - New lines take seq = (the largest seq read) + 1 + their index in the
//     merge: after every line the merge saw, in local order; merges that
//     read the same cart give the same line the same seq, so identical
//     racing merges leave the local order whichever wins.
//   - A replace must not be seen half done and must not mix with another.
//     Each list has epochs: a replace reads the current epoch E, inserts
//     its lines for epoch E+1 tagged with a random nonce, and then claims
//     E+1 by inserting the epoch's marker (_id user|E+1|epoch, carrying the
//     nonce). Readers show the lines of the newest claimed epoch only —
//     its replace's (by the nonce) and the merges' made in it — so the new
//     cart appears all at once, when the claim lands. Of racing replaces
//     one claims the epoch; a loser deletes its lines and counts as
//     replaced at once by the winner. A merge writes in the epoch it read:
//     if a replace claims the next one meanwhile, the merge's lines are
//     never shown (it ran before the replace); otherwise it merged into
//     the replaced cart (after it).
//   - Documents of older epochs and a losing replace's leftovers are
//     garbage that no read shows again; the winner of a replace and the
//     next merge delete them.
//   - Caps: racing merges may each see room and together store more than
//     MaxLines lines (or MaxWishlist items). Reads return every line in
//     order and the Service shows the first MaxLines; each merge deletes
//     the lines past the cap that it sees after writing. Which lines are
//     past the cap is decided by the order alone, so that deletion only
//     removes what no read shows.
//
// A read is one find on tenant_id+user_id (the tenant_user index). On
// SQLite FerretDB scans the collection for it: a merge at login costs one
// or two finds of each collection and the inserts it needs.
type StorefrontStore struct {
	lines *mongo.Collection
	items *mongo.Collection
	now   func() time.Time
}

var _ app.Store = (*StorefrontStore)(nil)

// NewStorefrontStore returns the cart and wishlist store of db.
func NewStorefrontStore(db *DB) *StorefrontStore {
	return &StorefrontStore{lines: db.Collection("cart_lines"), items: db.Collection("wishlist_items"), now: time.Now}
}

// The kinds of storefront documents.
const (
	sfLine  = "line"  // a cart line at a quantity (cart_lines)
	sfItem  = "item"  // a wishlist item (wishlist_items)
	sfEpoch = "epoch" // an epoch's claim by a replace (both)
)

// storefrontDocument is a cart line, a wishlist item or an epoch marker.
type storefrontDocument struct {
	ID       string `bson:"_id"`
	TenantID string `bson:"tenant_id"`
	UserID   string `bson:"user_id"`
	Kind     string `bson:"kind"`
	Epoch    int64  `bson:"epoch"`
	// Nonce is the replace's that wrote the document; on a marker, the
	// replace's that claimed the epoch. Merges write none.
	Nonce     string    `bson:"nonce,omitempty"`
	ProductID string    `bson:"product_id,omitempty"`
	VariantID string    `bson:"variant_id,omitempty"`
	Quantity  int       `bson:"quantity,omitempty"`
	AddedAt   time.Time `bson:"added_at"`
	Seq       int64     `bson:"seq"`
}

// sfPrefix begins every _id of a user's storefront documents: the tenant,
// then the user id with its length, so that no user id, whatever it holds,
// makes two _ids alike. The rest of an _id is "|"-separated, and product
// and variant ids cannot hold "|" (storefront.CheckID).
func sfPrefix(tenantID, userID string, epoch int64) string {
	return docID(tenantID, strconv.Itoa(len(userID))+":"+userID+"|"+strconv.FormatInt(epoch, 10))
}

func lineMergeID(tenantID, userID string, epoch int64, l storefront.Line) string {
	return sfPrefix(tenantID, userID, epoch) + "|m|" + l.ProductID + "|" + l.VariantID + "|" + strconv.Itoa(l.Quantity)
}

func lineReplaceID(tenantID, userID string, epoch int64, nonce string, l storefront.Line) string {
	return sfPrefix(tenantID, userID, epoch) + "|r" + nonce + "|" + l.ProductID + "|" + l.VariantID
}

func itemMergeID(tenantID, userID string, epoch int64, product string) string {
	return sfPrefix(tenantID, userID, epoch) + "|m|" + product
}

func itemReplaceID(tenantID, userID string, epoch int64, nonce, product string) string {
	return sfPrefix(tenantID, userID, epoch) + "|r" + nonce + "|" + product
}

func epochID(tenantID, userID string, epoch int64) string {
	return sfPrefix(tenantID, userID, epoch) + "|epoch"
}

// sfEntry is a line or item as read: its documents resolved.
type sfEntry struct {
	key      storefront.Key // an item's has no variant
	quantity int            // the largest of its documents'; 0 for an item
	seq      int64          // its position: the smallest (seq, at, id)
	at       time.Time
	id       string
	ids      []string // all its documents
}

func (e sfEntry) before(o sfEntry) int {
	return cmp.Or(cmp.Compare(e.seq, o.seq), e.at.Compare(o.at), cmp.Compare(e.id, o.id))
}

// sfList is one user's cart or wishlist as read.
type sfList struct {
	epoch   int64
	entries []sfEntry // shown, in order
	maxSeq  int64     // the largest seq shown; -1 for none
	garbage []string  // documents no read shows again
	shown   []string  // the documents shown, and the epoch's marker
}

// read reads the user's documents of coll and resolves them: the newest
// claimed epoch, its lines (or items) in order, and the garbage.
func (s *StorefrontStore) read(ctx context.Context, coll *mongo.Collection, tenantID, userID string) (sfList, error) {
	ctx, cancel := platform.BoundStore(ctx)
	defer cancel()
	cur, err := coll.Find(ctx, bson.D{{Key: "tenant_id", Value: tenantID}, {Key: "user_id", Value: userID}})
	if err != nil {
		return sfList{}, storeErr(coll.Name()+": find", err)
	}
	var docs []storefrontDocument
	if err := cur.All(ctx, &docs); err != nil {
		return sfList{}, storeErr(coll.Name()+": read", err)
	}
	l := sfList{maxSeq: -1}
	var nonce string
	for _, d := range docs {
		if d.Kind == sfEpoch && d.Epoch > l.epoch {
			l.epoch, nonce = d.Epoch, d.Nonce
		}
	}
	at := map[storefront.Key]int{}
	for _, d := range docs {
		switch {
		case d.Epoch < l.epoch:
			l.garbage = append(l.garbage, d.ID)
			continue
		case d.Epoch > l.epoch:
			continue // a replace on its way to claim the next epoch
		case d.Kind == sfEpoch:
			l.shown = append(l.shown, d.ID)
			continue
		case d.Nonce != "" && d.Nonce != nonce:
			l.garbage = append(l.garbage, d.ID) // a replace that lost the epoch
			continue
		}
		e := sfEntry{key: storefront.Key{ProductID: d.ProductID, VariantID: d.VariantID}, quantity: d.Quantity, seq: d.Seq, at: d.AddedAt, id: d.ID, ids: []string{d.ID}}
		l.shown = append(l.shown, d.ID)
		i, ok := at[e.key]
		if !ok {
			at[e.key] = len(l.entries)
			l.entries = append(l.entries, e)
			continue
		}
		o := &l.entries[i]
		o.quantity = max(o.quantity, e.quantity)
		o.ids = append(o.ids, d.ID)
		if e.before(*o) < 0 {
			o.seq, o.at, o.id = e.seq, e.at, e.id
		}
	}
	slices.SortFunc(l.entries, sfEntry.before)
	for _, e := range l.entries {
		l.maxSeq = max(l.maxSeq, e.seq)
	}
	return l, nil
}

func (l sfList) cart() storefront.Cart {
	c := storefront.Cart{Lines: make([]storefront.Line, len(l.entries))}
	for i, e := range l.entries {
		c.Lines[i] = storefront.Line{ProductID: e.key.ProductID, VariantID: e.key.VariantID, Quantity: e.quantity}
	}
	return c
}

func (l sfList) wishlist() storefront.Wishlist {
	w := make(storefront.Wishlist, len(l.entries))
	for i, e := range l.entries {
		w[i] = e.key.ProductID
	}
	return w
}

func (l sfList) index() map[storefront.Key]sfEntry {
	m := make(map[storefront.Key]sfEntry, len(l.entries))
	for _, e := range l.entries {
		m[e.key] = e
	}
	return m
}

// Get returns the user's cart and wishlist: every line and item shown,
// in order, and a version that is a digest of the documents shown.
func (s *StorefrontStore) Get(ctx context.Context, tenantID, userID string) (storefront.Cart, storefront.Wishlist, string, error) {
	cl, err := s.read(ctx, s.lines, tenantID, userID)
	if err != nil {
		return storefront.Cart{}, nil, "", err
	}
	wl, err := s.read(ctx, s.items, tenantID, userID)
	if err != nil {
		return storefront.Cart{}, nil, "", err
	}
	return cl.cart(), wl.wishlist(), sfVersion(cl, wl), nil
}

// sfVersion digests the documents shown: it changes when one is added or
// removed, and only then.
func sfVersion(lists ...sfList) string {
	h := sha256.New()
	for _, l := range lists {
		ids := slices.Sorted(slices.Values(l.shown))
		for _, id := range ids {
			h.Write([]byte(id))
			h.Write([]byte{0})
		}
		h.Write([]byte{1})
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// Merge inserts a document for each line the merge adds or raises and
// each item it adds, then reads again and deletes what is past the caps
// and the garbage it sees. See StorefrontStore for why that is exact
// under concurrency.
func (s *StorefrontStore) Merge(ctx context.Context, tenantID, userID string, c storefront.Cart, w storefront.Wishlist, limits storefront.Limits) (storefront.Cart, storefront.Wishlist, error) {
	limits = limits.WithDefaults()
	now := s.now().UTC().Truncate(time.Millisecond)

	cl, err := s.read(ctx, s.lines, tenantID, userID)
	if err != nil {
		return storefront.Cart{}, nil, err
	}
	merged, _ := storefront.MergeCart(cl.cart(), c, limits)
	have := cl.index()
	var docs []storefrontDocument
	seq := cl.maxSeq + 1
	for _, ln := range merged.Lines {
		d := storefrontDocument{ID: lineMergeID(tenantID, userID, cl.epoch, ln), TenantID: tenantID, UserID: userID, Kind: sfLine,
			Epoch: cl.epoch, ProductID: ln.ProductID, VariantID: ln.VariantID, Quantity: ln.Quantity}
		if e, ok := have[ln.Key()]; ok {
			if ln.Quantity <= e.quantity {
				continue
			}
			d.Seq, d.AddedAt = e.seq, e.at // raised, in its place
		} else {
			d.Seq, d.AddedAt = seq, now
			seq++
		}
		docs = append(docs, d)
	}
	if cl, err = s.write(ctx, s.lines, tenantID, userID, cl, docs, limits.MaxLines); err != nil {
		return storefront.Cart{}, nil, err
	}

	wl, err := s.read(ctx, s.items, tenantID, userID)
	if err != nil {
		return storefront.Cart{}, nil, err
	}
	mergedW, _ := storefront.MergeWishlist(wl.wishlist(), w, limits)
	have = wl.index()
	docs = docs[:0]
	seq = wl.maxSeq + 1
	for _, id := range mergedW {
		if _, ok := have[storefront.Key{ProductID: id}]; ok {
			continue
		}
		docs = append(docs, storefrontDocument{ID: itemMergeID(tenantID, userID, wl.epoch, id), TenantID: tenantID, UserID: userID, Kind: sfItem,
			Epoch: wl.epoch, ProductID: id, Seq: seq, AddedAt: now})
		seq++
	}
	if wl, err = s.write(ctx, s.items, tenantID, userID, wl, docs, limits.MaxWishlist); err != nil {
		return storefront.Cart{}, nil, err
	}
	return cl.cart(), wl.wishlist(), nil
}

// write inserts a merge's documents into coll, reads the list again when
// it did, and then deletes the garbage and the entries past limit. It
// returns the list as it stands.
func (s *StorefrontStore) write(ctx context.Context, coll *mongo.Collection, tenantID, userID string, l sfList, docs []storefrontDocument, limit int) (sfList, error) {
	if len(docs) > 0 {
		ierr := insertAll(ctx, coll, docs)
		epoch := l.epoch
		var err error
		if l, err = s.read(ctx, coll, tenantID, userID); err != nil {
			return sfList{}, errors.Join(ierr, err)
		}
		// A replace that claimed a newer epoch meanwhile may have deleted
		// what this merge wrote, or what its insert found there: the merge
		// ran before the replace, which is success.
		if ierr != nil && l.epoch == epoch {
			return sfList{}, ierr
		}
	}
	del := l.garbage
	if len(l.entries) > limit {
		for _, e := range l.entries[limit:] {
			del = append(del, e.ids...)
		}
		l.entries = l.entries[:limit]
	}
	if len(del) > 0 {
		deleteMany(ctx, coll, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: del}}}})
	}
	return l, nil
}

// insertAll inserts docs, none of which may exist with other content: a
// document that is there already was inserted by a racing merge of the
// same line and quantity, which is success.
func insertAll(ctx context.Context, coll *mongo.Collection, docs []storefrontDocument) error {
	ctx, cancel := platform.BoundStore(ctx)
	defer cancel()
	batch := make([]any, len(docs))
	ids := make([]string, len(docs))
	for i, d := range docs {
		batch[i], ids[i] = d, d.ID
	}
	_, err := coll.InsertMany(ctx, batch, options.InsertMany().SetOrdered(false))
	// A duplicate _id: the document was there when the insert ran (a
	// replace may have deleted it since, with the epoch it was of).
	if err == nil || onlyDuplicates(err) {
		return nil
	}
	// FerretDB may report a duplicate _id as an internal error: then what
	// counts is that every document is there now.
	if n, cerr := coll.CountDocuments(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}}); cerr == nil && n == int64(len(ids)) {
		return nil
	}
	return storeErr(coll.Name()+": insert", err)
}

// ReplaceCart writes the cart as the next epoch's and claims it.
func (s *StorefrontStore) ReplaceCart(ctx context.Context, tenantID, userID string, c storefront.Cart) error {
	return s.replace(ctx, s.lines, tenantID, userID, func(epoch int64, nonce string, now time.Time) []storefrontDocument {
		docs := make([]storefrontDocument, len(c.Lines))
		for i, ln := range c.Lines {
			docs[i] = storefrontDocument{ID: lineReplaceID(tenantID, userID, epoch, nonce, ln), TenantID: tenantID, UserID: userID, Kind: sfLine,
				Epoch: epoch, Nonce: nonce, ProductID: ln.ProductID, VariantID: ln.VariantID, Quantity: ln.Quantity, Seq: int64(i), AddedAt: now}
		}
		return docs
	})
}

// ReplaceWishlist writes the wishlist as the next epoch's and claims it.
func (s *StorefrontStore) ReplaceWishlist(ctx context.Context, tenantID, userID string, w storefront.Wishlist) error {
	return s.replace(ctx, s.items, tenantID, userID, func(epoch int64, nonce string, now time.Time) []storefrontDocument {
		docs := make([]storefrontDocument, len(w))
		for i, id := range w {
			docs[i] = storefrontDocument{ID: itemReplaceID(tenantID, userID, epoch, nonce, id), TenantID: tenantID, UserID: userID, Kind: sfItem,
				Epoch: epoch, Nonce: nonce, ProductID: id, Seq: int64(i), AddedAt: now}
		}
		return docs
	})
}

// replace inserts the documents build returns for the epoch after the
// current one, tagged with a fresh nonce, then claims that epoch. A lost
// claim means a racing replace took the epoch: this one's documents are
// deleted and it counts as overwritten at once. After a won claim, every
// document of older epochs is garbage and is deleted.
func (s *StorefrontStore) replace(ctx context.Context, coll *mongo.Collection, tenantID, userID string, build func(epoch int64, nonce string, now time.Time) []storefrontDocument) error {
	l, err := s.read(ctx, coll, tenantID, userID)
	if err != nil {
		return err
	}
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		return fmt.Errorf("%s: nonce: %w", coll.Name(), err)
	}
	nonce, epoch, now := hex.EncodeToString(b), l.epoch+1, s.now().UTC().Truncate(time.Millisecond)
	if docs := build(epoch, nonce, now); len(docs) > 0 {
		if err := insertAll(ctx, coll, docs); err != nil {
			return err
		}
	}
	id := epochID(tenantID, userID, epoch)
	won, err := bounded(ctx, func(ctx context.Context) (bool, error) {
		return insertOnce(ctx, coll, id, storefrontDocument{ID: id, TenantID: tenantID, UserID: userID, Kind: sfEpoch, Epoch: epoch, Nonce: nonce, AddedAt: now})
	})
	if err != nil {
		return err // its documents are garbage of an unclaimed epoch: never shown
	}
	user := bson.D{{Key: "tenant_id", Value: tenantID}, {Key: "user_id", Value: userID}}
	if !won {
		deleteMany(ctx, coll, append(user, bson.E{Key: "epoch", Value: epoch}, bson.E{Key: "nonce", Value: nonce}))
		return nil
	}
	deleteMany(ctx, coll, append(user, bson.E{Key: "epoch", Value: bson.D{{Key: "$lt", Value: epoch}}}))
	return nil
}

// deleteMany deletes garbage: documents no read shows again. A failure
// leaves documents that reads skip and a later merge or replace removes;
// it does not undo the write that found them.
func deleteMany(ctx context.Context, coll *mongo.Collection, filter bson.D) {
	ctx, cancel := platform.BoundStore(ctx)
	defer cancel()
	_, _ = coll.DeleteMany(ctx, filter)
}

// bounded runs one store operation within the store timeout: each
// operation of a merge or replace has the whole of it.
func bounded[T any](ctx context.Context, f func(ctx context.Context) (T, error)) (T, error) {
	ctx, cancel := platform.BoundStore(ctx)
	defer cancel()
	return f(ctx)
}
