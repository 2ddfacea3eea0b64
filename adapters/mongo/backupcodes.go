package mongo

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/portcullis/portcullis/application/mfa"
	"github.com/portcullis/portcullis/application/platform"
	"github.com/portcullis/portcullis/domain/errs"
)

// BackupCodeStore keeps each user's backup codes in the backup_codes
// collection, one document per user with tenant_id/user id as _id holding
// the hashes of the codes and the id of the set they make (a new id at
// every Replace); and a claim per used code in backup_code_uses, with
// tenant_id/set id/hash as _id. Every read and write filters on _id alone,
// which FerretDB answers without a scan.
//
// Use reads the user's document, and if the hash is in it, claims the
// code: an insert of the claim's _id succeeds once, on FerretDB too, so of
// concurrent uses of a code exactly one wins. Nothing else marks a code
// used: the user's document is written by Replace and DeleteAll only,
// never by Use. (On FerretDB an update is a read and a later whole-document
// write, so a Use that also removed its hash from the document could write
// back a set that a concurrent Replace had just replaced.) Left is then
// the number of the set's hashes without a claim: one read of the user's
// document and one read by _id per code (Count is at most 30), rather
// than a query on another field, which FerretDB answers by scanning the
// whole collection.
//
// The set id keeps sets apart: a claim belongs to one set, so the codes of
// a new set are unused whatever their hashes, and a set once replaced
// never comes back (its id is an ObjectID, made once). Replace and
// DeleteAll delete the old set's claims after the old set is gone, and a
// Use that claimed a code of a set replaced meanwhile (it read the user's
// document before the Replace) sees that when it reads the document again
// after its claim, drops its claim and answers false: a code is accepted
// only if its set was still the user's after the claim was made, and
// while a set is the user's its claims are kept. So no code is accepted
// twice, also when a use races a Replace.
//
// The claims do not expire: a used code stays used as long as its set is
// the user's, which has no end. They go with their set; those of a
// Replace or DeleteAll that failed between its two steps (the claims of a
// set no longer the user's) are inert garbage.
type BackupCodeStore struct {
	sets *mongo.Collection
	uses *mongo.Collection
	log  *slog.Logger
}

var _ mfa.BackupCodes = (*BackupCodeStore)(nil)

// NewBackupCodeStore returns the backup code store of db.
func NewBackupCodeStore(db *DB) *BackupCodeStore {
	return &BackupCodeStore{sets: db.Collection("backup_codes"), uses: db.Collection("backup_code_uses"), log: db.log}
}

type backupCodesDocument struct {
	ID        string    `bson:"_id"` // tenant_id/user id
	TenantID  string    `bson:"tenant_id"`
	UserID    string    `bson:"user_id"`
	Set       string    `bson:"set"` // new at every Replace; names the claims of its codes
	Hashes    []string  `bson:"hashes"`
	CreatedAt time.Time `bson:"created_at"`
}

// backupUseDocument is the claim of one used code.
type backupUseDocument struct {
	ID       string    `bson:"_id"` // tenant_id/set/hash
	TenantID string    `bson:"tenant_id"`
	UserID   string    `bson:"user_id"`
	At       time.Time `bson:"at"`
}

// backupCodesToDocument is the user's set of codes set; a hash given twice
// is one code.
func backupCodesToDocument(tenantID, userID, set string, hashes []string, at time.Time) backupCodesDocument {
	unique := make([]string, 0, len(hashes))
	for _, h := range hashes {
		if !slices.Contains(unique, h) {
			unique = append(unique, h)
		}
	}
	return backupCodesDocument{ID: docID(tenantID, userID), TenantID: tenantID, UserID: userID, Set: set, Hashes: unique, CreatedAt: at.UTC()}
}

// useID is the _id of the claim of the code hash of set. A set id is 24
// hex digits: the "/" after it ends it.
func useID(tenantID, set, hash string) string { return docID(tenantID, set+"/"+hash) }

func (s *BackupCodeStore) find(ctx context.Context, tenantID, userID string) (backupCodesDocument, error) {
	var d backupCodesDocument
	err := s.sets.FindOne(ctx, bson.D{{Key: "_id", Value: docID(tenantID, userID)}}).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return backupCodesDocument{}, errs.ErrNotFound
	}
	if err != nil {
		return backupCodesDocument{}, storeErr("backup_codes: find", err)
	}
	return d, nil
}

// Replace makes hashes the user's codes, all unused; the old ones are
// gone.
func (s *BackupCodeStore) Replace(ctx context.Context, tenantID, userID string, hashes []string, at time.Time) error {
	ctx, cancel := platform.BoundStore(ctx)
	defer cancel()
	old, err := s.find(ctx, tenantID, userID)
	if err != nil && !errors.Is(err, errs.ErrNotFound) {
		return err
	}
	doc := backupCodesToDocument(tenantID, userID, bson.NewObjectID().Hex(), hashes, at)
	filter, upsert := bson.D{{Key: "_id", Value: doc.ID}}, options.Replace().SetUpsert(true)
	if _, err := s.sets.ReplaceOne(ctx, filter, doc, upsert); err != nil {
		// Of two upserts that both found no document, one inserts and the
		// other may fail on the _id; once more, it replaces.
		if _, err := s.sets.ReplaceOne(ctx, filter, doc, upsert); err != nil {
			return storeErr("backup_codes: replace", err)
		}
	}
	s.dropUses(ctx, old)
	return nil
}

// Use uses the user's code with hash, and reports whether this call did.
func (s *BackupCodeStore) Use(ctx context.Context, tenantID, userID, hash string, at time.Time) (bool, error) {
	ctx, cancel := platform.BoundStore(ctx)
	defer cancel()
	d, err := s.find(ctx, tenantID, userID)
	switch {
	case errors.Is(err, errs.ErrNotFound):
		return false, nil
	case err != nil:
		return false, err
	case !slices.Contains(d.Hashes, hash):
		return false, nil
	}
	id := useID(tenantID, d.Set, hash)
	won, err := insertOnce(ctx, s.uses, id, backupUseDocument{ID: id, TenantID: tenantID, UserID: userID, At: at.UTC()})
	if err != nil || !won {
		return false, err
	}
	// See BackupCodeStore: the set must still be the user's now that the
	// claim exists.
	now, err := s.find(ctx, tenantID, userID)
	switch {
	case err == nil && now.Set == d.Set:
		return true, nil
	case err != nil && !errors.Is(err, errs.ErrNotFound):
		// Undecided: the claim stays, and the code is spent.
		return false, err
	}
	// The set is gone: its claims are inert, this one too.
	if _, err := s.uses.DeleteOne(ctx, bson.D{{Key: "_id", Value: id}}); err != nil {
		s.log.Warn("backup codes: claim of a replaced set left behind", "tenant", tenantID, "error", err)
	}
	return false, nil
}

// Left counts the user's unused codes: the set's hashes without a claim.
func (s *BackupCodeStore) Left(ctx context.Context, tenantID, userID string) (int, error) {
	ctx, cancel := platform.BoundStore(ctx)
	defer cancel()
	d, err := s.find(ctx, tenantID, userID)
	switch {
	case errors.Is(err, errs.ErrNotFound):
		return 0, nil
	case err != nil:
		return 0, err
	}
	left := 0
	for _, h := range d.Hashes {
		n, err := s.uses.CountDocuments(ctx, bson.D{{Key: "_id", Value: useID(tenantID, d.Set, h)}})
		if err != nil {
			return 0, storeErr("backup_code_uses: count", err)
		}
		if n == 0 {
			left++
		}
	}
	return left, nil
}

// DeleteAll removes the user's codes; a user without codes is not an
// error.
func (s *BackupCodeStore) DeleteAll(ctx context.Context, tenantID, userID string) error {
	ctx, cancel := platform.BoundStore(ctx)
	defer cancel()
	old, err := s.find(ctx, tenantID, userID)
	switch {
	case errors.Is(err, errs.ErrNotFound):
		return nil
	case err != nil:
		return err
	}
	if _, err := s.sets.DeleteOne(ctx, bson.D{{Key: "_id", Value: old.ID}}); err != nil {
		return storeErr("backup_codes: delete", err)
	}
	s.dropUses(ctx, old)
	return nil
}

// dropUses deletes the claims of the codes of old, a set that is no
// longer the user's (the zero document: none). It runs after the set is
// gone, never before: while a set is the user's, its claims are what
// keeps its used codes used. A failure leaves only inert claims, so it is
// logged, not returned: the change it follows is made.
func (s *BackupCodeStore) dropUses(ctx context.Context, old backupCodesDocument) {
	if old.Set == "" {
		return
	}
	for _, h := range old.Hashes {
		// One delete by _id each: FerretDB scans for a filter on anything else.
		if _, err := s.uses.DeleteOne(ctx, bson.D{{Key: "_id", Value: useID(old.TenantID, old.Set, h)}}); err != nil {
			s.log.Warn("backup codes: claims of a replaced set left behind", "tenant", old.TenantID, "error", err)
			return
		}
	}
}
