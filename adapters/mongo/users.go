package mongo

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/portcullis/portcullis/application/account"
	"github.com/portcullis/portcullis/application/platform"
	"github.com/portcullis/portcullis/domain/errs"
	"github.com/portcullis/portcullis/domain/identity"
)

// UserStore keeps accounts in the users collection, one document per user
// with tenant_id/user id as _id (the user id is made by the use case). The unique index on
// tenant_id + email_key makes one of several racing registrations win.
//
// Phone numbers are unique per tenant by a unique index on tenant_id +
// phone_key. FerretDB has neither partial nor sparse compound indexes, and
// a unique index counts every missing field as one null, so a user without
// a phone stores the placeholder "none:" + its id in phone_key, like the
// secret-less sessions of SessionStore: the placeholder is unique because
// the id is, a stored phone is E.164 and may not begin with "none:" (Create
// refuses it), and ByPhone never looks a placeholder up. Documents written
// before phone_key existed get the placeholder from backfillPhoneKeys
// before the index is built.
//
// FerretDB 1.24 applies an update by reading the document and writing it
// back whole, without concurrency control: two concurrent updates of one
// user (say RecordLogin and SetPasswordHash) can lose one of them there.
// MongoDB applies each $set atomically.
type UserStore struct {
	coll *mongo.Collection
}

var _ account.Users = (*UserStore)(nil)

// NewUserStore returns the user store of db.
func NewUserStore(db *DB) *UserStore { return &UserStore{coll: db.Collection("users")} }

type userDocument struct {
	ID            string    `bson:"_id"`
	TenantID      string    `bson:"tenant_id"`
	Email         string    `bson:"email"`
	EmailKey      string    `bson:"email_key"`
	FirstName     string    `bson:"first_name"`
	LastName      string    `bson:"last_name"`
	Phone         string    `bson:"phone,omitempty"`
	PhoneKey      string    `bson:"phone_key"` // the phone, or the placeholder: see UserStore
	Role          string    `bson:"role"`
	Active        bool      `bson:"active"`
	EmailVerified bool      `bson:"email_verified"`
	PhoneVerified bool      `bson:"phone_verified,omitempty"`
	PasswordHash  string    `bson:"password_hash,omitempty"`
	CreatedAt     time.Time `bson:"created_at"`
	UpdatedAt     time.Time `bson:"updated_at"`
	LastLoginAt   time.Time `bson:"last_login_at,omitempty"`
}

// noPhonePrefix begins the phone_key placeholder of users without a phone.
const noPhonePrefix = "none:"

func phoneKey(id, phone string) string {
	if phone == "" {
		return noPhonePrefix + id
	}
	return phone
}

func userToDocument(u identity.User) userDocument {
	return userDocument{ID: docID(u.TenantID, u.ID), TenantID: u.TenantID, Email: u.Email, EmailKey: u.EmailKey, FirstName: u.FirstName, LastName: u.LastName,
		Phone: u.Phone, PhoneKey: phoneKey(u.ID, u.Phone), Role: string(u.Role), Active: u.Active, EmailVerified: u.EmailVerified, PhoneVerified: u.PhoneVerified, PasswordHash: u.PasswordHash,
		CreatedAt: u.CreatedAt.UTC(), UpdatedAt: u.UpdatedAt.UTC(), LastLoginAt: u.LastLoginAt.UTC()}
}

func userToDomain(d userDocument) identity.User {
	return identity.User{ID: domainID(d.TenantID, d.ID), TenantID: d.TenantID, Email: d.Email, EmailKey: d.EmailKey, FirstName: d.FirstName, LastName: d.LastName,
		Phone: d.Phone, Role: identity.Role(d.Role), Active: d.Active, EmailVerified: d.EmailVerified, PhoneVerified: d.PhoneVerified, PasswordHash: d.PasswordHash,
		CreatedAt: d.CreatedAt.UTC(), UpdatedAt: d.UpdatedAt.UTC(), LastLoginAt: d.LastLoginAt.UTC()}
}

// Create stores a new user; identity.ErrEmailTaken if the tenant has the
// e-mail key, identity.ErrPhoneTaken if it has the phone, errs.ErrConflict
// if the id is taken.
func (s *UserStore) Create(ctx context.Context, u identity.User) error {
	if strings.HasPrefix(u.Phone, noPhonePrefix) {
		return errs.ErrInvalid.WithMessage("users: a phone number may not begin with %q", noPhonePrefix)
	}
	ctx, cancel := platform.BoundStore(ctx)
	defer cancel()
	_, err := s.coll.InsertOne(ctx, userToDocument(u))
	if err == nil {
		return nil
	}
	// FerretDB reports some unique violations as internal errors rather
	// than E11000, so whatever the error, a read decides what happened.
	if n, cerr := s.coll.CountDocuments(ctx, bson.D{{Key: "tenant_id", Value: u.TenantID}, {Key: "email_key", Value: u.EmailKey}}); cerr == nil && n > 0 {
		return identity.ErrEmailTaken.Wrap(err)
	}
	if u.Phone != "" {
		if n, cerr := s.coll.CountDocuments(ctx, bson.D{{Key: "tenant_id", Value: u.TenantID}, {Key: "phone_key", Value: u.Phone}}); cerr == nil && n > 0 {
			return identity.ErrPhoneTaken.Wrap(err)
		}
	}
	if n, cerr := s.coll.CountDocuments(ctx, idFilter(u.TenantID, u.ID)); isDuplicate(err) || (cerr == nil && n > 0) {
		return errs.ErrConflict.WithMessage("user id %s exists", u.ID).Wrap(err)
	}
	return storeErr("users: insert", err)
}

// ByEmail returns the tenant's user with the e-mail key.
func (s *UserStore) ByEmail(ctx context.Context, tenantID, emailKey string) (identity.User, error) {
	return s.findOne(ctx, bson.D{{Key: "tenant_id", Value: tenantID}, {Key: "email_key", Value: emailKey}})
}

// ByPhone returns the tenant's user with the phone number.
func (s *UserStore) ByPhone(ctx context.Context, tenantID, phone string) (identity.User, error) {
	if phone == "" || strings.HasPrefix(phone, noPhonePrefix) {
		return identity.User{}, errs.ErrNotFound
	}
	return s.findOne(ctx, bson.D{{Key: "tenant_id", Value: tenantID}, {Key: "phone_key", Value: phone}})
}

// ByID returns the tenant's user with the id.
func (s *UserStore) ByID(ctx context.Context, tenantID, id string) (identity.User, error) {
	return s.findOne(ctx, idFilter(tenantID, id))
}

func (s *UserStore) findOne(ctx context.Context, filter bson.D) (identity.User, error) {
	ctx, cancel := platform.BoundStore(ctx)
	defer cancel()
	var d userDocument
	err := s.coll.FindOne(ctx, filter).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return identity.User{}, errs.ErrNotFound
	}
	if err != nil {
		return identity.User{}, storeErr("users: find", err)
	}
	return userToDomain(d), nil
}

// SetPasswordHash replaces the user's password hash.
func (s *UserStore) SetPasswordHash(ctx context.Context, tenantID, id, hash string, at time.Time) error {
	return s.set(ctx, tenantID, id, bson.D{{Key: "password_hash", Value: hash}, {Key: "updated_at", Value: at.UTC()}})
}

// RecordLogin stamps the user's last login.
func (s *UserStore) RecordLogin(ctx context.Context, tenantID, id string, at time.Time) error {
	return s.set(ctx, tenantID, id, bson.D{{Key: "last_login_at", Value: at.UTC()}})
}

// SetActive enables or disables the user.
func (s *UserStore) SetActive(ctx context.Context, tenantID, id string, active bool, at time.Time) error {
	return s.set(ctx, tenantID, id, bson.D{{Key: "active", Value: active}, {Key: "updated_at", Value: at.UTC()}})
}

// SetPhoneVerified marks the user's phone number verified.
func (s *UserStore) SetPhoneVerified(ctx context.Context, tenantID, id string, at time.Time) error {
	return s.set(ctx, tenantID, id, bson.D{{Key: "phone_verified", Value: true}, {Key: "updated_at", Value: at.UTC()}})
}

// backfillPhoneKeys gives every user document without a phone_key the
// placeholder of a user without a phone, so that the unique index on
// tenant_id + phone_key can be built over documents written before it
// existed (they would all hold null there). A phone such documents have
// was free text, in no fixed form: it keeps being shown, but ByPhone does
// not find it and it is not unique until the account sets it again.
// It reads and writes only documents that lack the field, so it costs one
// query at each start once done; documents inserted while it runs have the
// field already.
func backfillPhoneKeys(ctx context.Context, coll *mongo.Collection) error {
	cur, err := coll.Find(ctx, bson.D{{Key: "phone_key", Value: bson.D{{Key: "$exists", Value: false}}}},
		options.Find().SetProjection(bson.D{{Key: "_id", Value: 1}, {Key: "tenant_id", Value: 1}}))
	if err != nil {
		return fmt.Errorf("users: find documents without phone_key: %w", err)
	}
	var docs []struct {
		ID       string `bson:"_id"`
		TenantID string `bson:"tenant_id"`
	}
	if err := cur.All(ctx, &docs); err != nil {
		return fmt.Errorf("users: read documents without phone_key: %w", err)
	}
	for _, d := range docs {
		_, err := coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: d.ID}, {Key: "phone_key", Value: bson.D{{Key: "$exists", Value: false}}}},
			bson.D{{Key: "$set", Value: bson.D{{Key: "phone_key", Value: phoneKey(domainID(d.TenantID, d.ID), "")}}}})
		if err != nil {
			return fmt.Errorf("users: set the phone_key placeholder of %s: %w", d.ID, err)
		}
	}
	return nil
}

func (s *UserStore) set(ctx context.Context, tenantID, id string, fields bson.D) error {
	ctx, cancel := platform.BoundStore(ctx)
	defer cancel()
	res, err := s.coll.UpdateOne(ctx, idFilter(tenantID, id), bson.D{{Key: "$set", Value: fields}})
	if err != nil {
		return storeErr("users: update "+id, err)
	}
	if res.MatchedCount == 0 {
		return errs.ErrNotFound
	}
	return nil
}
