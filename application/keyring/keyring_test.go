package keyring_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portcullis/portcullis/application/keyring"
	"github.com/portcullis/portcullis/application/keyring/keyringtest"
	"github.com/portcullis/portcullis/domain/signing"
)

// fakeSealer "encrypts" by prefixing the additional data, so that opening with
// other additional data fails as it does with a real AEAD.
type fakeSealer struct{ key byte }

func (f fakeSealer) Seal(pt, ad []byte) ([]byte, error) {
	out := append([]byte{f.key}, ad...)
	out = append(out, 0)
	for _, b := range pt {
		out = append(out, b^f.key)
	}
	return out, nil
}

func (f fakeSealer) Open(ct, ad []byte) ([]byte, error) {
	prefix := append([]byte{f.key}, append(bytes.Clone(ad), 0)...)
	if !bytes.HasPrefix(ct, prefix) {
		return nil, errors.New("authentication failed")
	}
	out := make([]byte, 0, len(ct)-len(prefix))
	for _, b := range ct[len(prefix):] {
		out = append(out, b^f.key)
	}
	return out, nil
}

type fixedClock struct{ t time.Time }

func (c fixedClock) Now() time.Time { return c.t }

var now = fixedClock{time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)}

func TestMemoryStoreContract(t *testing.T) {
	keyringtest.RunStoreContract(t, func(*testing.T) keyring.Store { return keyringtest.NewMemoryStore() })
}

func TestFirstUseCreatesOneKeyThatSurvivesReload(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := keyringtest.NewMemoryStore()
	r := keyring.New("shop", store, fakeSealer{42}, now, rand.Reader, keyring.Policy{})
	k, err := r.Current(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if k.TenantID != "shop" || k.Generation != 1 || k.ID != signing.Thumbprint(k.Public) || !k.CreatedAt.Equal(now.t) {
		t.Fatalf("key %+v", k)
	}
	sealed, _ := store.List(ctx, "shop")
	if len(sealed) != 1 || bytes.Contains(sealed[0].SealedPrivate, k.Private.Seed()) {
		t.Fatal("exactly one key must be stored, and its private half sealed")
	}
	again, err := keyring.New("shop", store, fakeSealer{42}, now, rand.Reader, keyring.Policy{}).Current(ctx)
	if err != nil || again.ID != k.ID || !again.Private.Equal(k.Private) {
		t.Fatalf("a new ring over the same store must load the same key: %v", err)
	}
}

func TestConcurrentRingsAgreeOnOneFirstKey(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := keyringtest.NewMemoryStore()
	const n = 16
	ids := make([]string, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			k, err := keyring.New("race", store, fakeSealer{1}, now, rand.Reader, keyring.Policy{}).Current(ctx)
			if err != nil {
				t.Error(err)
				return
			}
			ids[i] = k.ID
		}()
	}
	close(start)
	wg.Wait()
	for _, id := range ids {
		if id != ids[0] {
			t.Fatalf("rings disagree: %v", ids)
		}
	}
	if sealed, _ := store.List(ctx, "race"); len(sealed) != 1 {
		t.Fatalf("%d keys stored", len(sealed))
	}
}

func TestWrongMasterKeyIsReportedNotReplaced(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := keyringtest.NewMemoryStore()
	if _, err := keyring.New("shop", store, fakeSealer{1}, now, rand.Reader, keyring.Policy{}).Current(ctx); err != nil {
		t.Fatal(err)
	}
	_, err := keyring.New("shop", store, fakeSealer{2}, now, rand.Reader, keyring.Policy{}).Current(ctx)
	if err == nil || !strings.Contains(err.Error(), "wrong master key") {
		t.Fatalf("want a clear error, got %v", err)
	}
	if sealed, _ := store.List(ctx, "shop"); len(sealed) != 1 {
		t.Fatal("a key that does not open must never be replaced silently")
	}
}

func TestSealedKeyMovedToAnotherTenantDoesNotOpen(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := keyringtest.NewMemoryStore()
	if _, err := keyring.New("a", store, fakeSealer{1}, now, rand.Reader, keyring.Policy{}).Current(ctx); err != nil {
		t.Fatal(err)
	}
	sealed, _ := store.List(ctx, "a")
	moved := sealed[0]
	moved.TenantID = "b"
	if err := store.Insert(ctx, moved); err != nil {
		t.Fatal(err)
	}
	if _, err := keyring.New("b", store, fakeSealer{1}, now, rand.Reader, keyring.Policy{}).Current(ctx); err == nil {
		t.Fatal("a key copied from tenant a must not open as tenant b's")
	}
}

func TestLookupAndKeys(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r := keyring.New("shop", keyringtest.NewMemoryStore(), fakeSealer{3}, now, rand.Reader, keyring.Policy{})
	keys, err := r.Keys(ctx)
	if err != nil || len(keys) != 1 {
		t.Fatalf("Keys = %v, %v", keys, err)
	}
	if k, ok, err := r.Lookup(ctx, keys[0].ID); err != nil || !ok || k.ID != keys[0].ID {
		t.Fatalf("Lookup(current) = %v %v", ok, err)
	}
	if _, ok, _ := r.Lookup(ctx, "no-such-kid"); ok {
		t.Fatal("unknown kid found")
	}
}
