package mongo

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/portcullis/portcullis/application/mfa"
	"github.com/portcullis/portcullis/application/platform"
	"github.com/portcullis/portcullis/domain/errs"
)

// TOTPStore keeps the users' TOTP secrets in the totp_secrets collection,
// one document per user with tenant_id/user id as _id, and the replay
// guard's claims in totp_steps, one per used step with tenant_id/user
// id/step as _id (a step is digits, so the last "/" ends the user id).
// Get, Delete and UseStep filter on _id alone, which FerretDB answers
// without a scan.
//
// UseStep is a claim (an insert of the step's _id succeeds once, on
// FerretDB too). The claims carry the expires_at they are given and are
// swept with the other expiring documents (the expiry index of
// totp_steps); until swept, an expired claim still refuses its step.
//
// Put and Confirm write with a condition (Put replaces only a pending
// document, Confirm only the enrolment it checked). On MongoDB that
// condition is atomic. FerretDB 1.24 applies a conditional update as a
// read followed by a whole-document write, so there a Put racing a
// Confirm of the previous enrolment can write its pending document over
// the confirmation (the user's factor is then off and a new setup
// pending), and a Confirm racing a Put can write the confirmed enrolment
// over the new pending one (the new setup is then gone, and its Confirm
// answers not found). Either way the stored secret is one its user
// proved or is proving, never a mix; the race needs one user's own
// concurrent setup requests. Those two conditional writes filter on more
// than _id and so scan totp_secrets on FerretDB: they run once or twice
// per enrolment, never at sign-in.
type TOTPStore struct {
	coll  *mongo.Collection
	steps *mongo.Collection
}

var _ mfa.TOTPs = (*TOTPStore)(nil)

// NewTOTPStore returns the TOTP store of db.
func NewTOTPStore(db *DB) *TOTPStore {
	return &TOTPStore{coll: db.Collection("totp_secrets"), steps: db.Collection("totp_steps")}
}

type totpDocument struct {
	ID            string    `bson:"_id"` // tenant_id/user id
	TenantID      string    `bson:"tenant_id"`
	UserID        string    `bson:"user_id"`
	EnrolmentID   string    `bson:"enrolment_id"`
	Sealed        []byte    `bson:"sealed"` // BSON binary
	Confirmed     bool      `bson:"confirmed"`
	PendingBackup []string  `bson:"pending_backup,omitempty"`
	CreatedAt     time.Time `bson:"created_at"`
	ConfirmedAt   time.Time `bson:"confirmed_at,omitempty"`
}

func totpToDocument(t mfa.TOTP) totpDocument {
	return totpDocument{ID: docID(t.TenantID, t.UserID), TenantID: t.TenantID, UserID: t.UserID, EnrolmentID: t.EnrolmentID,
		Sealed: t.Sealed, Confirmed: t.Confirmed, PendingBackup: t.PendingBackup, CreatedAt: t.CreatedAt.UTC(), ConfirmedAt: t.ConfirmedAt.UTC()}
}

func totpToDomain(d totpDocument) mfa.TOTP {
	return mfa.TOTP{TenantID: d.TenantID, UserID: d.UserID, EnrolmentID: d.EnrolmentID, Sealed: d.Sealed, Confirmed: d.Confirmed,
		PendingBackup: d.PendingBackup, CreatedAt: d.CreatedAt.UTC(), ConfirmedAt: d.ConfirmedAt.UTC()}
}

// stepID is the _id of the claim of one user's step.
func stepID(tenantID, userID string, step int64) string {
	return docID(tenantID, userID+"/"+strconv.FormatInt(step, 10))
}

// Get returns the user's TOTP, pending or confirmed.
func (s *TOTPStore) Get(ctx context.Context, tenantID, userID string) (mfa.TOTP, error) {
	ctx, cancel := platform.BoundStore(ctx)
	defer cancel()
	d, err := s.find(ctx, docID(tenantID, userID))
	if err != nil {
		return mfa.TOTP{}, err
	}
	return totpToDomain(d), nil
}

func (s *TOTPStore) find(ctx context.Context, id string) (totpDocument, error) {
	var d totpDocument
	err := s.coll.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return totpDocument{}, errs.ErrNotFound
	}
	if err != nil {
		return totpDocument{}, storeErr("totp_secrets: find", err)
	}
	return d, nil
}

// putRounds bounds Put's retries when the user's document changes between
// its read and its write.
const putRounds = 3

// Put stores t pending, replacing the user's pending TOTP; errs.ErrConflict
// when the user has a confirmed one. See TOTPStore for a race on FerretDB.
func (s *TOTPStore) Put(ctx context.Context, t mfa.TOTP) error {
	ctx, cancel := platform.BoundStore(ctx)
	defer cancel()
	t.Confirmed, t.ConfirmedAt = false, time.Time{}
	doc := totpToDocument(t)
	// The read first: it answers the common refusal (a confirmed one)
	// by _id, and tells an insert from a replace.
	for range putRounds {
		cur, err := s.find(ctx, doc.ID)
		switch {
		case errors.Is(err, errs.ErrNotFound):
			won, err := insertOnce(ctx, s.coll, doc.ID, doc)
			if err != nil || won {
				return err
			}
			// Another Put inserted first: look again.
		case err != nil:
			return err
		case cur.Confirmed:
			return errs.ErrConflict.WithMessage("the user has a confirmed TOTP")
		default:
			res, err := s.coll.ReplaceOne(ctx, bson.D{{Key: "_id", Value: doc.ID}, {Key: "confirmed", Value: false}}, doc)
			if err != nil {
				return storeErr("totp_secrets: replace", err)
			}
			if res.MatchedCount == 1 {
				return nil
			}
			// Confirmed or deleted since the read: look again.
		}
	}
	return errs.ErrUnavailable.Wrap(fmt.Errorf("totp_secrets: put %s: the document changed under %d writes", doc.ID, putRounds))
}

// Confirm confirms the user's TOTP if its enrolment is enrolmentID;
// errs.ErrNotFound otherwise. The pending backup codes, which became the
// user's, are dropped from it.
func (s *TOTPStore) Confirm(ctx context.Context, tenantID, userID, enrolmentID string, at time.Time) error {
	ctx, cancel := platform.BoundStore(ctx)
	defer cancel()
	res, err := s.coll.UpdateOne(ctx,
		bson.D{{Key: "_id", Value: docID(tenantID, userID)}, {Key: "enrolment_id", Value: enrolmentID}},
		bson.D{
			{Key: "$set", Value: bson.D{{Key: "confirmed", Value: true}, {Key: "confirmed_at", Value: at.UTC()}}},
			{Key: "$unset", Value: bson.D{{Key: "pending_backup", Value: ""}}},
		})
	if err != nil {
		return storeErr("totp_secrets: confirm", err)
	}
	if res.MatchedCount == 0 {
		return errs.ErrNotFound
	}
	return nil
}

// Delete removes the user's TOTP; a user without one is not an error. The
// step claims stay until they expire.
func (s *TOTPStore) Delete(ctx context.Context, tenantID, userID string) error {
	ctx, cancel := platform.BoundStore(ctx)
	defer cancel()
	if _, err := s.coll.DeleteOne(ctx, bson.D{{Key: "_id", Value: docID(tenantID, userID)}}); err != nil {
		return storeErr("totp_secrets: delete", err)
	}
	return nil
}

// UseStep claims step for the user until expires, and reports whether
// this call claimed it.
func (s *TOTPStore) UseStep(ctx context.Context, tenantID, userID string, step int64, expires time.Time) (bool, error) {
	ctx, cancel := platform.BoundStore(ctx)
	defer cancel()
	// The claim's at is when the step was used, for whoever reads the
	// collection; nothing filters on it.
	return claim(ctx, s.steps, stepID(tenantID, userID, step), tenantID, time.Now(), expires)
}
