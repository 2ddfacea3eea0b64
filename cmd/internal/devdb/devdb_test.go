package devdb_test

import (
	"context"
	"net"
	"net/url"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/portcullis/portcullis/cmd/internal/devdb"
)

// TestStartServesBothStores builds portcullis-devdb, starts it, and uses
// both of its stores over the network; once stopped, neither port answers.
func TestStartServesBothStores(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "portcullis-devdb")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/portcullis/portcullis/cmd/portcullis-devdb").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	p, err := devdb.Start(bin, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Stop)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	opt, err := goredis.ParseURL(p.RedisURL)
	if err != nil {
		t.Fatal(err)
	}
	rc := goredis.NewClient(opt)
	defer rc.Close()
	if err := rc.Set(ctx, "k", "v", time.Minute).Err(); err != nil {
		t.Fatalf("redis SET: %v", err)
	}
	if v, err := rc.Get(ctx, "k").Result(); err != nil || v != "v" {
		t.Fatalf("redis GET: %q, %v", v, err)
	}

	mc, err := mongo.Connect(options.Client().ApplyURI(p.MongoURI))
	if err != nil {
		t.Fatal(err)
	}
	defer mc.Disconnect(context.Background())
	coll := mc.Database("devdbtest").Collection("things")
	if _, err := coll.InsertOne(ctx, bson.D{{Key: "_id", Value: "a"}, {Key: "n", Value: 1}}); err != nil {
		t.Fatalf("mongo insert: %v", err)
	}
	var got struct {
		N int `bson:"n"`
	}
	if err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: "a"}}).Decode(&got); err != nil || got.N != 1 {
		t.Fatalf("mongo find: %+v, %v", got, err)
	}
	if rss, err := p.RSS(); err != nil || rss <= 0 {
		t.Errorf("RSS: %d, %v", rss, err)
	}

	p.Stop()
	for _, raw := range []string{p.MongoURI, p.RedisURL} {
		u, _ := url.Parse(raw)
		if c, err := net.DialTimeout("tcp", u.Host, time.Second); err == nil {
			c.Close()
			t.Errorf("%s still accepts connections after Stop", u.Host)
		}
	}
}
