// Package storefronttest provides an in-memory storefront.Store for unit
// tests and the contract suite every Store must pass.
package storefronttest

import (
	"context"
	"slices"
	"strconv"
	"sync"

	app "github.com/portcullis/portcullis/application/storefront"
	"github.com/portcullis/portcullis/domain/storefront"
)

var _ app.Store = (*MemoryStore)(nil)

// MemoryStore is an in-memory storefront.Store: every operation runs
// under one lock, so it keeps the port's promises trivially.
type MemoryStore struct {
	mu    sync.Mutex
	users map[string]*memoryEntry
}

type memoryEntry struct {
	cart     storefront.Cart
	wishlist storefront.Wishlist
	version  int
}

// NewMemoryStore returns an empty store.
func NewMemoryStore() *MemoryStore { return &MemoryStore{users: map[string]*memoryEntry{}} }

func (m *MemoryStore) entry(tenantID, userID string) *memoryEntry {
	key := strconv.Itoa(len(tenantID)) + ":" + tenantID + "/" + userID
	e, ok := m.users[key]
	if !ok {
		e = &memoryEntry{}
		m.users[key] = e
	}
	return e
}

// Get returns copies of the user's cart and wishlist and their version.
func (m *MemoryStore) Get(_ context.Context, tenantID, userID string) (storefront.Cart, storefront.Wishlist, string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e := m.entry(tenantID, userID)
	return cloneCart(e.cart), slices.Clone(e.wishlist), strconv.Itoa(e.version), nil
}

// Merge merges under the lock.
func (m *MemoryStore) Merge(_ context.Context, tenantID, userID string, c storefront.Cart, w storefront.Wishlist, limits storefront.Limits) (storefront.Cart, storefront.Wishlist, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e := m.entry(tenantID, userID)
	mc, _ := storefront.MergeCart(e.cart, c, limits)
	mw, _ := storefront.MergeWishlist(e.wishlist, w, limits)
	if !slices.Equal(mc.Lines, e.cart.Lines) || !slices.Equal(mw, e.wishlist) {
		e.cart, e.wishlist = mc, mw
		e.version++
	}
	return cloneCart(e.cart), slices.Clone(e.wishlist), nil
}

// ReplaceCart replaces the cart under the lock.
func (m *MemoryStore) ReplaceCart(_ context.Context, tenantID, userID string, c storefront.Cart) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	e := m.entry(tenantID, userID)
	e.cart = cloneCart(c)
	e.version++
	return nil
}

// ReplaceWishlist replaces the wishlist under the lock.
func (m *MemoryStore) ReplaceWishlist(_ context.Context, tenantID, userID string, w storefront.Wishlist) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	e := m.entry(tenantID, userID)
	e.wishlist = slices.Clone(w)
	e.version++
	return nil
}

func cloneCart(c storefront.Cart) storefront.Cart {
	return storefront.Cart{Lines: slices.Clone(c.Lines)}
}
