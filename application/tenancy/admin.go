package tenancy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"reflect"
	"slices"
	"time"

	"github.com/portcullis/portcullis/application/audit"
	"github.com/portcullis/portcullis/application/platform"
	"github.com/portcullis/portcullis/domain/errs"
	"github.com/portcullis/portcullis/domain/tenant"
)

// Deletions are the stored tenants marked for deletion: Mark records when
// a tenant's data goes (zero clears the mark), When reads it (zero for
// none), Marked reads every mark at once, and Due lists those whose time
// has come.
type Deletions interface {
	Mark(ctx context.Context, id string, at time.Time) error
	When(ctx context.Context, id string) (time.Time, error)
	Marked(ctx context.Context) (map[string]time.Time, error)
	Due(ctx context.Context, now time.Time) ([]string, error)
}

// Purger deletes everything a tenant left in one store: its users,
// sessions, keys, audit events, carts… in the database; its codes,
// counters and revocations in Redis. A purge must be idempotent: one that
// failed part-way is run again, whole, at the next sweep.
type Purger interface {
	PurgeTenant(ctx context.Context, id string) error
}

// Actor is who changes tenants: the id of a platform API key (never its
// secret).
type Actor string

// Sections gives a tenant's configuration by its top-level sections, named
// as the tenant file names them: an update's audit event names the
// sections that differ.
type Sections func(tenant.Tenant) map[string]any

// Admin is the platform's tenant lifecycle: create, read, update, disable
// and delete tenants kept in the store. Tenants of files are listed and
// read, never changed: their file is their owner. A change is in force on
// this instance at once and on every other within its
// tenant_refresh_interval (the registry rebuilds a tenant whose version
// changed).
//
// Each change is recorded in the platform's audit stream (audit.Tenant*
// events, with the key that acted) and logged.
type Admin struct {
	dir       *Directory
	store     Store
	deletions Deletions
	purgers   []Purger
	audit     audit.Recorder
	sections  Sections
	log       *slog.Logger
	clock     platform.Clock
	grace     time.Duration
}

// AdminOptions are what an Admin works with.
type AdminOptions struct {
	Store     Store
	Deletions Deletions
	// Purgers delete a deleted tenant's data once its grace is over, one
	// store each, in order (the durable store first).
	Purgers []Purger
	// Audit records the platform's events (audit.NewPlatformRecorder).
	Audit audit.Recorder
	// Sections, when set, lets an update's event name what changed.
	Sections Sections
	// Logger receives a line per change; nil discards them.
	Logger *slog.Logger
	Clock  platform.Clock
	// Grace is how long a deleted tenant can be restored before its data
	// goes.
	Grace time.Duration
}

// Errors of the tenant lifecycle.
var (
	ErrTenantExists = errs.E(errs.Conflict, "tenant_exists", "A tenant with this id exists.")
	ErrFileTenant   = errs.E(errs.Conflict, "tenant_managed_by_file", "This tenant is configured by a file on the servers; change the file.")
)

// NewAdmin returns the lifecycle of dir's stored tenants.
func NewAdmin(dir *Directory, o AdminOptions) *Admin {
	log := o.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &Admin{dir: dir, store: o.Store, deletions: o.Deletions, purgers: slices.Clone(o.Purgers), audit: o.Audit,
		sections: o.Sections, log: log, clock: o.Clock, grace: o.Grace}
}

// Entry is a tenant as the platform sees it: its configuration, and when
// its data goes if it was deleted.
type Entry struct {
	Tenant      tenant.Tenant
	DeleteAfter time.Time
}

// List returns every tenant, files' and store's, by id.
func (a *Admin) List(ctx context.Context) ([]Entry, error) {
	if err := a.dir.Refresh(ctx); err != nil {
		return nil, err
	}
	// One read of the marks for all tenants, not one per stored tenant.
	marked, err := a.deletions.Marked(ctx)
	if err != nil {
		return nil, err
	}
	ts := a.dir.All()
	out := make([]Entry, len(ts))
	for i, t := range ts {
		out[i] = Entry{Tenant: t}
		if t.Source == "store" {
			out[i].DeleteAfter = marked[t.ID]
		}
	}
	return out, nil
}

// Get returns one tenant.
func (a *Admin) Get(ctx context.Context, id string) (Entry, error) {
	if t, ok := a.dir.Lookup(id); ok && t.Source != "store" {
		return Entry{Tenant: t}, nil
	}
	t, err := a.store.Get(ctx, id)
	if err != nil {
		return Entry{}, err
	}
	when, err := a.deletions.When(ctx, id)
	if err != nil {
		return Entry{}, err
	}
	return Entry{Tenant: t, DeleteAfter: when}, nil
}

// Create stores a new tenant: its id and its domains must be free.
func (a *Admin) Create(ctx context.Context, by Actor, t tenant.Tenant) (Entry, error) {
	if err := a.dir.Refresh(ctx); err != nil {
		return Entry{}, err
	}
	if _, ok := a.dir.Lookup(t.ID); ok {
		return Entry{}, ErrTenantExists
	}
	if _, err := a.store.Get(ctx, t.ID); err == nil {
		return Entry{}, ErrTenantExists // stored but invalid or not yet seen
	}
	if err := a.domainsFree(t); err != nil {
		return Entry{}, err
	}
	e, err := a.put(ctx, t)
	if err == nil {
		a.note(ctx, audit.TenantCreated, by, e.Tenant.ID, nil)
	}
	return e, err
}

// Update replaces a stored tenant's configuration.
func (a *Admin) Update(ctx context.Context, by Actor, t tenant.Tenant) (Entry, error) {
	cur, err := a.stored(ctx, t.ID)
	if err != nil {
		return Entry{}, err
	}
	if err := a.domainsFree(t); err != nil {
		return Entry{}, err
	}
	t.Disabled = t.Disabled || !cur.DeleteAfter.IsZero() // a deleted tenant stays off
	e, err := a.put(ctx, t)
	if err == nil {
		a.note(ctx, audit.TenantUpdated, by, e.Tenant.ID, a.changed(cur.Tenant, e.Tenant))
	}
	return e, err
}

// SetDisabled switches a stored tenant off or on again (not one being
// deleted: cancel the deletion by Restore).
func (a *Admin) SetDisabled(ctx context.Context, by Actor, id string, disabled bool) (Entry, error) {
	cur, err := a.stored(ctx, id)
	if err != nil {
		return Entry{}, err
	}
	if !disabled && !cur.DeleteAfter.IsZero() {
		return Entry{}, errs.E(errs.Conflict, "tenant_deleted", "This tenant is being deleted; restore it first.")
	}
	cur.Tenant.Disabled = disabled
	e, err := a.put(ctx, cur.Tenant)
	if err == nil {
		typ := audit.TenantEnabled
		if disabled {
			typ = audit.TenantDisabled
		}
		a.note(ctx, typ, by, id, nil)
	}
	return e, err
}

// Delete switches a stored tenant off at once and deletes it with its
// data after the grace period; until then Restore takes it back.
func (a *Admin) Delete(ctx context.Context, by Actor, id string) (Entry, error) {
	cur, err := a.stored(ctx, id)
	if err != nil {
		return Entry{}, err
	}
	if cur.DeleteAfter.IsZero() {
		cur.DeleteAfter = a.clock.Now().Add(a.grace).UTC()
		if err := a.deletions.Mark(ctx, id, cur.DeleteAfter); err != nil {
			return Entry{}, err
		}
	}
	cur.Tenant.Disabled = true
	e, err := a.put(ctx, cur.Tenant)
	e.DeleteAfter = cur.DeleteAfter
	if err == nil {
		a.note(ctx, audit.TenantDeleteRequested, by, id, nil, "delete_after", cur.DeleteAfter)
	}
	return e, err
}

// Restore cancels a deletion; the tenant stays disabled until enabled.
func (a *Admin) Restore(ctx context.Context, by Actor, id string) (Entry, error) {
	cur, err := a.stored(ctx, id)
	if err != nil {
		return Entry{}, err
	}
	if err := a.deletions.Mark(ctx, id, time.Time{}); err != nil {
		return Entry{}, err
	}
	cur.DeleteAfter = time.Time{}
	a.note(ctx, audit.TenantRestored, by, id, nil)
	return cur, nil
}

// Sweep deletes the tenants whose grace has passed, their data first (each
// Purger in turn), and returns their ids. A tenant whose purge or deletion
// fails stays marked and is tried again, whole, next time; the others due
// are still swept, and the failures are returned together.
func (a *Admin) Sweep(ctx context.Context) ([]string, error) {
	due, err := a.deletions.Due(ctx, a.clock.Now())
	if err != nil {
		return nil, err
	}
	var done []string
	var failed []error
	for _, id := range due {
		if err := a.purge(ctx, id); err != nil {
			failed = append(failed, err)
			continue
		}
		done = append(done, id)
		a.note(ctx, audit.TenantPurged, "", id, nil)
	}
	if len(done) > 0 {
		failed = append(failed, a.dir.Refresh(ctx))
	}
	return done, errors.Join(failed...)
}

// purge deletes tenant id's data from every store, then its configuration.
func (a *Admin) purge(ctx context.Context, id string) error {
	for _, p := range a.purgers {
		if err := p.PurgeTenant(ctx, id); err != nil {
			return fmt.Errorf("tenancy: purge %s: %w", id, err)
		}
	}
	if err := a.store.Delete(ctx, id); err != nil && !errors.Is(err, errs.ErrTenantNotFound) {
		return fmt.Errorf("tenancy: delete %s: %w", id, err)
	}
	return nil
}

// note records a change in the platform's audit stream and logs it: by
// the key by, or by the server itself (a sweep) when by is empty. args
// add to the log line only.
func (a *Admin) note(ctx context.Context, typ audit.Type, by Actor, id string, changes []string, args ...any) {
	e := audit.Event{Type: typ, ActorType: audit.ActorPlatformKey, ActorID: string(by), TargetID: id, Changes: changes}
	if by == "" {
		e.ActorType = audit.ActorSystem
	}
	if a.audit != nil {
		a.audit.Record(ctx, e)
	}
	args = append([]any{"event", string(typ), "tenant", id, "actor_type", e.ActorType, "actor", e.ActorID}, args...)
	if changes != nil {
		args = append(args, "changes", changes)
	}
	a.log.InfoContext(ctx, "platform: "+string(typ), args...)
}

// changed names the top-level sections in which two configurations of a
// tenant differ, sorted; an empty list when none does, nil when the Admin
// has no Sections.
func (a *Admin) changed(old, cur tenant.Tenant) []string {
	if a.sections == nil {
		return nil
	}
	before, after := a.sections(old), a.sections(cur)
	out := []string{}
	for k := range maps.Keys(after) {
		if v, ok := before[k]; !ok || !reflect.DeepEqual(v, after[k]) {
			out = append(out, k)
		}
	}
	for k := range maps.Keys(before) {
		if _, ok := after[k]; !ok {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// stored returns a stored tenant; a file's is ErrFileTenant.
func (a *Admin) stored(ctx context.Context, id string) (Entry, error) {
	if t, ok := a.dir.Lookup(id); ok && t.Source != "store" {
		return Entry{}, ErrFileTenant
	}
	return a.Get(ctx, id)
}

// domainsFree refuses domains another tenant has.
func (a *Admin) domainsFree(t tenant.Tenant) error {
	for _, o := range a.dir.All() {
		if o.ID == t.ID {
			continue
		}
		for _, d := range t.Domains {
			if slices.Contains(o.Domains, d) {
				return errs.InvalidFields(errs.FieldError{Field: "domains", Reason: fmt.Sprintf("%q belongs to another tenant", d)})
			}
		}
	}
	return nil
}

// put stores t and brings this instance's directory up to date.
func (a *Admin) put(ctx context.Context, t tenant.Tenant) (Entry, error) {
	saved, err := a.store.Put(ctx, t)
	if err != nil {
		return Entry{}, err
	}
	if err := a.dir.Refresh(ctx); err != nil {
		return Entry{}, err
	}
	when, err := a.deletions.When(ctx, saved.ID)
	return Entry{Tenant: saved, DeleteAfter: when}, err
}
