// Package tenancy knows which tenants exist and which one a request is for.
// Tenant configurations come from files (a Source) and from a Store; the
// Directory merges them, indexes them by domain and resolves requests.
package tenancy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"

	"github.com/portcullis/portcullis/domain/errs"
	"github.com/portcullis/portcullis/domain/tenant"
)

// Store keeps tenant configurations in the database.
//
// List returns every valid tenant; stored configurations that fail
// validation are left out and reported together in the returned error, so one
// bad document cannot hide the others. Put validates, replaces the whole
// configuration and returns it with its new Version. Get and Delete answer
// errs.ErrTenantNotFound for an unknown id.
type Store interface {
	Get(ctx context.Context, id string) (tenant.Tenant, error)
	List(ctx context.Context) ([]tenant.Tenant, error)
	Put(ctx context.Context, t tenant.Tenant) (tenant.Tenant, error)
	Delete(ctx context.Context, id string) error
}

// Source lists tenant configurations kept outside the database, such as a
// directory of YAML files. An error means the whole listing is unusable.
type Source interface {
	Tenants(ctx context.Context) ([]tenant.Tenant, error)
}

// Directory is the merged, indexed view of all tenants. It is safe for
// concurrent use; Refresh swaps in a new view atomically.
type Directory struct {
	source        Source
	store         Store // may be nil
	defaultTenant string
	log           *slog.Logger

	mu       sync.RWMutex
	byID     map[string]tenant.Tenant
	byDomain map[string]string
}

// NewDirectory returns an empty directory; call Refresh to load it.
// defaultTenant, if not empty, is used for requests no domain or header
// resolves.
func NewDirectory(source Source, store Store, defaultTenant string, log *slog.Logger) *Directory {
	return &Directory{source: source, store: store, defaultTenant: defaultTenant, log: log,
		byID: map[string]tenant.Tenant{}, byDomain: map[string]string{}}
}

// Refresh reloads tenants from the source and the store. An error from the
// source fails the refresh and keeps the previous view; invalid stored
// tenants and tenants whose domains collide are logged and left out.
func (d *Directory) Refresh(ctx context.Context) error {
	files, err := d.source.Tenants(ctx)
	if err != nil {
		return fmt.Errorf("load tenant files: %w", err)
	}
	var stored []tenant.Tenant
	if d.store != nil {
		stored, err = d.store.List(ctx)
		if err != nil {
			var ve *tenant.ValidationError
			if stored == nil && !errors.As(err, &ve) {
				return fmt.Errorf("load stored tenants: %w", err)
			}
			d.log.Error("stored tenant configurations are invalid and were skipped", "error", err)
		}
	}

	byID := make(map[string]tenant.Tenant, len(files)+len(stored))
	byDomain := make(map[string]string)
	add := func(t tenant.Tenant) {
		if prev, dup := byID[t.ID]; dup {
			d.log.Warn("tenant defined twice; the first definition wins", "tenant", t.ID, "kept", prev.Source, "ignored", t.Source)
			return
		}
		for _, dom := range t.Domains {
			if owner, taken := byDomain[dom]; taken {
				d.log.Error("tenant skipped: its domain already belongs to another tenant", "tenant", t.ID, "source", t.Source, "domain", dom, "owner", owner)
				return
			}
		}
		byID[t.ID] = t
		for _, dom := range t.Domains {
			byDomain[dom] = t.ID
		}
	}
	for _, t := range files { // files first: the deployer's explicit configuration wins
		add(t)
	}
	slices.SortFunc(stored, func(a, b tenant.Tenant) int { return strings.Compare(a.ID, b.ID) })
	for _, t := range stored {
		add(t)
	}
	if d.defaultTenant != "" {
		if _, ok := byID[d.defaultTenant]; !ok {
			d.log.Warn("the default tenant does not exist", "default_tenant", d.defaultTenant)
		}
	}

	d.mu.Lock()
	d.byID, d.byDomain = byID, byDomain
	d.mu.Unlock()
	return nil
}

// CheckConflicts reports tenants in the source that collide with each other
// (same id or same domain). At start-up such a configuration is refused.
func CheckConflicts(ts []tenant.Tenant) error {
	var problems []error
	ids := map[string]string{}
	domains := map[string]string{}
	for _, t := range ts {
		if prev, ok := ids[t.ID]; ok {
			problems = append(problems, fmt.Errorf("tenant %q: id is also used by %s (%s)", t.ID, prev, t.Source))
			continue
		}
		ids[t.ID] = t.Source
		for _, dom := range t.Domains {
			if owner, ok := domains[dom]; ok {
				problems = append(problems, fmt.Errorf("tenant %q: domain %q already belongs to tenant %q", t.ID, dom, owner))
			}
			domains[dom] = t.ID
		}
	}
	return errors.Join(problems...)
}

// ErrTenantDisabled answers a request for a disabled tenant.
var ErrTenantDisabled = errs.E(errs.Forbidden, "tenant_disabled", "This tenant is disabled.")

// Resolve finds the tenant for a request: the Host header against tenant
// domains, else the X-Tenant-ID header, else the default tenant. It answers
// errs.ErrTenantNotFound when none matches, and ErrTenantDisabled for a
// disabled tenant.
func (d *Directory) Resolve(host, headerID string) (tenant.Tenant, error) {
	t, err := d.resolve(host, headerID)
	if err == nil && t.Disabled {
		return tenant.Tenant{}, ErrTenantDisabled
	}
	return t, err
}

func (d *Directory) resolve(host, headerID string) (tenant.Tenant, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if id, ok := d.byDomain[tenant.DomainKey(host)]; ok {
		return d.byID[id], nil
	}
	if headerID != "" {
		if t, ok := d.byID[headerID]; ok {
			return t, nil
		}
		return tenant.Tenant{}, errs.ErrTenantNotFound.WithMessage("No tenant has the id given in X-Tenant-ID.")
	}
	if d.defaultTenant != "" {
		if t, ok := d.byID[d.defaultTenant]; ok {
			return t, nil
		}
	}
	return tenant.Tenant{}, errs.ErrTenantNotFound.WithMessage("No tenant serves this host; send X-Tenant-ID or use a tenant's domain.")
}

// Lookup returns the tenant with the given id.
func (d *Directory) Lookup(id string) (tenant.Tenant, bool) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	t, ok := d.byID[id]
	return t, ok
}

// All returns every tenant of the directory, by id.
func (d *Directory) All() []tenant.Tenant {
	d.mu.RLock()
	defer d.mu.RUnlock()
	out := make([]tenant.Tenant, 0, len(d.byID))
	for _, t := range d.byID {
		out = append(out, t)
	}
	slices.SortFunc(out, func(a, b tenant.Tenant) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// Len returns how many tenants the directory holds.
func (d *Directory) Len() int {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return len(d.byID)
}
