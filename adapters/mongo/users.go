package mongo

import (
	"context"
	"errors"
	"fmt"
	"maps"
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
// Lookups by e-mail key and by phone go through the user_keys directory:
// one document per key, whose _id is tenant_id/email:<key> or
// tenant_id/phone:<E.164>, naming the user that holds it. A lookup is then
// two reads by _id (the key, its user) and never a query on another field,
// which FerretDB answers by scanning the whole collection. The directory
// is kept by Create: it claims the keys first and inserts the user after,
// so that every stored user's keys are claimed; see Create for the order
// and for claims left by a Create that did not finish. The unique indexes
// of the users collection stay the final word on uniqueness. Users stored
// before the directory existed get their claims from backfillUserKeys at
// the next start. An operation that changes a user's e-mail or phone must
// claim the new key before and release the old one after, as SetEmail does.
//
// FerretDB 1.24 applies an update by reading the document and writing it
// back whole, without concurrency control: two concurrent updates of one
// user (say RecordLogin and SetPasswordHash) can lose one of them there.
// MongoDB applies each $set atomically.
type UserStore struct {
	coll *mongo.Collection
	keys *mongo.Collection
}

var _ account.Users = (*UserStore)(nil)

// NewUserStore returns the user store of db.
func NewUserStore(db *DB) *UserStore {
	return &UserStore{coll: db.Collection("users"), keys: db.Collection(userKeysCollection)}
}

// userKeysCollection is the directory of e-mail keys and phone numbers.
const userKeysCollection = "user_keys"

// claimGrace is how long a claim whose user does not exist is left to the
// Create that made it: a claim older than that, without its user, was left
// by a Create that failed before it could release it, and is taken over.
// It is far longer than a Create can take (store_timeout is at most 30s).
const claimGrace = 2 * time.Minute

// userKeyDocument is a claim of the user_keys directory. Pending marks
// the claim of a SetEmail that has not yet written the key to its user: a
// user that exists and does not hold the key it claims is otherwise a
// claim left behind, taken over at once.
type userKeyDocument struct {
	ID       string    `bson:"_id"`
	TenantID string    `bson:"tenant_id"`
	UserID   string    `bson:"user_id"`
	At       time.Time `bson:"at"`
	Pending  bool      `bson:"pending,omitempty"`
}

// A userKey is one key of a user in the directory.
type userKey struct {
	id    string
	taken *errs.Error              // the error of a key held by another user
	holds func(identity.User) bool // whether a user holds the key
}

func emailClaim(tenantID, emailKey string) userKey {
	return userKey{id: docID(tenantID, "email:"+emailKey), taken: identity.ErrEmailTaken,
		holds: func(u identity.User) bool { return u.TenantID == tenantID && u.EmailKey == emailKey }}
}

func phoneClaim(tenantID, phone string) userKey {
	return userKey{id: docID(tenantID, "phone:"+phone), taken: identity.ErrPhoneTaken,
		holds: func(u identity.User) bool { return u.TenantID == tenantID && u.Phone == phone }}
}

func userKeysOf(u identity.User) []userKey {
	cs := []userKey{emailClaim(u.TenantID, u.EmailKey)}
	if u.Phone != "" {
		cs = append(cs, phoneClaim(u.TenantID, u.Phone))
	}
	return cs
}

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

	// Written only when set: a document from before these fields existed
	// reads as a user without a photo or a language.
	ProfilePhoto      string `bson:"profile_photo,omitempty"`
	PreferredLanguage string `bson:"preferred_language,omitempty"`
	// Extra is written only when there is some (identity.User.Extra).
	Extra map[string]string `bson:"extra,omitempty"`
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
		CreatedAt: u.CreatedAt.UTC(), UpdatedAt: u.UpdatedAt.UTC(), LastLoginAt: u.LastLoginAt.UTC(),
		ProfilePhoto: u.ProfilePhoto, PreferredLanguage: u.PreferredLanguage, Extra: maps.Clone(u.Extra)}
}

func userToDomain(d userDocument) identity.User {
	return identity.User{ID: domainID(d.TenantID, d.ID), TenantID: d.TenantID, Email: d.Email, EmailKey: d.EmailKey, FirstName: d.FirstName, LastName: d.LastName,
		Phone: d.Phone, Role: identity.Role(d.Role), Active: d.Active, EmailVerified: d.EmailVerified, PhoneVerified: d.PhoneVerified, PasswordHash: d.PasswordHash,
		CreatedAt: d.CreatedAt.UTC(), UpdatedAt: d.UpdatedAt.UTC(), LastLoginAt: d.LastLoginAt.UTC(),
		ProfilePhoto: d.ProfilePhoto, PreferredLanguage: d.PreferredLanguage, Extra: extraOf(d.Extra)}
}

// extraOf is a stored user's details, nil for none (an empty map read
// back is none).
func extraOf(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	return m
}

// Create stores a new user; identity.ErrEmailTaken if the tenant has the
// e-mail key, identity.ErrPhoneTaken if it has the phone, errs.ErrConflict
// if the id is taken.
//
// It claims the user's keys in the directory first, then inserts the user;
// when the insert fails it releases the claims. Of concurrent Creates with
// one key, the first claim wins and the others answer taken at once. A
// claim without its user (a Create that failed between the two steps and
// could not release it) is taken over once it is older than claimGrace.
// Taking over is the one case where two Creates can both hold a claim on
// FerretDB, whose updates are not atomic: the users collection's unique
// index then lets one of them insert, and the winner writes its claims
// again after its insert.
func (s *UserStore) Create(ctx context.Context, u identity.User) error {
	if strings.HasPrefix(u.Phone, noPhonePrefix) {
		return errs.ErrInvalid.WithMessage("users: a phone number may not begin with %q", noPhonePrefix)
	}
	ctx, cancel := platform.BoundStore(ctx)
	defer cancel()
	var held []userKey
	release := func() {
		for _, c := range held {
			_, _ = s.keys.DeleteOne(context.WithoutCancel(ctx), bson.D{{Key: "_id", Value: c.id}, {Key: "user_id", Value: u.ID}})
		}
	}
	tookOver := false
	for _, c := range userKeysOf(u) {
		over, err := s.claim(ctx, u, c, false)
		if err != nil {
			release()
			return err
		}
		held, tookOver = append(held, c), tookOver || over
	}
	_, err := s.coll.InsertOne(ctx, userToDocument(u))
	if err != nil {
		release()
		return s.createErr(ctx, u, err)
	}
	if tookOver {
		for _, c := range held {
			_, _ = s.keys.UpdateOne(ctx, bson.D{{Key: "_id", Value: c.id}},
				bson.D{{Key: "$set", Value: userKeyDocument{ID: c.id, TenantID: u.TenantID, UserID: u.ID, At: time.Now().UTC()}}}, options.UpdateOne().SetUpsert(true))
		}
	}
	return nil
}

// claim records that u holds the key of c, and reports whether it took a
// claim left behind over. pending marks the claim of a move (SetEmail): u
// exists and does not hold the key yet.
//
// A claim is taken over when its user no longer holds the key, or never
// came to exist, unless that user may be about to: a claim younger than
// claimGrace whose user does not exist (a Create between its claim and its
// insert) or is pending (a SetEmail between its claim and its update)
// answers taken.
func (s *UserStore) claim(ctx context.Context, u identity.User, c userKey, pending bool) (bool, error) {
	now := time.Now().UTC()
	_, err := s.keys.InsertOne(ctx, userKeyDocument{ID: c.id, TenantID: u.TenantID, UserID: u.ID, At: now, Pending: pending})
	if err == nil {
		return false, nil
	}
	// Whatever the error, a read decides what happened (FerretDB reports
	// some duplicates as internal errors).
	var k userKeyDocument
	if rerr := s.keys.FindOne(ctx, bson.D{{Key: "_id", Value: c.id}}).Decode(&k); rerr != nil {
		if errors.Is(rerr, mongo.ErrNoDocuments) {
			return false, storeErr("users: claim a key", err)
		}
		return false, storeErr("users: read a claim", rerr)
	}
	owner, oerr := s.findOne(ctx, idFilter(u.TenantID, k.UserID))
	young := now.Sub(k.At) <= claimGrace
	switch {
	case oerr == nil && c.holds(owner):
		return false, c.taken.Wrap(err)
	case oerr == nil && k.Pending && young:
		return false, c.taken.Wrap(err) // being moved to right now
	case oerr == nil, errors.Is(oerr, errs.ErrNotFound) && !young:
		// The owner no longer holds the key, or never came to exist.
	case errors.Is(oerr, errs.ErrNotFound):
		return false, c.taken.Wrap(err) // being registered right now
	default:
		return false, oerr
	}
	res, uerr := s.keys.UpdateOne(ctx, bson.D{{Key: "_id", Value: c.id}, {Key: "user_id", Value: k.UserID}, {Key: "at", Value: k.At}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "user_id", Value: u.ID}, {Key: "at", Value: now}, {Key: "pending", Value: pending}}}})
	if uerr != nil {
		return false, storeErr("users: take a claim over", uerr)
	}
	if res.MatchedCount == 0 {
		return false, c.taken.Wrap(err) // another Create took it first
	}
	return true, nil
}

// createErr names why inserting u failed.
func (s *UserStore) createErr(ctx context.Context, u identity.User, err error) error {
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
	return s.byKey(ctx, tenantID, emailClaim(tenantID, emailKey))
}

// ByPhone returns the tenant's user with the phone number.
func (s *UserStore) ByPhone(ctx context.Context, tenantID, phone string) (identity.User, error) {
	if phone == "" || strings.HasPrefix(phone, noPhonePrefix) {
		return identity.User{}, errs.ErrNotFound
	}
	return s.byKey(ctx, tenantID, phoneClaim(tenantID, phone))
}

// byKey finds the holder of a key through its claim. It makes the same two
// reads by _id whether or not the key is claimed (a key without a claim
// reads a user id no user has), so that the time of the answer does not
// tell a known number or address from an unknown one. A claim whose user
// no longer holds the key finds nobody.
func (s *UserStore) byKey(ctx context.Context, tenantID string, c userKey) (identity.User, error) {
	ctx, cancel := platform.BoundStore(ctx)
	defer cancel()
	var k userKeyDocument
	err := s.keys.FindOne(ctx, bson.D{{Key: "_id", Value: c.id}}).Decode(&k)
	if err != nil && !errors.Is(err, mongo.ErrNoDocuments) {
		return identity.User{}, storeErr("users: find a key", err)
	}
	u, err := s.findOne(ctx, idFilter(tenantID, k.UserID)) // "" when unclaimed: no user has it
	if err != nil {
		return identity.User{}, err
	}
	if k.UserID == "" || !c.holds(u) {
		return identity.User{}, errs.ErrNotFound
	}
	return u, nil
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

// SetEmailVerified marks the user's e-mail address verified if its key is
// still emailKey.
//
// The user is read by _id and its key compared here, so that a stale link
// costs one read by _id; the update then repeats the condition in its
// filter. On MongoDB that update is atomic: a move that lands between the
// read and the write makes it match nothing. FerretDB has no atomic
// conditional update: it applies an update by reading the document and
// writing it back whole (see UserStore), so a move that lands inside that
// read and write can still see its new address marked verified, or be
// lost. The window is one update long, for a link followed while the
// address is being changed. (A filter on more than _id makes FerretDB scan
// the collection; a rare write pays that for the condition.)
func (s *UserStore) SetEmailVerified(ctx context.Context, tenantID, id, emailKey string, at time.Time) error {
	ctx, cancel := platform.BoundStore(ctx)
	defer cancel()
	u, err := s.findOne(ctx, idFilter(tenantID, id))
	if err != nil {
		return err
	}
	if u.EmailKey != emailKey {
		return errs.ErrNotFound
	}
	res, err := s.coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: docID(tenantID, id)}, {Key: "email_key", Value: emailKey}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "email_verified", Value: true}, {Key: "updated_at", Value: at.UTC()}}}})
	if err != nil {
		return storeErr("users: verify the e-mail of "+id, err)
	}
	if res.MatchedCount == 0 {
		return errs.ErrNotFound
	}
	return nil
}

// SetName replaces the user's first and last name.
func (s *UserStore) SetName(ctx context.Context, tenantID, id, firstName, lastName string, at time.Time) error {
	return s.set(ctx, tenantID, id, bson.D{{Key: "first_name", Value: firstName}, {Key: "last_name", Value: lastName}, {Key: "updated_at", Value: at.UTC()}})
}

// SetRole gives the user role and stamps updated_at.
func (s *UserStore) SetRole(ctx context.Context, tenantID, id string, role identity.Role, at time.Time) error {
	return s.set(ctx, tenantID, id, bson.D{{Key: "role", Value: string(role)}, {Key: "updated_at", Value: at.UTC()}})
}

// SetEmail moves the user to a new, unverified address; identity.ErrEmailTaken
// if another user of the tenant has its key.
//
// It keeps the user_keys directory right in the order Create does, so that
// every key a user holds stays claimed at every step:
//
//  1. Read the user by _id: an unknown user claims nothing, and a move to
//     the key it has already changes nothing.
//  2. Claim the new key, pending. Of racing moves and Creates to one key
//     the first claim wins and the others answer taken at once; pending
//     keeps the claim from being taken over as left behind while its user
//     does not hold the key yet (see claim).
//  3. Update the user. The users collection's unique index on tenant_id +
//     email_key stays the final word (a key held by a user whose claim was
//     lost, or two takeovers on FerretDB): when the update fails the new
//     claim is released and a read decides why.
//  4. Write the new claim again, no longer pending and naming the user,
//     which the unique index has just shown to hold the key.
//  5. Release the old key's claim, now that the user no longer holds it.
//     Only a claim older than this call is deleted: a concurrent move of
//     the same user back to the old key may have claimed it again. If the
//     release fails the claim is left behind, which costs nothing: its user
//     does not hold the key, so ByEmail finds nobody by it and the next
//     claim takes it over.
func (s *UserStore) SetEmail(ctx context.Context, tenantID, id, email, emailKey string, at time.Time) error {
	started := claimsBefore(time.Now())
	ctx, cancel := platform.BoundStore(ctx)
	defer cancel()
	u, err := s.findOne(ctx, idFilter(tenantID, id))
	if err != nil {
		return err
	}
	if u.EmailKey == emailKey {
		return nil
	}
	next, prev := emailClaim(tenantID, emailKey), emailClaim(tenantID, u.EmailKey)
	update := bson.D{{Key: "$set", Value: bson.D{{Key: "email", Value: email}, {Key: "email_key", Value: emailKey},
		{Key: "email_verified", Value: false}, {Key: "updated_at", Value: at.UTC()}}}}
	return s.moveKey(ctx, u, &next, &prev, update, started, func(err error) error {
		return s.moveErr(ctx, tenantID, "email_key", emailKey, identity.ErrEmailTaken, err)
	})
}

// claimsBefore returns the bound below which a claim's at is older than a
// move that starts at now: the next whole millisecond, as a BSON date keeps
// at to the millisecond, so that a claim of the same millisecond (a Create
// just before) counts as older. A concurrent move back to the old key in
// that millisecond may lose its claim to the release, which costs what a
// lost claim costs: the users collection's unique index still decides.
func claimsBefore(now time.Time) time.Time {
	return now.UTC().Truncate(time.Millisecond).Add(time.Millisecond)
}

// SetPhone gives the user a new, unverified phone number, or none;
// identity.ErrPhoneTaken if another user of the tenant has it. It keeps
// the user_keys directory as SetEmail does (steps 1 to 5): the new
// number, if any, is claimed before the user is updated and the old one,
// if any, released after. A user without a number gets the phone_key
// placeholder again, so that the unique index on tenant_id + phone_key
// holds.
func (s *UserStore) SetPhone(ctx context.Context, tenantID, id, phone string, at time.Time) error {
	if strings.HasPrefix(phone, noPhonePrefix) {
		return errs.ErrInvalid.WithMessage("users: a phone number may not begin with %q", noPhonePrefix)
	}
	started := claimsBefore(time.Now())
	ctx, cancel := platform.BoundStore(ctx)
	defer cancel()
	u, err := s.findOne(ctx, idFilter(tenantID, id))
	if err != nil {
		return err
	}
	if u.Phone == phone {
		return nil
	}
	set := bson.D{{Key: "phone_key", Value: phoneKey(id, phone)}, {Key: "phone_verified", Value: false}, {Key: "updated_at", Value: at.UTC()}}
	var update bson.D
	if phone == "" {
		update = bson.D{{Key: "$set", Value: set}, {Key: "$unset", Value: bson.D{{Key: "phone", Value: ""}}}}
	} else {
		update = bson.D{{Key: "$set", Value: append(set, bson.E{Key: "phone", Value: phone})}}
	}
	var next, prev *userKey
	if phone != "" {
		c := phoneClaim(tenantID, phone)
		next = &c
	}
	if u.Phone != "" {
		c := phoneClaim(tenantID, u.Phone)
		prev = &c
	}
	return s.moveKey(ctx, u, next, prev, update, started, func(err error) error {
		return s.moveErr(ctx, tenantID, "phone_key", phone, identity.ErrPhoneTaken, err)
	})
}

// moveKey changes a key of user u (as read by its caller) by update, and
// keeps the directory right: it claims next (nil: no new key) pending
// before the update and releases prev (nil: no old key) after, only a
// claim older than started. When the update fails, the claim of next is
// released and failed names the error. See SetEmail for each step.
func (s *UserStore) moveKey(ctx context.Context, u identity.User, next, prev *userKey, update bson.D, started time.Time, failed func(error) error) error {
	if next != nil {
		if _, err := s.claim(ctx, u, *next, true); err != nil {
			return err
		}
	}
	res, err := s.coll.UpdateOne(ctx, idFilter(u.TenantID, u.ID), update)
	if err != nil || res.MatchedCount == 0 {
		if next != nil {
			_, _ = s.keys.DeleteOne(context.WithoutCancel(ctx), bson.D{{Key: "_id", Value: next.id}, {Key: "user_id", Value: u.ID}})
		}
		if err == nil {
			return errs.ErrNotFound // removed since the read
		}
		return failed(err)
	}
	// A failure of either write below leaves the directory as SetEmail
	// describes: a pending claim its user holds answers taken like any other.
	if next != nil {
		_, _ = s.keys.UpdateOne(ctx, bson.D{{Key: "_id", Value: next.id}},
			bson.D{{Key: "$set", Value: bson.D{{Key: "tenant_id", Value: u.TenantID}, {Key: "user_id", Value: u.ID}, {Key: "at", Value: time.Now().UTC()}, {Key: "pending", Value: false}}}},
			options.UpdateOne().SetUpsert(true))
	}
	if prev != nil {
		_, _ = s.keys.DeleteOne(ctx, bson.D{{Key: "_id", Value: prev.id}, {Key: "user_id", Value: u.ID},
			{Key: "at", Value: bson.D{{Key: "$lt", Value: started}}}})
	}
	return nil
}

// moveErr names why moving a user to the value of a unique field failed:
// taken when another user of the tenant has it.
func (s *UserStore) moveErr(ctx context.Context, tenantID, field, value string, taken *errs.Error, err error) error {
	// As in createErr: FerretDB reports some unique violations as internal
	// errors, so whatever the error, a read decides what happened.
	if value != "" {
		if n, cerr := s.coll.CountDocuments(ctx, bson.D{{Key: "tenant_id", Value: tenantID}, {Key: field, Value: value}}); cerr == nil && n > 0 {
			return taken.Wrap(err)
		}
	}
	return storeErr("users: move the "+field, err)
}

// List returns a page of the tenant's users matching f, newest first.
//
// It is one find with a filter, a sort and a limit, which FerretDB
// answers as MongoDB does: the e-mail prefix is a range on email_key
// (from the prefix up to the prefix followed by U+10FFFF, which no key
// holds: identity.CheckText refuses noncharacters), the phone an equality
// on phone_key (never a placeholder: a number beginning like one finds
// nobody, as in ByPhone), and the
// position a range on created_at then _id (within a tenant, _id orders as
// the user id does). On MongoDB the index on tenant_id + created_at + _id
// serves the order, and tenant_id + email_key a prefix; FerretDB's SQLite
// backend reads the collection, which is fine for the development store.
func (s *UserStore) List(ctx context.Context, tenantID string, f account.UserFilter, after account.UserPosition, limit int) ([]identity.User, error) {
	if limit < 1 {
		return nil, errs.ErrInvalid.WithMessage("users: limit must be at least 1")
	}
	if strings.HasPrefix(f.Phone, noPhonePrefix) {
		return nil, nil // a placeholder is nobody's number
	}
	filter := bson.D{{Key: "tenant_id", Value: tenantID}}
	if f.EmailPrefix != "" {
		filter = append(filter, bson.E{Key: "email_key", Value: bson.D{{Key: "$gte", Value: f.EmailPrefix}, {Key: "$lt", Value: f.EmailPrefix + "\U0010FFFF"}}})
	}
	if f.Phone != "" {
		filter = append(filter, bson.E{Key: "phone_key", Value: f.Phone})
	}
	if f.Role != "" {
		filter = append(filter, bson.E{Key: "role", Value: string(f.Role)})
	}
	if f.Active != nil {
		filter = append(filter, bson.E{Key: "active", Value: *f.Active})
	}
	if !after.IsZero() {
		at := after.CreatedAt.UTC()
		filter = append(filter, bson.E{Key: "$or", Value: bson.A{
			bson.D{{Key: "created_at", Value: bson.D{{Key: "$lt", Value: at}}}},
			bson.D{{Key: "created_at", Value: at}, {Key: "_id", Value: bson.D{{Key: "$lt", Value: docID(tenantID, after.ID)}}}},
		}})
	}
	ctx, cancel := platform.BoundStore(ctx)
	defer cancel()
	cur, err := s.coll.Find(ctx, filter, options.Find().SetSort(bson.D{{Key: "created_at", Value: -1}, {Key: "_id", Value: -1}}).SetLimit(int64(limit)))
	if err != nil {
		return nil, storeErr("users: list", err)
	}
	var docs []userDocument
	if err := cur.All(ctx, &docs); err != nil {
		return nil, storeErr("users: list", err)
	}
	out := make([]identity.User, len(docs))
	for i, d := range docs {
		out[i] = userToDomain(d)
	}
	return out, nil
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

// userKeysBackfilled marks a directory that holds the claims of every user
// stored before it existed. No claim has this _id: a tenant id has no ":".
const userKeysBackfilled = "_:backfilled:v1"

// backfillUserKeys claims, once, the keys of every user stored before the
// user_keys directory existed (later users are claimed by Create), then
// marks the directory done; from then on it costs one read at each start.
// A key already claimed is left as it is. It runs before the server
// serves, so no Create races it; a user stored by an older server while it
// runs (a rolling upgrade) is claimed at the next start.
func backfillUserKeys(ctx context.Context, keys *mongo.Collection) error {
	err := keys.FindOne(ctx, bson.D{{Key: "_id", Value: userKeysBackfilled}}).Err()
	if err == nil {
		return nil
	}
	if !errors.Is(err, mongo.ErrNoDocuments) {
		return fmt.Errorf("user keys: read the backfill mark: %w", err)
	}
	cur, err := keys.Database().Collection("users").Find(ctx, bson.D{},
		options.Find().SetProjection(bson.D{{Key: "_id", Value: 1}, {Key: "tenant_id", Value: 1}, {Key: "email_key", Value: 1}, {Key: "phone_key", Value: 1}}))
	if err != nil {
		return fmt.Errorf("user keys: list users: %w", err)
	}
	defer func() { _ = cur.Close(ctx) }()
	now := time.Now().UTC()
	for cur.Next(ctx) {
		var d struct {
			ID       string `bson:"_id"`
			TenantID string `bson:"tenant_id"`
			EmailKey string `bson:"email_key"`
			PhoneKey string `bson:"phone_key"`
		}
		if err := cur.Decode(&d); err != nil {
			return fmt.Errorf("user keys: read a user: %w", err)
		}
		u := identity.User{ID: domainID(d.TenantID, d.ID), TenantID: d.TenantID, EmailKey: d.EmailKey}
		if !strings.HasPrefix(d.PhoneKey, noPhonePrefix) {
			u.Phone = d.PhoneKey
		}
		for _, c := range userKeysOf(u) {
			_, err := keys.UpdateOne(ctx, bson.D{{Key: "_id", Value: c.id}},
				bson.D{{Key: "$setOnInsert", Value: userKeyDocument{ID: c.id, TenantID: u.TenantID, UserID: u.ID, At: now}}}, options.UpdateOne().SetUpsert(true))
			if err != nil {
				return fmt.Errorf("user keys: claim the keys of %s: %w", d.ID, err)
			}
		}
	}
	if err := cur.Err(); err != nil {
		return fmt.Errorf("user keys: list users: %w", err)
	}
	if _, err := keys.InsertOne(ctx, bson.D{{Key: "_id", Value: userKeysBackfilled}, {Key: "at", Value: now}}); err != nil && !isDuplicate(err) {
		return fmt.Errorf("user keys: mark the backfill done: %w", err)
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
