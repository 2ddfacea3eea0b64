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

	"github.com/portcullis/portcullis/application/platform"
	"github.com/portcullis/portcullis/application/session"
	"github.com/portcullis/portcullis/domain/errs"
	"github.com/portcullis/portcullis/domain/identity"
)

// SessionStore keeps sessions in the sessions collection, one document per
// session with tenant_id/session id as _id, and a claim per revoked session in
// session_revocations.
//
// Secret-less sessions (api sessions) and the unique index on tenant_id +
// secret_hash: FerretDB has neither partial indexes nor sparse compound
// ones, so such a session stores the placeholder "none:" + its id in
// secret_hash. The placeholder is unique because the id is, a real hash
// may not begin with "none:" (Create refuses it), BySecret never looks a
// placeholder up, and reading maps it back to an empty SecretHash.
//
// Revocation must be decided once, also on FerretDB, whose updates are a
// read followed by a whole-document write without concurrency control: a
// conditional update there can succeed for several racers, and an update
// racing a revocation (Touch) can write the session back unrevoked. So
// revoke is the conditional update (decisive on MongoDB) followed by an
// insert of a claim whose _id names the session (decisive everywhere: only
// one insert of an _id succeeds), and both the claim's winner and every
// Touch, after their writes, put revoked_at back from the claim if it was
// lost. Whichever write to the document comes last, a check that sees the
// claim follows it, so a revocation always ends up stored.
type SessionStore struct {
	db          *DB
	coll        *mongo.Collection
	revocations *mongo.Collection
}

var _ session.Sessions = (*SessionStore)(nil)

// NewSessionStore returns the session store of db.
func NewSessionStore(db *DB) *SessionStore {
	return &SessionStore{db: db, coll: db.Collection("sessions"), revocations: db.Collection("session_revocations")}
}

// noSecretPrefix begins the secret_hash placeholder of secret-less sessions.
const noSecretPrefix = "none:"

type sessionDocument struct {
	ID            string    `bson:"_id"`
	TenantID      string    `bson:"tenant_id"`
	UserID        string    `bson:"user_id"`
	Kind          string    `bson:"kind"`
	SecretHash    string    `bson:"secret_hash"` // the hash, or the placeholder: see SessionStore
	CreatedAt     time.Time `bson:"created_at"`
	LastSeenAt    time.Time `bson:"last_seen_at"`
	IdleExpiresAt time.Time `bson:"idle_expires_at"`
	ExpiresAt     time.Time `bson:"expires_at"`
	RevokedAt     time.Time `bson:"revoked_at,omitempty"` // absent while live: revoke filters on that
	IP            string    `bson:"ip,omitempty"`
	UserAgent     string    `bson:"user_agent,omitempty"`
	AMR           []string  `bson:"amr,omitempty"`

	// IdleSeconds is the session's own idle window in seconds; absent
	// (a session of the tenant's window, or one stored before the field
	// existed) is zero.
	IdleSeconds int64 `bson:"idle_s,omitempty"`
}

func sessionToDocument(s identity.Session) sessionDocument {
	secret := s.SecretHash
	if secret == "" {
		secret = noSecretPrefix + s.ID
	}
	return sessionDocument{ID: docID(s.TenantID, s.ID), TenantID: s.TenantID, UserID: s.UserID, Kind: string(s.Kind), SecretHash: secret,
		CreatedAt: s.CreatedAt.UTC(), LastSeenAt: s.LastSeenAt.UTC(), IdleExpiresAt: s.IdleExpiresAt.UTC(), ExpiresAt: s.ExpiresAt.UTC(),
		RevokedAt: s.RevokedAt.UTC(), IP: s.IP, UserAgent: s.UserAgent, AMR: s.AMR,
		IdleSeconds: int64(s.IdleTimeout / time.Second)}
}

func sessionToDomain(d sessionDocument) identity.Session {
	id := domainID(d.TenantID, d.ID)
	secret := d.SecretHash
	if secret == noSecretPrefix+id {
		secret = ""
	}
	return identity.Session{ID: id, TenantID: d.TenantID, UserID: d.UserID, Kind: identity.SessionKind(d.Kind), SecretHash: secret,
		CreatedAt: d.CreatedAt.UTC(), LastSeenAt: d.LastSeenAt.UTC(), IdleExpiresAt: d.IdleExpiresAt.UTC(), ExpiresAt: d.ExpiresAt.UTC(),
		RevokedAt: d.RevokedAt.UTC(), IP: d.IP, UserAgent: d.UserAgent, AMR: d.AMR,
		IdleTimeout: time.Duration(d.IdleSeconds) * time.Second}
}

// Create stores a new session; errs.ErrConflict if its id or secret hash
// is taken in the tenant.
func (s *SessionStore) Create(ctx context.Context, sess identity.Session) error {
	if strings.HasPrefix(sess.SecretHash, noSecretPrefix) {
		return fmt.Errorf("sessions: a secret hash must not begin with %q", noSecretPrefix)
	}
	ctx, cancel := platform.BoundStore(ctx)
	defer cancel()
	doc := sessionToDocument(sess)
	_, err := s.coll.InsertOne(ctx, doc)
	if err == nil {
		return nil
	}
	// FerretDB may report a unique violation as an internal error: if the
	// id or the secret is taken now, that is what happened.
	taken := bson.D{{Key: "$or", Value: bson.A{
		bson.D{{Key: "_id", Value: doc.ID}},
		bson.D{{Key: "tenant_id", Value: doc.TenantID}, {Key: "secret_hash", Value: doc.SecretHash}},
	}}}
	if n, cerr := s.coll.CountDocuments(ctx, taken); isDuplicate(err) || (cerr == nil && n > 0) {
		return errs.ErrConflict.WithMessage("the session id or secret exists").Wrap(err)
	}
	return storeErr("sessions: insert", err)
}

// ByID returns the tenant's session with the id, live or not.
func (s *SessionStore) ByID(ctx context.Context, tenantID, id string) (identity.Session, error) {
	return s.findOne(ctx, idFilter(tenantID, id))
}

// BySecret returns the tenant's session with the secret hash, live or not.
func (s *SessionStore) BySecret(ctx context.Context, tenantID, secretHash string) (identity.Session, error) {
	if secretHash == "" || strings.HasPrefix(secretHash, noSecretPrefix) {
		return identity.Session{}, errs.ErrNotFound
	}
	return s.findOne(ctx, bson.D{{Key: "tenant_id", Value: tenantID}, {Key: "secret_hash", Value: secretHash}})
}

func (s *SessionStore) findOne(ctx context.Context, filter bson.D) (identity.Session, error) {
	ctx, cancel := platform.BoundStore(ctx)
	defer cancel()
	var d sessionDocument
	err := s.coll.FindOne(ctx, filter).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return identity.Session{}, errs.ErrNotFound
	}
	if err != nil {
		return identity.Session{}, storeErr("sessions: find", err)
	}
	return sessionToDomain(d), nil
}

// liveFilter matches the user's sessions that are live at now.
func liveFilter(tenantID, userID string, now time.Time) bson.D {
	now = now.UTC()
	return bson.D{
		{Key: "tenant_id", Value: tenantID},
		{Key: "user_id", Value: userID},
		{Key: "revoked_at", Value: bson.D{{Key: "$exists", Value: false}}},
		{Key: "expires_at", Value: bson.D{{Key: "$gt", Value: now}}},
		{Key: "idle_expires_at", Value: bson.D{{Key: "$gt", Value: now}}},
	}
}

// ListLive returns the user's sessions live at now, newest first.
func (s *SessionStore) ListLive(ctx context.Context, tenantID, userID string, now time.Time) ([]identity.Session, error) {
	ctx, cancel := platform.BoundStore(ctx)
	defer cancel()
	opts := options.Find().SetSort(bson.D{{Key: "created_at", Value: -1}, {Key: "_id", Value: -1}})
	cur, err := s.coll.Find(ctx, liveFilter(tenantID, userID, now), opts)
	if err != nil {
		return nil, storeErr("sessions: find live", err)
	}
	var docs []sessionDocument
	if err := cur.All(ctx, &docs); err != nil {
		return nil, storeErr("sessions: read live", err)
	}
	out := make([]identity.Session, len(docs))
	for i, d := range docs {
		out[i] = sessionToDomain(d)
	}
	return out, nil
}

// Touch records activity: the last-seen time and the slid idle expiry.
func (s *SessionStore) Touch(ctx context.Context, tenantID, id string, lastSeen, idleExpires time.Time) error {
	ctx, cancel := platform.BoundStore(ctx)
	defer cancel()
	res, err := s.coll.UpdateOne(ctx, idFilter(tenantID, id),
		bson.D{{Key: "$set", Value: bson.D{{Key: "last_seen_at", Value: lastSeen.UTC()}, {Key: "idle_expires_at", Value: idleExpires.UTC()}}}})
	if err != nil {
		return storeErr("sessions: touch "+id, err)
	}
	if res.MatchedCount == 0 {
		return errs.ErrNotFound
	}
	// On FerretDB this write may have put back a document read before a
	// concurrent revocation; the claim outlives that.
	return s.restoreRevocation(ctx, tenantID, id)
}

// Revoke revokes the session unless it is revoked already, and reports
// whether it did. An unknown session is not an error: nothing changed. The
// revocation's claim is kept until until, and is what RevokedSince lists.
func (s *SessionStore) Revoke(ctx context.Context, tenantID, id string, at, until time.Time) (bool, error) {
	ctx, cancel := platform.BoundStore(ctx)
	defer cancel()
	at = at.UTC()
	var d sessionDocument
	set, err := s.db.setUnlessPresent(ctx, s.coll, docID(tenantID, id), "revoked_at", at, &d)
	if err != nil {
		return false, storeErr("sessions: revoke "+id, err)
	}
	if !set {
		return false, nil
	}
	won, err := claim(ctx, s.revocations, tenantID+":"+id, tenantID, at, until)
	if err != nil || !won {
		return false, err
	}
	// A Touch that read the session before the update may have written it
	// back since, on FerretDB, and may have checked the claim before it
	// existed: so check once more.
	return true, s.reassertRevocation(ctx, tenantID, id, at)
}

// restoreRevocation sets revoked_at from the session's revocation claim
// if the claim exists and the session document lost the field.
func (s *SessionStore) restoreRevocation(ctx context.Context, tenantID, id string) error {
	var c claimDocument
	err := s.revocations.FindOne(ctx, bson.D{{Key: "_id", Value: tenantID + ":" + id}}).Decode(&c)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil
	}
	if err != nil {
		return storeErr("session_revocations: find "+id, err)
	}
	return s.reassertRevocation(ctx, tenantID, id, c.At)
}

// reassertRevocation sets revoked_at to at unless the session has it.
func (s *SessionStore) reassertRevocation(ctx context.Context, tenantID, id string, at time.Time) error {
	var d sessionDocument
	if _, err := s.db.setUnlessPresent(ctx, s.coll, docID(tenantID, id), "revoked_at", at.UTC(), &d); err != nil {
		return storeErr("sessions: restore revocation of "+id, err)
	}
	return nil
}

// RevokeOthers revokes every session of the user live at at except keepID
// and returns the ids it revoked, newest first. Each session is revoked on
// its own, so of two concurrent calls each id is reported by one.
func (s *SessionStore) RevokeOthers(ctx context.Context, tenantID, userID, keepID string, at, until time.Time) ([]string, error) {
	ctx, cancel := platform.BoundStore(ctx)
	defer cancel()
	filter := append(liveFilter(tenantID, userID, at), bson.E{Key: "_id", Value: bson.D{{Key: "$ne", Value: docID(tenantID, keepID)}}})
	opts := options.Find().SetSort(bson.D{{Key: "created_at", Value: -1}, {Key: "_id", Value: -1}}).SetProjection(bson.D{{Key: "_id", Value: 1}})
	cur, err := s.coll.Find(ctx, filter, opts)
	if err != nil {
		return nil, storeErr("sessions: find live", err)
	}
	var docs []struct {
		ID string `bson:"_id"`
	}
	if err := cur.All(ctx, &docs); err != nil {
		return nil, storeErr("sessions: read live", err)
	}
	revoked := []string{}
	for _, d := range docs {
		id := domainID(tenantID, d.ID)
		ok, err := s.Revoke(ctx, tenantID, id, at, until)
		if err != nil {
			return revoked, err
		}
		if ok {
			revoked = append(revoked, id)
		}
	}
	return revoked, nil
}

// RevokedSince lists, across tenants, the revocations made at or after
// since whose announcement is still due at now (until after now), oldest
// first. The claims of session_revocations are that log: one per
// revocation, kept until the last access token it covers has expired.
func (s *SessionStore) RevokedSince(ctx context.Context, since, now time.Time) ([]session.Revocation, error) {
	filter := bson.D{
		{Key: "at", Value: bson.D{{Key: "$gte", Value: since.UTC()}}},
		{Key: "expires_at", Value: bson.D{{Key: "$gt", Value: now.UTC()}}},
	}
	cur, err := s.revocations.Find(ctx, filter, options.Find().SetSort(bson.D{{Key: "at", Value: 1}}))
	if err != nil {
		return nil, fmt.Errorf("session_revocations: find: %w", err)
	}
	var docs []claimDocument
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("session_revocations: decode: %w", err)
	}
	out := make([]session.Revocation, 0, len(docs))
	for _, d := range docs {
		id, ok := strings.CutPrefix(d.ID, d.TenantID+":")
		if !ok {
			continue
		}
		out = append(out, session.Revocation{TenantID: d.TenantID, SessionID: id, At: d.At.UTC(), Until: d.ExpiresAt.UTC()})
	}
	return out, nil
}

// claimDocument records that a one-time transition (a revocation, a
// refresh token's use) happened; its _id names what it claims.
type claimDocument struct {
	ID        string    `bson:"_id"`
	TenantID  string    `bson:"tenant_id"`
	At        time.Time `bson:"at"`
	ExpiresAt time.Time `bson:"expires_at"` // of what it claims; swept with it
}

// claim inserts the claim named id and reports whether this call made it:
// of any number of concurrent claims of one id exactly one wins, on
// FerretDB too, because an insert of an _id is atomic there.
func claim(ctx context.Context, coll *mongo.Collection, id, tenantID string, at, expires time.Time) (bool, error) {
	return insertOnce(ctx, coll, id, claimDocument{ID: id, TenantID: tenantID, At: at.UTC(), ExpiresAt: expires.UTC()})
}

// insertOnce inserts doc, whose _id is id, and reports whether this call
// made it (false: a document with that _id exists). It is claim's
// primitive, for claims whose document is not a claimDocument.
func insertOnce(ctx context.Context, coll *mongo.Collection, id string, doc any) (bool, error) {
	_, err := coll.InsertOne(ctx, doc)
	if err == nil {
		return true, nil
	}
	if isDuplicate(err) {
		return false, nil
	}
	if n, cerr := coll.CountDocuments(ctx, bson.D{{Key: "_id", Value: id}}); cerr == nil && n > 0 {
		return false, nil
	}
	return false, storeErr(coll.Name()+": insert claim", err)
}
