package mongo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/portcullis/portcullis/application/platform"
	"github.com/portcullis/portcullis/domain/errs"
)

// PlatformKeyStore keeps the platform API keys made by `portcullis
// platform key create` in platform_keys: the key's id as _id, the SHA-256
// of its secret (never the secret), its scopes and when it was made.
type PlatformKeyStore struct {
	coll *mongo.Collection
}

// NewPlatformKeyStore returns the store of db.
func NewPlatformKeyStore(db *DB) *PlatformKeyStore {
	return &PlatformKeyStore{coll: db.Collection("platform_keys")}
}

// PlatformKey is a stored platform API key.
type PlatformKey struct {
	ID        string    `bson:"_id"`
	SHA256    []byte    `bson:"sha256"`
	Scopes    []string  `bson:"scopes"`
	CreatedAt time.Time `bson:"created_at"`
}

// Create stores k; errs.ErrConflict when its id is taken.
func (s *PlatformKeyStore) Create(ctx context.Context, k PlatformKey) error {
	ctx, cancel := platform.BoundStore(ctx)
	defer cancel()
	if _, err := s.coll.InsertOne(ctx, k); err != nil {
		if isDuplicate(err) {
			return errs.ErrConflict.WithMessage("a platform key with the id %q exists", k.ID)
		}
		if n, cerr := s.coll.CountDocuments(ctx, bson.D{{Key: "_id", Value: k.ID}}); cerr == nil && n > 0 {
			return errs.ErrConflict.WithMessage("a platform key with the id %q exists", k.ID)
		}
		return storeErr("platform_keys: insert", err)
	}
	return nil
}

// Get returns the key id, and whether there is one.
func (s *PlatformKeyStore) Get(ctx context.Context, id string) (PlatformKey, bool, error) {
	ctx, cancel := platform.BoundStore(ctx)
	defer cancel()
	var k PlatformKey
	err := s.coll.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&k)
	switch {
	case errors.Is(err, mongo.ErrNoDocuments):
		return PlatformKey{}, false, nil
	case err != nil:
		return PlatformKey{}, false, storeErr(fmt.Sprintf("platform_keys: find %q", id), err)
	}
	return k, true, nil
}
