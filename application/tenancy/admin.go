package tenancy

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/portcullis/portcullis/application/platform"
	"github.com/portcullis/portcullis/domain/errs"
	"github.com/portcullis/portcullis/domain/tenant"
)

// Deletions are the stored tenants marked for deletion: Mark records when
// a tenant's data goes (zero clears the mark), When reads it (zero for
// none), and Due lists those whose time has come.
type Deletions interface {
	Mark(ctx context.Context, id string, at time.Time) error
	When(ctx context.Context, id string) (time.Time, error)
	Due(ctx context.Context, now time.Time) ([]string, error)
}

// Purger deletes everything a tenant left in the stores: its users,
// sessions, keys, audit events, carts…
type Purger interface {
	PurgeTenant(ctx context.Context, id string) error
}

// Admin is the platform's tenant lifecycle: create, read, update, disable
// and delete tenants kept in the store. Tenants of files are listed and
// read, never changed: their file is their owner. A change is in force on
// this instance at once and on every other within its
// tenant_refresh_interval (the registry rebuilds a tenant whose version
// changed).
type Admin struct {
	dir       *Directory
	store     Store
	deletions Deletions
	purger    Purger
	clock     platform.Clock
	grace     time.Duration
}

// Errors of the tenant lifecycle.
var (
	ErrTenantExists = errs.E(errs.Conflict, "tenant_exists", "A tenant with this id exists.")
	ErrFileTenant   = errs.E(errs.Conflict, "tenant_managed_by_file", "This tenant is configured by a file on the servers; change the file.")
)

// NewAdmin returns the lifecycle of dir's stored tenants; a deleted
// tenant's data goes grace after its deletion.
func NewAdmin(dir *Directory, store Store, deletions Deletions, purger Purger, clock platform.Clock, grace time.Duration) *Admin {
	return &Admin{dir: dir, store: store, deletions: deletions, purger: purger, clock: clock, grace: grace}
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
	ts := a.dir.All()
	out := make([]Entry, len(ts))
	for i, t := range ts {
		out[i] = Entry{Tenant: t}
		if t.Source == "store" {
			when, err := a.deletions.When(ctx, t.ID)
			if err != nil {
				return nil, err
			}
			out[i].DeleteAfter = when
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
func (a *Admin) Create(ctx context.Context, t tenant.Tenant) (Entry, error) {
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
	return a.put(ctx, t)
}

// Update replaces a stored tenant's configuration.
func (a *Admin) Update(ctx context.Context, t tenant.Tenant) (Entry, error) {
	cur, err := a.stored(ctx, t.ID)
	if err != nil {
		return Entry{}, err
	}
	if err := a.domainsFree(t); err != nil {
		return Entry{}, err
	}
	t.Disabled = t.Disabled || !cur.DeleteAfter.IsZero() // a deleted tenant stays off
	return a.put(ctx, t)
}

// SetDisabled switches a stored tenant off or on again (not one being
// deleted: cancel the deletion by Restore).
func (a *Admin) SetDisabled(ctx context.Context, id string, disabled bool) (Entry, error) {
	cur, err := a.stored(ctx, id)
	if err != nil {
		return Entry{}, err
	}
	if !disabled && !cur.DeleteAfter.IsZero() {
		return Entry{}, errs.E(errs.Conflict, "tenant_deleted", "This tenant is being deleted; restore it first.")
	}
	cur.Tenant.Disabled = disabled
	return a.put(ctx, cur.Tenant)
}

// Delete switches a stored tenant off at once and deletes it with its
// data after the grace period; until then Restore takes it back.
func (a *Admin) Delete(ctx context.Context, id string) (Entry, error) {
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
	return e, err
}

// Restore cancels a deletion; the tenant stays disabled until enabled.
func (a *Admin) Restore(ctx context.Context, id string) (Entry, error) {
	cur, err := a.stored(ctx, id)
	if err != nil {
		return Entry{}, err
	}
	if err := a.deletions.Mark(ctx, id, time.Time{}); err != nil {
		return Entry{}, err
	}
	cur.DeleteAfter = time.Time{}
	return cur, nil
}

// Sweep deletes the tenants whose grace has passed, their data first, and
// returns their ids. A tenant whose purge fails is tried again next time.
func (a *Admin) Sweep(ctx context.Context) ([]string, error) {
	due, err := a.deletions.Due(ctx, a.clock.Now())
	if err != nil {
		return nil, err
	}
	var done []string
	for _, id := range due {
		if err := a.purger.PurgeTenant(ctx, id); err != nil {
			return done, fmt.Errorf("tenancy: purge %s: %w", id, err)
		}
		if err := a.store.Delete(ctx, id); err != nil && !errors.Is(err, errs.ErrTenantNotFound) {
			return done, fmt.Errorf("tenancy: delete %s: %w", id, err)
		}
		done = append(done, id)
	}
	if len(done) > 0 {
		err = a.dir.Refresh(ctx)
	}
	return done, err
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
