package mongo

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/portcullis/portcullis/application/platform"
	"github.com/portcullis/portcullis/application/tenancy"
	"github.com/portcullis/portcullis/config"
	"github.com/portcullis/portcullis/domain/errs"
	"github.com/portcullis/portcullis/domain/tenant"
)

// TenantStore keeps tenant configurations in the tenants collection, one
// document per tenant in the same schema as a tenant YAML file, with the
// tenant id as _id and a version counter that every write increments.
type TenantStore struct {
	coll *mongo.Collection
	now  func() time.Time
}

var _ tenancy.Store = (*TenantStore)(nil)

// NewTenantStore returns the tenant store of db.
func NewTenantStore(db *DB) *TenantStore {
	return &TenantStore{coll: db.Collection("tenants"), now: time.Now}
}

// Fields of a tenant document that are bookkeeping, not configuration.
const (
	fieldVersion     = "version"
	fieldUpdatedAt   = "updated_at"
	fieldDeleteAfter = "delete_after" // when a deleted tenant's data goes
)

var _ tenancy.Deletions = (*TenantStore)(nil)

// Mark records when the tenant's data goes; zero clears the mark.
func (s *TenantStore) Mark(ctx context.Context, id string, at time.Time) error {
	ctx, cancel := platform.BoundStore(ctx)
	defer cancel()
	update := bson.D{{Key: "$set", Value: bson.D{{Key: fieldDeleteAfter, Value: at.UTC()}}}}
	if at.IsZero() {
		update = bson.D{{Key: "$unset", Value: bson.D{{Key: fieldDeleteAfter, Value: ""}}}}
	}
	res, err := s.coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}}, update)
	if err != nil {
		return storeErr(fmt.Sprintf("tenants: mark %q", id), err)
	}
	if res.MatchedCount == 0 {
		return errs.ErrTenantNotFound
	}
	return nil
}

// When returns when the tenant's data goes, zero when it is not deleted.
func (s *TenantStore) When(ctx context.Context, id string) (time.Time, error) {
	ctx, cancel := platform.BoundStore(ctx)
	defer cancel()
	var d struct {
		DeleteAfter time.Time `bson:"delete_after"`
	}
	err := s.coll.FindOne(ctx, bson.D{{Key: "_id", Value: id}}, options.FindOne().SetProjection(bson.D{{Key: fieldDeleteAfter, Value: 1}})).Decode(&d)
	switch {
	case errors.Is(err, mongo.ErrNoDocuments):
		return time.Time{}, errs.ErrTenantNotFound
	case err != nil:
		return time.Time{}, storeErr(fmt.Sprintf("tenants: find %q", id), err)
	}
	return d.DeleteAfter.UTC(), nil
}

// Marked returns when each tenant marked for deletion goes.
func (s *TenantStore) Marked(ctx context.Context) (map[string]time.Time, error) {
	ctx, cancel := platform.BoundStore(ctx)
	defer cancel()
	cur, err := s.coll.Find(ctx, bson.D{{Key: fieldDeleteAfter, Value: bson.D{{Key: "$exists", Value: true}}}},
		options.Find().SetProjection(bson.D{{Key: fieldDeleteAfter, Value: 1}}))
	if err != nil {
		return nil, storeErr("tenants: find marked", err)
	}
	var docs []struct {
		ID          string    `bson:"_id"`
		DeleteAfter time.Time `bson:"delete_after"`
	}
	if err := cur.All(ctx, &docs); err != nil {
		return nil, storeErr("tenants: read marked", err)
	}
	out := make(map[string]time.Time, len(docs))
	for _, d := range docs {
		out[d.ID] = d.DeleteAfter.UTC()
	}
	return out, nil
}

// Due lists the tenants whose deletion time has come.
func (s *TenantStore) Due(ctx context.Context, now time.Time) ([]string, error) {
	ctx, cancel := platform.BoundStore(ctx)
	defer cancel()
	cur, err := s.coll.Find(ctx, bson.D{{Key: fieldDeleteAfter, Value: bson.D{{Key: "$lte", Value: now.UTC()}}}},
		options.Find().SetProjection(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		return nil, storeErr("tenants: find due", err)
	}
	var docs []struct {
		ID string `bson:"_id"`
	}
	if err := cur.All(ctx, &docs); err != nil {
		return nil, storeErr("tenants: read due", err)
	}
	ids := make([]string, len(docs))
	for i, d := range docs {
		ids[i] = d.ID
	}
	return ids, nil
}

// Get returns one tenant.
func (s *TenantStore) Get(ctx context.Context, id string) (tenant.Tenant, error) {
	ctx, cancel := platform.BoundStore(ctx)
	defer cancel()
	raw, err := s.coll.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Raw()
	if errors.Is(err, mongo.ErrNoDocuments) {
		return tenant.Tenant{}, errs.ErrTenantNotFound
	}
	if err != nil {
		return tenant.Tenant{}, storeErr(fmt.Sprintf("tenants: find %q", id), err)
	}
	return tenantToDomain(raw)
}

// List returns every valid stored tenant; invalid ones are reported in the
// error, joined, while the valid ones are still returned.
func (s *TenantStore) List(ctx context.Context) ([]tenant.Tenant, error) {
	ctx, cancel := platform.BoundStore(ctx)
	defer cancel()
	cur, err := s.coll.Find(ctx, bson.D{}, options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		return nil, storeErr("tenants: find", err)
	}
	defer cur.Close(ctx)
	out := []tenant.Tenant{}
	var invalid []error
	for cur.Next(ctx) {
		t, err := tenantToDomain(cur.Current)
		if err != nil {
			invalid = append(invalid, err)
			continue
		}
		out = append(out, t)
	}
	if err := cur.Err(); err != nil {
		return nil, storeErr("tenants: read", err)
	}
	return out, errors.Join(invalid...)
}

// Put validates t and replaces its stored configuration, incrementing the
// version in the same single-document write.
func (s *TenantStore) Put(ctx context.Context, t tenant.Tenant) (tenant.Tenant, error) {
	t.Source = "store"
	if err := t.Validate(); err != nil {
		return tenant.Tenant{}, err
	}
	ctx, cancel := platform.BoundStore(ctx)
	defer cancel()
	set := bson.D{}
	for k, v := range config.EncodeTenant(t) {
		if k != "id" {
			set = append(set, bson.E{Key: k, Value: v})
		}
	}
	set = append(set, bson.E{Key: fieldUpdatedAt, Value: s.now().UTC()})
	update := bson.D{{Key: "$set", Value: set}, {Key: "$inc", Value: bson.D{{Key: fieldVersion, Value: int64(1)}}}}
	raw, err := s.coll.FindOneAndUpdate(ctx, bson.D{{Key: "_id", Value: t.ID}}, update,
		options.FindOneAndUpdate().SetUpsert(true).SetReturnDocument(options.After)).Raw()
	if err != nil {
		return tenant.Tenant{}, storeErr(fmt.Sprintf("tenants: put %q", t.ID), err)
	}
	return tenantToDomain(raw)
}

// Delete removes a tenant's stored configuration.
func (s *TenantStore) Delete(ctx context.Context, id string) error {
	ctx, cancel := platform.BoundStore(ctx)
	defer cancel()
	res, err := s.coll.DeleteOne(ctx, bson.D{{Key: "_id", Value: id}})
	if err != nil {
		return storeErr(fmt.Sprintf("tenants: delete %q", id), err)
	}
	if res.DeletedCount == 0 {
		return errs.ErrTenantNotFound
	}
	return nil
}

// tenantToDomain decodes a stored tenant through the same schema and
// validation as a tenant file.
func tenantToDomain(raw bson.Raw) (tenant.Tenant, error) {
	var doc bson.M
	if err := bson.Unmarshal(raw, &doc); err != nil {
		return tenant.Tenant{}, fmt.Errorf("tenants: decode: %w", err)
	}
	m := plain(doc).(map[string]any)
	id, _ := m["_id"].(string)
	version := toInt64(m[fieldVersion])
	delete(m, "_id")
	delete(m, fieldVersion)
	delete(m, fieldUpdatedAt)
	delete(m, fieldDeleteAfter)
	m["id"] = id
	t, err := config.DecodeTenant(m, "store")
	if err != nil {
		return tenant.Tenant{}, err
	}
	t.Source = "store"
	t.Version = "store:" + strconv.FormatInt(version, 10)
	return t, nil
}

// plain turns driver values (bson.M, bson.D, bson.A) into the plain maps
// and slices the configuration decoder reads.
func plain(v any) any {
	switch x := v.(type) {
	case bson.M:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = plain(e)
		}
		return m
	case bson.D:
		m := make(map[string]any, len(x))
		for _, e := range x {
			m[e.Key] = plain(e.Value)
		}
		return m
	case bson.A:
		s := make([]any, len(x))
		for i, e := range x {
			s[i] = plain(e)
		}
		return s
	}
	return v
}

func toInt64(v any) int64 {
	switch n := v.(type) {
	case int32:
		return int64(n)
	case int64:
		return n
	case float64:
		return int64(n)
	}
	return 0
}
