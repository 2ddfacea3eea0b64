package mongo

import (
	"context"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/portcullis/portcullis/application/login"
	"github.com/portcullis/portcullis/application/platform"
)

// FirstSignInStore remembers which users have signed in, in the
// first_signins collection: one document per user that ever signed in,
// with tenant_id/user id as _id, written once and never changed.
//
// Claim is an insert of that _id: of concurrent claims for one user
// exactly one inserts, on FerretDB too, where an insert of an _id is
// atomic and a conditional update (a "set first_login_at where unset" on
// the user) is not: two such updates can both see the field unset. A
// claim whose insert is refused is not the first (insertOnce reads back
// what FerretDB reports as an internal error). Reads and writes go by
// _id alone, which FerretDB answers without a scan; the pipeline claims
// only for users without a last login, so the store is written about
// once per user.
type FirstSignInStore struct {
	coll *mongo.Collection
}

var _ login.FirstSignIns = (*FirstSignInStore)(nil)

// NewFirstSignInStore returns the store on db.
func NewFirstSignInStore(db *DB) *FirstSignInStore {
	return &FirstSignInStore{coll: db.Collection("first_signins")}
}

// firstSignInDocument records a user's first sign-in.
type firstSignInDocument struct {
	ID       string    `bson:"_id"`
	TenantID string    `bson:"tenant_id"`
	UserID   string    `bson:"user_id"`
	At       time.Time `bson:"at"`
}

// Claim records the user's first sign-in at at, and reports whether this
// call recorded it.
func (s *FirstSignInStore) Claim(ctx context.Context, tenantID, userID string, at time.Time) (bool, error) {
	ctx, cancel := platform.BoundStore(ctx)
	defer cancel()
	id := docID(tenantID, userID)
	return insertOnce(ctx, s.coll, id, firstSignInDocument{ID: id, TenantID: tenantID, UserID: userID, At: at.UTC()})
}
