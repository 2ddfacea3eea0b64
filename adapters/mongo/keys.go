package mongo

import (
	"context"
	"errors"
	"strconv"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/portcullis/portcullis/application/keyring"
	"github.com/portcullis/portcullis/application/platform"
	"github.com/portcullis/portcullis/domain/errs"
)

// KeyStore keeps sealed signing keys in the signing_keys collection. The
// document id is tenant/generation, so two servers racing to create a
// tenant's first key collide on the primary key and exactly one wins.
type KeyStore struct {
	coll   *mongo.Collection
	ferret bool
}

var _ keyring.Store = (*KeyStore)(nil)

// NewKeyStore returns the key store of db.
func NewKeyStore(db *DB) *KeyStore {
	return &KeyStore{coll: db.Collection("signing_keys"), ferret: db.ferret}
}

type keyDocument struct {
	ID            string    `bson:"_id"`
	TenantID      string    `bson:"tenant_id"`
	KeyID         string    `bson:"kid"`
	Generation    int       `bson:"generation"`
	Algorithm     string    `bson:"alg"`
	Public        []byte    `bson:"public"`
	SealedPrivate []byte    `bson:"sealed_private"`
	CreatedAt     time.Time `bson:"created_at"`
	ActivatesAt   time.Time `bson:"activates_at,omitempty"`
}

func keyToDocument(k keyring.SealedKey) keyDocument {
	return keyDocument{ID: k.TenantID + "/" + strconv.Itoa(k.Generation), TenantID: k.TenantID, KeyID: k.ID, Generation: k.Generation,
		Algorithm: k.Algorithm, Public: k.Public, SealedPrivate: k.SealedPrivate, CreatedAt: k.CreatedAt.UTC(), ActivatesAt: k.ActivatesAt.UTC()}
}

func keyToDomain(d keyDocument) keyring.SealedKey {
	return keyring.SealedKey{TenantID: d.TenantID, ID: d.KeyID, Generation: d.Generation, Algorithm: d.Algorithm,
		Public: d.Public, SealedPrivate: d.SealedPrivate, CreatedAt: d.CreatedAt.UTC(), ActivatesAt: d.ActivatesAt.UTC()}
}

// List returns the tenant's keys in generation order. On FerretDB, which
// answers any filter but a lone _id by decoding the whole collection (every
// tenant's keys, read again by every ring every 30 s), it reads the keys
// by _id, generation 1, 2, … until one is missing: generations are
// contiguous (a key is inserted only after the one before it).
func (s *KeyStore) List(ctx context.Context, tenantID string) ([]keyring.SealedKey, error) {
	ctx, cancel := platform.BoundStore(ctx)
	defer cancel()
	if s.ferret {
		var out []keyring.SealedKey
		for gen := 1; ; gen++ {
			var d keyDocument
			err := s.coll.FindOne(ctx, bson.D{{Key: "_id", Value: tenantID + "/" + strconv.Itoa(gen)}}).Decode(&d)
			if errors.Is(err, mongo.ErrNoDocuments) {
				return out, nil
			}
			if err != nil {
				return nil, storeErr("signing_keys: find", err)
			}
			out = append(out, keyToDomain(d))
		}
	}
	cur, err := s.coll.Find(ctx, bson.D{{Key: "tenant_id", Value: tenantID}}, options.Find().SetSort(bson.D{{Key: "generation", Value: 1}}))
	if err != nil {
		return nil, storeErr("signing_keys: find", err)
	}
	var docs []keyDocument
	if err := cur.All(ctx, &docs); err != nil {
		return nil, storeErr("signing_keys: read", err)
	}
	out := make([]keyring.SealedKey, len(docs))
	for i, d := range docs {
		out[i] = keyToDomain(d)
	}
	return out, nil
}

// Insert stores a new key; errs.ErrConflict if its generation exists.
func (s *KeyStore) Insert(ctx context.Context, k keyring.SealedKey) error {
	ctx, cancel := platform.BoundStore(ctx)
	defer cancel()
	doc := keyToDocument(k)
	_, err := s.coll.InsertOne(ctx, doc)
	if err == nil {
		return nil
	}
	if isDuplicate(err) {
		return errs.ErrConflict.WithMessage("signing key generation %d exists", k.Generation).Wrap(err)
	}
	// FerretDB may report a unique violation as an internal error: if the
	// id is taken now, that is what happened.
	if n, cerr := s.coll.CountDocuments(ctx, bson.D{{Key: "_id", Value: doc.ID}}); cerr == nil && n > 0 {
		return errs.ErrConflict.WithMessage("signing key generation %d exists", k.Generation).Wrap(err)
	}
	return storeErr("signing_keys: insert", err)
}
