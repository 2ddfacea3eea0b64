package mongo

import (
	"context"
	"errors"
	"net/netip"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/portcullis/portcullis/application/audit"
	"github.com/portcullis/portcullis/application/platform"
)

// AuditStore keeps the tenants' audit events in the audit_events
// collection, one flat document per event with tenant_id/event id as _id;
// the platform's own events are there too, under the tenant id
// audit.PlatformTenant, which no tenant has (so a tenant's purge, by
// tenant_id, leaves them).
// An event id begins with the event's time in padded Unix nanoseconds
// (audit.NewID), so the _id order is the tenant's time order: a page is a
// range of _id below the cursor, sorted by _id alone; a time range is a
// range of _id too; and the tenant's _ids all lie between "tenant/" and
// "tenant0" ("0" follows "/"), so the range alone is tenant-scoped,
// besides the tenant_id every query also filters on.
//
// Append inserts without order and takes a duplicate _id as success: a
// batch written again after a failure adds each event once, and never
// changes one stored. Nothing here updates or deletes an event; they
// expire by expires_at (a TTL index where the server has them, the
// periodic sweep everywhere).
//
// On FerretDB's SQLite backend, which hands SQLite only a filter on _id
// alone by equality, a query reads the whole collection: fine for the
// embedded development store, and on MongoDB the indexes below serve it.
type AuditStore struct {
	coll *mongo.Collection
}

var _ audit.Log = (*AuditStore)(nil)

// NewAuditStore returns the audit store of db.
func NewAuditStore(db *DB) *AuditStore { return &AuditStore{coll: db.Collection("audit_events")} }

type auditDocument struct {
	ID        string    `bson:"_id"` // tenant_id/event id
	TenantID  string    `bson:"tenant_id"`
	Type      string    `bson:"type"`
	At        time.Time `bson:"at"`
	ActorID   string    `bson:"actor_id,omitempty"`
	ActorType string    `bson:"actor_type,omitempty"`
	TargetID  string    `bson:"target_id,omitempty"`
	SessionID string    `bson:"session_id,omitempty"`
	Method    string    `bson:"method,omitempty"`
	AMR       []string  `bson:"amr,omitempty"`
	Reason    string    `bson:"reason,omitempty"`
	OldRole   string    `bson:"old_role,omitempty"`
	NewRole   string    `bson:"new_role,omitempty"`
	Changes   []string  `bson:"changes,omitempty"`
	IP        string    `bson:"ip,omitempty"`
	UserAgent string    `bson:"user_agent,omitempty"`
	RequestID string    `bson:"request_id,omitempty"`
	ExpiresAt time.Time `bson:"expires_at"`
}

func auditToDocument(e audit.Event) auditDocument {
	d := auditDocument{ID: docID(e.TenantID, e.ID), TenantID: e.TenantID, Type: string(e.Type), At: e.Time.UTC(),
		ActorID: e.ActorID, ActorType: e.ActorType, TargetID: e.TargetID, SessionID: e.SessionID, Method: e.Method, AMR: e.AMR, Reason: e.Reason,
		OldRole: e.OldRole, NewRole: e.NewRole, Changes: e.Changes, UserAgent: e.UserAgent, RequestID: e.RequestID, ExpiresAt: e.ExpiresAt.UTC()}
	if e.IP.IsValid() {
		d.IP = e.IP.String()
	}
	return d
}

func auditToDomain(d auditDocument) audit.Event {
	ip, _ := netip.ParseAddr(d.IP) // "" (none) and anything unreadable: no address
	return audit.Event{ID: domainID(d.TenantID, d.ID), TenantID: d.TenantID, Type: audit.Type(d.Type), Time: d.At.UTC(),
		ActorID: d.ActorID, ActorType: d.ActorType, TargetID: d.TargetID, SessionID: d.SessionID, Method: d.Method, AMR: d.AMR, Reason: d.Reason,
		OldRole: d.OldRole, NewRole: d.NewRole, Changes: d.Changes, IP: ip, UserAgent: d.UserAgent, RequestID: d.RequestID, ExpiresAt: d.ExpiresAt.UTC()}
}

// Append stores the events whose _id is new; a malformed one fails the
// call before anything is written.
func (s *AuditStore) Append(ctx context.Context, events ...audit.Event) error {
	if len(events) == 0 {
		return nil
	}
	docs := make([]any, len(events))
	var problems []error
	for i, e := range events {
		problems = append(problems, e.Check())
		docs[i] = auditToDocument(e)
	}
	if err := errors.Join(problems...); err != nil {
		return err
	}
	ctx, cancel := platform.BoundStore(ctx)
	defer cancel()
	_, err := s.coll.InsertMany(ctx, docs, options.InsertMany().SetOrdered(false))
	if err == nil || onlyDuplicates(err) {
		return nil
	}
	return storeErr("audit_events: insert", err)
}

// onlyDuplicates reports an insert that failed for documents whose _id is
// stored already, and for nothing else.
func onlyDuplicates(err error) bool {
	var bwe mongo.BulkWriteException
	if !errors.As(err, &bwe) || bwe.WriteConcernError != nil || len(bwe.WriteErrors) == 0 {
		return false
	}
	for _, we := range bwe.WriteErrors {
		if we.Code != 11000 {
			return false
		}
	}
	return true
}

// Query returns a page of the tenant's live events matching f, newest
// first.
func (s *AuditStore) Query(ctx context.Context, tenantID string, f audit.Filter, cursor string, limit int, now time.Time) (audit.Page, error) {
	if cursor != "" && !audit.ValidID(cursor) {
		return audit.Page{}, audit.ErrInvalidCursor
	}
	if limit < 1 {
		return audit.Page{}, errors.New("audit_events: limit must be at least 1")
	}
	lower, upper := tenantID+"/", tenantID+"0"
	if !f.Since.IsZero() {
		lower = docID(tenantID, audit.IDAt(f.Since))
	}
	if !f.Until.IsZero() {
		upper = min(upper, docID(tenantID, audit.IDAt(f.Until)))
	}
	if cursor != "" {
		upper = min(upper, docID(tenantID, cursor))
	}
	filter := bson.D{
		{Key: "_id", Value: bson.D{{Key: "$gte", Value: lower}, {Key: "$lt", Value: upper}}},
		{Key: "tenant_id", Value: tenantID},
		{Key: "expires_at", Value: bson.D{{Key: "$gt", Value: now.UTC()}}},
	}
	if len(f.Types) > 0 {
		types := make(bson.A, len(f.Types))
		for i, t := range f.Types {
			types[i] = string(t)
		}
		filter = append(filter, bson.E{Key: "type", Value: bson.D{{Key: "$in", Value: types}}})
	}
	if f.UserID != "" {
		filter = append(filter, bson.E{Key: "$or", Value: bson.A{
			bson.D{{Key: "actor_id", Value: f.UserID}}, bson.D{{Key: "target_id", Value: f.UserID}},
		}})
	}
	if f.TargetID != "" {
		filter = append(filter, bson.E{Key: "target_id", Value: f.TargetID})
	}
	ctx, cancel := platform.BoundStore(ctx)
	defer cancel()
	opts := options.Find().SetSort(bson.D{{Key: "_id", Value: -1}}).SetLimit(int64(limit) + 1)
	cur, err := s.coll.Find(ctx, filter, opts)
	if err != nil {
		return audit.Page{}, storeErr("audit_events: find", err)
	}
	var docs []auditDocument
	if err := cur.All(ctx, &docs); err != nil {
		return audit.Page{}, storeErr("audit_events: read", err)
	}
	var page audit.Page
	if len(docs) > limit {
		docs = docs[:limit]
		page.Next = domainID(tenantID, docs[limit-1].ID)
	}
	for _, d := range docs {
		page.Events = append(page.Events, auditToDomain(d))
	}
	return page, nil
}
