package mongo

import (
	"context"
	"errors"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/portcullis/portcullis/application/platform"
	"github.com/portcullis/portcullis/application/session"
	"github.com/portcullis/portcullis/domain/errs"
	"github.com/portcullis/portcullis/domain/identity"
)

// RefreshTokenStore keeps refresh tokens in the refresh_tokens collection
// with tenant_id:hash as _id, and a claim per used token in
// refresh_token_uses.
//
// Use marks a token used with one conditional find-and-modify, which on
// MongoDB alone decides the one use that sees the token unused. FerretDB
// 1.24 runs a find-and-modify as a read and a later write, so several
// racers can all match there; of those, the one that inserts the claim
// (an insert of one _id succeeds once) wins and the others see the token
// as used.
type RefreshTokenStore struct {
	coll *mongo.Collection
	uses *mongo.Collection
	db   *DB
}

var _ session.RefreshTokens = (*RefreshTokenStore)(nil)

// NewRefreshTokenStore returns the refresh token store of db.
func NewRefreshTokenStore(db *DB) *RefreshTokenStore {
	return &RefreshTokenStore{db: db, coll: db.Collection("refresh_tokens"), uses: db.Collection("refresh_token_uses")}
}

type refreshDocument struct {
	ID        string    `bson:"_id"` // tenant_id:hash
	TenantID  string    `bson:"tenant_id"`
	Hash      string    `bson:"hash"`
	SessionID string    `bson:"session_id"`
	UserID    string    `bson:"user_id"`
	CreatedAt time.Time `bson:"created_at"`
	ExpiresAt time.Time `bson:"expires_at"`
	UsedAt    time.Time `bson:"used_at,omitempty"` // absent until used: Use filters on that
}

func refreshID(tenantID, hash string) string { return tenantID + ":" + hash }

func refreshToDocument(t identity.RefreshToken) refreshDocument {
	return refreshDocument{ID: refreshID(t.TenantID, t.Hash), TenantID: t.TenantID, Hash: t.Hash, SessionID: t.SessionID, UserID: t.UserID,
		CreatedAt: t.CreatedAt.UTC(), ExpiresAt: t.ExpiresAt.UTC(), UsedAt: t.UsedAt.UTC()}
}

func refreshToDomain(d refreshDocument) identity.RefreshToken {
	return identity.RefreshToken{Hash: d.Hash, TenantID: d.TenantID, SessionID: d.SessionID, UserID: d.UserID,
		CreatedAt: d.CreatedAt.UTC(), ExpiresAt: d.ExpiresAt.UTC(), UsedAt: d.UsedAt.UTC()}
}

// Create stores a new token; errs.ErrConflict if the tenant has its hash.
func (s *RefreshTokenStore) Create(ctx context.Context, t identity.RefreshToken) error {
	ctx, cancel := platform.BoundStore(ctx)
	defer cancel()
	doc := refreshToDocument(t)
	_, err := s.coll.InsertOne(ctx, doc)
	if err == nil {
		return nil
	}
	if n, cerr := s.coll.CountDocuments(ctx, bson.D{{Key: "_id", Value: doc.ID}}); isDuplicate(err) || (cerr == nil && n > 0) {
		return errs.ErrConflict.WithMessage("the refresh token exists").Wrap(err)
	}
	return storeErr("refresh_tokens: insert", err)
}

// Use marks the token used at at and returns it as it was before: UsedAt
// zero for the one use that rotates it, the stored UsedAt for every other.
// Expiry is the caller's to check.
func (s *RefreshTokenStore) Use(ctx context.Context, tenantID, hash string, at time.Time) (identity.RefreshToken, error) {
	ctx, cancel := platform.BoundStore(ctx)
	defer cancel()
	id := refreshID(tenantID, hash)
	var before refreshDocument
	set, err := s.db.setUnlessPresent(ctx, s.coll, id, "used_at", at.UTC(), &before)
	switch {
	case err == nil && !set:
		// Used already, or unknown.
		t, err := s.stored(ctx, tenantID, id)
		if err == nil && t.UsedAt.IsZero() {
			// Created after the update looked: it was not there.
			return identity.RefreshToken{}, errs.ErrNotFound
		}
		return t, err
	case err != nil:
		return identity.RefreshToken{}, storeErr("refresh_tokens: use", err)
	}
	won, err := claim(ctx, s.uses, id, tenantID, at, before.ExpiresAt)
	if err != nil {
		return identity.RefreshToken{}, err
	}
	if !won {
		t, err := s.stored(ctx, tenantID, id)
		if err == nil && t.UsedAt.IsZero() {
			t.UsedAt = at.UTC() // not expected: this use wrote used_at before claiming
		}
		return t, err
	}
	return refreshToDomain(before), nil
}

func (s *RefreshTokenStore) stored(ctx context.Context, tenantID, id string) (identity.RefreshToken, error) {
	var d refreshDocument
	err := s.coll.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&d) // the _id holds the tenant
	if errors.Is(err, mongo.ErrNoDocuments) {
		return identity.RefreshToken{}, errs.ErrNotFound
	}
	if err != nil {
		return identity.RefreshToken{}, storeErr("refresh_tokens: find", err)
	}
	return refreshToDomain(d), nil
}
