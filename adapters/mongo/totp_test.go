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

// TestMFADocumentsAreFlatTenantScopedAndKeyedByID: every document of the
// four collections carries tenant_id and an _id that begins with it, and
// the sealed secret is stored as BSON binary, not as text.
func TestMFADocumentsAreFlatTenantScopedAndKeyedByID(t *testing.T) {
	ctx := context.Background()
	db := freshDB(t)
	totps, codes := mongo.NewTOTPStore(db), mongo.NewBackupCodeStore(db)
	now := time.Now()
	if err := totps.Put(ctx, mfa.TOTP{TenantID: "flat", UserID: "user-1", EnrolmentID: "e1", Sealed: []byte{0, 1, 2, 255}, CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	if _, err := totps.UseStep(ctx, "flat", "user-1", 42, now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := codes.Replace(ctx, "flat", "user-1", []string{"h1", "h2"}, now); err != nil {
		t.Fatal(err)
	}
	if _, err := codes.Use(ctx, "flat", "user-1", "h1", now); err != nil {
		t.Fatal(err)
	}
	for _, coll := range []string{"totp_secrets", "totp_steps", "backup_codes", "backup_code_uses"} {
		var docs []bson.M
		cur, err := db.Collection(coll).Find(ctx, bson.D{})
		if err == nil {
			err = cur.All(ctx, &docs)
		}
		if err != nil || len(docs) != 1 {
			t.Fatalf("%s: %d documents, %v; want 1", coll, len(docs), err)
		}
		id, _ := docs[0]["_id"].(string)
		if docs[0]["tenant_id"] != "flat" || len(id) < len("flat/") || id[:len("flat/")] != "flat/" {
			t.Errorf("%s: document %v: want tenant_id flat and an _id beginning with flat/", coll, docs[0])
		}
		if coll == "totp_secrets" {
			if b, ok := docs[0]["sealed"].(bson.Binary); !ok || string(b.Data) != "\x00\x01\x02\xff" {
				t.Errorf("sealed stored as %T %v, want BSON binary", docs[0]["sealed"], docs[0]["sealed"])
			}
		}
	}
}
