package mongo_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/portcullis/portcullis/adapters/mongo"
	"github.com/portcullis/portcullis/application/account"
	"github.com/portcullis/portcullis/application/account/accounttest"
	"github.com/portcullis/portcullis/application/session"
	"github.com/portcullis/portcullis/application/session/sessiontest"
	"github.com/portcullis/portcullis/domain/errs"
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

// rawUser is a users document as a server without the user_keys directory
// wrote it.
func rawUser(tenantID, id, email, phoneKey string) bson.D {
	now := time.Now().UTC().Truncate(time.Millisecond)
	d := bson.D{{Key: "_id", Value: tenantID + "/" + id}, {Key: "tenant_id", Value: tenantID},
		{Key: "email", Value: email}, {Key: "email_key", Value: email}, {Key: "phone_key", Value: phoneKey},
		{Key: "role", Value: "user"}, {Key: "active", Value: true}, {Key: "created_at", Value: now}, {Key: "updated_at", Value: now}}
	if !strings.HasPrefix(phoneKey, "none:") {
		d = append(d, bson.E{Key: "phone", Value: phoneKey})
	}
	return d
}

// Users stored before the user_keys directory existed are found by e-mail
// and phone after the next start, and their keys stay taken.
func TestUsersStoredBeforeTheDirectoryAreClaimedAtTheNextStart(t *testing.T) {
	ctx := context.Background()
	db := freshDB(t)
	if err := db.Collection("user_keys").Drop(ctx); err != nil {
		t.Fatal(err)
	}
	for _, d := range []bson.D{rawUser("old", "u1", "ada@example.com", "+905355555555"), rawUser("old", "u2", "bob@example.com", "none:u2")} {
		if _, err := db.Collection("users").InsertOne(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	s := mongo.NewUserStore(db)
	if _, err := s.ByEmail(ctx, "old", "ada@example.com"); !errors.Is(err, errs.ErrNotFound) {
		t.Fatalf("before the start, ByEmail = %v; the test does not set up what it means to", err)
	}
	for range 2 { // the second start finds the backfill done
		if err := db.EnsureIndexes(ctx, mongo.Indexes); err != nil {
			t.Fatal(err)
		}
	}
	if u, err := s.ByEmail(ctx, "old", "ada@example.com"); err != nil || u.ID != "u1" {
		t.Fatalf("ByEmail(ada) = %+v, %v", u, err)
	}
	if u, err := s.ByPhone(ctx, "old", "+905355555555"); err != nil || u.ID != "u1" {
		t.Fatalf("ByPhone = %+v, %v", u, err)
	}
	if u, err := s.ByEmail(ctx, "old", "bob@example.com"); err != nil || u.ID != "u2" || u.Phone != "" {
		t.Fatalf("ByEmail(bob) = %+v, %v", u, err)
	}
	if _, err := s.ByPhone(ctx, "old", "none:u2"); !errors.Is(err, errs.ErrNotFound) {
		t.Fatalf("the placeholder was looked up: %v", err)
	}
	dup := identity.User{ID: "u3", TenantID: "old", Email: "x@example.com", EmailKey: "x@example.com", Phone: "+905355555555", Role: identity.RoleUser}
	if err := s.Create(ctx, dup); !errors.Is(err, identity.ErrPhoneTaken) {
		t.Fatalf("the phone of a backfilled user: %v, want ErrPhoneTaken", err)
	}
}

// A claim left by a Create that failed before releasing it holds its key
// while that Create could still be running, and is taken over after.
func TestAClaimLeftBehindIsTakenOverAfterTheGrace(t *testing.T) {
	ctx := context.Background()
	db := freshDB(t)
	keys := db.Collection("user_keys")
	for email, age := range map[string]time.Duration{"old@example.com": 3 * time.Minute, "new@example.com": 10 * time.Second} {
		if _, err := keys.InsertOne(ctx, bson.D{{Key: "_id", Value: "t/email:" + email}, {Key: "tenant_id", Value: "t"},
			{Key: "user_id", Value: "ghost"}, {Key: "at", Value: time.Now().UTC().Add(-age)}}); err != nil {
			t.Fatal(err)
		}
	}
	s := mongo.NewUserStore(db)
	if _, err := s.ByEmail(ctx, "t", "old@example.com"); !errors.Is(err, errs.ErrNotFound) {
		t.Fatalf("a claim without its user found: %v", err)
	}
	u := identity.User{ID: "u1", TenantID: "t", Email: "old@example.com", EmailKey: "old@example.com", Role: identity.RoleUser}
	if err := s.Create(ctx, u); err != nil {
		t.Fatalf("create over an old claim left behind: %v", err)
	}
	if got, err := s.ByEmail(ctx, "t", "old@example.com"); err != nil || got.ID != "u1" {
		t.Fatalf("ByEmail after the takeover = %+v, %v", got, err)
	}
	u = identity.User{ID: "u2", TenantID: "t", Email: "new@example.com", EmailKey: "new@example.com", Role: identity.RoleUser}
	if err := s.Create(ctx, u); !errors.Is(err, identity.ErrEmailTaken) {
		t.Fatalf("create over a claim of a create that may still run: %v, want ErrEmailTaken", err)
	}
}

// A claim is only a pointer: a user whose stored e-mail key is no longer
// the claimed one is not found by it.
func TestAClaimWhoseUserNoLongerHoldsTheKeyFindsNobody(t *testing.T) {
	ctx := context.Background()
	db := freshDB(t)
	s := mongo.NewUserStore(db)
	u := identity.User{ID: "u1", TenantID: "t", Email: "ada@example.com", EmailKey: "ada@example.com", Phone: "+447400123456", Role: identity.RoleUser}
	if err := s.Create(ctx, u); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Collection("users").UpdateOne(ctx, bson.D{{Key: "_id", Value: "t/u1"}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "email_key", Value: "ada2@example.com"}, {Key: "phone", Value: "+447400123400"}}}}); err != nil {
		t.Fatal(err)
	}
	if got, err := s.ByEmail(ctx, "t", "ada@example.com"); !errors.Is(err, errs.ErrNotFound) {
		t.Fatalf("ByEmail(old key) = %+v, %v; want ErrNotFound", got, err)
	}
	if got, err := s.ByPhone(ctx, "t", "+447400123456"); !errors.Is(err, errs.ErrNotFound) {
		t.Fatalf("ByPhone(old phone) = %+v, %v; want ErrNotFound", got, err)
	}
	v := identity.User{ID: "u2", TenantID: "t", Email: "ada@example.com", EmailKey: "ada@example.com", Role: identity.RoleUser}
	if err := s.Create(ctx, v); err != nil {
		t.Fatalf("the key its user left: %v", err)
	}
	if got, err := s.ByEmail(ctx, "t", "ada@example.com"); err != nil || got.ID != "u2" {
		t.Fatalf("ByEmail after the key moved = %+v, %v", got, err)
	}
}

// A claim written by a move that has not yet reached its user (pending)
// holds its key while that move could still be running, although its user
// exists without the key; it is taken over after the grace, like a claim
// left by a Create.
func TestAPendingClaimHoldsItsKeyUntilTheGrace(t *testing.T) {
	ctx := context.Background()
	db := freshDB(t)
	s := mongo.NewUserStore(db)
	mover := identity.User{ID: "mover", TenantID: "t", Email: "m@example.com", EmailKey: "m@example.com", Role: identity.RoleUser}
	if err := s.Create(ctx, mover); err != nil {
		t.Fatal(err)
	}
	keys := db.Collection("user_keys")
	for email, age := range map[string]time.Duration{"old@example.com": 3 * time.Minute, "new@example.com": 10 * time.Second} {
		if _, err := keys.InsertOne(ctx, bson.D{{Key: "_id", Value: "t/email:" + email}, {Key: "tenant_id", Value: "t"},
			{Key: "user_id", Value: "mover"}, {Key: "at", Value: time.Now().UTC().Add(-age)}, {Key: "pending", Value: true}}); err != nil {
			t.Fatal(err)
		}
	}
	u := identity.User{ID: "u1", TenantID: "t", Email: "new@example.com", EmailKey: "new@example.com", Role: identity.RoleUser}
	if err := s.Create(ctx, u); !errors.Is(err, identity.ErrEmailTaken) {
		t.Fatalf("create over the claim of a move that may still run: %v, want ErrEmailTaken", err)
	}
	u.Email, u.EmailKey = "old@example.com", "old@example.com"
	if err := s.Create(ctx, u); err != nil {
		t.Fatalf("create over a pending claim left behind: %v", err)
	}
	if got, err := s.ByEmail(ctx, "t", "old@example.com"); err != nil || got.ID != "u1" {
		t.Fatalf("ByEmail after the takeover = %+v, %v", got, err)
	}
}

// claimOf returns the user_keys document of a key, or nil.
func claimOf(t *testing.T, db *mongo.DB, id string) bson.M {
	t.Helper()
	var d bson.M
	if err := db.Collection("user_keys").FindOne(context.Background(), bson.D{{Key: "_id", Value: id}}).Decode(&d); err != nil {
		return nil
	}
	return d
}

// SetEmail leaves the directory as Create would have: the new key claimed
// for the user, not pending; the old key's claim gone; nothing claimed by
// a move that was refused.
func TestSetEmailKeepsTheDirectory(t *testing.T) {
	ctx := context.Background()
	db := freshDB(t)
	s := mongo.NewUserStore(db)
	for _, u := range []identity.User{
		{ID: "u1", TenantID: "t", Email: "ada@example.com", EmailKey: "ada@example.com", Role: identity.RoleUser},
		{ID: "u2", TenantID: "t", Email: "bob@example.com", EmailKey: "bob@example.com", Role: identity.RoleUser},
	} {
		if err := s.Create(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.SetEmail(ctx, "t", "u1", "Ada.King@example.com", "ada.king@example.com", time.Now()); err != nil {
		t.Fatal(err)
	}
	if c := claimOf(t, db, "t/email:ada.king@example.com"); c == nil || c["user_id"] != "u1" || c["pending"] == true {
		t.Errorf("the new key's claim = %v; want u1's, not pending", c)
	}
	if c := claimOf(t, db, "t/email:ada@example.com"); c != nil {
		t.Errorf("the old key's claim was kept: %v", c)
	}
	if err := s.SetEmail(ctx, "t", "u2", "ada.king@example.com", "ada.king@example.com", time.Now()); !errors.Is(err, identity.ErrEmailTaken) {
		t.Fatalf("move to a taken key: %v", err)
	}
	if err := s.SetEmail(ctx, "t", "nobody", "cyd@example.com", "cyd@example.com", time.Now()); !errors.Is(err, errs.ErrNotFound) {
		t.Fatalf("move of an unknown user: %v", err)
	}
	if c := claimOf(t, db, "t/email:cyd@example.com"); c != nil {
		t.Errorf("an unknown user's move claimed its key: %v", c)
	}
	if c := claimOf(t, db, "t/email:bob@example.com"); c == nil || c["user_id"] != "u2" {
		t.Errorf("a refused move lost its user's claim: %v", c)
	}
}

// A user whose key is not claimed (a claim lost, say) still holds it: the
// unique index refuses a move to it and the refused mover's claim is
// released.
func TestSetEmailToAKeyHeldWithoutAClaimIsRefusedByTheIndex(t *testing.T) {
	ctx := context.Background()
	db := freshDB(t)
	s := mongo.NewUserStore(db)
	for _, u := range []identity.User{
		{ID: "u1", TenantID: "t", Email: "ada@example.com", EmailKey: "ada@example.com", Role: identity.RoleUser},
		{ID: "u2", TenantID: "t", Email: "bob@example.com", EmailKey: "bob@example.com", Role: identity.RoleUser},
	} {
		if err := s.Create(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.Collection("user_keys").DeleteOne(ctx, bson.D{{Key: "_id", Value: "t/email:ada@example.com"}}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetEmail(ctx, "t", "u2", "ada@example.com", "ada@example.com", time.Now()); !errors.Is(err, identity.ErrEmailTaken) {
		t.Fatalf("move to a key held without a claim: %v, want ErrEmailTaken", err)
	}
	if c := claimOf(t, db, "t/email:ada@example.com"); c != nil {
		t.Errorf("the refused mover's claim was kept: %v", c)
	}
	if got, err := s.ByEmail(ctx, "t", "bob@example.com"); err != nil || got.ID != "u2" {
		t.Errorf("the refused mover moved: %+v, %v", got, err)
	}
}

// SetPhone leaves the directory as Create would have: the new number
// claimed for the user, not pending, the old one's claim gone; removing
// the number releases its claim and stores the placeholder again, so that
// users without a number keep clear of each other in the unique index.
func TestSetPhoneKeepsTheDirectory(t *testing.T) {
	ctx := context.Background()
	db := freshDB(t)
	s := mongo.NewUserStore(db)
	for _, u := range []identity.User{
		{ID: "u1", TenantID: "t", Email: "ada@example.com", EmailKey: "ada@example.com", Phone: "+447400100001", Role: identity.RoleUser},
		{ID: "u2", TenantID: "t", Email: "bob@example.com", EmailKey: "bob@example.com", Role: identity.RoleUser},
	} {
		if err := s.Create(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.SetPhone(ctx, "t", "u1", "+447400100002", time.Now()); err != nil {
		t.Fatal(err)
	}
	if c := claimOf(t, db, "t/phone:+447400100002"); c == nil || c["user_id"] != "u1" || c["pending"] == true {
		t.Errorf("the new number's claim = %v; want u1's, not pending", c)
	}
	if c := claimOf(t, db, "t/phone:+447400100001"); c != nil {
		t.Errorf("the old number's claim was kept: %v", c)
	}
	if err := s.SetPhone(ctx, "t", "u2", "+447400100002", time.Now()); !errors.Is(err, identity.ErrPhoneTaken) {
		t.Fatalf("a taken number: %v", err)
	}
	if c := claimOf(t, db, "t/phone:+447400100002"); c == nil || c["user_id"] != "u1" {
		t.Errorf("a refused change took the claim: %v", c)
	}
	if err := s.SetPhone(ctx, "t", "u1", "", time.Now()); err != nil {
		t.Fatal(err)
	}
	if c := claimOf(t, db, "t/phone:+447400100002"); c != nil {
		t.Errorf("the removed number's claim was kept: %v", c)
	}
	var d bson.M
	if err := db.Collection("users").FindOne(ctx, bson.D{{Key: "_id", Value: "t/u1"}}).Decode(&d); err != nil {
		t.Fatal(err)
	}
	if _, has := d["phone"]; has || d["phone_key"] != "none:u1" {
		t.Errorf("a user without a number is stored with phone %v, phone_key %v; want none and the placeholder", d["phone"], d["phone_key"])
	}
	if err := s.SetPhone(ctx, "t", "u1", "none:u2", time.Now()); err == nil {
		t.Error("a number shaped like the placeholder was stored")
	}
	// A placeholder is no number a list finds.
	if got, err := s.List(ctx, "t", account.UserFilter{Phone: "none:u1"}, account.UserPosition{}, 10); err != nil || len(got) != 0 {
		t.Errorf("List by a placeholder = %+v, %v; want none", got, err)
	}
}

// A user whose number is not claimed still holds it: the unique index
// refuses a change to it and the refused user's claim is released.
func TestSetPhoneToANumberHeldWithoutAClaimIsRefusedByTheIndex(t *testing.T) {
	ctx := context.Background()
	db := freshDB(t)
	s := mongo.NewUserStore(db)
	for _, u := range []identity.User{
		{ID: "u1", TenantID: "t", Email: "ada@example.com", EmailKey: "ada@example.com", Phone: "+447400100001", Role: identity.RoleUser},
		{ID: "u2", TenantID: "t", Email: "bob@example.com", EmailKey: "bob@example.com", Role: identity.RoleUser},
	} {
		if err := s.Create(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.Collection("user_keys").DeleteOne(ctx, bson.D{{Key: "_id", Value: "t/phone:+447400100001"}}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetPhone(ctx, "t", "u2", "+447400100001", time.Now()); !errors.Is(err, identity.ErrPhoneTaken) {
		t.Fatalf("a number held without a claim: %v, want ErrPhoneTaken", err)
	}
	if c := claimOf(t, db, "t/phone:+447400100001"); c != nil {
		t.Errorf("the refused user's claim was kept: %v", c)
	}
	if got, err := s.ByID(ctx, "t", "u2"); err != nil || got.Phone != "" {
		t.Errorf("the refused user changed: %+v, %v", got, err)
	}
}

// List's order is served by an index on MongoDB: the users collection has
// tenant_id + created_at + _id, besides tenant_id + email_key for a prefix.
func TestUsersHaveTheIndexesOfTheList(t *testing.T) {
	ctx := context.Background()
	db := freshDB(t)
	cur, err := db.Collection("users").Indexes().List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var idx []struct {
		Name string `bson:"name"`
		Key  bson.D `bson:"key"`
	}
	if err := cur.All(ctx, &idx); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"tenant_created": "tenant_id created_at _id", "tenant_email_key": "tenant_id email_key"}
	for _, ix := range idx {
		var keys []string
		for _, k := range ix.Key {
			keys = append(keys, k.Key)
		}
		if w, ok := want[ix.Name]; ok && strings.Join(keys, " ") == w {
			delete(want, ix.Name)
		}
	}
	if len(want) > 0 {
		t.Fatalf("users lacks the indexes %v; has %+v", want, idx)
	}
}
