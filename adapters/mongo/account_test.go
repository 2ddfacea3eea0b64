package mongo_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/portcullis/portcullis/adapters/mongo"
	"github.com/portcullis/portcullis/application/account"
	"github.com/portcullis/portcullis/application/account/accounttest"
	"github.com/portcullis/portcullis/application/session"
	"github.com/portcullis/portcullis/application/session/sessiontest"
	"github.com/portcullis/portcullis/domain/identity"
)

func TestUserStoreContract(t *testing.T) {
	accounttest.RunUsersContract(t, func(t *testing.T) account.Users { return mongo.NewUserStore(freshDB(t)) })
}

func TestSessionStoreContract(t *testing.T) {
	sessiontest.RunSessionsContract(t, func(t *testing.T) session.Sessions { return mongo.NewSessionStore(freshDB(t)) })
}

func TestRefreshTokenStoreContract(t *testing.T) {
	sessiontest.RunRefreshTokensContract(t, func(t *testing.T) session.RefreshTokens { return mongo.NewRefreshTokenStore(freshDB(t)) })
}

// Users stored before phone numbers were unique have no phone_key: the
// start backfills the placeholder so that the unique index can be built
// and such users keep working, without a phone or with their old one.
func TestUsersWithoutPhoneKeyAreBackfilledBeforeTheIndexIsBuilt(t *testing.T) {
	ctx := context.Background()
	db := freshDB(t)
	users := db.Collection("users")
	if err := users.Indexes().DropOne(ctx, "tenant_phone_key"); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	for i, phone := range []string{"", "", "0535 555 55 55"} {
		doc := bson.D{{Key: "_id", Value: fmt.Sprintf("legacy/user-%d", i)}, {Key: "tenant_id", Value: "legacy"},
			{Key: "email", Value: fmt.Sprintf("u%d@example.com", i)}, {Key: "email_key", Value: fmt.Sprintf("u%d@example.com", i)},
			{Key: "role", Value: "user"}, {Key: "active", Value: true}, {Key: "created_at", Value: now}, {Key: "updated_at", Value: now}}
		if phone != "" {
			doc = append(doc, bson.E{Key: "phone", Value: phone})
		}
		if _, err := users.InsertOne(ctx, doc); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.EnsureIndexes(ctx, mongo.Indexes); err != nil {
		t.Fatalf("indexes over legacy users: %v", err)
	}
	if n, err := users.CountDocuments(ctx, bson.D{{Key: "phone_key", Value: bson.D{{Key: "$exists", Value: false}}}}); err != nil || n != 0 {
		t.Fatalf("%d documents still without phone_key (%v)", n, err)
	}
	s := mongo.NewUserStore(db)
	if u, err := s.ByID(ctx, "legacy", "user-2"); err != nil || u.Phone != "0535 555 55 55" || u.PhoneVerified {
		t.Fatalf("legacy user = %+v, %v", u, err)
	}
	for i, phone := range []string{"", "+905355555555"} {
		u := identity.User{ID: fmt.Sprintf("new-%d", i), TenantID: "legacy", Email: fmt.Sprintf("n%d@example.com", i), EmailKey: fmt.Sprintf("n%d@example.com", i), Phone: phone, Role: identity.RoleUser}
		if err := s.Create(ctx, u); err != nil {
			t.Fatalf("new user %d next to legacy users: %v", i, err)
		}
	}
	if err := s.Create(ctx, identity.User{ID: "new-3", TenantID: "legacy", Email: "x@example.com", EmailKey: "x@example.com", Phone: "+905355555555"}); !errors.Is(err, identity.ErrPhoneTaken) {
		t.Fatalf("taken phone next to legacy users: %v, want ErrPhoneTaken", err)
	}
	if err := s.Create(ctx, identity.User{ID: "new-4", TenantID: "legacy", Email: "y@example.com", EmailKey: "y@example.com", Phone: "none:new-0"}); err == nil {
		t.Fatal("a phone shaped like the placeholder was stored")
	}
}
