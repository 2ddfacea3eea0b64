package platform_test

import (
	"context"
	"testing"
	"time"

	"github.com/portcullis/portcullis/application/platform"
	"github.com/portcullis/portcullis/domain/tenant"
)

func TestStoreTimeout(t *testing.T) {
	t.Parallel()
	bg := context.Background()
	for _, tc := range []struct {
		name string
		ctx  context.Context
		want time.Duration
	}{
		{"absent: the default", bg, tenant.DefaultStoreTimeout},
		{"a tenant's larger bound", platform.WithStoreTimeout(bg, 45*time.Second), 45 * time.Second},
		{"a smaller bound", platform.WithStoreTimeout(bg, 500*time.Millisecond), 500 * time.Millisecond},
		{"zero is ignored", platform.WithStoreTimeout(bg, 0), tenant.DefaultStoreTimeout},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := platform.StoreTimeout(tc.ctx); got != tc.want {
				t.Fatalf("StoreTimeout = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestBoundStoreSetsTheDeadline(t *testing.T) {
	t.Parallel()
	before := time.Now()
	ctx, cancel := platform.BoundStore(platform.WithStoreTimeout(context.Background(), 45*time.Second))
	defer cancel()
	dl, ok := ctx.Deadline()
	if !ok || dl.Before(before.Add(45*time.Second)) || dl.After(time.Now().Add(45*time.Second)) {
		t.Fatalf("deadline %v (set %t), want 45s from now", dl, ok)
	}
	// An earlier deadline of the caller stays.
	short, cancelShort := context.WithTimeout(context.Background(), time.Second)
	defer cancelShort()
	ctx, cancel2 := platform.BoundStore(platform.WithStoreTimeout(short, time.Minute))
	defer cancel2()
	if dl, _ := ctx.Deadline(); dl.After(time.Now().Add(time.Second)) {
		t.Fatalf("deadline %v is later than the caller's", dl)
	}
}
