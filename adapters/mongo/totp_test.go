package mongo_test

import (
	"context"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/portcullis/portcullis/adapters/mongo"
	"github.com/portcullis/portcullis/application/mfa"
	"github.com/portcullis/portcullis/application/mfa/mfatest"
)

func TestTOTPStorePassesTheContract(t *testing.T) {
	mfatest.RunTOTPsContract(t, func(t *testing.T) mfa.TOTPs { return mongo.NewTOTPStore(freshDB(t)) })
}

// TestTOTPStepClaimsAreSweptOnceExpired: the replay guard's claims are
// among the expiring documents the sweep removes (on a server without TTL
// indexes the sweep is all that removes them); a claim not yet expired
// stays and still refuses its step.
func TestTOTPStepClaimsAreSweptOnceExpired(t *testing.T) {
	ctx := context.Background()
	db := freshDB(t)
	s := mongo.NewTOTPStore(db)
	now := time.Now().UTC().Truncate(time.Millisecond)
	for step, expires := range map[int64]time.Time{1: now.Add(-time.Minute), 2: now, 3: now.Add(time.Minute)} {
		if ok, err := s.UseStep(ctx, "sweep", "user-1", step, expires); !ok || err != nil {
			t.Fatalf("UseStep(%d) = %v, %v", step, ok, err)
		}
	}
	if _, err := db.Sweep(ctx, mongo.Indexes, now); err != nil {
		t.Fatal(err)
	}
	// On MongoDB the TTL monitor may have removed some first: count what
	// is left rather than what the sweep reports.
	if n, err := db.Collection("totp_steps").CountDocuments(ctx, bson.D{}); err != nil || n != 1 {
		t.Fatalf("%d step claims left after the sweep (%v), want 1", n, err)
	}
	for step, want := range map[int64]bool{1: true, 2: true, 3: false} {
		if ok, err := s.UseStep(ctx, "sweep", "user-1", step, now.Add(time.Hour)); ok != want || err != nil {
			t.Errorf("UseStep(%d) after the sweep = %v, %v; want %v", step, ok, err, want)
		}
	}
}
